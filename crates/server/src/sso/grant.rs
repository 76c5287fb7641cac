//! Calls to the provider's token and device authorization endpoints: the
//! authorization code (with the laptop's PKCE verifier), the refresh token
//! and the device code, with the client's secret when it has one. The
//! answers' tokens are handed on unread; `jwt` validates the ID token.

use base64::Engine as _;
use serde_json::Value;

use super::Sso;
use super::provider::{ProviderError, read};

/// What the token endpoint gave.
#[derive(Debug)]
pub struct TokenAnswer {
    pub id_token: String,
    pub refresh_token: Option<String>,
}

/// RFC 8628 §3.2, as the provider answered.
#[derive(Debug)]
pub struct DeviceAnswer {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub interval_s: u64,
    pub expires_in_s: u64,
}

#[derive(Debug)]
pub enum GrantError {
    /// Device flow: not approved yet.
    Pending,
    /// Device flow: poll slower.
    SlowDown,
    /// The provider said no (`reason`: its OAuth error code, e.g. `invalid_grant`).
    Refused { reason: String, detail: String },
    /// The provider could not be used at all.
    Provider(ProviderError),
}

impl From<ProviderError> for GrantError {
    fn from(e: ProviderError) -> Self {
        GrantError::Provider(e)
    }
}

impl Sso {
    pub fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenAnswer, GrantError> {
        let url = self.provider.endpoints()?.token;
        let answer = self.post(
            &url,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", code_verifier),
                ("redirect_uri", redirect_uri),
            ],
        )?;
        tokens(&answer)
    }

    pub fn refresh(&self, refresh_token: &str) -> Result<TokenAnswer, GrantError> {
        let url = self.provider.endpoints()?.token;
        let answer = self.post(
            &url,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )?;
        tokens(&answer)
    }

    pub fn device_start(&self) -> Result<DeviceAnswer, GrantError> {
        let Some(url) = self.provider.endpoints()?.device_authorization else {
            return Err(GrantError::Refused {
                reason: "no_device_flow".into(),
                detail: "the identity provider offers no device sign-in; run `twofill-host login` without --device on a machine with a browser".into(),
            });
        };
        let scope = self.config.scopes.join(" ");
        let a = self.post(&url, &[("scope", &scope)])?;
        let text = |name: &str| a.get(name).and_then(Value::as_str).map(str::to_owned);
        let missing = || GrantError::Provider(ProviderError(format!("{url} gave no device_code")));
        Ok(DeviceAnswer {
            device_code: text("device_code").ok_or_else(missing)?,
            user_code: text("user_code").ok_or_else(missing)?,
            verification_uri: text("verification_uri").ok_or_else(missing)?,
            verification_uri_complete: text("verification_uri_complete"),
            interval_s: a.get("interval").and_then(Value::as_u64).unwrap_or(5),
            expires_in_s: a.get("expires_in").and_then(Value::as_u64).unwrap_or(600),
        })
    }

    pub fn device_poll(&self, device_code: &str) -> Result<TokenAnswer, GrantError> {
        let url = self.provider.endpoints()?.token;
        let answer = self.post(
            &url,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
            ],
        )?;
        tokens(&answer)
    }

    /// A form POST with the client's authentication; a JSON object back,
    /// or the provider's OAuth error.
    fn post(&self, url: &str, fields: &[(&str, &str)]) -> Result<Value, GrantError> {
        let secret = self.config.client_secret();
        let client_id = self.config.client_id.as_str();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let mut request = self.provider.agent().post(url);
        match &secret {
            Some(secret) if self.config.token_auth == "basic" => {
                // RFC 6749 §2.3.1: both parts form-urlencoded first.
                let pair = format!("{}:{}", form_encode(client_id), form_encode(secret));
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                request = request.header("Authorization", format!("Basic {basic}"));
                form.push(("client_id", client_id));
            }
            Some(secret) => {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret));
            }
            None => form.push(("client_id", client_id)),
        }
        let mut reply = request
            .header("Accept", "application/json")
            .send_form(form)
            .map_err(|e| ProviderError(format!("cannot reach {url}: {e}")))?;
        let status = reply.status().as_u16();
        let body = read(&mut reply, url)?;
        let json: Value = serde_json::from_slice(&body).map_err(|_| {
            ProviderError(format!("{url} answered HTTP {status} without a JSON body"))
        })?;
        if status == 200 {
            return Ok(json);
        }
        let code = json.get("error").and_then(Value::as_str).unwrap_or("");
        Err(match code {
            "authorization_pending" => GrantError::Pending,
            "slow_down" => GrantError::SlowDown,
            "" => GrantError::Provider(ProviderError(format!("{url} answered HTTP {status}"))),
            code => GrantError::Refused {
                reason: format!("provider_{}", safe_word(code)),
                detail: format!(
                    "the identity provider refused ({}){}",
                    safe_word(code),
                    match code {
                        "invalid_grant" =>
                            "; the sign-in expired, was used already, or the account was disabled: sign in again with `twofill-host login`",
                        "access_denied" => "; the sign-in was declined",
                        "expired_token" =>
                            "; the device code expired: start `twofill-host login --device` again",
                        _ => "",
                    }
                ),
            },
        })
    }
}

fn tokens(answer: &Value) -> Result<TokenAnswer, GrantError> {
    let text = |name: &str| answer.get(name).and_then(Value::as_str).map(str::to_owned);
    let Some(id_token) = text("id_token") else {
        return Err(GrantError::Refused {
            reason: "missing_id_token".into(),
            detail: "the identity provider gave no ID token; the `openid` scope must be granted to twofill".into(),
        });
    };
    Ok(TokenAnswer {
        id_token,
        refresh_token: text("refresh_token"),
    })
}

/// An OAuth error code as it may be echoed: short, plain ASCII.
fn safe_word(code: &str) -> String {
    code.chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
