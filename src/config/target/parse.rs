//! Parsing a check's URL, all of it, into a [`Target`]: scheme, authority (userinfo,
//! host or bracketed IPv6 literal, port), and what each scheme allows after it, so that
//! a URL that cannot work is refused at start rather than failed on every probe.
//! Percent escapes in a user name or password stay lenient (an invalid one is kept as
//! written): they are never parsed again, only sent.

use std::ffi::OsString;
use std::fmt;
use std::net::Ipv6Addr;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use super::Target;

/// What is wrong with a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Problem {
    /// No `SCHEME://` at all.
    NoScheme,
    /// A scheme other than http, https, tcp and http+unix (`exec:` has no `//`).
    UnsupportedScheme(String),
    /// A space or control character anywhere.
    Unprintable(char),
    /// Nothing between `://` (or `@`) and the port or path.
    NoHost,
    /// A character no host name has (outside brackets).
    HostCharacter(char),
    /// `http://::1/`: an IPv6 address is written `[::1]`.
    UnbracketedIpv6,
    /// A `[` without its `]`.
    UnclosedBracket,
    /// Something other than `:PORT` after `]`.
    AfterBracket(String),
    /// Brackets around something that is not an IPv6 address.
    NotIpv6(String),
    /// A `:` with nothing after it.
    EmptyPort,
    /// Not a number from 1 to 65535.
    BadPort(String),
    /// `tcp://` without a port.
    NoPort,
    /// `user:pass@` where the scheme has no use for it.
    Credentials(&'static str),
    /// A path or query on `tcp://`.
    TcpPath(String),
    /// An `http+unix://` socket path that does not start with `/` once decoded.
    RelativeSocket,
    /// `%00` in a socket path, which no file name can hold.
    NulInSocket,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoScheme => write!(f, "is not a URL: it needs a scheme such as http://"),
            Problem::UnsupportedScheme(s) => write!(
                f,
                "has an unsupported scheme {s:?}: use http, https, tcp, http+unix, or exec:COMMAND \
                 for a command"
            ),
            Problem::Unprintable(' ') => {
                write!(f, "has a space: a URL has none (write %20 in a path)")
            }
            Problem::Unprintable(c) => {
                write!(f, "has a space or control character {c:?}: a URL has none")
            }
            Problem::NoHost => write!(f, "has no host"),
            Problem::HostCharacter(c) if !c.is_ascii() => write!(
                f,
                "has {c:?} in its host: write an international name in its xn-- form"
            ),
            Problem::HostCharacter(c) => write!(
                f,
                "has {c:?} in its host: a host is letters, digits, '-', '.', '_' and '~'"
            ),
            Problem::UnbracketedIpv6 => {
                write!(f, "has an IPv6 address without brackets around it")
            }
            Problem::UnclosedBracket => write!(f, "has a '[' without its ']'"),
            Problem::AfterBracket(rest) => write!(
                f,
                "has {rest:?} after the IPv6 address: only :PORT may follow ']'"
            ),
            Problem::NotIpv6(s) => write!(f, "has {s:?} in brackets, not an IPv6 address"),
            Problem::EmptyPort => write!(f, "has a ':' but no port after it"),
            Problem::BadPort(p) => write!(f, "has a bad port {p:?}: use a number from 1 to 65535"),
            Problem::NoPort => write!(f, "needs a port"),
            Problem::Credentials(scheme) => {
                write!(
                    f,
                    "has a user name or password, which {scheme}:// has no use for"
                )
            }
            Problem::TcpPath(p) => write!(
                f,
                "has a path {p:?}: a tcp:// check only opens a connection, use http:// \
                 to request a path"
            ),
            Problem::RelativeSocket => write!(
                f,
                "has a socket path that is not absolute: percent-encode all of it, \
                 each '/' as %2F"
            ),
            Problem::NulInSocket => write!(f, "has %00 in its socket path"),
        }
    }
}

impl Problem {
    /// A good URL like the one that was meant: same scheme (lowercase), and an IPv6
    /// literal if the URL had a bracket or the problem is about one.
    pub(super) fn example(&self, scheme: &str, bracketed: bool) -> &'static str {
        let ipv6 = bracketed
            || matches!(
                self,
                Problem::UnbracketedIpv6
                    | Problem::UnclosedBracket
                    | Problem::AfterBracket(_)
                    | Problem::NotIpv6(_)
            );
        match (scheme, ipv6) {
            ("tcp", true) => "tcp://[::1]:5432",
            ("tcp", false) => "tcp://127.0.0.1:5432",
            ("https", true) => "https://[::1]:8443/health",
            ("https", false) => "https://example.com/health",
            ("http+unix", _) => "http+unix://%2Frun%2Fapp.sock/health",
            (_, true) => "http://[::1]:8080/health",
            (_, false) => "http://127.0.0.1:8080/health",
        }
    }
}

pub(super) fn parse_url(raw: &str) -> Result<Target, Problem> {
    let (scheme, rest) = raw.split_once("://").ok_or(Problem::NoScheme)?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "tcp" | "http+unix") {
        return Err(Problem::UnsupportedScheme(scheme));
    }
    if let Some(c) = raw.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(Problem::Unprintable(c));
    }
    // RFC 3986: the authority ends at the first '/', '?' or '#'.
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    match scheme.as_str() {
        "tcp" => parse_tcp(authority, path),
        "http+unix" => parse_http_unix(authority, path),
        _ => parse_http(&scheme, authority, path),
    }
}

fn parse_http(scheme: &str, authority: &str, path: &str) -> Result<Target, Problem> {
    // The last '@': a password with an '@' left unescaped still works.
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    parse_host_port(hostport)?;
    let basic_auth = userinfo.map(|u| {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        (decode_text(user), decode_text(pass))
    });
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    Ok(Target::Http {
        url: format!("{scheme}://{hostport}{path}"),
        basic_auth,
    })
}

fn parse_tcp(authority: &str, path: &str) -> Result<Target, Problem> {
    if authority.contains('@') {
        return Err(Problem::Credentials("tcp"));
    }
    if !matches!(path, "" | "/") {
        return Err(Problem::TcpPath(path.to_string()));
    }
    let (host, port) = parse_host_port(authority)?;
    Ok(Target::Tcp {
        host: host.to_string(),
        port: port.ok_or(Problem::NoPort)?,
    })
}

fn parse_http_unix(authority: &str, path: &str) -> Result<Target, Problem> {
    let socket: Vec<u8> = percent_decode_str(authority).collect();
    if socket.first() != Some(&b'/') {
        let after_at = authority.rsplit_once('@').map(|(_, rest)| rest);
        if after_at.is_some_and(|rest| percent_decode_str(rest).next() == Some(b'/')) {
            return Err(Problem::Credentials("http+unix"));
        }
        return Err(Problem::RelativeSocket);
    }
    if socket.contains(&0) {
        return Err(Problem::NulInSocket);
    }
    Ok(Target::HttpUnix {
        socket: PathBuf::from(OsString::from_vec(socket)),
        path: if path.is_empty() { "/" } else { path }.to_string(),
    })
}

/// `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT` into the host (without brackets) and
/// the port if there is one.
fn parse_host_port(hostport: &str) -> Result<(&str, Option<u16>), Problem> {
    let (host, port) = if let Some(inside) = hostport.strip_prefix('[') {
        let (address, after) = inside.split_once(']').ok_or(Problem::UnclosedBracket)?;
        if address.parse::<Ipv6Addr>().is_err() {
            return Err(Problem::NotIpv6(address.to_string()));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| Problem::AfterBracket(after.to_string()))?,
            ),
        };
        (address, port)
    } else {
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        };
        if host.contains(':')
            && (hostport.parse::<Ipv6Addr>().is_ok() || host.parse::<Ipv6Addr>().is_ok())
        {
            return Err(Problem::UnbracketedIpv6);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if let Some(c) = host.chars().find(|&c| !allowed(c)) {
            return Err(Problem::HostCharacter(c));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(Problem::NoHost);
    }
    Ok((host, port.map(parse_port).transpose()?))
}

fn parse_port(digits: &str) -> Result<u16, Problem> {
    if digits.is_empty() {
        return Err(Problem::EmptyPort);
    }
    // Digits only: u16's parser would also take a leading '+'.
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse::<u16>().ok())
        .flatten()
        .filter(|&port| port != 0)
        .ok_or_else(|| Problem::BadPort(digits.to_string()))
}

/// Percent-decoded user name or password; invalid escapes are kept as written.
fn decode_text(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_refused_for_what_is_wrong_with_them() {
        use Problem::*;
        let bad_port = |p: &str| BadPort(p.into());
        for (raw, problem) in [
            ("localhost:8080", NoScheme),
            ("ftp://x/", UnsupportedScheme("ftp".into())),
            ("http://a b/", Unprintable(' ')),
            ("http://h/a\tb", Unprintable('\t')),
            ("https://h/\n", Unprintable('\n')),
            ("tcp://h:1\u{7f}", Unprintable('\u{7f}')),
            ("http+unix://%2Fs/\u{0}", Unprintable('\u{0}')),
            ("http://", NoHost),
            ("http://u:p@/", NoHost),
            ("https://:80/", NoHost),
            ("tcp://:80", NoHost),
            ("http://[::1", UnclosedBracket),
            ("tcp://[::1:80", UnclosedBracket),
            ("http://[::1]x/", AfterBracket("x".into())),
            ("http://[::1]]/", AfterBracket("]".into())),
            ("http://[nothost]/", NotIpv6("nothost".into())),
            ("http://[]/", NotIpv6("".into())),
            ("http://::1/", UnbracketedIpv6),
            ("tcp://::1:80", UnbracketedIpv6),
            ("http://h:/", EmptyPort),
            ("tcp://h:", EmptyPort),
            ("http://[::1]:/", EmptyPort),
            ("http://host:abc/", bad_port("abc")),
            ("http://h:65536/", bad_port("65536")),
            ("http://h:+80/", bad_port("+80")),
            ("http://h:0/", bad_port("0")),
            ("tcp://host:0", bad_port("0")),
            (
                "tcp://h:99999999999999999999",
                bad_port("99999999999999999999"),
            ),
            ("tcp://host", NoPort),
            ("tcp://[::1]", NoPort),
            ("http://h\\x/", HostCharacter('\\')),
            ("http://h{x}/", HostCharacter('{')),
            ("http://b\u{fc}cher.example/", HostCharacter('\u{fc}')),
            ("http://h:1:2/", HostCharacter(':')),
            ("tcp://u:p@h:1", Credentials("tcp")),
            ("http+unix://u:p@%2Frun%2Fa.sock/", Credentials("http+unix")),
            ("tcp://h:1/health", TcpPath("/health".into())),
            ("tcp://h:1?x", TcpPath("?x".into())),
            ("http+unix://relative.sock/", RelativeSocket),
            ("http+unix:///run/app.sock", RelativeSocket),
            ("http+unix://%2Fa%00b/", NulInSocket),
        ] {
            assert_eq!(parse_url(raw), Err(problem), "{raw:?}");
        }
    }
}
