//! The end-to-end smoke under every supervisor 4.x: 4.0.4 (on Python 3.7, since it
//! imports cgi.escape, which Python 3.8 removed), 4.1.0, 4.2.5 and 4.3.0, each run from
//! its own cached virtualenv (`scripts/venv.sh --supervisor VERSION`, made on first
//! use). Under each, asking the running supervisord its version first: a frozen app is
//! restarted, a restart whose start ends FATAL is reported as such and never as
//! restarted, and `-a` restarts the app but never httpok. What differs between the
//! versions is in docs/migrating-from-superlance.md.
//!
//! `cargo test --test supervisor_versions v4_0_4` runs one version.
mod common;

use common::e2e::*;
use common::*;
use std::fs;
use std::time::Duration;

/// supervisord `version`, from its own virtualenv, with `sections`; fails unless the
/// running supervisord says it is that version.
#[track_caller]
fn start_under(version: &str, sections: impl IntoIterator<Item = Section>) -> Supervisor {
    let sup = Supervisor::start(SupervisorConfig::new().version(version).sections(sections));
    let (code, out) = sup.ctl(&["version"]);
    assert_eq!(
        (code, out.trim()),
        (0, version),
        "supervisorctl version, from {}",
        sup.venv().dir().display()
    );
    sup
}

/// The webapp on `port` in the mode `{dir}/mode` holds (ok while there is none): a
/// test takes its pid before it fails, so the restart cannot come first.
fn switchable(port: u16) -> String {
    format!("{{python}} {{webapp}} --port {port} --mode mode-file:{{dir}}/mode")
}

/// Makes the apps of `switchable` answer 500 from now on.
fn fail_from_now(sup: &Supervisor) {
    fs::write(sup.path("mode"), "error").expect("write the mode file");
}

/// Waits until the webapp answers on `port`.
#[track_caller]
fn answering(port: u16) {
    wait_until("web answers", T, || {
        http_get(port, "/", Duration::from_secs(2)).is_ok()
    });
}

fn a_frozen_app_is_restarted(version: &str) {
    let port = free_port();
    let sup = start_under(
        version,
        [
            web("web", port, "ok"),
            listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")),
        ],
    );
    let pid = sup.wait_running("web", T);
    sup.wait_running("httpok", T);
    answering(port);
    sup.freeze(pid);
    let new_pid = assert_restarted(&sup, "web", pid);
    answering(port);
    assert_eq!(sup.pid("web"), Some(new_pid));
    assert_listener_healthy(&sup);
}

fn a_start_that_ends_fatal_is_reported(version: &str) {
    let port = free_port();
    // The first start runs the app; every later one exits at once (the marker exists),
    // so supervisord gives the restart's start up: FATAL.
    let command = format!(
        "/bin/sh -c 'test ! -e {{dir}}/started && touch {{dir}}/started && exec {}'",
        switchable(port)
    );
    let sup = start_under(
        version,
        [
            Section::program("web", command).set("startretries", "1"),
            listener(&format!("-p web -t 2 http://127.0.0.1:{port}/")),
        ],
    );
    let pid = sup.wait_running("web", T);
    sup.wait_running("httpok", T);
    answering(port);
    fail_from_now(&sup);
    sup.wait_state("web", "FATAL", T * 2);
    let log = wait_for_log(sup.path("httpok.err.log"), "Failed to start process web", T);
    let line = log
        .lines()
        .find(|l| l.contains("Failed to start process web"))
        .unwrap_or_default();
    assert!(line.contains(" ERROR "), "{line}");
    assert!(line.contains("FATAL"), "supervisord's state: {line}");
    assert!(log.contains("web is in RUNNING state, restarting"), "{log}");
    // Two more ticks: FATAL stays FATAL, never called restarted or recovered.
    wait_for_more_ticks(&sup, 2);
    let log = httpok_log(&sup);
    assert!(!log.contains("web restarted"), "{log}");
    assert!(!log.contains("recovered"), "{log}");
    assert_eq!(count(&log, "Failed to start process web"), 1, "{log}");
    assert_eq!(sup.state("web"), "FATAL");
    assert_ne!(sup.pid("web"), Some(pid));
    assert_listener_healthy(&sup);
}

fn any_never_restarts_httpok(version: &str) {
    let port = free_port();
    let sup = start_under(
        version,
        [
            Section::program("web", switchable(port)),
            listener(&format!("-a -t 2 http://127.0.0.1:{port}/")),
        ],
    );
    let pid = sup.wait_running("web", T);
    let own = sup.wait_running("httpok", T);
    answering(port);
    fail_from_now(&sup);
    // Two rounds of `-a`, each restarting every RUNNING process but httpok.
    let pid2 = assert_restarted(&sup, "web", pid);
    sup.wait_pid_change("web", pid2, T);
    let log = wait_for_count(&sup, "web restarted", 2);
    assert!(log.contains("Restarting all running processes"), "{log}");
    assert!(!log.contains("httpok is in RUNNING state"), "{log}");
    assert!(!log.contains("httpok restarted"), "{log}");
    assert_eq!(sup.pid("httpok"), Some(own), "httpok restarted itself");
    assert_listener_healthy(&sup);
}

/// For each `module: "version"`, a module of the three smoke tests under that version;
/// and `TESTED`, the versions.
macro_rules! under_each {
    ($($module:ident: $version:literal),+ $(,)?) => {
        $(
            mod $module {
                #[test]
                fn a_frozen_app_is_restarted() {
                    super::a_frozen_app_is_restarted($version);
                }

                #[test]
                fn a_start_that_ends_fatal_is_reported() {
                    super::a_start_that_ends_fatal_is_reported($version);
                }

                #[test]
                fn any_never_restarts_httpok() {
                    super::any_never_restarts_httpok($version);
                }
            }
        )+
        const TESTED: &[&str] = &[$($version),+];
    };
}

under_each! {
    v4_0_4: "4.0.4",
    v4_1_0: "4.1.0",
    v4_2_5: "4.2.5",
    v4_3_0: "4.3.0",
}

#[test]
fn the_versions_tested_are_those_venv_sh_makes_and_the_docs_name() {
    let script = read_file_lossy(repo_root().join("scripts/venv.sh"));
    let listed = script
        .lines()
        .find_map(|l| l.strip_prefix("SUPERVISOR_VERSIONS="))
        .expect("SUPERVISOR_VERSIONS= in scripts/venv.sh")
        .trim_matches('"');
    assert_eq!(
        listed.split_whitespace().collect::<Vec<_>>(),
        TESTED,
        "scripts/venv.sh --supervisors (run by scripts/test.sh) makes other versions \
         than this file tests"
    );
    for doc in ["README.md", "docs/migrating-from-superlance.md"] {
        let text = fs::read_to_string(repo_root().join(doc)).expect(doc);
        let missing: Vec<&&str> = TESTED.iter().filter(|v| !text.contains(**v)).collect();
        assert!(
            missing.is_empty(),
            "{doc} does not name the tested supervisor versions {missing:?}"
        );
    }
}
