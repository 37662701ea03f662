//! Every file in examples/ runs under a real supervisord: it loads, its listener reaches
//! RUNNING, handles TICKs (acknowledged, never UNKNOWN) and finds the healthy app
//! healthy.
//!
//! The examples carry real-world paths (/usr/bin/httpok, /var/log/supervisor/, app
//! commands, ports). Each test rewrites them with plain string replacements, listed
//! next to the test; a replacement that no longer matches fails the test, so an edited
//! example cannot silently stop being tested. Examples that only hold the listener get
//! the programs they watch from the test, as a user's other conf.d files would.
mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Ticks come every 5 s; supervisord and the apps need a moment to start.
const T: Duration = Duration::from_secs(60);

/// examples/NAME after the replacements every example gets, then `extra` in order.
fn example(name: &str, extra: &[(&str, String)]) -> String {
    let path = repo_root().join("examples").join(name);
    let mut text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut replacements = vec![
        ("/usr/bin/httpok", "{httpok}".to_string()),
        ("/var/log/supervisor/", "{dir}/".to_string()),
    ];
    // Tests wait for ticks: TICK_60 would make each take a minute.
    if text.contains("events=TICK_60") {
        replacements.push(("events=TICK_60", "events=TICK_5".to_string()));
    }
    replacements.extend(extra.iter().cloned());
    for (from, to) in replacements {
        assert!(
            text.contains(from),
            "examples/{name} no longer contains {from:?}: update tests/examples.rs"
        );
        text = text.replace(from, &to);
    }
    text
}

/// The test app as a supervisord program on a TCP port or a unix socket.
fn webapp_program(name: &str, listen: &str, mode: &str) -> String {
    format!(
        "[program:{name}]\n\
         command={{python}} {{webapp}} {listen} --mode {mode}\n\
         startsecs=1\n\
         stopwaitsecs=2\n\
         stdout_logfile={{dir}}/{name}.out.log\n\
         stderr_logfile={{dir}}/{name}.err.log\n"
    )
}

fn start(cfg: SupervisorConfig, sections: Vec<String>) -> Supervisor {
    let cfg = sections.into_iter().fold(cfg, SupervisorConfig::program);
    Supervisor::start(cfg)
}

/// The listener is RUNNING, has acknowledged at least two events, never went UNKNOWN,
/// and its log (`log_name` in the temp dir) has no warning or error.
fn assert_listener_works(sup: &Supervisor, listener: &str, log_name: &str) -> String {
    sup.wait_running(listener, T);
    let acked = format!("{listener}: BUSY -> ACKNOWLEDGED");
    wait_until(&format!("{listener} handled two events"), T * 2, || {
        read_file_lossy(sup.log_path()).matches(&acked).count() >= 2
    });
    assert_eq!(sup.state(listener), "RUNNING");
    let log = read_file_lossy(sup.log_path());
    assert!(
        !log.contains("UNKNOWN"),
        "listener went UNKNOWN:\n{}",
        tail(&log, 30)
    );
    let own = read_file_lossy(sup.path(log_name));
    assert!(own.contains(" INFO httpok "), "no start line:\n{own}");
    own
}

/// Lines at WARN or ERROR: a healthy example has none.
fn complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect()
}

/// A short private dir for sockets (paths must fit in 107 bytes), removed on drop.
struct SocketDir(PathBuf);

impl SocketDir {
    fn new() -> SocketDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = PathBuf::from(format!(
            "/tmp/httpok-ex-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&dir).expect("create socket dir");
        SocketDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The socket path as it goes into an http+unix:// URL inside supervisord.conf: '/' is
/// %2F, and supervisord wants every % doubled.
fn url_socket_in_conf(path: &Path) -> String {
    path.display().to_string().replace('/', "%%2F")
}

#[test]
fn debian_unix_socket_example_watches_web() {
    let port = free_port();
    let text = example(
        "debian-unix-socket.conf",
        &[("127.0.0.1:8080", format!("127.0.0.1:{port}"))],
    );
    let sup = start(
        SupervisorConfig::new(),
        vec![webapp_program("web", &format!("--port {port}"), "ok"), text],
    );
    let pid = sup.wait_running("web", T);
    let log = assert_listener_works(&sup, "httpok", "httpok.log");
    assert!(complaints(&log).is_empty(), "{log}");
    assert_eq!(sup.pid("web"), Some(pid), "a healthy app was restarted");
}

#[test]
fn inet_auth_example_reaches_an_authenticated_server() {
    let port = free_port();
    let text = example(
        "inet-auth.conf",
        &[("127.0.0.1:8080", format!("127.0.0.1:{port}"))],
    );
    // The credentials of the example's comment and environment= line.
    let sup = start(
        SupervisorConfig::new().inet_auth("ops", "change-me"),
        vec![webapp_program("web", &format!("--port {port}"), "ok"), text],
    );
    let pid = sup.wait_running("web", T);
    let log = assert_listener_works(&sup, "httpok", "httpok.log");
    // A 401 would be an ERROR line on every round.
    assert!(complaints(&log).is_empty(), "{log}");
    assert!(!log.contains("change-me"), "password in the log:\n{log}");
    assert_eq!(sup.pid("web"), Some(pid), "a healthy app was restarted");
}

#[test]
fn many_services_example_watches_every_service_from_one_listener() {
    let (web, api, worker, search) = (free_port(), free_port(), free_port(), free_port());
    let text = example(
        "many-services.conf",
        &[
            ("127.0.0.1:8000", format!("127.0.0.1:{web}")),
            ("127.0.0.1:8001", format!("127.0.0.1:{api}")),
            ("127.0.0.1:9200", format!("127.0.0.1:{search}")),
        ],
    );
    let sup = start(
        SupervisorConfig::new(),
        vec![
            webapp_program("web", &format!("--port {web}"), "ok"),
            webapp_program("app", &format!("--port {api}"), "ok"),
            webapp_program("worker", &format!("--port {worker}"), "ok"),
            "[group:api]\nprograms=app,worker\n".to_string(),
            webapp_program("search", &format!("--port {search}"), "ok"),
            text,
        ],
    );
    let pids: Vec<(&str, u32)> = ["web", "api:app", "api:worker", "search"]
        .into_iter()
        .map(|name| (name, sup.wait_running(name, T)))
        .collect();
    let log = assert_listener_works(&sup, "httpok", "httpok.log");
    assert!(log.contains("3 check(s)"), "{log}");
    assert!(complaints(&log).is_empty(), "{log}");
    for (name, pid) in pids {
        assert_eq!(sup.pid(name), Some(pid), "healthy {name} was restarted");
    }
}

#[test]
fn gunicorn_example_probes_an_app_on_a_unix_socket() {
    let sockets = SocketDir::new();
    let socket = sockets.path("gunicorn.sock");
    let text = example(
        "gunicorn-unix-socket.conf",
        &[
            (
                "/srv/shop/venv/bin/gunicorn --workers 3 --bind unix:/run/shop/gunicorn.sock \
                 shop.wsgi:application",
                format!("{{python}} {{webapp}} --unix {}", socket.display()),
            ),
            ("directory=/srv/shop\n", "directory={dir}\n".to_string()),
            ("user=www-data\n", String::new()),
            (
                "%%2Frun%%2Fshop%%2Fgunicorn.sock",
                url_socket_in_conf(&socket),
            ),
        ],
    );
    let sup = start(SupervisorConfig::new(), vec![text]);
    let pid = sup.wait_running("shop", T);
    let log = assert_listener_works(&sup, "httpok", "httpok.log");
    assert!(complaints(&log).is_empty(), "{log}");
    assert_eq!(sup.pid("shop"), Some(pid), "a healthy app was restarted");
    // The probes did reach the app through its socket.
    let app_log = all_logs_of(&sup, "shop-stderr");
    assert!(app_log.contains("GET /healthz"), "{app_log}");
}

#[test]
fn slow_starter_example_spares_the_program_during_its_grace() {
    let port = free_port();
    let text = example(
        "slow-starter-grace.conf",
        &[
            (
                "/opt/reports/bin/reports-server --port 8090",
                // Not ready at all: every probe fails, and --grace must hold.
                format!("{{python}} {{webapp}} --port {port} --mode error"),
            ),
            ("127.0.0.1:8090", format!("127.0.0.1:{port}")),
            ("startsecs=10", "startsecs=1".to_string()),
        ],
    );
    let sup = start(SupervisorConfig::new(), vec![text]);
    let pid = sup.wait_running("reports", T);
    let log_name = "httpok-reports.log";
    assert_listener_works(&sup, "httpok-reports", log_name);
    // Probed and failing, and yet no notice (so no mail) and no restart.
    wait_until("httpok probed the app twice", T * 3, || {
        all_logs_of(&sup, "reports-stderr")
            .matches("GET /ready")
            .count()
            >= 2
    });
    let log = read_file_lossy(sup.path(log_name));
    assert!(!log.contains("status 500"), "{log}");
    assert!(!log.contains("restarting"), "{log}");
    assert_eq!(sup.pid("reports"), Some(pid), "restarted during its grace");
}

/// The contents of every file in the temp dir whose name starts with `prefix` (the
/// AUTO log files supervisord names `NAME-stderr---supervisor-XXXX.log`).
fn all_logs_of(sup: &Supervisor, prefix: &str) -> String {
    fs::read_dir(sup.dir())
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| read_file_lossy(e.path()))
                .collect()
        })
        .unwrap_or_default()
}
