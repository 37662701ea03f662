//! The one certificate recipe, [`Certs`]: a private CA and the leaves it signed, made
//! with /usr/bin/openssl. Shared by the integration tests (through `tests/common`) and
//! the unit tests (tests/common/unit.rs includes this file), so it uses nothing but std.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `openssl` arguments for a new P-256 key, unencrypted (test certificates).
const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// `openssl` arguments for a new RSA 2048 key, unencrypted.
const RSA_KEY: [&str; 3] = ["-newkey", "rsa:2048", "-nodes"];

/// What a leaf may be used for, and the names it holds (127.0.0.1 and localhost).
const LEAF_EXTENSIONS: &str = "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
     basicConstraints=CA:FALSE\n\
     keyUsage=critical,digitalSignature\n\
     extendedKeyUsage=serverAuth\n";

/// What an intermediate CA may do: sign leaves, and no further CA below it.
const INTERMEDIATE_EXTENSIONS: &str = "basicConstraints=critical,CA:TRUE,pathlen:0\n\
     keyUsage=critical,keyCertSign,cRLSign\n";

/// The files of [`Certs::chain`], in the certs' dir.
pub struct Chain {
    /// The intermediate CA's certificate.
    pub intermediate: String,
    /// The leaf it signed.
    pub leaf: String,
    /// The leaf then the intermediate, as a server presents them (`load_cert_chain`).
    pub full: String,
}

/// `openssl ca`'s settings: it is the command that takes explicit dates in the past.
const CA_CONFIG: &str = "[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = index.txt\n\
     new_certs_dir = .\nserial = serial.txt\ndefault_md = sha256\npolicy = any\n\
     [any]\ncommonName = supplied\n";

/// Files written into one dir: a CA (`ca.pem`), one leaf key (`leaf.key`, P-256 or RSA)
/// and two certificates for it signed by the CA, for 127.0.0.1 and localhost:
/// `valid.pem` (valid now, for 30 days) and `expired.pem` (expired in 2020).
/// [`Certs::valid_for`] signs more, each valid for so many days from now.
pub struct Certs {
    dir: PathBuf,
}

impl Certs {
    /// The CA and a P-256 leaf.
    #[track_caller]
    pub fn make(dir: &Path) -> Certs {
        Certs::with_leaf_key(dir, &EC_KEY)
    }

    /// The CA and an RSA leaf.
    #[track_caller]
    pub fn make_rsa(dir: &Path) -> Certs {
        Certs::with_leaf_key(dir, &RSA_KEY)
    }

    #[track_caller]
    fn with_leaf_key(dir: &Path, key: &[&str]) -> Certs {
        let certs = Certs {
            dir: dir.to_path_buf(),
        };
        certs.make_ca();
        let subject = ["req", "-subj", "/CN=localhost"];
        certs.openssl(
            &[
                &subject[..],
                key,
                &["-keyout", "leaf.key", "-out", "leaf.csr"],
            ]
            .concat(),
        );
        fs::write(dir.join("leaf.ext"), LEAF_EXTENSIONS).expect("write leaf.ext");
        certs.sign("valid.pem", "2", "30");
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
    /// expire; after 2049 its notAfter is a GeneralizedTime); returns its file name.
    #[track_caller]
    pub fn valid_for(&self, days: u32) -> String {
        let name = format!("valid-{days}d.pem");
        self.sign(&name, &(100 + days).to_string(), &days.to_string());
        name
    }

    /// A chain the CA signed through an intermediate CA (`CN=httpok test intermediate
    /// CA`) valid for `intermediate_days`, to the leaf valid for `leaf_days`: a server
    /// presenting it has an intermediate that may expire before its leaf.
    #[track_caller]
    pub fn chain(&self, intermediate_days: u32, leaf_days: u32) -> Chain {
        let tag = format!("{intermediate_days}-{leaf_days}d");
        let chain = Chain {
            intermediate: format!("intermediate-{tag}.pem"),
            leaf: format!("leaf-{tag}.pem"),
            full: format!("chain-{tag}.pem"),
        };
        let key = format!("intermediate-{tag}.key");
        let csr = format!("intermediate-{tag}.csr");
        let subject = ["req", "-subj", "/CN=httpok test intermediate CA"];
        self.openssl(&[&subject[..], &EC_KEY, &["-keyout", &key, "-out", &csr]].concat());
        fs::write(self.dir.join("intermediate.ext"), INTERMEDIATE_EXTENSIONS)
            .expect("write intermediate.ext");
        let serial = (1000 + intermediate_days * 100 + leaf_days).to_string();
        self.signed(
            &csr,
            ("ca.pem", "ca.key"),
            &serial,
            intermediate_days,
            "intermediate.ext",
            &chain.intermediate,
        );
        let serial = (2000 + intermediate_days * 100 + leaf_days).to_string();
        self.signed(
            "leaf.csr",
            (&chain.intermediate, &key),
            &serial,
            leaf_days,
            "leaf.ext",
            &chain.leaf,
        );
        let mut full = fs::read(self.dir.join(&chain.leaf)).expect("read the leaf");
        full.extend(fs::read(self.dir.join(&chain.intermediate)).expect("read the intermediate"));
        fs::write(self.dir.join(&chain.full), full).expect("write the chain");
        chain
    }

    /// A certificate of the dir (`valid.pem`, ...) in DER.
    #[track_caller]
    pub fn der(&self, cert: &str) -> Vec<u8> {
        let der = format!("{cert}.der");
        self.openssl(&["x509", "-in", cert, "-outform", "DER", "-out", &der]);
        fs::read(self.dir.join(der)).expect("read the DER")
    }

    /// A certificate's notAfter in unix seconds, as openssl reads it (`-enddate`) and
    /// date(1) converts it: an oracle independent of httpok's.
    #[track_caller]
    pub fn not_after(&self, cert: &str) -> i64 {
        let out = self.openssl(&["x509", "-noout", "-enddate", "-in", cert]);
        let date = out
            .trim()
            .strip_prefix("notAfter=")
            .unwrap_or_else(|| panic!("no notAfter= in {out:?}"));
        let out = run(Command::new("date").args(["-u", "-d", date, "+%s"]));
        out.trim()
            .parse()
            .unwrap_or_else(|e| panic!("date printed {out:?}: {e}"))
    }

    /// Signs leaf.csr with the CA into `name`, valid from now for `days` days.
    #[track_caller]
    fn sign(&self, name: &str, serial: &str, days: &str) {
        let days = days.parse().expect("days");
        self.signed(
            "leaf.csr",
            ("ca.pem", "ca.key"),
            serial,
            days,
            "leaf.ext",
            name,
        );
    }

    /// Signs `csr` with `issuer` (its certificate and key) into `name`, valid from now
    /// for `days` days, with the extensions of the file `ext`.
    #[track_caller]
    fn signed(
        &self,
        csr: &str,
        issuer: (&str, &str),
        serial: &str,
        days: u32,
        ext: &str,
        name: &str,
    ) {
        let days = days.to_string();
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            issuer.0,
            "-CAkey",
            issuer.1,
            "-set_serial",
            serial,
            "-days",
            &days,
            "-extfile",
            ext,
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

    /// Runs /usr/bin/openssl in the dir (stdin closed: it never waits for input); its
    /// stdout, or a panic with its stderr.
    #[track_caller]
    pub fn openssl(&self, args: &[&str]) -> String {
        run(Command::new("/usr/bin/openssl")
            .args(args)
            .current_dir(&self.dir))
    }
}

/// Runs `cmd` with stdin closed; its stdout, or a panic with its stderr.
#[track_caller]
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
