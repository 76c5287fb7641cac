//! Code extraction, table-driven with realistic messages.

use twofill_sms::{ExtractionRule, extract};

fn code(text: &str) -> Option<String> {
    extract(text).map(|e| e.code)
}

#[test]
fn origin_bound_codes_are_bound_to_their_origin() {
    let e =
        extract("747723 is your ExampleCo authentication code.\n\n@example.com #747723").unwrap();
    assert_eq!(e.code, "747723");
    assert_eq!(e.bound_origin.as_deref(), Some("https://example.com"));
    assert_eq!(e.embedded_origin, None);
    assert_eq!(e.rule, ExtractionRule::OriginBound);

    for (text, embedded) in [
        (
            "Code 4821\n@my.kaspersky.com #4821 @login.kaspersky.com",
            "https://login.kaspersky.com",
        ),
        (
            "Code 4821\n@my.kaspersky.com #4821 %login.kaspersky.com",
            "https://login.kaspersky.com",
        ),
    ] {
        let e = extract(text).unwrap();
        assert_eq!(e.bound_origin.as_deref(), Some("https://my.kaspersky.com"));
        assert_eq!(e.embedded_origin.as_deref(), Some(embedded), "{text}");
    }
    // CRLF, a trailing newline, trailing text and upper-case hosts.
    let e = extract("Your code is 123456\r\n@Example.COM #123456 thanks\r\n").unwrap();
    assert_eq!(e.bound_origin.as_deref(), Some("https://example.com"));
    assert_eq!(e.code, "123456");
    // The bound code wins over another number in the text.
    assert_eq!(
        code("Your code is 111111\n@example.com #222222").as_deref(),
        Some("222222")
    );
}

#[test]
fn a_malformed_origin_bound_line_gives_nothing_rather_than_a_guess() {
    for text in [
        "Your code is 123456\n@example.com  #123456", // two spaces
        "Your code is 123456\n@example.com\t#123456", // a tab
        "Your code is 123456\n @example.com #123456", // something before @
        "Your code is 123456\n@exa_mple.com #123456", // not a host
        "Your code is 123456\n@example.com #",        // no code
        "Your code is 123456\n@example.com #12 34", // stops at the space: "12"... then trailing ignored
        "Your code is 123456\n@example.com #123456 @bad_host",
    ] {
        let got = extract(text);
        if text.ends_with("#12 34") {
            // The spec ends the code at whitespace; "12" is that code.
            assert_eq!(got.unwrap().code, "12");
            continue;
        }
        assert_eq!(got, None, "{text:?}");
    }
    // Not the last line: not origin-bound, the fallback applies.
    let e = extract("@example.com #123456\nYour code is 654321").unwrap();
    assert_eq!(
        (e.code.as_str(), e.rule),
        ("654321", ExtractionRule::Fallback)
    );
    // A mention without `#` is just text.
    assert_eq!(
        code("Your code is 482913\n@anna see you"),
        Some("482913".into())
    );
}

#[test]
fn sender_patterns() {
    for (text, want, rule) in [
        (
            "G-723145 is your Google verification code.",
            "723145",
            "google",
        ),
        ("Your Kaspersky code: 839201", "839201", "your-code-colon"),
        (
            "Use 9314 as Microsoft account security code",
            "9314",
            "microsoft",
        ),
        (
            "Your Apple Account code is: 481122. Don't share it with anyone.",
            "481122",
            "apple",
        ),
    ] {
        let e = extract(text).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(e.code, want, "{text}");
        assert_eq!(e.rule, ExtractionRule::SenderPattern(rule), "{text}");
    }
}

#[test]
fn fallback_finds_codes_next_to_a_code_word_in_many_languages() {
    for (text, want) in [
        ("Your verification code is 482913", "482913"),
        ("482913 is your verification code", "482913"),
        ("Ihr Bestätigungscode lautet: 739104", "739104"),
        ("Votre code de vérification est 582013", "582013"),
        ("Tu código de verificación es 3914", "3914"),
        ("O seu código é 77A41B", "77A41B"),
        ("Il tuo codice di verifica è 120934", "120934"),
        ("Twój kod weryfikacyjny to 662201", "662201"),
        ("Je verificatiecode is 845512", "845512"),
        ("Ваш код подтверждения: 5821", "5821"),
        ("Ο κωδικός σας είναι 904417", "904417"),
        ("認証コード：381920", "381920"),
        ("您的验证码是482910，5分钟内有效。", "482910"),
        ("인증번호 [740213]를 입력해 주세요", "740213"),
        ("Your OTP: 4G7K2Q, valid for 10 minutes", "4G7K2Q"),
        ("Code 4821 for order 99812", "4821"),
    ] {
        let e = extract(text).unwrap_or_else(|| panic!("nothing in {text:?}"));
        assert_eq!(e.code, want, "{text:?}");
        assert_eq!(e.bound_origin, None);
    }
}

#[test]
fn fallback_leaves_numbers_that_are_not_codes() {
    for text in [
        "Call us on +14155550100 if this was not you",
        "Your payment of 1234.50 EUR was received",
        "Your order 48213 has shipped",
        "Appointment on 2026-12-03 at 14:30",
        "Your code expires on 03/12/2026",
        "Call 800-555-1212 about your code",
        "Use promo code SAVE20 for 20% off",
        "Hi, are we still meeting at 1900? Bring the code.",
        "Your balance is 1234 EUR. Reply STOP to 22000",
        "Order #48213: your delivery code will follow",
        "See you tomorrow!",
        "",
    ] {
        assert_eq!(extract(text), None, "{text:?}");
    }
}

#[test]
fn two_equally_close_different_candidates_are_ambiguous() {
    assert_eq!(extract("code 1234 code 5678"), None);
    // The same code twice is not ambiguous.
    assert_eq!(code("code 1234, again: code 1234").as_deref(), Some("1234"));
}
