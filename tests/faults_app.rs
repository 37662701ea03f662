//! Faults of the probed app: what a broken or hostile server does to one probe. Each case
//! runs `httpok --once` (no supervisord needed) against a server in a test thread or a
//! small Python app, and checks the verdict, the reason, the time taken and, for a huge
//! body, the memory httpok used.
mod common;

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use common::*;

/// Slack on top of any deadline, for a slow machine (process start, thread scheduling).
const SLACK: Duration = Duration::from_secs(8);

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

    let mut cmd = httpok_cmd();
    cmd.args(["--once", "-t", "60", "-b", "NEEDLE-NOT-THERE", &url])
        .stdin(Stdio::null());
    let child = Running::spawn(&mut cmd);
    let mut peak_kb = 0u64;
    let mut resumed = false;
    let once = child.finish(Duration::from_secs(120), |pid| {
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

#[test]
fn an_expired_certificate_or_an_unknown_issuer_is_unhealthy_with_a_clear_reason() {
    let dir = TempDir::new("tls");
    let certs = Certs::make(dir.path());
    let valid = TlsApp::start(dir.path(), "valid.pem");
    let expired = TlsApp::start(dir.path(), "expired.pem");
    let ca = certs.ca();
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
    let port = StatusServer::on(listener, 200).port();
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
