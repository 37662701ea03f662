//! Executable stand-ins for the commands httpok runs: [`write_script`] for a hook
//! with a body of the test's, and [`Recorder`] for sendmail and gcore, which keeps
//! every call for the test to read.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{read_file_lossy, wait_for};

/// Writes `#!/bin/sh` and `body` to `path` and makes it executable.
#[track_caller]
pub fn write_script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n"))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A script `DIR/NAME` that saves each call in a file of its own, `DIR/NAME.N` (N
/// from 0 up): a line `argv: ARGS`, then everything it read on stdin. Each file
/// appears whole (written aside, then renamed), so a test never reads half a call.
pub struct Recorder {
    dir: PathBuf,
    name: String,
}

impl Recorder {
    #[track_caller]
    pub fn new(dir: &Path, name: &str) -> Recorder {
        let d = dir.display();
        write_script(
            &dir.join(name),
            &format!(
                "n=$(ls '{d}' | grep -c '^{name}\\.[0-9][0-9]*$')\n\
                 {{ echo \"argv: $*\"; cat; }} > '{d}/{name}.tmp.'$$\n\
                 mv '{d}/{name}.tmp.'$$ '{d}/{name}.'$n"
            ),
        );
        Recorder {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        }
    }

    /// The script's path, for `-s` or `-g`.
    pub fn command(&self) -> String {
        self.dir.join(&self.name).display().to_string()
    }

    /// What each call so far saved, in call order.
    pub fn calls(&self) -> Vec<String> {
        let prefix = format!("{}.", self.name);
        let mut numbered: Vec<(u32, PathBuf)> = fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        let file = e.file_name().to_string_lossy().into_owned();
                        let n = file.strip_prefix(&prefix)?.parse().ok()?;
                        Some((n, e.path()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        numbered.sort();
        numbered.iter().map(|(_, p)| read_file_lossy(p)).collect()
    }

    /// Waits until a call saved `needle`; returns what that call saved.
    #[track_caller]
    pub fn wait_for_call(&self, needle: &str, timeout: Duration) -> String {
        wait_for(
            &format!("a call of {} with {needle:?}", self.name),
            timeout,
            || {
                let calls = self.calls();
                match calls.iter().find(|c| c.contains(needle)) {
                    Some(call) => Ok(call.clone()),
                    None => Err(format!("{} calls", calls.len())),
                }
            },
        )
    }
}
