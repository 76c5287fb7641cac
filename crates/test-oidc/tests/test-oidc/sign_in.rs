//! Discovery, the Authorization Code + PKCE sign-in, refresh, and an account disabled at the provider.

use twofill_test_oidc::{Account, Client, Config, Error, Pkce, Provider, jwt, random_token};

use crate::{ALICE, ALICE_PASSWORD, SCOPE, loopback_redirect, provider};

#[test]
fn discovery_names_the_issuer_and_the_flows() {
    let provider = provider();
    let discovery = provider.discovery();
    assert_eq!(discovery["issuer"], provider.issuer());
    assert!(provider.issuer().starts_with("http://127.0.0.1:"));
    let list = |k: &str| -> Vec<String> {
        discovery[k]
            .as_array()
            .unwrap_or_else(|| panic!("{k} missing: {discovery}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(list("code_challenge_methods_supported"), ["S256"]);
    for grant in [
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        assert!(list("grant_types_supported").contains(&grant.to_owned()));
    }
    let algs = list("id_token_signing_alg_values_supported");
    assert!(algs.contains(&"RS256".to_owned()) && algs.contains(&"ES256".to_owned()));
    let jwks = provider.jwks();
    let kinds: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["RS256", "ES256"]);
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("d").is_none()),
        "the JWKS must hold public keys only: {jwks}"
    );
}

#[test]
fn sign_in_gives_an_id_token_with_the_claims_and_a_published_kid() {
    let provider = provider();
    let nonce = random_token();
    let tokens = provider
        .sign_in(
            ALICE,
            ALICE_PASSWORD,
            &loopback_redirect(),
            &Pkce::new(),
            &nonce,
            SCOPE,
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()));
    assert!(!tokens.access_token.is_empty());
    assert!(tokens.refresh_token.is_some(), "{:?}", tokens.raw);
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.header["alg"], "RS256");
    let kid = id_token.header["kid"].as_str().unwrap();
    assert!(provider.jwks_kids().contains(&kid.to_owned()));
    let claims = &id_token.payload;
    assert_eq!(claims["iss"], provider.issuer());
    assert_eq!(claims["aud"], provider.client_id());
    assert_eq!(claims["sub"], ALICE);
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(
        claims["groups"],
        serde_json::json!(["engineering", "twofill-admins"])
    );
    assert_eq!(claims["nonce"], nonce.as_str());
    assert!(claims["auth_time"].as_u64().is_some(), "{claims}");
    assert!(claims["exp"].as_u64() > claims["iat"].as_u64());
}

#[test]
fn a_wrong_password_or_a_wrong_verifier_gets_no_tokens() {
    let provider = provider();
    let wrong = provider.sign_in(
        ALICE,
        "wrong",
        &loopback_redirect(),
        &Pkce::new(),
        "n",
        SCOPE,
    );
    assert!(matches!(wrong, Err(Error::Login(_))), "{wrong:?}");

    // PKCE is enforced: a code redeemed with another verifier is refused.
    let pkce = Pkce::new();
    let code = provider
        .authorization_code(
            provider.client_id(),
            ALICE,
            ALICE_PASSWORD,
            &loopback_redirect(),
            &pkce.challenge,
            "n",
            SCOPE,
        )
        .unwrap();
    let stolen = provider.exchange_code(
        provider.client_id(),
        &code,
        &loopback_redirect(),
        &Pkce::new().verifier,
    );
    assert_eq!(stolen.unwrap_err().oauth_error(), Some("invalid_grant"));
}

#[test]
fn an_authorization_request_without_pkce_is_refused_for_every_client() {
    let server_redirect = "http://127.0.0.1:8443/callback";
    let provider = Provider::start(
        Config::default()
            .account(Account::new(
                ALICE,
                "alice@example.com",
                ALICE_PASSWORD,
                &[],
            ))
            .client(Client::confidential(
                "twofill-server",
                "s3cret",
                server_redirect,
            )),
    );
    for (client, redirect) in [
        (provider.client_id(), loopback_redirect()),
        ("twofill-server", server_redirect.to_owned()),
    ] {
        let refused =
            provider.authorization_code(client, ALICE, ALICE_PASSWORD, &redirect, "", "n", SCOPE);
        assert_eq!(
            refused.as_ref().err().and_then(Error::oauth_error),
            Some("invalid_request"),
            "{client}: {refused:?}"
        );
        // With PKCE the same client signs in, its secret (if any) sent at the token endpoint.
        let tokens = provider
            .sign_in_with(
                client,
                ALICE,
                ALICE_PASSWORD,
                &redirect,
                &Pkce::new(),
                "n",
                SCOPE,
            )
            .unwrap_or_else(|e| panic!("{client}: {e}"));
        let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
        assert_eq!(id_token.payload["aud"], client);
    }
}

#[test]
fn only_the_registered_loopback_path_is_a_redirect() {
    let provider = provider();
    let elsewhere = "http://127.0.0.1:49321/elsewhere";
    let refused = provider.sign_in(ALICE, ALICE_PASSWORD, elsewhere, &Pkce::new(), "n", SCOPE);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("redirect_uri")),
        "{refused:?}"
    );
    let remote = "http://example.com:49321/callback";
    let refused = provider.sign_in(ALICE, ALICE_PASSWORD, remote, &Pkce::new(), "n", SCOPE);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("redirect_uri")),
        "{refused:?}"
    );
}

#[test]
fn refresh_rotates_and_stops_once_the_account_is_disabled() {
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
    let first = tokens.refresh_token.unwrap();
    let refreshed = provider.refresh(&first).unwrap();
    let second = refreshed.refresh_token.clone().unwrap();
    assert_ne!(first, second, "refresh tokens rotate");
    let id_token = jwt::decode(refreshed.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.payload["sub"], ALICE);

    // The group set at the provider shows in the next refresh.
    provider.set_groups(ALICE, &["support"]);
    let regrouped = provider.refresh(&second).unwrap();
    let id_token = jwt::decode(regrouped.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.payload["groups"], serde_json::json!(["support"]));

    provider.disable(ALICE);
    let third = regrouped.refresh_token.unwrap();
    let refused = provider.refresh(&third).unwrap_err();
    assert_eq!(refused.oauth_error(), Some("invalid_grant"), "{refused}");
    let login = provider.sign_in(
        ALICE,
        ALICE_PASSWORD,
        &loopback_redirect(),
        &Pkce::new(),
        "n",
        SCOPE,
    );
    assert!(matches!(login, Err(Error::Login(_))), "{login:?}");

    provider.enable(ALICE);
    provider
        .sign_in(
            ALICE,
            ALICE_PASSWORD,
            &loopback_redirect(),
            &Pkce::new(),
            "n",
            SCOPE,
        )
        .unwrap();
}

#[test]
fn access_tokens_can_be_jwts_for_the_server() {
    let audience = "https://twofill.example";
    let provider = Provider::start(
        Config::default()
            .account(Account::new(
                ALICE,
                "alice@example.com",
                ALICE_PASSWORD,
                &["engineering"],
            ))
            .jwt_access_tokens(audience),
    );
    let tokens = provider
        .sign_in(
            ALICE,
            ALICE_PASSWORD,
            &loopback_redirect(),
            &Pkce::new(),
            "n",
            SCOPE,
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()));
    let access = jwt::decode(&tokens.access_token)
        .unwrap_or_else(|| panic!("not a JWT: {}", tokens.access_token));
    assert_eq!(access.header["alg"], "RS256");
    assert!(
        provider
            .jwks_kids()
            .contains(&access.header["kid"].as_str().unwrap().to_owned())
    );
    assert_eq!(access.payload["iss"], provider.issuer());
    assert_eq!(access.payload["aud"], audience);
    assert_eq!(access.payload["sub"], ALICE);
    assert_eq!(access.payload["client_id"], provider.client_id());
    assert_eq!(access.payload["groups"], serde_json::json!(["engineering"]));
    // The ID token is still the client's.
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.payload["aud"], provider.client_id());
    // A refresh gives a JWT access token too.
    let refreshed = provider
        .refresh(tokens.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(
        jwt::decode(&refreshed.access_token).unwrap().payload["aud"],
        audience
    );
}
