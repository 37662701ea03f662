//! The one certificate recipe ([`Certs`]: a private CA and the leaves it signed, made
//! with /usr/bin/openssl) and the HTTPS test app that serves them ([`TlsApp`]).

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{KillOnDrop, free_port, python, read_file_lossy, run_with_timeout, test_app, wait_for};

/// `openssl` arguments for a new P-256 key, unencrypted (test certificates).
const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// What a leaf may be used for, and the names it holds (127.0.0.1 and localhost).
const LEAF_EXTENSIONS: &str = "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
     basicConstraints=CA:FALSE\n\
     keyUsage=critical,digitalSignature\n\
     extendedKeyUsage=serverAuth\n";

/// `openssl ca`'s settings: it is the command that takes explicit dates in the past.
const CA_CONFIG: &str = "[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = index.txt\n\
     new_certs_dir = .\nserial = serial.txt\ndefault_md = sha256\npolicy = any\n\
     [any]\ncommonName = supplied\n";

/// Files written into one dir: a CA (`ca.pem`), one leaf key (`leaf.key`) and two
/// certificates for it signed by the CA, for 127.0.0.1 and localhost: `valid.pem`
/// (valid now) and `expired.pem` (expired in 2020). [`Certs::valid_for`] signs more,
/// each valid for so many days from now.
pub struct Certs {
    dir: PathBuf,
}

impl Certs {
    #[track_caller]
    pub fn make(dir: &Path) -> Certs {
        let certs = Certs {
            dir: dir.to_path_buf(),
        };
        certs.make_ca();
        let subject = ["req", "-subj", "/CN=localhost"];
        certs.openssl(
            &[
                &subject[..],
                &EC_KEY,
                &["-keyout", "leaf.key", "-out", "leaf.csr"],
            ]
            .concat(),
        );
        fs::write(dir.join("leaf.ext"), LEAF_EXTENSIONS).expect("write leaf.ext");
        certs.sign_valid();
        certs.sign_expired();
        certs
    }

    /// The CA's certificate, for `--cacert`.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn make_ca(&self) {
        let subject = ["req", "-x509", "-days", "30", "-subj", "/CN=httpok test CA"];
        self.openssl(
            &[
                &subject[..],
                &EC_KEY,
                &["-keyout", "ca.key", "-out", "ca.pem"],
                &["-addext", "basicConstraints=critical,CA:TRUE"],
                &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ]
            .concat(),
        );
    }

    /// Signs `valid-DAYSd.pem`, valid from now for `days` days (a certificate about to
    /// expire); returns its file name, for [`TlsApp::start`].
    #[track_caller]
    pub fn valid_for(&self, days: u32) -> String {
        let name = format!("valid-{days}d.pem");
        self.sign(&name, &(100 + days).to_string(), &days.to_string());
        name
    }

    /// A certificate's notAfter in unix seconds (`openssl x509 -enddate`, read by
    /// `date`).
    #[track_caller]
    pub fn not_after(&self, cert: &str) -> i64 {
        let (code, out) = run_with_timeout(
            Command::new("/usr/bin/openssl")
                .args(["x509", "-noout", "-enddate", "-in", cert])
                .current_dir(&self.dir),
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "openssl x509 -enddate: {out}");
        let date = out
            .trim()
            .strip_prefix("notAfter=")
            .unwrap_or_else(|| panic!("no notAfter= in {out:?}"));
        let (code, out) = run_with_timeout(
            Command::new("date").args(["-u", "-d", date, "+%s"]),
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "date -d {date:?}: {out}");
        out.trim()
            .parse()
            .unwrap_or_else(|e| panic!("date printed {out:?}: {e}"))
    }

    fn sign_valid(&self) {
        self.sign("valid.pem", "2", "30");
    }

    /// Signs leaf.csr with the CA into `name`, valid from now for `days` days.
    #[track_caller]
    fn sign(&self, name: &str, serial: &str, days: &str) {
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            serial,
            "-days",
            days,
            "-extfile",
            "leaf.ext",
            "-out",
            name,
        ]);
    }

    fn sign_expired(&self) {
        fs::write(self.dir.join("ca.cnf"), CA_CONFIG).expect("write ca.cnf");
        fs::write(self.dir.join("index.txt"), "").expect("write index.txt");
        fs::write(self.dir.join("serial.txt"), "1000\n").expect("write serial.txt");
        self.openssl(&[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            "ca.pem",
            "-keyfile",
            "ca.key",
            "-in",
            "leaf.csr",
            "-out",
            "expired.pem",
            "-notext",
            "-extfile",
            "leaf.ext",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200201000000Z",
        ]);
    }

    /// Runs /usr/bin/openssl in the dir; panics with its output if it fails.
    #[track_caller]
    fn openssl(&self, args: &[&str]) {
        let (code, out) = run_with_timeout(
            Command::new("/usr/bin/openssl")
                .args(args)
                .current_dir(&self.dir),
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "openssl {args:?} failed:\n{out}");
    }
}

/// tests/apps/tlsapp.py serving a certificate of [`Certs`] on a free port; killed on
/// drop.
pub struct TlsApp {
    _child: KillOnDrop,
    port: u16,
}

impl TlsApp {
    /// Starts it in `dir` (where [`Certs::make`] wrote) with `cert` (`valid.pem` or
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
