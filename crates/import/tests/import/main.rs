//! Integration tests of the import crate: QR images from independent encoders, Google Authenticator exports, malformed input.
//!
//! One test binary for the crate (ripgrep style: `autotests = false`),
//! so the workspace links one integration-test executable per crate.

mod support;

mod malformed;
mod migration;
mod qr;
mod recovery;
