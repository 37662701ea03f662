//! Talking to supervisord: XML-RPC over its `unix://` socket or `http://` port.
//!
//! Owns the [`Supervisor`] trait (what the rest of httpok needs from supervisord, so
//! restarts can be unit-tested against a fake), the errors a call can end in
//! ([`ClientError`], with the [`fault`] codes callers branch on) and the real client:
//!
//! * `endpoint.rs`: SUPERVISOR_SERVER_URL into an [`Endpoint`].
//! * `transport.rs`: one HTTP/1.0 request and its reply over a unix or TCP socket, a
//!   deadline on every step, the reply read to EOF (supervisord's Content-Length is
//!   short for non-ASCII deferred replies) under a
//!   [`MAX_REPLY_BYTES`](transport::MAX_REPLY_BYTES) cap. Never goes through a proxy.
//! * `client.rs`: [`Client`], Basic auth and `impl Supervisor for Client`.
//! * `denied.rs`: a unix socket that refused httpok's user, explained (who httpok runs
//!   as, the socket's owner and mode, the way out).
//!
//! Does not own the XML-RPC codec ([`crate::supervisor::xmlrpc`]), the process info struct
//! ([`crate::supervisor::model`]) or what to do when a call fails ([`crate::restart`]).

mod client;
mod denied;
mod endpoint;
#[cfg(test)]
pub(crate) mod fake;
pub mod model;
mod transport;
pub mod xmlrpc;

use std::fmt;
use std::time::Duration;

use crate::supervisor::model::ProcessInfo;
use crate::supervisor::xmlrpc::Fault;

pub use client::Client;
pub use endpoint::Endpoint;
pub use transport::parse_http_reply;

/// Timeout of a blocking stopProcess: longer than any sane stopwaitsecs.
pub const STOP_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// supervisord's fault codes that httpok branches on.
pub(crate) mod fault {
    /// Every call while supervisord restarts or shuts down.
    pub const SHUTDOWN_STATE: i64 = 6;
    /// No such process or group.
    pub const BAD_NAME: i64 = 10;
    /// startProcess saw the process die at once (it is in BACKOFF; supervisord retries
    /// it up to startretries, then FATAL).
    pub const SPAWN_ERROR: i64 = 50;
    /// startProcess on a process that is already running: a harmless race.
    pub const ALREADY_STARTED: i64 = 60;
    /// stopProcess on a process that is not running: a harmless race.
    pub const NOT_RUNNING: i64 = 70;
}

/// What httpok needs from supervisord.
pub trait Supervisor: Send + Sync {
    fn all_process_info(&self) -> Result<Vec<ProcessInfo>, ClientError>;
    fn process_info(&self, namespec: &str) -> Result<ProcessInfo, ClientError>;
    fn stop_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError>;
    fn start_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError>;
    /// Every process's stopwaitsecs from supervisord.conf (getAllConfigInfo), by
    /// namespec. Fakes that do not know it answer with none.
    fn stop_wait_secs(&self) -> Result<Vec<(String, i64)>, ClientError> {
        Ok(Vec::new())
    }
    /// Whether supervisord SIGKILLs the process's whole group at stopwaitsecs
    /// (`killasgroup`, which `stopasgroup=true` implies), from getAllConfigInfo;
    /// `None` when its answer has no such key (4.3.0 has it; older ones are not
    /// checked here).
    fn kill_as_group(&self, _namespec: &str) -> Result<Option<bool>, ClientError> {
        Ok(None)
    }
}

/// Why a call to supervisord failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The socket or port could not be reached, or the connection broke.
    Connect(String),
    /// The unix socket refused httpok's user (EACCES): who httpok runs as, the
    /// socket's owner and mode, and the way out.
    Denied(String),
    /// No complete reply within the call's timeout.
    Timeout(Duration),
    /// 401: wrong or missing credentials.
    Unauthorized,
    /// Any other HTTP status.
    Http(u16),
    /// The reply was not a valid HTTP/XML-RPC response.
    Malformed(String),
    /// supervisord answered with an XML-RPC fault.
    Fault(Fault),
}

impl ClientError {
    /// The fault code, if supervisord answered with a fault.
    pub fn fault_code(&self) -> Option<i64> {
        match self {
            ClientError::Fault(f) => Some(f.code),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect(msg) => write!(
                f,
                "cannot reach supervisord: {msg} (is supervisord running, and is \
                 SUPERVISOR_SERVER_URL or --server-url its [unix_http_server] file or \
                 [inet_http_server] port?)"
            ),
            ClientError::Denied(msg) => write!(f, "cannot reach supervisord: {msg}"),
            ClientError::Timeout(d) => write!(
                f,
                "supervisord did not answer within {:.0}s (it may be busy or reloading; \
                 httpok tries again on the next tick)",
                d.as_secs_f64()
            ),
            ClientError::Unauthorized => write!(
                f,
                "supervisord refused the credentials (401): set SUPERVISOR_USERNAME and \
                 SUPERVISOR_PASSWORD in the listener's environment= line (or pass --username \
                 and --password)"
            ),
            ClientError::Http(status) => write!(
                f,
                "supervisord answered HTTP {status} (does SUPERVISOR_SERVER_URL or \
                 --server-url point at supervisord's XML-RPC server? see its log)"
            ),
            ClientError::Malformed(msg) => write!(
                f,
                "bad reply from supervisord: {msg} (does SUPERVISOR_SERVER_URL or \
                 --server-url point at supervisord?)"
            ),
            ClientError::Fault(fault) => write!(f, "{}", fault.string),
        }
    }
}

impl std::error::Error for ClientError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_401_message_names_the_variables_to_set() {
        let text = ClientError::Unauthorized.to_string();
        assert!(text.contains("SUPERVISOR_USERNAME") && text.contains("SUPERVISOR_PASSWORD"));
    }

    #[test]
    fn only_a_fault_has_a_fault_code() {
        let fault = Fault {
            code: fault::BAD_NAME,
            string: "BAD_NAME: web".into(),
        };
        assert_eq!(
            ClientError::Fault(fault).fault_code(),
            Some(fault::BAD_NAME)
        );
        assert_eq!(ClientError::Http(500).fault_code(), None);
    }
}
