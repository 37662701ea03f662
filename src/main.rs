//! The `httpok` binary: parse, build the pieces, run the listener loop (or `--once`).
//! stdout carries protocol bytes only; every log line goes to stderr.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use httpok::cli::status_client::{self, StatusUrl};
use httpok::cli::{Request, parse_command_line};
use httpok::config::Config;
use httpok::metrics::{self, Limits, ListenAddr};
use httpok::notify::Commands;
use httpok::supervisor::{Client, Endpoint};
use httpok::watcher::{Exclusions, Stopper, Watcher, build_prober, run_listener};

/// Timeout of each call to supervisord, but the blocking stop of a restart (it lasts up
/// to the program's stopwaitsecs and has its own, STOP_CALL_TIMEOUT).
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// At most two malloc arenas. glibc gives threads up to eight arenas a core, and the
/// memory one probe thread frees stays in its arena for that arena's threads only: with
/// hundreds of probe threads, the freed buffers of a round were spread over all of them
/// (docs/benchmarks.md). Before any thread starts, as mallopt requires.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    init_logging();
    let (config, metrics_listen) = match parse_command_line(std::env::args_os()) {
        Ok(Request::Run {
            config,
            metrics_listen,
        }) => (*config, metrics_listen),
        Ok(Request::Status(url)) => return print_status(&url),
        Ok(Request::CheckConfig(config)) => {
            for warning in &config.warnings {
                log::warn!("{warning}");
            }
            return match httpok::cli::check_config::print(&config, &mut io::stdout().lock()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("cannot write the checks: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        // --help and --version go to stdout only when asked for, never in listener mode.
        Ok(Request::Print(text)) => {
            let _ = text.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    };
    for warning in &config.warnings {
        log::warn!("{warning}");
    }
    if config.once {
        return run_once(&config);
    }
    match run(config, metrics_listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run_once(config: &Config) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match httpok::cli::once::run_once(config, &mut stdout) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(2)
        }
    }
}

/// `--status URL`: the table on stdout; 0 all healthy, 1 not, 2 unreachable.
fn print_status(url: &StatusUrl) -> ExitCode {
    match status_client::fetch(url, status_client::TIMEOUT) {
        Ok(snapshot) => {
            // A closed stdout (piped into head) changes nothing: the status says it.
            let _ = io::stdout()
                .lock()
                .write_all(status_client::table(&snapshot).as_bytes());
            if snapshot.all_healthy() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(2)
        }
    }
}

/// The checks' `failures`, for the start line: `3`, or `1-3` when they differ.
fn thresholds(config: &Config) -> String {
    let counts = config.checks.iter().map(|c| c.policy.failures);
    match (counts.clone().min(), counts.max()) {
        (Some(low), Some(high)) if low != high => format!("{low}-{high}"),
        (Some(n), _) => n.to_string(),
        _ => "1".into(),
    }
}

fn run(config: Config, metrics_listen: Option<ListenAddr>) -> Result<(), String> {
    let server = config
        .server
        .clone()
        .ok_or("no supervisord URL (internal: checked by the CLI)")?;
    let endpoint = Endpoint::parse(&server.url)
        .map_err(|e| format!("bad SUPERVISOR_SERVER_URL / --server-url: {e}"))?;
    let client = Client::new(
        endpoint,
        server.username.as_deref(),
        server.password.as_deref(),
        RPC_TIMEOUT,
    );
    let exclusions = Exclusions {
        own: own_namespec(),
        names: config.exclude.clone(),
    };
    let prober = build_prober(&config)?;
    log::info!(
        "httpok {} started: {} check(s), restart after {} failed round(s); supervisord at {}",
        env!("CARGO_PKG_VERSION"),
        config.checks.len(),
        thresholds(&config),
        httpok::config::redact(&server.url)
    );
    let notifier = Commands {
        email: config.email.clone().filter(|_| !config.dry_run),
        sendmail: config.sendmail.clone(),
        name: config.name.clone(),
        gcore: config.gcore.clone(),
        coredir: config.coredir.clone(),
        on_restart: config.on_restart.clone(),
        on_change: config.on_change.clone(),
        hook_timeout: config.command_timeout,
    };
    let mut watcher = Watcher::new(
        &config,
        Arc::new(prober),
        Arc::new(client),
        Arc::new(notifier),
        exclusions,
    );
    // An address that cannot be bound is an ERROR and retried: the watch goes on.
    let endpoint = metrics_listen
        .map(|addr| metrics::Endpoint::start(&addr, watcher.status(), Limits::default()))
        .transpose()
        .map_err(|e| format!("cannot start the metrics endpoint: {e}"))?;
    stop_on_signals(watcher.stopper(), endpoint.clone())?;
    watcher.resume();
    watcher
        .start_clock()
        .map_err(|e| format!("cannot start the clock thread: {e}"))?;
    // Parsing thousands of --check flags freed more than the checks keep.
    httpok::trim_heap();
    let stdin = io::stdin().lock();
    // std's stdout is line-buffered: it would write `RESULT 2\nOK` in two pieces, split
    // at the newline. On its own descriptor, each message is one write (write_ok and
    // write_ready flush after each); stdout is never written any other way here.
    let stdout = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(|fd| io::BufWriter::new(File::from(fd)))
        .map_err(|e| format!("cannot use stdout: {e}"))?;
    let result = run_listener(stdin, ProtocolOut(stdout), &mut watcher);
    watcher.finish();
    if let Some(endpoint) = &endpoint {
        endpoint.close();
    }
    result.map_err(|e| {
        format!(
            "event stream failed: {e} (supervisord closed httpok's stdin/stdout; if this \
             repeats, look in supervisord's log)"
        )
    })
}

/// On SIGTERM, SIGINT, SIGHUP or SIGQUIT (supervisorctl stop/restart/update/reload, or
/// supervisord's shutdown): start no new restart, let every stop already issued be
/// followed by its start, then exit. httpok's own stopwaitsecs must exceed the watched
/// programs' stopwaitsecs for that wait to finish before supervisord's SIGKILL. The
/// metrics endpoint's unix socket file goes last.
fn stop_on_signals(stopper: Stopper, endpoint: Option<metrics::Endpoint>) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP, SIGQUIT])
        .map_err(|e| format!("cannot handle signals: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let name = signal_hook::low_level::signal_name(signal).unwrap_or("a signal");
                log::info!("received {name}; stopping (restarts under way finish their start)");
                stopper.stop(&format!("stopping on {name}"));
                if let Some(endpoint) = &endpoint {
                    endpoint.close();
                }
                std::process::exit(0);
            }
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the signal thread: {e}"))
}

/// This listener's namespec, from the variables supervisord sets for every child.
fn own_namespec() -> Option<String> {
    let name = std::env::var("SUPERVISOR_PROCESS_NAME").ok()?;
    let group = std::env::var("SUPERVISOR_GROUP_NAME").unwrap_or_else(|_| name.clone());
    Some(if group == name {
        name
    } else {
        format!("{group}:{name}")
    })
}

/// The one writer of stdout in listener mode.
struct ProtocolOut<W: Write>(W);

impl<W: Write> Write for ProtocolOut<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Plain lines on stderr: `2026-11-28T02:35:55Z INFO message`; RUST_LOG overrides info.
fn init_logging() {
    let logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
            .target(env_logger::Target::Stderr)
            .format(|buf, record| {
                writeln!(
                    buf,
                    "{} {} {}",
                    buf.timestamp_seconds(),
                    record.level(),
                    record.args()
                )
            })
            .build();
    let max_level = logger.filter();
    if log::set_boxed_logger(Box::new(WithoutHttpTrace(logger))).is_ok() {
        log::set_max_level(max_level);
    }
}

/// The logger, with the HTTP stack's trace level off whatever RUST_LOG asks for.
/// ureq-proto hex-dumps every request at trace level, Authorization header and all,
/// and ureq prints a request's path and query (`?token=...`) in its *debug* lines
/// whenever its trace level is enabled (`/******` otherwise): so that level must never
/// be enabled, not merely its lines dropped.
struct WithoutHttpTrace(env_logger::Logger);

impl WithoutHttpTrace {
    fn allows(&self, metadata: &log::Metadata<'_>) -> bool {
        let http_trace =
            metadata.level() == log::Level::Trace && metadata.target().starts_with("ureq");
        !http_trace && log::Log::enabled(&self.0, metadata)
    }
}

impl log::Log for WithoutHttpTrace {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.allows(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.allows(record.metadata()) {
            log::Log::log(&self.0, record);
        }
    }

    fn flush(&self) {
        log::Log::flush(&self.0);
    }
}
