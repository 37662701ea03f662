//! The .deb and the .rpm, built from this tree, install exactly the files Cargo.toml
//! declares (plus what cargo-deb generates), with the declared modes, owned by root, all
//! under /usr; and the files docs/packaging.md promises are among them.
//!
//! Needs cargo-deb and cargo-generate-rpm (scripts/test.sh installs them into
//! target/tools/bin, which these tests put first on PATH), dpkg-deb and rpm (on Debian:
//! `apt-get install rpm`; scripts/test.sh does it). A missing tool fails the test;
//! nothing is skipped. The release binary is built once for both tests (a few minutes:
//! LTO, one codegen unit); the packages go to target/tmp/packaging/. That build is the
//! one a `cargo build --release` from a shell makes, and the one tests/wheel.rs packs
//! (cargo runs [`as_from_a_shell`]), so whichever comes first builds it for all.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use common::as_from_a_shell;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the packages are written: a scratch directory under target/.
fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("packaging");
    fs::create_dir_all(&dir).expect("create target/tmp/packaging");
    dir
}

/// A command with target/tools/bin first on PATH, as scripts/test.sh sets it.
fn command(program: &str) -> Command {
    let tools = root().join("target/tools/bin");
    let mut paths = vec![tools];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path: OsString = std::env::join_paths(paths).expect("PATH entries without ':'");
    let mut cmd = Command::new(program);
    as_from_a_shell(&mut cmd)
        .env("PATH", path)
        .current_dir(root());
    cmd
}

fn cargo() -> Command {
    command(&std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Runs `cmd` and returns its stdout; panics with its output if it fails.
fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {cmd:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Fails, saying how to get it, unless `cmd` (a tool's version query) runs.
fn require_tool(mut cmd: Command, name: &str, how: &str) {
    let ok = cmd.output().is_ok_and(|out| out.status.success());
    assert!(ok, "{name} is not installed; {how}");
}

fn require_cargo_tool(subcommand: &str, krate: &str) {
    let mut cmd = cargo();
    cmd.args([subcommand, "--version"]);
    require_tool(
        cmd,
        krate,
        &format!(
            "scripts/test.sh installs it, or run\n    cargo install --locked --root target/tools {krate}"
        ),
    );
}

/// `cargo build --release`, once for both tests: both tools package target/release/httpok.
fn build_release_binary() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut cmd = cargo();
        cmd.args(["build", "--release", "--locked", "--bin", "httpok"]);
        run(cmd, "release build");
        let binary = source_path("target/release/httpok");
        assert!(binary.is_file(), "{} was not built", binary.display());
    });
}

/// One file or directory in a package.
#[derive(Debug)]
struct Entry {
    /// `ls -l` style, e.g. `-rwxr-xr-x`.
    perms: String,
    /// `user:group`.
    owner: String,
    /// SHA-256 of the content, where the listing gives it (the .rpm's does).
    sha256: Option<String>,
}

/// An asset declared in Cargo.toml: where it goes, with which mode, from which file.
#[derive(Debug)]
struct Declared {
    path: String,
    perms: String,
    source: PathBuf,
}

/// `cargo metadata` of this package (its `[package.metadata]` tables) and the target
/// directory, read once.
fn cargo_metadata() -> &'static (Value, PathBuf) {
    static METADATA: OnceLock<(Value, PathBuf)> = OnceLock::new();
    METADATA.get_or_init(|| {
        let mut cmd = cargo();
        cmd.args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ]);
        let json: Value =
            serde_json::from_str(&run(cmd, "cargo metadata")).expect("cargo metadata JSON");
        let package = json["packages"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "httpok"))
            .expect("package httpok in cargo metadata")["metadata"]
            .clone();
        let target = json["target_directory"].as_str().expect("target_directory");
        (package, PathBuf::from(target))
    })
}

/// `[package.metadata.<table>]` in Cargo.toml.
fn metadata(table: &str) -> &'static Value {
    let section = &cargo_metadata().0[table];
    assert!(
        section.is_object(),
        "Cargo.toml has no [package.metadata.{table}]"
    );
    section
}

/// A source path of an asset on disk: `target/release/` means the real target directory,
/// as both tools read it.
fn source_path(source: &str) -> PathBuf {
    match source.strip_prefix("target/") {
        Some(rest) => cargo_metadata().1.join(rest),
        None => root().join(source),
    }
}

/// The files a source pattern names, relative to the root: itself, or for `dir/a*b`
/// every file in dir whose name starts with a and ends with b.
fn expand(source: &str) -> Vec<String> {
    let Some((prefix, suffix)) = source.split_once('*') else {
        return vec![source.to_string()];
    };
    let (dir, name_prefix) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    assert!(
        !suffix.contains(['*', '/']),
        "pattern {source}: one * in the file name only"
    );
    let mut names: Vec<String> = fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("pattern {source}: {dir}: {e}"))
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .into_string()
                .expect("utf-8 name")
        })
        .filter(|name| name.starts_with(name_prefix) && name.ends_with(suffix))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "pattern {source} matches no file");
    names
        .into_iter()
        .map(|name| format!("{dir}/{name}"))
        .collect()
}

/// `ls -l` permissions of a regular file with this octal mode, e.g. 755 -> -rwxr-xr-x.
fn perms(mode: &str) -> String {
    let bits = u32::from_str_radix(mode, 8).unwrap_or_else(|_| panic!("mode {mode} not octal"));
    let mut s = String::from("-");
    for shift in [6, 3, 0] {
        let b = (bits >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// Where each declared asset lands: `dest`, or `dest` + the file name when dest ends
/// in `/`; man pages get `.gz` when the tool compresses them.
fn declared(assets: &[(String, String, String)], gzip_man: bool) -> Vec<Declared> {
    let mut out = Vec::new();
    for (source, dest, mode) in assets {
        let dest = format!("/{}", dest.trim_start_matches('/'));
        for file in expand(source) {
            let mut path = if dest.ends_with('/') {
                let name = file.rsplit('/').next().expect("file name");
                format!("{dest}{name}")
            } else {
                dest.clone()
            };
            if gzip_man && path.starts_with("/usr/share/man/") && !path.ends_with(".gz") {
                path.push_str(".gz");
            }
            out.push(Declared {
                path,
                perms: perms(mode),
                source: source_path(&file),
            });
        }
    }
    out
}

/// The checks both packages share. `generated` are files the tool adds on its own;
/// `promised` are the paths docs/packaging.md lists, whatever Cargo.toml says.
fn check_package(
    kind: &str,
    listing: &BTreeMap<String, Entry>,
    declared: &[Declared],
    generated: &[&str],
    promised: &[String],
) {
    let shown = || {
        listing
            .iter()
            .map(|(path, e)| format!("  {} {} {path}", e.perms, e.owner))
            .collect::<Vec<_>>()
            .join("\n")
    };

    let outside: Vec<&String> = listing
        .keys()
        .filter(|path| {
            !(path.as_str() == "/" || path.as_str() == "/usr" || path.starts_with("/usr/"))
        })
        .collect();
    assert!(
        outside.is_empty(),
        "the {kind} installs outside /usr: {outside:?}\n{}",
        shown()
    );

    let not_root: Vec<&String> = listing
        .iter()
        .filter(|(_, e)| e.owner != "root:root")
        .map(|(path, _)| path)
        .collect();
    assert!(
        not_root.is_empty(),
        "the {kind} has files not owned by root:root: {not_root:?}\n{}",
        shown()
    );

    let files: BTreeSet<&str> = listing
        .iter()
        .filter(|(_, e)| e.perms.starts_with('-'))
        .map(|(path, _)| path.as_str())
        .collect();
    let expected: BTreeSet<&str> = declared
        .iter()
        .map(|d| d.path.as_str())
        .chain(generated.iter().copied())
        .collect();
    let missing: Vec<&&str> = expected.difference(&files).collect();
    let unexpected: Vec<&&str> = files.difference(&expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "the {kind}'s files are not the ones Cargo.toml declares (its assets, and the \
         files the tool writes: {generated:?})\n  missing: {missing:?}\n  not declared: \
         {unexpected:?}\nthe {kind} holds:\n{}",
        shown()
    );

    let absent: Vec<&String> = promised
        .iter()
        .filter(|p| !files.contains(p.as_str()))
        .collect();
    assert!(
        absent.is_empty(),
        "the {kind} lacks files docs/packaging.md lists: {absent:?}\nthe {kind} holds:\n{}",
        shown()
    );

    for d in declared {
        let got = &listing[&d.path].perms;
        assert_eq!(
            got, &d.perms,
            "{kind}: the mode of {} is not the one Cargo.toml declares",
            d.path
        );
    }
    assert_eq!(
        listing["/usr/bin/httpok"].perms, "-rwxr-xr-x",
        "{kind}: /usr/bin/httpok must be executable by everyone (mode 755)"
    );
}

/// `[package.metadata.<table>]`'s assets as (source, dest, mode): cargo-deb's are
/// `[source, dest, mode]` arrays, cargo-generate-rpm's `{ source, dest, mode }` tables.
fn assets(table: &str) -> Vec<(String, String, String)> {
    let list = metadata(table)["assets"]
        .as_array()
        .unwrap_or_else(|| panic!("[package.metadata.{table}] has no assets"));
    list.iter()
        .map(|asset| {
            let field = |index: usize, key: &str| {
                let value = if asset.is_array() {
                    &asset[index]
                } else {
                    &asset[key]
                };
                let value = value.as_str();
                value
                    .unwrap_or_else(|| panic!("{table} asset {asset}: no {key}"))
                    .to_string()
            };
            (field(0, "source"), field(1, "dest"), field(2, "mode"))
        })
        .collect()
}

/// `dpkg-deb -c`: every entry of the .deb by absolute path.
fn list_deb(deb: &Path) -> BTreeMap<String, Entry> {
    let mut cmd = command("dpkg-deb");
    cmd.arg("-c").arg(deb);
    let mut listing = BTreeMap::new();
    for line in run(cmd, "dpkg-deb -c").lines() {
        // -rwxr-xr-x root/root   3158600 2026-12-02 01:51 ./usr/bin/httpok
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() >= 6, "unexpected dpkg-deb -c line: {line}");
        let path = fields[5].trim_start_matches('.').trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        let owner = match fields[1] {
            "0/0" | "root/root" => "root:root".to_string(),
            other => other.replace('/', ":"),
        };
        let entry = Entry {
            perms: fields[0].to_string(),
            owner,
            sha256: None,
        };
        listing.insert(path.to_string(), entry);
    }
    listing
}

/// `rpm -qp`: every file of the .rpm with its mode, owner and SHA-256.
fn list_rpm(package: &Path) -> BTreeMap<String, Entry> {
    let format = "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEDIGESTS} \
                  %{FILENAMES}\\n]";
    let mut listing = BTreeMap::new();
    for line in rpm_query(package, format).lines() {
        // -rwxr-xr-x root:root 350f2ed1...6fd41f /usr/bin/httpok
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() == 4, "unexpected rpm file line: {line}");
        let entry = Entry {
            perms: fields[0].to_string(),
            owner: fields[1].to_string(),
            sha256: Some(fields[2].to_string()),
        };
        listing.insert(fields[3].to_string(), entry);
    }
    listing
}

fn rpm_query(package: &Path, format: &str) -> String {
    let mut cmd = command("rpm");
    cmd.args(["-qp", "--qf", format]).arg(package);
    run(cmd, "rpm -qp --qf")
}

/// Paths both packages install, as docs/packaging.md lists them.
fn promised_common() -> Vec<String> {
    let mut paths: Vec<String> = [
        "/usr/bin/httpok",
        "/usr/share/bash-completion/completions/httpok",
        "/usr/share/fish/vendor_completions.d/httpok.fish",
        "/usr/share/doc/httpok/README.md",
        "/usr/share/doc/httpok/operating.md",
        "/usr/share/doc/httpok/migrating-from-superlance.md",
        "/usr/share/doc/httpok/examples/httpok.conf",
    ]
    .map(String::from)
    .to_vec();
    // Every example in the tree, under its own name.
    for file in expand("examples/*.conf")
        .into_iter()
        .chain(expand("examples/*.toml"))
    {
        let name = file.rsplit('/').next().expect("file name");
        paths.push(format!("/usr/share/doc/httpok/examples/{name}"));
    }
    paths
}

/// What the .deb's files hold: each is its source (the binary: the one just built) and
/// the binary runs; the changelog's newest entry is the package's version; the copyright
/// carries the license text.
fn check_deb_contents(deb: &Path, declared: &[Declared]) {
    let tree = out_dir().join("deb-root");
    let _ = fs::remove_dir_all(&tree);
    let mut cmd = command("dpkg-deb");
    cmd.arg("-x").arg(deb).arg(&tree);
    run(cmd, "dpkg-deb -x");
    for d in declared {
        let packaged = tree.join(d.path.trim_start_matches('/'));
        let content = if d.path.ends_with(".gz") {
            let mut cmd = command("gzip");
            cmd.arg("-dc").arg(&packaged);
            run(cmd, "gzip -dc").into_bytes()
        } else {
            fs::read(&packaged).expect("packaged file")
        };
        assert!(
            content == fs::read(&d.source).expect("asset source"),
            "the .deb's {} is not {}",
            d.path,
            d.source.display()
        );
    }
    let mut cmd = Command::new(tree.join("usr/bin/httpok"));
    cmd.arg("--version");
    let version = run(cmd, "packaged httpok --version");
    assert!(
        version.contains(VERSION),
        "packaged httpok --version says {version:?}, not {VERSION}"
    );

    let mut cmd = command("dpkg-deb");
    cmd.arg("-f").arg(deb).arg("Version");
    let package_version = run(cmd, "dpkg-deb -f Version").trim().to_string();
    assert_eq!(
        package_version,
        format!("{VERSION}-1"),
        "the .deb's Version"
    );
    let mut cmd = command("gzip");
    cmd.arg("-dc")
        .arg(tree.join("usr/share/doc/httpok/changelog.Debian.gz"));
    let changelog = run(cmd, "gzip -dc changelog.Debian.gz");
    let first = changelog.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("httpok ({package_version}) ")),
        "changelog.Debian.gz's newest entry is {first:?}, not httpok ({package_version}): \
         add an entry to packaging/debian/changelog"
    );
    let copyright =
        fs::read_to_string(tree.join("usr/share/doc/httpok/copyright")).expect("copyright");
    assert!(
        copyright.contains("License: MIT") && copyright.contains("Permission is hereby granted"),
        "copyright lacks the MIT license text:\n{copyright}"
    );
}

#[test]
fn packaging_deb_installs_the_declared_files_under_usr_with_a_changelog() {
    require_cargo_tool("deb", "cargo-deb");
    let mut dpkg = command("dpkg-deb");
    dpkg.arg("--version");
    require_tool(dpkg, "dpkg-deb", "install Debian's dpkg package");
    build_release_binary();

    let deb = out_dir().join("httpok.deb");
    let mut cmd = cargo();
    cmd.args(["deb", "--no-build", "--output"]).arg(&deb);
    run(cmd, "cargo deb");

    let listing = list_deb(&deb);
    let assets = assets("deb");
    let mut promised = promised_common();
    promised.extend(
        [
            "/usr/share/man/man1/httpok.1.gz",
            "/usr/share/zsh/vendor-completions/_httpok",
            "/usr/share/doc/httpok/changelog.Debian.gz",
            "/usr/share/doc/httpok/copyright",
        ]
        .map(String::from),
    );
    let declared = declared(&assets, true);
    check_package(
        ".deb",
        &listing,
        &declared,
        &[
            "/usr/share/doc/httpok/changelog.Debian.gz",
            "/usr/share/doc/httpok/copyright",
        ],
        &promised,
    );

    check_deb_contents(&deb, &declared);

    let mut cmd = command("dpkg-deb");
    cmd.arg("-f").arg(&deb).arg("Recommends");
    let recommends = run(cmd, "dpkg-deb -f Recommends");
    assert!(
        recommends.contains("supervisor"),
        "the .deb's Recommends is {recommends:?}"
    );
}

/// Each of the .rpm's files is its source as it is in the tree (the binary: the one
/// just built), by the SHA-256 digests in the package.
fn check_rpm_digests(package: &Path, listing: &BTreeMap<String, Entry>, declared: &[Declared]) {
    assert_eq!(
        rpm_query(package, "%{FILEDIGESTALGO}").trim(),
        "8",
        "the .rpm's file digests are not SHA-256"
    );
    let mut cmd = command("sha256sum");
    cmd.args(declared.iter().map(|d| &d.source));
    let sums = run(cmd, "sha256sum");
    for (d, line) in declared.iter().zip(sums.lines()) {
        let want = line.split_whitespace().next().unwrap_or_default();
        let got = listing[&d.path].sha256.as_deref().unwrap_or_default();
        assert_eq!(
            got,
            want,
            "the .rpm's {} is not {}",
            d.path,
            d.source.display()
        );
    }
}

#[test]
fn packaging_rpm_installs_the_declared_files_under_usr_with_a_changelog() {
    require_cargo_tool("generate-rpm", "cargo-generate-rpm");
    let mut rpm = command("rpm");
    rpm.arg("--version");
    require_tool(
        rpm,
        "rpm",
        "on Debian: apt-get install rpm (scripts/test.sh does it)",
    );
    build_release_binary();

    let package = out_dir().join("httpok.rpm");
    let mut cmd = cargo();
    cmd.args(["generate-rpm", "-o"]).arg(&package);
    run(cmd, "cargo generate-rpm");

    let listing = list_rpm(&package);
    let assets = assets("generate-rpm");
    let mut promised = promised_common();
    promised.extend(
        [
            "/usr/share/man/man1/httpok.1",
            "/usr/share/zsh/site-functions/_httpok",
            "/usr/share/doc/httpok/changelog",
            "/usr/share/licenses/httpok/LICENSE",
        ]
        .map(String::from),
    );
    let declared = declared(&assets, false);
    check_package(".rpm", &listing, &declared, &[], &promised);

    check_rpm_digests(&package, &listing, &declared);

    assert_eq!(
        rpm_query(&package, "%{VERSION}-%{RELEASE}"),
        format!("{VERSION}-1"),
        "the .rpm's version"
    );
    let mut cmd = command("rpm");
    cmd.args(["-qp", "--recommends"]).arg(&package);
    let recommends = run(cmd, "rpm -qp --recommends");
    assert!(
        recommends.lines().any(|l| l.trim() == "supervisor"),
        "the .rpm's Recommends is {recommends:?}"
    );
    let mut cmd = command("rpm");
    cmd.args(["-qp", "--requires"]).arg(&package);
    let requires = run(cmd, "rpm -qp --requires");
    assert!(
        requires.contains("libc.so.6"),
        "the .rpm's Requires lack libc: {requires:?}"
    );
}
