//! Hostile peers, each alive as long as its value: a unix socket whose accept backlog is
//! full ([`FullBacklogSocket`]), a TCP listener whose backlog is full
//! ([`FullBacklogTcp`]: a connect never completes), a TCP peer that accepts and never
//! answers ([`SilentPeer`]), a server that dribbles one byte per interval ([`Dribbler`]), an
//! address that refuses ([`refused_addr`]); and what a process holds ([`Holdings`]:
//! threads, fds, RSS), read from /proc. Shared by the integration tests (through
//! `tests/common`) and the unit tests (tests/common/unit.rs includes this file), so it uses
//! nothing but std and socket2.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

/// A unix socket that listens with the smallest backlog and never accepts, its backlog
/// filled: what an app that stopped accepting (or a supervisord that hangs) looks like
/// to a client. On Linux a blocking connect to it waits with no limit, a non-blocking
/// one fails with EAGAIN.
pub struct FullBacklogSocket {
    path: PathBuf,
    _listener: Socket,
    _queued: Vec<UnixStream>,
}

impl FullBacklogSocket {
    pub fn bind(path: &Path) -> FullBacklogSocket {
        let listener = Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
        listener
            .bind(&SockAddr::unix(path).expect("socket path"))
            .expect("bind the unix socket");
        listener.listen(0).expect("listen");
        let mut queued = Vec::new();
        loop {
            let client = Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
            client.set_nonblocking(true).expect("non-blocking");
            match client.connect(&SockAddr::unix(path).expect("socket path")) {
                Ok(()) => queued.push(UnixStream::from(OwnedFd::from(client))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("filling the backlog of {}: {e}", path.display()),
            }
            assert!(
                queued.len() < 64,
                "the backlog of {} never fills",
                path.display()
            );
        }
        FullBacklogSocket {
            path: path.to_path_buf(),
            _listener: listener,
            _queued: queued,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `host:port` where nothing listens: a port the kernel just handed out on 127.0.0.2,
/// an address no test listens on, so a parallel test that gets the same port number on
/// 127.0.0.1 cannot answer there (a freed 127.0.0.1 port can be reused at once).
pub fn refused_addr() -> String {
    let l = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2:0");
    format!("127.0.0.2:{}", l.local_addr().expect("local_addr").port())
}

/// A TCP listener on 127.0.0.1 that never accepts, its accept backlog full: Linux drops
/// every further SYN, so a connect to it never completes (the client retries its SYN
/// until it gives up).
pub struct FullBacklogTcp {
    listener: Socket,
    _queued: TcpStream,
}

impl FullBacklogTcp {
    pub fn start() -> FullBacklogTcp {
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        listener.bind(&any.into()).expect("bind 127.0.0.1:0");
        // A backlog of 0 holds one connection; this one fills it.
        listener.listen(0).expect("listen");
        let addr = local_addr(&listener);
        let queued = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .expect("the first connection fills the backlog");
        FullBacklogTcp {
            listener,
            _queued: queued,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        local_addr(&self.listener)
    }
}

fn local_addr(socket: &Socket) -> SocketAddr {
    socket
        .local_addr()
        .expect("local_addr")
        .as_socket()
        .expect("an IP socket")
}

/// A TCP listener on 127.0.0.1 that completes connections (the kernel does) and never
/// reads or answers. Holds up to 4096 pending connections.
pub struct SilentPeer {
    listener: TcpListener,
}

impl SilentPeer {
    pub fn start() -> SilentPeer {
        SilentPeer {
            listener: TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("addr")
    }
}

/// Serves one connection at a time on one thread: reads what comes, then writes
/// `text` one byte per `interval`, over and over, until the client goes. Stops when
/// dropped.
pub struct Dribbler {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Dribbler {
    pub fn start(text: &'static [u8], interval: Duration) -> Dribbler {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(stream) = stream {
                    dribble(stream, text, interval, &stopped);
                }
            }
        });
        Dribbler { addr, stop }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn dribble(mut stream: TcpStream, text: &[u8], interval: Duration, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.read(&mut [0u8; 4096]);
    for byte in text.iter().cycle() {
        if stop.load(Ordering::Relaxed) || stream.write_all(&[*byte]).is_err() {
            return;
        }
        thread::sleep(interval);
    }
}

impl Drop for Dribbler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the stop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// What a process holds, from /proc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holdings {
    pub threads: usize,
    pub fds: usize,
    pub rss_kib: u64,
}

impl Holdings {
    /// Of process `pid` ("self" for this one); `None` once it is gone.
    pub fn of(pid: &str) -> Option<Holdings> {
        let count =
            |dir: &str| std::fs::read_dir(format!("/proc/{pid}/{dir}")).map(Iterator::count);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        Some(Holdings {
            threads: count("task").ok()?,
            fds: count("fd").ok()?,
            rss_kib,
        })
    }
}
