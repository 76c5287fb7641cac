//! otpauth:// parsing, canonical output, leniency and error handling.

use twofill_otp::{Algorithm, Kind, MAX_URI_LEN, OtpError, Secret, Token, TokenKind};

const GOOGLE: &str = "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30";
const KEY: &str = "JBSWY3DPEHPK3PXP";

fn parse(uri: &str) -> Token {
    Token::from_uri(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

fn err(uri: &str) -> OtpError {
    match Token::from_uri(uri) {
        Ok(t) => panic!("{uri} should fail, parsed as {t:?}"),
        Err(e) => e,
    }
}

fn totp(issuer: Option<&str>, account: &str) -> Token {
    Token {
        kind: Kind::Totp,
        algorithm: Algorithm::Sha1,
        digits: 6,
        period: 30,
        secret: Secret::from_base32(KEY).unwrap(),
        issuer: issuer.map(Into::into),
        account: account.into(),
    }
}

#[test]
fn google_authenticator_example() {
    let t = parse(GOOGLE);
    assert_eq!(t.kind, Kind::Totp);
    assert_eq!(t.issuer.as_deref(), Some("ACME Co"));
    assert_eq!(t.account, "john.doe@email.com");
    assert_eq!(t.algorithm, Algorithm::Sha1);
    assert_eq!((t.digits, t.period), (6, 30));
    assert_eq!(t.secret.to_base32(), "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ");
    assert_eq!(t.secret.as_bytes().len(), 20);
    // Our canonical form is exactly Google's documented example.
    assert_eq!(t.to_uri(), GOOGLE);
}

#[test]
fn defaults_and_minimal_uri() {
    let t = parse(&format!("otpauth://totp/alice?secret={KEY}"));
    assert_eq!(t, totp(None, "alice"));
    assert_eq!(
        t.to_uri(),
        format!("otpauth://totp/alice?secret={KEY}&algorithm=SHA1&digits=6&period=30")
    );
}

#[test]
fn round_trips() {
    let mut cases = vec![
        totp(Some("ACME Co"), "john.doe@email.com"),
        totp(Some("Ünïcødé 銀行"), "ü@例え.jp"),
        totp(Some("Example"), "john+tag@example.com"),
        totp(Some("A&B=C?D#E/F%G"), "x y+z&w=v"),
        totp(Some("Foo:Bar"), "bob"),
        totp(None, "a:b"),
        totp(None, "plain"),
        totp(Some("Only issuer"), ""),
        totp(None, ""),
    ];
    let mut big = totp(Some("Bank"), "me@bank.example");
    big.algorithm = Algorithm::Sha512;
    big.digits = 8;
    big.period = 60;
    big.secret = Secret::from_bytes((0u8..64).collect());
    cases.push(big);
    let mut odd = totp(Some("Odd"), "odd");
    odd.algorithm = Algorithm::Sha256;
    odd.digits = 10;
    odd.period = 3600;
    cases.push(odd);
    cases.push(Token {
        kind: Kind::Steam,
        algorithm: Algorithm::Sha1,
        digits: 5,
        period: 30,
        secret: Secret::from_bytes(vec![7; 20]),
        issuer: Some("Steam".into()),
        account: "gamer".into(),
    });

    for t in &cases {
        let uri = t.to_uri();
        let back = Token::from_uri(&uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(&back, t, "{uri}");
        assert_eq!(back.to_uri(), uri, "canonical form is stable");
        assert_eq!(back.code_at(1_700_000_000), t.code_at(1_700_000_000));
    }
}

#[test]
fn parse_to_uri_parse() {
    let inputs = [
        GOOGLE.to_owned(),
        format!("OTPAUTH://TOTP/GitHub:octo?secret={KEY}&issuer=GitHub"),
        format!("otpauth://totp/Bank%3Ame?secret={KEY}&algorithm=sha512&digits=8&period=60"),
        format!("otpauth://totp/Issuer:%20spaced%20?secret={KEY}&issuer=Issuer+Name"),
        format!("otpauth://steam/gamer?secret={KEY}"),
        format!("otpauth://totp/Steam:gamer?secret={KEY}&issuer=Steam"),
    ];
    for uri in &inputs {
        let t = parse(uri);
        assert_eq!(parse(&t.to_uri()), t, "{uri}");
    }
}

#[test]
fn label_forms() {
    let t = parse(&format!("otpauth://totp/Issuer: account?secret={KEY}"));
    assert_eq!(
        (t.issuer.as_deref(), t.account.as_str()),
        (Some("Issuer"), "account")
    );
    let t = parse(&format!("otpauth://totp/Issuer%3A%20account?secret={KEY}"));
    assert_eq!(
        (t.issuer.as_deref(), t.account.as_str()),
        (Some("Issuer"), "account")
    );
    // issuer= wins over the label prefix; account still comes from the label.
    let t = parse(&format!("otpauth://totp/Old:bob?secret={KEY}&issuer=New"));
    assert_eq!(
        (t.issuer.as_deref(), t.account.as_str()),
        (Some("New"), "bob")
    );
    // Label without prefix, issuer from the parameter.
    let t = parse(&format!(
        "otpauth://totp/bob?secret={KEY}&issuer=Only%20Param"
    ));
    assert_eq!(
        (t.issuer.as_deref(), t.account.as_str()),
        (Some("Only Param"), "bob")
    );
    // '+' is literal in the label but a space in the query.
    let t = parse(&format!("otpauth://totp/A+B:x+y@z?secret={KEY}&issuer=A+B"));
    assert_eq!(t.issuer.as_deref(), Some("A B"));
    assert_eq!(t.account, "x+y@z");
    // Split on the first colon only.
    let t = parse(&format!("otpauth://totp/Iss:acc:ount?secret={KEY}"));
    assert_eq!(
        (t.issuer.as_deref(), t.account.as_str()),
        (Some("Iss"), "acc:ount")
    );
    // Unknown parameters are ignored.
    let t = parse(&format!(
        "otpauth://totp/x?image=https%3A%2F%2Fa.b%2Fc.png&secret={KEY}&foo"
    ));
    assert_eq!(t, totp(None, "x"));
}

#[test]
fn lenient_secrets() {
    let expected = Secret::from_base32(KEY).unwrap();
    for s in [
        "jbswy3dpehpk3pxp",
        "JBSW Y3DP EHPK 3PXP",
        "jbsw-y3dp-ehpk-3pxp",
        "JBSWY3DPEHPK3PXP======",
        " JbSw y3dP\tEHPK-3pxp= ",
    ] {
        assert_eq!(Secret::from_base32(s).unwrap(), expected, "{s:?}");
    }
    for q in [
        "jbsw+y3dp+ehpk+3pxp",
        "JBSW%20Y3DP%20EHPK%203PXP",
        "JBSWY3DPEHPK3PXP%3D%3D%3D%3D%3D%3D",
        "jbsw-y3dp-ehpk-3pxp",
    ] {
        let t = parse(&format!("otpauth://totp/x?secret={q}"));
        assert_eq!(t.secret, expected, "{q}");
    }
}

#[test]
fn eighty_bit_secret_accepted_shorter_rejected() {
    let t = parse(&format!("otpauth://totp/x?secret={KEY}"));
    assert_eq!(t.secret.as_bytes().len(), 10);
    let e = err("otpauth://totp/x?secret=JBSWY3DPEHPK3PX"); // 15 chars = 9 bytes
    assert_eq!(e, OtpError::SecretTooShort { bytes: 9 });
    assert_eq!(
        err("otpauth://totp/x?secret=JBSWY3DPEHPK3P"), // 14 chars: no byte string encodes to this
        OtpError::InvalidBase32Length { len: 14 }
    );
    assert!(e.to_string().contains("at least 10 bytes"), "{e}");
}

#[test]
fn steam_detection() {
    for uri in [
        format!("otpauth://steam/gamer?secret={KEY}"),
        format!("otpauth://totp/gamer?secret={KEY}&issuer=Steam"),
        format!("otpauth://totp/Steam:gamer?secret={KEY}"),
        format!("otpauth://totp/gamer?secret={KEY}&algorithm=STEAM"),
        format!("otpauth://totp/Steam:gamer?secret={KEY}&encoder=steam&digits=5"),
        format!("otpauth://totp/gamer?secret={KEY}&issuer=steam&algorithm=SHA256&digits=8"),
    ] {
        let t = parse(&uri);
        assert_eq!(t.kind, Kind::Steam, "{uri}");
        assert_eq!(t.digits, 5);
        assert_eq!(t.algorithm, Algorithm::Sha1);
        assert_eq!(t.issuer.as_deref(), Some("Steam"));
        assert_eq!(t.account, "gamer");
        assert_eq!(
            t.to_uri(),
            format!("otpauth://totp/Steam:gamer?secret={KEY}&issuer=Steam&encoder=steam")
        );
    }
    let mut t = parse(&format!("otpauth://steam/gamer?secret={KEY}&period=60"));
    assert_eq!(t.period, 60);
    assert_eq!(parse(&t.to_uri()), t);
    t.period = 30;
    assert_eq!(parse(&t.to_uri()), t);
}

#[test]
fn errors() {
    assert_eq!(
        err("otpauth://totp/x?issuer=A&digits=6"),
        OtpError::MissingSecret
    );
    assert_eq!(err("otpauth://totp/x?secret="), OtpError::EmptySecret);

    let bad = err("otpauth://totp/x?secret=JBSWY3DPEHPK3PX1");
    assert_eq!(bad, OtpError::InvalidBase32Char { ch: '1' });
    assert_eq!(
        bad.to_string(),
        "secret contains '1', which is not base32 (A-Z, 2-7); check you copied the whole setup key"
    );
    assert_eq!(Secret::from_base32("").unwrap_err(), OtpError::EmptySecret);
    assert_eq!(
        Secret::from_base32("JBSW8").unwrap_err(),
        OtpError::InvalidBase32Char { ch: '8' }
    );

    for d in ["5", "11", "0", "-6", "six", ""] {
        assert_eq!(
            err(&format!("otpauth://totp/x?secret={KEY}&digits={d}")),
            OtpError::InvalidDigits(d.into()),
            "digits={d}"
        );
    }
    for d in ["6", "7", "8", "9", "10"] {
        parse(&format!("otpauth://totp/x?secret={KEY}&digits={d}"));
    }
    for p in ["0", "3601", "-30", "30s", ""] {
        assert_eq!(
            err(&format!("otpauth://totp/x?secret={KEY}&period={p}")),
            OtpError::InvalidPeriod(p.into()),
            "period={p}"
        );
    }
    parse(&format!("otpauth://totp/x?secret={KEY}&period=1"));
    parse(&format!("otpauth://totp/x?secret={KEY}&period=3600"));

    assert_eq!(
        err(&format!(
            "otpauth://totp/x?secret={KEY}&secret=GEZDGNBVGY3TQOJQ"
        )),
        OtpError::DuplicateParam("secret".into())
    );
    assert_eq!(
        err(&format!("otpauth://totp/x?SECRET={KEY}&secret={KEY}")),
        OtpError::DuplicateParam("secret".into())
    );
    assert_eq!(
        err(&format!("otpauth://totp/x?secret={KEY}&issuer=A&issuer=B")),
        OtpError::DuplicateParam("issuer".into())
    );
    assert_eq!(
        err(&format!("otpauth://totp/x?secret={KEY}&algorithm=MD5")),
        OtpError::UnsupportedAlgorithm("MD5".into())
    );

    for uri in [
        format!("https://example.com/?secret={KEY}"),
        format!("otpauth:/totp/x?secret={KEY}"),
        format!("totp/x?secret={KEY}"),
        KEY.to_owned(),
        String::new(),
    ] {
        assert_eq!(err(&uri), OtpError::NotOtpauth, "{uri}");
    }
    assert_eq!(
        err(&format!("otpauth://motp/x?secret={KEY}")),
        OtpError::UnknownType("motp".into())
    );
    assert_eq!(
        err("otpauth://totp/%FF?secret=JBSWY3DPEHPK3PXP"),
        OtpError::InvalidEncoding("account name")
    );
}

#[test]
fn uri_length_limit() {
    let base = format!("otpauth://totp/x?secret={KEY}&pad=");
    let exact = format!("{base}{}", "a".repeat(MAX_URI_LEN - base.len()));
    assert_eq!(exact.len(), MAX_URI_LEN);
    parse(&exact);
    let long = format!("{exact}a");
    assert_eq!(
        err(&long),
        OtpError::UriTooLong {
            len: MAX_URI_LEN + 1,
            max: MAX_URI_LEN
        }
    );
    // Counted in characters, not bytes.
    let base = format!("otpauth://totp/x?secret={KEY}&pad=");
    let unicode = format!("{base}{}", "é".repeat(MAX_URI_LEN - base.len()));
    parse(&unicode);
}

#[test]
fn error_messages_echo_bounded_input() {
    let junk = "9".repeat(3000);
    let e = err(&format!("otpauth://totp/x?secret={KEY}&digits={junk}"));
    assert!(e.to_string().len() < 200, "{e}");
}

#[test]
fn debug_never_shows_secret() {
    let t = parse(GOOGLE);
    let b32 = "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ";
    let bytes_dbg = format!("{:?}", t.secret.as_bytes());
    for shown in [
        format!("{t:?}"),
        format!("{t:#?}"),
        format!("{:?}", t.secret),
    ] {
        assert!(!shown.contains(b32), "{shown}");
        assert!(!shown.contains(&b32[..8]), "{shown}");
        assert!(
            !shown.contains(&bytes_dbg[1..bytes_dbg.len() - 1]),
            "{shown}"
        );
        assert!(shown.contains("redacted"), "{shown}");
    }
    assert_eq!(format!("{:?}", t.secret), "Secret(<redacted, 20 bytes>)");
    // Errors triggered by a bad secret do not echo it either.
    let e = err("otpauth://totp/x?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBO1");
    assert!(!e.to_string().contains("HXDMVJ"), "{e}");
    assert!(!format!("{e:?}").contains("HXDMVJ"), "{e:?}");
}

#[test]
fn serde_names() {
    assert_eq!(serde_json::to_string(&Algorithm::Sha1).unwrap(), "\"sha1\"");
    assert_eq!(
        serde_json::to_string(&Algorithm::Sha256).unwrap(),
        "\"sha256\""
    );
    assert_eq!(
        serde_json::to_string(&Algorithm::Sha512).unwrap(),
        "\"sha512\""
    );
    assert_eq!(serde_json::to_string(&Kind::Totp).unwrap(), "\"totp\"");
    assert_eq!(serde_json::to_string(&Kind::Steam).unwrap(), "\"steam\"");
    assert_eq!(
        serde_json::from_str::<Kind>("\"steam\"").unwrap(),
        Kind::Steam
    );
    assert_eq!(
        serde_json::from_str::<Algorithm>("\"sha512\"").unwrap(),
        Algorithm::Sha512
    );
    assert!(serde_json::from_str::<Algorithm>("\"md5\"").is_err());
}

/// Found by fuzzing: a link just under the length limit whose label
/// percent-encodes to more than the limit must be refused, not accepted and
/// then be impossible to re-import from its own export.
#[test]
fn every_accepted_link_round_trips_through_its_export() {
    let label = "%01".repeat(1300);
    let uri = format!("otpauth://totp/{label}:a?secret=JBSWY3DPEHPK3PXP");
    assert!(uri.len() <= twofill_otp::MAX_URI_LEN);
    match twofill_otp::Token::from_uri(&uri) {
        Err(twofill_otp::OtpError::LabelTooLong { .. }) => {}
        Ok(t) => assert_eq!(twofill_otp::Token::from_uri(&t.to_uri()).unwrap(), t),
        Err(e) => panic!("unexpected error: {e}"),
    }
    let short = "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME";
    let t = twofill_otp::Token::from_uri(short).unwrap();
    assert_eq!(twofill_otp::Token::from_uri(&t.to_uri()).unwrap(), t);
}

#[test]
fn hotp_links_carry_their_counter() {
    let t = parse(&format!(
        "otpauth://hotp/ACME:bob?secret={KEY}&issuer=ACME&counter=42&digits=8"
    ));
    assert_eq!(t.kind, Kind::Hotp { counter: 42 });
    assert_eq!(t.kind.word(), TokenKind::Hotp);
    assert_eq!(
        (t.issuer.as_deref(), t.account.as_str()),
        (Some("ACME"), "bob")
    );
    assert_eq!((t.algorithm, t.digits), (Algorithm::Sha1, 8));
    assert_eq!(
        t.to_uri(),
        format!(
            "otpauth://hotp/ACME:bob?secret={KEY}&issuer=ACME&algorithm=SHA1&digits=8&counter=42"
        )
    );
    assert_eq!(parse(&t.to_uri()), t);

    // Scheme case as pasted, defaults as for TOTP, period ignored.
    let t = parse(&format!("OTPAUTH://HOTP/x?secret={KEY}&counter=0&period=x"));
    assert_eq!(t.kind, Kind::Hotp { counter: 0 });
    assert_eq!((t.digits, t.period), (6, 30));

    // The largest counter round-trips; a Steam issuer does not make it Steam.
    let t = parse(&format!(
        "otpauth://hotp/Steam:x?secret={KEY}&counter={}",
        u64::MAX
    ));
    assert_eq!(t.kind, Kind::Hotp { counter: u64::MAX });
    assert_eq!(parse(&t.to_uri()), t);

    // counter= on a TOTP link means nothing and is ignored, as before.
    assert_eq!(
        parse(&format!("otpauth://totp/x?secret={KEY}&counter=7")).kind,
        Kind::Totp
    );
}

#[test]
fn hotp_links_without_a_valid_counter_are_refused() {
    let missing = err(&format!("otpauth://hotp/x?secret={KEY}"));
    assert_eq!(missing, OtpError::MissingCounter);
    assert_eq!(
        missing.to_string(),
        "the HOTP setup link has no counter= parameter; copy the complete link, or add counter=0 for a token never used before"
    );
    for bad in ["", "-1", "1.5", "x", "18446744073709551616"] {
        assert_eq!(
            err(&format!("otpauth://hotp/x?secret={KEY}&counter={bad}")),
            OtpError::InvalidCounter(bad.into()),
            "counter={bad}"
        );
    }
    assert_eq!(
        err(&format!(
            "otpauth://hotp/x?secret={KEY}&counter=1&counter=2"
        )),
        OtpError::DuplicateParam("counter".into())
    );
    assert_eq!(
        err(&format!("otpauth://hotp/x?secret={KEY}&counter=1&digits=5")),
        OtpError::InvalidDigits("5".into())
    );
    assert_eq!(
        err(&format!(
            "otpauth://hotp/x?secret={KEY}&counter=1&algorithm=steam"
        )),
        OtpError::UnsupportedAlgorithm("steam".into())
    );
}
