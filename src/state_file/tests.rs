use std::ffi::{CString, OsStr};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use super::disk::{read_bounded, temp_path, trusted_by};
use super::keeper::load_within;
use super::*;
use crate::test_rig::TempDir;

fn sample() -> Saved {
    Saved {
        certs: vec![SavedCert {
            target: "https://h/".into(),
            warned_at: Some(1_700_000_000),
            mailed_for: Some(1_700_500_000),
        }],
        version: VERSION,
        checks: vec![SavedCheck {
            check: "http://h/".into(),
            failures: 2,
        }],
        programs: vec![SavedProgram {
            program: "web".into(),
            restarts: vec![1_700_000_000],
            gave_up: true,
            stopping: Some(42),
            stop_issued_at: Some(1_700_000_100),
        }],
    }
}

fn write(path: &Path, saved: &Saved) {
    save(path, &encode(saved).expect("encode")).expect("save");
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn a_saved_state_reads_back_and_a_missing_file_is_none() {
    let dir = TempDir::new("state-rt");
    let path = dir.join("httpok.state");
    assert_eq!(load(&path), Ok(None));
    write(&path, &sample());
    assert_eq!(load(&path), Ok(Some(sample())));
    // Nothing is left beside it.
    let names: Vec<_> = fs::read_dir(&*dir)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["httpok.state"]);
}

#[test]
fn the_file_is_written_0600_and_a_file_of_older_httpoks_reads() {
    let dir = TempDir::new("state-mode");
    let path = dir.join("httpok.state");
    write(&path, &sample());
    let mode = fs::metadata(&path).expect("stat").mode() & 0o7777;
    assert_eq!(mode, 0o600);
    // Written before stop_issued_at existed.
    fs::write(
        &path,
        br#"{"version":1,"checks":[],"programs":[{"program":"web","restarts":[],"gave_up":false,"stopping":7}]}"#,
    )
    .expect("write");
    chmod(&path, 0o600);
    let saved = load(&path).expect("load").expect("some");
    assert_eq!(
        saved.programs[0].stop_record(),
        Some(StopRecord {
            pid: 7,
            issued_at: None
        })
    );
}

#[test]
fn temp_names_are_random_hidden_and_beside_the_file() {
    let dir = Path::new("/var/lib/httpok");
    let a = temp_path(dir, OsStr::new("httpok.state"));
    let b = temp_path(dir, OsStr::new("httpok.state"));
    assert_ne!(a, b);
    for p in [&a, &b] {
        assert_eq!(p.parent(), Some(dir));
        let name = p.file_name().and_then(OsStr::to_str).expect("name");
        assert!(
            name.starts_with(".httpok.state.") && name.ends_with(".tmp"),
            "{name}"
        );
    }
}

#[test]
fn links_and_fifos_planted_beside_the_file_are_neither_followed_nor_opened() {
    let dir = TempDir::new("state-plant");
    let path = dir.join("httpok.state");
    let victim = dir.join("victim");
    fs::write(&victim, "precious").expect("victim");
    // The old fixed temp name, a link at the path itself, and a FIFO: none may be
    // written through or block the write.
    symlink(&victim, dir.join("httpok.state.tmp")).expect("symlink");
    mkfifo(&dir.join("httpok.state.fifo"));
    symlink(&victim, &path).expect("symlink");
    write(&path, &sample());
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious");
    let meta = fs::symlink_metadata(&path).expect("stat");
    assert!(
        meta.file_type().is_file(),
        "the link is replaced, not followed"
    );
    assert_eq!(load(&path), Ok(Some(sample())));
}

#[test]
fn a_symlink_even_to_a_good_state_file_is_refused() {
    let dir = TempDir::new("state-link");
    let real = dir.join("real.state");
    write(&real, &sample());
    let path = dir.join("httpok.state");
    symlink(&real, &path).expect("symlink");
    assert_eq!(load(&path), Err(LoadError::NotRegular("symbolic link")));
}

#[test]
fn a_fifo_at_the_path_is_refused_at_once_not_waited_on() {
    let dir = TempDir::new("state-fifo");
    let path = dir.join("httpok.state");
    mkfifo(&path);
    assert_eq!(
        load_within(&path, Duration::from_secs(5)),
        Err(LoadError::NotRegular("FIFO"))
    );
}

#[test]
fn a_device_is_refused_and_a_link_to_dev_zero_is_not_read() {
    assert_eq!(
        load_within(Path::new("/dev/zero"), Duration::from_secs(5)),
        Err(LoadError::NotRegular("character device"))
    );
    let dir = TempDir::new("state-zero");
    let path = dir.join("httpok.state");
    symlink("/dev/zero", &path).expect("symlink");
    assert_eq!(
        load_within(&path, Duration::from_secs(5)),
        Err(LoadError::NotRegular("symbolic link"))
    );
    let path = dir.join("dir.state");
    fs::create_dir(&path).expect("mkdir");
    assert_eq!(load(&path), Err(LoadError::NotRegular("directory")));
}

#[test]
fn reading_stops_after_the_cap_whatever_the_length_says() {
    // An endless reader: /dev/zero reached some other way, a /proc file.
    assert_eq!(read_bounded(io::repeat(b' ')), Err(LoadError::TooLarge));
    let at_cap = vec![b' '; MAX_BYTES as usize];
    assert_eq!(read_bounded(&at_cap[..]).map(|t| t.len()), Ok(at_cap.len()));
    // A sparse file of 1 GiB: refused after 4 MiB read.
    let dir = TempDir::new("state-big");
    let path = dir.join("httpok.state");
    let file = fs::File::create(&path).expect("create");
    file.set_len(1 << 30).expect("set_len");
    chmod(&path, 0o600);
    assert_eq!(load(&path), Err(LoadError::TooLarge));
}

#[test]
fn a_file_others_can_write_is_refused() {
    let dir = TempDir::new("state-mode-w");
    let path = dir.join("httpok.state");
    write(&path, &sample());
    for mode in [0o666, 0o620, 0o602] {
        chmod(&path, mode);
        let got = load(&path);
        assert!(
            matches!(&got, Err(LoadError::Untrusted(why)) if why.contains("writable by group or others")),
            "{mode:o}: {got:?}"
        );
    }
    chmod(&path, 0o644);
    assert_eq!(load(&path), Ok(Some(sample())));
}

#[test]
fn a_directory_others_can_write_is_refused_sticky_or_not() {
    let dir = TempDir::new("state-dir-w");
    let path = dir.join("httpok.state");
    write(&path, &sample());
    for mode in [0o777, 0o1777, 0o775] {
        chmod(&dir, mode);
        let got = load(&path);
        assert!(
            matches!(&got, Err(LoadError::Untrusted(why)) if why.starts_with("its directory")),
            "{mode:o}: {got:?}"
        );
    }
    chmod(&dir, 0o755);
    assert_eq!(load(&path), Ok(Some(sample())));
    // Said already before any file is there; a directory not made yet is fine.
    fs::remove_file(&path).expect("rm");
    chmod(&dir, 0o1777);
    assert!(matches!(load(&path), Err(LoadError::Untrusted(_))));
    chmod(&dir, 0o755);
    assert_eq!(load(&path), Ok(None));
    assert_eq!(load(&dir.join("new").join("httpok.state")), Ok(None));
}

#[test]
fn ownership_and_mode_decide_trust() {
    let me = 1000;
    assert_eq!(trusted_by(me, 0o100600, me), Ok(()));
    assert_eq!(trusted_by(0, 0o40755, me), Ok(()), "root's directory");
    assert_eq!(trusted_by(me, 0o100644, me), Ok(()), "others may read");
    let refused = |owner, mode| trusted_by(owner, mode, me).is_err();
    assert!(refused(65534, 0o100600), "another user's file");
    assert!(refused(me, 0o100660), "group-writable");
    assert!(refused(me, 0o100602), "other-writable");
    assert!(refused(0, 0o41777), "a sticky world-writable directory");
}

#[test]
fn a_file_another_user_owns_is_refused() {
    let dir = TempDir::new("state-owner");
    let path = dir.join("httpok.state");
    write(&path, &sample());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Only root can give a file away; the decision itself is
        // ownership_and_mode_decide_trust's.
        eprintln!("not root: the chown case needs root");
        return;
    }
    let c = CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: a valid path; 65534 is nobody.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0, "chown");
    let got = load(&path);
    assert!(
        matches!(&got, Err(LoadError::Untrusted(why)) if why.contains("belongs to uid 65534")),
        "{got:?}"
    );
}

#[test]
fn a_corrupt_or_foreign_file_is_an_error_not_a_panic() {
    let dir = TempDir::new("state-bad");
    let path = dir.join("httpok.state");
    for bad in [
        &b"{not json"[..],
        b"",
        b"\xff\xfe",
        br#"{"version":99,"checks":[],"programs":[]}"#,
    ] {
        fs::write(&path, bad).expect("write");
        chmod(&path, 0o600);
        assert!(load(&path).is_err(), "{bad:?}");
    }
    fs::write(&path, br#"{"version":99,"checks":[],"programs":[]}"#).expect("write");
    assert_eq!(load(&path), Err(LoadError::Version(99)));
}

#[test]
fn a_fifo_at_the_path_is_not_replaced() {
    let dir = TempDir::new("state-keep");
    let path = dir.join("httpok.state");
    mkfifo(&path);
    let err = save(&path, b"{}").expect_err("refused");
    assert_eq!(
        err,
        "it is a FIFO, not a regular file, and is left in place"
    );
    assert!(
        fs::symlink_metadata(&path)
            .expect("stat")
            .file_type()
            .is_fifo()
    );
    // Nothing left behind.
    assert_eq!(fs::read_dir(&*dir).expect("ls").count(), 1);
}
