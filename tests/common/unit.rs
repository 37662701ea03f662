//! The parts of the rig the unit tests share with the integration tests, included by
//! src/lib.rs (`#[path]`, as `test_rig`), so there is one of each: [`TempDir`], the one
//! temp-dir helper; [`certs`], the one CA recipe; and [`hostile`], the hostile peers and
//! an address that refuses. They use nothing but std.

// The integration tests use the rest of them.
#[allow(dead_code)]
#[path = "certs.rs"]
pub mod certs;
#[allow(dead_code)]
#[path = "dirs.rs"]
pub mod dirs;
#[allow(dead_code)]
#[path = "hostile.rs"]
pub mod hostile;

pub use dirs::TempDir;
