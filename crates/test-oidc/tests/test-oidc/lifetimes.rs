//! Token lifetimes, `auth_time` across refreshes, and the ES256 signing key.

use std::time::Duration;

use twofill_test_oidc::{Account, Client, Config, Lifetimes, Pkce, Provider, jwt};

use crate::{ALICE, ALICE_PASSWORD, SCOPE, loopback_redirect, provider};

fn alice() -> Account {
    Account::new(ALICE, "alice@example.com", ALICE_PASSWORD, &["engineering"])
}

#[test]
fn short_lifetimes_apply_and_an_expired_refresh_token_is_refused() {
    let provider = Provider::start(Config::default().account(alice()).lifetimes(Lifetimes {
        id_token: Duration::from_secs(7),
        access_token: Duration::from_secs(5),
        refresh_token: Duration::from_secs(2),
    }));
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
    assert_eq!(tokens.expires_in, Some(5));
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    let (iat, exp) = (
        id_token.payload["iat"].as_u64().unwrap(),
        id_token.payload["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 7);
    std::thread::sleep(Duration::from_secs(3));
    let refused = provider
        .refresh(tokens.refresh_token.as_deref().unwrap())
        .unwrap_err();
    assert_eq!(refused.oauth_error(), Some("invalid_grant"), "{refused}");
}

#[test]
fn a_refreshed_id_token_keeps_the_time_of_the_sign_in() {
    let provider = provider();
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
    let signed_in = jwt::decode(tokens.id_token.as_deref().unwrap())
        .unwrap()
        .payload["auth_time"]
        .clone();
    assert!(signed_in.as_u64().is_some());
    std::thread::sleep(Duration::from_millis(1100));
    let refreshed = provider
        .refresh(tokens.refresh_token.as_deref().unwrap())
        .unwrap();
    let refreshed = jwt::decode(refreshed.id_token.as_deref().unwrap())
        .unwrap()
        .payload;
    assert_eq!(
        refreshed["auth_time"], signed_in,
        "a refresh is not a sign-in"
    );
    assert!(refreshed["iat"].as_u64() > signed_in.as_u64());
}

#[test]
fn a_client_registered_for_es256_gets_es256_id_tokens() {
    let es256 = Client {
        id_token_alg: "ES256".to_owned(),
        ..Client::public("twofill-es256")
    };
    let provider = Provider::start(Config::default().account(alice()).client(es256));
    let tokens = provider
        .sign_in_with(
            "twofill-es256",
            ALICE,
            ALICE_PASSWORD,
            &loopback_redirect(),
            &Pkce::new(),
            "n",
            SCOPE,
        )
        .unwrap();
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.header["alg"], "ES256");
    let jwks = provider.jwks();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == id_token.header["kid"])
        .unwrap_or_else(|| panic!("kid not in {jwks}"));
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(id_token.payload["aud"], "twofill-es256");
}
