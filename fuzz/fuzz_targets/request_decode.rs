//! Request decoding (`Request::decode`) over arbitrary frame payloads.
//!
//! Properties:
//! - never panics (deep nesting, huge numbers, invalid UTF-8, duplicate keys);
//! - every error has a non-empty, bounded message and echoes an id only when
//!   it is a valid one (1..=MAX_ID_CHARS characters);
//! - every error reply serialises to a frame within MAX_FRAME_BYTES;
//! - a decoded request re-encodes to JSON that decodes to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofill_protocol::{MAX_ERROR_MESSAGE_CHARS, MAX_FRAME_BYTES, MAX_ID_CHARS, Request};

fuzz_target!(|data: &[u8]| {
    match Request::decode(data) {
        Ok(request) => {
            assert!(!request.id.is_empty() && request.id.chars().count() <= MAX_ID_CHARS);
            let json = serde_json::to_vec(&request).expect("requests serialise");
            let again = Request::decode(&json).expect("a re-encoded request decodes");
            assert_eq!(again, request);
        }
        Err(e) => {
            assert!(!e.message.is_empty(), "empty error message for {data:?}");
            assert!(
                e.message.chars().count() <= MAX_ERROR_MESSAGE_CHARS,
                "unbounded error message ({} chars)",
                e.message.chars().count()
            );
            if let Some(id) = &e.id {
                assert!(
                    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS,
                    "echoed id {id:?}"
                );
            }
            let reply = serde_json::to_vec(&e.into_response()).expect("replies serialise");
            assert!(reply.len() <= MAX_FRAME_BYTES);
        }
    }
});
