//! The real supervisord client: one XML-RPC call per connection, with Basic auth and a
//! timeout on every call. The wire is `transport.rs`; the codec is [`crate::supervisor::xmlrpc`].

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::transport::{self, MAX_REPLY_BYTES, Request, TransportError};
use super::{ClientError, Endpoint, STOP_CALL_TIMEOUT, Supervisor, parse_http_reply};
use crate::supervisor::model::ProcessInfo;
use crate::supervisor::xmlrpc::{self, Value};

/// Calls supervisord's XML-RPC interface at one endpoint.
pub struct Client {
    endpoint: Endpoint,
    /// `Basic base64(user:password)`, sent with every call when a user is set.
    authorization: Option<String>,
    /// The timeout of every call but a blocking stop.
    timeout: Duration,
}

impl Client {
    /// A client for `endpoint`; with a `username`, every call sends Basic auth (an
    /// absent password is empty, as supervisorctl sends it).
    pub fn new(
        endpoint: Endpoint,
        username: Option<&str>,
        password: Option<&str>,
        timeout: Duration,
    ) -> Client {
        let authorization = username.map(|user| {
            let pass = password.unwrap_or("");
            format!("Basic {}", BASE64.encode(format!("{user}:{pass}")))
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
        let request = Request {
            body: &body,
            authorization: self.authorization.as_deref(),
        };
        let reply = transport::exchange(&self.endpoint, &request, Instant::now() + timeout)
            .map_err(|e| match e {
                TransportError::Timeout => ClientError::Timeout(timeout),
                TransportError::Io(msg) => ClientError::Connect(msg),
                TransportError::Denied(msg) => ClientError::Denied(msg),
                TransportError::TooLarge => ClientError::Malformed(format!(
                    "{method} replied with more than {} MiB",
                    MAX_REPLY_BYTES >> 20
                )),
            })?;
        match xmlrpc::decode_response(parse_http_reply(&reply)?) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(fault)) => Err(ClientError::Fault(fault)),
            Err(e) => Err(ClientError::Malformed(format!("{method}: {e}"))),
        }
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

    fn stop_wait_secs(&self) -> Result<Vec<(String, i64)>, ClientError> {
        let value = self.call("supervisor.getAllConfigInfo", &[])?;
        Ok(config_entries(&value)?
            .filter_map(|(namespec, members)| {
                Some((namespec, members.get("stopwaitsecs")?.as_i64()?))
            })
            .collect())
    }

    fn kill_as_group(&self, namespec: &str) -> Result<Option<bool>, ClientError> {
        let value = self.call("supervisor.getAllConfigInfo", &[])?;
        Ok(config_entries(&value)?
            .find(|(name, _)| name == namespec)
            .and_then(|(_, members)| members.get("killasgroup")?.as_bool()))
    }
}

/// getAllConfigInfo's entries by namespec (one without a name or group is left out).
fn config_entries(
    value: &Value,
) -> Result<impl Iterator<Item = (String, &std::collections::BTreeMap<String, Value>)>, ClientError>
{
    let entries = value
        .as_array()
        .ok_or_else(|| ClientError::Malformed("getAllConfigInfo did not return an array".into()))?;
    Ok(entries.iter().filter_map(|entry| {
        let members = entry.as_struct()?;
        let name = members.get("name")?.as_str()?;
        let group = members.get("group")?.as_str()?;
        let namespec = if name == group {
            name.to_string()
        } else {
            format!("{group}:{name}")
        };
        Some((namespec, members))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;

    const TRUE_REPLY: &str = "<methodResponse><params><param><value><boolean>1</boolean>\
        </value></param></params></methodResponse>";

    /// Serves one connection: reads the request up to the end of its XML, answers
    /// `reply`, closes. Returns the port and, on join, the request as received.
    fn one_shot_server(reply: Vec<u8>) -> (u16, thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handle = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                request.extend_from_slice(&buf[..n]);
                if n == 0 || request.ends_with(b"</methodCall>\n") {
                    break;
                }
            }
            stream.write_all(&reply).expect("reply");
            String::from_utf8_lossy(&request).into_owned()
        });
        (port, handle)
    }

    fn tcp_client(port: u16, user: Option<&str>, timeout: Duration) -> Client {
        let endpoint = Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
            path: "/RPC2".into(),
        };
        Client::new(endpoint, user, user.map(|_| "pass"), timeout)
    }

    #[test]
    fn a_call_sends_basic_auth_and_reads_past_a_short_content_length() {
        let reply = format!("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n{TRUE_REPLY}");
        let (port, server) = one_shot_server(reply.into_bytes());
        let client = tcp_client(port, Some("user"), Duration::from_secs(5));
        assert_eq!(
            client.call("supervisor.stopProcess", &["web".into()]),
            Ok(Value::Bool(true))
        );
        let request = server.join().expect("server");
        assert!(request.starts_with("POST /RPC2 HTTP/1.0\r\n"), "{request}");
        assert!(request.contains(&format!("Host: 127.0.0.1:{port}\r\n")));
        assert!(request.contains("Authorization: Basic dXNlcjpwYXNz\r\n"));
        assert!(request.contains("<string>web</string>"));
    }

    #[test]
    fn without_a_user_no_authorization_is_sent() {
        let reply = format!("HTTP/1.0 200 OK\r\n\r\n{TRUE_REPLY}");
        let (port, server) = one_shot_server(reply.into_bytes());
        let client = tcp_client(port, None, Duration::from_secs(5));
        assert_eq!(
            client.call("supervisor.getState", &[]),
            Ok(Value::Bool(true))
        );
        let request = server.join().expect("server");
        assert!(!request.contains("Authorization"), "{request}");
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        // Connected by the kernel, never read or answered for as long as the test
        // runs: only the deadline can end the call, and the error says it did.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let client = tcp_client(port, None, Duration::from_millis(500));
        assert_eq!(
            client.call("supervisor.getState", &[]),
            Err(ClientError::Timeout(Duration::from_millis(500)))
        );
        drop(listener);
    }

    #[test]
    fn a_missing_socket_is_a_connect_error_naming_it() {
        let client = Client::new(
            Endpoint::Unix("/nonexistent/httpok-test.sock".into()),
            None,
            None,
            Duration::from_secs(1),
        );
        match client.call("supervisor.getState", &[]) {
            Err(ClientError::Connect(msg)) => assert!(msg.contains("httpok-test.sock"), "{msg}"),
            other => panic!("expected a connect error, got {other:?}"),
        }
    }

    #[test]
    fn a_reply_that_is_not_xml_rpc_is_malformed_and_names_the_method() {
        let (port, _server) = one_shot_server(b"HTTP/1.0 200 OK\r\n\r\n<html/>".to_vec());
        let client = tcp_client(port, None, Duration::from_secs(5));
        match client.call("supervisor.getState", &[]) {
            Err(ClientError::Malformed(msg)) => assert!(msg.contains("getState"), "{msg}"),
            other => panic!("expected a malformed reply, got {other:?}"),
        }
    }

    #[test]
    fn all_process_info_reads_supervisords_structs() {
        let info = "<value><struct>\
            <member><name>name</name><value><string>w0</string></value></member>\
            <member><name>group</name><value><string>workers</string></value></member>\
            <member><name>description</name><value><string>d</string></value></member>\
            <member><name>state</name><value><int>20</int></value></member>\
            <member><name>pid</name><value><int>77</int></value></member>\
            <member><name>start</name><value><int>100</int></value></member>\
            <member><name>now</name><value><int>130</int></value></member>\
            </struct></value>";
        let reply = format!(
            "HTTP/1.0 200 OK\r\n\r\n<methodResponse><params><param><value><array><data>\
             {info}</data></array></value></param></params></methodResponse>"
        );
        let (port, _server) = one_shot_server(reply.into_bytes());
        let client = tcp_client(port, None, Duration::from_secs(5));
        let all = client.all_process_info().expect("process list");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].namespec(), "workers:w0");
        assert!(all[0].is_running());
        assert_eq!((all[0].pid, all[0].uptime()), (77, 30));
    }
}
