//! The provider harness against the real oidc-provider: what other crates' SSO tests rely on.

mod chromium;
mod crafted;
mod device;
mod keys;
mod lifecycle;
mod lifetimes;
mod relying_party;
mod sign_in;

use twofill_test_oidc::{Account, Config, Provider, REDIRECT_URI};

pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "correct horse";
pub const SCOPE: &str = "openid email groups offline_access";

pub fn provider() -> Provider {
    Provider::start(Config::default().account(Account::new(
        ALICE,
        "alice@example.com",
        ALICE_PASSWORD,
        &["engineering", "twofill-admins"],
    )))
}

/// The registered loopback redirect on a port it was not registered with (RFC 8252 §7.3).
pub fn loopback_redirect() -> String {
    REDIRECT_URI.replace("127.0.0.1", "127.0.0.1:49321")
}
