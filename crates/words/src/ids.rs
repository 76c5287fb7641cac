//! Who talks to whom: the name the host is registered under and the ids of
//! the extension it answers (the host's caller check, the host manifests,
//! the packager and the tests all read these).

/// Name under which the native host is registered with browsers.
pub const HOST_NAME: &str = "com.twofill.host";

/// The Chromium extension id, fixed by the public key in
/// `extension/manifest.json` (`keys/dev-extension-id.txt`). An organization
/// that re-signs the extension rebuilds with its own id there.
pub const CHROMIUM_EXTENSION_ID: &str = {
    // The file ends with a newline; a const slice drops it.
    let raw = include_str!("../../../keys/dev-extension-id.txt").as_bytes();
    let mut len = raw.len();
    while len > 0 && raw[len - 1].is_ascii_whitespace() {
        len -= 1;
    }
    match std::str::from_utf8(raw.split_at(len).0) {
        Ok(id) => id,
        Err(_) => panic!("keys/dev-extension-id.txt is not UTF-8"),
    }
};

/// The Firefox add-on id (`browser_specific_settings.gecko.id` in
/// `extension/manifest.json`).
pub const GECKO_EXTENSION_ID: &str = "twofill@twofill.dev";

/// What `twofill-server serve` prints first, followed by the address, once
/// it listens: what scripts and the tests wait for.
pub const SERVER_LISTENING: &str = "twofill-server listening on https://";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_id_is_32_letters_a_to_p() {
        assert_eq!(CHROMIUM_EXTENSION_ID.len(), 32);
        assert!(
            CHROMIUM_EXTENSION_ID
                .bytes()
                .all(|b| (b'a'..=b'p').contains(&b))
        );
    }

    #[test]
    fn manifest_names_the_gecko_id() {
        let manifest = include_str!("../../../extension/manifest.json");
        assert!(manifest.contains(&format!("\"id\": \"{GECKO_EXTENSION_ID}\"")));
    }
}
