//! Replays every file of the fuzz corpus (fuzz/corpus/<target>/) through the same
//! harness the fuzz target runs, so `cargo test` on stable, without cargo-fuzz, checks
//! the seeds captured from a real supervisord and any input a fuzz run kept there.
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `harness` on each file; fails naming every file that panicked.
fn replay(target: &str, harness: fn(&[u8])) {
    let files = corpus(target);
    assert!(files.len() >= 10, "{target}: only {} seeds", files.len());
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = fs::read(path).expect("read corpus file");
            panic::catch_unwind(|| harness(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: harness failed on {failed:#?}");
}

#[test]
fn every_listener_seed_passes_the_listener_harness() {
    replay("listener", httpok::fuzzing::listener);
}

#[test]
fn every_xmlrpc_seed_passes_the_xmlrpc_harness() {
    replay("xmlrpc", httpok::fuzzing::xmlrpc);
}

#[test]
fn the_captured_seeds_decode_as_supervisord_meant_them() {
    // The corpus is real traffic, not noise: spot-check that it still parses.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let stream = fs::read(root.join("listener/captured-stream")).expect("stream");
    let events = httpok::fuzzing::read_events(&stream[..]);
    assert!(events.len() > 20, "{} events", events.len());
    assert!(events.iter().all(|e| e.header.problem.is_none()));

    let reply = fs::read(root.join("xmlrpc/captured-getAllProcessInfo")).expect("reply");
    let body = httpok::supervisor::parse_http_reply(&reply).expect("a 200");
    let value = httpok::supervisor::xmlrpc::decode_response(body)
        .expect("decodes")
        .expect("not a fault");
    assert!(value.as_array().is_some_and(|items| items.len() >= 3));

    let reply = fs::read(root.join("xmlrpc/captured-getProcessInfo-BAD_NAME")).expect("reply");
    let body = httpok::supervisor::parse_http_reply(&reply).expect("a 200");
    let fault = httpok::supervisor::xmlrpc::decode_response(body)
        .expect("decodes")
        .expect_err("a fault");
    assert_eq!(fault.name(), "BAD_NAME");
}

#[test]
fn every_config_file_seed_passes_the_config_file_harness() {
    replay("config_file", httpok::fuzzing::config_file);
}

#[test]
fn every_ticks_seed_passes_the_ticks_harness() {
    replay("ticks", httpok::fuzzing::ticks);
}
