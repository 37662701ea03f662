//! What the probe tests share: settings and a canned server (an address that refuses is
//! the rig's, [`crate::test_rig::hostile::refused_addr`]).

use super::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

pub(super) fn settings(timeout_ms: u64) -> ProbeSettings {
    ProbeSettings {
        timeout: Duration::from_millis(timeout_ms),
        ..ProbeSettings::default()
    }
}

/// A server answering each of `connections` connections with `reply`; returns its
/// URL and a handle that gives the requests it read.
pub(super) fn serve(
    reply: &'static [u8],
    connections: usize,
) -> (String, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/health", listener.local_addr().expect("addr"));
    let handle = thread::spawn(move || {
        let mut requests = Vec::new();
        for _ in 0..connections {
            let Ok((mut stream, _)) = listener.accept() else {
                break;
            };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            requests.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = stream.write_all(reply);
        }
        requests
    });
    (url, handle)
}
