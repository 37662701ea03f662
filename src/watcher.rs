//! One probe round per TICK: probe every check at once, read the process list if one
//! failed (before the probes with -E or --max-restarts), let the policy judge, log what
//! changed, and hand restarts to background jobs so the listener is never BUSY for a
//! stop's stopwaitsecs. Also the listener loop that feeds it.
//!
//! ```text
//! TICK ─► probe all checks ─► (any failed) process list ─► policy.judge per check ─► log
//!                                                    └─► restart job thread(s) ─► mail, hook
//! ```

use std::collections::HashSet;
use std::io::{self, BufRead, Write};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{CheckSpec, Config};
use crate::event::Event;
use crate::listener::{self, EventReader};
use crate::model::ProcessInfo;
use crate::notify;
use crate::policy::{Candidate, Decision, Policy};
use crate::probe::{Failure, Outcome, Prober};
use crate::restart::{CoreDump, RestartOutcome, restart_process};
use crate::selection::{Exclusions, Resolved, Selection};
use crate::supervisor::Supervisor;
use crate::target::Target;

/// Watches the checks of one listener process.
pub struct Watcher {
    config: Arc<Config>,
    prober: Arc<Prober>,
    supervisor: Arc<dyn Supervisor>,
    policy: Policy,
    exclusions: Exclusions,
    /// Namespecs with a restart under way.
    busy: Arc<Mutex<HashSet<String>>>,
    jobs: Vec<JoinHandle<()>>,
    /// Epoch seconds when the last round ended (for dropping queued ticks).
    last_round_end: Option<f64>,
    started: Instant,
}

impl Watcher {
    pub fn new(
        config: Config,
        supervisor: Arc<dyn Supervisor>,
        exclusions: Exclusions,
    ) -> Result<Watcher, String> {
        let prober = build_prober(&config)?;
        let policy = Policy::new(config.policy.clone(), config.checks.len());
        Ok(Watcher {
            config: Arc::new(config),
            prober: Arc::new(prober),
            supervisor,
            policy,
            exclusions,
            busy: Arc::new(Mutex::new(HashSet::new())),
            jobs: Vec::new(),
            last_round_end: None,
            started: Instant::now(),
        })
    }

    /// Handles one event: a fresh TICK runs a round, anything else is ignored.
    pub fn handle(&mut self, event: &Event) {
        match event {
            Event::Tick { name, when } => {
                if let (Some(when), Some(end)) = (when, self.last_round_end)
                    && (*when as f64) < end.floor()
                {
                    log::debug!(
                        "{name} (when:{when}) queued up during the last round; skipping it"
                    );
                    return;
                }
                self.round();
                self.last_round_end = Some(epoch_now());
            }
            Event::Other { name } => {
                log::debug!("ignoring event {}", name.as_deref().unwrap_or("(unnamed)"));
            }
        }
    }

    /// One probe round. The process list is read before the probes only where it
    /// decides what to probe (-E) or matters to a healthy round (--max-restarts windows).
    /// Otherwise it is read after them, and only if a check failed: a healthy round asks
    /// supervisord nothing, which is most of what made it cost (docs/benchmarks.md).
    pub fn round(&mut self) {
        self.jobs.retain(|job| !job.is_finished());
        let config = Arc::clone(&self.config);
        let early = if !config.eager || config.policy.max_restarts.is_some() {
            let Some(processes) = self.process_list() else {
                return;
            };
            Some(processes)
        } else {
            None
        };

        // -E: only probe checks with a RUNNING program.
        let probed: Vec<bool> = config
            .checks
            .iter()
            .map(|check| {
                config.eager
                    || early.as_deref().is_some_and(|processes| {
                        let resolved = check.selection.resolve(processes, &self.exclusions);
                        resolved.processes.iter().any(|p| p.is_running())
                    })
            })
            .collect();
        let targets: Vec<&Target> = config
            .checks
            .iter()
            .zip(&probed)
            .filter(|(_, probe)| **probe)
            .flat_map(|(check, _)| check.targets.iter())
            .collect();
        let probes_started = Instant::now();
        let mut outcomes = self.prober.probe_all(&targets).into_iter();
        let failures: Vec<Option<(String, Failure)>> = config
            .checks
            .iter()
            .zip(&probed)
            .map(|(check, probed)| {
                probed
                    .then(|| first_failure(check, &mut outcomes))
                    .flatten()
            })
            .collect();

        // `late`: how long after the probes began the list was read, if it was.
        let (processes, late) = match early {
            Some(processes) => (processes, None),
            None if failures.iter().all(Option::is_none) => (Vec::new(), None),
            None => {
                let Some(processes) = self.process_list() else {
                    return;
                };
                (processes, Some(probes_started.elapsed()))
            }
        };
        let busy = self.busy.lock().map(|b| b.clone()).unwrap_or_default();
        let resolved: Vec<Resolved<'_>> = config
            .checks
            .iter()
            .map(|c| c.selection.resolve(&processes, &self.exclusions))
            .collect();
        let candidates: Vec<Vec<Candidate>> = resolved
            .iter()
            .map(|r| {
                r.processes
                    .iter()
                    .map(|p| candidate(p, &busy, late))
                    .collect()
            })
            .collect();

        let now = self.started.elapsed().as_secs();
        for (i, (check, failure)) in config.checks.iter().zip(failures).enumerate() {
            if !probed[i] {
                log::debug!(
                    "{}: no watched program is RUNNING; not probing (-E)",
                    label(check)
                );
            }
            let healthy = probed[i].then_some(failure.is_none());
            let decision = self.policy.judge(i, healthy, &candidates[i], now);
            self.report(check, &resolved[i], failure, decision);
        }
    }

    /// supervisord's process list; `None` (logged) when it cannot be read.
    fn process_list(&self) -> Option<Vec<ProcessInfo>> {
        match self.supervisor.all_process_info() {
            Ok(processes) => Some(processes),
            Err(e) => {
                log::error!("cannot read the process list, skipping this round: {e}");
                None
            }
        }
    }

    /// Logs what changed for one check and starts its restart job.
    fn report(
        &mut self,
        check: &CheckSpec,
        resolved: &Resolved<'_>,
        failure: Option<(String, Failure)>,
        decision: Decision,
    ) {
        let threshold = self.policy.threshold();
        for name in &decision.resumed {
            log::info!("{name}: restarts allowed again");
        }
        if decision.recovered {
            log::info!("{}: recovered", label(check));
        }
        let Some((url, failure)) = failure else {
            return;
        };
        if decision.counted && !decision.act {
            log::warn!(
                "{url}: {failure} (failing {}/{threshold})",
                decision.failures
            );
        }
        if !decision.in_grace.is_empty() {
            log::info!(
                "{url}: {failure}, but {} started less than {}s ago (--grace); not counting it",
                decision.in_grace.join(", "),
                self.config.policy.grace.as_secs()
            );
        }
        for name in &decision.busy {
            log::info!("{url}: {failure}; {name} is still being restarted");
        }
        for name in &decision.fresh {
            log::info!(
                "{url}: {failure}; {name} started while it was probed, judging it next round"
            );
        }
        if !decision.act {
            return;
        }
        // Every program was given up on earlier and the ERROR said so: a round that
        // changes nothing logs nothing (not a "Restarting ..." that restarts nobody).
        let only_held = !decision.held.is_empty()
            && decision.restart.is_empty()
            && decision.gave_up.is_empty()
            && decision.not_running.is_empty()
            && resolved.missing.is_empty()
            && resolved.ambiguous.is_empty();
        if only_held {
            log::debug!(
                "{url}: {failure}; still given up on {}",
                decision.held.join(", ")
            );
            return;
        }

        let mut lines = vec![format!("{url}: {failure}")];
        log::warn!("{url}: {failure}");
        let note = |line: String, lines: &mut Vec<String>| {
            log::info!("{line}");
            lines.push(line);
        };
        match &check.selection {
            Selection::Any => note("Restarting all running processes".into(), &mut lines),
            Selection::Programs(programs) => note(
                format!("Restarting selected processes {}", python_list(programs)),
                &mut lines,
            ),
        }
        for (spec, matches) in &resolved.ambiguous {
            let line = format!(
                "-p {spec} matches several processes ({}), NOT restarting them: name one as group:name",
                matches.join(", ")
            );
            log::error!("{line}");
            lines.push(line);
        }
        for name in &decision.not_running {
            note(
                format!("{name} not in RUNNING state, NOT restarting"),
                &mut lines,
            );
        }
        for name in &decision.gave_up {
            let (k, window) = self.config.policy.max_restarts.unwrap_or_default();
            let line = format!(
                "giving up on {name}: restarted {k} times within {}s and {url} still fails ({failure}); \
                 not restarting it until it answers again or the window has passed",
                window.as_secs()
            );
            log::error!("{line}");
            lines.push(line);
        }
        if !resolved.missing.is_empty() {
            note(
                format!(
                    "Programs not restarted because they did not exist: {}",
                    python_list(&resolved.missing)
                ),
                &mut lines,
            );
        }
        let mut restarts = decision.restart;
        if self.config.dry_run {
            for (name, _) in restarts.drain(..) {
                note(format!("would restart {name} ({failure})"), &mut lines);
            }
        }
        let mail = self.config.email.clone().filter(|_| !self.config.dry_run);
        if restarts.is_empty() && mail.is_none() {
            return;
        }
        if let Ok(mut busy) = self.busy.lock() {
            busy.extend(restarts.iter().map(|(n, _)| n.clone()));
        }
        let job = RestartJob {
            config: Arc::clone(&self.config),
            supervisor: Arc::clone(&self.supervisor),
            busy: Arc::clone(&self.busy),
            url,
            failure,
            restarts,
            mail,
            lines,
        };
        match thread::Builder::new()
            .name("restart".into())
            .spawn(move || job.run())
        {
            Ok(handle) => self.jobs.push(handle),
            Err(e) => log::error!("cannot start a restart thread: {e}"),
        }
    }

    /// Waits for restarts under way (called at EOF so no program is left stopped).
    pub fn finish(self) {
        for job in self.jobs {
            let _ = job.join();
        }
    }
}

/// Restarts (in parallel), then the mail and the hooks, off the listener's thread.
struct RestartJob {
    config: Arc<Config>,
    supervisor: Arc<dyn Supervisor>,
    busy: Arc<Mutex<HashSet<String>>>,
    url: String,
    failure: Failure,
    restarts: Vec<(String, u32)>,
    mail: Option<String>,
    lines: Vec<String>,
}

impl RestartJob {
    fn run(mut self) {
        let core = self.config.coredir.as_deref().map(|coredir| CoreDump {
            gcore: &self.config.gcore,
            coredir,
        });
        let results: Vec<(String, RestartOutcome, Vec<String>)> = thread::scope(|scope| {
            let handles: Vec<_> = self
                .restarts
                .iter()
                .map(|(name, pid)| {
                    let supervisor = &*self.supervisor;
                    let core = core.as_ref();
                    scope.spawn(move || {
                        let mut notes = Vec::new();
                        let outcome = restart_process(supervisor, name, *pid, core, &mut |line| {
                            log::info!("{line}");
                            notes.push(line);
                        });
                        (name.clone(), outcome, notes)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        if let Ok(mut busy) = self.busy.lock() {
            for (name, _) in &self.restarts {
                busy.remove(name);
            }
        }
        for (_, _, notes) in &results {
            self.lines.extend(notes.iter().cloned());
        }
        if let Some(to) = &self.mail {
            let subject = notify::subject(
                self.config.name.as_deref(),
                &format!("{}: {}", self.url, self.failure.subject()),
            );
            notify::send_mail(&self.config.sendmail, to, &subject, &self.lines.join("\n"));
        }
        if let Some(hook) = &self.config.on_restart {
            for (name, outcome, _) in &results {
                let env = [
                    ("HTTPOK_PROGRAM", name.clone()),
                    ("HTTPOK_URL", self.url.clone()),
                    ("HTTPOK_REASON", self.failure.to_string()),
                    ("HTTPOK_OUTCOME", outcome.word().to_string()),
                ];
                let result = notify::run_command(hook, None, &env, self.config.probe.timeout);
                if !result.success {
                    log::warn!("--on-restart for {name}: {}", result.summary);
                }
            }
        }
    }
}

/// `late`: the list was read this long after the probes began. supervisord's uptime is
/// whole seconds (each end truncated), so an uptime under that plus one second may
/// belong to a process (re)started while the probes ran: not the one that failed them.
fn candidate(info: &ProcessInfo, busy: &HashSet<String>, late: Option<Duration>) -> Candidate {
    let namespec = info.namespec();
    let uptime = u64::try_from(info.uptime()).unwrap_or(0);
    Candidate {
        busy: busy.contains(&namespec),
        fresh: late.is_some_and(|elapsed| (uptime as f64) < elapsed.as_secs_f64() + 1.0),
        namespec,
        pid: info.pid,
        running: info.is_running(),
        uptime,
    }
}

/// Takes this check's outcomes from the round's list; returns the first failure.
fn first_failure(
    check: &CheckSpec,
    outcomes: &mut impl Iterator<Item = Outcome>,
) -> Option<(String, Failure)> {
    let mut first = None;
    for target in &check.targets {
        if let Some(Outcome {
            result: Err(failure),
            ..
        }) = outcomes.next()
        {
            first.get_or_insert((target.to_string(), failure));
        }
    }
    first
}

/// The check's URLs, for log lines.
fn label(check: &CheckSpec) -> String {
    check
        .targets
        .iter()
        .map(Target::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `['a', 'b']`, as superlance printed Python lists.
pub fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The prober for a config's checks.
pub fn build_prober(config: &Config) -> Result<Prober, String> {
    let targets: Vec<&Target> = config
        .checks
        .iter()
        .flat_map(|c| c.targets.iter())
        .collect();
    Prober::new(config.probe.clone(), &targets)
}

/// The event-listener loop: READY, read an event, handle it, `RESULT 2\nOK`, repeat.
/// Returns at EOF. `output` gets protocol bytes only.
pub fn run_listener(
    input: impl BufRead,
    mut output: impl Write,
    watcher: &mut Watcher,
) -> io::Result<()> {
    let mut reader = EventReader::new(input);
    listener::write_ready(&mut output)?;
    while let Some(raw) = reader.next_event()? {
        if let Some(problem) = &raw.header.problem {
            let shown: String = String::from_utf8_lossy(&raw.payload)
                .chars()
                .take(80)
                .collect();
            log::warn!("malformed event header ({problem}); acknowledging it. payload: {shown:?}");
        }
        if raw.truncated {
            log::debug!("event payload longer than we keep; truncated");
        }
        watcher.handle(&Event::from_raw(&raw));
        listener::write_ok(&mut output)?;
        listener::write_ready(&mut output)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Args;
    use crate::model::ProcessState;
    use crate::restart::fake::FakeSupervisor;
    use clap::Parser;
    use std::net::TcpListener;

    fn process(group: &str, name: &str, pid: u32) -> ProcessInfo {
        ProcessInfo {
            name: name.into(),
            group: group.into(),
            state: ProcessState::Running,
            pid,
            start: 0,
            now: 1000,
            ..Default::default()
        }
    }

    fn watcher(args: &[&str], processes: Vec<ProcessInfo>) -> (Watcher, Arc<FakeSupervisor>) {
        let mut argv = vec![
            "httpok",
            "--server-url",
            "unix:///nonexistent.sock",
            "-t",
            "1",
        ];
        argv.extend_from_slice(args);
        let config = Args::try_parse_from(argv)
            .expect("parses")
            .into_config()
            .expect("valid");
        let fake = Arc::new(FakeSupervisor::with(processes));
        let exclusions = Exclusions {
            own: Some("httpok".into()),
            names: vec![],
        };
        let w = Watcher::new(config, fake.clone(), exclusions).expect("watcher");
        (w, fake)
    }

    fn refused_url() -> String {
        format!("tcp://{}", crate::probe::tests::refused_addr())
    }

    #[test]
    fn the_listener_acknowledges_every_event_with_protocol_bytes_only() {
        let ok = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("tcp://{}", ok.local_addr().expect("addr"));
        let (mut w, fake) = watcher(&["-p", "web", &url], vec![process("web", "web", 5)]);
        let input =
            b"eventname:TICK_5 len:6\nwhen:1\ngarbage\neventname:PROCESS_STATE_RUNNING len:3\nabc";
        let mut out = Vec::new();
        run_listener(&input[..], &mut out, &mut w).expect("runs");
        assert_eq!(
            out,
            b"READY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\n"
        );
        assert!(
            fake.calls.lock().expect("lock").is_empty(),
            "healthy: nothing restarted"
        );
    }

    #[test]
    fn a_failing_check_restarts_its_program_and_any_spares_the_listener() {
        let (mut w, fake) = watcher(
            &["-a", &refused_url()],
            vec![process("httpok", "httpok", 1), process("web", "web", 5)],
        );
        w.handle(&Event::Tick {
            name: "TICK_5".into(),
            when: None,
        });
        w.finish();
        let calls = fake.calls.lock().expect("lock").clone();
        assert_eq!(calls, ["stop web true", "start web false"]);
    }

    #[test]
    fn two_checks_restart_only_the_broken_program() {
        let ok = TcpListener::bind("127.0.0.1:0").expect("bind");
        let good = format!("web=tcp://{}", ok.local_addr().expect("addr"));
        let bad = format!("api={}", refused_url());
        let (mut w, fake) = watcher(
            &["--check", &good, "--check", &bad],
            vec![process("api", "api", 6), process("web", "web", 5)],
        );
        w.round();
        w.finish();
        assert_eq!(
            *fake.calls.lock().expect("lock"),
            ["stop api true", "start api false"]
        );
    }

    #[test]
    fn a_healthy_round_asks_supervisord_nothing() {
        use std::sync::atomic::Ordering::SeqCst;
        let ok = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("tcp://{}", ok.local_addr().expect("addr"));
        let (mut w, fake) = watcher(&["-p", "web", &url], vec![process("web", "web", 5)]);
        w.round();
        assert_eq!(fake.list_calls.load(SeqCst), 0);
        let (mut w, fake) = watcher(
            &["-p", "web", &refused_url()],
            vec![process("web", "web", 5)],
        );
        w.round();
        w.finish();
        assert_eq!(fake.list_calls.load(SeqCst), 1, "a failed round reads it");
        assert_eq!(fake.calls.lock().expect("lock").len(), 2, "and restarts");
    }

    #[test]
    fn a_process_started_while_the_probes_ran_is_not_restarted() {
        // Up for 0 s when the list is read after a 1 s probe: not the pid that failed.
        let fresh = ProcessInfo {
            start: 1000,
            ..process("web", "web", 6)
        };
        let (mut w, fake) = watcher(&["-p", "web", &refused_url()], vec![fresh]);
        w.round();
        w.finish();
        assert!(fake.calls.lock().expect("lock").is_empty());
    }

    #[test]
    fn dry_run_touches_nothing() {
        let (mut w, fake) = watcher(
            &["--dry-run", "-p", "web", &refused_url()],
            vec![process("web", "web", 5)],
        );
        w.round();
        w.finish();
        assert!(fake.calls.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_tick_queued_during_the_last_round_is_skipped() {
        use std::sync::atomic::Ordering::SeqCst;
        let ok = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("tcp://{}", ok.local_addr().expect("addr"));
        // -E reads the process list before probing, so list_calls counts the rounds.
        let (mut w, fake) = watcher(&["-E", "-p", "web", &url], vec![process("web", "web", 5)]);
        let tick = |when: i64| Event::Tick {
            name: "TICK_5".into(),
            when: Some(when),
        };
        let now = epoch_now() as i64;
        w.handle(&tick(now));
        assert_eq!(fake.list_calls.load(SeqCst), 1, "a fresh tick runs a round");
        // Issued before that round ended: it waited in supervisord's buffer.
        w.handle(&tick(now - 5));
        assert_eq!(
            fake.list_calls.load(SeqCst),
            1,
            "a queued tick runs no round"
        );
        w.handle(&tick(now + 5));
        assert_eq!(
            fake.list_calls.load(SeqCst),
            2,
            "the next fresh tick runs one"
        );
    }

    #[test]
    fn python_lists_look_like_superlances() {
        assert_eq!(
            python_list(&["web".into(), "g:api".into()]),
            "['web', 'g:api']"
        );
        assert_eq!(python_list(&[]), "[]");
    }
}
