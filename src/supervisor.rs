//! The supervisord client: XML-RPC over `unix://` sockets and `http://` servers, with
//! Basic auth, a timeout on every call and a cap on every reply. Speaks HTTP/1.0 by hand
//! (the server closes after each reply, and its Content-Length can be short for
//! non-ASCII replies, so replies are read to EOF). Never goes through a proxy.
//!
//! [`Supervisor`] is the small trait the rest of httpok uses, so restarts can be
//! unit-tested against a fake; [`Client`] is the real one.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::model::ProcessInfo;
use crate::probe::base64;
use crate::xmlrpc::{self, Fault, Value};

/// Timeout of a blocking stopProcess: longer than any sane stopwaitsecs.
pub const STOP_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Largest reply read (getAllProcessInfo for thousands of processes fits easily).
pub const MAX_REPLY_BYTES: usize = 32 * 1024 * 1024;

/// supervisord's fault codes that httpok branches on.
pub mod fault {
    pub const SHUTDOWN_STATE: i64 = 6;
    pub const BAD_NAME: i64 = 10;
    pub const ALREADY_STARTED: i64 = 60;
    pub const NOT_RUNNING: i64 = 70;
}

/// Why a call to supervisord failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The socket or port could not be reached.
    Connect(String),
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

/// What httpok needs from supervisord.
pub trait Supervisor: Send + Sync {
    fn all_process_info(&self) -> Result<Vec<ProcessInfo>, ClientError>;
    fn process_info(&self, namespec: &str) -> Result<ProcessInfo, ClientError>;
    fn stop_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError>;
    fn start_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError>;
}

/// Where supervisord listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp {
        host: String,
        port: u16,
        path: String,
    },
}

impl Endpoint {
    /// Parses SUPERVISOR_SERVER_URL: `unix:///abs/path.sock` or `http://host:port[/path]`.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        // Error messages show the URL without any user:password@ in it.
        let shown = crate::target::redact(url);
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
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse().map_err(|_| {
                    format!("{shown}: bad port {p:?}: use a number from 1 to 65535")
                })?,
            ),
            None => (hostport, 80),
        };
        let host = match host.trim_start_matches('[').trim_end_matches(']') {
            "" | "*" => "localhost",
            h => h,
        };
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

/// The real client.
pub struct Client {
    endpoint: Endpoint,
    authorization: Option<String>,
    timeout: Duration,
}

impl Client {
    pub fn new(
        endpoint: Endpoint,
        username: Option<&str>,
        password: Option<&str>,
        timeout: Duration,
    ) -> Client {
        let authorization = username.map(|user| {
            let pass = password.unwrap_or("");
            format!("Basic {}", base64(format!("{user}:{pass}").as_bytes()))
        });
        Client {
            endpoint,
            authorization,
            timeout,
        }
    }

    /// One XML-RPC call under the client's timeout.
    pub fn call(&self, method: &str, params: &[Value]) -> Result<Value, ClientError> {
        self.call_within(self.timeout, method, params)
    }

    /// One XML-RPC call under its own timeout (a blocking stop may take stopwaitsecs).
    pub fn call_within(
        &self,
        timeout: Duration,
        method: &str,
        params: &[Value],
    ) -> Result<Value, ClientError> {
        let body = xmlrpc::encode_call(method, params);
        let deadline = Instant::now() + timeout;
        let reply = self
            .round_trip(&body, deadline)
            .map_err(|e| match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                    ClientError::Timeout(timeout)
                }
                _ => ClientError::Connect(e.to_string()),
            })?;
        let body = parse_http_reply(&reply)?;
        match xmlrpc::decode_response(body) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(fault)) => Err(ClientError::Fault(fault)),
            Err(e) => Err(ClientError::Malformed(e.to_string())),
        }
    }

    fn round_trip(&self, body: &str, deadline: Instant) -> io::Result<Vec<u8>> {
        match &self.endpoint {
            Endpoint::Unix(path) => {
                let stream = crate::unix_transport::connect_before(path, deadline)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                self.exchange(stream, "localhost", "/RPC2", body, deadline)
            }
            Endpoint::Tcp { host, port, path } => {
                let addrs = (host.as_str(), *port).to_socket_addrs()?;
                let mut last =
                    io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
                for addr in addrs {
                    let remaining = remaining(deadline)?;
                    match TcpStream::connect_timeout(&addr, remaining) {
                        Ok(stream) => {
                            let host_header = format!("{host}:{port}");
                            return self.exchange(stream, &host_header, path, body, deadline);
                        }
                        Err(e) => last = io::Error::new(e.kind(), format!("{addr}: {e}")),
                    }
                }
                Err(last)
            }
        }
    }

    fn exchange<S: Read + Write + SetTimeouts>(
        &self,
        mut stream: S,
        host: &str,
        path: &str,
        body: &str,
        deadline: Instant,
    ) -> io::Result<Vec<u8>> {
        let mut request = format!(
            "POST {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: httpok/{}\r\n\
             Content-Type: text/xml\r\nContent-Length: {}\r\n",
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        if let Some(auth) = &self.authorization {
            request.push_str("Authorization: ");
            request.push_str(auth);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.set_timeouts(Some(remaining(deadline)?))?;
        stream.write_all(request.as_bytes())?;
        stream.flush()?;
        let mut reply = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            stream.set_timeouts(Some(remaining(deadline)?))?;
            let n = match stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(reply);
            }
            if reply.len() + n > MAX_REPLY_BYTES {
                return Err(io::Error::other(format!(
                    "reply larger than {MAX_REPLY_BYTES} bytes"
                )));
            }
            reply.extend_from_slice(&chunk[..n]);
        }
    }
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
    } else {
        Ok(left)
    }
}

/// Read and write timeouts for both socket kinds.
trait SetTimeouts {
    fn set_timeouts(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl SetTimeouts for UnixStream {
    fn set_timeouts(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }
}

impl SetTimeouts for TcpStream {
    fn set_timeouts(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }
}

/// Splits an HTTP reply read to EOF; returns the body of a 200.
pub fn parse_http_reply(reply: &[u8]) -> Result<&[u8], ClientError> {
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| ClientError::Malformed("no HTTP header in the reply".into()))?;
    let head = String::from_utf8_lossy(&reply[..split]);
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/"))
        .ok_or_else(|| {
            ClientError::Malformed(format!(
                "bad status line {:?}",
                status_line.chars().take(60).collect::<String>()
            ))
        })?;
    match status {
        200 => Ok(&reply[split + 4..]),
        401 => Err(ClientError::Unauthorized),
        other => Err(ClientError::Http(other)),
    }
}

impl Supervisor for Client {
    fn all_process_info(&self) -> Result<Vec<ProcessInfo>, ClientError> {
        let value = self.call("supervisor.getAllProcessInfo", &[])?;
        value
            .as_array()
            .ok_or_else(|| {
                ClientError::Malformed("getAllProcessInfo did not return an array".into())
            })?
            .iter()
            .map(|v| ProcessInfo::from_value(v).map_err(ClientError::Malformed))
            .collect()
    }

    fn process_info(&self, namespec: &str) -> Result<ProcessInfo, ClientError> {
        ProcessInfo::from_value(&self.call("supervisor.getProcessInfo", &[namespec.into()])?)
            .map_err(ClientError::Malformed)
    }

    fn stop_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError> {
        // With wait, supervisord answers once the process is gone: up to its
        // stopwaitsecs plus the SIGKILL, which only supervisord.conf knows.
        let timeout = if wait {
            STOP_CALL_TIMEOUT
        } else {
            self.timeout
        };
        self.call_within(
            timeout,
            "supervisor.stopProcess",
            &[namespec.into(), wait.into()],
        )
        .map(|_| ())
    }

    fn start_process(&self, namespec: &str, wait: bool) -> Result<(), ClientError> {
        self.call("supervisor.startProcess", &[namespec.into(), wait.into()])
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn server_urls_parse_as_supervisord_writes_them() {
        assert_eq!(
            Endpoint::parse("unix:///var/run/supervisor.sock"),
            Ok(Endpoint::Unix("/var/run/supervisor.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:9001"),
            Ok(Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 9001,
                path: "/RPC2".into()
            })
        );
        assert_eq!(
            Endpoint::parse("http://*:9001"),
            Ok(Endpoint::Tcp {
                host: "localhost".into(),
                port: 9001,
                path: "/RPC2".into()
            })
        );
        assert!(Endpoint::parse("unix://relative.sock").is_err());
        assert!(Endpoint::parse("ftp://h").is_err());
        assert!(Endpoint::parse("http://h:x").is_err());
    }

    #[test]
    fn http_replies_map_to_errors_by_status() {
        assert_eq!(
            parse_http_reply(b"HTTP/1.0 200 OK\r\n\r\nbody"),
            Ok(&b"body"[..])
        );
        assert_eq!(
            parse_http_reply(b"HTTP/1.0 401 Unauthorized\r\n\r\n"),
            Err(ClientError::Unauthorized)
        );
        assert_eq!(
            parse_http_reply(b"HTTP/1.0 500 Oops\r\n\r\n"),
            Err(ClientError::Http(500))
        );
        assert!(matches!(
            parse_http_reply(b"garbage"),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            parse_http_reply(b"SSH-2.0\r\n\r\n"),
            Err(ClientError::Malformed(_))
        ));
    }

    #[test]
    fn the_401_message_names_the_variables_to_set() {
        let text = ClientError::Unauthorized.to_string();
        assert!(text.contains("SUPERVISOR_USERNAME") && text.contains("SUPERVISOR_PASSWORD"));
    }

    fn one_shot_server(reply: &'static [u8]) -> (u16, thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handle = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Read until the whole body (by Content-Length) has arrived.
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if n == 0 || text.contains("</methodCall>") {
                    break;
                }
            }
            stream.write_all(reply).expect("reply");
            String::from_utf8_lossy(&request).into_owned()
        });
        (port, handle)
    }

    #[test]
    fn a_call_sends_basic_auth_and_decodes_the_reply() {
        let (port, server) = one_shot_server(
            b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n<methodResponse><params><param><value><boolean>1</boolean></value></param></params></methodResponse>",
        );
        let client = Client::new(
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port,
                path: "/RPC2".into(),
            },
            Some("user"),
            Some("pass"),
            Duration::from_secs(5),
        );
        // Content-Length says 3, but the reply is read to EOF.
        assert_eq!(
            client.call("supervisor.stopProcess", &["web".into()]),
            Ok(Value::Bool(true))
        );
        let request = server.join().expect("server");
        assert!(request.starts_with("POST /RPC2 HTTP/1.0\r\n"));
        assert!(request.contains("Authorization: Basic dXNlcjpwYXNz\r\n"));
        assert!(request.contains("<string>web</string>"));
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let client = Client::new(
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port,
                path: "/RPC2".into(),
            },
            None,
            None,
            Duration::from_millis(500),
        );
        let started = Instant::now();
        assert_eq!(
            client.call("supervisor.getState", &[]),
            Err(ClientError::Timeout(Duration::from_millis(500)))
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }

    #[test]
    fn a_missing_socket_is_a_connect_error() {
        let client = Client::new(
            Endpoint::Unix("/nonexistent/httpok-test.sock".into()),
            None,
            None,
            Duration::from_secs(1),
        );
        assert!(matches!(
            client.call("supervisor.getState", &[]),
            Err(ClientError::Connect(_))
        ));
    }

    #[test]
    fn process_info_reads_supervisord_fields() {
        let mut members = std::collections::BTreeMap::new();
        for (k, v) in [("name", "w0"), ("group", "workers"), ("description", "d")] {
            members.insert(k.to_string(), Value::from(v));
        }
        for (k, v) in [("state", 20), ("pid", 77), ("start", 100), ("now", 130)] {
            members.insert(k.to_string(), Value::Int(v));
        }
        let info = ProcessInfo::from_value(&Value::Struct(members)).expect("valid");
        assert_eq!(info.namespec(), "workers:w0");
        assert!(info.is_running());
        assert_eq!(info.uptime(), 30);
        assert_eq!(info.pid, 77);
        assert!(ProcessInfo::from_value(&Value::Int(1)).is_err());
    }
}
