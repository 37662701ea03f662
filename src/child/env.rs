//! The environment a child gets: httpok's own, less what it reads to log in to
//! supervisord (a hook, an MTA or an exec check must not be handed its password), plus
//! what the caller adds.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

use crate::config::target::redact;

/// What httpok reads from its own environment to log in to supervisord, and no command
/// it runs needs: a hook or an MTA must not be handed supervisord's password.
const WITHHELD_ENV: [&str; 2] = ["SUPERVISOR_USERNAME", "SUPERVISOR_PASSWORD"];
/// Passed on (a hook may want to know which supervisord), its credentials as `***`.
const SERVER_URL_ENV: &str = "SUPERVISOR_SERVER_URL";

/// `base` with `added` on top, without [`WITHHELD_ENV`] and with the credentials taken
/// out of [`SERVER_URL_ENV`].
pub fn environment(
    base: impl IntoIterator<Item = (OsString, OsString)>,
    added: &[(&str, String)],
) -> Vec<(OsString, OsString)> {
    let mut env: BTreeMap<OsString, OsString> = base.into_iter().collect();
    env.extend(added.iter().map(|(k, v)| (k.into(), v.into())));
    for name in WITHHELD_ENV {
        env.remove(OsStr::new(name));
    }
    if let Some(url) = env.remove(OsStr::new(SERVER_URL_ENV)) {
        // A value that is not UTF-8 cannot be checked for credentials: it is dropped.
        if let Some(url) = url.to_str() {
            env.insert(SERVER_URL_ENV.into(), redact(url).into());
        }
    }
    env.into_iter().collect()
}
