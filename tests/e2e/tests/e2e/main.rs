//! End-to-end tests in real browsers: autofill, the detection corpus, the popup, Chromium under enterprise policy, Firefox ESR, teammates on the team server, signing in with the organization's identity provider, SMS codes from the shared inbox.
//!
//! One test binary for the crate (ripgrep style: `autotests = false`),
//! so the workspace links one integration-test executable per crate.

mod autofill;
mod corpus;
mod firefox;
mod policy;
mod popup;
mod recovery;
mod sms;
mod sso;
mod team;
