//! The notifier: what httpok tells the operator outside its log (mail through -m, the
//! --on-restart hook) and the core dump it takes before a restart (-d). A small trait so
//! whole-round tests run against `fake::FakeNotifier`; [`Commands`] is the real one,
//! running the configured commands through [`command`] (argv, no shell, bounded).

use std::path::PathBuf;
use std::time::Duration;

use crate::planner::plan::Notice;

pub(crate) mod command;
#[cfg(test)]
pub(crate) mod fake;
pub(crate) mod output;

pub use command::run_command;
pub(crate) use output::{MAX_SHOWN_CHARS, one_line};

pub trait Notifier: Send + Sync {
    /// Whether it does anything with this kind of notice (mail without -m does not):
    /// only those are queued.
    fn wants(&self, notice: &Notice) -> bool;
    /// Delivers one notice; failures are logged, never returned.
    fn notify(&self, notice: &Notice);
    /// A core dump of `pid` when -d asks for one: gcore's output (or what went wrong),
    /// on one line ([`one_line`]), for the log and the mail.
    fn dump_core(&self, namespec: &str, pid: u32) -> Option<String>;
}

/// The configured commands.
#[derive(Debug, Clone, Default)]
pub struct Commands {
    /// -m: mail this address.
    pub email: Option<String>,
    /// -s, as argv.
    pub sendmail: Vec<String>,
    /// -n: shown in the subject as `httpok [NAME]: ...`.
    pub name: Option<String>,
    /// -g, as argv, and -d.
    pub gcore: Vec<String>,
    pub coredir: Option<PathBuf>,
    /// --on-restart, as argv.
    pub on_restart: Option<Vec<String>>,
    /// --on-change, as argv.
    pub on_change: Option<Vec<String>>,
    /// How long a hook may run (-t).
    pub hook_timeout: Duration,
}

impl Notifier for Commands {
    fn wants(&self, notice: &Notice) -> bool {
        match notice {
            Notice::Mail { .. } => self.email.is_some(),
            Notice::Hook { .. } => self.on_restart.is_some(),
            Notice::Change { .. } => self.on_change.is_some(),
        }
    }

    fn notify(&self, notice: &Notice) {
        match notice {
            Notice::Mail { subject, body } => {
                if let Some(to) = &self.email {
                    let subject = command::subject(self.name.as_deref(), subject);
                    command::send_mail(&self.sendmail, to, &subject, &body.join("\n"));
                }
            }
            Notice::Hook {
                program,
                check,
                url,
                reason,
                outcome,
            } => {
                let Some(hook) = &self.on_restart else {
                    return;
                };
                let env = [
                    ("HTTPOK_PROGRAM", program.clone()),
                    ("HTTPOK_CHECK", check.clone()),
                    ("HTTPOK_URL", url.clone()),
                    ("HTTPOK_REASON", reason.clone()),
                    ("HTTPOK_OUTCOME", outcome.as_str().to_string()),
                ];
                let result = command::run_command(hook, None, &env, self.hook_timeout);
                if result.success {
                    log::debug!("--on-restart for {program}: {}", result.summary);
                } else {
                    log::warn!("--on-restart for {program}: {}", result.summary);
                }
            }
            Notice::Change {
                check,
                url,
                program,
                state,
                previous,
                reason,
                ..
            } => {
                let Some(hook) = &self.on_change else {
                    return;
                };
                let env = [
                    ("HTTPOK_CHECK", check.clone()),
                    ("HTTPOK_URL", url.clone()),
                    ("HTTPOK_PROGRAM", program.clone()),
                    ("HTTPOK_STATE", state.as_str().to_string()),
                    ("HTTPOK_PREVIOUS", previous.as_str().to_string()),
                    ("HTTPOK_REASON", reason.clone()),
                ];
                let result = command::run_command(hook, None, &env, self.hook_timeout);
                let about = change_about(check, program);
                let state = state.as_str();
                if result.success {
                    log::debug!("--on-change ({state}) for {about}: {}", result.summary);
                } else {
                    log::warn!("--on-change ({state}) for {about}: {}", result.summary);
                }
            }
        }
    }

    fn dump_core(&self, namespec: &str, pid: u32) -> Option<String> {
        let coredir = self.coredir.as_deref()?;
        Some(command::dump_core(&self.gcore, coredir, namespec, pid))
    }
}

/// What an `--on-change` line names: the programs, or the check itself when it names
/// none (it only logs and mails), never nothing ("for : ...").
fn change_about<'a>(check: &'a str, program: &'a str) -> &'a str {
    if program.is_empty() { check } else { program }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::plan::{About, OutcomeWord, StateWord};

    #[test]
    fn an_on_change_line_names_the_check_when_it_has_no_program() {
        assert_eq!(change_about("http://h/", "web"), "web");
        assert_eq!(change_about("http://h/", ""), "http://h/");
    }

    #[test]
    fn only_notices_a_command_is_configured_for_are_wanted() {
        let mail = Notice::Mail {
            subject: "s".into(),
            body: Vec::new(),
        };
        let hook = Notice::Hook {
            program: "web".into(),
            check: "web".into(),
            url: "http://h/".into(),
            reason: "status 500".into(),
            outcome: OutcomeWord::Restarted,
        };
        let change = Notice::Change {
            about: About::Check,
            check: "http://h/".into(),
            url: "http://h/".into(),
            program: "web".into(),
            state: StateWord::Failing,
            previous: StateWord::Healthy,
            reason: String::new(),
        };
        let none = Commands::default();
        assert!(![&mail, &hook, &change].iter().any(|n| none.wants(n)));
        let all = Commands {
            email: Some("ops@example.test".into()),
            on_restart: Some(vec!["/bin/true".into()]),
            on_change: Some(vec!["/bin/true".into()]),
            ..Commands::default()
        };
        assert!([&mail, &hook, &change].iter().all(|n| all.wants(n)));
    }
}
