//! The invite an admin hands a teammate: one string carrying a one-time
//! secret and the pin of the server's CA.
//!
//! `tf1.<secret>.<pin>`, both parts unpadded base64url: the secret is what
//! the server checks (it keeps only a hash), the pin is the SHA-256 of the
//! CA certificate's DER, so that `join` trusts the right server before any
//! secret is sent (as `kubeadm join --discovery-token-ca-cert-hash` does).

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};

const PREFIX: &str = "tf1";

/// Bytes of randomness in an invite's secret (128 bits).
pub const INVITE_SECRET_BYTES: usize = 16;

#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    pub secret: [u8; INVITE_SECRET_BYTES],
    pub ca_pin: [u8; 32],
}

/// The pin of a CA: SHA-256 of its certificate's DER.
pub fn ca_pin(ca_der: &[u8]) -> [u8; 32] {
    Sha256::digest(ca_der).into()
}

impl Invite {
    /// The secret as sent in [`crate::JoinRequest::invite`].
    pub fn secret_text(&self) -> String {
        BASE64URL_NOPAD.encode(&self.secret)
    }

    /// Decodes [`Invite::secret_text`].
    pub fn parse_secret(text: &str) -> Result<[u8; INVITE_SECRET_BYTES], InviteError> {
        decode_exact(text.trim())
    }
}

// The secret must never reach a log through `{:?}`.
impl fmt::Debug for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invite")
            .field("secret", &"<redacted>")
            .field("ca_pin", &BASE64URL_NOPAD.encode(&self.ca_pin))
            .finish()
    }
}

impl fmt::Display for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}.{}.{}",
            self.secret_text(),
            BASE64URL_NOPAD.encode(&self.ca_pin)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteError;

impl fmt::Display for InviteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "this is not a twofill invite (it looks like tf1.XXXX.YYYY); \
             copy the whole invite your admin sent, or ask for a new one",
        )
    }
}

impl std::error::Error for InviteError {}

impl FromStr for Invite {
    type Err = InviteError;

    fn from_str(text: &str) -> Result<Invite, InviteError> {
        let mut parts = text.trim().split('.');
        let (Some(PREFIX), Some(secret), Some(pin), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InviteError);
        };
        Ok(Invite {
            secret: decode_exact(secret)?,
            ca_pin: decode_exact(pin)?,
        })
    }
}

fn decode_exact<const N: usize>(text: &str) -> Result<[u8; N], InviteError> {
    let bytes = BASE64URL_NOPAD
        .decode(text.as_bytes())
        .map_err(|_| InviteError)?;
    bytes.try_into().map_err(|_| InviteError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_round_trips_and_hides_its_secret_from_debug() {
        let invite = Invite {
            secret: [7; INVITE_SECRET_BYTES],
            ca_pin: ca_pin(b"not really a certificate"),
        };
        let text = invite.to_string();
        assert!(text.starts_with("tf1."), "{text}");
        assert_eq!(text.parse::<Invite>().unwrap(), invite);
        assert_eq!(
            Invite::parse_secret(&invite.secret_text()).unwrap(),
            invite.secret
        );
        assert!(!format!("{invite:?}").contains(&invite.secret_text()));
    }

    #[test]
    fn anything_else_is_refused_with_what_to_do() {
        let good = Invite {
            secret: [1; INVITE_SECRET_BYTES],
            ca_pin: [2; 32],
        }
        .to_string();
        let truncated = &good[..good.len() - 1];
        for bad in [
            "",
            "tf1",
            "tf2.AQEBAQEBAQEBAQEBAQEBAQ.AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI",
            truncated,
            &format!("{good}.extra"),
            "tf1.!!!.???",
        ] {
            let err = bad.parse::<Invite>().unwrap_err();
            assert!(err.to_string().contains("ask for a new one"), "{bad}");
        }
    }
}
