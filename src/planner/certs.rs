//! Certificate expiry of https checks: when each target's certificate is read (on the
//! first round, then hourly: a handshake of its own, see `probe::cert`), and what
//! `--cert-expiry-warn DAYS` says when it expires within DAYS: one WARN a day and one
//! mail per certificate, in the round's plan. Never a restart: a certificate about to
//! expire is the operator's to renew, and a restart cannot renew it. Pure: both clocks
//! passed in. Kept by certificate (the target's name), whichever checks probe it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::planner::plan::{Notice, Plan};
use crate::probe::cert::ChainRead;
use crate::state_file::SavedCert;

/// How often a target's certificate is read again.
pub const READ_EVERY: Duration = Duration::from_secs(3600);
/// How often the WARN is repeated while the certificate stays close to expiry.
const WARN_EVERY: Duration = Duration::from_secs(86_400);

#[derive(Debug, Default)]
struct Entry {
    read_at: Option<Instant>,
    warned_at: Option<Instant>,
    /// The notAfter of the certificate last mailed about: a renewed one that again
    /// nears expiry gets a mail of its own.
    mailed_for: Option<i64>,
}

/// What is known of every https target's certificate.
#[derive(Debug, Default)]
pub struct CertWatch {
    /// `None`: read for the metric, never warn (`--cert-expiry-warn 0`).
    warn_within: Option<Duration>,
    targets: HashMap<String, Entry>,
}

impl CertWatch {
    pub fn new(warn_within: Option<Duration>) -> CertWatch {
        CertWatch {
            warn_within,
            targets: HashMap::new(),
        }
    }

    /// The notices given, for `--state-file` (`now` = `epoch`).
    pub fn export(&self, now: Instant, epoch: i64) -> Vec<SavedCert> {
        let mut saved: Vec<SavedCert> = self
            .targets
            .iter()
            .filter(|(_, e)| e.warned_at.is_some() || e.mailed_for.is_some())
            .map(|(target, e)| SavedCert {
                target: target.clone(),
                warned_at: e.warned_at.map(|at| {
                    epoch - i64::try_from(now.saturating_duration_since(at).as_secs()).unwrap_or(0)
                }),
                mailed_for: e.mailed_for,
            })
            .collect();
        saved.sort_by(|a, b| a.target.cmp(&b.target));
        saved
    }

    /// Takes back the notices a previous httpok gave: a restart of httpok neither
    /// repeats the day's WARN nor mails about the same certificate again.
    pub fn import(&mut self, saved: &[SavedCert], now: Instant, epoch: i64) {
        for cert in saved {
            let entry = self.targets.entry(cert.target.clone()).or_default();
            entry.warned_at = cert.warned_at.map(|at| {
                let ago = Duration::from_secs(u64::try_from(epoch - at).unwrap_or(0));
                now.checked_sub(ago).unwrap_or(now)
            });
            entry.mailed_for = cert.mailed_for;
        }
    }

    /// Whether `target`'s certificate should be read this round.
    pub fn due(&self, target: &str, now: Instant) -> bool {
        self.targets
            .get(target)
            .and_then(|e| e.read_at)
            .is_none_or(|at| now.saturating_duration_since(at) >= READ_EVERY)
    }

    /// A read of `target`'s certificate ended (`None`: it could not be read; the probe
    /// itself says why the handshake fails). `epoch` is the wall clock now.
    pub fn record(
        &mut self,
        target: &str,
        chain: Option<&ChainRead>,
        now: Instant,
        epoch: i64,
        plan: &mut Plan,
    ) {
        let entry = self.targets.entry(target.to_string()).or_default();
        entry.read_at = Some(now);
        let (Some(chain), Some(within)) = (chain, self.warn_within) else {
            return;
        };
        let (not_after, expiring) = (chain.not_after, &chain.expiring);
        let left = not_after - epoch;
        if left > i64::try_from(within.as_secs()).unwrap_or(i64::MAX) {
            entry.warned_at = None;
            return;
        }
        let warn_due = entry
            .warned_at
            .is_none_or(|at| now.saturating_duration_since(at) >= WARN_EVERY);
        if !warn_due {
            return;
        }
        entry.warned_at = Some(now);
        let when = if left >= 0 {
            format!("expires in {}", days(left))
        } else {
            format!("expired {} ago", days(-left))
        };
        let line = format!(
            "{target}: its certificate {expiring} {when} ({}); renew it. httpok does not restart \
             for this (--cert-expiry-warn {})",
            utc(not_after),
            within.as_secs() / 86_400
        );
        plan.warn(line.clone());
        if entry.mailed_for != Some(not_after) {
            entry.mailed_for = Some(not_after);
            plan.notices.push(Notice::Mail {
                subject: format!("{target}: certificate {expiring} {when}"),
                body: vec![line],
            });
        }
    }
}

/// `5 days`, `1 day`, `less than a day`.
fn days(seconds: i64) -> String {
    match seconds / 86_400 {
        0 => "less than a day".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

/// Epoch seconds as `2026-12-07 12:00 UTC`.
pub(crate) use crate::probe::cert::utc;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::tests::mails;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_796_256_000; // 2026-12-03 00:00 UTC

    /// A chain whose leaf, `CN=h`, expires first.
    fn leaf(not_after: i64) -> ChainRead {
        ChainRead {
            not_after,
            expiring: "CN=h".into(),
            tls_version: "TLS 1.3",
        }
    }

    #[test]
    fn read_on_the_first_round_then_hourly() {
        let t0 = Instant::now();
        let mut watch = CertWatch::new(None);
        assert!(watch.due("https://h/", t0));
        watch.record("https://h/", None, t0, NOW, &mut Plan::default());
        assert!(!watch.due("https://h/", t0 + Duration::from_secs(3599)));
        assert!(watch.due("https://h/", t0 + READ_EVERY));
    }

    #[test]
    fn near_expiry_warns_once_a_day_and_mails_once_per_certificate() {
        let t0 = Instant::now();
        let mut watch = CertWatch::new(Some(Duration::from_secs(14 * 86_400)));
        let expiry = NOW + 5 * DAY;
        let mut plan = Plan::default();
        watch.record("https://h/", Some(&leaf(expiry)), t0, NOW, &mut plan);
        assert_eq!(
            plan.texts(),
            [
                "https://h/: its certificate CN=h expires in 5 days (2026-12-08 00:00 UTC); renew \
              it. httpok does not restart for this (--cert-expiry-warn 14)"
            ]
        );
        assert_eq!(mails(&plan), 1);
        assert!(plan.restarts.is_empty());
        // An hour later: nothing; a day later: the WARN again, no second mail.
        let mut plan = Plan::default();
        watch.record(
            "https://h/",
            Some(&leaf(expiry)),
            t0 + READ_EVERY,
            NOW + 3600,
            &mut plan,
        );
        assert!(plan.texts().is_empty());
        let mut plan = Plan::default();
        let day = Duration::from_secs(86_400);
        watch.record(
            "https://h/",
            Some(&leaf(expiry)),
            t0 + day,
            NOW + DAY,
            &mut plan,
        );
        assert_eq!(plan.texts().len(), 1);
        assert!(
            plan.texts()[0].contains("expires in 4 days"),
            "{:?}",
            plan.texts()
        );
        assert_eq!(mails(&plan), 0);
        // Renewed, then that one nears expiry too: a mail of its own.
        let renewed = NOW + 90 * DAY;
        let mut plan = Plan::default();
        watch.record(
            "https://h/",
            Some(&leaf(renewed)),
            t0 + 2 * day,
            NOW + 2 * DAY,
            &mut plan,
        );
        assert!(plan.texts().is_empty());
        let mut plan = Plan::default();
        let later = t0 + 80 * day;
        watch.record(
            "https://h/",
            Some(&leaf(renewed)),
            later,
            NOW + 80 * DAY,
            &mut plan,
        );
        assert!(
            plan.texts()[0].contains("expires in 10 days"),
            "{:?}",
            plan.texts()
        );
        assert_eq!(mails(&plan), 1);
    }

    #[test]
    fn a_restarted_httpok_with_the_state_neither_warns_nor_mails_again_that_day() {
        let t0 = Instant::now() + Duration::from_secs(2 * 86_400);
        let within = Some(Duration::from_secs(14 * 86_400));
        let mut first = CertWatch::new(within);
        let mut plan = Plan::default();
        first.record("https://h/", Some(&leaf(NOW + 5 * DAY)), t0, NOW, &mut plan);
        assert_eq!((plan.texts().len(), mails(&plan)), (1, 1));
        let saved = first.export(t0 + Duration::from_secs(60), NOW + 60);
        // The next httpok, an hour later.
        let t1 = Instant::now();
        let mut next = CertWatch::new(within);
        next.import(&saved, t1, NOW + 3600);
        let mut plan = Plan::default();
        next.record(
            "https://h/",
            Some(&leaf(NOW + 5 * DAY)),
            t1,
            NOW + 3600,
            &mut plan,
        );
        assert!(plan.lines.is_empty() && plan.notices.is_empty(), "{plan:?}");
        // A day after the first WARN, the WARN again, still no second mail.
        let mut plan = Plan::default();
        let later = t1 + Duration::from_secs(86_400 - 3600);
        next.record(
            "https://h/",
            Some(&leaf(NOW + 5 * DAY)),
            later,
            NOW + DAY,
            &mut plan,
        );
        assert_eq!((plan.texts().len(), mails(&plan)), (1, 0));
    }

    #[test]
    fn far_from_expiry_or_turned_off_says_nothing() {
        let t0 = Instant::now();
        let mut plan = Plan::default();
        CertWatch::new(Some(Duration::from_secs(14 * 86_400))).record(
            "https://h/",
            Some(&leaf(NOW + 30 * DAY)),
            t0,
            NOW,
            &mut plan,
        );
        CertWatch::new(None).record("https://h/", Some(&leaf(NOW + DAY)), t0, NOW, &mut plan);
        assert!(plan.lines.is_empty() && plan.notices.is_empty());
    }

    #[test]
    fn an_expired_certificate_says_so() {
        let mut plan = Plan::default();
        CertWatch::new(Some(Duration::from_secs(86_400))).record(
            "https://h/",
            Some(&leaf(NOW - 3 * DAY)),
            Instant::now(),
            NOW,
            &mut plan,
        );
        assert!(
            plan.texts()[0]
                .contains("its certificate CN=h expired 3 days ago (2026-11-30 00:00 UTC)")
        );
        assert_eq!(days(3600), "less than a day");
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400 + 3_660), "2000-02-29 01:01 UTC");
    }
}
