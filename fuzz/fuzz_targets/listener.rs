//! supervisord's side of the event-listener pipe: headers and payloads, as arbitrary
//! bytes, through the framing and the listener loop (httpok::fuzzing::listener).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httpok::fuzzing::listener(data));
