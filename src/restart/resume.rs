//! Whether a restart the previous httpok left between its stop and its start is still
//! its own to finish. Pure: the stop record, what supervisord says of the process now,
//! whether a check names it, and `--dry-run` in; wait, start, or drop (with the reason)
//! out.
//!
//! Finished only when all of these hold, since a start is the one act here that can
//! do harm (bring up a program an operator stopped):
//! * not `--dry-run`, and a check of this httpok still names the program;
//! * the record says when the stop was issued (by supervisord's clock);
//! * supervisord shows it STOPPED, its last start before that stop was issued (nobody
//!   started it since) and its last stop not before it (the stop that left it STOPPED
//!   is ours, not an operator's that came first).
//!
//! STOPPING as the pid httpok stopped is waited out: that is our stop, still ending.
//! supervisord's times are whole seconds, so a start within the second of our stop
//! counts as "started since": the program is then left as it is, never started twice.

use crate::state_file::StopRecord;
use crate::supervisor::model::{ProcessInfo, ProcessState};

/// What to do with a stop record now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeStep {
    /// Our stop is still under way (STOPPING as our pid): look again shortly.
    Wait,
    /// Still ours: start it.
    Start,
    /// Not ours any more: drop the record; the line says why.
    Drop(String),
}

/// The facts a stop record is judged against.
#[derive(Debug, Clone, Copy)]
pub struct ResumeFacts<'a> {
    /// supervisord's view now; `None` when it no longer lists the program.
    pub info: Option<&'a ProcessInfo>,
    /// A check of this httpok names the program.
    pub named: bool,
    pub dry_run: bool,
}

/// Decides what becomes of `record`, the stop of `namespec` a previous httpok issued.
pub fn decide(namespec: &str, record: &StopRecord, facts: &ResumeFacts<'_>) -> ResumeStep {
    let left = format!(
        "{namespec} was being restarted by the previous httpok (pid {} stopped)",
        record.pid
    );
    let drop = |why: String| ResumeStep::Drop(format!("{left}; {why}"));
    if facts.dry_run {
        return drop("not starting it: --dry-run starts nothing".into());
    }
    let Some(info) = facts.info else {
        return drop("it is no longer in supervisord's process list, nothing to finish".into());
    };
    if !facts.named {
        return drop(format!(
            "no check of this httpok names it any more, so it is left {}",
            info.state
        ));
    }
    let Some(issued_at) = record.issued_at else {
        return drop(format!(
            "the state file does not say when that stop was issued, so nothing shows it \
             is still httpok's to start; left {}",
            info.state
        ));
    };
    match info.state {
        ProcessState::Stopping if info.pid == record.pid => ResumeStep::Wait,
        ProcessState::Stopped if info.start < issued_at && info.stop >= issued_at => {
            ResumeStep::Start
        }
        ProcessState::Stopped => drop(format!(
            "it was started or stopped by someone else since (supervisord: last start {}, \
             last stop {}; httpok's stop at {issued_at}), so it is left STOPPED",
            info.start, info.stop
        )),
        state => drop(format!("it is {state} now, nothing to finish")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProcessState::*;

    const ISSUED: i64 = 1_800_000_000;

    fn info(state: ProcessState, pid: u32, start: i64, stop: i64) -> ProcessInfo {
        ProcessInfo {
            name: "web".into(),
            group: "web".into(),
            state,
            pid,
            start,
            stop,
            ..Default::default()
        }
    }

    fn record(issued_at: Option<i64>) -> StopRecord {
        StopRecord { pid: 42, issued_at }
    }

    /// (case, state, pid, last start and last stop relative to our stop, named,
    /// --dry-run, expected step: Wait, Start or Drop).
    type Row = (&'static str, ProcessState, u32, i64, i64, bool, bool, char);

    const ROWS: &[Row] = &[
        ("our stop ended", Stopped, 0, -300, 8, true, false, 'S'),
        (
            "our stop ended in the same second",
            Stopped,
            0,
            -300,
            0,
            true,
            false,
            'S',
        ),
        (
            "our stop still under way",
            Stopping,
            42,
            -300,
            -900,
            true,
            false,
            'W',
        ),
        (
            "STOPPING as another pid",
            Stopping,
            77,
            2,
            -9,
            true,
            false,
            'D',
        ),
        (
            "started and stopped for maintenance",
            Stopped,
            0,
            60,
            90,
            true,
            false,
            'D',
        ),
        (
            "started within our stop's second",
            Stopped,
            0,
            0,
            3,
            true,
            false,
            'D',
        ),
        (
            "stopped by someone before our stop",
            Stopped,
            0,
            -300,
            -5,
            true,
            false,
            'D',
        ),
        ("running again", Running, 99, 5, 4, true, false, 'D'),
        ("starting again", Starting, 99, 5, 4, true, false, 'D'),
        ("FATAL", Fatal, 0, 5, 6, true, false, 'D'),
        ("EXITED", Exited, 0, -300, 1, true, false, 'D'),
        ("no check names it", Stopped, 0, -300, 8, false, false, 'D'),
        ("--dry-run", Stopped, 0, -300, 8, true, true, 'D'),
        (
            "--dry-run while our stop ends",
            Stopping,
            42,
            -300,
            -900,
            true,
            true,
            'D',
        ),
        // A planted record for a program never started: stop 0 is before ours.
        (
            "never started",
            Stopped,
            0,
            -ISSUED,
            -ISSUED,
            true,
            false,
            'D',
        ),
    ];

    fn step(record: &StopRecord, facts: &ResumeFacts<'_>) -> char {
        match decide("web", record, facts) {
            ResumeStep::Wait => 'W',
            ResumeStep::Start => 'S',
            ResumeStep::Drop(why) => {
                let head = "web was being restarted by the previous httpok (pid 42 stopped); ";
                assert!(why.starts_with(head), "{why}");
                'D'
            }
        }
    }

    #[test]
    fn a_stop_record_is_finished_only_while_it_is_still_ours() {
        let ours = record(Some(ISSUED));
        for &(case, state, pid, start, stop, named, dry_run, want) in ROWS {
            let info = info(state, pid, ISSUED + start, ISSUED + stop);
            let facts = ResumeFacts {
                info: Some(&info),
                named,
                dry_run,
            };
            assert_eq!(step(&ours, &facts), want, "{case}");
            // A record of an older httpok (no time) is never finished.
            assert_ne!(step(&record(None), &facts), 'S', "{case}, no time");
        }
        let gone = ResumeFacts {
            info: None,
            named: true,
            dry_run: false,
        };
        assert_eq!(step(&ours, &gone), 'D', "no longer listed");
    }

    #[test]
    fn each_refusal_says_why() {
        let stopped = info(ProcessState::Stopped, 0, ISSUED + 60, ISSUED + 90);
        let why = |facts: ResumeFacts<'_>, record: StopRecord| match decide("web", &record, &facts)
        {
            ResumeStep::Drop(why) => why,
            other => panic!("{other:?}"),
        };
        let facts = |named, dry_run| ResumeFacts {
            info: Some(&stopped),
            named,
            dry_run,
        };
        assert!(why(facts(true, true), record(Some(ISSUED))).contains("--dry-run starts nothing"));
        assert!(
            why(facts(false, false), record(Some(ISSUED)))
                .contains("no check of this httpok names it")
        );
        assert!(why(facts(true, false), record(None)).contains("does not say when"));
        assert!(
            why(facts(true, false), record(Some(ISSUED)))
                .contains("started or stopped by someone else since")
        );
    }
}
