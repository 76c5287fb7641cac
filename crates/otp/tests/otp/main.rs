//! Integration tests of the otp crate: RFC 4226 and RFC 6238 vectors, oathtool, an independent HMAC reference, otpauth links.
//!
//! One test binary for the crate (ripgrep style: `autotests = false`),
//! so the workspace links one integration-test executable per crate.

mod oathtool;
mod reference;
mod rfc4226;
mod rfc6238;
mod uri;
