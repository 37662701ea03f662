//! What a check probes, parsed from the URL a user wrote: `http://`, `https://`,
//! `tcp://HOST:PORT`, `http+unix://<percent-encoded socket path>/path`, or
//! `exec:COMMAND ARGS` (a command split on spaces like `-s`, never run by a shell).
//!
//! Owns the parsed form (the parser is in `parse`), credentials in URLs (`user:pass@`,
//! turned into Basic auth and never shown), and the redacted form that logs, mail and
//! `--once` output use.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

mod parse;

/// What stays as it is in a socket path shown in an `http+unix://` URL: RFC 3986's
/// unreserved characters. Everything else, `/` first, is percent-encoded.
const SOCKET_PATH_KEPT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The kinds of target, each with settings of its own (see [`crate::config::settings::KEYS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `http://`, `https://` and `http+unix://`.
    Http,
    /// `tcp://HOST:PORT`.
    Tcp,
    /// `exec:COMMAND`.
    Exec,
}

impl Kind {
    /// How messages name checks of this kind: `http(s)`, `tcp://`, `exec`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http(s)",
            Kind::Tcp => "tcp://",
            Kind::Exec => "exec",
        }
    }
}

/// A parsed probe target.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// An HTTP(S) URL. `url` has credentials removed; they are in `basic_auth`.
    Http {
        url: String,
        basic_auth: Option<(String, String)>,
    },
    /// Healthy when a TCP connection opens within the timeout.
    Tcp { host: String, port: u16 },
    /// HTTP over a unix-domain socket; `path` is the request path with query.
    HttpUnix { socket: PathBuf, path: String },
    /// A command; healthy when it exits 0 within the timeout.
    Exec { argv: Vec<String> },
}

impl Target {
    /// Parses a URL as written on the command line, all of it: a URL that cannot work
    /// is refused at start, not failed on every probe. The error shows the URL without
    /// credentials, says what is wrong and gives an example of a good URL.
    pub fn parse(raw: &str) -> Result<Target, String> {
        if let Some(command) = raw.strip_prefix(EXEC_PREFIX) {
            return Target::exec(command.split_whitespace().map(str::to_string).collect());
        }
        parse::parse_url(raw).map_err(|problem| {
            let (scheme, rest) = raw.split_once("://").unwrap_or_default();
            let example = problem.example(&scheme.to_ascii_lowercase(), rest.starts_with('['));
            format!("{} {problem} (a good one: {example})", shown(raw))
        })
    }

    /// A command check from its argv (`exec = [...]` in a config file).
    pub fn exec(argv: Vec<String>) -> Result<Target, String> {
        match argv.first() {
            None => Err("exec: has no command: write e.g. exec:/usr/bin/pg_isready -q".into()),
            Some(program) if program.is_empty() => {
                Err("exec has an empty program name: e.g. [\"/usr/bin/pg_isready\", \"-q\"]".into())
            }
            Some(_) => Ok(Target::Exec { argv }),
        }
    }

    /// Which settings apply to it.
    pub fn kind(&self) -> Kind {
        match self {
            Target::Http { .. } | Target::HttpUnix { .. } => Kind::Http,
            Target::Tcp { .. } => Kind::Tcp,
            Target::Exec { .. } => Kind::Exec,
        }
    }

    /// An https target's host (without brackets) and port, for reading its
    /// certificate; `None` for anything else.
    pub fn https_authority(&self) -> Option<(String, u16)> {
        let Target::Http { url, .. } = self else {
            return None;
        };
        let rest = url.strip_prefix("https://")?;
        let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        let (host, port) = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed.split_once(']')?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(p) => p.parse().ok()?,
            None => 443,
        };
        Some((host.to_string(), port))
    }
}

/// Words after which a command's next argument is a secret (`--password PW`).
const SECRET_FLAGS: [&str; 6] = [
    "--password",
    "--pass",
    "--passwd",
    "--secret",
    "--token",
    "--api-key",
];
/// Names whose `NAME=VALUE` value is a secret (`--password=PW`, `PGPASSWORD=PW`).
const SECRET_NAMES: [&str; 5] = ["password", "passwd", "secret", "token", "api-key"];

/// The values [`shown_command`] hides, so that a command's own output quoting them (an
/// exec check's failure reason) can hide them too.
pub fn argv_secrets(argv: &[String]) -> Vec<String> {
    classify_argv(argv)
        .into_iter()
        .filter_map(|(_, secret)| secret)
        .filter(|s| !s.is_empty())
        .collect()
}

/// An exec check's argv as logs and `--check-config` show it: URLs without
/// credentials, and the values of arguments that look like secrets as `***` (a
/// heuristic: a check that needs a secret should read it from a file, `~/.pgpass`,
/// `--defaults-file`); every other word as a POSIX shell reads it back, quoted where
/// it needs it (`'a b'`, `'!'`).
fn shown_command(argv: &[String]) -> String {
    let words: Vec<String> = classify_argv(argv)
        .into_iter()
        .zip(argv)
        .map(|((shown, _), word)| {
            if shown == *word {
                shell_word(&shown)
            } else {
                shown
            }
        })
        .collect();
    words.join(" ")
}

/// One word quoted for a POSIX shell; one with a control character (a newline from a
/// config file's `exec`) in Rust's escapes (`"a\nb"`), so that a log line stays one line.
pub fn shell_word(word: &str) -> String {
    match shlex::try_quote(word) {
        Ok(quoted) if !word.chars().any(char::is_control) => quoted.into_owned(),
        _ => format!("{word:?}"),
    }
}

/// Each argument as shown, and the secret it holds, if any.
fn classify_argv(argv: &[String]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for arg in argv {
        if hide_next {
            out.push(("***".to_string(), Some(arg.clone())));
            hide_next = false;
            continue;
        }
        let lower = arg.to_ascii_lowercase();
        hide_next = SECRET_FLAGS.contains(&lower.as_str());
        let secret_value = lower.split_once('=').is_some_and(|(name, _)| {
            SECRET_NAMES
                .iter()
                .any(|s| name.trim_start_matches('-').ends_with(s))
        });
        match arg.split_once('=') {
            Some((name, value)) if secret_value => {
                out.push((format!("{name}=***"), Some(value.to_string())));
            }
            _ => out.push((redact(arg), None)),
        }
    }
    out
}

/// What marks a command check where a URL may stand.
pub const EXEC_PREFIX: &str = "exec:";

/// The URL for an error message: without credentials, control characters escaped.
fn shown(raw: &str) -> String {
    redact(raw)
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// What logs show: the URL without credentials.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Http { url, .. } => f.write_str(&without_query_secrets(url)),
            Target::HttpUnix { socket, path } => {
                let socket = percent_encode(socket.as_os_str().as_bytes(), SOCKET_PATH_KEPT);
                write!(f, "http+unix://{socket}{}", without_query_secrets(path))
            }
            Target::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Target::Exec { argv } => write!(f, "{EXEC_PREFIX}{}", shown_command(argv)),
        }
    }
}

/// Whether a URL query parameter or a header of this name likely holds a credential
/// (`?token=`, `?api_key=`, `X-Auth-Token`, `Cookie`, ...).
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "auth", "token", "key", "secret", "pass", "cookie", "session", "sig",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// A URL or path with the values of query parameters that look like credentials
/// (`?token=...`) shown as `***`.
fn without_query_secrets(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if looks_secret(name) => format!("{name}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// Never prints credentials, even in `{:?}`.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({self})")
    }
}

/// Anything that looks like a URL with its `user:pass@` as `***@`: the one redaction,
/// for messages, logs, `/status`, a command's argv as shown and the
/// SUPERVISOR_SERVER_URL a hook gets. Anything else as it is.
pub fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_lose_their_credentials_to_basic_auth() {
        let t = Target::parse("http://bob:s%40cret@127.0.0.1:8080/health?x=1").expect("parses");
        assert_eq!(
            t,
            Target::Http {
                url: "http://127.0.0.1:8080/health?x=1".into(),
                basic_auth: Some(("bob".into(), "s@cret".into())),
            }
        );
        assert!(!format!("{t} {t:?}").contains("cret"));
    }

    #[test]
    fn a_bare_host_gets_the_root_path() {
        let t = Target::parse("HTTPS://example.test").expect("parses");
        assert_eq!(t.to_string(), "https://example.test/");
    }

    #[test]
    fn tcp_and_unix_targets_parse() {
        assert_eq!(
            Target::parse("tcp://127.0.0.1:5432").expect("parses"),
            Target::Tcp {
                host: "127.0.0.1".into(),
                port: 5432
            }
        );
        assert_eq!(
            Target::parse("tcp://[::1]:80").expect("parses").to_string(),
            "tcp://[::1]:80"
        );
        let t = Target::parse("http+unix://%2Frun%2Fapp.sock/health").expect("parses");
        assert_eq!(
            t,
            Target::HttpUnix {
                socket: "/run/app.sock".into(),
                path: "/health".into()
            }
        );
        assert_eq!(t.to_string(), "http+unix://%2Frun%2Fapp.sock/health");
    }

    /// Every form accepted before this parser, and what it parses to.
    #[test]
    fn the_forms_accepted_before_parse_to_the_same_targets() {
        let http = |url: &str| Target::Http {
            url: url.into(),
            basic_auth: None,
        };
        let auth = |url: &str, user: &str, pass: &str| Target::Http {
            url: url.into(),
            basic_auth: Some((user.into(), pass.into())),
        };
        let tcp = |host: &str, port| Target::Tcp {
            host: host.into(),
            port,
        };
        let unix = |socket: &str, path: &str| Target::HttpUnix {
            socket: socket.into(),
            path: path.into(),
        };
        let injection = "http://127.0.0.1:1/;touch${IFS}pwned-url;$(touch${IFS}pwned-url2)";
        for (raw, expected) in [
            (
                "http://127.0.0.1:8080/health",
                http("http://127.0.0.1:8080/health"),
            ),
            ("http://h", http("http://h/")),
            ("http://h?a=b", http("http://h/?a=b")),
            ("http://h/?a=b", http("http://h/?a=b")),
            ("HTTP://Example.TEST:80/X", http("http://Example.TEST:80/X")),
            ("https://localhost/", http("https://localhost/")),
            ("http://[::1]:8080/", http("http://[::1]:8080/")),
            (
                "http://my_app.internal:8000/",
                http("http://my_app.internal:8000/"),
            ),
            ("http://h:65535/", http("http://h:65535/")),
            (injection, http(injection)),
            ("http://u:p@ss@h/", auth("http://h/", "u", "p@ss")),
            ("http://u@h/", auth("http://h/", "u", "")),
            ("http://:pw@h/", auth("http://h/", "", "pw")),
            ("http://u:p%zz%4@h/", auth("http://h/", "u", "p%zz%4")),
            ("tcp://127.0.0.1:5432", tcp("127.0.0.1", 5432)),
            ("tcp://[::1]:80", tcp("::1", 80)),
            ("tcp://h:1/", tcp("h", 1)),
            (
                "tcp://httpok-test.invalid:80",
                tcp("httpok-test.invalid", 80),
            ),
            (
                "http+unix://%2Frun%2Fapp.sock/health",
                unix("/run/app.sock", "/health"),
            ),
            ("http+unix://%2Frun%2Fapp.sock", unix("/run/app.sock", "/")),
            ("http+unix://%2Fs?x=1", unix("/s", "?x=1")),
            (
                "http+unix://%2Ftmp%2Fa%40b.sock/",
                unix("/tmp/a@b.sock", "/"),
            ),
        ] {
            let parsed = Target::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(parsed, expected, "{raw}");
            // What logs show parses back to the same target (less the credentials).
            if let Target::Http {
                basic_auth: None, ..
            }
            | Target::Tcp { .. }
            | Target::HttpUnix { .. } = parsed
            {
                assert_eq!(Target::parse(&parsed.to_string()), Ok(parsed), "{raw}");
            }
        }
    }

    #[test]
    fn query_parameters_that_look_like_credentials_are_not_shown() {
        let t = Target::parse("http://h/health?verbose=1&token=s3cret&api_key=k3y").expect("url");
        assert_eq!(
            t.to_string(),
            "http://h/health?verbose=1&token=***&api_key=***"
        );
        let t = Target::parse("http+unix://%2Frun%2Fa.sock/x?Signature=abc").expect("url");
        assert_eq!(t.to_string(), "http+unix://%2Frun%2Fa.sock/x?Signature=***");
        assert!(looks_secret("X-Auth-Token") && looks_secret("Cookie") && !looks_secret("Host"));
    }

    #[test]
    fn https_targets_give_their_host_and_port() {
        let authority = |url: &str| Target::parse(url).expect("url").https_authority();
        assert_eq!(
            authority("https://example.test/x"),
            Some(("example.test".into(), 443))
        );
        assert_eq!(authority("https://u:p@h:8443/?a"), Some(("h".into(), 8443)));
        assert_eq!(authority("https://[::1]:9443/"), Some(("::1".into(), 9443)));
        assert_eq!(authority("https://[::1]/"), Some(("::1".into(), 443)));
        assert_eq!(authority("http://h/"), None);
        assert_eq!(authority("tcp://h:1"), None);
    }

    #[test]
    fn exec_targets_split_like_the_commands_and_show_as_written() {
        let t = Target::parse("exec:/usr/bin/pg_isready  -q -h 127.0.0.1").expect("parses");
        assert_eq!(
            t,
            Target::Exec {
                argv: vec![
                    "/usr/bin/pg_isready".into(),
                    "-q".into(),
                    "-h".into(),
                    "127.0.0.1".into()
                ]
            }
        );
        assert_eq!(t.to_string(), "exec:/usr/bin/pg_isready -q -h 127.0.0.1");
        assert_eq!(t.kind(), Kind::Exec);
        assert!(Target::parse("exec:").is_err());
        assert!(Target::parse("exec:   ").is_err());
        assert!(Target::exec(vec![String::new()]).is_err());
    }

    #[test]
    fn exec_argv_is_shown_as_a_shell_would_read_it_back() {
        let argv = |words: &[&str]| Target::Exec {
            argv: words.iter().map(|w| w.to_string()).collect(),
        };
        // The issue's example: `sh -c 'test ! -e /x'` must not read as five words.
        let t = argv(&["/bin/sh", "-c", "test ! -e /x"]);
        assert_eq!(t.to_string(), "exec:/bin/sh -c 'test ! -e /x'");
        assert_eq!(
            shlex::split(t.to_string().strip_prefix("exec:").expect("prefix")),
            Some(vec!["/bin/sh".into(), "-c".into(), "test ! -e /x".into()])
        );
        assert_eq!(
            argv(&["echo", "it's", ""]).to_string(),
            r#"exec:echo "it's" ''"#
        );
        // A newline (from a config file's exec list) keeps the line one line.
        assert_eq!(argv(&["echo", "a\nb"]).to_string(), r#"exec:echo "a\nb""#);
    }

    #[test]
    fn an_unknown_scheme_lists_exec_too() {
        let e = Target::parse("ftp://h/").expect_err("refused");
        assert!(
            e.contains("use http, https, tcp, http+unix, or exec:COMMAND"),
            "{e}"
        );
    }

    #[test]
    fn exec_targets_hide_what_looks_like_a_secret() {
        let t = Target::parse(
            "exec:/usr/bin/check --password hunter2 --token=abc PGPASSWORD=pw \
             http://u:pw2@h/ --user bob",
        )
        .expect("parses");
        let shown = t.to_string();
        assert_eq!(
            shown,
            "exec:/usr/bin/check --password *** --token=*** PGPASSWORD=*** http://***@h/ \
             --user bob"
        );
        assert!(!format!("{t:?}").contains("hunter2"));
    }

    #[test]
    fn a_socket_path_that_is_not_utf8_is_kept_byte_for_byte() {
        let t = Target::parse("http+unix://%2Ftmp%2F%FF.sock/").expect("parses");
        let Target::HttpUnix { socket, .. } = &t else {
            panic!("{t:?}")
        };
        assert_eq!(socket.as_os_str().as_bytes(), b"/tmp/\xff.sock");
        assert_eq!(t.to_string(), "http+unix://%2Ftmp%2F%FF.sock/");
    }

    #[test]
    fn errors_hide_credentials_and_show_a_good_url() {
        let refused = |raw: &str| Target::parse(raw).expect_err(raw);
        let e = refused("http://bob:Secret1@127.0.0.1:notaport/");
        assert_eq!(
            e,
            "http://***@127.0.0.1:notaport/ has a bad port \"notaport\": use a number from \
             1 to 65535 (a good one: http://127.0.0.1:8080/health)"
        );
        assert!(refused("http://[::1").ends_with("(a good one: http://[::1]:8080/health)"));
        assert!(refused("https://[::1]:/").ends_with("(a good one: https://[::1]:8443/health)"));
        assert!(refused("localhost:80").ends_with("(a good one: http://127.0.0.1:8080/health)"));
        assert!(refused("tcp://u:Secret1@h").ends_with("(a good one: tcp://127.0.0.1:5432)"));
        assert!(!refused("tcp://u:Secret1@h").contains("Secret1"));
        assert!(refused("http+unix://a.sock/").contains("%2Frun%2Fapp.sock"));
        // A control character is shown escaped: the message stays on one line.
        let e = refused("http://h/\nx");
        assert!(
            e.starts_with("http://h/\\nx has a space or control character"),
            "{e}"
        );
    }

    #[test]
    fn redact_hides_userinfo_only() {
        for (url, shown) in [
            ("http://u:p@h/x@y", "http://***@h/x@y"),
            ("http://u:p@ss@h:9001/RPC2", "http://***@h:9001/RPC2"),
            ("http://h:9001/x@y", "http://h:9001/x@y"),
            ("http://h:9001?to=a@b", "http://h:9001?to=a@b"),
            ("http://h:9001#a@b", "http://h:9001#a@b"),
            ("unix:///run/supervisor.sock", "unix:///run/supervisor.sock"),
            ("http://h/x", "http://h/x"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
