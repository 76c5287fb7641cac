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

fn single(context: &str) -> PageScan {
    scan(vec![with(field(0), |f| {
        f.max_length = 6;
        f.inputmode = "numeric".into();
        f.context = context.into();
    })])
}

/// One prompt per language of issue #19, each the source's own sentence
/// (see the SOURCES section of words.rs): the app prompt is a TOTP prompt.
#[test]
fn every_language_names_the_authenticator_app() {
    for (lang, context) in [
        (
            "en",
            "Enter the 6 digit verification code from your authenticator app.",
        ),
        (
            "id",
            "Masukkan 6 digit kode verifikasi dari aplikasi autentikasi Anda.",
        ),
        ("cs", "Zadejte 6místný kód z ověřovací aplikace."),
        (
            "da",
            "Indtast den 6-cifrede verifikationskode fra din autentificerings-app.",
        ),
        (
            "de",
            "Gib den 6-stelligen Verifizierungscode aus deiner Authenticator App ein.",
        ),
        (
            "et",
            "Sisesta autentimise rakendusest 6 kohaline number. Kaheastmeline kinnitamine",
        ),
        (
            "es",
            "Introduce el código de verificación de 6 dígitos de tu aplicación autenticadora.",
        ),
        (
            "fr",
            "Saisissez le code de vérification à 6 chiffres depuis votre application d'authentification.",
        ),
        (
            "it",
            "Inserisci il codice di verifica a 6 cifre dalla tua applicazione di autenticazione.",
        ),
        (
            "lv",
            "Ievadi 6 ciparu apstiprinājuma kodu no autentificētāja lietotnes!",
        ),
        (
            "lt",
            "Dviejų žingsnių prisijungimas. Įveskite kodą iš Authenticator programėlės.",
        ),
        (
            "nl",
            "Voer de 6-cijferige verificatiecode uit je authenticatie-app in.",
        ),
        (
            "nb",
            "Skriv inn den 6-sifrede verifiseringskoden som står på din autentiseringsapp.",
        ),
        (
            "pl",
            "Wpisz 6-cyfrowy kod weryfikacyjny z aplikacji uwierzytelniającej.",
        ),
        (
            "pt-BR",
            "Insira o código de verificação de 6 dígitos do seu aplicativo de autenticação.",
        ),
        (
            "pt-PT",
            "Introduza o código de verificação de 6 dígitos da sua aplicação de autenticador.",
        ),
        (
            "ro",
            "Introducere cod de verificare din 6 cifre din aplicația de autentificare.",
        ),
        (
            "sr",
            "Унесите шестоцифрени верификациони код из апликације за утврђивање аутентичности.",
        ),
        (
            "sr-Latn",
            "Dvofaktorska autentifikacija: unesite token iz aplikacije Generator tokena.",
        ),
        (
            "fi",
            "Syötä 6-numeroinen todennuskoodi todennussovelluksestasi.",
        ),
        (
            "sv",
            "Ange den 6-siffriga verifieringskoden från din autentiseringsapp.",
        ),
        (
            "vi",
            "Nhập mã xác nhận 6 chữ số từ ứng dụng xác thực của bạn.",
        ),
        (
            "tr",
            "Kimlik doğrulama uygulamanızdaki 6 haneli doğrulama kodunu girin.",
        ),
        (
            "el",
            "Εισάγετε τον 6ψήφιο κωδικό από την εφαρμογή επαλήθευσης.",
        ),
        (
            "bg",
            "Въведете шестцифрения код за потвърждение от приложението за удостоверяване.",
        ),
        (
            "ru",
            "Введите 6-значный код подтверждения из вашего приложения-аутентификатора.",
        ),
        (
            "ar",
            "احصل على رمز التحقّق من تطبيق التحقق ثنائي العوامل على جهازك.",
        ),
        ("th", "ใส่รหัสผ่านครั้งเดียวที่แอปTOTPให้"),
        ("ko", "인증 앱에서 6자리 인증 코드를 입력하세요."),
        (
            "ja",
            "認証アプリに表示された6桁の認証コードを入力してください。",
        ),
        ("zh-Hans", "请输入您的身份验证器应用中的 6 位验证码。"),
        ("zh-Hant", "輸入驗證器應用程式提供的 6 位數驗證碼。"),
    ] {
        assert_eq!(
            kind_of(&single(context)),
            Some(PromptKind::Totp),
            "{lang}: {context}"
        );
    }
}

#[test]
fn every_language_names_the_sms_and_email_channels() {
    for (lang, context) in [
        (
            "cs",
            "Poslali jsme vám SMS zprávu, zadejte prosím zaslaný token.",
        ),
        (
            "de",
            "Wir haben Ihnen eine SMS gesendet. Bitte tragen Sie das Token ein.",
        ),
        (
            "es",
            "Hemos enviado un código a su número de teléfono. Ingrese el código que recibió.",
        ),
        (
            "fi",
            "Lähetimme sinulle tekstiviestin, syötä saamasi koodi.",
        ),
        (
            "fr",
            "Vous avez reçu un texto (SMS), veuillez entrer le jeton que nous avons envoyé.",
        ),
        (
            "lt",
            "Išsiuntėme jums žinutę, įveskite gautą žetoną. Tekstinė žinutė",
        ),
        (
            "nb",
            "Vi har sendt deg en tekstmelding, vennligst skriv inn engangskoden vi sendte deg.",
        ),
        (
            "nl",
            "We hebben u een tekstbericht gestuurd. Vul de token in die we gestuurd hebben.",
        ),
        ("pl", "Wpisz kod który wysłaliśmy na Twój numer telefonu."),
        (
            "pt-BR",
            "Enviamos uma mensagem de texto para você, por favor informe o código enviado.",
        ),
        ("ro", "Mesaj text: introduceți codul de verificare primit."),
        (
            "sr",
            "Послали смо вам СМС поруку, унесите токен који смо послали.",
        ),
        (
            "tr",
            "Telefonunuza bir kısa mesaj gönderdik, lütfen gönderilen kodu girin.",
        ),
        (
            "vi",
            "Chúng tôi đã gửi token đến số điện thoại của quý khách.",
        ),
        ("ar", "أرسلنا رمز التحقق في رسالة نصية."),
        ("zh-Hans", "我们已通过短信发送验证码。"),
    ] {
        assert_eq!(
            kind_of(&single(context)),
            Some(PromptKind::Sms),
            "{lang}: {context}"
        );
    }
    for (lang, context) in [
        (
            "id",
            "Masukkan 6 digit kode verifikasi yang dikirim melalui email ke a•••@example.com.",
        ),
        (
            "cs",
            "Zadejte 6místný kód z e-mailu, který byl zaslán na a•••@example.com.",
        ),
        ("da", "Bekræftelseskoder vil blive e-mailet til dig."),
        (
            "et",
            "Sisesta 6 kohaline kinnituskood, mis saadeti e-posti aadressile",
        ),
        (
            "fi",
            "Syötä 6-numeroinen todennuskoodi, joka lähetettiin sähköpostitse.",
        ),
        (
            "lv",
            "Ievadi 6 ciparu apstiprinājuma kodu. Apstiprinājuma kodi tiks nosūtīti e-pastā.",
        ),
        (
            "lt",
            "Išsiuntėme Jums el. laišką, įveskite kodą, kurį išsiuntėme.",
        ),
        (
            "nb",
            "Vi har sendt deg en e-post, vennligst skriv inn engangskoden vi sendte deg.",
        ),
        (
            "pt-PT",
            "Introduza o código de verificação de 6 dígitos que foi enviado por email para a•••@example.com.",
        ),
        (
            "ro",
            "Introducere cod de verificare din 6 cifre care a fost trimis prin e-mail.",
        ),
        ("sr", "Верификациони кодови ће вам бити послати имејлом."),
        (
            "sv",
            "Ange den 6-siffriga verifieringskoden som skickades till a•••@example.com.",
        ),
        (
            "tr",
            "a•••@example.com adresine e-postayla gönderdiğimiz 6 haneli doğrulama kodunu girin.",
        ),
        ("vi", "Mã xác thực sẽ được gửi qua email cho bạn."),
        (
            "el",
            "Οι κωδικοί επαλήθευσης θα σας αποσταλούν μέσω ηλεκτρονικού ταχυδρομείου.",
        ),
        (
            "bg",
            "Кодовете за потвърждение ще ви бъдат пратени по е-поща.",
        ),
        (
            "ru",
            "Коды подтверждения будут отправлены вам по электронной почте.",
        ),
        ("ar", "ألم تستلم رمز التحقق على بريدك الإلكتروني؟"),
        ("th", "ไม่ได้รับรหัสยืนยันในอีเมลของคุณ?"),
        (
            "ko",
            "a•••@example.com 주소로 전송된 6자리 인증 코드를 입력하세요.",
        ),
        (
            "ja",
            "a•••@example.comに送信された6桁の認証コードを入力してください。",
        ),
        ("zh-Hant", "輸入已傳送至 a•••@example.com 的 6 位數驗證碼。"),
    ] {
        assert_eq!(
            kind_of(&single(context)),
            Some(PromptKind::Email),
            "{lang}: {context}"
        );
    }
}

#[test]
fn backup_codes_in_the_own_language_are_recovery_prompts() {
    for (lang, label) in [
        ("id", "Kode Pemulihan"),
        ("de", "Wiederherstellungscode"),
        ("es", "Códigos de Respaldo"),
        ("fi", "Palautuskoodi"),
        ("sv", "Återställningskod"),
        ("tr", "Kurtarma kodu"),
        ("vi", "Mã phục hồi"),
        ("bg", "Код за възстановяване"),
        ("ar", "رموز تفويض إحتياطية"),
        ("th", "รหัสสำรอง"),
        ("ko", "복구 코드"),
        ("zh-Hant", "復原代碼"),
    ] {
        let s = scan(vec![with(field(0), |f| {
            f.label = label.into();
            f.context = "Two-step login".into();
        })]);
        assert_eq!(detect(&s), None, "{lang}");
        assert_eq!(detect_recovery(&s), Some(0), "{lang}");
    }
}

#[test]
fn folding_and_word_boundaries() {
    // Arabic marks (shadda) differ between copies of the same word.
    assert!(words::any(
        &words::fold("تطبيق التحقّق"),
        words::AUTHENTICATOR
    ));
    // Dotted capital İ folds to i + U+0307; the Turkish stems do not need it.
    assert!(words::any(
        &words::fold("İki Aşamalı Giriş"),
        words::TWO_FACTOR
    ));
    // A Latin word next to Thai or Japanese letters is still a word…
    assert!(words::any("ส่งรหัสทางsmsแล้ว", words::SMS));
    assert!(words::any("smsで送信しました", words::SMS));
    // …but not inside a longer Latin word.
    assert!(!words::any("smsgateway", &["^sms"]));
    assert!(words::has_email_address("sent to j•••@example.com."));
    assert!(words::has_email_address("sent to st***@mail.example.org"));
    assert!(!words::has_email_address("follow @example on social"));
    assert!(words::has_masked_phone("to +1 (•••) •••-••42"));
    assert!(words::has_masked_phone("ending ***-***-1234"));
    assert!(!words::has_masked_phone("code 123456"));
}

#[test]
fn app_code_or_backup_code_field_is_a_prompt() {
    let s = scan(vec![with(field(0), |f| {
        f.name = "user[otp_attempt]".into();
        f.label = "Authentication code or backup code".into();
        f.max_length = 10;
        f.context =
            "Open the two-factor app on your phone and enter the code, or use a backup code."
                .into();
    })]);
    assert_eq!(kind_of(&s), Some(PromptKind::Totp));
    // Only a backup code: still never a TOTP.
    let backup = scan(vec![with(field(0), |f| {
        f.name = "backup_code".into();
        f.label = "Backup code".into();
        f.context = "Enter one of your backup codes or contact support.".into();
    })]);
    assert_eq!(detect(&backup), None);
    assert_eq!(detect_recovery(&backup), Some(0));
}

#[test]
fn a_field_named_for_its_channel_is_never_totp() {
    let email = scan(vec![with(field(0), |f| {
        f.id = "emailCode".into();
        f.name = "email_otp".into();
        f.label = "Email code".into();
        f.max_length = 6;
        f.context = "Enter the code. You can also use your authenticator app.".into();
    })]);
    assert_eq!(kind_of(&email), Some(PromptKind::Email));
    let sms = scan(vec![with(field(0), |f| {
        f.id = "sms_code".into();
        f.label = "SMS code".into();
        f.max_length = 6;
        f.context = "Two-step verification. Prefer the authenticator app? Choose it below.".into();
    })]);
    assert_eq!(kind_of(&sms), Some(PromptKind::Sms));
    // The e-mail address field itself is no prompt at all.
    let address = scan(vec![with(field(0), |f| {
        f.name = "email".into();
        f.context = "Two-step verification".into();
    })]);
    assert_eq!(detect(&address), None);
    // Beside an authenticator field, the authenticator field is the prompt.
    let both = scan(vec![
        with(field(0), |f| {
            f.name = "email_code".into();
            f.max_length = 6;
            f.context = "Two-step verification".into();
        }),
        with(field(1), |f| {
            f.name = "totp_code".into();
            f.max_length = 6;
            f.y = 300.0;
            f.context = "Two-step verification".into();
        }),
    ]);
    let p = detect(&both).unwrap();
    assert_eq!((p.kind, p.fields), (PromptKind::Totp, vec![1]));
}

#[test]
fn codes_that_are_not_a_sign_in_step_are_never_prompts() {
    for (what, name, label, context) in [
        (
            "oauth",
            "code",
            "Authorization code",
            "To verify the connection, paste the authorization code the CLI printed.",
        ),
        (
            "pairing",
            "code",
            "Code",
            "Enter the 6-digit pairing code shown on your watch to verify it.",
        ),
        (
            "gift card",
            "code",
            "Code",
            "Enter the code on your gift card. Two-step verification is not needed.",
        ),
        (
            "voucher de",
            "code",
            "Code",
            "Geben Sie den Gutscheincode ein. Einen Bestätigungscode brauchen Sie nicht.",
        ),
        (
            "invitation",
            "code",
            "Invitation code",
            "Two-factor authentication comes next.",
        ),
        (
            "invitation fr",
            "code",
            "Code",
            "Saisissez le code d'invitation. Ensuite : validation en deux étapes.",
        ),
        (
            "device user code",
            "user_code",
            "Code",
            "Verify the code shown on your TV.",
        ),
    ] {
        let s = scan(vec![with(field(0), |f| {
            f.name = name.into();
            f.label = label.into();
            f.max_length = 8;
            f.context = context.into();
        })]);
        assert_eq!(detect(&s), None, "{what}");
    }
}

#[test]
fn long_one_time_password_fields_are_prompts() {
    let s = scan(vec![with(field(0), |f| {
        f.name = "response".into();
        f.max_length = 50;
        f.context = "Enter the one-time password from your authenticator app.".into();
    })]);
    assert_eq!(kind_of(&s), Some(PromptKind::Totp));
}

#[test]
fn portal_token_in_a_second_password_field() {
    let form = |third: &str, third_label: &str, context: &str| {
        scan(vec![
            with(field(0), |f| {
                f.name = "username".into();
                f.context = context.into();
            }),
            with(field(1), |f| {
                f.input_type = "password".into();
                f.name = "password".into();
                f.y = 260.0;
                f.context = context.into();
            }),
            with(field(2), |f| {
                f.input_type = "password".into();
                f.name = third.into();
                f.label = third_label.into();
                f.y = 320.0;
                f.context = context.into();
            }),
        ])
    };
    let vpn = form(
        "password#2",
        "Secondary password",
        "Sign in with your username, your password and the code shown on your RSA SecurID token.",
    );
    assert_eq!(detect(&vpn).unwrap().fields, [2]);
    let confirm = form(
        "password_confirm",
        "Confirm password",
        "Choose a password. Later you can turn on two-factor authentication.",
    );
    assert_eq!(detect(&confirm), None);
}

#[test]
fn emailed_code_in_boxes_is_never_totp() {
    let s = scan(boxes(
        6,
        "We've sent a 6-digit code to j•••@example.com. Enter it below. You can also sign in with your authenticator app.",
    ));
    assert_eq!(kind_of(&s), Some(PromptKind::Email));
    let totp = scan(boxes(
        6,
        "Signed in as j•••@example.com. Enter the 6-digit code from your authenticator app.",
    ));
    assert_eq!(kind_of(&totp), Some(PromptKind::Totp));
}

#[test]
fn right_to_left_boxes_are_one_group_in_dom_order() {
    let mut b = boxes(6, "أدخل رمز التحقق المكوّن من 6 أرقام من تطبيق المصادقة.");
    for (i, f) in b.iter_mut().enumerate() {
        f.x = 400.0 - i as f64 * 52.0; // the first box in the DOM is on the right
    }
    let p = detect(&scan(b)).unwrap();
    assert_eq!(p.fields, [0, 1, 2, 3, 4, 5]);
    assert_eq!(p.kind, PromptKind::Totp);
}

#[test]
fn lookalikes_in_other_languages_are_never_prompts() {
    for (lang, label) in [
        ("th", "รหัสไปรษณีย์"),
        ("ar", "الرمز البريدي"),
        ("pl", "Kod pocztowy"),
        ("pt-BR", "CEP"),
        ("it", "CAP"),
        ("fi", "Postinumero"),
        ("ko", "우편번호"),
        ("nl", "Zoeken"),
        ("sv", "Antal"),
        ("vi", "Số lượng"),
        ("de", "Gutscheincode"),
        ("ja", "クーポンコード"),
        ("zh-Hans", "邀请码"),
    ] {
        let s = scan(vec![with(field(0), |f| {
            f.label = label.into();
            f.max_length = 6;
            f.inputmode = "numeric".into();
            f.context = "Two-step verification is on for this account.".into();
        })]);
        assert_eq!(detect(&s), None, "{lang}: {label}");
    }
}
