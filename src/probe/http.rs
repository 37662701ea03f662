//! An `http://`, `https://` or `http+unix://` probe: one request (retried while the
//! port refuses), judged by its status and, with `-b` or a body regex, by one bounded
//! scan of its body.

use std::io::{self, Read};
use std::thread;
use std::time::Instant;

use ureq::http::Response;
use ureq::{Agent, Body, RequestBuilder};

use super::{
    Answer, CheckProber, Failure, MAX_BODY_SCAN, Matcher, Pattern, ProbeSettings, REFUSED_RETRY,
};

impl CheckProber {
    pub(super) fn probe_http(
        &self,
        agent: &Agent,
        url: &str,
        auth: Option<String>,
        deadline: Instant,
        answer: &mut Option<Answer>,
    ) -> Result<u16, Failure> {
        let mut retrying = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Failure::Timeout(self.settings.timeout));
            }
            let req = self.request(agent, url, auth.as_deref());
            // The first attempt runs under the agent's own timeout (the whole -t). Only a
            // retry after a refusal needs a shorter one, and a per-request config makes
            // ureq build a new TLS config, so it is set only then.
            let response = if !retrying {
                req.call()
            } else {
                req.config().timeout_global(Some(remaining)).build().call()
            };
            match response {
                Ok(response) => {
                    *answer = Some(describe(&response, url));
                    return self.judge(response);
                }
                Err(e) => {
                    let failure = self.classify(&e);
                    if failure == Failure::Refused && Instant::now() + REFUSED_RETRY < deadline {
                        thread::sleep(REFUSED_RETRY);
                        retrying = true;
                        continue;
                    }
                    return Err(failure);
                }
            }
        }
    }

    /// The request as `--method` and `--header` say, with its Basic auth if any.
    fn request(
        &self,
        agent: &Agent,
        url: &str,
        auth: Option<&str>,
    ) -> RequestBuilder<ureq::typestate::WithoutBody> {
        let mut req = if self.settings.method == "HEAD" {
            agent.head(url)
        } else {
            agent.get(url)
        };
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        for (name, value) in &self.settings.headers {
            req = req.header(name, value);
        }
        req
    }

    /// Healthy when the status is in the check's codes and the body passes its body
    /// rules (`body`, `body_regex`, `body_not_regex`), if any.
    fn judge(&self, mut response: Response<Body>) -> Result<u16, Failure> {
        let status = response.status().as_u16();
        if !self.settings.codes.contains(status) {
            return Err(Failure::Status(status));
        }
        let s = &self.settings;
        if s.body.is_none() && s.body_regex.is_none() && s.body_not_regex.is_none() {
            return Ok(status);
        }
        let reader = response.body_mut().as_reader();
        match scan_body(reader, s, MAX_BODY_SCAN) {
            Ok(None) => Ok(status),
            Ok(Some(failure)) => Err(failure),
            Err(e) => Err(self.classify_io(&e)),
        }
    }
}

/// What an answer says of itself: its Content-Length (-1 without a readable one), its
/// HTTP version, and whether it came over TLS (only an https URL does).
fn describe(response: &Response<Body>, url: &str) -> Answer {
    let content_length = response
        .headers()
        .get(ureq::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(-1);
    let version = match response.version() {
        ureq::http::Version::HTTP_09 => (0, 9),
        ureq::http::Version::HTTP_10 => (1, 0),
        ureq::http::Version::HTTP_2 => (2, 0),
        ureq::http::Version::HTTP_3 => (3, 0),
        _ => (1, 1),
    };
    Answer {
        content_length,
        version,
        tls: url.starts_with("https://"),
    }
}

/// Reads at most `limit` bytes of a body once, for all three body rules; the first rule
/// it breaks, if any. Stops early once the outcome is certain. Only a body that ends
/// within the limit has an end for a pattern's `$`.
fn scan_body(
    mut reader: impl Read,
    settings: &ProbeSettings,
    limit: u64,
) -> io::Result<Option<Failure>> {
    let needle = settings
        .body
        .as_deref()
        .map(str::as_bytes)
        .filter(|n| !n.is_empty());
    let mut found = needle.is_none();
    let mut window: Vec<u8> = Vec::new();
    let mut must = settings.body_regex.as_ref().map(Pattern::matcher);
    let mut must_not = settings.body_not_regex.as_ref().map(Pattern::matcher);
    let settled = |m: &Option<Matcher<'_>>| m.as_ref().is_none_or(Matcher::is_settled);
    let mut chunk = [0u8; 8192];
    let mut seen = 0u64;
    let mut ended = false;
    while seen < limit {
        let n = match reader.read(&mut chunk) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(n) => n.min(usize::try_from(limit - seen).unwrap_or(usize::MAX)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        seen += n as u64;
        let piece = &chunk[..n];
        if let (Some(needle), false) = (needle, found) {
            window.extend_from_slice(piece);
            found = window.windows(needle.len()).any(|w| w == needle);
            let keep = needle.len() - 1;
            if window.len() > keep {
                window.drain(..window.len() - keep);
            }
        }
        if let Some(m) = must.as_mut() {
            m.feed(piece);
        }
        if let Some(m) = must_not.as_mut()
            && m.feed(piece)
        {
            return Ok(Some(Failure::BodyMatched(pattern_text(
                &settings.body_not_regex,
            ))));
        }
        // Nothing more to learn: the text found, and neither pattern can change its
        // answer (a `body_not_regex` that can still match keeps the scan going).
        if found && settled(&must) && settled(&must_not) {
            break;
        }
    }
    if ended {
        for m in [&mut must, &mut must_not].into_iter().flatten() {
            m.finish();
        }
    }
    if must_not.as_ref().is_some_and(Matcher::is_matched) {
        return Ok(Some(Failure::BodyMatched(pattern_text(
            &settings.body_not_regex,
        ))));
    }
    if !found {
        return Ok(Some(Failure::BodyMissing(
            settings.body.clone().unwrap_or_default(),
        )));
    }
    if must.as_ref().is_some_and(|m| !m.is_matched()) {
        return Ok(Some(Failure::BodyNoMatch(pattern_text(
            &settings.body_regex,
        ))));
    }
    Ok(None)
}

fn pattern_text(pattern: &Option<Pattern>) -> String {
    pattern
        .as_ref()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
