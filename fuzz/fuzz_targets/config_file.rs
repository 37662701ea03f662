//! `--config` files, as arbitrary bytes, through the TOML reader and the settings
//! layers (httpok::fuzzing::config_file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httpok::fuzzing::config_file(data));
