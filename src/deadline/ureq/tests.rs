use super::*;
use crate::test_rig::TempDir;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::thread;
use std::time::Duration;
use ureq::config::Config;

fn sock(dir: &TempDir) -> PathBuf {
    dir.join("s.sock")
}

/// Reads one request head (up to the blank line); returns its lines.
fn read_head(reader: &mut impl BufRead) -> Vec<String> {
    let mut lines = vec![];
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            return lines;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            return lines;
        }
        lines.push(line);
    }
}

fn config(timeout: Option<Duration>) -> Config {
    Config::builder().timeout_global(timeout).build()
}

#[test]
fn get_goes_over_the_socket() {
    let dir = TempDir::new("ureq");
    let listener = UnixListener::bind(sock(&dir)).unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(&stream);
        let head = read_head(&mut reader);
        (&stream)
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
            .unwrap();
        head
    });

    let agent = unix_agent(sock(&dir), config(Some(Duration::from_secs(5))));
    let mut res = agent.get("http://localhost/health").call().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.body_mut().read_to_string().unwrap(), "hello");

    let head = server.join().unwrap();
    assert_eq!(head[0], "GET /health HTTP/1.1");
    assert!(
        head.iter()
            .any(|l| l.eq_ignore_ascii_case("host: localhost")),
        "{head:?}"
    );
}

#[test]
fn keep_alive_reuses_the_connection() {
    let dir = TempDir::new("ureq");
    let listener = UnixListener::bind(sock(&dir)).unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(&stream);
        let mut paths = vec![];
        for _ in 0..2 {
            let head = read_head(&mut reader);
            paths.push(head[0].clone());
            (&stream)
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
        }
        paths
    });

    let agent = unix_agent(sock(&dir), config(Some(Duration::from_secs(5))));
    for path in ["/a", "/b"] {
        let mut res = agent
            .get(format!("http://any.host.example{path}"))
            .call()
            .unwrap();
        assert_eq!(res.body_mut().read_to_string().unwrap(), "ok");
    }
    // Both requests arrived on the single accepted connection.
    assert_eq!(
        server.join().unwrap(),
        ["GET /a HTTP/1.1", "GET /b HTTP/1.1"]
    );
}

#[test]
fn silent_server_times_out() {
    let dir = TempDir::new("ureq");
    let listener = UnixListener::bind(sock(&dir)).unwrap();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // Never answer; return once the client hangs up.
        let _ = io::copy(&mut stream, &mut io::sink());
    });

    // The server never answers and holds the connection until the client hangs up:
    // only the deadline can end the call, and the error says it did.
    let agent = unix_agent(sock(&dir), config(Some(Duration::from_secs(1))));
    let err = agent.get("http://localhost/health").call().unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    drop(agent);
    server.join().unwrap();
}

#[test]
fn missing_socket_is_an_error() {
    let dir = TempDir::new("ureq");
    {
        let agent = unix_agent(sock(&dir), config(Some(Duration::from_secs(1))));
        let err = agent.get("http://localhost/health").call().unwrap_err();
        match err {
            Error::Io(e) => {
                assert_eq!(e.kind(), io::ErrorKind::NotFound);
                assert!(e.to_string().contains("s.sock"), "{e}");
            }
            other => panic!("expected io error, got {other:?}"),
        }
    }
}

#[test]
fn https_is_refused() {
    let dir = TempDir::new("ureq");
    let agent = unix_agent(sock(&dir), config(None));
    let err = agent.get("https://localhost/").call().unwrap_err();
    assert!(matches!(err, Error::TlsRequired), "{err:?}");
}

#[test]
fn an_agent_without_a_timeout_does_no_io() {
    let dir = TempDir::new("ureq");
    let _listener = UnixListener::bind(sock(&dir)).unwrap();
    let agent = unix_agent(sock(&dir), config(None));
    let err = agent.get("http://localhost/").call().unwrap_err();
    assert!(err.to_string().contains("without a deadline"), "{err}");
}

#[test]
fn a_tcp_server_that_dribbles_one_byte_at_a_time_is_cut_at_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = [0u8; 1024];
        let _ = stream.read(&mut head);
        // Each byte well within any per-read timeout, until the client goes: only the
        // one deadline can end the exchange, and the error says it did.
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
            .iter()
            .cycle()
        {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let agent = tcp_agent(config(Some(Duration::from_millis(800))));
    let result = agent
        .get(&url)
        .call()
        .and_then(|mut res| res.body_mut().read_to_string());
    assert!(matches!(result, Err(Error::Timeout(_))), "{result:?}");
    drop(agent);
    server.join().unwrap();
}
