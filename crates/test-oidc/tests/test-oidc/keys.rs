//! Key rotation at the provider.

use twofill_test_oidc::{Pkce, Provider, jwt};

use crate::{ALICE, ALICE_PASSWORD, SCOPE, loopback_redirect, provider};

fn id_token_kid(provider: &Provider) -> String {
    let tokens = provider
        .sign_in(
            ALICE,
            ALICE_PASSWORD,
            &loopback_redirect(),
            &Pkce::new(),
            "n",
            SCOPE,
        )
        .unwrap();
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    id_token.header["kid"].as_str().unwrap().to_owned()
}

#[test]
fn after_rotation_a_new_kid_signs_and_the_old_one_leaves_the_jwks() {
    let provider = provider();
    let before = id_token_kid(&provider);
    let kids = provider.rotate_keys();
    assert!(!kids.contains(&before));
    assert_eq!(provider.jwks_kids(), kids);
    let after = id_token_kid(&provider);
    assert_ne!(before, after);
    assert!(provider.jwks_kids().contains(&after));
}

#[test]
fn rotation_can_keep_the_old_key_published() {
    let provider = provider();
    let before = id_token_kid(&provider);
    let kids = provider.rotate_keys_keeping_old();
    assert_eq!(kids.len(), 4);
    assert!(kids.contains(&before));
    let after = id_token_kid(&provider);
    assert_ne!(before, after);
    assert_eq!(kids[0], after, "the newest RS256 key signs");
}
