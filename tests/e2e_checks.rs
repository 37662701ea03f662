//! Many checks in one listener and the restart policy (issue 3), proven end to end: a
//! real supervisord sending TICK_5, and what it did (pids and states through
//! supervisorctl) and what httpok wrote to its stderr log.
//!
//! `--once` needs no supervisord and uses the listener's prober, so the `--once` and
//! https cases run the binary directly.
mod common;

use common::e2e::*;
use common::*;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

// ---------------------------------------------------------------- files, apps, --once

/// A private dir under /tmp for what must exist before supervisord starts (a hook
/// script) or whose path goes into a URL (a unix socket). Removed on drop, kept (and
/// named on stderr) when the test fails.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = PathBuf::from(format!("/tmp/httpok-checks-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("==== scratch dir kept: {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// `http+unix://%2Fabs%2Fpath.sock/` for a socket path.
fn http_unix_url(socket: &Path) -> String {
    let mut encoded = String::new();
    for b in socket.display().to_string().bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("http+unix://{encoded}/")
}

/// Serves `HTTP/1.0 STATUS` with the body "OK" to every connection, on a thread that
/// lives as long as the test process. Returns the port.
fn serve_status(status: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local_addr").port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            // Read the request head (a tcp:// probe sends nothing and hangs up).
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                conn,
                "HTTP/1.0 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"
            );
        }
    });
    port
}

/// Runs `httpok --once ARGS` outside supervisord; returns (exit code, stdout, stderr).
fn once(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(httpok_bin())
        .arg("--once")
        .args(args)
        .env_remove("SUPERVISOR_SERVER_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run httpok --once");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `openssl ARGS` in `dir`; panics with its output when it fails.
/// A CA (ca.pem) and a server certificate it signed for 127.0.0.1 and localhost
/// (server.pem, server.key), written into `dir`.
fn make_certs(dir: &Path) {
    let ec = OPENSSL_EC_KEY;
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=httpok test CA"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
         basicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// tests/apps/tlsapp.py, killed on drop.
struct TlsApp(Child);

impl TlsApp {
    /// Starts it on a free port with `dir`'s server.pem/server.key; waits until it
    /// accepts connections. Returns it and its port.
    fn start(dir: &Path) -> (TlsApp, u16) {
        let port = free_port();
        let script = repo_root().join("tests").join("apps").join("tlsapp.py");
        let log = fs::File::create(dir.join("tlsapp.log")).expect("create tlsapp.log");
        let child = Command::new(python())
            .arg(script)
            .arg("--cert")
            .arg(dir.join("server.pem"))
            .arg("--key")
            .arg(dir.join("server.key"))
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tlsapp.py");
        let mut app = TlsApp(child);
        wait_for("tlsapp.py accepts connections", T, || {
            if let Ok(Some(status)) = app.0.try_wait() {
                panic!(
                    "tlsapp.py exited ({status}):\n{}",
                    read_file_lossy(dir.join("tlsapp.log"))
                );
            }
            TcpStream::connect(("127.0.0.1", port))
                .map(drop)
                .map_err(|e| e.to_string())
        });
        (app, port)
    }
}

impl Drop for TlsApp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------- several checks

#[test]
fn two_checks_restart_only_the_broken_app_and_the_healthy_one_keeps_its_pid() {
    let (web_port, api_port) = (free_port(), free_port());
    let sup = start(vec![
        web("web", web_port, "ok"),
        web("api", api_port, "error"),
        listener(&format!(
            "-t 2 --check web=http://127.0.0.1:{web_port}/ --check api=http://127.0.0.1:{api_port}/"
        )),
    ]);
    let web_pid = sup.wait_running("web", T);
    let api_pid = sup.wait_running("api", T);
    assert_restarted(&sup, "api", api_pid);
    // Several more rounds in which both are probed: api keeps failing, web keeps answering.
    wait_for_more_ticks(&sup, 3);
    assert_eq!(
        sup.pid("web"),
        Some(web_pid),
        "the healthy app was restarted"
    );
    let log = httpok_log(&sup);
    assert!(
        log.contains("Restarting selected processes ['api']"),
        "{log}"
    );
    assert!(log.contains("status 500"), "{log}");
    assert!(!log.contains("web is in RUNNING state"), "{log}");
    assert!(
        !log.contains(&format!("127.0.0.1:{web_port}/:")),
        "web was failing:\n{log}"
    );
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- policy

#[test]
fn with_f_3_two_failed_ticks_do_not_restart_and_the_third_does() {
    let port = free_port();
    let sup = start(vec![
        web("web", port, "error"),
        listener(&format!("-f 3 -p web -t 2 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    wait_for_count(&sup, "(failing 1/3)", 1);
    wait_for_count(&sup, "(failing 2/3)", 1);
    // The next tick is about 5 s away: two failures have not restarted it.
    assert_eq!(sup.pid("web"), Some(pid), "restarted after 2 failed ticks");
    assert!(!httpok_log(&sup).contains("is in RUNNING state, restarting"));
    let new_pid = assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    let second = log.find("(failing 2/3)").expect("logged above");
    let restart = log
        .find("web is in RUNNING state, restarting")
        .expect("logged above");
    assert!(
        second < restart,
        "restarted before the second failure:\n{log}"
    );
    // The restart reset the count: two more failures are again not enough.
    wait_for_count(&sup, "(failing 2/3)", 2);
    assert_eq!(
        sup.pid("web"),
        Some(new_pid),
        "the count did not reset after a restart"
    );
    assert_eq!(
        count(&httpok_log(&sup), "web is in RUNNING state, restarting"),
        1
    );
    assert_listener_healthy(&sup);
}

#[test]
fn grace_spares_a_slow_starter_that_a_plain_run_restarts() {
    // Both apps refuse connections for their first 12 s, then answer 200.
    let slow = "slowstart:12";
    let (graced_port, plain_port) = (free_port(), free_port());
    let graced = start(vec![
        web("web", graced_port, slow),
        listener(&format!(
            "--grace 40 -p web -t 2 http://127.0.0.1:{graced_port}/"
        )),
    ]);
    let plain = start(vec![
        web("web", plain_port, slow),
        listener(&format!("-p web -t 2 http://127.0.0.1:{plain_port}/")),
    ]);
    let graced_pid = graced.wait_running("web", T);
    let plain_pid = plain.wait_running("web", T);

    // Without --grace: restarted on the first refused tick (superlance's restart loop).
    assert_restarted(&plain, "web", plain_pid);
    assert!(httpok_log(&plain).contains("connection refused"));

    // With --grace 40: the refusals are neither counted nor reported (no notice, so
    // no mail), the app comes up on its own, and is left alone after that too.
    wait_until("the graced app answers", T, || {
        http_get(graced_port, "/", Duration::from_secs(2)).is_ok()
    });
    wait_for_more_ticks(&graced, 2);
    assert_eq!(
        graced.pid("web"),
        Some(graced_pid),
        "--grace did not spare it"
    );
    let log = httpok_log(&graced);
    assert!(!log.contains("is in RUNNING state, restarting"), "{log}");
    assert!(!log.contains("connection refused"), "{log}");
    assert_listener_healthy(&graced);
    assert_listener_healthy(&plain);
}

#[test]
fn max_restarts_gives_up_after_two_restarts_and_says_so_once() {
    let port = free_port();
    let sup = start(vec![
        web("web", port, "error"),
        listener(&format!(
            "--max-restarts 2 --restart-window 300 -p web -t 2 http://127.0.0.1:{port}/"
        )),
    ]);
    let first = sup.wait_running("web", T);
    let log = wait_for_log(sup.path("httpok.err.log"), "giving up on web", T * 2);
    assert_eq!(
        count(&log, "web is in RUNNING state, restarting"),
        2,
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("giving up on web"))
        .expect("found above");
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("restarted 2 times within 300s"), "{line}");
    assert!(line.contains("status 500"), "{line}");
    let last = sup.wait_running("web", T);
    assert_ne!(last, first);
    let announced = count(&log, "Restarting selected processes");

    // Still failing over more ticks: no restart, no second ERROR, and no
    // "Restarting ..." line that restarts nobody.
    wait_for_more_ticks(&sup, 3);
    assert_eq!(sup.pid("web"), Some(last), "restarted after giving up");
    let log = httpok_log(&sup);
    assert_eq!(count(&log, "giving up on"), 1, "{log}");
    assert_eq!(
        count(&log, "Restarting selected processes"),
        announced,
        "{log}"
    );
    assert_eq!(
        count(&log, "web is in RUNNING state, restarting"),
        2,
        "{log}"
    );
    assert_listener_healthy(&sup);
}

#[test]
fn dry_run_logs_would_restart_and_leaves_the_pid_alone() {
    let port = free_port();
    let sup = start(vec![
        web("web", port, "error"),
        listener(&format!("--dry-run -p web -t 2 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    wait_for_count(&sup, "would restart web (status 500)", 2);
    wait_for_more_ticks(&sup, 1);
    assert_eq!(sup.pid("web"), Some(pid), "--dry-run restarted it");
    let log = httpok_log(&sup);
    assert!(!log.contains("is in RUNNING state, restarting"), "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn a_check_that_answers_again_after_a_restart_logs_recovered_and_is_left_alone() {
    let scratch = Scratch::new("recover");
    let mode = scratch.path("mode");
    fs::write(&mode, "error").expect("write mode file");
    let port = free_port();
    let sup = start(vec![
        web("web", port, &format!("mode-file:{}", mode.display())),
        listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    fs::write(&mode, "ok").expect("write mode file");
    let log = wait_for_log(
        sup.path("httpok.err.log"),
        "web recovered: its checks pass against pid",
        T,
    );
    let restarts = count(&log, "web is in RUNNING state, restarting");
    let healthy_pid = sup.wait_running("web", T);
    wait_for_more_ticks(&sup, 2);
    assert_eq!(
        sup.pid("web"),
        Some(healthy_pid),
        "restarted after it recovered"
    );
    let log = httpok_log(&sup);
    assert_eq!(
        count(&log, "web is in RUNNING state, restarting"),
        restarts,
        "{log}"
    );
    assert_eq!(count(&log, "recovered"), 1, "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn on_restart_runs_the_hook_with_the_restart_in_its_environment() {
    let scratch = Scratch::new("hook");
    let hook = scratch.path("hook.sh");
    let out = scratch.path("hook.out");
    // Written to a temp file and renamed, so the test never reads half a file.
    fs::write(
        &hook,
        format!(
            "#!/bin/sh\nenv | grep -E '^HTTPOK_(PROGRAM|URL|REASON|OUTCOME)=' | sort \
             > {out}.tmp && mv {out}.tmp {out}\n",
            out = out.display()
        ),
    )
    .expect("write hook");
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).expect("chmod hook");
    let port = free_port();
    let sup = start(vec![
        web("web", port, "error"),
        listener(&format!(
            "-p web -t 2 --on-restart {} http://127.0.0.1:{port}/",
            hook.display()
        )),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    wait_until("the hook wrote its file", T, || out.exists());
    let env = read_file_lossy(&out);
    let lines: Vec<&str> = env.lines().collect();
    assert_eq!(
        lines,
        [
            "HTTPOK_OUTCOME=restarted",
            "HTTPOK_PROGRAM=web",
            "HTTPOK_REASON=status 500",
            &format!("HTTPOK_URL=http://127.0.0.1:{port}/"),
        ],
        "{env}"
    );
    assert!(
        !httpok_log(&sup).contains("--on-restart for web"),
        "the hook failed"
    );
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- probe kinds

#[test]
fn a_tcp_check_restarts_an_app_that_refuses_connections() {
    let port = free_port();
    // The app runs but never opens its port.
    let sup = start(vec![
        web("web", port, "slowstart:100000"),
        listener(&format!("-t 2 --check web=tcp://127.0.0.1:{port}")),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    assert!(
        log.contains(&format!("tcp://127.0.0.1:{port}: connection refused")),
        "{log}"
    );
    assert_listener_healthy(&sup);
}

#[test]
fn an_http_unix_check_restarts_an_app_on_a_unix_socket() {
    let scratch = Scratch::new("unix");
    let socket = scratch.path("app.sock");
    let url = http_unix_url(&socket);
    // supervisord expands %(name)s in command=, so a literal % is written %%.
    let url_in_conf = url.replace('%', "%%");
    let sup = start(vec![
        web_unix("web", &socket, "error"),
        listener(&format!("-t 2 --check web={url_in_conf}")),
    ]);
    let pid = sup.wait_running("web", T);
    assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    assert!(log.contains(&format!("{url}: status 500")), "{log}");
    // The restarted app listens on the socket again.
    wait_until("the new app answers on its socket", T, || {
        http_get_unix(&socket, "/", Duration::from_secs(2)).is_ok_and(|r| r.status == 500)
    });
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- --once and https

#[test]
fn once_exits_0_when_all_healthy_and_1_otherwise_with_one_line_per_check() {
    let ok = serve_status(200);
    let broken = serve_status(503);
    let refused = refused_addr();

    let (code, out, err) = once(&[
        "-t",
        "3",
        &format!("http://127.0.0.1:{ok}/"),
        "--check",
        &format!("web=tcp://127.0.0.1:{ok}"),
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!("healthy http://127.0.0.1:{ok}/ status 200 ")),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("healthy tcp://127.0.0.1:{ok} connected ")),
        "{out}"
    );

    let (code, out, err) = once(&[
        "-t",
        "2",
        &format!("http://127.0.0.1:{ok}/"),
        &format!("http://127.0.0.1:{broken}/"),
        "--check",
        &format!("web=tcp://{refused}"),
    ]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("healthy "), "{out}");
    assert!(
        lines[1].starts_with(&format!("failing http://127.0.0.1:{broken}/ status 503 ")),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&format!("failing tcp://{refused} connection refused ")),
        "{out}"
    );
    for line in &lines {
        assert!(line.ends_with("ms"), "no latency: {line}");
    }
}

#[test]
fn https_with_a_self_signed_ca_passes_with_cacert_and_fails_without() {
    let scratch = Scratch::new("tls");
    make_certs(&scratch.0);
    let (_app, port) = TlsApp::start(&scratch.0);
    let url = format!("https://127.0.0.1:{port}/");
    let ca = scratch.path("ca.pem").display().to_string();

    let (code, out, err) = once(&["-t", "5", "-b", "OK", "--cacert", &ca, &url]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.starts_with(&format!("healthy {url} status 200 ")),
        "{out}"
    );

    let (code, out, err) = once(&["-t", "5", &url]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.starts_with(&format!("failing {url} TLS: unknown issuer ")),
        "{out}"
    );

    let (code, out, err) = once(&["-t", "5", "--insecure", &url]);
    assert_eq!(code, 0, "--insecure: stdout:\n{out}\nstderr:\n{err}");
}
