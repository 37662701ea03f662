//! What a check probes, parsed from the URL a user wrote: `http://`, `https://`,
//! `tcp://HOST:PORT` and `http+unix://<percent-encoded socket path>/path`.
//!
//! Owns URL splitting, credentials in URLs (`user:pass@`, turned into Basic auth and
//! never shown), and the redacted form that logs, mail and `--once` output use.

use std::fmt;
use std::path::PathBuf;

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
}

impl Target {
    /// Parses a URL as written on the command line.
    pub fn parse(raw: &str) -> Result<Target, String> {
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| {
            format!(
                "{:?} is not a URL: it needs a scheme such as http://",
                redact(raw)
            )
        })?;
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        match scheme.as_str() {
            "http" | "https" => {
                let (userinfo, hostport) = match authority.rsplit_once('@') {
                    Some((u, h)) => (Some(u), h),
                    None => (None, authority),
                };
                if hostport.is_empty() {
                    return Err(format!(
                        "{} has no host: write {scheme}://HOST[:PORT]/PATH",
                        redact(raw)
                    ));
                }
                check_port(hostport, raw)?;
                let basic_auth = userinfo.map(|u| {
                    let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                    (percent_decode(user), percent_decode(pass))
                });
                let path = if path.is_empty() { "/" } else { path };
                let path = if path.starts_with('?') {
                    format!("/{path}")
                } else {
                    path.to_string()
                };
                Ok(Target::Http {
                    url: format!("{scheme}://{hostport}{path}"),
                    basic_auth,
                })
            }
            "tcp" => {
                let (host, port) = authority
                    .rsplit_once(':')
                    .ok_or_else(|| format!("{raw} needs a port: tcp://HOST:PORT"))?;
                let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
                    format!("{raw} has a bad port {port:?}: use a number from 1 to 65535")
                })?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                if host.is_empty() {
                    return Err(format!("{raw} has no host: write tcp://HOST:PORT"));
                }
                Ok(Target::Tcp {
                    host: host.to_string(),
                    port,
                })
            }
            "http+unix" => {
                let socket = percent_decode(authority);
                if !socket.starts_with('/') {
                    return Err(format!(
                        "{raw}: the socket path must be absolute and percent-encoded, \
                         e.g. http+unix://%2Frun%2Fapp.sock/health"
                    ));
                }
                let path = if path.is_empty() { "/" } else { path };
                Ok(Target::HttpUnix {
                    socket: PathBuf::from(socket),
                    path: path.to_string(),
                })
            }
            other => Err(format!(
                "{} has an unsupported scheme {other:?}: use http, https, tcp or http+unix",
                redact(raw)
            )),
        }
    }
}

/// Rejects `host:port` with a port that is not a number.
fn check_port(hostport: &str, raw: &str) -> Result<(), String> {
    let after_ipv6 = hostport.rsplit_once(']').map_or(hostport, |(_, rest)| rest);
    if let Some((_, port)) = after_ipv6.rsplit_once(':')
        && port.parse::<u16>().is_err()
    {
        return Err(format!(
            "{} has a bad port {port:?}: use a number from 1 to 65535",
            redact(raw)
        ));
    }
    Ok(())
}

/// What logs show: the URL without credentials.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Http { url, .. } => f.write_str(url),
            Target::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Target::HttpUnix { socket, path } => {
                write!(
                    f,
                    "http+unix://{}{path}",
                    percent_encode_path(&socket.to_string_lossy())
                )
            }
        }
    }
}

/// Never prints credentials, even in `{:?}`.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({self})")
    }
}

/// Removes `user:pass@` from anything that looks like a URL, for error messages.
pub fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => raw.to_string(),
    }
}

/// Decodes `%XX` escapes; invalid escapes are kept as written.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(value);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        for bad in [
            "localhost:8080",
            "ftp://x/",
            "http://",
            "http://host:abc/",
            "tcp://host",
            "tcp://host:0",
            "http+unix://relative.sock/",
        ] {
            assert!(Target::parse(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn redact_hides_userinfo_only() {
        assert_eq!(redact("http://u:p@h/x@y"), "http://***@h/x@y");
        assert_eq!(redact("http://h/x"), "http://h/x");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn percent_decode_keeps_invalid_escapes() {
        assert_eq!(percent_decode("%2Fa%zz%4"), "/a%zz%4");
        assert_eq!(percent_decode("%"), "%");
    }
}
