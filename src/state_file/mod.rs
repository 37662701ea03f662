//! `--state-file`: what httpok must not forget when it is restarted. Failure counts,
//! each program's restart history and give-up, and any restart in flight (a program
//! httpok stopped and had not yet started). JSON, so an operator can read it. Times are
//! epoch seconds: the only clock two httpok processes share.
//!
//! This module owns the format and the file's IO (`disk.rs`): written atomically, so
//! a reader sees the old state or the new, never half; read only from a regular file
//! no other user can write. The keeper ([`crate::state_file::keeper`]) decides when to write and
//! keeps the IO off every lock and off the listener's thread.

use std::fmt;

use serde::{Deserialize, Serialize};

mod disk;
pub(crate) mod keeper;
#[cfg(test)]
mod tests;

pub use disk::load;
pub(crate) use disk::save;

/// The file's format version; a file of another version is ignored (with a WARN).
pub(crate) const VERSION: u32 = 1;
/// Largest state file read: thousands of programs fit; anything bigger is not ours.
pub(crate) const MAX_BYTES: u64 = 4 * 1024 * 1024;

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
    /// When that stop was issued, by supervisord's clock (absent in files of older
    /// httpoks: such a restart is not finished, nothing says it is still ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_issued_at: Option<i64>,
}

impl SavedProgram {
    /// The restart this program was left in, if any.
    pub fn stop_record(&self) -> Option<StopRecord> {
        self.stopping.map(|pid| StopRecord {
            pid,
            issued_at: self.stop_issued_at,
        })
    }
}

/// A restart's stop, kept until its start is issued: what lets the next httpok finish
/// a restart cut short, and only one that is still its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopRecord {
    /// The pid the stop was issued for.
    pub pid: u32,
    /// supervisord's clock (epoch seconds) when the stop was issued.
    pub issued_at: Option<i64>,
}

/// Why a state file was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// A symlink, FIFO, device, directory or socket: never opened for reading (a FIFO
    /// would hang httpok, `/dev/zero` would never end).
    NotRegular(&'static str),
    /// Another user can write it or its directory, so it may say anything (the reason).
    Untrusted(String),
    TooLarge,
    Io(String),
    /// Not JSON of this format.
    Corrupt(String),
    /// A format version this httpok does not read.
    Version(u32),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotRegular(kind) => write!(f, "it is a {kind}, not a regular file"),
            LoadError::Untrusted(why) => write!(
                f,
                "{why}: another user could have written it; keep it in a directory only \
                 httpok's user can write (e.g. /var/lib/httpok, mode 0700)"
            ),
            LoadError::TooLarge => write!(f, "larger than {MAX_BYTES} bytes, not a state file"),
            LoadError::Io(e) => f.write_str(e),
            LoadError::Corrupt(e) => write!(f, "not a state file: {e}"),
            LoadError::Version(v) => write!(f, "version {v} (this httpok writes {VERSION})"),
        }
    }
}

/// Reads a state file's text (at most [`MAX_BYTES`]).
pub(crate) fn parse(text: &[u8]) -> Result<Saved, LoadError> {
    let saved: Saved =
        serde_json::from_slice(text).map_err(|e| LoadError::Corrupt(e.to_string()))?;
    if saved.version != VERSION {
        return Err(LoadError::Version(saved.version));
    }
    Ok(saved)
}

/// The text written: pretty JSON and a newline.
pub(crate) fn encode(saved: &Saved) -> Result<Vec<u8>, String> {
    let mut text = serde_json::to_vec_pretty(saved).map_err(|e| e.to_string())?;
    text.push(b'\n');
    Ok(text)
}
