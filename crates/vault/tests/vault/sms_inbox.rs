//! Shared SMS inboxes over both stores: who gets a code and where, older
//! and other-origin codes never offered, retries stored once, unroutable
//! numbers stored nowhere, code-only versus full readers, every view on
//! record, purges, rows edited past the vault, and the schema 11 → 12
//! migration.

use crate::support::{TempVault, both_stores, file_contains};
use twofill_vault::{
    AuditAction, AuditRecord, FoundCode, NewSms, Origin, Purpose, Refusal, Requester, SmsAccess,
    SmsIntake, Vault, VaultError,
};
use twofill_words::unix_now_ms;

const INBOX: &str = "+4915112345678";
const KASPERSKY: &str = "https://my.kaspersky.com";
const TEXT: &str = "Your My Kaspersky verification code: 482913. Do not share it.";

fn origin(s: &str) -> Origin {
    s.parse().unwrap()
}

fn refusal(e: VaultError) -> Refusal {
    match e {
        VaultError::Refused(r) => r,
        other => panic!("expected a refusal, got {other}"),
    }
}

/// alice (admin) made INBOX an inbox bound to kaspersky.com; group `ops`
/// (bob) holds `code-only`, group `leads` (lea) holds `full`; carol is in
/// no group.
fn team() -> (TempVault, Vault) {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_user("alice", "alice", true).unwrap();
    for user in ["bob", "lea", "carol"] {
        v.add_user("alice", user, false).unwrap();
    }
    v.add_group("alice", "ops").unwrap();
    v.add_member("alice", "ops", "bob").unwrap();
    v.add_group("alice", "leads").unwrap();
    v.add_member("alice", "leads", "lea").unwrap();
    v.add_sms_inbox("alice", INBOX).unwrap();
    v.bind_sms_inbox("alice", INBOX, &"kaspersky.com".parse().unwrap())
        .unwrap();
    v.grant_sms_inbox("alice", INBOX, "ops", SmsAccess::CodeOnly)
        .unwrap();
    v.grant_sms_inbox("alice", INBOX, "leads", SmsAccess::Full)
        .unwrap();
    (tv, v)
}

fn sms<'a>(id: &'a str, text: &'a str, code: Option<FoundCode<'a>>, at: i64) -> NewSms<'a> {
    NewSms {
        provider: "twilio",
        message_id: id,
        to: INBOX,
        from: "Kaspersky",
        text,
        received_at_ms: at,
        code,
    }
}

fn plain_code(code: &str) -> Option<FoundCode<'_>> {
    Some(FoundCode {
        code,
        rule: "fallback",
        bound_origin: None,
        embedded_origin: None,
    })
}

fn fill(v: &mut Vault, user: &str, on: &str, since: i64) -> twofill_vault::Result<Option<String>> {
    Ok(
        v.sms_code(&Requester::cli(user), &origin(on), since, Purpose::Fill)?
            .map(|c| c.code),
    )
}

fn records(v: &Vault, action: AuditAction) -> Vec<AuditRecord> {
    v.audit_records(0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == action)
        .collect()
}

fn a_granted_user_gets_the_code_on_a_bound_site_and_nobody_else() {
    let (_tv, mut v) = team();
    let t0 = unix_now_ms();
    assert_eq!(fill(&mut v, "bob", KASPERSKY, t0).unwrap(), None);
    let stored = v
        .receive_sms(&sms("SM1", TEXT, plain_code("482913"), t0 + 10))
        .unwrap();
    assert!(matches!(stored, SmsIntake::Stored { .. }), "{stored:?}");

    assert_eq!(
        fill(&mut v, "bob", KASPERSKY, t0).unwrap().as_deref(),
        Some("482913")
    );
    assert_eq!(
        fill(&mut v, "lea", KASPERSKY, t0).unwrap().as_deref(),
        Some("482913")
    );
    assert!(matches!(
        refusal(fill(&mut v, "carol", KASPERSKY, t0).unwrap_err()),
        Refusal::NotPermitted { .. }
    ));
    assert!(matches!(
        refusal(fill(&mut v, "bob", "https://kaspersky.com.evil.example", t0).unwrap_err()),
        Refusal::NoTokenForOrigin { .. }
    ));

    let fills = records(&v, AuditAction::SmsCodeFill);
    let ok: Vec<_> = fills.iter().filter(|r| r.event.success).collect();
    assert_eq!(ok.len(), 2, "{fills:?}");
    assert_eq!(ok[0].event.user, "bob");
    assert_eq!(ok[0].event.origin.as_deref(), Some(KASPERSKY));
    assert_eq!(fills.iter().filter(|r| !r.event.success).count(), 2);
    // The intake's record names the message, never its code or text.
    let received = records(&v, AuditAction::SmsReceive);
    assert_eq!(received.len(), 1);
    let reason = received[0].event.reason.clone().unwrap();
    assert!(
        reason.contains("SM1") && !reason.contains("482913"),
        "{reason}"
    );
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

fn a_code_older_than_the_prompt_is_never_offered() {
    let (_tv, mut v) = team();
    let t0 = unix_now_ms();
    v.receive_sms(&sms("SM1", TEXT, plain_code("111111"), t0 - 60_000))
        .unwrap();
    assert_eq!(fill(&mut v, "bob", KASPERSKY, t0).unwrap(), None);
    v.receive_sms(&sms("SM2", TEXT, plain_code("222222"), t0 + 5))
        .unwrap();
    assert_eq!(
        fill(&mut v, "bob", KASPERSKY, t0).unwrap().as_deref(),
        Some("222222")
    );
    // A message without a code offers nothing, even when newer.
    v.receive_sms(&sms("SM3", "Your order shipped.", None, t0 + 10))
        .unwrap();
    assert_eq!(
        fill(&mut v, "bob", KASPERSKY, t0).unwrap().as_deref(),
        Some("222222")
    );
}

fn an_origin_bound_code_is_offered_on_its_origin_only() {
    let (_tv, mut v) = team();
    let t0 = unix_now_ms();
    let bound = |code, host| {
        Some(FoundCode {
            code,
            rule: "origin_bound",
            bound_origin: Some(host),
            embedded_origin: None,
        })
    };
    let other = "123456 is your code.\n\n@login.kaspersky.com #123456";
    v.receive_sms(&sms(
        "SM1",
        other,
        bound("123456", "https://login.kaspersky.com"),
        t0 + 1,
    ))
    .unwrap();
    // Bound to kaspersky.com, but the code names another origin.
    assert_eq!(fill(&mut v, "bob", KASPERSKY, t0).unwrap(), None);
    assert_eq!(
        fill(&mut v, "bob", "https://login.kaspersky.com", t0)
            .unwrap()
            .as_deref(),
        Some("123456")
    );
}

fn a_provider_retry_is_stored_once_and_an_unknown_number_nowhere() {
    let (_tv, mut v) = team();
    let t0 = unix_now_ms();
    let first = v
        .receive_sms(&sms("SM1", TEXT, plain_code("482913"), t0))
        .unwrap();
    assert!(matches!(first, SmsIntake::Stored { .. }));
    assert_eq!(
        v.receive_sms(&sms("SM1", TEXT, plain_code("482913"), t0 + 3))
            .unwrap(),
        SmsIntake::Duplicate
    );
    // Another provider's id space is its own.
    let vonage = NewSms {
        provider: "vonage",
        ..sms("SM1", TEXT, plain_code("482913"), t0)
    };
    assert!(matches!(
        v.receive_sms(&vonage).unwrap(),
        SmsIntake::Stored { .. }
    ));
    let unknown = NewSms {
        to: "+4915199999999",
        ..sms("SM9", TEXT, plain_code("999999"), t0)
    };
    assert_eq!(v.receive_sms(&unknown).unwrap(), SmsIntake::Unroutable);
    assert_eq!(
        v.sms_messages(&Requester::cli("lea"), INBOX, 50)
            .unwrap()
            .len(),
        2
    );
    let refused = records(&v, AuditAction::SmsRefused);
    assert_eq!(refused.len(), 1);
    assert!(!refused[0].event.success);
    let reason = refused[0].event.reason.clone().unwrap();
    assert!(reason.starts_with("unroutable"), "{reason}");
    assert_eq!(refused[0].event.user, "provider:twilio");
    // Bad input is an error before anything is written.
    let not_e164 = NewSms {
        to: "015112345678",
        ..sms("SM10", TEXT, None, t0)
    };
    assert!(matches!(
        v.receive_sms(&not_e164),
        Err(VaultError::Invalid(_))
    ));
}

fn code_only_readers_see_the_code_and_full_readers_the_text_each_on_record() {
    let (_tv, mut v) = team();
    let t0 = unix_now_ms();
    v.receive_sms(&sms("SM1", TEXT, plain_code("482913"), t0))
        .unwrap();
    let bob = v.sms_messages(&Requester::cli("bob"), INBOX, 10).unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].code.as_deref(), Some("482913"));
    assert_eq!(
        (bob[0].sender.as_deref(), bob[0].text.as_deref()),
        (None, None)
    );
    let lea = v.sms_messages(&Requester::cli("lea"), INBOX, 10).unwrap();
    assert_eq!(lea[0].sender.as_deref(), Some("Kaspersky"));
    assert_eq!(lea[0].text.as_deref(), Some(TEXT));
    assert!(matches!(
        refusal(
            v.sms_messages(&Requester::cli("carol"), INBOX, 10)
                .unwrap_err()
        ),
        Refusal::NotPermitted { .. }
    ));
    let views = records(&v, AuditAction::SmsCodeView);
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].event.user, "bob");
    let reads = records(&v, AuditAction::SmsRead);
    assert_eq!(
        reads
            .iter()
            .map(|r| (r.event.user.as_str(), r.event.success))
            .collect::<Vec<_>>(),
        [("lea", true), ("carol", false)]
    );
    let listed = v.permitted_sms_inboxes("bob").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].level, SmsAccess::CodeOnly);
    assert!(v.permitted_sms_inboxes("carol").unwrap().is_empty());
}

fn only_admins_change_inboxes_and_purges_are_on_record() {
    let (_tv, mut v) = team();
    assert!(matches!(
        refusal(v.add_sms_inbox("bob", "+4915100000000").unwrap_err()),
        Refusal::NotAdmin { .. }
    ));
    assert!(matches!(
        v.add_sms_inbox("alice", "0151 000"),
        Err(VaultError::Invalid(_))
    ));
    assert!(matches!(
        v.grant_sms_inbox("alice", INBOX, "nobody", SmsAccess::Full),
        Err(VaultError::NoSuchGroup(_))
    ));
    let t0 = unix_now_ms();
    let day = 24 * 3_600_000;
    v.receive_sms(&sms("OLD", TEXT, plain_code("111111"), t0 - 8 * day))
        .unwrap();
    v.receive_sms(&sms("NEW", TEXT, plain_code("222222"), t0))
        .unwrap();
    assert_eq!(
        v.purge_expired_sms(twofill_vault::DEFAULT_SMS_RETENTION_MS)
            .unwrap(),
        1
    );
    assert_eq!(
        v.purge_expired_sms(twofill_vault::DEFAULT_SMS_RETENTION_MS)
            .unwrap(),
        0
    );
    let left = v.sms_messages(&Requester::cli("bob"), INBOX, 10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].code.as_deref(), Some("222222"));
    assert!(matches!(
        refusal(v.purge_sms_inbox("bob", INBOX).unwrap_err()),
        Refusal::NotAdmin { .. }
    ));
    assert_eq!(v.purge_sms_inbox("alice", INBOX).unwrap(), 1);
    let purges = records(&v, AuditAction::SmsPurge);
    let ok: Vec<_> = purges.iter().filter(|r| r.event.success).collect();
    assert_eq!(ok.len(), 2, "{purges:?}");
    assert_eq!(ok[0].event.user, "retention");
    assert_eq!(ok[1].event.user, "alice");
    let inboxes = v.sms_inboxes("alice").unwrap();
    assert_eq!(inboxes[0].number, INBOX);
    assert_eq!(inboxes[0].sites, ["https://kaspersky.com"]);
    assert_eq!(inboxes[0].grants["ops"], SmsAccess::CodeOnly);
}

fn an_inbox_grant_or_binding_edited_past_the_vault_is_refused() {
    let (tv, mut v) = team();
    let t0 = unix_now_ms();
    v.receive_sms(&sms("SM1", TEXT, plain_code("482913"), t0))
        .unwrap();
    tv.sql("UPDATE sms_inbox_grants SET level = 'full' WHERE group_name = 'ops'")
        .unwrap();
    let e = v
        .sms_messages(&Requester::cli("bob"), INBOX, 10)
        .unwrap_err();
    assert!(matches!(e, VaultError::Tampered { .. }), "{e}");
    let e = fill(&mut v, "bob", KASPERSKY, t0).unwrap_err();
    assert!(matches!(e, VaultError::Tampered { .. }), "{e}");
    let report = v.verify_authorization().unwrap();
    assert_eq!(report.tampered.len(), 1, "{report:?}");
    assert_eq!(report.tampered[0].table, "sms_inbox_grants");
    // A binding added past the vault is not obeyed either.
    tv.sql("UPDATE sms_inbox_grants SET level = 'code-only' WHERE group_name = 'ops'")
        .unwrap();
    assert!(v.verify_authorization().unwrap().is_intact());
    tv.sql(&format!(
        "INSERT INTO sms_inbox_sites (number, site, mac) VALUES ('{INBOX}', 'https://evil.example', {})",
        tv.blob_literal(&[0; 32])
    ))
    .unwrap();
    let e = fill(&mut v, "bob", "https://evil.example", t0).unwrap_err();
    assert!(matches!(e, VaultError::Tampered { .. }), "{e}");
}

fn a_vault_of_schema_11_is_migrated_to_inboxes_keeping_its_chain() {
    let tv = TempVault::new();
    {
        let mut v = tv.open();
        v.add_user("alice", "alice", true).unwrap();
        v.add_group("alice", "ops").unwrap();
    }
    tv.sql(tv.back_to_schema_11()).unwrap();
    let mut v = tv.open();
    v.add_sms_inbox("alice", INBOX).unwrap();
    v.grant_sms_inbox("alice", INBOX, "ops", SmsAccess::Full)
        .unwrap();
    assert_eq!(v.sms_inboxes("alice").unwrap().len(), 1);
    let chain = v.verify_audit(None).unwrap();
    assert!(chain.problem.is_none(), "{chain:?}");
    assert!(v.verify_authorization().unwrap().is_intact());
}

both_stores!(
    a_granted_user_gets_the_code_on_a_bound_site_and_nobody_else,
    a_code_older_than_the_prompt_is_never_offered,
    an_origin_bound_code_is_offered_on_its_origin_only,
    a_provider_retry_is_stored_once_and_an_unknown_number_nowhere,
    code_only_readers_see_the_code_and_full_readers_the_text_each_on_record,
    only_admins_change_inboxes_and_purges_are_on_record,
    an_inbox_grant_or_binding_edited_past_the_vault_is_refused,
    a_vault_of_schema_11_is_migrated_to_inboxes_keeping_its_chain,
);

/// SQLite only: the file is readable without the key, so the sender, text
/// and code must not be in it.
#[test]
fn the_text_and_code_are_sealed_at_rest() {
    let (tv, mut v) = team();
    v.receive_sms(&sms("SM1", TEXT, plain_code("482913"), unix_now_ms()))
        .unwrap();
    drop(v);
    for needle in ["verification code", "482913"] {
        assert!(!file_contains(&tv.path, needle.as_bytes()), "{needle}");
        let wal = tv.path.with_extension("sqlite3-wal");
        assert!(
            !file_contains(&wal, needle.as_bytes()),
            "{needle} in the WAL"
        );
    }
}
