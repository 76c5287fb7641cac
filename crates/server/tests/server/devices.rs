//! Devices: joining with an invite (once, before it expires), mutual TLS
//! against the server's CA, revocation on the next request, and the admin
//! endpoints.

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use twofill_team_api::{
    CA_PATH, DEVICES_PATH, INVITES_PATH, Invite, WHOAMI_PATH, ca_pin, revoke_device_path,
};

use crate::on_both_stores;
use crate::support::*;

on_both_stores!(
    an_invite_joins_one_device_once,
    a_revoked_device_is_refused_on_its_next_request,
    admins_invite_list_and_revoke_over_the_api_and_others_cannot,
);

fn an_invite_joins_one_device_once(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let invite = state.invite("dave", "1h");
    // The invite pins the CA the server serves.
    let parsed: Invite = invite.parse().unwrap();
    let ca = server.anonymous().get(CA_PATH);
    assert_eq!(ca.status, 200);
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(&ca.body)
        .map(|d: CertificateDer<'static>| d.to_vec())
        .unwrap();
    assert_eq!(parsed.ca_pin, ca_pin(&der));

    let before = state.vault().audit_head_seq().unwrap();
    let (dave, joined) = server.join(&invite).unwrap();
    assert_eq!(joined["user"], "dave");
    assert!(joined["device"]["id"].as_str().unwrap().starts_with("dev-"));
    assert_eq!(dave.post(WHOAMI_PATH, &json!({})).json()["user"], "dave");

    let again = server.join(&invite).unwrap_err();
    assert_eq!(
        (again.status, again.code().as_str()),
        (403, "invite_invalid")
    );
    assert!(again.text().contains("new invite"), "{}", again.text());
    // The join and the refused second join are on record under dave.
    let records = audit_since(&state.vault(), before);
    let joins: Vec<bool> = records
        .iter()
        .filter(|r| r.0 == "dave" && r.1 == "device.join")
        .map(|r| r.2)
        .collect();
    assert_eq!(joins, [true, false], "{records:?}");

    // An expired invite, and one that was never made.
    let short = state.invite("erin", "1s");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let expired = server.join(&short).unwrap_err();
    assert_eq!(
        (expired.status, expired.code().as_str()),
        (403, "invite_invalid")
    );
    let forged = Invite {
        secret: [9; 16],
        ca_pin: parsed.ca_pin,
    };
    let unknown = server.join(&forged.to_string()).unwrap_err();
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (403, "invite_invalid")
    );
    assert!(state.vault().devices(Some("erin")).unwrap().is_empty());
}

fn a_revoked_device_is_refused_on_its_next_request(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (bob, device_id) = server.device(&state, "bob");
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
    let out = state.cli_ok(&["revoke", &device_id]);
    assert!(out.contains(&device_id), "{out}");
    let reply = bob.fill(KASPERSKY_SITE);
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.code(), "device_revoked");
    assert!(
        reply.text().contains("twofill-host join"),
        "{}",
        reply.text()
    );
    assert!(reply.json().get("code").is_none());
    let listed = state.cli_ok(&["devices", "--user", "bob"]);
    assert!(listed.contains("revoked"), "{listed}");
}

fn admins_invite_list_and_revoke_over_the_api_and_others_cannot(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (alice, _) = server.device(&state, "alice");
    let (bob, bob_device) = server.device(&state, "bob");

    let invited = alice.post(INVITES_PATH, &json!({"user": "frank", "ttl_secs": 600}));
    assert_eq!(invited.status, 200, "{}", invited.text());
    let (frank, _) = server
        .join(invited.json()["invite"].as_str().unwrap())
        .unwrap();
    assert_eq!(frank.post(WHOAMI_PATH, &json!({})).json()["user"], "frank");

    let listed = alice.get(&format!("{DEVICES_PATH}?user=bob")).json();
    assert_eq!(listed["devices"].as_array().unwrap().len(), 1);
    assert_eq!(listed["devices"][0]["id"], bob_device.as_str());

    // Bob is no admin: no invites, no device list, no revocations.
    let refused = bob.post(INVITES_PATH, &json!({"user": "mallory"}));
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "not_permitted")
    );
    let refused = bob.get(DEVICES_PATH);
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "not_permitted")
    );
    let refused = bob.post(&revoke_device_path(&bob_device), &json!({}));
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "not_permitted")
    );
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);

    let revoked = alice.post(&revoke_device_path(&bob_device), &json!({}));
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert!(revoked.json()["revoked_at_ms"].as_i64().is_some());
    assert_eq!(bob.fill(KASPERSKY_SITE).code(), "device_revoked");
}

/// Mutual TLS without the server's CA behind it gets nothing.
#[test]
fn no_certificate_or_a_foreign_one_gets_nothing() {
    let state = ServerState::new(Backend::Sqlite);
    let server = state.serve();
    // With devices enrolled, none of them is anyone's fallback.
    let _ = server.device(&state, "alice");
    let _ = server.device(&state, "bob");
    let anonymous = server.anonymous();
    assert_eq!(anonymous.get(CA_PATH).status, 200);
    for reply in [
        anonymous.fill(KASPERSKY_SITE),
        anonymous.post(WHOAMI_PATH, &json!({})),
        anonymous.get(DEVICES_PATH),
    ] {
        assert_eq!(reply.status, 401, "{}", reply.text());
        assert_eq!(reply.code(), "device_not_enrolled");
        assert!(
            reply.text().contains("twofill-host join"),
            "{}",
            reply.text()
        );
    }

    // A client certificate from another CA (same names, same key usage).
    let other_ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "twofill team server CA");
    let issuer = Issuer::new(ca_params, other_ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    let config = client_config(
        &server.ca_pem,
        Some((
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )),
    );
    let foreign = Client::with_config(server.addr, config);
    // TLS 1.3: the server checks the client certificate after the client's
    // handshake ends, so the refusal shows on the first read.
    match foreign.send(b"GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n") {
        Err(_) => {}
        Ok(reply) => panic!(
            "a foreign certificate was answered: {} {}",
            reply.status,
            reply.text()
        ),
    }
    // The server is still there for everyone else.
    assert_eq!(anonymous.get(CA_PATH).status, 200);
}
