//! `--state-file`: what httpok must not forget when it is restarted. Failure counts,
//! each program's restart history and give-up, and any restart in flight (a program
//! httpok stopped and had not yet started). Written atomically (a temp file in the same
//! directory, then rename) whenever it changes; read at start. JSON, so an operator can
//! read it. Times are epoch seconds: the only clock two httpok processes share.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file's format version; a file of another version is ignored (with a WARN).
pub const VERSION: u32 = 1;
/// Largest state file read: thousands of programs fit; anything bigger is not ours.
const MAX_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub version: u32,
    pub checks: Vec<SavedCheck>,
    pub programs: Vec<SavedProgram>,
    /// Certificate-expiry notices already given (absent in files of older httpoks).
    #[serde(default)]
    pub certs: Vec<SavedCert>,
}

/// An https target's certificate notice: when it was last WARNed about (epoch
/// seconds) and which certificate (its notAfter) was mailed about, so a restart of
/// httpok does not repeat them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedCert {
    pub target: String,
    pub warned_at: Option<i64>,
    pub mailed_for: Option<i64>,
}

/// A check's count toward its threshold, by its label (its URLs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedCheck {
    pub check: String,
    pub failures: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedProgram {
    pub program: String,
    /// Epoch seconds of each restart still in the --restart-window.
    pub restarts: Vec<i64>,
    pub gave_up: bool,
    /// httpok issued a stop of this pid for a restart and had not issued the start.
    pub stopping: Option<u32>,
}

/// Reads the file: `Ok(None)` when it does not exist.
pub fn load(path: &Path) -> Result<Option<Saved>, String> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if meta.len() > MAX_BYTES {
        return Err(format!("larger than {MAX_BYTES} bytes"));
    }
    let text = fs::read(path).map_err(|e| e.to_string())?;
    let saved: Saved =
        serde_json::from_slice(&text).map_err(|e| format!("not a state file: {e}"))?;
    if saved.version != VERSION {
        return Err(format!(
            "version {} (this httpok writes {VERSION})",
            saved.version
        ));
    }
    Ok(Some(saved))
}

/// Writes the file atomically: a reader sees the old state or the new, never half.
pub fn save(path: &Path, saved: &Saved) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(saved).map_err(|e| e.to_string())?;
    let name = path
        .file_name()
        .ok_or_else(|| "the path names no file".to_string())?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&text)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        e.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "httpok-state-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    #[test]
    fn a_saved_state_reads_back_and_a_missing_file_is_none() {
        let dir = dir();
        let path = dir.join("httpok.state");
        assert_eq!(load(&path), Ok(None));
        let saved = Saved {
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
            }],
        };
        save(&path, &saved).expect("save");
        assert_eq!(load(&path), Ok(Some(saved)));
        assert!(!dir.join("httpok.state.tmp").exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_or_foreign_file_is_an_error_not_a_panic() {
        let dir = dir();
        let path = dir.join("httpok.state");
        for bad in [
            &b"{not json"[..],
            b"",
            b"\xff\xfe",
            br#"{"version":99,"checks":[],"programs":[]}"#,
        ] {
            fs::write(&path, bad).expect("write");
            assert!(load(&path).is_err(), "{bad:?}");
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
