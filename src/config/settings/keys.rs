//! The one table of setting keys, [`KEYS`]: for each key its name in a config file, its
//! flag, the kinds of check it applies to, how a file writes its value and how
//! `--check-config` describes it. [`Layer`] is declared by the same table, so a key
//! cannot be in one and missing from the other. Derived from it:
//! * the config-file reader ([`find`], [`Key::read`]) and its list of known keys;
//! * the flags' layer, each value named by its key's flag ([`Layer::from_flags`]);
//! * `--check-config`'s description, a default shown only where it applies
//!   ([`Key::describe`], [`Applies`]);
//! * the per-kind rules: a check's own key must apply to it ([`Layer::misplaced`]); a
//!   default that applies to no check is said ([`Layer::unused`]);
//! * the man page's list of keys (tests/generated_docs.rs).

use std::path::PathBuf;

use super::file_value::{FileValue, REGEX, ROUNDS, SECONDS};
use super::{Given, Origin, Settings};
use crate::config::target::{Kind, looks_secret};
use crate::probe::{CommandEnv, Pattern};

/// The kinds of check a key applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    Every,
    Only(Kind),
}

impl Applies {
    /// Whether a check of `kind` uses the key.
    pub fn to(self, kind: Kind) -> bool {
        match self {
            Applies::Every => true,
            Applies::Only(only) => only == kind,
        }
    }
}

/// One setting key: a row of [`KEYS`].
pub struct Key {
    /// Its name in a config file and in [`Layer`]: `body_regex`.
    pub name: &'static str,
    /// Its flag as help and errors write it, `-t/--timeout`; `None` when only a config
    /// file sets it.
    pub flag: Option<&'static str>,
    pub applies: Applies,
    read: fn(&mut Layer, FileValue<'_>, Origin) -> Result<(), String>,
    describe: fn(&Settings, &Settings) -> Vec<String>,
    origin: fn(&Layer) -> Option<&Origin>,
}

impl Key {
    /// Reads the key's value in a config file into `layer`; the problem after `KEY: `.
    pub fn read(
        &self,
        layer: &mut Layer,
        value: FileValue<'_>,
        origin: Origin,
    ) -> Result<(), String> {
        (self.read)(layer, value, origin)
    }

    /// What `--check-config` shows of it, `key=value` (several for `headers`), when
    /// `settings` differ from `defaults` there; nothing otherwise.
    pub fn describe(&self, settings: &Settings, defaults: &Settings) -> Vec<String> {
        (self.describe)(settings, defaults)
    }

    /// Where `layer` got it; `None` when not given there.
    pub fn origin<'l>(&self, layer: &'l Layer) -> Option<&'l Origin> {
        (self.origin)(layer)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.name)
    }
}

/// The key named `name` in a config file.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.name == name)
}

impl Layer {
    /// The keys given in this layer and where, in [`KEYS`]' order.
    pub fn given(&self) -> impl Iterator<Item = (&'static Key, &Origin)> {
        KEYS.iter()
            .filter_map(move |key| key.origin(self).map(|origin| (key, origin)))
    }

    /// The first key given here that a check of `kind` does not use: a check's own
    /// key that cannot apply to it.
    pub fn misplaced(&self, kind: Kind) -> Option<Misplaced<'_>> {
        self.only_for(move |only| only != kind).next()
    }

    /// The keys given here that none of `kinds` uses: defaults (flags or top-level
    /// keys) that apply to no check at all.
    pub fn unused(&self, kinds: &[Kind]) -> Vec<Misplaced<'_>> {
        self.only_for(|only| !kinds.contains(&only)).collect()
    }

    /// The keys given here that apply to one kind only, for which `wrong` holds.
    fn only_for(&self, wrong: impl Fn(Kind) -> bool) -> impl Iterator<Item = Misplaced<'_>> {
        self.given()
            .filter_map(move |(key, origin)| match key.applies {
                Applies::Only(only) if wrong(only) => Some(Misplaced { key, origin, only }),
                _ => None,
            })
    }
}

/// A key given where it does not apply.
#[derive(Debug)]
pub struct Misplaced<'l> {
    pub key: &'static Key,
    pub origin: &'l Origin,
    /// The only kind of check it applies to.
    pub only: Kind,
}

/// Declares [`Layer`], [`FlagValues`] and [`KEYS`] from one entry per key.
macro_rules! keys {
    ($(
        $(#[$doc:meta])*
        $key:ident: $ty:ty {
            flag: $flag:expr,
            applies: $applies:expr,
            file: $read:expr,
            describe: $describe:expr $(,)?
        }
    )*) => {
        /// One layer's settings; `None` is "not given here".
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct Layer {
            $($(#[$doc])* pub $key: Option<Given<$ty>>,)*
        }

        /// The values the command line's flags gave, before they are named. A key
        /// without a flag (`env`) is never taken from here.
        #[derive(Debug, Default)]
        pub struct FlagValues {
            $(pub $key: Option<$ty>,)*
        }

        impl Layer {
            /// This layer over `base`: a value given here wins.
            pub fn over(self, base: &Layer) -> Layer {
                Layer { $($key: self.$key.or_else(|| base.$key.clone()),)* }
            }

            /// The flags' layer: each value named by its key's flag, so an error says
            /// `-t/--timeout`.
            pub fn from_flags(values: FlagValues) -> Layer {
                let flag: fn(Option<&'static str>) -> Option<Origin> = |f| f.map(Origin::Flag);
                Layer {
                    $($key: values.$key.zip(flag($flag)).map(|(v, o)| Given::new(v, o)),)*
                }
            }
        }

        /// Every setting key, in the order messages and `--check-config` list them.
        pub const KEYS: &[Key] = &[$(
            Key {
                name: stringify!($key),
                flag: $flag,
                applies: $applies,
                read: |layer, value, origin| {
                    let read: fn(FileValue<'_>) -> Result<$ty, String> = $read;
                    layer.$key = Some(Given::new(read(value)?, origin));
                    Ok(())
                },
                describe: $describe,
                origin: |layer| layer.$key.as_ref().map(|given| &given.origin),
            },
        )*];
    };
}

use Applies::{Every, Only};
use Kind::{Exec, Http, Tcp};

keys! {
    /// Seconds for the whole answer.
    timeout: f64 {
        flag: Some("-t/--timeout"),
        applies: Every,
        file: |v| v.seconds(),
        describe: |s, d| when(s.probe.timeout != d.probe.timeout, || {
            format!("timeout={}", s.probe.timeout.as_secs_f64())
        }),
    }
    /// Status items as written: `200`, `2xx`, `200-399`.
    codes: Vec<String> {
        flag: Some("-c/--code"),
        applies: Only(Http),
        file: |v| v.codes(),
        describe: |s, d| when(s.probe.codes != d.probe.codes, || {
            format!("codes={}", s.probe.codes)
        }),
    }
    method: String {
        flag: Some("--method"),
        applies: Only(Http),
        file: |v| v.string("GET or HEAD (a string)"),
        describe: |s, d| when(s.probe.method != d.probe.method, || {
            format!("method={}", s.probe.method)
        }),
    }
    body: String {
        flag: Some("-b/--body"),
        applies: Only(Http),
        file: |v| v.string("a string"),
        describe: |s, _| s.probe.body.iter().map(|body| format!("body={body:?}")).collect(),
    }
    body_regex: String {
        flag: Some("--body-regex"),
        applies: Only(Http),
        file: |v| v.string(REGEX),
        describe: |s, _| pattern("body_regex", s.probe.body_regex.as_ref()),
    }
    body_not_regex: String {
        flag: Some("--body-not-regex"),
        applies: Only(Http),
        file: |v| v.string(REGEX),
        describe: |s, _| pattern("body_not_regex", s.probe.body_not_regex.as_ref()),
    }
    headers: Vec<(String, String)> {
        flag: Some("-H/--header"),
        applies: Only(Http),
        file: |v| v.headers(),
        describe: |s, _| headers(&s.probe.headers),
    }
    cacert: PathBuf {
        flag: Some("--cacert"),
        applies: Only(Http),
        file: |v| v.path("the path of a PEM file (a string)"),
        describe: |s, _| s.probe.cacert.iter().map(|p| format!("cacert={}", p.display())).collect(),
    }
    insecure: bool {
        flag: Some("--insecure"),
        applies: Only(Http),
        file: |v| v.boolean(),
        describe: |s, _| when(s.probe.insecure, || "insecure".into()),
    }
    /// What a tcp check writes, with `\r`, `\n`, `\t` and `\\` escapes.
    send: String {
        flag: Some("--send"),
        applies: Only(Tcp),
        file: |v| v.string("a string, e.g. 'PING\\r\\n'"),
        describe: |s, _| s.probe.send.iter().map(|bytes| send(bytes)).collect(),
    }
    /// What a tcp check must read.
    expect: String {
        flag: Some("--expect"),
        applies: Only(Tcp),
        file: |v| v.string(REGEX),
        describe: |s, _| pattern("expect", s.probe.expect.as_ref()),
    }
    /// Variables an exec check's command gets; their values are never shown. No flag:
    /// a flag's value would be in `ps`.
    env: CommandEnv {
        flag: None,
        applies: Only(Exec),
        file: |v| v.env(),
        // The names only: the values are secrets.
        describe: |s, _| when(!s.probe.env.is_empty(), || {
            format!("env={}", s.probe.env.names().collect::<Vec<_>>().join(","))
        }),
    }
    failures: u32 {
        flag: Some("-f/--failures"),
        applies: Every,
        file: |v| v.unsigned(ROUNDS),
        describe: |s, d| when(s.policy.failures != d.policy.failures, || {
            format!("failures={}", s.policy.failures)
        }),
    }
    successes: u32 {
        flag: Some("--successes"),
        applies: Every,
        file: |v| v.unsigned(ROUNDS),
        describe: |s, d| when(s.policy.successes != d.policy.successes, || {
            format!("successes={}", s.policy.successes)
        }),
    }
    grace: u64 {
        flag: Some("-w/--grace"),
        applies: Every,
        file: |v| v.unsigned(SECONDS),
        describe: |s, d| when(s.policy.grace != d.policy.grace, || {
            format!("grace={}", s.policy.grace.as_secs())
        }),
    }
    interval: u64 {
        flag: Some("--interval"),
        applies: Every,
        file: |v| v.unsigned(SECONDS),
        describe: |s, _| {
            let interval = s.policy.interval.map(|i| i.as_secs());
            interval.iter().map(|i| format!("interval={i}")).collect()
        },
    }
    /// Seconds a restart's stop may take before httpok kills the program.
    stop_grace: u64 {
        flag: Some("--stop-grace"),
        applies: Every,
        file: |v| v.unsigned(SECONDS),
        describe: |s, _| {
            let grace = s.policy.stop_grace.map(|g| g.as_secs());
            grace.iter().map(|g| format!("stop_grace={g}")).collect()
        },
    }
    max_restarts: u32 {
        flag: Some("--max-restarts"),
        applies: Every,
        file: |v| v.unsigned("a whole number of restarts, e.g. 3"),
        describe: |s, _| {
            let restarts = s.policy.max_restarts.map(|(k, _)| k);
            restarts.iter().map(|k| format!("max_restarts={k}")).collect()
        },
    }
    restart_window: u64 {
        flag: Some("--restart-window"),
        applies: Every,
        file: |v| v.unsigned(SECONDS),
        describe: |s, _| {
            let window = s.policy.max_restarts.map(|(_, window)| window.as_secs());
            window.iter().map(|w| format!("restart_window={w}")).collect()
        },
    }
}

/// `text()` when the value differs from the default.
fn when(differs: bool, text: impl FnOnce() -> String) -> Vec<String> {
    if differs { vec![text()] } else { Vec::new() }
}

fn pattern(key: &str, pattern: Option<&Pattern>) -> Vec<String> {
    pattern
        .map(|re| format!("{key}={:?}", re.as_str()))
        .into_iter()
        .collect()
}

/// `header="Name: value"` each, a credential's value as `***`.
fn headers(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if looks_secret(name) { "***" } else { value };
            format!("header={:?}", format!("{name}: {value}"))
        })
        .collect()
}

/// `send="PING\r\n"`, or only its length when it may hold a password.
fn send(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    // redis' `AUTH password`, an SMTP `AUTH PLAIN ...`: not for a terminal.
    let upper = text.to_ascii_uppercase();
    if upper.contains("AUTH") || upper.contains("PASS") {
        format!(
            "send=({} bytes, not shown: it may hold a password)",
            bytes.len()
        )
    } else {
        format!("send={text:?}")
    }
}
