//! The state file on disk. Written to a new temp file of a random name beside it
//! (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600: nothing planted there is followed or
//! reused), fsynced, renamed over the file, and the directory fsynced. Read only from a
//! regular file (never a symlink, FIFO or device: each is refused before it is opened,
//! and the open itself neither follows a link nor blocks) that httpok's user owns and
//! nobody else can write, in a directory nobody else can write, and at most
//! [`MAX_BYTES`] of it, counted by reading.

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{LoadError, MAX_BYTES, Saved, parse};

/// Reads the file: `Ok(None)` when it does not exist.
pub fn load(path: &Path) -> Result<Option<Saved>, LoadError> {
    let dir = dir_of(path);
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        // Said now, not only once a file written there is refused at the next start.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return trusted_dir(dir).map(|()| None),
        Err(e) => return Err(LoadError::Io(e.to_string())),
    };
    // Refused before anything is opened: opening a FIFO or a device is already an act.
    regular(&meta)?;
    trusted_dir(dir)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| LoadError::Io(e.to_string()))?;
    // What was opened, not what the path named a moment ago.
    let meta = file.metadata().map_err(|e| LoadError::Io(e.to_string()))?;
    regular(&meta)?;
    trusted(&meta, euid()).map_err(|why| LoadError::Untrusted(format!("it {why}")))?;
    parse(&read_bounded(file)?).map(Some)
}

/// Writes `text` as the file's new content, atomically.
pub fn save(path: &Path, text: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} names no file", path.display()))?;
    refuse_special(path)?;
    let dir = dir_of(path);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let (tmp, mut file) = create_temp(dir, name)?;
    let written = file
        .write_all(text)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(format!("writing {}: {e}", tmp.display()));
    }
    sync_dir(dir).map_err(|e| format!("syncing the directory {}: {e}", dir.display()))
}

/// A FIFO, device or socket at the path is not replaced: `--state-file /dev/null` must
/// not cost the machine its /dev/null. A symlink is (the link, not its target).
fn refuse_special(path: &Path) -> Result<(), String> {
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() && !meta.file_type().is_symlink() => {
            match regular(&meta) {
                Err(LoadError::NotRegular(kind)) => Err(format!(
                    "it is a {kind}, not a regular file, and is left in place"
                )),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Reads to the end, but never more than [`MAX_BYTES`] (a length the file reports is
/// not trusted: `/proc` files say 0, a device says nothing).
pub(super) fn read_bounded(reader: impl Read) -> Result<Vec<u8>, LoadError> {
    let mut text = Vec::new();
    reader
        .take(MAX_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| LoadError::Io(e.to_string()))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(LoadError::TooLarge);
    }
    Ok(text)
}

/// Refuses a directory another user can write (one that does not exist yet is created
/// 0700 by the first write).
fn trusted_dir(dir: &Path) -> Result<(), LoadError> {
    let meta = match fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LoadError::Io(format!("{}: {e}", dir.display()))),
    };
    trusted(&meta, euid())
        .map_err(|why| LoadError::Untrusted(format!("its directory {} {why}", dir.display())))
}

/// Refuses anything but a regular file, naming what it is.
fn regular(meta: &Metadata) -> Result<(), LoadError> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_symlink() {
        "symbolic link"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_dir() {
        "directory"
    } else if kind.is_socket() {
        "socket"
    } else {
        "special file"
    };
    Err(LoadError::NotRegular(what))
}

/// Can no user but `euid` (and root) write it? The reason, as words after "it", if not.
pub(super) fn trusted(meta: &Metadata, euid: u32) -> Result<(), String> {
    trusted_by(meta.uid(), meta.mode(), euid)
}

/// [`trusted`] on the owner and mode bits alone.
pub(super) fn trusted_by(owner: u32, mode: u32, euid: u32) -> Result<(), String> {
    if owner != euid && owner != 0 {
        return Err(format!(
            "belongs to uid {owner}, not to httpok's user (uid {euid}) or root"
        ));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "is writable by group or others (mode {:04o})",
            mode & 0o7777
        ));
    }
    Ok(())
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The directory the file is in (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A new file `.NAME.RANDOM.tmp` in `dir`, mode 0600, that did not exist before.
fn create_temp(dir: &Path, name: &OsStr) -> Result<(PathBuf, File), String> {
    let mut last = None;
    for _ in 0..16 {
        let tmp = temp_path(dir, name);
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp);
        match created {
            Ok(file) => return Ok((tmp, file)),
            // Someone planted a file under that name: take another.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(format!(
                    "cannot create a temp file in {}: {e}",
                    dir.display()
                ));
            }
        }
    }
    Err(format!(
        "cannot create a temp file in {}: {}",
        dir.display(),
        last.map_or_else(|| "no name was free".to_string(), |e| e.to_string())
    ))
}

/// `.NAME.RANDOM.tmp` beside the file: a name nobody can guess in advance.
pub(super) fn temp_path(dir: &Path, name: &OsStr) -> PathBuf {
    // std's RandomState is keyed from the OS's random source; the time and pid only
    // make two calls differ.
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    let mut file = std::ffi::OsString::from(".");
    file.push(name);
    file.push(format!(".{:016x}.tmp", hasher.finish()));
    dir.join(file)
}

/// fsync of the directory, so the rename itself survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir);
    // O_NOFOLLOW refuses a symlinked directory; the operator may have made one.
    let handle = match handle {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => File::open(dir)?,
        other => other?,
    };
    match handle.sync_all() {
        // Some filesystems cannot sync a directory; the rename is as safe as they get.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => other,
    }
}
