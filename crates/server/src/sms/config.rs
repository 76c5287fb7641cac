//! `[sms]` in server.toml: where providers reach the server, how long
//! messages are kept, the per-source limit, and each provider's secret.
//! Written by hand, like `[siem]` and `[sso]`; a provider without its
//! table gets 404 (nothing is believed from it).
//!
//! ```toml
//! [sms]
//! public_url = "https://sms.example.com"   # as entered in the provider's console
//! retention_hours = 168
//! webhooks_per_minute = 120                # per source address
//!
//! [sms.twilio]
//! auth_token = "…"
//!
//! [sms.vonage]
//! signature_secret = "…"
//! method = "sha256"                        # md5hash, md5, sha1, sha256, sha512
//!
//! [sms.android_sms_gateway]
//! signing_key = "…"
//! own_number = "+4915112345678"            # when the app cannot read the SIM's number
//!
//! [sms.sms_forwarder]                      # its signature does not cover the text:
//! secret = "…"                             # refused unless allow_unsigned_body = true
//! own_number = "+4915112345678"
//! allow_unsigned_body = false
//! ```

use anyhow::{Result, bail};
use serde::Deserialize;
use twofill_sms::android_gateway::GatewayConfig;
use twofill_sms::sms_forwarder::ForwarderConfig;
use twofill_sms::vonage::{SignatureMethod, VonageConfig};
use twofill_sms::{E164, Provider};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// The scheme, host and port providers post to, exactly as configured
    /// at the provider (Twilio signs the URL it was given).
    pub public_url: Option<String>,
    pub retention_hours: u64,
    /// Webhooks accepted per source address per minute; 0 is no limit.
    pub webhooks_per_minute: u32,
    pub twilio: Option<TwilioSection>,
    pub vonage: Option<VonageSection>,
    pub android_sms_gateway: Option<GatewaySection>,
    pub sms_forwarder: Option<ForwarderSection>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            public_url: None,
            retention_hours: (twofill_vault::DEFAULT_SMS_RETENTION_MS / 3_600_000) as u64,
            webhooks_per_minute: 120,
            twilio: None,
            vonage: None,
            android_sms_gateway: None,
            sms_forwarder: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSection {
    pub auth_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VonageSection {
    pub signature_secret: String,
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySection {
    pub signing_key: String,
    pub own_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwarderSection {
    pub secret: String,
    pub own_number: String,
    #[serde(default)]
    pub allow_unsigned_body: bool,
}

/// `[sms]` checked and turned into the intake's configurations.
#[derive(Debug, Clone)]
pub struct Providers {
    pub public_url: Option<String>,
    pub retention_ms: i64,
    pub webhooks_per_minute: u32,
    pub twilio: Option<String>,
    pub vonage: Option<VonageConfig>,
    pub gateway: Option<GatewayConfig>,
    pub forwarder: Option<ForwarderConfig>,
}

impl Providers {
    /// Whether `provider` has its table (and so a secret).
    pub fn configured(&self, provider: Provider) -> bool {
        match provider {
            Provider::Twilio => self.twilio.is_some(),
            Provider::Vonage => self.vonage.is_some(),
            Provider::AndroidSmsGateway => self.gateway.is_some(),
            Provider::SmsForwarder => self.forwarder.is_some(),
        }
    }
}

fn number(what: &str, raw: &str) -> Result<E164> {
    E164::parse(raw).map_err(|e| anyhow::anyhow!("[sms.{what}] own_number: {e}"))
}

fn secret(what: &str, value: &str) -> Result<()> {
    if value.trim().len() < 8 {
        bail!(
            "[sms.{what}] has an empty or short secret; copy it from the provider's console or app"
        );
    }
    Ok(())
}

impl SmsConfig {
    pub fn check(&self) -> Result<Providers> {
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://127.0.0.1"))
        {
            bail!("[sms] public_url `{url}` must be https:// (providers post there)");
        }
        if self.twilio.is_some() && self.public_url.is_none() {
            bail!(
                "[sms.twilio] needs [sms] public_url: Twilio signs the URL it posts to, e.g. public_url = \"https://sms.example.com\""
            );
        }
        if self.retention_hours == 0 {
            bail!("[sms] retention_hours must be at least 1 (the default is 168, 7 days)");
        }
        let twilio = match &self.twilio {
            Some(t) => {
                secret("twilio", &t.auth_token)?;
                Some(t.auth_token.clone())
            }
            None => None,
        };
        let vonage = match &self.vonage {
            Some(v) => {
                secret("vonage", &v.signature_secret)?;
                let Some(method) = SignatureMethod::parse(&v.method) else {
                    bail!(
                        "[sms.vonage] method `{}` is not one of md5hash, md5, sha1, sha256, sha512",
                        v.method
                    );
                };
                Some(VonageConfig::new(v.signature_secret.clone(), method))
            }
            None => None,
        };
        let gateway = match &self.android_sms_gateway {
            Some(g) => {
                secret("android_sms_gateway", &g.signing_key)?;
                let mut config = GatewayConfig::new(g.signing_key.clone());
                config.own_number = g
                    .own_number
                    .as_deref()
                    .map(|n| number("android_sms_gateway", n))
                    .transpose()?;
                Some(config)
            }
            None => None,
        };
        let forwarder = match &self.sms_forwarder {
            Some(f) => {
                secret("sms_forwarder", &f.secret)?;
                let mut config =
                    ForwarderConfig::new(f.secret.clone(), number("sms_forwarder", &f.own_number)?);
                config.allow_unsigned_body = f.allow_unsigned_body;
                Some(config)
            }
            None => None,
        };
        Ok(Providers {
            public_url: self.public_url.clone(),
            retention_ms: self.retention_hours as i64 * 3_600_000,
            webhooks_per_minute: self.webhooks_per_minute,
            twilio,
            vonage,
            gateway,
            forwarder,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Providers> {
        toml::from_str::<SmsConfig>(text)?.check()
    }

    #[test]
    fn each_mistake_is_named_with_what_to_write() {
        let e = read("[twilio]\nauth_token = \"0123456789\"").unwrap_err();
        assert!(e.to_string().contains("needs [sms] public_url"), "{e}");
        let e = read("[vonage]\nsignature_secret = \"0123456789\"\nmethod = \"sha3\"").unwrap_err();
        assert!(
            e.to_string().contains("md5hash, md5, sha1, sha256, sha512"),
            "{e}"
        );
        let e = read("[android_sms_gateway]\nsigning_key = \"\"").unwrap_err();
        assert!(e.to_string().contains("short secret"), "{e}");
        let e = read("public_url = \"http://sms.example.com\"").unwrap_err();
        assert!(e.to_string().contains("must be https://"), "{e}");
        assert!(toml::from_str::<SmsConfig>("twilio_token = \"x\"").is_err());
    }

    #[test]
    fn the_defaults_keep_a_week_and_configure_no_provider() {
        let p = read("").unwrap();
        assert_eq!(p.retention_ms, 7 * 24 * 3_600_000);
        assert!(
            Provider::ALL
                .iter()
                .all(|&provider| !p.configured(provider))
        );
    }
}
