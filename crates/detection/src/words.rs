//! Word lists, folded with [`fold`]. An entry starting with `^` matches a
//! whole word; others match as substrings, which is what scripts without
//! spaces (Thai, Japanese, Chinese) and compounding languages (German,
//! Finnish, Estonian) need. A word boundary is a neighbour that is not a
//! letter or digit *of an alphabet that separates words by spaces* (Latin,
//! Greek, Cyrillic): `sms` is a word in `smsで` and `ทางsms`.
//!
//! # Sources
//!
//! Besides the English and earlier lists, the entries for the 31 languages
//! of issue #19 are taken from these public translation files (quoted, then
//! cut to the stem that also matches inflected forms); the tag after each
//! language in a list says which:
//!
//! - **BW**: Bitwarden browser extension, `src/_locales/<lang>/messages.json`
//!   (bitwarden/browser `7cf4cfe`): `verificationCode`, `twoStepLogin`,
//!   `enterVerificationCodeApp`, `enterVerificationCodeEmail`,
//!   `authenticatorAppTitle`, `recoveryCodeTitle`, `emailDesc`, `rememberMe`
//!   (shown on its two-step page). Used for id cs da de et es fr it lv nl nb
//!   pl pt-BR pt-PT ro sr fi sv vi tr el bg ru ko ja zh-Hans zh-Hant
//!   (its lt and th files leave these strings in English; it has no ar).
//! - **DJ**: django-two-factor-auth, `two_factor/locale/<lang>/LC_MESSAGES/django.po`
//!   (jazzband/django-two-factor-auth `05d32de`): "We sent you a text
//!   message…", "We sent you an email…", "We've sent a token to your phone
//!   number…", "Text message", "Backup Tokens", "Token generator",
//!   "Enable Two-Factor Authentication". Used for ar cs da de es fi fr it ja
//!   lt nb nl pl pt-BR ro ru sr (Cyrillic and `sr@latin`) sv tr vi zh-Hans.
//! - **KC**: Keycloak login theme, `themes/src/main/resources-community/theme/base/login/messages/messages_<lang>.properties`
//!   (keycloak/keycloak): `loginOtpOneTime`, `authenticatorCode`,
//!   `loginTotpTitle`, `configureBackupCodesMessage`, `rememberMe`,
//!   `emailVerifyInstruction2`, `missingTotpMessage`. Used for th and ar.
//! - **NC**: Nextcloud twofactor_totp, `l10n/<lang>.json`
//!   (nextcloud/twofactor_totp `6eab99e`): "TOTP (Authenticator app)",
//!   "Authentication code", "Get the authentication code from the
//!   two-factor authentication app on your device", "Authenticate with a
//!   TOTP app". Used for ar and th.
//!
//! es-ES and es-MX share the Spanish entries (BW `es`, DJ `es`, which is
//! written for Latin America: "ingrese", "Códigos de Respaldo"); pt-BR and
//! pt-PT are listed apart where they differ.

/// Lower-cases `s` and drops what varies between copies of the same word:
/// Arabic short-vowel marks and shadda (U+064B–U+065F, U+0670) and the
/// tatweel (U+0640), which NC's `تطبيق التحقّق` has and pages often lack.
pub fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(*c as u32, 0x064B..=0x065F | 0x0670 | 0x0640))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Does `text` (folded) contain any entry of `list`?
pub fn any(text: &str, list: &[&str]) -> bool {
    // Most entries have a byte the text lacks (another script, a letter it
    // does not use): skip those without a substring search.
    let mut present = [false; 256];
    for b in text.bytes() {
        present[usize::from(b)] = true;
    }
    list.iter().any(|w| {
        let (word, whole) = match w.strip_prefix('^') {
            Some(word) => (word, true),
            None => (*w, false),
        };
        word.bytes().all(|b| present[usize::from(b)])
            && if whole {
                contains_word(text, word)
            } else {
                text.contains(word)
            }
    })
}

fn contains_word(text: &str, word: &str) -> bool {
    // Letters of Latin, Greek and Cyrillic (below U+0530) join words;
    // Thai, CJK and Arabic letters next to a Latin word do not.
    let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() && (c as u32) < 0x530));
    text.match_indices(word).any(|(i, _)| {
        boundary(text[..i].chars().next_back()) && boundary(text[i + word.len()..].chars().next())
    })
}

/// Does `text` name an e-mail address, plain or masked (`a•••@example.com`,
/// `j***@gmail.com`)? A code "sent to" such an address is an e-mailed one,
/// in any language.
pub fn has_email_address(text: &str) -> bool {
    text.match_indices('@').any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = &text[i + 1..];
        let domain: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-'))
            .collect();
        let domain = domain.trim_end_matches(['.', '-']);
        before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '•' | '*' | '.' | '_' | '-'))
            && domain.contains('.')
            && !domain.starts_with('.')
    })
}

/// Does `text` show a masked phone number (`+1 ••• 42`, `***-***-1234`,
/// `(•••) •••-••42`)? A code sent there came by SMS (or a call).
pub fn has_masked_phone(text: &str) -> bool {
    let masks = |c: char| matches!(c, '•' | '*' | '●' | '∙' | '·' | 'x');
    let mut masked = 0;
    let mut digits_after = 0;
    for c in text.chars() {
        if masks(c) {
            masked += 1;
            digits_after = 0;
        } else if c.is_ascii_digit() {
            digits_after += 1;
            if masked >= 3 && digits_after >= 2 {
                return true;
            }
        } else if !matches!(c, ' ' | '-' | '(' | ')' | '+' | '.') {
            masked = 0;
            digits_after = 0;
        }
    }
    false
}

/// In a field's own names or label: this is an OTP input.
pub const OTP_FIELD: &[&str] = &[
    "otp",
    "totp",
    "one-time",
    "onetime",
    "one_time",
    "2fa",
    "mfa",
    "tfa",
    "two-factor",
    "twofactor",
    "two_factor",
    "2-step",
    "2step",
    "second-factor",
    "secondfactor",
    "verification code",
    "verificationcode",
    "verification-code",
    "verification_code",
    "verify_code",
    "verifycode",
    "auth code",
    "authcode",
    "auth_code",
    "auth-code",
    "authentication code",
    "passcode",
    "approvals_code",
    "security_code",
    "token code",
    "securid",
    // de (BW: Verifizierungscode, Bestätigungscode)
    "bestätigungscode",
    "verifizierungscode",
    "authentifizierungscode",
    "sicherheitscode",
    "einmalcode",
    // fr (BW: code de vérification)
    "code de vérification",
    "code de validation",
    "code d'authentification",
    // es, pt (BW: código de verificación / de verificação)
    "código de verificación",
    "código de verificação",
    "código de autenticación",
    "código de autenticação",
    "código de seguridad",
    // it (BW: codice di verifica)
    "codice di verifica",
    "codice di autenticazione",
    // pl (BW: kod weryfikacyjny)
    "kod weryfikacyjny",
    "kod uwierzytelniający",
    "kod jednorazowy",
    // nl (BW: verificatiecode)
    "verificatiecode",
    "authenticatiecode",
    "beveiligingscode",
    // ru (BW: код подтверждения)
    "код подтверждения",
    "проверочный код",
    "одноразов",
    "код аутентификации",
    // el (BW: κωδικός επαλήθευσης)
    "κωδικός επαλήθευσης",
    "κωδικός ελέγχου",
    // ja (BW: 認証コード)
    "確認コード",
    "認証コード",
    "ワンタイム",
    "セキュリティコード",
    // zh-Hans, zh-Hant (BW: 验证码, 驗證碼)
    "验证码",
    "驗證碼",
    "动态码",
    "动态口令",
    "校验码",
    "安全码",
    // ko (BW: 인증 코드)
    "인증 번호",
    "인증번호",
    "인증 코드",
    "인증코드",
    "확인 코드",
    // id (BW: Kode Verifikasi)
    "kode verifikasi",
    // cs (BW: Ověřovací kód)
    "ověřovací kód",
    // da (BW: Bekræftelseskode, verifikationskode)
    "bekræftelseskode",
    "verifikationskode",
    // et (BW: Kinnituskood)
    "kinnituskood",
    // lv (BW: Apstiprināšanas kods, apstiprinājuma kodu)
    "apstiprināšanas kod",
    "apstiprinājuma kod",
    // lt (BW: Patvirtinimo kodas)
    "patvirtinimo kod",
    // nb (BW: Verifiseringskode; DJ: engangskoden)
    "verifiseringskode",
    "engangskode",
    // ro (BW: Cod de verificare)
    "cod de verificare",
    "codul de verificare",
    // sr (BW: Верификациони код; DJ sr@latin)
    "верификациони код",
    "verifikacioni kod",
    // fi (BW: Todennuskoodi)
    "todennuskoodi",
    // sv (BW: Verifieringskod; DJ: engångskod)
    "verifieringskod",
    "engångskod",
    // vi (BW: Mã xác nhận, mã xác thực)
    "mã xác nhận",
    "mã xác thực",
    // tr (BW: Doğrulama kodu)
    "doğrulama kod",
    // bg (BW: Код за потвърждаване / потвърждение)
    "код за потвърждаване",
    "код за потвърждение",
    // ar (KC: رمز التحقق, رمز لمرة واحدة; NC: رمز المصادقة)
    "رمز التحقق",
    "رمز لمرة واحدة",
    "رمز المصادقة",
    // th (KC: รหัสสำหรับใช้ครั้งเดียว, รหัสผ่านครั้งเดียว, รหัสยืนยัน)
    "รหัสสำหรับใช้ครั้งเดียว",
    "รหัสผ่านครั้งเดียว",
    "รหัสยืนยัน",
];

/// "Code" in the languages we cover (weak on its own).
pub const CODE_WORD: &[&str] = &[
    "^code",
    "^codes",
    "código",
    "codice",
    "^kod",
    "^kodu",
    "код",
    "コード",
    "κωδικ",
    "码",
    "碼",
    "^token",
    "코드",
    // id, da, nb: kode; cs: kód; et: kood, fi: koodi (compounds: substring)
    "^kode",
    "^koden",
    "^kód",
    "kood",
    // lv: kods/kodu; lt: kodas/kodą; ro: cod/codul; vi: mã
    "^kods",
    "^kodas",
    "^kodą",
    "^cod",
    "^codul",
    "^mã",
    // fr: jeton, lt: žetonas (DJ: token)
    "^jeton",
    // ru, sr, bg (DJ: токен)
    "токен",
    "žeton",
    // ar: رمز; th: รหัส (BW, KC, NC)
    "رمز",
    "รหัส",
];

/// Around the field: this is a two-factor / verification step.
pub const TWO_FACTOR: &[&str] = &[
    "two-factor",
    "two factor",
    "2-factor",
    "2fa",
    "two-step",
    "2-step",
    "multi-factor",
    "^mfa",
    "verification code",
    "one-time",
    "^verify",
    "securid",
    "token code",
    "zwei-faktor",
    "zweistufig",
    "2-schritt",
    "bestätigungscode",
    "anmeldung bestätigen",
    "double authentification",
    "deux facteurs",
    "deux étapes",
    "code de vérification",
    "dos pasos",
    "dos factores",
    "código de verificación",
    "двухфактор",
    "двухэтап",
    "код подтверждения",
    "подтверждение входа",
    "二段階",
    "2段階",
    "確認コード",
    "認証コード",
    "δύο παραγόντων",
    "δύο βημάτων",
    "δύο βήματα",
    "επαλήθευση",
    "tweestaps",
    "twee-factor",
    "tweefactor",
    "verificatiecode",
    "due fattori",
    "due passaggi",
    "doppia autenticazione",
    "codice di verifica",
    "dois fatores",
    "duas etapas",
    "dois passos",
    "código de verificação",
    "dwuetapow",
    "dwuskładnikow",
    "dwustopniow",
    "kod weryfikacyjny",
    "两步验证",
    "双重验证",
    "二次验证",
    "两步登录",
    "两步驗證",
    "兩步驗證",
    "兩步驟",
    "验证码",
    "驗證碼",
    "身份验证",
    "2단계 인증",
    "2단계",
    "이중 인증",
    "인증 번호",
    "인증번호",
    "인증 코드",
    "인증코드",
    // id (BW: masuk dua langkah)
    "dua langkah",
    "kode verifikasi",
    // cs (BW: Dvoufázové přihlášení; DJ: dvoufázové ověření)
    "dvoufázov",
    "ověřovací kód",
    // da (BW: To-trins login; DJ: To-Faktor)
    "to-trins",
    "to-faktor",
    "bekræftelseskode",
    // et (BW: Kaheastmeline kinnitamine)
    "kaheastmeli",
    "kinnituskood",
    // lv (BW: Divpakāpju pierakstīšanās)
    "divpakāpju",
    "apstiprinājuma kod",
    // lt (BW: Dviejų žingsnių prisijungimas)
    "dviejų žingsnių",
    "patvirtinimo kod",
    // nb (BW: 2-trinnsinnlogging; DJ: tofaktorautentisering)
    "2-trinns",
    "tofaktor",
    "verifiseringskode",
    "engangskode",
    // ro (BW: în două etape; DJ: în doi pași)
    "două etape",
    "doi pași",
    "cod de verificare",
    // sr (BW: у два корака; DJ: двофакторску, dvofaktorsku)
    "два корака",
    "двофактор",
    "dva koraka",
    "dvofaktor",
    "верификациони код",
    // fi (BW, DJ: kaksivaiheinen)
    "kaksivaihei",
    "todennuskoodi",
    // sv (BW: Tvåstegsverifiering; DJ: tvåfaktorsautentisering)
    "tvåstegs",
    "tvåfaktor",
    "verifieringskod",
    "engångskod",
    // vi (BW: Xác thực hai lớp; DJ: Xác minh hai lớp)
    "hai lớp",
    "mã xác nhận",
    // tr (BW: İki aşamalı giriş; DJ: İki Adımlı Doğrulama). Folded
    // "İki" is "i̇ki", so the stems start after it.
    "aşamalı giriş",
    "aşamalı doğrulama",
    "adımlı doğrulama",
    "doğrulama kod",
    // bg (BW: Двустепенно удостоверяване)
    "двустепенно",
    "код за потвърждение",
    // ar (NC: التحقق ثنائي العوامل, المصادقة الثنائية; DJ: التحقق من خطوتين)
    "ثنائي العوامل",
    "المصادقة الثنائية",
    "خطوتين",
    "رمز التحقق",
    "رمز لمرة واحدة",
    // th (KC: รหัสสำหรับใช้ครั้งเดียว; NC: ตรวจสอบสิทธิ์ด้วยแอป TOTP)
    "ใช้ครั้งเดียว",
    "รหัสผ่านครั้งเดียว",
    "แอป totp",
];

/// The code comes from an authenticator app (TOTP).
pub const AUTHENTICATOR: &[&str] = &[
    "authenticator",
    "authentication app",
    "auth app",
    "two-factor app",
    "2fa app",
    "authenticator-app",
    "token generator",
    "code generator",
    "authentifizierungs-app",
    "authentifizierungsapp",
    "code-generator",
    "application d'authentification",
    "appli d'authentification",
    "application d’authentification",
    "générateur de jetons",
    "aplicación de autenticación",
    "app de autenticación",
    "aplicación autenticadora",
    "generador de códigos",
    "аутентификатор",
    "приложения для аутентификации",
    "приложении для аутентификации",
    "приложение для аутентификации",
    "генератор токенов",
    "認証アプリ",
    "認証システム",
    "トークンジェネレーター",
    "εφαρμογή ελέγχου ταυτότητας",
    "εφαρμογή επαλήθευσης",
    "εφαρμογή πιστοποίησης",
    "authenticatie-app",
    "authenticatieapp",
    "verificatie-app",
    "tokengenerator",
    "app di autenticazione",
    "app autenticatore",
    "applicazione di autenticazione",
    "generatore di token",
    "aplicativo de autenticação",
    "aplicativo autenticador",
    "app de autenticação",
    "aplicação de autenticação",
    "aplicação de autenticador",
    "aplicativo gerador de códigos",
    "uwierzytelniając",
    "generator tokenów",
    "身份验证器",
    "验证器",
    "身份驗證器",
    "驗證器",
    "认证器",
    "验证码生成器",
    "^totp",
    "mfa device",
    "virtual mfa",
    "인증 앱",
    "인증앱",
    "otp 앱",
    "otp앱",
    "steam mobile",
    "steam guard",
    // id (BW: aplikasi autentikasi, Aplikasi Otentikasi)
    "aplikasi autentikasi",
    "aplikasi otentikasi",
    // cs (BW: ověřovací aplikace / aplikaci)
    "ověřovací aplikac",
    // da (BW: autentificerings-app)
    "autentificerings-app",
    // et (BW: autentimise rakendus / rakendusest)
    "autentimise rakendus",
    // lv (BW: autentificētāja lietotne)
    "autentificētāja lietotn",
    // nb, sv (BW: autentiseringsapp)
    "autentiseringsapp",
    "kodgenerator",
    // ro (BW: aplicația de autentificare)
    "aplicația de autentificare",
    "aplicație de autentificare",
    "generator de coduri",
    // sr (BW: апликације за утврђивање аутентичности; DJ: генератор токена)
    "за утврђивање аутентичности",
    "генератор токена",
    "generator tokena",
    // fi (BW: todennussovellus / -sovelluksestasi)
    "todennussovellu",
    "tunnusgeneraattori",
    // vi (BW: ứng dụng xác thực)
    "ứng dụng xác thực",
    // tr (BW: Kimlik doğrulama uygulaması; DJ: Kod oluşturucu)
    "kimlik doğrulama uygulama",
    "kod oluşturucu",
    // bg (BW: приложението за удостоверяване)
    "приложение за удостоверяване",
    "приложението за удостоверяване",
    // ar (NC: تطبيق التحقّق من الهويّة, تطبيق التحقق ثنائي العوامل, تطبيق
    // TOTP; KC: تطبيق هاتف مصادق)
    "تطبيق التحقق",
    "تطبيق المصادقة",
    "تطبيق هاتف مصادق",
    "تطبيق totp",
    "منشئ رمز",
    // th (NC: แอป TOTP; KC: Mobile Authenticator)
    "แอป totp",
    // zh-Hant (BW: 驗證器應用程式) is covered by 驗證器
];

/// The code was sent by SMS.
pub const SMS: &[&str] = &[
    "^sms",
    "text message",
    "texted",
    "via text",
    "by text",
    "sent to +",
    "sent to your phone",
    "phone ending",
    "phone number ending",
    "ending in",
    "textnachricht",
    "per sms",
    "par sms",
    "mensaje de texto",
    "смс",
    "по sms",
    "sms-сообщ",
    "ショートメッセージ",
    "sms で",
    "短信",
    "簡訊",
    "γραπτό μήνυμα",
    "sms-bericht",
    "tekstbericht",
    "messaggio di testo",
    "mensagem de texto",
    "wiadomość sms",
    "wiadomości sms",
    "sent to the number",
    // "to your phone (number)" (DJ: We've sent a token to your phone number)
    "auf ihr telefon",
    "a su número de teléfono",
    "para o seu número de telefone",
    "al numero di telefono",
    "naar jouw telefoonnummer",
    "til ditt telefonummer",
    "na twój numer telefonu",
    "на ваш телефон",
    "на ваш број телефона",
    "na vaš broj telefona",
    "na vaše telefonní číslo",
    "puhelinnumeroosi",
    "telefonunuza",
    "đến số điện thoại",
    "電話番号に",
    // cs (DJ: SMS zprávu, Textová zpráva)
    "textová zpráva",
    // da (DJ: Tekstbesked)
    "tekstbesked",
    // fi (DJ: tekstiviesti)
    "tekstiviest",
    // fr (DJ: un texto (SMS), Message texte)
    "un texto",
    "message texte",
    // lt (DJ: Tekstinė žinutė, žinutę)
    "tekstinė žinutė",
    // nb (DJ: tekstmelding)
    "tekstmelding",
    // ro (DJ: Mesaj text)
    "mesaj text",
    // sr (DJ: СМС порука)
    "смс порук",
    // tr (DJ: Kısa mesaj)
    "kısa mesaj",
    // vi (DJ: Tin nhắn)
    "tin nhắn",
    // ar (DJ: رسالة نصية)
    "رسالة نصية",
];

/// The code was sent by e-mail (delivery phrases, not just the word:
/// a sign-in page often shows the account's e-mail address).
pub const EMAIL: &[&str] = &[
    "sent to your email",
    "sent to your e-mail",
    "sent an email",
    "sent you an email",
    "sent a code to",
    "emailed",
    "check your email",
    "check your e-mail",
    "check your inbox",
    "in your inbox",
    "to your inbox",
    "via email",
    "by email",
    "per e-mail",
    "per email",
    "e-mail gesendet",
    "e-mail geschickt",
    "email gesendet",
    "par e-mail",
    "par courriel",
    "par email",
    "un courriel",
    "por correo",
    "por email",
    "por e-mail",
    "по почте",
    "на почту",
    "на электронную почту",
    "по электронной почте",
    "メールで",
    "メールに",
    "メールアドレスに",
    "邮件",
    "郵件",
    "posta elettronica",
    "via e-mail",
    "per mail",
    "e-mailem",
    "na e-mail",
    "이메일",
    // cs (DJ: Poslali jsme vám e-mail; BW: z e-mailu)
    "vám e-mail",
    "z e-mailu",
    // da (BW: e-mailet til dig)
    "e-mailet til",
    // et (BW: saadetakse e-postiga, e-posti aadressile)
    "e-postiga",
    "e-posti aadressile",
    // fi (BW: sähköpostitse; DJ: lähetimme sinulle sähköpostin)
    "sähköpostitse",
    "sähköpostin",
    // lv (BW: nosūtīti e-pastā)
    "e-pastā",
    // lt (DJ: el. laišką)
    "el. laišk",
    // nl (DJ: een email gestuurd)
    "email gestuurd",
    "e-mail gestuurd",
    // nb (DJ: sendt deg en e-post; BW: med e-post)
    "en e-post",
    "med e-post",
    // pl (BW: wiadomością e-mail; DJ: emaila z tokenem)
    "wiadomością e-mail",
    "emaila z",
    // ro (BW: prin e-mail)
    "prin e-mail",
    // sr (BW: имејлом; DJ: е-поруку, e-poruku)
    "имејлом",
    "е-поруку",
    "e-poruku",
    // tr (BW: e-postayla, e-posta adresinize; DJ: bir e-posta gönderdik)
    "e-postayla",
    "e-posta adresinize",
    "e-posta gönderdik",
    // vi (BW: qua email)
    "qua email",
    // el (BW: μέσω ηλεκτρονικού ταχυδρομείου)
    "ηλεκτρονικού ταχυδρομείου",
    // bg (BW: по е-поща)
    "по е-поща",
    // ar (KC: عبر البريد الإلكتروني, على بريدك الإلكتروني)
    "عبر البريد الإلكتروني",
    "بريدك الإلكتروني",
    // th (KC: ในอีเมลของคุณ, ส่งอีเมล)
    "อีเมลของคุณ",
    "ส่งอีเมล",
    // zh-Hans (BW: 通过电子邮件发送), ja (BW: メールにお送り) covered above
];

/// A verb saying something was sent (for "sent to a•••@example.com").
pub const SENT: &[&str] = &[
    "^sent",
    "we send",
    "emailed",
    "gesendet",
    "geschickt",
    "envoyé",
    "enviado",
    "enviamos",
    "inviato",
    "verstuurd",
    "gestuurd",
    "wysła",
    "przesłan",
    "отправ",
    "выслан",
    "изпратен",
    "послан",
    "poslán",
    "odeslán",
    "sendt",
    "skickad",
    "lähetet",
    "saadeti",
    "nosūtīt",
    "išsiųst",
    "trimis",
    "dikirim",
    "gửi",
    "gönderil",
    "gönderdi",
    "στάλθηκε",
    "λάβατε",
    "送信",
    "发送",
    "傳送",
    "发至",
    "전송",
    "보냈",
    "ส่ง",
    "أرسل",
    "إرسال",
];

/// In a field's own naming: the channel the code came by. Such a field
/// never takes a TOTP, whatever else the page mentions.
pub const SMS_FIELD: &[&str] = &[
    "^sms", "smscode", "sms_code", "sms-code", "smsotp", "短信", "簡訊", "смс",
];

/// In a field's own naming: the code was e-mailed.
pub const EMAIL_FIELD: &[&str] = &[
    "email",
    "e-mail",
    "e_mail",
    "mail code",
    "mailcode",
    "mail_code",
    "mail-code",
    "courriel",
    "correo",
    "邮件",
    "郵件",
    "メール",
    "이메일",
    "почт",
    "e-post",
    "sähköpost",
    "بريد",
    "อีเมล",
];

/// In a field's own names or label: this is something else; never fill.
pub const FIELD_VETO: &[&str] = &[
    "card",
    "cc-",
    "ccnum",
    "cvv",
    "cvc",
    "^csc",
    "^cvn",
    "zip",
    "postal",
    "postcode",
    "^plz",
    "code postal",
    "código postal",
    "codice postale",
    "почтов",
    "郵便",
    "邮编",
    "search",
    "^query",
    "^q",
    "suche",
    "recherche",
    "buscar",
    "поиск",
    "検索",
    "搜索",
    // Look-alikes in the languages of #19: postal code (KC `postal_code`
    // for th and ar), search, quantity (general vocabulary, not from a file).
    "kode pos",
    "^psč",
    "postnummer",
    "postiindeks",
    "^cap",
    "pasta indeks",
    "pašto kod",
    "kod pocztowy",
    "^cep",
    "cod poștal",
    "поштански",
    "postinumero",
    "mã bưu",
    "ταχυδρομικ",
    "пощенски",
    "الرمز البريدي",
    "รหัสไปรษณีย์",
    "우편번호",
    "邮政编码",
    "郵遞區號",
    "^cari",
    "hledat",
    "^søg",
    "^otsi",
    "^cerca",
    "meklēt",
    "ieškoti",
    "zoeken",
    "^søk",
    "szukaj",
    "pesquisa",
    "căutare",
    "pretraga",
    "^haku",
    "^sök",
    "tìm kiếm",
    "^ara",
    "αναζήτηση",
    "търсене",
    "بحث",
    "ค้นหา",
    "검색",
    "搜尋",
    "jumlah",
    "množství",
    "^antal",
    "kogus",
    "quantità",
    "daudzums",
    "kiekis",
    "aantal",
    "ilość",
    "quantidade",
    "cantitate",
    "količina",
    "määrä",
    "số lượng",
    "^adet",
    "miktar",
    "ποσότητα",
    "الكمية",
    "จำนวน",
    "수량",
    "^qty",
    "quantity",
    "menge",
    "quantité",
    "cantidad",
    "количество",
    "数量",
    "coupon",
    "promo",
    "voucher",
    "gift",
    "gutschein",
    "discount",
    "rabatt",
    "captcha",
    "username",
    "account number",
    "accountnumber",
    "account-number",
    "customer",
    "kundennummer",
    "^iban",
    "amount",
    "betrag",
    "^price",
    "comment",
    "address",
    "birth",
    "^dob",
    "device code",
    "device_code",
    "devicecode",
    "user_code",
    "usercode",
    "tv code",
    "activation",
    "pairing",
    "^pair",
    "^pin",
    "pincode",
    "pin-code",
    "pin code",
    "invite",
    "invitation",
    "referral",
    "sort code",
    "sortcode",
    "^sort",
    "routing",
    "^bic",
    "^swift",
    "^error",
    "errcode",
    "error code",
    "redeem",
    // OAuth / authorization codes pasted into a form
    "oauth",
    "authorization code",
    "authorization_code",
    "authorizationcode",
    "authorisation code",
    "api key",
    "apikey",
    "api_key",
    "license",
    "licence",
    "serial",
    // gift cards, vouchers, invitations and pairing in the other languages
    "einladung",
    "kopplung",
    "cadeau",
    "parrainage",
    "regalo",
    "invitación",
    "convite",
    "invito",
    "zaproszeni",
    "podarunk",
    "промокод",
    "подароч",
    "приглаш",
    "ギフト",
    "クーポン",
    "招待",
    "礼品",
    "兑换",
    "兌換",
    "邀请",
    "邀請",
    "优惠",
    "쿠폰",
    "초대",
    "상품권",
    "hadiah",
    "dárkov",
    "gavekort",
    "presentkort",
    "lahjakort",
    "kinkekaart",
    "hediye",
    "davet",
    "δωροκάρτ",
    "κουπόνι",
    "قسيمة",
    "كوبون",
    "دعوة",
    "คูปอง",
    "บัตรของขวัญ",
];

/// In a field's own naming: a password. A veto unless the naming also says
/// one-time (`One-time password`) or it is a portal's second password.
pub const PASSWORD_FIELD: &[&str] = &[
    "password",
    "passwort",
    "contraseña",
    "пароль",
    "パスワード",
    "密码",
    "^passwd",
    "^pwd",
];

/// In a password field's own naming: the *second* secret of a portal form
/// (Pulse/Ivanti `password#2`, Cisco `secondary_password`, Citrix
/// "Password 2"), which is where those VPNs take the token code.
pub const SECOND_SECRET: &[&str] = &[
    "password#2",
    "password2",
    "password 2",
    "password_2",
    "passwd2",
    "secondary",
    "second password",
    "^token",
    "tokencode",
    "token_code",
    "^code",
    "^passcode",
    "^otp",
];

/// Like [`FIELD_VETO`], but only when the field's naming has no "code"
/// word: "Phone number" is a phone field, "Code sent to your phone" is not.
pub const FIELD_VETO_WEAK: &[&str] = &[
    "phone",
    "mobile",
    "^tel",
    "telefon",
    "téléphone",
    "teléfono",
    "телефон",
    "電話",
    "手机",
    // KC `phoneNumber` for th and ar; the others general vocabulary
    "telepon",
    "puhelin",
    "tālrun",
    "điện thoại",
    "τηλέφων",
    "هاتف",
    "โทรศัพท์",
    "전화",
    "手機",
    "^user",
    "^name",
    "^city",
    "^year",
];

/// In a field's own naming: it takes a recovery (backup) code. A veto for
/// TOTP fills like [`FIELD_VETO`] (unless the naming offers an app code as
/// well); [`crate::detect_recovery`] looks for it.
pub const RECOVERY_FIELD: &[&str] = &[
    "recovery",
    "backup",
    "wiederherstellung",
    "ersatz-code",
    "récupération",
    "secours",
    "recuperación",
    "respaldo",
    "recuperação",
    "recupero",
    "восстановлен",
    "резервн",
    "リカバリ",
    "バックアップ",
    "恢复",
    "备用",
    "復原",
    "pemulihan",
    "obnovení",
    "záložní",
    "gendannelse",
    "taastamise",
    "atgūšanas",
    "herstelcode",
    "gjenoppretting",
    "reservekode",
    "reserve-kode",
    "odzyskiwani",
    "zapasow",
    "código reserva",
    "códigos reserva",
    "de recuperare",
    "de rezervă",
    "опоравак",
    "rezervni",
    "palautuskoodi",
    "varatunnus",
    "återställningskod",
    "förinställda engångskoder",
    "phục hồi",
    "dự phòng",
    "kurtarma",
    "ανάκτησ",
    "εφεδρικ",
    "възстановяване",
    "احتياطي",
    "إحتياطي",
    "สำรอง",
    "복구",
];

/// Around the field: the prompt asks for a recovery (backup) code. A
/// prompt-level veto for TOTP fills like [`PROMPT_VETO`], unless the prompt
/// offers an app code as well.
pub const RECOVERY_PROMPT: &[&str] = &[
    "recovery code",
    "backup code",
    "backup token",
    "wiederherstellungscode",
    "ersatz-code",
    "code de récupération",
    "jeton de secours",
    "jetons de secours",
    "código de recuperación",
    "código de respaldo",
    "códigos de respaldo",
    "código de recuperação",
    "código reserva",
    "códigos reserva",
    "codice di recupero",
    "token di backup",
    "kod zapasowy",
    "kod odzyskiwania",
    "zapasowy token",
    "zapasowe tokeny",
    "herstelcode",
    "backuptoken",
    "резервный код",
    "резервные токен",
    "резервный токен",
    "код восстановления",
    "リカバリーコード",
    "バックアップコード",
    "バックアップトークン",
    "恢复码",
    "恢复代码",
    "备用码",
    "备用验证码",
    "復原代碼",
    "εφεδρικ",
    "κωδικός ανάκτησης",
    "kode pemulihan",
    "kód pro obnovení",
    "záložní token",
    "gendannelseskode",
    "backupkode",
    "taastamise kood",
    "atgūšanas kod",
    "gjenopprettingskode",
    "reservekode",
    "reserve-kode",
    "cod de recuperare",
    "coduri de rezervă",
    "codul de rezervă",
    "шифра за опоравак",
    "резервни токен",
    "rezervni token",
    "palautuskoodi",
    "varatunnus",
    "återställningskod",
    "förinställd engångskod",
    "mã phục hồi",
    "token dự phòng",
    "kurtarma kod",
    "код за възстановяване",
    "رمز تفويض إحتياطي",
    "رموز تفويض إحتياطية",
    "رموز المصادقة الاحتياطية",
    "รหัสสำรอง",
    "복구 코드",
];

/// "Or", between a one-time code and a recovery code the same field takes.
pub const OR: &[&str] = &[
    "^or",
    "^oder",
    "^ou",
    "^o",
    "^of",
    "^eller",
    "^tai",
    "^või",
    "^vai",
    "^arba",
    "^lub",
    "^nebo",
    "^sau",
    "^ili",
    "^atau",
    "^hoặc",
    "^veya",
    "^ya da",
    "^ή",
    "^или",
    "または",
    "或",
    "또는",
    "أو",
    "หรือ",
    "/",
];

/// Around the field: the code is not a one-time code we may fill.
pub const PROMPT_VETO: &[&str] = &[
    // device activation / pairing
    "on your tv",
    "on your device",
    "activate your device",
    "activate a device",
    "device code",
    "^pair",
    "pairing",
    "smart tv",
    "on the tv",
    "your console",
    "shown on your device",
    "displayed on your device",
    // KC `verifyOAuth2DeviceUserCode`: "Enter the code provided by your device"
    "provided by your device",
    "code provided by your",
    "ระบุรหัสที่ได้รับจากอุปกรณ์ของคุณ",
    "الرمز الظاهر على جهازك",
    // OAuth / authorization codes pasted into a form
    "authorization code",
    "authorisation code",
    "paste the code",
    "paste this code",
    "paste the authorization",
    "copy the code from the",
    "redirect uri",
    "client id",
    // captcha
    "captcha",
    "characters shown",
    "characters in the image",
    "not a robot",
    "enter the characters",
    "type the text",
    "type the characters",
    // payment
    "card number",
    "expiry",
    "expiration",
    "mm/yy",
    "cardholder",
    "credit card",
    "debit card",
    "kartennummer",
    "numéro de carte",
    "número de tarjeta",
    "номер карты",
    // static PINs
    "your pin",
    "digit pin",
    "enter pin",
    // coupons, gift cards, invitations
    "coupon",
    "promo code",
    "gift card",
    "gift code",
    "giftcard",
    "voucher",
    "discount code",
    "redeem",
    "invitation code",
    "invite code",
    "referral code",
    "you've been invited",
    "you have been invited",
    "join the team",
    "join the workspace",
    "gutscheincode",
    "einlösen",
    "einladungscode",
    "code cadeau",
    "carte cadeau",
    "code promo",
    "code d'invitation",
    "tarjeta regalo",
    "código promocional",
    "código de invitación",
    "cartão presente",
    "vale-presente",
    "código de convite",
    "buono regalo",
    "codice promozionale",
    "codice invito",
    "karta podarunkowa",
    "kod rabatowy",
    "kod promocyjny",
    "cadeaubon",
    "cadeaukaart",
    "kortingscode",
    "uitnodigingscode",
    "подарочн",
    "промокод",
    "код приглашения",
    "ギフトカード",
    "ギフトコード",
    "クーポン",
    "招待コード",
    "礼品卡",
    "兑换码",
    "优惠券",
    "邀请码",
    "禮品卡",
    "兌換碼",
    "邀請碼",
    "기프트 카드",
    "쿠폰",
    "초대 코드",
    "kode voucher",
    "kode promo",
    "hediye kart",
    "davet kod",
    "δωροκάρτα",
    "بطاقة هدية",
    "رمز الدعوة",
    "บัตรของขวัญ",
    "passcode you created",
    "you created when",
    "图片中的验证码",
    "图形验证码",
    "看不清",
    "换一张",
    "画像の文字",
    "문자를 입력",
    "back of your card",
    "your card",
    "the card you",
    "card ending",
];

/// Around the field: a "remember this device" choice, which sign-in code
/// steps offer (weak evidence: BW's `rememberMe` sits on its two-step page,
/// but plain login forms say "remember me" too).
pub const REMEMBER_DEVICE: &[&str] = &[
    // Common phrasing of the checkbox (general vocabulary, not from a file)
    "remember this device",
    "remember this browser",
    "remember this computer",
    "trust this device",
    "trust this browser",
    "don't ask again",
    "dieses gerät merken",
    "diesem gerät vertrauen",
    "se souvenir de cet appareil",
    "faire confiance à cet appareil",
    "recordar este dispositivo",
    "confiar en este dispositivo",
    "lembrar deste dispositivo",
    "ricorda questo dispositivo",
    "dit apparaat onthouden",
    "zapamiętaj to urządzenie",
    "запомнить это устройство",
    "このデバイスを記憶",
    "记住此设备",
    "記住此裝置",
    "이 기기 기억",
    // BW `rememberMe` on the two-step page
    "ingat saya",
    "pamatuj si mě",
    "husk mig",
    "jäta mind meelde",
    "atcerēties mani",
    "mijn gegevens onthouden",
    "husk på meg",
    "zapamiętaj mnie",
    "lembrar de mim",
    "memorizar-me",
    "memorare autentificare",
    "запамти ме",
    "muista minut",
    "kom ihåg mig",
    "ghi nhớ đăng nhập",
    "beni hatırla",
    "να με θυμάσαι",
    "запомнить меня",
    "情報を保存する",
    "记住我",
    "記住我",
    "기억하기",
    // KC `rememberMe`
    "تذكرني",
    "จดจำฉันไว้",
];
