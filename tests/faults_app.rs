//! Faults of the probed app: what a broken or hostile server does to one probe. Each case
//! runs `httpok --once` (no supervisord needed) against a server in a test thread or a
//! small Python app, and checks the verdict, the reason, the time taken and, for a huge
//! body, the memory httpok used.
mod common;
mod fake_supervisord;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use fake_supervisord::TempDir;

/// Slack on top of any deadline, for a slow machine (process start, thread scheduling).
const SLACK: Duration = Duration::from_secs(8);

/// What one `httpok --once` run printed and how long it took.
struct Once {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Starts `httpok --once ARGS` with its output piped.
fn spawn_once(args: &[&str]) -> Child {
    Command::new(httpok_bin())
        .arg("--once")
        .args(args)
        .env_remove("SUPERVISOR_SERVER_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start httpok --once")
}

/// Reads a child's stdout and stderr on threads, waits for it (killing it after
/// `limit`, which fails the test) and reports what it printed.
#[track_caller]
fn finish(
    mut child: Child,
    started: Instant,
    limit: Duration,
    mut on_poll: impl FnMut(u32),
) -> Once {
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        on_poll(child.id());
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("httpok --once still running after {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Once {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        took: started.elapsed(),
    }
}

#[track_caller]
fn run_once(args: &[&str], limit: Duration) -> Once {
    let started = Instant::now();
    finish(spawn_once(args), started, limit, |_| {})
}

/// Reads one request head (up to the blank line) from a client.
fn read_head(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => return,
        }
    }
}

/// A server on `listener` that answers every connection with `reply(stream)`.
fn serve_each(listener: TcpListener, reply: impl Fn(TcpStream) + Send + Sync + 'static) {
    let reply = Arc::new(reply);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let reply = Arc::clone(&reply);
            thread::spawn(move || reply(stream));
        }
    });
}

/// Sends `head` at once, then `trickle` one byte per second until the client hangs up.
fn trickle_server(head: &'static [u8], trickle: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    serve_each(listener, move |mut s| {
        read_head(&mut s);
        if s.write_all(head).is_err() {
            return;
        }
        for byte in trickle {
            if s.write_all(&[*byte]).and_then(|()| s.flush()).is_err() {
                return;
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
    url
}

#[test]
fn a_server_sending_one_byte_per_second_is_cut_at_the_deadline() {
    // The status line itself trickles in (no -b needed to hang a naive client)...
    let slow_head = trickle_server(b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
    // ...or the head is quick and the body trickles, without the -b text ever coming.
    let slow_body = trickle_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n",
        &[b'x'; 600],
    );
    let timeout = Duration::from_secs(3);
    let once = run_once(
        &["-t", "3", "-b", "OK", &slow_head, &slow_body],
        timeout + SLACK * 3,
    );
    eprintln!("{}{}took {:?}", once.stdout, once.stderr, once.took);
    assert_eq!(once.code, 1, "{}", once.stdout);
    for url in [&slow_head, &slow_body] {
        let line = once
            .stdout
            .lines()
            .find(|l| l.contains(url.as_str()))
            .unwrap_or_else(|| panic!("no line for {url}: {}", once.stdout));
        assert!(
            line.starts_with("failing") && line.contains("timeout after 3.0s"),
            "{line}"
        );
    }
    // Both probes ran at once and each stopped at the one overall deadline.
    assert!(
        once.took < timeout + SLACK,
        "took {:?} for a -t 3 round",
        once.took
    );
}

/// VmHWM (peak resident memory) of a running process, in kB.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn a_1_gb_body_without_the_text_keeps_memory_bounded() {
    const GIB: u64 = 1 << 30;
    const PAUSE_AT: u64 = 12 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/big", listener.local_addr().expect("addr"));
    let sent = Arc::new(AtomicU64::new(0));
    let (paused_tx, paused_rx) = mpsc::channel::<()>();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    {
        let sent = Arc::clone(&sent);
        thread::spawn(move || {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            read_head(&mut s);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {GIB}\r\n\r\n");
            if s.write_all(head.as_bytes()).is_err() {
                return;
            }
            // The body is made lazily: one 64 KiB chunk sent again and again.
            let chunk = vec![b'x'; 64 * 1024];
            let mut paused = false;
            while sent.load(Ordering::SeqCst) < GIB {
                if !paused && sent.load(Ordering::SeqCst) >= PAUSE_AT {
                    paused = true;
                    let _ = paused_tx.send(());
                    let _ = resume_rx.recv_timeout(Duration::from_secs(60));
                }
                if s.write_all(&chunk).is_err() {
                    return;
                }
                sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        });
    }

    let started = Instant::now();
    let child = spawn_once(&["-t", "60", "-b", "NEEDLE-NOT-THERE", &url]);
    let mut peak_kb = 0u64;
    let mut resumed = false;
    let once = finish(child, started, Duration::from_secs(120), |pid| {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak_kb = peak_kb.max(kb);
        }
        // Half-way through the part httpok reads, look while it is surely alive.
        if !resumed && paused_rx.try_recv().is_ok() {
            if let Some(kb) = vm_hwm_kb(pid) {
                peak_kb = peak_kb.max(kb);
            }
            resumed = true;
            let _ = resume_tx.send(());
        }
    });
    let sent = sent.load(Ordering::SeqCst);
    eprintln!(
        "{}{}peak VmHWM {peak_kb} kB, {} MiB sent, took {:?}",
        once.stdout,
        once.stderr,
        sent >> 20,
        once.took
    );
    assert!(resumed, "httpok exited before reading 12 MiB of the body");
    assert_eq!(once.code, 1);
    assert!(
        once.stdout.starts_with("failing") && once.stdout.contains("body missing"),
        "{}",
        once.stdout
    );
    assert!(peak_kb > 0, "VmHWM was never read");
    assert!(peak_kb < 64 * 1024, "peak resident memory {peak_kb} kB");
    // It stopped reading after its scan limit instead of pulling the whole gigabyte.
    assert!(sent < 128 << 20, "{} MiB were sent", sent >> 20);
}

// ---------------------------------------------------------------- TLS

/// Runs openssl in `dir`; panics with its output if it fails.
#[track_caller]
/// A CA, a leaf for 127.0.0.1 valid now (valid.pem) and the same key in a leaf that
/// expired in 2020 (expired.pem), both signed by the CA (ca.pem); key in leaf.key.
fn make_certs(dir: &Path) {
    let ec = OPENSSL_EC_KEY;
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "3650",
        "-subj",
        "/CN=httpok test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr);
    fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .expect("write ext.cnf");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "valid.pem",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
        ],
    );
    // `openssl ca` is the one that takes explicit dates in the past.
    fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = index.txt\n\
         new_certs_dir = .\nserial = serial.txt\ndefault_md = sha256\npolicy = any\n\
         [any]\ncommonName = supplied\n",
    )
    .expect("write ca.cnf");
    fs::write(dir.join("index.txt"), "").expect("write index.txt");
    fs::write(dir.join("serial.txt"), "1000\n").expect("write serial.txt");
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            "ca.pem",
            "-keyfile",
            "ca.key",
            "-in",
            "leaf.csr",
            "-out",
            "expired.pem",
            "-notext",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200201000000Z",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// tests/apps/tlsapp.py serving `cert` on a free port; killed on drop.
struct TlsApp {
    child: Child,
    port: u16,
}

impl TlsApp {
    #[track_caller]
    fn start(dir: &Path, cert: &str) -> TlsApp {
        let port = free_port();
        let log = fs::File::create(dir.join(format!("{cert}.log"))).expect("log");
        let child = Command::new(python())
            .arg(repo_root().join("tests/apps/tlsapp.py"))
            .args([
                "--port",
                &port.to_string(),
                "--cert",
                cert,
                "--key",
                "leaf.key",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tlsapp.py");
        let app = TlsApp { child, port };
        wait_until(
            &format!("tlsapp.py with {cert} listens"),
            Duration::from_secs(30),
            || TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        app
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }
}

impl Drop for TlsApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_expired_certificate_or_an_unknown_issuer_is_unhealthy_with_a_clear_reason() {
    let dir = TempDir::new("tls");
    make_certs(dir.path());
    let valid = TlsApp::start(dir.path(), "valid.pem");
    let expired = TlsApp::start(dir.path(), "expired.pem");
    let ca = dir.join("ca.pem");
    let ca = ca.to_str().expect("utf-8 path");
    let limit = Duration::from_secs(5) + SLACK * 2;

    // The control: the same server setup with a certificate that is fine.
    let ok = run_once(&["-t", "5", "--cacert", ca, &valid.url()], limit);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.starts_with("healthy"), "{}", ok.stdout);

    let old = run_once(&["-t", "5", "--cacert", ca, &expired.url()], limit);
    assert_eq!(old.code, 1, "{}{}", old.stdout, old.stderr);
    assert!(
        old.stdout.starts_with("failing") && old.stdout.contains("TLS: "),
        "{}",
        old.stdout
    );
    assert!(old.stdout.contains("expired"), "{}", old.stdout);

    let stranger = run_once(&["-t", "5", &valid.url()], limit);
    assert_eq!(stranger.code, 1, "{}{}", stranger.stdout, stranger.stderr);
    assert!(
        stranger.stdout.starts_with("failing") && stranger.stdout.contains("TLS: unknown issuer"),
        "{}",
        stranger.stdout
    );
}

// ---------------------------------------------------------------- DNS and IPv6

#[test]
fn a_name_that_does_not_resolve_fails_with_a_dns_reason() {
    // .invalid never resolves (RFC 2606).
    let urls = [
        "http://httpok-test.invalid/",
        "https://httpok-test.invalid/",
        "tcp://httpok-test.invalid:80",
    ];
    let mut args = vec!["-t", "10"];
    args.extend(urls);
    let once = run_once(&args, Duration::from_secs(10) + SLACK * 2);
    assert_eq!(once.code, 1, "{}{}", once.stdout, once.stderr);
    for url in urls {
        let line = once
            .stdout
            .lines()
            .find(|l| l.contains(url))
            .unwrap_or_else(|| panic!("no line for {url}: {}", once.stdout));
        assert!(
            line.starts_with("failing") && line.contains("DNS: "),
            "{line}"
        );
    }
}

#[test]
fn ipv6_loopback_http_and_tcp_checks_work() {
    let listener = match TcpListener::bind("[::1]:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("NOTE: skipping: this machine has no IPv6 loopback ([::1]: {e})");
            return;
        }
    };
    let port = listener.local_addr().expect("addr").port();
    serve_each(listener, |mut s| {
        read_head(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK");
    });
    let closed = TcpListener::bind("[::1]:0")
        .expect("bind ::1")
        .local_addr()
        .expect("addr")
        .port();
    let http = format!("http://[::1]:{port}/");
    let tcp = format!("tcp://[::1]:{port}");
    let once = run_once(
        &["-t", "5", "-b", "OK", &http, &tcp],
        Duration::from_secs(5) + SLACK,
    );
    assert_eq!(once.code, 0, "{}{}", once.stdout, once.stderr);
    assert!(
        once.stdout.contains(&format!("healthy {http} status 200"))
            && once.stdout.contains(&format!("healthy {tcp} connected")),
        "{}",
        once.stdout
    );

    // A closed port on ::1 is refused there (no silent fallback to 127.0.0.1).
    let refused = format!("http://[::1]:{closed}/");
    let once = run_once(&["-t", "2", &refused], Duration::from_secs(2) + SLACK);
    assert_eq!(once.code, 1, "{}", once.stdout);
    assert!(
        once.stdout.contains("connection refused"),
        "{}",
        once.stdout
    );
}
