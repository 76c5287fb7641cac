//! Randomness from the operating system, and the ids made from it.

/// Fills `buf` from the OS generator.
///
/// # Panics
///
/// If the OS generator fails, which std treats as fatal too.
pub fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// A new device id: `dev-` and 16 hex digits (64 random bits).
pub fn device_id() -> String {
    let mut bytes = [0u8; 8];
    fill(&mut bytes);
    format!("dev-{}", twofill_vault::audit::hex(&bytes))
}
