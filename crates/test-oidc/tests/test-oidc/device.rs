//! The device authorization grant (RFC 8628), approved over HTTP at the provider's pages.

use twofill_test_oidc::jwt;

use crate::{ALICE, ALICE_PASSWORD, SCOPE, provider};

#[test]
fn the_device_flow_gives_tokens_once_approved() {
    let provider = provider();
    let device = provider.start_device(SCOPE);
    assert!(device.verification_uri.starts_with(provider.issuer()));
    assert_eq!(
        provider.last_user_code().as_deref(),
        Some(device.user_code.as_str())
    );
    let pending = provider.poll_device(&device.device_code).unwrap_err();
    assert_eq!(pending.oauth_error(), Some("authorization_pending"));

    provider
        .approve_device(&device.user_code, ALICE, ALICE_PASSWORD)
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()));
    let tokens = provider.poll_device(&device.device_code).unwrap();
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.payload["sub"], ALICE);
    assert_eq!(id_token.payload["aud"], provider.client_id());
    assert!(tokens.refresh_token.is_some());
}

#[test]
fn a_wrong_password_does_not_approve_the_device() {
    let provider = provider();
    let device = provider.start_device(SCOPE);
    assert!(
        provider
            .approve_device(&device.user_code, ALICE, "wrong")
            .is_err()
    );
    let pending = provider.poll_device(&device.device_code).unwrap_err();
    assert_eq!(pending.oauth_error(), Some("authorization_pending"));
}
