//! Why supervisord's unix socket refused httpok's connect (EACCES), in words a reader
//! can act on: the user httpok runs as (supervisord's `user=` for the listener), the
//! socket's owner and mode, and the two ways out. Debian's supervisord makes its
//! socket `root:root 0700`, so a listener given `user=` meets this first.
//!
//! Pure wording in [`message`]; [`explain`] gathers the facts (one stat, the process's
//! ids, the names behind them) on the error path only.

use std::ffi::CStr;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// A user or group: its id and, when the system knows it, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Id {
    pub id: u32,
    pub name: Option<String>,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "{}", self.id),
        }
    }
}

/// What a stat of the socket showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SocketFacts {
    pub owner: Id,
    pub group: Id,
    /// The permission bits (0o700).
    pub mode: u32,
}

/// The message for a connect to `path` refused with EACCES.
pub(super) fn explain(path: &Path) -> String {
    let socket = std::fs::metadata(path).ok().map(|meta| SocketFacts {
        owner: user(meta.uid()),
        group: group(meta.gid()),
        mode: meta.permissions().mode() & 0o7777,
    });
    // SAFETY: geteuid and getegid have no preconditions and cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    message(
        &path.display().to_string(),
        &user(uid),
        &group(gid),
        socket.as_ref(),
    )
}

/// The words, from the facts.
pub(super) fn message(path: &str, me: &Id, my_group: &Id, socket: Option<&SocketFacts>) -> String {
    let runs_as = format!("httpok runs as user {me} (uid {}, group {my_group})", me.id);
    let Some(socket) = socket else {
        return format!(
            "permission denied connecting to the unix socket {path}: {runs_as}, which cannot \
             even look at the socket (a directory on its path is closed to it). Run the \
             listener as a user that may reach it (the user= line of its \
             [eventlistener:...] section, or none to run as supervisord does)"
        );
    };
    format!(
        "permission denied connecting to the unix socket {path}: {runs_as}; the socket is \
         owned by {}:{} with mode {:04o} ({}). Run the listener as a user that may connect \
         (the user= line of its [eventlistener:...] section, or none to run as \
         supervisord does), or let this user in with [unix_http_server] chown={}:GROUP \
         and chmod=0770 (a GROUP user {me} is in)",
        socket.owner,
        socket.group,
        socket.mode,
        rwx(socket.mode),
        socket.owner,
    )
}

/// `rwx------` for 0o700.
fn rwx(mode: u32) -> String {
    (0..9)
        .map(|i| {
            let bit = 0o400 >> i;
            match (mode & bit != 0, i % 3) {
                (false, _) => '-',
                (true, 0) => 'r',
                (true, 1) => 'w',
                (true, _) => 'x',
            }
        })
        .collect()
}

/// Most bytes a passwd or group entry may take here; a longer one goes unnamed.
const ENTRY_BUFFER: usize = 16 * 1024;

fn user(uid: u32) -> Id {
    let mut buf = vec![0 as libc::c_char; ENTRY_BUFFER];
    // SAFETY: passwd is plain data, zeroed is a valid value for getpwuid_r to fill.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and buf's length is passed with it.
    let rc = unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    let name = (rc == 0 && !found.is_null() && !entry.pw_name.is_null())
        // SAFETY: getpwuid_r succeeded, so pw_name points to a NUL-terminated name in buf.
        .then(|| {
            unsafe { CStr::from_ptr(entry.pw_name) }
                .to_string_lossy()
                .into_owned()
        });
    Id { id: uid, name }
}

fn group(gid: u32) -> Id {
    let mut buf = vec![0 as libc::c_char; ENTRY_BUFFER];
    // SAFETY: group is plain data, zeroed is a valid value for getgrgid_r to fill.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and buf's length is passed with it.
    let rc = unsafe { libc::getgrgid_r(gid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    let name = (rc == 0 && !found.is_null() && !entry.gr_name.is_null())
        // SAFETY: getgrgid_r succeeded, so gr_name points to a NUL-terminated name in buf.
        .then(|| {
            unsafe { CStr::from_ptr(entry.gr_name) }
                .to_string_lossy()
                .into_owned()
        });
    Id { id: gid, name }
}

/// Whether a connect failed for want of permission.
pub(super) fn is_denied(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(id: u32, name: &str) -> Id {
        Id {
            id,
            name: Some(name.into()),
        }
    }

    #[test]
    fn debians_socket_and_a_user_line_are_named_with_the_way_out() {
        let socket = SocketFacts {
            owner: id(0, "root"),
            group: id(0, "root"),
            mode: 0o700,
        };
        let text = message(
            "/var/run/supervisor.sock",
            &id(65534, "nobody"),
            &id(65534, "nogroup"),
            Some(&socket),
        );
        assert_eq!(
            text,
            "permission denied connecting to the unix socket /var/run/supervisor.sock: \
             httpok runs as user nobody (uid 65534, group nogroup); the socket is owned by \
             root:root with mode 0700 (rwx------). Run the listener as a user that may \
             connect (the user= line of its [eventlistener:...] section, or none to run as \
             supervisord does), or let this user in with [unix_http_server] chown=root:GROUP \
             and chmod=0770 (a GROUP user nobody is in)"
        );
    }

    #[test]
    fn a_socket_that_cannot_be_stat_said_so_and_unnamed_ids_are_numbers() {
        let me = Id {
            id: 4242,
            name: None,
        };
        let text = message("/s.sock", &me, &Id { id: 7, name: None }, None);
        assert!(
            text.contains("httpok runs as user 4242 (uid 4242, group 7), which cannot even look"),
            "{text}"
        );
        assert_eq!(rwx(0o750), "rwxr-x---");
        assert_eq!(rwx(0o006), "------rw-");
    }

    #[test]
    fn the_running_user_and_a_real_socket_are_looked_up() {
        let dir = crate::test_rig::TempDir::new("denied");
        let path = dir.join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let text = explain(&path);
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        assert!(text.contains(&format!("(uid {uid}, group ")), "{text}");
        assert!(text.contains("with mode 0700 (rwx------)"), "{text}");
        assert!(!text.contains("user 0 "), "root has a name: {text}");
    }
}
