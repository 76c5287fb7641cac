//! The twofill server as the relying party: a confidential client whose redirect is the laptop's loopback
//! listener on any port; the laptop gets the code, the server redeems it with its secret. The device flow too.

use twofill_test_oidc::{Account, Client, Config, Pkce, Provider, jwt};

use crate::{ALICE, ALICE_PASSWORD, SCOPE, loopback_redirect};

const SERVER: &str = "twofill-server";
const SECRET: &str = "server secret";

fn server_provider() -> Provider {
    Provider::start(
        Config::default()
            .account(Account::new(
                ALICE,
                "alice@example.com",
                ALICE_PASSWORD,
                &["engineering"],
            ))
            .client(Client::confidential_loopback(SERVER, SECRET)),
    )
}

#[test]
fn the_server_redeems_a_loopback_code_with_its_secret() {
    let provider = server_provider();
    let pkce = Pkce::new();
    let redirect = loopback_redirect();
    let code = provider
        .authorization_code(
            SERVER,
            ALICE,
            ALICE_PASSWORD,
            &redirect,
            &pkce.challenge,
            "n1",
            SCOPE,
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()));
    let tokens = provider
        .exchange_code(SERVER, &code, &redirect, &pkce.verifier)
        .unwrap();
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.payload["aud"], SERVER);
    assert_eq!(id_token.payload["nonce"], "n1");
    let refreshed = provider
        .refresh_with(SERVER, tokens.refresh_token.as_deref().unwrap())
        .unwrap();
    assert!(refreshed.id_token.is_some());
}

#[test]
fn without_its_secret_the_server_client_gets_nothing() {
    let provider = server_provider();
    let pkce = Pkce::new();
    let redirect = loopback_redirect();
    let code = provider
        .authorization_code(
            SERVER,
            ALICE,
            ALICE_PASSWORD,
            &redirect,
            &pkce.challenge,
            "n",
            SCOPE,
        )
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let redeem = |secret: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", pkce.verifier.as_str()),
            ("client_id", SERVER),
        ];
        form.extend(secret.map(|s| ("client_secret", s)));
        let mut answer = agent
            .post(format!("{}/token", provider.issuer()))
            .send_form(form)
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
        (
            answer.status().as_u16(),
            body["error"].as_str().unwrap_or("").to_owned(),
        )
    };
    assert_eq!(
        redeem(Some("wrong secret")),
        (401, "invalid_client".to_owned())
    );
    assert_eq!(redeem(None), (401, "invalid_client".to_owned()));
    // Nor does the public client get the server's code.
    let as_public = provider.exchange_code(provider.client_id(), &code, &redirect, &pkce.verifier);
    assert_eq!(as_public.unwrap_err().oauth_error(), Some("invalid_grant"));
    // The code is still good for the server with its secret: the failures above were about the client.
    assert_eq!(redeem(Some(SECRET)).0, 200);
}

#[test]
fn the_server_runs_the_device_flow_with_its_secret() {
    let provider = server_provider();
    let device = provider.start_device_with(SERVER, SCOPE);
    provider
        .approve_device(&device.user_code, ALICE, ALICE_PASSWORD)
        .unwrap();
    let tokens = provider
        .poll_device_with(SERVER, &device.device_code)
        .unwrap();
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.payload["aud"], SERVER);
}
