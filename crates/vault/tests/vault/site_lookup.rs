//! A fill finds its token through the bound-site index
//! (`SiteBinding::candidate_keys` + `token_sites_by_site`): it must pick
//! exactly the tokens a scan of every token's bindings picks.

use std::collections::BTreeSet;

use crate::support::{TempVault, both_stores, token};
use twofill_vault::{Access, Origin, Refusal, VaultError};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// One token per binding, each in a form admins write.
const BINDINGS: &[&str] = &[
    "kaspersky.com",
    "my.kaspersky.com",
    "http://my.kaspersky.com",
    "https://my.kaspersky.com:8443",
    "https://kaspersky.com:443",
    "Bücher.example",
    "xn--kaspersy-5ya.com",
    "http://127.0.0.1:5555",
    "http://127.0.0.1",
    "0.0.1",
    "https://[::1]:8443",
    "http://[::1]:*",
    "example.com",
    "shop.example.com:*",
    "shop.example.com",
    "co",
    "my-kaspersky.com",
    "kaspersky.com.evil.example",
];

const ORIGINS: &[&str] = &[
    "https://kaspersky.com",
    "https://KASPERSKY.com:443",
    "https://my.kaspersky.com",
    "https://my.kaspersky.com:8443",
    "https://my.kaspersky.com:8444",
    "http://my.kaspersky.com",
    "http://my.kaspersky.com:8443",
    "https://a.b.my.kaspersky.com",
    "https://kaspersky.com.evil.example",
    "https://evil.example",
    "https://my-kaspersky.com",
    "https://evilkaspersky.com",
    "https://xn--bcher-kva.example",
    "https://shop.xn--bcher-kva.example",
    "https://bucher.example",
    "https://xn--kaspersy-5ya.com",
    "http://127.0.0.1:5555",
    "http://127.0.0.1",
    "http://127.0.0.1:80",
    "https://127.0.0.1",
    "http://1.127.0.0.1",
    "https://[::1]:8443",
    "https://[::1]",
    "http://[::1]:5555",
    "https://example.com",
    "https://example.com:8443",
    "https://shop.example.com:8443",
    "https://shop.example.com",
    "https://www.shop.example.com:444",
    "https://kaspersky.co",
    "https://co",
    "https://unbound.test",
];

fn site_lookup_picks_what_a_full_scan_picks() {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_group("alice", "ops").unwrap();
    v.add_member("alice", "ops", "bob").unwrap();
    for (i, site) in BINDINGS.iter().enumerate() {
        let id = v
            .add_token(
                "alice",
                &token(&format!("Site{i}"), SEED),
                &[site.parse().unwrap()],
            )
            .unwrap();
        v.set_grant("alice", &id, "ops", Access::CodeOnly).unwrap();
    }
    let all = v.tokens().unwrap();
    assert_eq!(all.len(), BINDINGS.len());
    let mut outcomes = BTreeSet::new();
    for text in ORIGINS {
        let origin: Origin = text.parse().unwrap();
        // The old path, computed here: every token, every binding.
        let scanned: BTreeSet<String> = all
            .iter()
            .filter(|t| t.bindings.iter().any(|b| b.matches(&origin)))
            .map(|t| t.id.clone())
            .collect();
        let found: BTreeSet<String> = match crate::support::bob_fills(&mut v, &origin) {
            Ok(issued) => [issued.token.id].into(),
            Err(VaultError::Refused(Refusal::Ambiguous { candidates })) => {
                candidates.into_iter().map(|t| t.id).collect()
            }
            Err(VaultError::Refused(Refusal::NoTokenForOrigin { .. })) => BTreeSet::new(),
            Err(other) => panic!("{text}: {other}"),
        };
        assert_eq!(found, scanned, "{text}");
        outcomes.insert(scanned.len().min(2));
    }
    // The table covers no match, one match and several.
    assert_eq!(outcomes, [0, 1, 2].into());
}

/// A binding without a port is the default port now (browsers tell ports
/// apart); one stored before schema 13 meant every port and is migrated to
/// `host:*`, so it fills where it filled. A row edited past the vault is
/// not made valid by the migration.
fn a_portless_binding_from_before_schema_13_keeps_every_port() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = crate::support::kaspersky_code_only_for_bob(&mut v, SEED, "my.kaspersky.com");
    let new_port = "https://my.kaspersky.com:8443".parse::<Origin>().unwrap();
    assert!(
        matches!(
            crate::support::bob_fills(&mut v, &new_port),
            Err(VaultError::Refused(Refusal::NoTokenForOrigin { .. }))
        ),
        "a new bare binding covers the default port only"
    );
    let other = v.add_token("alice", &token("Other", SEED), &[]).unwrap();
    drop(v);
    let back_to_11 = tv.back_to_schema_11();
    let forged = format!(
        "INSERT INTO token_sites (token_id, site, mac) VALUES ('{other}', 'https://evil.example', {});",
        tv.blob_literal(&[7; 32])
    );
    tv.sql(&format!("{back_to_11} {forged}")).unwrap();

    let mut v = tv.open();
    let sites = &v.token_details(&id).unwrap().summary.bindings;
    let shown: Vec<String> = sites.iter().map(ToString::to_string).collect();
    assert!(
        shown.contains(&"https://my.kaspersky.com:*".to_owned()),
        "{shown:?}"
    );
    for origin in [
        "https://my.kaspersky.com",
        "https://eu.my.kaspersky.com:8443",
    ] {
        let issued = crate::support::bob_fills(&mut v, &origin.parse().unwrap());
        assert_eq!(
            issued.unwrap_or_else(|e| panic!("{origin}: {e}")).token.id,
            id
        );
    }
    let report = v.verify_authorization().unwrap();
    assert_eq!(report.tampered.len(), 1, "{report:?}");
    assert!(format!("{:?}", report.tampered[0]).contains("https://evil.example"));
}

both_stores!(
    site_lookup_picks_what_a_full_scan_picks,
    a_portless_binding_from_before_schema_13_keeps_every_port,
);
