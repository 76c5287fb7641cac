//! twofill-install's integration tests: one test binary (`cargo test -p
//! twofill-install --test install`), one `support` module.
//!
//! `twofill-host install|uninstall` end to end, through the real binary, is
//! tested with the host (`crates/host/tests/host/system_install.rs`): the
//! binary is the host's, and only its own crate's tests can run it.

mod support;

mod deploy_examples;
