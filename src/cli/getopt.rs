//! superlance's flags read the way superlance read them: a pure pre-pass that rewrites
//! the getopt forms of superlance's own flags into one canonical spelling before clap
//! parses the command line.
//!
//! superlance calls `getopt.getopt(argv, "hp:at:c:b:s:m:g:d:eEn:", [...13 long flags])`,
//! so a command line that worked there may use forms clap reads differently:
//! * any unique prefix of a long flag (`--prog=web --time=5`); an ambiguous one
//!   (`--co`: --code or --coredir) is refused, naming the candidates;
//! * a value glued on (`-t5`, `-pweb`) or clustered flags (`-aE`, `-Ee`, `-at5`);
//! * a value taken from the next argument whatever it looks like (`-b -x-`);
//! * a single-value flag given twice, where the last one wins (`-t 5 -t 3` is 3).
//!
//! Each superlance flag comes out as `--long` or `--long=value` (so clap takes any value
//! as given) and only the last of a single-value flag is kept; `-p` and `-c` accumulate.
//! Everything else is left as it is for clap: httpok's own flags keep clap's rules (no
//! abbreviations, no repeats), and so do the arguments after `--`.
//!
//! Unlike getopt, options may still follow a URL (clap's rule): superlance refused such
//! command lines, so no superlance command line changes meaning.

use std::ffi::OsString;

use super::UsageError;

/// One of superlance's options, as its getopt call declares it.
struct Flag {
    short: char,
    long: &'static str,
    /// Another exact spelling httpok accepts (never abbreviated).
    alias: Option<&'static str>,
    /// An example value for error messages; `None` for flags that take no value.
    example: Option<&'static str>,
    /// Every use counts (-p, -c); otherwise the last use wins.
    repeatable: bool,
}

const fn flag(short: char, long: &'static str, example: Option<&'static str>) -> Flag {
    Flag {
        short,
        long,
        alias: None,
        example,
        repeatable: false,
    }
}

/// superlance 2.0.0's `short_args` and `long_args`, in its order.
const SUPERLANCE: &[Flag] = &[
    flag('h', "help", None),
    Flag {
        repeatable: true,
        ..flag('p', "program", Some("web"))
    },
    flag('a', "any", None),
    flag('t', "timeout", Some("5")),
    Flag {
        repeatable: true,
        ..flag('c', "code", Some("200"))
    },
    flag('b', "body", Some("OK")),
    Flag {
        alias: Some("sendmail-program"),
        ..flag('s', "sendmail_program", Some("'/usr/sbin/sendmail -t -i'"))
    },
    flag('m', "email", Some("ops@example.com")),
    flag('g', "gcore", Some("'/usr/bin/gcore -o'")),
    flag('d', "coredir", Some("/var/tmp/cores")),
    flag('e', "eager", None),
    flag('E', "not-eager", None),
    flag('n', "name", Some("front")),
];

impl Flag {
    /// `-t/--timeout`, as error messages name a flag.
    fn both_names(&self) -> String {
        format!("-{}/--{}", self.short, self.long)
    }

    /// The uses that override each other: one per single-value flag, and -e/-E share one.
    fn slot(&self) -> Option<&'static str> {
        match self.long {
            _ if self.repeatable => None,
            "not-eager" => Some("eager"),
            long => Some(long),
        }
    }

    /// What clap is given. `-h` stays short: clap prints its short help for it.
    fn canonical(&self, value: Option<OsString>, as_short: bool) -> Piece {
        let mut arg = match self.long {
            "help" if as_short => OsString::from("-h"),
            long => OsString::from(format!("--{long}")),
        };
        if let Some(value) = value {
            arg.push("=");
            arg.push(value);
        }
        Piece {
            arg,
            slot: self.slot(),
        }
    }

    fn missing_value(&self) -> UsageError {
        UsageError::Invalid(format!(
            "{} needs a value, e.g. -{} {}",
            self.both_names(),
            self.short,
            self.example.unwrap_or("")
        ))
    }
}

/// One argument on its way to clap, and the flag slot it fills (if it is superlance's).
struct Piece {
    arg: OsString,
    slot: Option<&'static str>,
}

impl Piece {
    fn other(arg: impl Into<OsString>) -> Piece {
        Piece {
            arg: arg.into(),
            slot: None,
        }
    }
}

/// Rewrites `argv` (program name first) into clap's canonical forms; see the module doc.
pub fn normalize(argv: Vec<OsString>) -> Result<Vec<OsString>, UsageError> {
    let mut rest = argv.into_iter();
    let mut out: Vec<Piece> = rest.next().map(Piece::other).into_iter().collect();
    while let Some(arg) = rest.next() {
        // An argument that is not UTF-8 cannot be one of superlance's flags.
        let text = arg.to_str().map(str::to_owned);
        match text.as_deref() {
            Some("--") => {
                out.push(Piece::other(arg));
                out.extend(rest.by_ref().map(Piece::other));
            }
            Some(text) if text.starts_with("--") => {
                if !read_long(&text[2..], &mut rest, &mut out)? {
                    out.push(Piece::other(arg));
                }
            }
            Some(text) if text.starts_with('-') && text != "-" => {
                read_cluster(&text[1..], &mut rest, &mut out)?;
            }
            _ => out.push(Piece::other(arg)),
        }
    }
    Ok(keep_last_of_each_slot(out))
}

/// `--NAME[=VALUE]` when NAME is one of superlance's long flags or a unique prefix of
/// one; returns false (and consumes nothing) for any other flag.
fn read_long(
    body: &str,
    rest: &mut impl Iterator<Item = OsString>,
    out: &mut Vec<Piece>,
) -> Result<bool, UsageError> {
    let (name, inline) = match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    };
    let Some(flag) = find_long(name)? else {
        return Ok(false);
    };
    let value = match (flag.example, inline) {
        (Some(_), Some(value)) => Some(OsString::from(value)),
        (Some(_), None) => Some(rest.next().ok_or_else(|| flag.missing_value())?),
        (None, Some(_)) => {
            return Err(UsageError::Invalid(format!(
                "--{} takes no value (got --{body}): write --{} alone",
                flag.long, flag.long
            )));
        }
        (None, None) => None,
    };
    out.push(flag.canonical(value, false));
    Ok(true)
}

/// httpok's own long flags that are also prefixes of one of superlance's: written in
/// full, they are httpok's (`--send` is a tcp check's text, not `--sendmail_program`).
const OWN_EXACT: &[&str] = &["send"];

/// The superlance flag `name` spells out or abbreviates, as getopt matches it: an exact
/// name first, else the only flag that starts with it.
fn find_long(name: &str) -> Result<Option<&'static Flag>, UsageError> {
    if name.is_empty() || OWN_EXACT.contains(&name) {
        return Ok(None);
    }
    if let Some(flag) = SUPERLANCE
        .iter()
        .find(|f| f.long == name || f.alias == Some(name))
    {
        return Ok(Some(flag));
    }
    let candidates: Vec<&Flag> = SUPERLANCE
        .iter()
        .filter(|f| f.long.starts_with(name))
        .collect();
    match candidates[..] {
        [] => Ok(None),
        [flag] => Ok(Some(flag)),
        ref several => {
            let names: Vec<String> = several.iter().map(|f| format!("--{}", f.long)).collect();
            Err(UsageError::Invalid(format!(
                "--{name} is ambiguous: it could be {}; write more of the flag, e.g. {}",
                names.join(" or "),
                names[0]
            )))
        }
    }
}

/// `-CLUSTER`: superlance's short flags one by one; the first that takes a value takes
/// the rest of the cluster, or else the next argument. From the first letter that is not
/// superlance's, the rest goes to clap as a flag of its own (`-aH X` is `--any -H X`).
fn read_cluster(
    body: &str,
    rest: &mut impl Iterator<Item = OsString>,
    out: &mut Vec<Piece>,
) -> Result<(), UsageError> {
    for (at, letter) in body.char_indices() {
        let Some(flag) = SUPERLANCE.iter().find(|f| f.short == letter) else {
            out.push(Piece::other(format!("-{}", &body[at..])));
            return Ok(());
        };
        if flag.example.is_none() {
            out.push(flag.canonical(None, true));
            continue;
        }
        let attached = &body[at + letter.len_utf8()..];
        let value = if attached.is_empty() {
            rest.next().ok_or_else(|| flag.missing_value())?
        } else {
            OsString::from(attached)
        };
        out.push(flag.canonical(Some(value), true));
        return Ok(());
    }
    Ok(())
}

/// Drops every use of a single-value flag but its last, so clap sees each once.
fn keep_last_of_each_slot(pieces: Vec<Piece>) -> Vec<OsString> {
    let mut seen = Vec::new();
    let mut kept: Vec<OsString> = pieces
        .into_iter()
        .rev()
        .filter(|piece| match piece.slot {
            Some(slot) if seen.contains(&slot) => false,
            Some(slot) => {
                seen.push(slot);
                true
            }
            None => true,
        })
        .map(|piece| piece.arg)
        .collect();
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `args` (split on spaces) through the pre-pass, joined with spaces again.
    fn normalized(args: &str) -> Result<String, String> {
        let argv = std::iter::once("httpok").chain(args.split_whitespace());
        let out = normalize(argv.map(OsString::from).collect()).map_err(|e| e.to_string())?;
        assert_eq!(out[0], "httpok");
        let out: Vec<_> = out[1..].iter().map(|a| a.to_string_lossy()).collect();
        Ok(out.join(" "))
    }

    #[track_caller]
    fn assert_table(cases: &[(&str, &str)]) {
        for (args, want) in cases {
            assert_eq!(normalized(args).as_deref(), Ok(*want), "{args:?}");
        }
    }

    #[test]
    fn getopt_forms_of_superlance_flags_become_canonical() {
        assert_table(&[
            // Unique prefixes, with = or a separate value; exact names and aliases.
            ("--prog=web --time=5", "--program=web --timeout=5"),
            ("--p web --t 5", "--program=web --timeout=5"),
            ("--cod=200 --cor /c", "--code=200 --coredir=/c"),
            ("--sendmail=/bin/mail", "--sendmail_program=/bin/mail"),
            ("--sendmail-program m", "--sendmail_program=m"),
            ("--ea --no --a", "--not-eager --any"),
            ("--na=x --em a@b", "--name=x --email=a@b"),
            ("--h", "--help"),
            ("--body= --gcore g", "--body= --gcore=g"),
            // Short values attached or separate, whatever they look like.
            ("-t5 -pweb -c 302", "--timeout=5 --program=web --code=302"),
            ("-b -x- -p --", "--body=-x- --program=--"),
            ("-t -5", "--timeout=-5"),
            // Clusters: flags, then at most one value, which takes the rest.
            ("-aE", "--any --not-eager"),
            ("-Ee", "--eager"),
            ("-at5", "--any --timeout=5"),
            ("-ap web", "--any --program=web"),
            ("-tE", "--timeout=E"),
            ("-h", "-h"),
        ]);
    }

    #[test]
    fn the_last_use_of_a_single_value_flag_wins_and_repeatable_ones_accumulate() {
        assert_table(&[
            ("-t 5 -t 3", "--timeout=3"),
            ("--timeout=5 -t3 --ti 4", "--timeout=4"),
            ("-b a -n x -b c", "--name=x --body=c"),
            ("-e -E -e", "--eager"),
            ("-E -e --not", "--not-eager"),
            ("-a -a", "--any"),
            ("-p a --prog b -pc", "--program=a --program=b --program=c"),
            ("-c 200 -c302", "--code=200 --code=302"),
        ]);
    }

    #[test]
    fn httpok_flags_positionals_and_everything_after_double_dash_are_left_to_clap() {
        assert_table(&[
            (
                "--check web=http://h/ --grace 3",
                "--check web=http://h/ --grace 3",
            ),
            // Not a prefix of a superlance flag: clap decides (here: unknown flags).
            ("--gr 3 --che=x --foo", "--gr 3 --che=x --foo"),
            ("-f -1 -w3 -V -H A:b", "-f -1 -w3 -V -H A:b"),
            // From the first letter that is not superlance's, clap reads the rest.
            ("-aHX:y -Ef3", "--any -HX:y --not-eager -f3"),
            ("http://h/ - --=x", "http://h/ - --=x"),
            ("-t 1 -- -t 2 --prog", "--timeout=1 -- -t 2 --prog"),
        ]);
    }

    #[test]
    fn what_getopt_refuses_is_a_usage_error_naming_the_flag() {
        let cases = [
            (
                "--co=200",
                "--co is ambiguous: it could be --code or --coredir",
            ),
            ("--e", "--email or --eager"),
            ("--n x", "--not-eager or --name"),
            ("--c 1", "--code or --coredir"),
            ("-p", "-p/--program needs a value, e.g. -p web"),
            ("http://h/ --timeout", "-t/--timeout needs a value"),
            ("-at", "-t/--timeout needs a value"),
            ("--any=yes", "--any takes no value (got --any=yes)"),
            ("--not=1", "--not-eager takes no value"),
        ];
        for (args, want) in cases {
            let err = normalized(args).expect_err(&format!("{args:?} should fail"));
            assert!(err.contains(want), "{args:?}: {err:?} lacks {want:?}");
        }
    }

    #[test]
    fn a_value_with_spaces_stays_one_argument() {
        let argv = ["httpok", "-s", "/usr/sbin/sendmail -t -i", "-HX: y"].map(OsString::from);
        let out = normalize(argv.to_vec()).expect("valid");
        assert_eq!(out[1], "--sendmail_program=/usr/sbin/sendmail -t -i");
        assert_eq!(out[2], "-HX: y");
    }

    #[cfg(unix)]
    #[test]
    fn arguments_that_are_not_utf8_pass_through_or_become_values() {
        use std::os::unix::ffi::OsStrExt;
        let odd = OsString::from(std::ffi::OsStr::from_bytes(b"\xffcaf\xe9"));
        let argv = vec!["httpok".into(), "-b".into(), odd.clone(), odd.clone()];
        let out = normalize(argv).expect("valid");
        let mut body = OsString::from("--body=");
        body.push(&odd);
        assert_eq!(out, vec![OsString::from("httpok"), body, odd]);
    }
}
