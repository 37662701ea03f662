//! The metrics endpoint (`--metrics-listen ADDR`): `GET /metrics` in the Prometheus text
//! format and `GET /status` as JSON, both from a clone of the watcher's [`Snapshot`].
//!
//! ```text
//!              one thread, poll(2), non-blocking sockets
//!  listener ──accept──▶ [table: Limits::connections] ──▶ head (deadline) ──▶ answer (deadline)
//!                        │ full: close an answered,                  │ clone the Snapshot (lock
//!                        ▼ else the oldest idle one                  │ held for the clone only),
//!                                                                    ▼ render, write
//! ```
//!
//! Owns: the address ([`ListenAddr`]), the endpoint's life ([`server`]: bound at start or
//! retried every minute, the unix socket file removed at exit), the event loop and one
//! connection's exchange (`event_loop.rs`, `exchange.rs`), the HTTP head parsing and
//! answers, sans IO ([`http`]) and the page ([`render`]). (`httpok --status` connects
//! through [`crate::deadline`], in [`crate::cli::status_client`].) It never writes stdout, never holds the
//! snapshot's lock longer than a clone and never blocks the watcher: a round is never
//! delayed by a scrape, a slow client or a flood, and an address that cannot be bound
//! costs the endpoint, not the watch.
//!
//! Out of scope: TLS and authentication (bind to 127.0.0.1 or a unix socket, or put a
//! proxy in front), keep-alive, anything but two GET pages.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

mod event_loop;
mod exchange;
pub(crate) mod http;
pub(crate) mod render;
pub(crate) mod server;
mod socket_file;

pub use crate::planner::status::Snapshot;
#[cfg(test)]
pub(crate) use server::MetricsListener;
pub use server::{Endpoint, Limits};

/// The longest path a unix socket address holds (sun_path, less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Where the endpoint listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// An IP address and port: `127.0.0.1:9117`, `[::1]:9117`.
    Tcp(SocketAddr),
    /// A unix socket file: `unix:/run/httpok.sock`.
    Unix(PathBuf),
}

impl ListenAddr {
    /// `127.0.0.1:9117`, `[::1]:9117` or `unix:/run/httpok.sock` (also `unix:///run/…`).
    /// No host names: nothing is looked up in DNS.
    pub fn parse(text: &str) -> Result<ListenAddr, String> {
        let expected = "write IP:PORT or unix:/PATH, e.g. 127.0.0.1:9117, [::1]:9117 or \
                        unix:/run/httpok.sock";
        if let Some(path) = text.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if !path.starts_with('/') {
                return Err(format!(
                    "{text:?} is not an absolute socket path: {expected}"
                ));
            }
            if path.len() > MAX_SOCKET_PATH {
                return Err(format!(
                    "the socket path in {text:?} is longer than {MAX_SOCKET_PATH} bytes, \
                     the most a unix socket address holds: choose a shorter path"
                ));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        let addr: SocketAddr = text
            .parse()
            .map_err(|_| format!("{text:?} is not an address to listen on: {expected}"))?;
        Ok(ListenAddr::Tcp(addr))
    }

    /// The WARN for an address other hosts can reach (`0.0.0.0`, `::`, a LAN address):
    /// the pages name every check's targets and the programs behind them, to anyone.
    pub fn exposure_warning(&self) -> Option<String> {
        let ListenAddr::Tcp(addr) = self else {
            return None;
        };
        if addr.ip().to_canonical().is_loopback() {
            return None;
        }
        Some(format!(
            "--metrics-listen {addr} can be reached from other hosts: /metrics and /status \
             show every check's targets (URLs, hosts, ports) and the programs behind them \
             to anyone who asks, with no TLS and no password. Bind to 127.0.0.1, [::1] or \
             a unix socket unless that network is yours"
        ))
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The answer to one judged request: a page from the snapshot, or a refusal.
pub(crate) fn answer(asked: http::Route, snapshot: &Snapshot) -> http::Response {
    match asked {
        http::Route::Metrics => {
            http::Response::page(render::CONTENT_TYPE, render::render(snapshot).into_bytes())
        }
        http::Route::Status => match serde_json::to_vec_pretty(snapshot) {
            Ok(json) => http::Response::page("application/json", json),
            Err(e) => {
                log::warn!("metrics: cannot write the status as JSON: {e}");
                http::Response::refusal(http::Refusal::Internal)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_are_ip_and_port_or_an_absolute_socket_path() {
        assert_eq!(
            ListenAddr::parse("127.0.0.1:9117"),
            Ok(ListenAddr::Tcp(([127, 0, 0, 1], 9117).into()))
        );
        let v6 = ListenAddr::parse("[::1]:9117").expect("parses");
        assert_eq!(v6.to_string(), "[::1]:9117");
        for unix in ["unix:/run/httpok.sock", "unix:///run/httpok.sock"] {
            assert_eq!(
                ListenAddr::parse(unix),
                Ok(ListenAddr::Unix("/run/httpok.sock".into()))
            );
        }
        assert_eq!(
            ListenAddr::parse("unix:/run/httpok.sock")
                .expect("parses")
                .to_string(),
            "unix:/run/httpok.sock"
        );
    }

    #[test]
    fn only_addresses_other_hosts_can_reach_are_warned_about() {
        for quiet in [
            "127.0.0.1:9117",
            "127.0.0.2:9117",
            "[::1]:9117",
            "[::ffff:127.0.0.1]:9117",
            "unix:/run/h.sock",
        ] {
            let addr = ListenAddr::parse(quiet).expect(quiet);
            assert_eq!(addr.exposure_warning(), None, "{quiet}");
        }
        for exposed in [
            "0.0.0.0:9117",
            "[::]:9117",
            "192.168.1.10:9117",
            "[2001:db8::1]:9117",
        ] {
            let warning = ListenAddr::parse(exposed)
                .expect(exposed)
                .exposure_warning()
                .expect(exposed);
            assert!(
                warning.starts_with(&format!(
                    "--metrics-listen {exposed} can be reached from other hosts"
                )),
                "{warning}"
            );
            assert!(
                warning.contains("targets") && warning.contains("programs"),
                "{warning}"
            );
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_to_write() {
        for bad in [
            "",
            "9117",
            ":9117",
            "localhost:9117",
            "127.0.0.1",
            "127.0.0.1:99999",
            "::1:9117",
            "http://127.0.0.1:9117",
            "unix:run/httpok.sock",
            "unix:",
        ] {
            let err = ListenAddr::parse(bad).expect_err(bad);
            assert!(err.contains("unix:/run/httpok.sock"), "{bad:?}: {err}");
        }
        let long = format!("unix:/{}", "x".repeat(120));
        assert!(
            ListenAddr::parse(&long)
                .expect_err("too long")
                .contains("107 bytes")
        );
    }
}
