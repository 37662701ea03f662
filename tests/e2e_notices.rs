//! What httpok's commands print, and its notices queue (issue 16, items 8 and 9),
//! under a real supervisord: a hook's output is one escaped part of one log entry; a
//! slow hook behind a flapping check gets the latest state, and what is dropped at
//! exit is counted.
mod common;

use common::e2e::*;
use common::*;

const FORGED: &str = "2026-12-07T00:00:00Z INFO web recovered";

#[test]
fn a_hook_that_prints_a_log_line_shows_up_escaped_inside_one_entry() {
    let scratch = TempDir::new("forge");
    let hook = scratch.join("hook.sh");
    write_script(
        &hook,
        &format!("printf 'hook says\\n{FORGED}\\n\\033[2J\\n'; exit 1"),
    );
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
    let log = wait_for_log(sup.path("httpok.err.log"), "--on-restart for web", T);
    assert!(
        !log.lines().any(|l| l.starts_with(FORGED)),
        "a forged entry:\n{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "an escape sequence reached the log"
    );
    let entries = lines_with(&log, FORGED);
    assert!(!entries.is_empty(), "{log}");
    for entry in entries {
        assert!(
            entry.ends_with(&format!(
                " WARN --on-restart for web: {} failed (exit status: 1); its output: \
                 hook says\\n{FORGED}\\n\\u{{1b}}[2J",
                hook.display()
            )),
            "{entry}"
        );
    }
    assert_listener_healthy(&sup);
}

#[test]
fn a_slow_hook_behind_a_flapping_check_gets_one_pending_call_and_drops_are_counted_at_exit() {
    let scratch = TempDir::new("slowhook");
    let calls = scratch.join("calls");
    let hook = scratch.join("hook.sh");
    // Far slower than the rounds: while it runs, each round changes the check's state.
    write_script(
        &hook,
        &format!(
            "echo \"$HTTPOK_STATE $HTTPOK_PREVIOUS\" >> {}; exec sleep 40",
            calls.display()
        ),
    );
    let port = free_port();
    // No -p: the check only logs and tells the hook. -t 60 is the hook's limit (the
    // app answers at once). httpok waits 15 s for notices at exit: stopwaitsecs above.
    let sup = start(vec![
        web("web", port, "flap"),
        listener(&format!(
            "-t 60 --on-change {} http://127.0.0.1:{port}/",
            hook.display()
        ))
        .set("stopwaitsecs", "40"),
    ]);
    sup.wait_running("web", T);
    wait_until("the hook's first call", T, || {
        !read_file_lossy(&calls).is_empty()
    });
    // Three more changes while it runs: failing, passing, failing, or the other way.
    let changes = |log: &str| count(log, "passes again") + count(log, "nothing is restarted:");
    let first = changes(&httpok_log(&sup));
    wait_for(
        &format!("3 more changes than {first}"),
        T,
        || match changes(&httpok_log(&sup)) {
            n if n >= first + 3 => Ok(()),
            n => Err(format!("{n}")),
        },
    );
    let (code, out) = sup.ctl(&["stop", "httpok"]);
    assert_eq!(code, 0, "{out}");
    let log = httpok_log(&sup);
    let warn = lines_with(&log, "not sent");
    assert_eq!(warn.len(), 1, "{log}");
    assert!(
        warn[0].contains(
            "WARN stopping on SIGTERM: 1 notice(s) (0 mail(s), 1 --on-change call(s), \
             0 --on-restart call(s)) not sent"
        ) && warn[0].ends_with("; one more was still running"),
        "the waiting changes were one notice: {}",
        warn[0]
    );
    assert_eq!(
        read_file_lossy(&calls).lines().collect::<Vec<_>>(),
        ["failing healthy"]
    );
}
