//! Recovery-code input (`twofill_import::recovery_codes`) over arbitrary
//! bytes: what an admin pastes or the file they hand `token recovery set`.
//!
//! Properties:
//! - never panics (invalid UTF-8, control bytes, huge lines, odd numbering);
//! - what it returns is what the vault stores: 1 or more codes, each 4–64
//!   letters, digits and dashes, no two alike.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = twofill_import::recovery_codes(data) {
        assert!(!read.codes.is_empty());
        let mut seen = std::collections::HashSet::new();
        for code in &read.codes {
            assert!((4..=64).contains(&code.len()), "{code:?}");
            assert!(
                code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                "{code:?}"
            );
            assert!(seen.insert(code), "{code:?} twice");
        }
    }
});
