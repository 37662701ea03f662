//! `pip install`: `maturin build --release` (maturin from its cached virtualenv,
//! `scripts/venv.sh --maturin`) makes a wheel of this tree whose metadata is Cargo.toml's;
//! pip installs it with supervisor into a fresh virtualenv, which puts `httpok` in that
//! virtualenv's bin/ next to supervisord; and that supervisord runs that httpok as its
//! listener, which restarts a frozen app. `pip install .` from the clone does the same.
//!
//! The release build is the one tests/packaging.rs makes: maturin's `cargo rustc` gives
//! the same fingerprint as its `cargo build --release` (both run [`as_from_a_shell`], so
//! as a `cargo build --release` from a shell too), so whichever runs second finds it
//! done. Run alone, the first of these tests builds it (about 3 minutes on 2 cores).
//! pip needs the package index (or its cache) for supervisor, and `pip install .` for
//! maturin, which it puts in a build environment of its own.
mod common;

use common::e2e::*;
use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// A release build from scratch, then the wheel.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1200);
/// pip into a fresh virtualenv (downloads, or pip's cache).
const PIP_TIMEOUT: Duration = Duration::from_secs(600);

/// Held while a test builds and installs: the two tests' builds share target/release, so
/// one compares its installed binary with target/release/httpok only when no build of
/// the other can be rewriting it.
static BUILDING: Mutex<()> = Mutex::new(());

/// Runs `cmd` under `limit`; its stdout, or a panic with everything it printed.
#[track_caller]
fn run(cmd: &mut Command, limit: Duration) -> String {
    let done = Running::spawn(cmd.stdin(std::process::Stdio::null())).finish(limit, |_| {});
    assert!(
        done.code == 0,
        "{cmd:?} failed ({}) after {:.0?}\nstdout:\n{}\nstderr:\n{}",
        done.code,
        done.took,
        done.stdout,
        done.stderr
    );
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
    eprintln!(
        "{} {}: {:.1?}",
        cmd.get_program().to_string_lossy(),
        args.join(" "),
        done.took
    );
    done.stdout
}

/// `python3 -m venv DIR`.
fn fresh_venv(dir: &Path) -> Venv {
    run(
        Command::new("python3").args(["-m", "venv"]).arg(dir),
        PIP_TIMEOUT,
    );
    Venv::at(dir)
}

/// `pip install ARGS` into `venv`.
fn pip_install(venv: &Venv, args: &[&str]) {
    run(
        as_from_a_shell(&mut Command::new(venv.python()))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(args)
            .current_dir(repo_root()),
        PIP_TIMEOUT,
    );
}

/// `maturin build --release` into `out`: the wheel's path.
fn build_wheel(out: &Path) -> PathBuf {
    run(
        as_from_a_shell(&mut Command::new(Venv::maturin().bin("maturin")))
            .args(["build", "--release", "--locked", "--out"])
            .arg(out)
            .current_dir(repo_root()),
        BUILD_TIMEOUT,
    );
    let wheels: Vec<PathBuf> = fs::read_dir(out)
        .expect("the wheel's dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    assert_eq!(
        wheels.len(),
        1,
        "one wheel in {}: {wheels:?}",
        out.display()
    );
    wheels[0].clone()
}

/// The installed distribution's metadata, as pip and `importlib.metadata` read it.
fn installed_metadata(venv: &Venv) -> Value {
    let script = "import json, importlib.metadata as m\n\
        d = m.distribution('httpok')\n\
        print(json.dumps({k: d.metadata.get(k) for k in \
        ('Name', 'Version', 'Summary', 'License', 'Requires-Python', 'Keywords')}))";
    let out = run(
        Command::new(venv.python()).args(["-c", script]),
        PIP_TIMEOUT,
    );
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("metadata JSON {out:?}: {e}"))
}

/// `bin/httpok` of `venv` is this tree's release build, runs, and says its version.
fn assert_installed_binary(venv: &Venv) {
    let installed = venv.bin("httpok");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let built = target.join("release/httpok");
    assert!(
        fs::read(&installed).expect("installed httpok")
            == fs::read(&built).expect("release httpok"),
        "{} is not {}",
        installed.display(),
        built.display()
    );
    let version = run(Command::new(&installed).arg("--version"), PIP_TIMEOUT);
    assert_eq!(version.trim(), format!("httpok {VERSION}"));
}

#[test]
fn the_wheel_installs_httpok_next_to_supervisord_which_runs_it_through_a_restart() {
    let work = TempDir::new("wheel");
    let building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let wheel = build_wheel(&work.join("dist"));
    let name = wheel
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    // Any Python 3, no ABI, a manylinux tag for this machine's architecture.
    let arch = std::env::consts::ARCH;
    assert!(
        name.starts_with(&format!("httpok-{VERSION}-py3-none-manylinux_"))
            && name.ends_with(&format!("_{arch}.whl")),
        "the wheel's name: {name}"
    );

    let venv = fresh_venv(&work.join("venv"));
    let wheel = wheel.display().to_string();
    pip_install(&venv, &[&wheel, "supervisor==4.3.0"]);
    assert_installed_binary(&venv);
    drop(building);
    venv.bin("supervisord");

    let meta = installed_metadata(&venv);
    assert_eq!(meta["Name"], "httpok", "{meta}");
    assert_eq!(meta["Version"], VERSION, "{meta}");
    assert_eq!(meta["Summary"], env!("CARGO_PKG_DESCRIPTION"), "{meta}");
    assert_eq!(meta["License"], env!("CARGO_PKG_LICENSE"), "{meta}");
    assert_eq!(
        meta["Keywords"],
        "supervisord,superlance,healthcheck,http,monitoring"
    );
    assert!(meta["Requires-Python"].is_string(), "{meta}");

    // supervisord from that virtualenv, its listener that virtualenv's bin/httpok.
    let port = free_port();
    let sup = Supervisor::start(
        SupervisorConfig::new()
            .venv(venv.clone())
            .program(web("web", port, "ok"))
            .program(listener("").set(
                "command",
                format!("{{bin}}/httpok -p web -t 2 http://127.0.0.1:{port}/"),
            )),
    );
    let pid = sup.wait_running("web", T);
    let own = sup.wait_running("httpok", T);
    let exe = fs::read_link(format!("/proc/{own}/exe")).expect("httpok's /proc/PID/exe");
    assert_eq!(exe, venv.bin("httpok"), "the listener supervisord runs");
    wait_until("web answers", T, || {
        http_get(port, "/", Duration::from_secs(2)).is_ok()
    });
    sup.freeze(pid);
    let new_pid = assert_restarted(&sup, "web", pid);
    assert_eq!(sup.pid("web"), Some(new_pid));
    assert_listener_healthy(&sup);
}

#[test]
fn pip_install_dot_from_the_clone_puts_httpok_in_the_virtualenvs_bin() {
    let work = TempDir::new("pipdot");
    let venv = fresh_venv(&work.join("venv"));
    let _building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    pip_install(&venv, &["."]);
    assert_installed_binary(&venv);
    assert_eq!(installed_metadata(&venv)["Version"], VERSION);
}
