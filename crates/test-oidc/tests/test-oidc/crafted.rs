//! Crafted tokens for a relying party's validation tests: claims signed with the provider's own key, and a
//! token endpoint answer carrying a crafted ID token.

use serde_json::json;
use twofill_test_oidc::{Client, Config, Pkce, Provider, jwt};

use crate::{ALICE, ALICE_PASSWORD, SCOPE, loopback_redirect, provider};

/// Whether oidc-provider's own verifier (jose) accepts `token` as an ID token hint at its logout endpoint:
/// it checks the signature against its keys, the issuer and the audience.
/// (The client's registered ID token algorithm is the one it accepts.)
fn provider_accepts_as_its_own(provider: &Provider, client_id: &str, token: &str) -> bool {
    let url = format!(
        "{}/session/end?client_id={client_id}&id_token_hint={token}",
        provider.issuer()
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent.get(&url).call().unwrap();
    let body = answer.body_mut().read_to_string().unwrap();
    match answer.status().as_u16() {
        200 => true,
        400 if body.contains("id_token_hint") => false,
        status => panic!("unexpected answer {status}: {body}"),
    }
}

fn claims(provider: &Provider, client_id: &str) -> serde_json::Value {
    json!({ "iss": provider.issuer(), "aud": client_id, "sub": ALICE, "iat": 1, "exp": 4102444800u64 })
}

const ES256_CLIENT: &str = "twofill-es256";

#[test]
fn claims_signed_with_the_providers_key_verify_as_its_own_and_tampering_does_not() {
    let es256 = Client {
        id_token_alg: "ES256".to_owned(),
        ..Client::public(ES256_CLIENT)
    };
    let provider = Provider::start(Config::default().client(es256));
    for (alg, client) in [("RS256", provider.client_id()), ("ES256", ES256_CLIENT)] {
        let token = provider.sign_claims(alg, &json!({}), &claims(&provider, client));
        let parts = jwt::decode(&token).unwrap();
        assert_eq!(parts.header["alg"], alg);
        assert!(
            provider
                .jwks_kids()
                .contains(&parts.header["kid"].as_str().unwrap().to_owned())
        );
        assert!(
            provider_accepts_as_its_own(&provider, client, &token),
            "{alg}"
        );

        let mut payload = parts.payload.clone();
        payload["sub"] = json!("mallory");
        let tampered = jwt::encode(&parts.header, &payload, &parts.signature);
        assert!(
            !provider_accepts_as_its_own(&provider, client, &tampered),
            "{alg} tampered"
        );
    }
    // A header override keeps the real key's signature over the new header: `alg: none` is the test's to refuse.
    let client = provider.client_id();
    let token = provider.sign_claims(
        "RS256",
        &json!({ "alg": "none" }),
        &claims(&provider, client),
    );
    assert_eq!(jwt::decode(&token).unwrap().header["alg"], "none");
    assert!(!provider_accepts_as_its_own(&provider, client, &token));
}

#[test]
fn the_next_token_answer_can_carry_a_crafted_id_token_once() {
    let provider = provider();
    let mut wrong_issuer = claims(&provider, provider.client_id());
    wrong_issuer["iss"] = json!("https://evil.example");
    let crafted = provider.sign_claims("RS256", &json!({}), &wrong_issuer);
    provider.replace_next_id_token(&crafted);
    let sign_in = || {
        provider
            .sign_in(
                ALICE,
                ALICE_PASSWORD,
                &loopback_redirect(),
                &Pkce::new(),
                "n",
                SCOPE,
            )
            .unwrap()
    };
    let tokens = sign_in();
    assert_eq!(tokens.id_token.as_deref(), Some(crafted.as_str()));
    assert!(!tokens.access_token.is_empty());
    let next = sign_in();
    let real = jwt::decode(next.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(real.payload["iss"], provider.issuer());
}
