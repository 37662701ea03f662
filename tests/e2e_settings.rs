//! Per-check settings (issue 10), proven end to end: a real supervisord sending TICK_5,
//! real apps under it, and what supervisord did (pids) and what httpok logged. Each
//! check is judged by its own timeout, codes, body rules and headers; `--interval`,
//! `--successes` and `--check-config` do what they say.
//!
//! Where one case needs two sets of flags side by side, it runs a second listener,
//! `[eventlistener:httpok2]`, in the same supervisord: both get the same ticks.
mod common;

use common::e2e::*;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

// ---------------------------------------------------------------- helpers

/// A program that only has to be RUNNING: the check names it, and probes a server of
/// the test's.
fn sleeper(name: &str) -> Section {
    Section::program(name, "/bin/sleep 86400")
}

/// Writes `text` to `dir/NAME` and returns its path.
fn write_file(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// Requests the webapp `name` served as `pid` so far (it logs one line per request).
fn requests_served(sup: &Supervisor, name: &str, pid: u32) -> usize {
    count(
        &read_file_lossy(sup.path(&format!("{name}.err.log"))),
        &format!("webapp[{pid}]: GET"),
    )
}

/// Ticks the second listener, httpok2, has answered.
fn ticks_of_httpok2(sup: &Supervisor) -> usize {
    count(
        &read_file_lossy(sup.log_path()),
        "httpok2: BUSY -> ACKNOWLEDGED",
    )
}

/// `httpok --check-config ARGS`, with no supervisord anywhere (none of its variables
/// inherited): (exit code, stdout, stderr).
fn check_config(args: &[&str]) -> (i32, String, String) {
    let mut cmd = httpok_cmd();
    cmd.arg("--check-config").args(args).stdin(Stdio::null());
    Running::spawn(&mut cmd).finish(T, |_| {}).into_parts()
}

// ---------------------------------------------------------------- a file's checks

#[test]
fn two_checks_of_a_config_file_are_each_judged_by_their_own_timeout_and_body() {
    // "slow" answers 200 after 2 s: healthy only under its own timeout of 5 s, not the
    // file's 1 s. "worded" answers 200 at once without "OK": healthy by status, failing
    // by its own body rule.
    let scratch = TempDir::new("cfg");
    let (slow_port, worded_port) = (free_port(), free_port());
    let config = write_file(
        &scratch,
        "checks.toml",
        &format!(
            "timeout = 1\n\
             \n\
             [[check]]\n\
             name = \"slow\"\n\
             program = \"slow\"\n\
             url = \"http://127.0.0.1:{slow_port}/\"\n\
             timeout = 5\n\
             \n\
             [[check]]\n\
             name = \"worded\"\n\
             program = \"worded\"\n\
             url = \"http://127.0.0.1:{worded_port}/\"\n\
             body = \"OK\"\n"
        ),
    );
    let sup = start(vec![
        web("slow", slow_port, "slow:2"),
        web("worded", worded_port, "nobody"),
    ]);
    // The listener only once the first pids are known: its first round may restart.
    let slow_pid = sup.wait_running("slow", T);
    let worded_pid = sup.wait_running("worded", T);
    add_listener(&sup, listener(&format!("--config {}", config.display())));
    assert_restarted(&sup, "worded", worded_pid);
    wait_for_more_ticks(&sup, 3);
    assert_eq!(
        sup.pid("slow"),
        Some(slow_pid),
        "the slow app was restarted: its own timeout of 5 s was not used"
    );
    assert!(
        requests_served(&sup, "slow", slow_pid) >= 3,
        "the slow app was not probed on each tick"
    );
    // Every line about the failing check names it, its URL beside the name.
    let log = httpok_log(&sup);
    let failed = format!("WARN worded (http://127.0.0.1:{worded_port}/): body missing \"OK\"");
    assert!(log.contains(&failed), "{log}");
    let unnamed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("127.0.0.1:{worded_port}/")))
        .filter(|l| !l.contains(&format!("worded (http://127.0.0.1:{worded_port}/)")))
        .collect();
    assert!(unnamed.is_empty(), "lines without the name: {unnamed:?}");
    assert!(
        !log.contains(&format!("127.0.0.1:{slow_port}/)")),
        "the slow check failed:\n{log}"
    );
    assert!(!log.contains("slow is in RUNNING state"), "{log}");
    assert_listener_healthy(&sup);
}

#[test]
fn a_host_header_of_one_check_in_the_file_is_sent_by_that_check_only() {
    let (with_host, without) = (StatusServer::start(200), StatusServer::start(200));
    let scratch = TempDir::new("cfg");
    let config = write_file(
        &scratch,
        "checks.toml",
        &format!(
            "[[check]]\n\
             program = \"vhost\"\n\
             url = \"http://127.0.0.1:{}/\"\n\
             headers = {{ Host = \"app.example\" }}\n\
             \n\
             [[check]]\n\
             program = \"plain\"\n\
             url = \"http://127.0.0.1:{}/\"\n",
            with_host.port(),
            without.port()
        ),
    );
    let sup = start(vec![
        sleeper("vhost"),
        sleeper("plain"),
        listener(&format!("--config {}", config.display())),
    ]);
    let vhost_pid = sup.wait_running("vhost", T);
    let plain_pid = sup.wait_running("plain", T);
    wait_until("both servers probed twice", T * 2, || {
        with_host.requests() >= 2 && without.requests() >= 2
    });
    for head in with_host.heads() {
        assert_eq!(header_values(&head, "Host"), ["app.example"], "{head}");
    }
    let own = format!("127.0.0.1:{}", without.port());
    for head in without.heads() {
        assert_eq!(header_values(&head, "Host"), [own.as_str()], "{head}");
    }
    assert_eq!(sup.pid("vhost"), Some(vhost_pid));
    assert_eq!(sup.pid("plain"), Some(plain_pid));
    assert!(!httpok_log(&sup).contains("restarting"));
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- codes and bodies

#[test]
fn code_2xx_accepts_a_204_that_the_default_200_restarts() {
    let (strict_port, lenient_port) = (free_port(), free_port());
    let sup = start(vec![
        web("strict", strict_port, "nocontent"),
        web("lenient", lenient_port, "nocontent"),
    ]);
    // The listeners only once the first pids are known: the first round may restart.
    let strict_pid = sup.wait_running("strict", T);
    let lenient_pid = sup.wait_running("lenient", T);
    sup.add(Section::listener(
        "httpok2",
        &format!("-t 2 -c 2xx --check lenient=http://127.0.0.1:{lenient_port}/"),
    ));
    sup.wait_running("httpok2", T);
    add_listener(
        &sup,
        listener(&format!(
            "-t 2 --check strict=http://127.0.0.1:{strict_port}/"
        )),
    );
    assert_restarted(&sup, "strict", strict_pid);
    assert!(httpok_log(&sup).contains("status 204"));
    wait_for_more_ticks(&sup, 3);
    assert_eq!(
        sup.pid("lenient"),
        Some(lenient_pid),
        "-c 2xx restarted on a 204"
    );
    assert!(
        requests_served(&sup, "lenient", lenient_pid) >= 3,
        "the -c 2xx check was not probed"
    );
    let lenient_log = read_file_lossy(sup.path("httpok2.err.log"));
    assert!(!lenient_log.contains("status 204"), "{lenient_log}");
    assert!(!lenient_log.contains("restarting"), "{lenient_log}");
    assert_listener_healthy(&sup);
}

#[test]
fn body_not_regex_restarts_when_the_page_shows_a_traceback_and_names_the_pattern() {
    let scratch = TempDir::new("mode");
    let mode = write_file(&scratch, "mode", "ok");
    let port = free_port();
    let sup = start(vec![
        web("web", port, &format!("mode-file:{}", mode.display())),
        listener(&format!(
            "-t 2 --body-not-regex 'maintenance mode|Traceback' -p web http://127.0.0.1:{port}/"
        )),
    ]);
    let pid = sup.wait_running("web", T);
    // While the page is clean, the pattern does not match: healthy rounds.
    wait_until("two healthy probes", T * 2, || {
        requests_served(&sup, "web", pid) >= 2
    });
    assert_eq!(
        sup.pid("web"),
        Some(pid),
        "restarted while the page was clean"
    );
    fs::write(&mode, "traceback").expect("write mode file");
    assert_restarted(&sup, "web", pid);
    fs::write(&mode, "ok").expect("write mode file");
    let log = httpok_log(&sup);
    assert!(
        log.contains(&format!(
            "http://127.0.0.1:{port}/: body matches /maintenance mode|Traceback/"
        )),
        "{log}"
    );
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- pacing and recovery

#[test]
fn interval_15_on_tick_5_probes_about_a_third_as_often() {
    let (paced, every_tick) = (StatusServer::start(200), StatusServer::start(200));
    let sup = start(vec![
        sleeper("web"),
        listener(&format!(
            "-t 2 --interval 15 -p web http://127.0.0.1:{}/",
            paced.port()
        )),
        Section::listener(
            "httpok2",
            &format!("-t 2 -p web http://127.0.0.1:{}/", every_tick.port()),
        ),
    ]);
    sup.wait_running("httpok2", T);
    wait_for("7 ticks answered by both listeners", T * 3, || {
        match (ticks_handled(&sup), ticks_of_httpok2(&sup)) {
            (a, b) if a >= 7 && b >= 7 => Ok(()),
            seen => Err(format!("{seen:?}")),
        }
    });
    let (paced, every_tick) = (paced.requests(), every_tick.requests());
    assert!(
        every_tick >= 6,
        "the plain check was probed {every_tick} times"
    );
    assert!(paced >= 1, "the --interval check was never probed");
    assert!(
        paced * 2 <= every_tick,
        "--interval 15: {paced} probes against {every_tick} without it"
    );
    assert!(!httpok_log(&sup).contains("restarting"));
    assert_listener_healthy(&sup);
}

#[test]
fn with_successes_2_a_restarted_program_is_recovered_only_after_two_healthy_rounds() {
    // The first webapp started serves 500; the one supervisord starts in its place 200.
    let scratch = TempDir::new("once");
    let marker = scratch.join("started-once");
    let port = free_port();
    let sup = start(vec![
        web("web", port, &format!("broken-once:{}", marker.display())),
        // Debug level: the lifecycle logs each healthy round it counts toward recovery.
        listener(&format!(
            "-t 2 --successes 2 -p web http://127.0.0.1:{port}/"
        ))
        .set("environment", "RUST_LOG=debug"),
    ]);
    // The restart may be over before a poll here sees the first pid: wait for its end.
    let log = wait_for_log(
        sup.path("httpok.err.log"),
        "web recovered: its checks pass against pid ",
        T * 2,
    );
    let new_pid = sup.pid("web").expect("web runs");
    let restarted = log
        .find("web restarted")
        .expect("restarted before recovered");
    let counted = log
        .find(&format!(
            "web: 1 of 2 healthy round(s) against pid {new_pid}"
        ))
        .unwrap_or_else(|| panic!("no first healthy round counted against {new_pid}:\n{log}"));
    let recovered = log
        .find(&format!(
            "web recovered: its checks pass against pid {new_pid}"
        ))
        .expect("recovered against the new pid");
    assert!(restarted < counted && counted < recovered, "{log}");
    // A healthy round against the new pid was served between the restart and the line.
    assert!(requests_served(&sup, "web", new_pid) >= 2);
    wait_for_more_ticks(&sup, 1);
    assert_eq!(sup.pid("web"), Some(new_pid));
    let log = httpok_log(&sup);
    assert_eq!(
        count(&log, "web is in RUNNING state, restarting"),
        1,
        "{log}"
    );
    assert_eq!(count(&log, "recovered"), 1, "{log}");
    assert_listener_healthy(&sup);
}

// ---------------------------------------------------------------- --check-config

#[test]
fn check_config_prints_one_line_per_check_of_a_good_command_line_and_refuses_a_bad_one() {
    let (code, out, err) = check_config(&[
        "-t",
        "3",
        "-c",
        "2xx",
        "-p",
        "api",
        "http://127.0.0.1:9000/",
        "--check",
        "web=http://127.0.0.1:8080/health",
        "--check",
        "db=exec:/bin/true -q",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(err, "", "stderr of a good command line");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (line, program, target) in [
        (lines[0], "api", "http://127.0.0.1:9000/"),
        (lines[1], "web", "http://127.0.0.1:8080/health"),
        (lines[2], "db", "exec:/bin/true -q"),
    ] {
        assert!(line.contains(&format!("programs {program};")), "{line}");
        assert!(line.contains(target), "{line}");
        assert!(line.contains("timeout=3"), "{line}");
    }
    assert!(lines[0].contains("codes=2xx"), "{}", lines[0]);

    let (code, out, err) = check_config(&["-c", "7xx", "--check", "web=http://127.0.0.1:8080/"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(out, "", "a refused command line printed checks");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("ERROR"), "{err}");
    assert!(
        lines[0].contains("-c/--code") && lines[0].contains("7xx"),
        "{err}"
    );
}

#[test]
fn check_config_reads_a_good_file_and_names_file_line_and_key_of_a_bad_one() {
    let scratch = TempDir::new("cfg");
    let good = write_file(
        &scratch,
        "good.toml",
        "timeout = 3\n\
         \n\
         [[check]]\n\
         name = \"site\"\n\
         program = \"web\"\n\
         url = \"http://127.0.0.1:8080/health\"\n\
         codes = \"2xx\"\n\
         \n\
         [[check]]\n\
         name = \"db\"\n\
         program = \"postgres\"\n\
         exec = [\"/bin/sh\", \"-c\", \"test ! -e /x\"]\n\
         timeout = 8\n",
    );
    let shown = good.display().to_string();
    let (code, out, err) = check_config(&["--config", &shown]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("site: programs web;"), "{out}");
    assert!(
        lines[0].contains("timeout=3") && lines[0].contains("codes=2xx"),
        "{out}"
    );
    assert!(lines[1].starts_with("db: programs postgres;"), "{out}");
    // The argv shell-quoted: pasted into a shell, it runs the same command.
    assert!(lines[1].contains("exec:/bin/sh -c 'test ! -e /x'"), "{out}");
    assert!(lines[1].contains("timeout=8"), "{out}");

    // Line 6: a timeout of 0 in the second check.
    let bad = write_file(
        &scratch,
        "bad.toml",
        "[[check]]\n\
         program = \"web\"\n\
         url = \"http://127.0.0.1:8080/\"\n\
         [[check]]\n\
         program = \"api\"\n\
         timeout = 0\n\
         url = \"http://127.0.0.1:9000/\"\n",
    );
    let (code, out, err) = check_config(&["--config", &bad.display().to_string()]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(out, "", "a refused file printed checks");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("ERROR"), "{err}");
    assert!(
        lines[0].contains(&format!("{}:6: timeout", bad.display())),
        "{err}"
    );
}

#[test]
fn check_config_passes_every_toml_example_shipped() {
    let examples = repo_root().join("examples");
    let mut files: Vec<PathBuf> = fs::read_dir(&examples)
        .expect("read examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples/*.toml to check");
    for file in &files {
        let (code, out, err) = check_config(&["--config", &file.display().to_string()]);
        assert_eq!(
            code,
            0,
            "{}: stdout:\n{out}\nstderr:\n{err}",
            example_name(file)
        );
        assert!(!out.trim().is_empty(), "{}: no check", example_name(file));
    }
}

fn example_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
