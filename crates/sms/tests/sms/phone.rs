//! E.164 normalisation with libphonenumber's metadata.

use twofill_sms::{E164, Sender};

#[test]
fn international_forms_normalise_to_one_e164() {
    for raw in [
        "+18005551212",
        "+1 (800) 555-1212",
        "18005551212",
        "001 800 555 1212",
        " +1.800.555.1212 ",
    ] {
        assert_eq!(E164::parse(raw).unwrap().as_str(), "+18005551212", "{raw}");
    }
    assert_eq!(
        E164::parse("+49 151 98765432").unwrap().as_str(),
        "+4915198765432"
    );
    assert_eq!(
        E164::parse("447911123456").unwrap().as_str(),
        "+447911123456"
    );
}

#[test]
fn invalid_numbers_are_refused_with_what_to_write() {
    for (raw, says) in [
        ("", "no digits"),
        ("+", "no digits"),
        ("+1 800 CALL NOW", "is not part of a number"),
        ("1+8005551212", "is not part of a number"),
        ("+1234567890123456", "at most 15 digits"),
        // Country code 1 but too short for the plan.
        ("+1 555", "numbering plan"),
        // UK drama range: reserved, never assigned.
        ("+447700900000", "numbering plan"),
    ] {
        let err = E164::parse(raw).unwrap_err();
        assert!(err.to_string().contains(says), "{raw:?}: {err}");
    }
}

#[test]
fn senders_are_numbers_or_names() {
    assert_eq!(
        Sender::parse("+14155550100").unwrap(),
        Sender::Number("+14155550100".parse().unwrap())
    );
    assert_eq!(
        Sender::parse("Google").unwrap(),
        Sender::Name("Google".into())
    );
    assert_eq!(
        Sender::parse("22000").unwrap(),
        Sender::Name("22000".into())
    );
    assert!(Sender::parse("").is_err());
    assert!(Sender::parse("a sender name that is far too long to be one").is_err());
    assert!(Sender::parse("<script>").is_err());
}
