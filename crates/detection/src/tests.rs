use super::*;

fn field(index: u32) -> FieldFeatures {
    FieldFeatures {
        index,
        visible: true,
        max_length: -1,
        x: 100.0,
        y: 200.0,
        width: 240.0,
        height: 40.0,
        ..Default::default()
    }
}

fn scan(fields: Vec<FieldFeatures>) -> PageScan {
    PageScan {
        fields,
        ..Default::default()
    }
}

fn with(mut f: FieldFeatures, edit: impl FnOnce(&mut FieldFeatures)) -> FieldFeatures {
    edit(&mut f);
    f
}

fn boxes(n: u32, context: &str) -> Vec<FieldFeatures> {
    (0..n)
        .map(|i| {
            with(field(i), |f| {
                f.x = 100.0 + f64::from(i) * 52.0;
                f.width = 44.0;
                f.height = 52.0;
                f.max_length = 1;
                f.inputmode = "numeric".into();
                f.context = context.into();
            })
        })
        .collect()
}

fn kind_of(s: &PageScan) -> Option<PromptKind> {
    detect(s).map(|p| p.kind)
}

#[test]
fn kaspersky_prompt_is_totp() {
    let s = scan(vec![with(field(0), |f| {
        f.id = "tfa-code".into();
        f.name = "code".into();
        f.inputmode = "numeric".into();
        f.max_length = 6;
        f.aria_label = "Code".into();
        f.context = "Two-step verification Enter the code from the authenticator app or the code from the SMS.".into();
    })]);
    let p = detect(&s).unwrap();
    assert_eq!(p.kind, PromptKind::Totp);
    assert_eq!(p.fields, [0]);
}

#[test]
fn one_time_code_autocomplete_alone_is_enough() {
    let s = scan(vec![with(field(3), |f| {
        f.autocomplete = "one-time-code".into()
    })]);
    assert_eq!(detect(&s).unwrap().fields, [3]);
}

#[test]
fn split_boxes_are_one_prompt_in_order() {
    let s = scan(boxes(
        6,
        "Enter the 6-digit code from your authenticator app",
    ));
    let p = detect(&s).unwrap();
    assert_eq!(p.fields, [0, 1, 2, 3, 4, 5]);
    assert_eq!(p.kind, PromptKind::Totp);
}

#[test]
fn split_boxes_without_any_names_or_maxlength() {
    let mut b = boxes(6, "Two-factor authentication. Open your authenticator app.");
    for f in &mut b {
        f.max_length = -1;
        f.inputmode.clear();
        f.input_type = "number".into();
    }
    assert_eq!(detect(&scan(b)).unwrap().fields.len(), 6);
}

#[test]
fn overlay_input_over_drawn_boxes() {
    let s = scan(vec![with(field(0), |f| {
        f.width = 300.0;
        f.height = 56.0;
        f.max_length = 6;
        f.inputmode = "numeric".into();
        f.autocomplete = "one-time-code".into();
        f.context = "Verify it's you. Enter the code from your authenticator.".into();
    })]);
    assert_eq!(detect(&s).unwrap().fields, [0]);
}

#[test]
fn sms_and_email_prompts_are_classified_not_totp() {
    let sms = scan(vec![with(field(0), |f| {
        f.name = "code".into();
        f.max_length = 6;
        f.context = "We sent a text message with a code to +1 ••• 42".into();
    })]);
    assert_eq!(kind_of(&sms), Some(PromptKind::Sms));
    let sms_de = scan(boxes(
        6,
        "Wir haben Ihnen einen Bestätigungscode per SMS gesendet",
    ));
    assert_eq!(kind_of(&sms_de), Some(PromptKind::Sms));
    let email = scan(vec![with(field(0), |f| {
        f.name = "code".into();
        f.max_length = 6;
        f.context = "Check your inbox: we sent a verification code to a•••@example.com".into();
    })]);
    assert_eq!(kind_of(&email), Some(PromptKind::Email));
}

#[test]
fn many_languages() {
    for context in [
        "Geben Sie den Bestätigungscode aus Ihrer Authenticator-App ein",
        "Saisissez le code de vérification de votre application d'authentification",
        "Introduce el código de verificación de tu aplicación de autenticación",
        "Введите код подтверждения из приложения-аутентификатора",
        "認証アプリに表示されている確認コードを入力してください",
        "Εισαγάγετε τον κωδικό επαλήθευσης από την εφαρμογή ελέγχου ταυτότητας",
        "Voer de verificatiecode uit je authenticator-app in",
        "Inserisci il codice di verifica dalla tua app di autenticazione",
        "Digite o código de verificação do seu aplicativo autenticador",
        "Wpisz kod weryfikacyjny z aplikacji uwierzytelniającej",
        "请输入身份验证器应用中的验证码",
    ] {
        let s = scan(vec![with(field(0), |f| {
            f.max_length = 6;
            f.context = context.into();
        })]);
        assert_eq!(kind_of(&s), Some(PromptKind::Totp), "{context}");
    }
}

#[test]
fn lookalikes_are_never_prompts() {
    let cases: Vec<(&str, FieldFeatures)> = vec![
        (
            "cvv",
            with(field(0), |f| {
                f.name = "cvc".into();
                f.max_length = 4;
                f.label = "Security code".into();
                f.context = "Card number Expiry date MM/YY Security code".into();
            }),
        ),
        (
            "coupon",
            with(field(0), |f| {
                f.name = "promo".into();
                f.label = "Promo code".into();
                f.context = "Have a promo code? Apply".into();
            }),
        ),
        (
            "zip",
            with(field(0), |f| {
                f.name = "zip".into();
                f.label = "ZIP code".into();
                f.max_length = 5;
                f.inputmode = "numeric".into();
            }),
        ),
        (
            "phone",
            with(field(0), |f| {
                f.input_type = "tel".into();
                f.label = "Phone number".into();
            }),
        ),
        (
            "password",
            with(field(0), |f| {
                f.input_type = "password".into();
                f.name = "password".into();
                f.autocomplete = "current-password".into();
            }),
        ),
        (
            "recovery",
            with(field(0), |f| {
                f.name = "recovery_code".into();
                f.label = "Recovery code".into();
                f.context = "Use one of your recovery codes to sign in".into();
            }),
        ),
        (
            "pin",
            with(field(0), |f| {
                f.input_type = "password".into();
                f.max_length = 4;
                f.label = "PIN".into();
                f.context = "Enter your 4-digit PIN".into();
            }),
        ),
        (
            "device",
            with(field(0), |f| {
                f.name = "code".into();
                f.max_length = 8;
                f.context = "Enter the code shown on your TV to activate your device".into();
            }),
        ),
        (
            "captcha",
            with(field(0), |f| {
                f.name = "answer".into();
                f.context = "Enter the characters shown in the image".into();
            }),
        ),
        (
            "search",
            with(field(0), |f| {
                f.name = "q".into();
                f.placeholder = "Search".into();
            }),
        ),
    ];
    for (what, f) in cases {
        assert_eq!(detect(&scan(vec![f])), None, "{what}");
    }
}

#[test]
fn recovery_link_next_to_a_totp_prompt_does_not_veto_it() {
    let s = scan(vec![with(field(0), |f| {
        f.name = "otp".into();
        f.max_length = 6;
        f.context = "Enter the code from your authenticator app".into();
        f.actions = "Use a recovery code instead".into();
    })]);
    assert_eq!(kind_of(&s), Some(PromptKind::Totp));
}

#[test]
fn password_type_code_field_is_a_prompt() {
    let s = scan(vec![with(field(0), |f| {
        f.input_type = "password".into();
        f.name = "otp".into();
        f.max_length = 6;
        f.context = "Two-factor authentication".into();
    })]);
    assert_eq!(detect(&s).unwrap().fields, [0]);
}

#[test]
fn hidden_disabled_and_readonly_fields_are_skipped() {
    for edit in [
        (|f: &mut FieldFeatures| f.visible = false) as fn(&mut FieldFeatures),
        |f| f.disabled = true,
        |f| f.read_only = true,
        |f| f.input_type = "hidden".into(),
    ] {
        let f = with(field(0), |f| {
            f.autocomplete = "one-time-code".into();
            edit(f);
        });
        assert_eq!(detect(&scan(vec![f])), None);
    }
}

#[test]
fn login_form_is_not_a_prompt() {
    let s = scan(vec![
        with(field(0), |f| {
            f.input_type = "email".into();
            f.autocomplete = "username".into();
        }),
        with(field(1), |f| {
            f.input_type = "password".into();
            f.autocomplete = "current-password".into();
        }),
    ]);
    assert_eq!(detect(&s), None);
}

#[test]
fn baselines_behave_like_their_descriptions() {
    let s = scan(vec![with(field(0), |f| {
        f.autocomplete = "one-time-code".into()
    })]);
    assert_eq!(baseline::autocomplete_only(&s), Some(vec![0]));
    let coupon = scan(vec![with(field(0), |f| {
        f.name = "discount_code".into();
        f.max_length = 8;
    })]);
    assert_eq!(baseline::autocomplete_only(&coupon), None);
    // The peer-style keyword list falls for a field merely named "code".
    assert_eq!(baseline::peer_keywords(&coupon), Some(vec![0]));
    assert_eq!(detect(&coupon), None);
}

#[test]
fn features_deserialise_from_content_script_json() {
    let json = r#"{"fields":[{"index":0,"type":"text","id":"otp","maxLength":6,"visible":true,
        "x":1,"y":2,"width":200,"height":40,"inShadow":true,"context":"2FA","actions":""}],
        "title":"Sign in","headings":"Two-factor authentication"}"#;
    let s: PageScan = serde_json::from_str(json).unwrap();
    assert!(s.fields[0].in_shadow);
    assert_eq!(detect(&s).unwrap().fields, [0]);
}

#[test]
fn corpus_regressions() {
    let cvv = PageScan {
        fields: vec![with(field(0), |f| {
            f.input_type = "password".into();
            f.id = "security-code".into();
            f.name = "security_code".into();
            f.inputmode = "numeric".into();
            f.max_length = 3;
            f.autocomplete = "off".into();
            f.label = "Security code".into();
            f.context = "Security code The 3-digit code on the back of your card.".into();
            f.actions = "Confirm booking".into();
        })],
        title: "Verify your card – Staywise".into(),
        headings: "Verify your card".into(),
    };
    assert_eq!(detect(&cvv), None, "saved-card CVV");
    let ko = PageScan {
        fields: vec![with(field(0), |f| {
            f.input_type = "tel".into();
            f.id = "injeung".into();
            f.name = "injeung".into();
            f.max_length = 6;
            f.autocomplete = "off".into();
            f.label = "인증 번호".into();
            f.context = "하늘마켓 2단계 인증 인증 앱(OTP 앱)에 표시된 6자리 인증 번호를 입력하세요. 인증 번호".into();
        })],
        title: "로그인 - 하늘마켓".into(),
        headings: "2단계 인증".into(),
    };
    assert_eq!(kind_of(&ko), Some(PromptKind::Totp), "Korean");
}

#[test]
fn recovery_prompts_are_found_for_an_offer_and_never_as_totp() {
    // Named as a recovery code (GitHub's `recovery_code`).
    let named = scan(vec![with(field(0), |f| {
        f.name = "recovery_code".into();
        f.context = "Use one of your recovery codes to sign in".into();
    })]);
    assert_eq!(detect(&named), None, "never a TOTP prompt");
    assert_eq!(detect_recovery(&named), Some(0));
    // An unnamed or `code` field in a prompt that asks for a backup code,
    // next to the e-mail field it must not pick.
    let prompted = scan(vec![
        with(field(0), |f| {
            f.input_type = "email".into();
            f.name = "email".into();
            f.context = "Enter one of your backup codes".into();
        }),
        with(field(1), |f| {
            f.name = "code".into();
            f.context = "Enter one of your backup codes".into();
        }),
    ]);
    assert_eq!(detect_recovery(&prompted), Some(1));
    // A TOTP prompt with a "Use a recovery code" link is a TOTP prompt.
    let totp = scan(vec![with(field(0), |f| {
        f.autocomplete = "one-time-code".into();
        f.context = "Enter the code from your authenticator app".into();
        f.actions = "Use a recovery code instead".into();
    })]);
    assert_eq!(kind_of(&totp), Some(PromptKind::Totp));
    assert_eq!(detect_recovery(&totp), None);
    // A password field on a recovery page is not the code's.
    let password = scan(vec![with(field(0), |f| {
        f.input_type = "password".into();
        f.context = "Enter a recovery code".into();
    })]);
    assert_eq!(detect_recovery(&password), None);
}
