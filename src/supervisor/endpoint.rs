//! Where supervisord listens, from the URL it hands its children in
//! SUPERVISOR_SERVER_URL (or `--server-url`). Pure parsing; no sockets.

use std::path::PathBuf;

use crate::config::target::redact;

/// Where supervisord listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `[unix_http_server]`: the socket file (an absolute path).
    Unix(PathBuf),
    /// `[inet_http_server]`: host, port and the XML-RPC path (`/RPC2` or below it).
    Tcp {
        host: String,
        port: u16,
        path: String,
    },
}

impl Endpoint {
    /// Parses SUPERVISOR_SERVER_URL: `unix:///abs/path.sock` or `http://host:port[/path]`.
    /// Any `user:password@` is dropped (credentials come from SUPERVISOR_USERNAME and
    /// SUPERVISOR_PASSWORD), and never appears in an error message.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let shown = redact(url);
        if let Some(path) = url.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "{shown}: a unix socket path must be absolute (unix:///path.sock)"
                ));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!(
                "{shown}: supervisord's URL must start with unix:// (unix:///path.sock) or \
                 http:// (http://host:port)"
            )
        })?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = split_host_port(hostport)
            .map_err(|port| format!("{shown}: bad port {port:?}: use a number from 1 to 65535"))?;
        // supervisord writes `http://*:9001` or `http://:9001` for "every interface".
        let host = match host {
            "" | "*" => "localhost",
            h => h,
        };
        // supervisord serves XML-RPC only under /RPC2; a bare URL means /RPC2 itself.
        let path = if path.starts_with("/RPC2") {
            path
        } else {
            "/RPC2"
        };
        Ok(Endpoint::Tcp {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` into the bare host and the port (80 if
/// none); a bad port comes back as the error.
fn split_host_port(hostport: &str) -> Result<(&str, u16), &str> {
    let (host, port) = match hostport.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((v6, "")) => (v6, None),
            Some((v6, tail)) => (v6, Some(tail.strip_prefix(':').unwrap_or(tail))),
            None => (bracketed, None),
        },
        None => match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    match port {
        None => Ok((host, 80)),
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port != 0 => Ok((host, port)),
            _ => Err(text),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16, path: &str) -> Result<Endpoint, String> {
        Ok(Endpoint::Tcp {
            host: host.into(),
            port,
            path: path.into(),
        })
    }

    #[test]
    fn server_urls_parse_as_supervisord_writes_them() {
        assert_eq!(
            Endpoint::parse("unix:///var/run/supervisor.sock"),
            Ok(Endpoint::Unix("/var/run/supervisor.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:9001"),
            tcp("127.0.0.1", 9001, "/RPC2")
        );
        assert_eq!(
            Endpoint::parse("http://*:9001"),
            tcp("localhost", 9001, "/RPC2")
        );
        assert_eq!(
            Endpoint::parse("http://:9001"),
            tcp("localhost", 9001, "/RPC2")
        );
    }

    #[test]
    fn a_path_is_kept_only_under_rpc2_and_a_missing_port_is_80() {
        assert_eq!(Endpoint::parse("http://h/RPC2/x"), tcp("h", 80, "/RPC2/x"));
        assert_eq!(Endpoint::parse("http://h:1/other"), tcp("h", 1, "/RPC2"));
    }

    #[test]
    fn ipv6_hosts_are_bracketed_with_or_without_a_port() {
        assert_eq!(
            Endpoint::parse("http://[::1]:9001"),
            tcp("::1", 9001, "/RPC2")
        );
        assert_eq!(Endpoint::parse("http://[::1]"), tcp("::1", 80, "/RPC2"));
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        let refused = |url: &str| Endpoint::parse(url).expect_err(url);
        assert!(refused("unix://relative.sock").contains("absolute"));
        assert!(refused("ftp://h").contains("must start with unix://"));
        assert!(refused("http://h:x").contains("bad port \"x\""));
        assert!(refused("http://h:0").contains("bad port \"0\""));
        assert!(refused("http://h:65536").contains("1 to 65535"));
    }

    #[test]
    fn credentials_in_the_url_never_reach_an_error_message() {
        let error = Endpoint::parse("http://carol:s3cret@h:notaport").expect_err("bad port");
        assert!(!error.contains("s3cret"), "{error}");
        assert_eq!(
            Endpoint::parse("http://carol:s3cret@h:9001"),
            tcp("h", 9001, "/RPC2")
        );
    }
}
