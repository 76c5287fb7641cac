//! ID token validation: a compact JWS checked against the provider's key
//! set (signature, with the algorithm on an allow-list and the key's type
//! matching it), then its claims (issuer, audience and `azp`, expiry and
//! not-before with a small leeway, nonce). Signatures are verified with
//! `ring`; nothing here trusts the token's header beyond choosing a key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use serde_json::Value;

use super::config::ClaimNames;

/// Why a token was refused: the word that goes on record (`sso.refused`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenProblem {
    Malformed,
    AlgNotAllowed,
    UnknownKey,
    KeyTypeMismatch,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    Expired,
    NotYetValid,
    NonceMismatch,
    MissingClaim(String),
}

impl TokenProblem {
    pub fn reason(&self) -> &'static str {
        match self {
            TokenProblem::Malformed => "malformed",
            TokenProblem::AlgNotAllowed => "alg_not_allowed",
            TokenProblem::UnknownKey => "unknown_key",
            TokenProblem::KeyTypeMismatch => "key_type_mismatch",
            TokenProblem::BadSignature => "bad_signature",
            TokenProblem::WrongIssuer => "wrong_issuer",
            TokenProblem::WrongAudience => "wrong_audience",
            TokenProblem::Expired => "expired",
            TokenProblem::NotYetValid => "not_yet_valid",
            TokenProblem::NonceMismatch => "nonce_mismatch",
            TokenProblem::MissingClaim(_) => "missing_claim",
        }
    }

    /// For people: what was wrong, never the token's contents.
    pub fn detail(&self) -> String {
        match self {
            TokenProblem::Malformed => "the ID token is not a well-formed signed JWT".into(),
            TokenProblem::AlgNotAllowed => {
                "the ID token's signing algorithm is not on the server's allow-list".into()
            }
            TokenProblem::UnknownKey => {
                "the ID token was signed with a key the identity provider does not publish".into()
            }
            TokenProblem::KeyTypeMismatch => {
                "the ID token's algorithm does not fit the type of the key it names".into()
            }
            TokenProblem::BadSignature => "the ID token's signature does not verify".into(),
            TokenProblem::WrongIssuer => "the ID token is from another issuer".into(),
            TokenProblem::WrongAudience => "the ID token was issued for another client".into(),
            TokenProblem::Expired => "the ID token has expired".into(),
            TokenProblem::NotYetValid => "the ID token is not valid yet (check clocks)".into(),
            TokenProblem::NonceMismatch => {
                "the ID token's nonce is not the one this sign-in sent".into()
            }
            TokenProblem::MissingClaim(c) => format!("the ID token has no usable `{c}` claim"),
        }
    }
}

/// A signing key from the provider's JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub key: KeyMaterial,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed point (0x04 ‖ x ‖ y) on P-256 or P-384.
    Ec {
        curve: String,
        point: Vec<u8>,
    },
}

/// The signing keys of a JWKS document; other keys (encryption, unknown
/// types) are left out.
pub fn parse_jwks(json: &[u8]) -> Option<Vec<Jwk>> {
    let doc: Value = serde_json::from_slice(json).ok()?;
    let keys = doc.get("keys")?.as_array()?;
    Some(
        keys.iter()
            .filter(|k| k.get("use").and_then(Value::as_str).unwrap_or("sig") == "sig")
            .filter_map(|k| {
                let field = |name: &str| k.get(name).and_then(Value::as_str);
                let bytes = |name: &str| field(name).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
                let key = match field("kty")? {
                    "RSA" => KeyMaterial::Rsa {
                        n: strip_zeros(bytes("n")?),
                        e: strip_zeros(bytes("e")?),
                    },
                    "EC" => {
                        let curve = field("crv")?.to_owned();
                        let (x, y) = (bytes("x")?, bytes("y")?);
                        let size = match curve.as_str() {
                            "P-256" => 32,
                            "P-384" => 48,
                            _ => return None,
                        };
                        if x.len() != size || y.len() != size {
                            return None;
                        }
                        let mut point = vec![4];
                        point.extend(x);
                        point.extend(y);
                        KeyMaterial::Ec { curve, point }
                    }
                    _ => return None,
                };
                Some(Jwk {
                    kid: field("kid").map(str::to_owned),
                    alg: field("alg").map(str::to_owned),
                    key,
                })
            })
            .collect(),
    )
}

fn strip_zeros(mut b: Vec<u8>) -> Vec<u8> {
    let zeros = b.iter().take_while(|&&x| x == 0).count();
    b.drain(..zeros.min(b.len().saturating_sub(1)));
    b
}

/// What the token must say.
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub algorithms: &'a [String],
    /// The sign-in's nonce; `None` for a refresh (its ID token need not carry one).
    pub nonce: Option<&'a str>,
    pub leeway_s: i64,
    pub now_s: i64,
    pub claims: &'a ClaimNames,
}

/// A validated ID token's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub subject: String,
    pub email: String,
    pub groups: Vec<String>,
    /// When the user authenticated at the provider (seconds).
    pub auth_time_s: Option<i64>,
}

/// A token split into its parts, header read.
pub struct Parsed<'t> {
    pub alg: String,
    pub kid: Option<String>,
    signing_input: &'t str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

pub fn parse(token: &str) -> Result<Parsed<'_>, TokenProblem> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenProblem::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| TokenProblem::Malformed)
    };
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| TokenProblem::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenProblem::Malformed)?
        .to_owned();
    // A critical extension we do not implement must not be ignored.
    if header.get("crit").is_some() {
        return Err(TokenProblem::Malformed);
    }
    Ok(Parsed {
        alg,
        kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
        signing_input: &token[..h.len() + 1 + p.len()],
        payload: decode(p)?,
        signature: decode(s)?,
    })
}

/// The verification algorithm for `alg`, and the key type it needs.
fn verifier(alg: &str) -> Option<(&'static dyn VerificationAlgorithm, &'static str)> {
    Some(match alg {
        "RS256" => (&signature::RSA_PKCS1_2048_8192_SHA256, "RSA"),
        "RS384" => (&signature::RSA_PKCS1_2048_8192_SHA384, "RSA"),
        "RS512" => (&signature::RSA_PKCS1_2048_8192_SHA512, "RSA"),
        "PS256" => (&signature::RSA_PSS_2048_8192_SHA256, "RSA"),
        "PS384" => (&signature::RSA_PSS_2048_8192_SHA384, "RSA"),
        "PS512" => (&signature::RSA_PSS_2048_8192_SHA512, "RSA"),
        "ES256" => (&signature::ECDSA_P256_SHA256_FIXED, "P-256"),
        "ES384" => (&signature::ECDSA_P384_SHA384_FIXED, "P-384"),
        _ => return None,
    })
}

impl Parsed<'_> {
    /// The key this token names among `keys` (by `kid`; without one, the
    /// only key of the right type), `None` when there is none.
    pub fn find_key<'k>(&self, keys: &'k [Jwk]) -> Option<&'k Jwk> {
        match &self.kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let kind = verifier(&self.alg)?.1;
                let mut fit = keys.iter().filter(|k| key_kind(&k.key) == kind);
                match (fit.next(), fit.next()) {
                    (Some(k), None) => Some(k),
                    _ => None,
                }
            }
        }
    }

    /// The algorithm is allowed (never `none` or HMAC, whatever the list says).
    pub fn check_alg(&self, allowed: &[String]) -> Result<(), TokenProblem> {
        if verifier(&self.alg).is_none() || !allowed.contains(&self.alg) {
            return Err(TokenProblem::AlgNotAllowed);
        }
        Ok(())
    }

    /// Checks the signature with `key`, then the claims.
    pub fn validate(&self, key: &Jwk, expect: &Expect<'_>) -> Result<Verified, TokenProblem> {
        self.check_alg(expect.algorithms)?;
        let (algorithm, kind) = verifier(&self.alg).ok_or(TokenProblem::AlgNotAllowed)?;
        if key_kind(&key.key) != kind || key.alg.as_deref().is_some_and(|a| a != self.alg) {
            return Err(TokenProblem::KeyTypeMismatch);
        }
        let message = self.signing_input.as_bytes();
        let verified = match &key.key {
            KeyMaterial::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(rsa_params(&self.alg), message, &self.signature)
                .is_ok(),
            KeyMaterial::Ec { point, .. } => UnparsedPublicKey::new(algorithm, point)
                .verify(message, &self.signature)
                .is_ok(),
        };
        if !verified {
            return Err(TokenProblem::BadSignature);
        }
        check_claims(&self.payload, expect)
    }
}

fn rsa_params(alg: &str) -> &'static signature::RsaParameters {
    match alg {
        "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
        "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
        _ => &signature::RSA_PKCS1_2048_8192_SHA256,
    }
}

fn key_kind(key: &KeyMaterial) -> &str {
    match key {
        KeyMaterial::Rsa { .. } => "RSA",
        KeyMaterial::Ec { curve, .. } => curve,
    }
}

fn check_claims(payload: &[u8], expect: &Expect<'_>) -> Result<Verified, TokenProblem> {
    let claims: Value = serde_json::from_slice(payload).map_err(|_| TokenProblem::Malformed)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    if text("iss") != Some(expect.issuer) {
        return Err(TokenProblem::WrongIssuer);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expect.client_id) {
        return Err(TokenProblem::WrongAudience);
    }
    // Several audiences: the token must say it was issued to us.
    let azp = text("azp");
    if (audiences.len() > 1 && azp.is_none()) || azp.is_some_and(|a| a != expect.client_id) {
        return Err(TokenProblem::WrongAudience);
    }
    let exp = number("exp").ok_or_else(|| TokenProblem::MissingClaim("exp".into()))?;
    if expect.now_s > exp.saturating_add(expect.leeway_s) {
        return Err(TokenProblem::Expired);
    }
    for early in ["nbf", "iat"] {
        if number(early).is_some_and(|t| t > expect.now_s.saturating_add(expect.leeway_s)) {
            return Err(TokenProblem::NotYetValid);
        }
    }
    if let Some(nonce) = expect.nonce
        && text("nonce") != Some(nonce)
    {
        return Err(TokenProblem::NonceMismatch);
    }
    let names = expect.claims;
    let subject = text(&names.subject)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TokenProblem::MissingClaim(names.subject.clone()))?;
    let email = text(&names.email)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TokenProblem::MissingClaim(names.email.clone()))?;
    let groups = match claims.get(&names.groups) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|g| g.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| TokenProblem::MissingClaim(names.groups.clone()))?,
        Some(_) => return Err(TokenProblem::MissingClaim(names.groups.clone())),
    };
    Ok(Verified {
        subject: subject.to_owned(),
        email: email.to_lowercase(),
        groups,
        auth_time_s: number("auth_time"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};
    use serde_json::json;

    const ISSUER: &str = "https://idp.example";
    const NOW: i64 = 1_800_000_000;

    fn b64(v: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    struct Signer {
        ec: EcdsaKeyPair,
        rsa: RsaKeyPair,
    }

    impl Signer {
        fn new() -> Signer {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            Signer {
                ec: EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8.as_ref(),
                    &rng,
                )
                .unwrap(),
                rsa: RsaKeyPair::from_der(include_bytes!("testdata/rsa2048.der")).unwrap(),
            }
        }

        fn jwks(&self) -> Vec<Jwk> {
            let point = self.ec.public_key().as_ref().to_vec();
            let public: RsaPublicKeyComponents<Vec<u8>> = self.rsa.public().into();
            let doc = json!({"keys": [
                {"kty": "EC", "crv": "P-256", "kid": "ec1", "use": "sig",
                 "x": b64(&point[1..33]), "y": b64(&point[33..])},
                {"kty": "RSA", "kid": "rsa1", "alg": "RS256",
                 "n": b64(&public.n), "e": b64(&public.e)},
                {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            ]});
            parse_jwks(doc.to_string().as_bytes()).unwrap()
        }

        fn token(&self, header: Value, claims: Value) -> String {
            let input = format!(
                "{}.{}",
                b64(header.to_string().as_bytes()),
                b64(claims.to_string().as_bytes())
            );
            let rng = SystemRandom::new();
            let sig = match header["alg"].as_str().unwrap() {
                "ES256" => self
                    .ec
                    .sign(&rng, input.as_bytes())
                    .unwrap()
                    .as_ref()
                    .to_vec(),
                "RS256" => {
                    let mut sig = vec![0; self.rsa.public().modulus_len()];
                    self.rsa
                        .sign(
                            &signature::RSA_PKCS1_SHA256,
                            &rng,
                            input.as_bytes(),
                            &mut sig,
                        )
                        .unwrap();
                    sig
                }
                _ => Vec::new(),
            };
            format!("{input}.{}", b64(&sig))
        }
    }

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": "twofill", "sub": "s-1", "email": "Ana@Example.com",
               "exp": NOW + 300, "iat": NOW, "nonce": "n-1", "groups": ["ops"], "auth_time": NOW})
    }

    fn check(token: &str, keys: &[Jwk]) -> Result<Verified, TokenProblem> {
        let names = ClaimNames::default();
        let algorithms = ["RS256".to_string(), "ES256".to_string()];
        let expect = Expect {
            issuer: ISSUER,
            client_id: "twofill",
            algorithms: &algorithms,
            nonce: Some("n-1"),
            leeway_s: 60,
            now_s: NOW,
            claims: &names,
        };
        let parsed = parse(token)?;
        let key = parsed.find_key(keys).ok_or(TokenProblem::UnknownKey)?;
        parsed.validate(key, &expect)
    }

    #[test]
    fn good_tokens_of_both_key_types_verify() {
        let s = Signer::new();
        let keys = s.jwks();
        assert_eq!(keys.len(), 2, "the encryption key is left out");
        for (alg, kid) in [("ES256", "ec1"), ("RS256", "rsa1")] {
            let t = s.token(json!({"alg": alg, "kid": kid}), claims());
            let v = check(&t, &keys).unwrap();
            assert_eq!(v.subject, "s-1");
            assert_eq!(v.email, "ana@example.com");
            assert_eq!(v.groups, ["ops"]);
            assert_eq!(v.auth_time_s, Some(NOW));
        }
    }

    #[test]
    fn forged_and_wrong_tokens_are_refused_with_their_reason() {
        let s = Signer::new();
        let keys = s.jwks();
        let es = json!({"alg": "ES256", "kid": "ec1"});
        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            c
        };
        let cases = [
            (
                s.token(json!({"alg": "none", "kid": "ec1"}), claims()),
                TokenProblem::AlgNotAllowed,
            ),
            (
                s.token(json!({"alg": "ES256", "kid": "other"}), claims()),
                TokenProblem::UnknownKey,
            ),
            // RS256 claimed over the EC key.
            (
                s.token(json!({"alg": "RS256", "kid": "ec1"}), claims()),
                TokenProblem::KeyTypeMismatch,
            ),
            (
                s.token(es.clone(), with("aud", json!("someone-else"))),
                TokenProblem::WrongAudience,
            ),
            (
                s.token(es.clone(), with("aud", json!(["twofill", "other"]))),
                TokenProblem::WrongAudience,
            ),
            (
                s.token(es.clone(), with("iss", json!("https://evil.example"))),
                TokenProblem::WrongIssuer,
            ),
            (
                s.token(es.clone(), with("exp", json!(NOW - 61))),
                TokenProblem::Expired,
            ),
            (
                s.token(es.clone(), with("nbf", json!(NOW + 120))),
                TokenProblem::NotYetValid,
            ),
            (
                s.token(es.clone(), with("nonce", json!("n-2"))),
                TokenProblem::NonceMismatch,
            ),
        ];
        for (token, problem) in cases {
            assert_eq!(check(&token, &keys), Err(problem.clone()), "{problem:?}");
        }
        // HS256 "signed" with the provider's public key bytes.
        let header = b64(json!({"alg": "HS256", "kid": "ec1"}).to_string().as_bytes());
        let payload = b64(claims().to_string().as_bytes());
        let input = format!("{header}.{payload}");
        let KeyMaterial::Ec { point, .. } = &keys[0].key else {
            panic!()
        };
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, point),
            input.as_bytes(),
        );
        let hs = format!("{input}.{}", b64(mac.as_ref()));
        assert_eq!(check(&hs, &keys), Err(TokenProblem::AlgNotAllowed));
        // A payload changed after signing.
        let good = s.token(es.clone(), claims());
        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64(with("email", json!("admin@example.com"))
                .to_string()
                .as_bytes()),
            parts[2]
        );
        assert_eq!(check(&tampered, &keys), Err(TokenProblem::BadSignature));
        // A key of our own, named like the provider's.
        let mine = Signer::new();
        let forged = mine.token(es, claims());
        assert_eq!(check(&forged, &keys), Err(TokenProblem::BadSignature));
        assert_eq!(
            check("a.b", &keys).map(|_| ()),
            Err(TokenProblem::Malformed)
        );
    }
}
