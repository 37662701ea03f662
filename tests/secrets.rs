//! Secrets and command injection. Passwords (supervisord's and those in probe URLs) must
//! never reach httpok's log, even at RUST_LOG=trace, nor its mail or `--once` output;
//! and `-s`, `-g`, `--on-restart` must never go through a shell, so a program name or a
//! URL full of shell syntax is passed on as plain text.
mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::e2e::{assert_listener_healthy, httpok_log};
use common::fake_supervisord::*;
use common::*;

const T: Duration = Duration::from_secs(90);

/// Standard base64 with padding, as in a Basic Authorization header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// The text of hex-dump lines (`... TRACE 4745 5420 ... GET./.HTTP/1.1..`) joined back
/// together, so a secret split over two dump lines is found too.
fn hex_dump_text(log: &str) -> String {
    log.lines()
        .filter_map(|line| {
            let rest = line.split_once(" TRACE ")?.1;
            let first = rest.split_whitespace().next()?;
            let is_hex = first.len() == 4 && first.chars().all(|c| c.is_ascii_hexdigit());
            is_hex.then(|| rest.split_whitespace().last().unwrap_or("").to_string())
        })
        .collect()
}

/// Panics if any secret (or its Basic-auth encoding with `user`) is in `text`.
#[track_caller]
fn assert_no_secret(what: &str, text: &str, secrets: &[(&str, &str)]) {
    let dump = hex_dump_text(text);
    for (user, secret) in secrets {
        let encoded = base64(format!("{user}:{secret}").as_bytes());
        for needle in [secret.to_string(), encoded] {
            assert!(
                !text.contains(&needle) && !dump.contains(&needle),
                "{what} holds the secret {needle:?}:\n{}",
                tail(text, 60)
            );
        }
    }
}

/// An executable shell script at `path` (the scripts quote everything they are given).
fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

// ---------------------------------------------------------------- secrets

#[test]
fn passwords_never_reach_the_trace_log_or_the_mail_under_supervisord() {
    let (sup_pw, url_pw) = ("SupPw7Qx9Zk", "UrlPw3Kd8Mv");
    let port = free_port();
    let out = TempDir::new("sec");
    // The mail command also records its environment, whole before the mail is written.
    script(
        &out.join("mail.sh"),
        "env > \"$1.env.tmp\" && mv \"$1.env.tmp\" \"$1.env\"; cat >> \"$1\"",
    );
    let sendmail = format!(
        "{} {}",
        out.join("mail.sh").display(),
        out.join("mail.txt").display()
    );
    let listener = format!(
        "[eventlistener:httpok]\n\
         command={{httpok}} -p web -t 2 -n front -m ops@example.test \
         -s '{sendmail}' http://bob:{url_pw}@127.0.0.1:{port}/\n\
         events=TICK_5\n\
         startsecs=1\n\
         environment=SUPERVISOR_USERNAME=\"alice\",SUPERVISOR_PASSWORD=\"{sup_pw}\",RUST_LOG=\"trace\"\n\
         stdout_logfile={{dir}}/httpok.out.log\n\
         stderr_logfile={{dir}}/httpok.err.log\n"
    );
    let sup = Supervisor::start(
        SupervisorConfig::new()
            .inet_auth("alice", sup_pw)
            .program(format!(
                "[program:web]\n\
                 command={{python}} {{webapp}} --port {port} --mode error\n\
                 startsecs=1\n\
                 stopwaitsecs=2\n\
                 stderr_logfile={{dir}}/web.err.log\n"
            ))
            .program(listener),
    );
    let pid = sup.wait_running("web", T);
    sup.wait_pid_change("web", pid, T);
    let mail = wait_for_log(out.join("mail.txt"), "web restarted", T);
    assert!(
        mail.contains("Subject: httpok [front]: http://127.0.0.1:"),
        "{mail}"
    );

    // The mail is logged as one line, under one timestamp; its body is only in the mail.
    let log = wait_for_log(
        sup.path("httpok.err.log"),
        "Z INFO Mailed ops@example.test: httpok [front]: http://127.0.0.1:",
        T,
    );
    assert!(
        !log.contains("\nTo: ") && !log.contains("\nSubject: "),
        "{log}"
    );
    // Trace level was on: the HTTP stack's own lines are there, and its hex dumps are not.
    assert!(log.contains(" TRACE ") || log.contains(" DEBUG "), "{log}");
    let secrets = [("alice", sup_pw), ("bob", url_pw)];
    assert_no_secret("httpok's stderr", &log, &secrets);
    assert_no_secret("the mail", &mail, &secrets);
    // httpok has SUPERVISOR_USERNAME and SUPERVISOR_PASSWORD; the commands it runs do not.
    let mail_env = read_file_lossy(out.join("mail.txt.env"));
    assert!(
        mail_env.lines().any(|l| l.starts_with("PATH=")),
        "{mail_env}"
    );
    assert!(!mail_env.contains("SUPERVISOR_USERNAME="), "{mail_env}");
    assert!(!mail_env.contains("SUPERVISOR_PASSWORD="), "{mail_env}");
    assert_no_secret("the mail command's environment", &mail_env, &secrets);
    assert_no_secret(
        "httpok's stdout",
        &read_file_lossy(sup.path("httpok.out.log")),
        &secrets,
    );
}

/// A server that answers 200 "OK" with the right Basic auth and 401 without it. Each
/// connection has its own thread, so a client that never sends a whole request head (the
/// https probe's TLS ClientHello) cannot hold up the others.
fn auth_server(user: &str, password: &str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let expected = format!(
        "authorization: basic {}",
        base64(format!("{user}:{password}").as_bytes())
    )
    .to_lowercase();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let expected = expected.clone();
            thread::spawn(move || answer_auth(stream, &expected));
        }
    });
    port
}

/// Reads one request head (for at most 10 s) and answers it by its Authorization header.
fn answer_auth(mut s: TcpStream, expected: &str) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let ok = String::from_utf8_lossy(&head)
        .to_lowercase()
        .contains(expected);
    let reply: &[u8] = if ok {
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"
    } else {
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    };
    let _ = s.write_all(reply);
}

#[test]
fn url_credentials_never_reach_once_output_at_trace_level() {
    let (pw, wrong) = ("OncePw5Tg2Hq", "WrongPw8Lm4X");
    let port = auth_server("bob", pw);
    let closed = refused_addr();
    let good = format!("http://bob:{pw}@127.0.0.1:{port}/");
    let urls = [
        good.clone(),
        format!("http://bob:{wrong}@127.0.0.1:{port}/"),
        format!("http://bob:{pw}@{closed}/"),
        format!("http://bob:{pw}@httpok-test.invalid/"),
        format!("https://bob:{pw}@127.0.0.1:{port}/"),
        format!("tcp://127.0.0.1:{port}"),
    ];
    let mut cmd = Command::new(httpok_bin());
    cmd.args(["--once", "-t", "3", "-b", "OK"])
        .args(&urls)
        .env("RUST_LOG", "trace")
        .env_remove("SUPERVISOR_SERVER_URL");
    let (code, out) = run_with_timeout(&mut cmd, T);
    assert_eq!(code, 1, "{out}");
    // The right credentials were sent (and accepted); the wrong ones got a 401.
    assert!(
        out.contains(&format!("healthy http://127.0.0.1:{port}/ status 200")),
        "{out}"
    );
    assert!(
        out.contains(&format!("failing http://127.0.0.1:{port}/ status 401")),
        "{out}"
    );
    assert!(out.contains("DNS: "), "{out}");
    assert_no_secret("--once output", &out, &[("bob", pw), ("bob", wrong)]);

    // A URL the command line refuses is quoted without its credentials too.
    let mut cmd = Command::new(httpok_bin());
    cmd.args(["--once", &format!("http://bob:{pw}@127.0.0.1:notaport/")])
        .env("RUST_LOG", "trace");
    let (code, out) = run_with_timeout(&mut cmd, T);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("bad port"), "{out}");
    assert_no_secret("the usage error", &out, &[("bob", pw)]);
}

#[test]
fn credentials_in_the_server_url_or_password_flag_never_reach_the_log() {
    let (url_pw, flag_pw) = ("SrvUrlPw6Yt", "FlagPw2Nc7R");
    let dir = TempDir::new("sec");
    script(&dir.join("mail.sh"), "cat >> \"$1\"");
    let fake = FakeSupervisord::tcp(0, Mode::Healthy, vec![FakeProcess::running("web", 4242)]);
    let server_url = fake
        .url()
        .replace("http://", &format!("http://carol:{url_pw}@"));
    let probe = format!("http://127.0.0.1:{}/", free_port());
    let sendmail = format!(
        "{} {}",
        dir.join("mail.sh").display(),
        dir.join("mail.txt").display()
    );
    let mut httpok = Listener::start(
        dir.path(),
        &[
            "--server-url",
            &server_url,
            "--username",
            "alice",
            "--password",
            flag_pw,
            "-p",
            "web",
            "-t",
            "1",
            "-m",
            "ops@example.test",
            "-s",
            &sendmail,
            &probe,
        ],
        &[("RUST_LOG", "trace")],
    );
    httpok.tick(Duration::from_secs(30));
    fake.wait_for_call("supervisor.startProcess web", T);
    let mail = wait_for_log(dir.join("mail.txt"), "web restarted", T);
    let heads = fake.lock().heads.clone();
    assert!(
        heads.iter().all(|h| h.contains(&format!(
            "Basic {}",
            base64(format!("alice:{flag_pw}").as_bytes())
        ))),
        "the password was not sent: {heads:?}"
    );
    let log = httpok.stderr();
    assert!(httpok.close(T).success());
    let secrets = [("alice", flag_pw), ("carol", url_pw)];
    assert_no_secret("httpok's stderr", &log, &secrets);
    assert_no_secret("the mail", &mail, &secrets);

    // A server URL httpok refuses is quoted without its credentials.
    let mut cmd = Command::new(httpok_bin());
    cmd.args([
        "--server-url",
        &format!("http://carol:{url_pw}@127.0.0.1:notaport"),
        &probe,
    ])
    .env("RUST_LOG", "trace")
    .stdin(std::process::Stdio::null());
    let (code, out) = run_with_timeout(&mut cmd, T);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("bad port"), "{out}");
    assert_no_secret("the start-up error", &out, &secrets);
}

#[test]
fn a_token_in_a_url_query_never_reaches_the_log_at_debug_or_trace_under_supervisord() {
    let token = "QueryTok3nWv8";
    for level in ["debug", "trace"] {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}/health?token={token}&x=1");
        let sup = start([
            web("web", port, "error"),
            listener(&format!("-p web -t 2 {url}"))
                .set("environment", format!("RUST_LOG=\"{level}\"")),
        ]);
        let pid = sup.wait_running("web", T);
        sup.wait_pid_change("web", pid, T);
        let log = wait_for_log(sup.path("httpok.err.log"), "web restarted", T);
        // The level was on, the HTTP client's own lines are there, and the URL is
        // shown (by httpok) with its secret parameter hidden.
        assert!(
            log.contains(&format!(" DEBUG GET http://127.0.0.1:{port}/")),
            "RUST_LOG={level}:\n{log}"
        );
        assert!(
            log.contains(&format!("http://127.0.0.1:{port}/health?token=***&x=1")),
            "RUST_LOG={level}:\n{log}"
        );
        assert!(
            !log.contains(token) && !hex_dump_text(&log).contains(token),
            "RUST_LOG={level}: the token is in the log:\n{}",
            lines_with(&log, token).join("\n")
        );
    }
}

#[test]
fn exec_env_reaches_its_command_only_and_is_never_shown() {
    let secret = "EnvS3cretJx4";
    let dir = TempDir::new("env");
    let d = dir.path().display();
    // The check records its environment, and fails quoting the secret until told.
    script(
        &dir.join("check.sh"),
        &format!(
            "env > {d}/check.env.tmp && mv {d}/check.env.tmp {d}/check.env\n\
             test -e {d}/healthy && exit 0\n\
             echo \"login with $DB_TOKEN refused\"; exit 1"
        ),
    );
    script(&dir.join("hook.sh"), &format!("env >> {d}/hook.env"));
    let config = dir.join("checks.toml");
    fs::write(
        &config,
        format!(
            "timeout = 5\n\n[[check]]\nprogram = \"web\"\nexec = [\"{d}/check.sh\"]\n\
             env = {{ DB_TOKEN = \"{secret}\" }}\n"
        ),
    )
    .expect("write config");
    let metrics = free_port();
    let args = format!(
        "--config {} --on-change {d}/hook.sh --on-restart {d}/hook.sh --state-file \
         {d}/httpok.state --metrics-listen 127.0.0.1:{metrics}",
        config.display()
    );
    let sup = start([
        web("web", free_port(), "ok"),
        listener(&args).set("environment", "RUST_LOG=\"debug\""),
    ]);
    let pid = sup.wait_running("web", T);
    sup.wait_pid_change("web", pid, T);
    let log = wait_for_log(sup.path("httpok.err.log"), "web restarted", T);
    assert!(
        log.contains("exit status 1: login with *** refused"),
        "{log}"
    );
    let check_env = read_file_lossy(dir.join("check.env"));
    assert!(
        check_env.lines().any(|l| l == format!("DB_TOKEN={secret}")),
        "the command did not get it:\n{check_env}"
    );
    wait_until("the hooks ran", T, || {
        read_file_lossy(dir.join("hook.env")).contains("HTTPOK_OUTCOME=")
    });
    let status = http_get(metrics, "/status", T).expect("GET /status");
    let page = http_get(metrics, "/metrics", T).expect("GET /metrics");
    fs::write(dir.join("healthy"), "").expect("mark healthy");
    wait_for_log(sup.path("httpok.err.log"), "web recovered", T);

    let mut check_config = Command::new(httpok_bin());
    check_config
        .args(["--check-config", "--config"])
        .arg(&config);
    let (code, printed) = run_with_timeout(&mut check_config, T);
    assert_eq!(code, 0, "{printed}");
    assert!(printed.contains("env=DB_TOKEN"), "{printed}");
    let shown = [
        ("httpok's log", httpok_log(&sup)),
        (
            "httpok's stdout",
            read_file_lossy(sup.path("httpok.out.log")),
        ),
        ("/status", status.body),
        ("/metrics", page.body),
        ("--check-config", printed),
        ("the state file", read_file_lossy(dir.join("httpok.state"))),
        (
            "the hooks' environment",
            read_file_lossy(dir.join("hook.env")),
        ),
    ];
    for (what, text) in shown {
        assert!(!text.is_empty(), "{what} is empty");
        assert!(
            !text.contains(secret),
            "{what} holds the env value:\n{text}"
        );
    }
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- command injection

/// The marker files a shell would have created in `dir`.
fn pwned_files(dir: &Path) -> Vec<String> {
    [
        "pwned-semi",
        "pwned-dollar",
        "pwned-tick",
        "pwned-url",
        "pwned-url2",
    ]
    .iter()
    .filter(|m| dir.join(m).exists())
    .map(|m| m.to_string())
    .collect()
}

#[test]
fn program_names_and_urls_never_reach_a_shell() {
    // supervisord refuses ' ', ':' and '/' in names, and takes everything else: these
    // would each run `touch pwned-…` in the working directory if given to a shell.
    let name = "web;touch${IFS}pwned-semi;$(touch${IFS}pwned-dollar)`touch${IFS}pwned-tick`";
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/;touch${{IFS}}pwned-url;$(touch${{IFS}}pwned-url2)");
    let out = TempDir::new("inj");
    let o = out.path().display();
    fs::create_dir(out.join("cores")).expect("mkdir cores");
    script(&out.join("mail.sh"), "cat >> \"$1\"");
    script(
        &out.join("gcore.sh"),
        &format!("printf 'arg=%s\\n' \"$@\" >> '{o}/gcore.txt'"),
    );
    script(
        &out.join("hook.sh"),
        &format!(
            "printf 'PROGRAM=%s\\nURL=%s\\nOUTCOME=%s\\n' \"$HTTPOK_PROGRAM\" \"$HTTPOK_URL\" \
             \"$HTTPOK_OUTCOME\" >> '{o}/hook.txt'"
        ),
    );
    let sup = Supervisor::start(
        SupervisorConfig::new()
            .program(format!(
                "[program:{name}]\n\
                 command={{python}} {{webapp}} --port {port} --mode error\n\
                 directory={{dir}}\n\
                 startsecs=1\n\
                 stopwaitsecs=2\n\
                 stdout_logfile={{dir}}/web.out.log\n\
                 stderr_logfile={{dir}}/web.err.log\n"
            ))
            .program(format!(
                "[eventlistener:httpok]\n\
                 command={{httpok}} -p '{name}' -t 2 -m ops@example.test \
                 -s '{o}/mail.sh {o}/mail.txt' -g '{o}/gcore.sh' -d {o}/cores \
                 --on-restart '{o}/hook.sh' '{url}'\n\
                 directory={{dir}}\n\
                 events=TICK_5\n\
                 startsecs=1\n\
                 stdout_logfile={{dir}}/httpok.out.log\n\
                 stderr_logfile={{dir}}/httpok.err.log\n"
            )),
    );
    let dir = out.path();
    let pid = sup.wait_running(name, T);
    sup.wait_pid_change(name, pid, T);
    let hook = wait_for_log(dir.join("hook.txt"), "OUTCOME=restarted", T);
    // gcore (-g), the restart, the mail (-s) and the hook have all run by now.
    for place in [
        sup.dir(),
        dir,
        &dir.join("cores"),
        Path::new("/tmp"),
        &repo_root(),
    ] {
        let found = pwned_files(place);
        assert!(
            found.is_empty(),
            "a shell ran: {found:?} in {}",
            place.display()
        );
    }
    assert!(hook.contains(&format!("PROGRAM={name}\n")), "{hook}");
    assert!(hook.contains("URL=http://127.0.0.1:"), "{hook}");
    assert!(
        hook.contains("/;touch${IFS}pwned-url;$(touch${IFS}pwned-url2)"),
        "{hook}"
    );
    let gcore = wait_for_log(dir.join("gcore.txt"), &format!("arg={pid}"), T);
    assert!(
        gcore.contains(&format!("arg={}/cores/{name}\n", dir.display())),
        "{gcore}"
    );
    let mail = wait_for_log(dir.join("mail.txt"), &format!("{name} restarted"), T);
    assert!(mail.contains(name), "{mail}");
}
