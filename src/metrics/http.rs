//! The endpoint's HTTP, sans IO: [`try_request`] judges the bytes of a request head
//! read so far, [`Response`] is the answer as bytes. One request per connection,
//! answered `Connection: close`; request bodies are never read.

/// The longest request head read; a longer one is refused with 431. Prometheus sends
/// about 300 bytes.
pub const MAX_HEAD: usize = 8 * 1024;
/// The most header lines in a head (see [`Refusal::HeadTooLarge`]).
const MAX_HEADERS: usize = 32;

/// A page the endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /metrics`: the Prometheus text format.
    Metrics,
    /// `GET /status`: the snapshot as JSON.
    Status,
}

/// Why a request gets no page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400: not an HTTP request head.
    BadRequest,
    /// 404: neither /metrics nor /status.
    NotFound,
    /// 405: /metrics or /status with a method other than GET.
    MethodNotAllowed,
    /// 431: the head is over [`MAX_HEAD`] bytes or 32 header lines.
    HeadTooLarge,
    /// 500: the page could not be made.
    Internal,
}

impl Refusal {
    fn status(self) -> (u16, &'static str) {
        match self {
            Refusal::BadRequest => (400, "Bad Request"),
            Refusal::NotFound => (404, "Not Found"),
            Refusal::MethodNotAllowed => (405, "Method Not Allowed"),
            Refusal::HeadTooLarge => (431, "Request Header Fields Too Large"),
            Refusal::Internal => (500, "Internal Server Error"),
        }
    }
}

/// Judges the head read so far: `Ok(None)` while it is incomplete and may still fit,
/// `Ok(Some(route))` for a page to serve, `Err` for a refusal. Bytes after the head
/// (a body, a pipelined request) are ignored.
pub fn try_request(input: &[u8]) -> Result<Option<Route>, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head = &input[..input.len().min(MAX_HEAD)];
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) if input.len() < MAX_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::HeadTooLarge);
        }
        Err(_) => return Err(Refusal::BadRequest),
    }
    let path = request.path.unwrap_or_default();
    let path = path.split_once('?').map_or(path, |(path, _query)| path);
    let route = match path {
        "/metrics" => Route::Metrics,
        "/status" => Route::Status,
        _ => return Err(Refusal::NotFound),
    };
    if request.method != Some("GET") {
        return Err(Refusal::MethodNotAllowed);
    }
    Ok(Some(route))
}

/// An answer, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    /// 200 with this body.
    pub fn page(content_type: &'static str, body: Vec<u8>) -> Response {
        Response {
            status: 200,
            reason: "OK",
            content_type,
            body,
        }
    }

    /// The refusal's status with a one-line text body saying what is served.
    pub fn refusal(refusal: Refusal) -> Response {
        let (status, reason) = refusal.status();
        let hint = match refusal {
            Refusal::NotFound | Refusal::MethodNotAllowed => ": GET /metrics or GET /status",
            _ => "",
        };
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: format!("{status} {reason}{hint}\n").into_bytes(),
        }
    }

    /// Status line, headers and body, as sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        let allow = if self.status == 405 {
            "Allow: GET\r\n"
        } else {
            ""
        };
        let mut bytes = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}\
             Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9117\r\n\
        User-Agent: Prometheus/2.53.0\r\nAccept: text/plain;version=0.0.4\r\n\r\n";

    #[test]
    fn no_prefix_of_a_head_is_judged_until_it_is_whole() {
        for end in 0..SCRAPE.len() {
            assert_eq!(
                try_request(&SCRAPE[..end]),
                Ok(None),
                "prefix of {end} bytes"
            );
        }
        assert_eq!(try_request(SCRAPE), Ok(Some(Route::Metrics)));
    }

    #[test]
    fn the_two_pages_are_get_only_and_everything_else_is_404() {
        let cases: &[(&str, Result<Option<Route>, Refusal>)] = &[
            ("GET /status HTTP/1.0", Ok(Some(Route::Status))),
            ("GET /metrics?x=1 HTTP/1.0", Ok(Some(Route::Metrics))),
            ("HEAD /metrics HTTP/1.1", Err(Refusal::MethodNotAllowed)),
            ("POST /status HTTP/1.1", Err(Refusal::MethodNotAllowed)),
            ("GET / HTTP/1.1", Err(Refusal::NotFound)),
            ("GET /metrics/ HTTP/1.1", Err(Refusal::NotFound)),
            ("GET /../etc/passwd HTTP/1.1", Err(Refusal::NotFound)),
            ("DELETE /x HTTP/1.1", Err(Refusal::NotFound)),
            ("GET\0/metrics HTTP/1.1", Err(Refusal::BadRequest)),
            ("SSH-2.0-OpenSSH_9.6", Err(Refusal::BadRequest)),
        ];
        for (line, want) in cases {
            let head = format!("{line}\r\nHost: x\r\n\r\n");
            assert_eq!(try_request(head.as_bytes()), *want, "{line:?}");
        }
    }

    #[test]
    fn a_head_over_the_limit_is_refused_without_waiting_for_its_end() {
        let mut head = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
        head.resize(MAX_HEAD - 1, b'a');
        assert_eq!(try_request(&head), Ok(None), "still fits");
        head.push(b'a');
        assert_eq!(try_request(&head), Err(Refusal::HeadTooLarge));
        head.resize(64 * 1024, b'a');
        assert_eq!(try_request(&head), Err(Refusal::HeadTooLarge));
    }

    #[test]
    fn too_many_header_lines_are_refused_too() {
        let mut head = String::from("GET /metrics HTTP/1.1\r\n");
        for i in 0..=MAX_HEADERS {
            head.push_str(&format!("X-{i}: y\r\n"));
        }
        head.push_str("\r\n");
        assert_eq!(try_request(head.as_bytes()), Err(Refusal::HeadTooLarge));
    }

    #[test]
    fn responses_say_their_length_and_close() {
        let bytes = Response::page("text/plain", b"hi".to_vec()).to_bytes();
        let text = String::from_utf8(bytes).expect("ascii");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("\r\nContent-Length: 2\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nhi"), "{text}");
        let refused = String::from_utf8(Response::refusal(Refusal::MethodNotAllowed).to_bytes())
            .expect("ascii");
        assert!(
            refused.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{refused}"
        );
        assert!(refused.contains("\r\nAllow: GET\r\n"), "{refused}");
        assert!(
            refused.ends_with("GET /metrics or GET /status\n"),
            "{refused}"
        );
    }
}
