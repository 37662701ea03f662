//! supervisord's XML-RPC replies, as arbitrary bytes, through the HTTP reply split and
//! the response decoder (httpok::fuzzing::xmlrpc).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httpok::fuzzing::xmlrpc(data));
