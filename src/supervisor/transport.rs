//! One HTTP/1.0 request to supervisord and its reply, over its unix socket or TCP port.
//!
//! Every step (resolving, connecting, sending, each read) runs under what is left of
//! one deadline ([`crate::deadline`]), so a call never outlives its timeout whatever the
//! peer does, and leaves no thread or socket behind. The reply
//! is read to EOF (an HTTP/1.0 server closes after replying) and capped at
//! [`MAX_REPLY_BYTES`]. Its Content-Length is never used: supervisord's deferred
//! replies (stopProcess/startProcess with wait=true) set it to the length of a Python
//! str, in characters, so it is short by one or more bytes for every non-ASCII
//! character in them (supervisor/xmlrpc.py, `DeferredXMLRPCResponse.getresponse`).
//!
//! No proxy is ever involved. Does not own what the body means (`client.rs`, `xmlrpc`).

use std::io;
use std::time::Instant;

use super::{ClientError, Endpoint};
use crate::deadline::{self, ResolveError, Stream};

/// Largest reply read (getAllProcessInfo for thousands of processes fits easily).
pub const MAX_REPLY_BYTES: usize = 32 * 1024 * 1024;

/// Most header lines parsed in a reply; supervisord sends five.
const MAX_HEADERS: usize = 64;

/// Why an exchange produced no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TransportError {
    /// The deadline passed while resolving, connecting, sending or reading.
    Timeout,
    /// The peer could not be reached or the connection broke; the text names the peer.
    Io(String),
    /// The reply grew past [`MAX_REPLY_BYTES`].
    TooLarge,
    /// The unix socket refused httpok's user; the text says who and what to do.
    Denied(String),
}

/// An XML-RPC POST: the body and the optional `Authorization` header value.
pub(super) struct Request<'a> {
    pub body: &'a str,
    pub authorization: Option<&'a str>,
}

/// Sends `request` to `endpoint` and returns the whole reply, all before `deadline`.
pub(super) fn exchange(
    endpoint: &Endpoint,
    request: &Request<'_>,
    deadline: Instant,
) -> Result<Vec<u8>, TransportError> {
    match endpoint {
        Endpoint::Unix(path) => {
            let peer = format!("unix socket {}", path.display());
            let stream = deadline::connect_unix(path, deadline).map_err(|e| {
                if super::denied::is_denied(&e) {
                    TransportError::Denied(super::denied::explain(path))
                } else {
                    failed(&peer, e)
                }
            })?;
            // supervisord ignores the Host header on its socket; HTTP wants one.
            let bytes = encode(request, "localhost", "/RPC2");
            send_and_read_to_eof(&Stream::Unix(stream), &peer, &bytes, deadline)
        }
        Endpoint::Tcp { host, port, path } => {
            let (stream, peer) = connect_tcp(host, *port, deadline)?;
            let host_header = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let bytes = encode(request, &host_header, path);
            send_and_read_to_eof(&stream, &peer, &bytes, deadline)
        }
    }
}

/// The request as sent: HTTP/1.0, so the server closes the connection after its reply.
fn encode(request: &Request<'_>, host: &str, path: &str) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: httpok/{}\r\n\
         Content-Type: text/xml\r\nContent-Length: {}\r\n",
        env!("CARGO_PKG_VERSION"),
        request.body.len()
    );
    if let Some(auth) = request.authorization {
        head.push_str("Authorization: ");
        head.push_str(auth);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(request.body.as_bytes());
    bytes
}

/// Tries each address of `host` in turn; the error is the last address's.
fn connect_tcp(
    host: &str,
    port: u16,
    deadline: Instant,
) -> Result<(Stream, String), TransportError> {
    let addrs = deadline::resolve(host, port, deadline).map_err(|e| match e {
        ResolveError::Timeout => TransportError::Timeout,
        ResolveError::Lookup(msg) | ResolveError::Busy(msg) => TransportError::Io(msg),
    })?;
    let peer = format!("{host}:{port}");
    let stream = deadline::connect_tcp(&addrs, deadline).map_err(|e| failed(&peer, e))?;
    let peer = stream.peer_addr().map_or(peer, |addr| addr.to_string());
    Ok((Stream::Tcp(stream), peer))
}

/// Writes `request`, then reads until the server closes, each step bounded by what is
/// left until `deadline` (a per-read timeout alone would let a server that drips one
/// byte at a time hold the call forever).
fn send_and_read_to_eof(
    stream: &Stream,
    peer: &str,
    request: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, TransportError> {
    stream
        .write_all_before(request, deadline)
        .map_err(|e| failed(&format!("sending to {peer}"), e))?;
    stream
        .read_to_end_before(MAX_REPLY_BYTES, deadline)
        .map_err(|e| match e.kind() {
            // read_to_end_before's "longer than the limit".
            io::ErrorKind::InvalidData => TransportError::TooLarge,
            _ => failed(&format!("reading the reply from {peer}"), e),
        })
}

/// A deadline that passed is a timeout; anything else keeps its text, prefixed with
/// what was being done.
fn failed(doing: &str, e: io::Error) -> TransportError {
    if deadline::is_timeout(&e) {
        TransportError::Timeout
    } else {
        TransportError::Io(format!("{doing}: {e}"))
    }
}

/// Splits an HTTP reply read to EOF; returns the body of a 200: every byte after the
/// head, whatever Content-Length says (see the module doc for why).
pub fn parse_http_reply(reply: &[u8]) -> Result<&[u8], ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(reply) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return Err(ClientError::Malformed(format!(
                "the reply ended inside its HTTP header: {}",
                preview(reply)
            )));
        }
        Err(e) => {
            return Err(ClientError::Malformed(format!(
                "not an HTTP reply ({e}): {}",
                preview(reply)
            )));
        }
    };
    match response.code {
        // httparse's head length is within the bytes it parsed.
        Some(200) => Ok(&reply[head_len..]),
        Some(401) => Err(ClientError::Unauthorized),
        Some(status) => Err(ClientError::Http(status)),
        // httparse sets the code of every complete head; not worth a panic if not.
        None => Err(ClientError::Malformed("no status in the reply".into())),
    }
}

/// The start of a reply, quoted, for an error message.
fn preview(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(&reply[..reply.len().min(60)]);
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::thread;
    use std::time::Duration;

    const REPLY_HEAD: &[u8] = b"HTTP/1.0 200 OK\r\nServer: Medusa/1.12\r\n\
        Date: Wed, 02 Dec 2026 00:45:28 GMT\r\nContent-Type: text/xml\r\n\
        Content-Length: 795\r\n\r\n";

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
        for garbage in [
            &b"garbage"[..],
            b"SSH-2.0\r\n\r\n",
            b"HTTP/1.0 2x0 OK\r\n\r\n",
        ] {
            assert!(
                matches!(parse_http_reply(garbage), Err(ClientError::Malformed(_))),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn the_body_is_everything_after_the_head_whatever_content_length_says() {
        // supervisord's deferred reply: Content-Length 795 (characters), 816 bytes.
        let body = "é".repeat(21) + &"x".repeat(774);
        assert_eq!(body.chars().count(), 795);
        let reply = [REPLY_HEAD, body.as_bytes()].concat();
        assert_eq!(parse_http_reply(&reply), Ok(body.as_bytes()));
    }

    #[test]
    fn every_prefix_that_cuts_the_head_short_is_malformed() {
        for end in 0..REPLY_HEAD.len() {
            assert!(
                matches!(
                    parse_http_reply(&REPLY_HEAD[..end]),
                    Err(ClientError::Malformed(_))
                ),
                "prefix of {end} bytes"
            );
        }
        assert_eq!(parse_http_reply(REPLY_HEAD), Ok(&b""[..]));
    }

    #[test]
    fn a_reply_is_read_until_the_server_closes() {
        let (ours, mut theirs) = UnixStream::pair().expect("socket pair");
        let server = thread::spawn(move || {
            let mut request = vec![0u8; 5];
            theirs.read_exact(&mut request).expect("request");
            theirs.write_all(b"HTTP/1.0 200 OK\r\n").expect("write");
            theirs
                .write_all(b"Content-Length: 1\r\n\r\nall of it")
                .expect("write");
            request
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let reply =
            send_and_read_to_eof(&Stream::Unix(ours), "test", b"hello", deadline).expect("reply");
        assert_eq!(parse_http_reply(&reply), Ok(&b"all of it"[..]));
        assert_eq!(server.join().expect("server"), b"hello");
    }

    #[test]
    fn a_server_that_drips_bytes_still_meets_the_deadline() {
        let (ours, mut theirs) = UnixStream::pair().expect("socket pair");
        // Each byte comes well within any per-read timeout, until the reader goes: only
        // the deadline can end the read, and the error says it did.
        let dripper = thread::spawn(move || {
            while theirs.write_all(b"x").is_ok() {
                thread::sleep(Duration::from_millis(50));
            }
        });
        let deadline = Instant::now() + Duration::from_millis(500);
        assert_eq!(
            send_and_read_to_eof(&Stream::Unix(ours), "test", b"", deadline),
            Err(TransportError::Timeout)
        );
        dripper.join().expect("dripper");
    }

    #[test]
    fn a_reply_past_the_cap_is_refused() {
        let (ours, mut theirs) = UnixStream::pair().expect("socket pair");
        let flood = thread::spawn(move || {
            let chunk = vec![b'x'; 1024 * 1024];
            for _ in 0..=MAX_REPLY_BYTES / chunk.len() {
                if theirs.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        assert_eq!(
            send_and_read_to_eof(&Stream::Unix(ours), "test", b"", deadline),
            Err(TransportError::TooLarge)
        );
        flood.join().expect("flood");
    }

    #[test]
    fn a_missing_socket_names_the_path() {
        let endpoint = Endpoint::Unix("/nonexistent/httpok-test.sock".into());
        let request = Request {
            body: "",
            authorization: None,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        match exchange(&endpoint, &request, deadline) {
            Err(TransportError::Io(msg)) => {
                assert!(msg.contains("/nonexistent/httpok-test.sock"), "{msg}")
            }
            other => panic!("expected an io error, got {other:?}"),
        }
    }
}
