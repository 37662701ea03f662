//! The per-program lifecycle (issue 9) under a real supervisord: verified outcomes,
//! one restart per program, rolling restarts, quiet down/FATAL programs, grace, and a
//! shutdown that never leaves a program stopped. Each test asserts what supervisord did
//! (pids, states, its own log) and what httpok wrote to its stderr.
mod common;

use common::e2e::*;
use common::*;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A program section with extra lines (numprocs, stopwaitsecs, ...).
fn program(name: &str, command: &str, extra: &str) -> String {
    format!(
        "[program:{name}]\n\
         command={command}\n\
         startsecs=1\n\
         stopwaitsecs=2\n\
         stdout_logfile={{dir}}/{name}.out.log\n\
         stderr_logfile={{dir}}/{name}.err.log\n\
         {extra}\n"
    )
}

/// The listener with a longer stopwaitsecs than any watched program, as the docs say.
fn patient_listener(args: &str) -> String {
    listener(args) + "stopwaitsecs=30\n"
}

/// A sendmail stand-in that writes each mail to its own file mail.N in the test dir.
fn sendmail(sup: &Supervisor) -> String {
    let path = sup.path("sendmail");
    let dir = sup.dir().display().to_string();
    fs::write(
        &path,
        format!("#!/bin/sh\nn=$(ls {dir} | grep -c '^mail\\.')\ncat > {dir}/mail.$n\n"),
    )
    .expect("write sendmail");
    make_executable(&path);
    path.display().to_string()
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn mails(sup: &Supervisor) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(sup.dir())
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("mail."))
        .collect();
    names.sort();
    names.iter().map(|n| read_file_lossy(sup.path(n))).collect()
}

/// How many of httpok's log entries (lines with a timestamp and level) hold `needle`.
fn entries(log: &str, needle: &str) -> usize {
    log.lines()
        .filter(|l| {
            l.split(' ')
                .nth(1)
                .is_some_and(|lvl| ["INFO", "WARN", "ERROR"].contains(&lvl))
        })
        .filter(|l| l.contains(needle))
        .count()
}

/// supervisord's own log.
fn supervisord_log(sup: &Supervisor) -> String {
    read_file_lossy(sup.log_path())
}

/// Adds the listener to a running supervisord (so scripts in its dir exist first).
fn add_listener(sup: &Supervisor, section: &str) {
    let conf = read_file_lossy(sup.conf_path()) + "\n" + section;
    fs::write(sup.conf_path(), sup.expand(&conf)).expect("rewrite conf");
    let (code, out) = sup.ctl(&["update"]);
    assert_eq!(code, 0, "{out}");
    sup.wait_running("httpok", T);
}

/// Kills the pids on drop: processes a test leaves outside supervisord's reach.
struct Orphans(Vec<u32>);

impl Drop for Orphans {
    fn drop(&mut self) {
        for pid in &self.0 {
            send_signal(*pid, "KILL");
        }
    }
}

/// The pids webapp.py logged at startup in a program's stderr log.
fn webapp_pids(sup: &Supervisor, name: &str) -> Vec<u32> {
    read_file_lossy(sup.path(&format!("{name}.err.log")))
        .lines()
        .filter_map(|l| {
            l.split_once(" starting")?
                .0
                .strip_prefix("webapp[")?
                .split_once(']')
        })
        .filter_map(|(pid, _)| pid.parse().ok())
        .collect()
}

#[test]
fn a_start_that_ends_fatal_is_an_error_with_one_mail_and_never_recovered() {
    let port = free_port();
    // A shell wrapper without exec and no stopasgroup: the stop kills sh, the old
    // webapp keeps the port, and every new one dies binding it: FATAL, as in the field.
    // startsecs=5: even on a loaded machine the new webapp fails to bind well within it,
    // so supervisord never calls it RUNNING; `wait $!` passes its exit status on.
    let sup = start(vec![format!(
        "[program:web]\n\
         command=/bin/sh -c '{{python}} {{webapp}} --port {port} --mode error & wait $!'\n\
         startsecs=5\n\
         startretries=1\n\
         stopwaitsecs=2\n\
         stdout_logfile={{dir}}/web.out.log\n\
         stderr_logfile={{dir}}/web.err.log\n"
    )]);
    let pid = sup.wait_running("web", T);
    let mail = sendmail(&sup);
    add_listener(
        &sup,
        &patient_listener(&format!(
            "-p web -t 2 -m ops@example.test -s {mail} http://127.0.0.1:{port}/"
        )),
    );
    let _orphans = Orphans(webapp_pids(&sup, "web"));
    sup.wait_state("web", "FATAL", T * 2);
    let log = wait_for_log(sup.path("httpok.err.log"), "Failed to start process web", T);
    let line = log
        .lines()
        .find(|l| l.contains("Failed to start process web"))
        .unwrap_or_default();
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("FATAL"), "supervisord's reason: {line}");
    assert!(
        line.contains("stopasgroup=true and killasgroup=true"),
        "{line}"
    );
    // Two more ticks: nothing new, no "restarted", no "recovered", one mail.
    wait_for_more_ticks(&sup, 2);
    let log = httpok_log(&sup);
    assert!(!log.contains("web restarted"), "{log}");
    assert!(!log.contains("recovered"), "{log}");
    assert_eq!(entries(&log, "Failed to start process web"), 1, "{log}");
    assert_eq!(entries(&log, "is in RUNNING state, restarting"), 1, "{log}");
    wait_until("the mail was sent", T, || !mails(&sup).is_empty());
    let all = mails(&sup);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].contains("Failed to start process web: FATAL"),
        "{}",
        all[0]
    );
    assert_ne!(sup.pid("web"), Some(pid));
    assert_listener_healthy(&sup);
}

#[test]
fn stopping_httpok_during_a_restart_leaves_the_program_running() {
    let port = free_port();
    let sup = start(vec![
        program(
            "web",
            &format!("{{python}} {{webapp}} --port {port} --mode ok"),
            "stopwaitsecs=6",
        ),
        patient_listener(&format!("-p web -t 1 http://127.0.0.1:{port}/")),
    ]);
    let pid = sup.wait_running("web", T);
    sup.wait_running("httpok", T);
    // Frozen: the stop takes the full stopwaitsecs before supervisord's SIGKILL.
    sup.freeze(pid);
    wait_for_log(
        sup.path("httpok.err.log"),
        "web is in RUNNING state, restarting",
        T,
    );
    let (code, out) = sup.ctl(&["stop", "httpok"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(sup.state("httpok"), "STOPPED");
    let new_pid = sup.wait_pid_change("web", pid, T);
    sup.wait_state("web", "RUNNING", T);
    assert_ne!(new_pid, pid);
    let log = httpok_log(&sup);
    assert!(log.contains("received SIGTERM"), "{log}");
    assert!(
        log.contains("restarts under way have issued their starts"),
        "{log}"
    );
}

#[test]
fn a_fatal_watched_program_gives_one_line_and_at_most_one_mail() {
    let port = free_port();
    let sup = start(vec![program(
        "web",
        "/bin/false",
        "startretries=0\nautorestart=false",
    )]);
    sup.wait_state("web", "FATAL", T);
    let mail = sendmail(&sup);
    add_listener(
        &sup,
        &listener(&format!(
            "-p web -t 1 -m ops@example.test -s {mail} http://127.0.0.1:{port}/"
        )),
    );
    wait_for_more_ticks(&sup, 6);
    let log = httpok_log(&sup);
    assert_eq!(
        entries(&log, "web not in RUNNING state, NOT restarting"),
        1,
        "{log}"
    );
    assert_eq!(entries(&log, "WARN"), 0, "nothing per tick: {log}");
    assert_eq!(mails(&sup).len(), 1);
    assert_listener_healthy(&sup);
}

#[test]
fn two_failing_checks_on_one_program_give_one_stop_and_one_start() {
    let port = free_port();
    let sup = start(vec![web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    add_listener(
        &sup,
        &listener(&format!(
            "-t 2 --check web=http://127.0.0.1:{port}/a --check web=http://127.0.0.1:{port}/b"
        )),
    );
    assert_restarted(&sup, "web", pid);
    let log = httpok_log(&sup);
    assert_eq!(
        entries(&log, "web is in RUNNING state, restarting"),
        1,
        "{log}"
    );
    assert_eq!(entries(&log, "web restarted"), 1, "{log}");
    let sv = supervisord_log(&sup);
    assert_eq!(count(&sv, "stopped: web"), 1, "{sv}");
    assert_eq!(
        count(&sv, "spawned: 'web'"),
        2,
        "the first start and one restart: {sv}"
    );
}

#[test]
fn a_healthy_sibling_check_does_not_defeat_max_restarts() {
    let port = free_port();
    let sup = start(vec![web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    // tcp connects (the port is open), http answers 500: the program is failing.
    add_listener(
        &sup,
        &listener(&format!(
            "-t 2 --max-restarts 1 --restart-window 600 --check web=tcp://127.0.0.1:{port} \
             --check web=http://127.0.0.1:{port}/"
        )),
    );
    assert_restarted(&sup, "web", pid);
    wait_for_log(sup.path("httpok.err.log"), "giving up on web", T);
    wait_for_more_ticks(&sup, 3);
    let log = httpok_log(&sup);
    assert_eq!(entries(&log, "web restarted"), 1, "{log}");
    assert_eq!(entries(&log, "giving up on web"), 1, "{log}");
    assert_eq!(count(&supervisord_log(&sup), "spawned: 'web'"), 2);
}

#[test]
fn a_group_of_three_never_has_two_processes_down_at_once() {
    let failing = serve_500_until_switched();
    let sup = start(vec![
        program(
            "w",
            "{python} {webapp} --unix {dir}/w%(process_num)s.sock --mode ok",
            "numprocs=3\nprocess_name=%(program_name)s_%(process_num)s",
        ),
        listener(&format!(
            "-t 2 --check 'w:*=http://127.0.0.1:{}/'",
            failing.port
        )),
    ]);
    for n in 0..3 {
        sup.wait_running(&format!("w:w_{n}"), T);
    }
    let log = wait_for_count(&sup, "restarted", 3);
    failing.switch_to_ok();
    assert!(
        log.contains("Restarting selected processes ['w:*']"),
        "{log}"
    );
    // In supervisord's own order of events: each stop is followed by that process
    // entering RUNNING before the next process is stopped.
    let sv = supervisord_log(&sup);
    let mut down: Option<String> = None;
    let mut restarted = 0;
    for line in sv.lines() {
        if let Some(rest) = line.split("stopped: ").nth(1) {
            let name = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            assert!(
                down.is_none(),
                "{name} stopped while {down:?} was down:\n{sv}"
            );
            down = Some(name);
        } else if let Some(rest) = line.split("success: ").nth(1) {
            let name = rest.split_whitespace().next().unwrap_or_default();
            if down.as_deref() == Some(name) {
                down = None;
                restarted += 1;
            }
        }
    }
    assert!(restarted >= 3, "{sv}");
}

#[test]
fn a_slow_starter_inside_grace_gives_no_notice_and_no_mail() {
    let port = free_port();
    let sup = start(vec![web("web", port, "slowstart:12")]);
    let mail = sendmail(&sup);
    let pid = sup.wait_running("web", T);
    add_listener(
        &sup,
        &listener(&format!(
            "-p web -t 1 --grace 30 -m ops@example.test -s {mail} http://127.0.0.1:{port}/"
        )),
    );
    wait_for_more_ticks(&sup, 3);
    let log = httpok_log(&sup);
    assert_eq!(entries(&log, "WARN"), 0, "{log}");
    assert_eq!(entries(&log, "grace"), 0, "{log}");
    assert!(mails(&sup).is_empty());
    assert_eq!(sup.pid("web"), Some(pid), "not restarted");
}

#[test]
fn ticks_after_a_backward_when_still_probe() {
    // The real binary on a pipe, talking to a real supervisord: its ticks are ours.
    let counter = serve_500_until_switched();
    counter.switch_to_ok();
    let sup = start(vec![]);
    let mut child = Command::new(httpok_bin())
        .args(["-t", "2", &format!("http://127.0.0.1:{}/", counter.port)])
        .env("SUPERVISOR_SERVER_URL", sup.server_url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn httpok");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ready = String::new();
    stdout.read_line(&mut ready).expect("READY");
    assert_eq!(ready, "READY\n");
    for (i, when) in [1_000_000, 996_400, 996_405].iter().enumerate() {
        let payload = format!("when:{when}");
        write!(stdin, "ver:3.0 server:s serial:{i} pool:httpok poolserial:{i} eventname:TICK_5 len:{}\n{payload}", payload.len())
            .expect("write tick");
        stdin.flush().expect("flush");
        let mut answer = String::new();
        stdout.read_line(&mut answer).expect("RESULT");
        assert_eq!(answer, "RESULT 2\n");
        wait_until("probed once more", T, || counter.requests() > i);
        let mut ok = [0u8; 8];
        std::io::Read::read_exact(&mut stdout, &mut ok).expect("OKREADY\\n");
    }
    assert_eq!(counter.requests(), 3, "every tick probed once");
    drop(stdin);
    let _ = child.wait();
}

// ---------------------------------------------------------------- a switchable server

/// Answers 500 (then 200 once switched) to every request, counting them.
struct Switchable {
    port: u16,
    ok: std::sync::Arc<std::sync::atomic::AtomicBool>,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Switchable {
    fn switch_to_ok(&self) {
        self.ok.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    fn requests(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn serve_500_until_switched() -> Switchable {
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let ok = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let (ok2, count2) = (Arc::clone(&ok), Arc::clone(&count));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (ok, count) = (Arc::clone(&ok2), Arc::clone(&count2));
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let status = if ok.load(Ordering::SeqCst) {
                    "200 OK"
                } else {
                    "500 Oops"
                };
                let _ = conn.write_all(
                    format!("HTTP/1.0 {status}\r\nContent-Length: 2\r\n\r\nOK").as_bytes(),
                );
            });
        }
    });
    Switchable { port, ok, count }
}

#[test]
fn a_hook_that_forks_is_killed_with_its_children_at_the_timeout() {
    let port = free_port();
    let sup = start(vec![web("web", port, "error")]);
    let pid = sup.wait_running("web", T);
    let hook = sup.path("hook.sh");
    let pids = sup.path("hook.pids");
    fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho $$ > {p}.tmp\nsleep 30 &\necho $! >> {p}.tmp\nmv {p}.tmp {p}\nsleep 30\n",
            p = pids.display()
        ),
    )
    .expect("write hook");
    make_executable(&hook);
    add_listener(
        &sup,
        &listener(&format!(
            "-p web -t 1 --on-restart {} http://127.0.0.1:{port}/",
            hook.display()
        )),
    );
    assert_restarted(&sup, "web", pid);
    wait_until("the hook wrote its pids", T, || pids.exists());
    let hook_pids: Vec<u32> = read_file_lossy(&pids)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(hook_pids.len(), 2, "the hook and its background sleep");
    let _orphans = Orphans(hook_pids.clone());
    wait_until(
        "the hook and its child are gone",
        Duration::from_secs(15),
        || {
            hook_pids.iter().all(|pid| {
                !std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(*pid)
            })
        },
    );
    wait_for_log(sup.path("httpok.err.log"), "--on-restart for web", T);
}

/// A process that exited but was not reaped yet counts as gone.
fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}
