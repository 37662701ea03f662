//! The HTTPS test app ([`TlsApp`]) that serves the certificates of the one recipe,
//! [`super::certs::Certs`].

use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{KillOnDrop, free_port, python, read_file_lossy, test_app, wait_for};

/// tests/apps/tlsapp.py serving a certificate of [`super::certs::Certs`] on a free port; killed on
/// drop.
pub struct TlsApp {
    _child: KillOnDrop,
    port: u16,
}

impl TlsApp {
    /// Starts it in `dir` (where [`super::certs::Certs::make`] wrote) with `cert` (`valid.pem` or
    /// `expired.pem`) and `leaf.key`; waits until it accepts connections. Its stderr
    /// goes to `dir/CERT.log`.
    #[track_caller]
    pub fn start(dir: &Path, cert: &str) -> TlsApp {
        let port = free_port();
        let log_path = dir.join(format!("{cert}.log"));
        let log = fs::File::create(&log_path).expect("create the tlsapp log");
        let child = Command::new(python())
            .arg(test_app("tlsapp.py"))
            .args([
                "--port",
                &port.to_string(),
                "--cert",
                cert,
                "--key",
                "leaf.key",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tlsapp.py");
        let mut child = KillOnDrop(child);
        wait_for(
            &format!("tlsapp.py with {cert} accepts connections"),
            Duration::from_secs(60),
            || {
                if let Ok(Some(status)) = child.0.try_wait() {
                    panic!(
                        "tlsapp.py exited ({status}):\n{}",
                        read_file_lossy(&log_path)
                    );
                }
                TcpStream::connect(("127.0.0.1", port))
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
        );
        TlsApp {
            _child: child,
            port,
        }
    }

    /// `https://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }
}
