//! supervisord's TICKs as arbitrary names, `when` values and timings, through the tick
//! clock that decides which ones run a round (httpok::fuzzing::ticks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httpok::fuzzing::ticks(data));
