use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownWord;

/// How a token's codes advance: the `otpauth://` type, the vault's `kind`
/// column and the `kind` of a token on the wire to the extension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// RFC 6238: a new code every period. Absent on the wire means this.
    #[default]
    Totp,
    /// RFC 4226: a new code each time one is asked for (a counter).
    Hotp,
    /// Steam Guard: time-based like TOTP, in Steam's own alphabet.
    Steam,
}

impl TokenKind {
    pub const ALL: [TokenKind; 3] = [TokenKind::Totp, TokenKind::Hotp, TokenKind::Steam];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Totp => "totp",
            TokenKind::Hotp => "hotp",
            TokenKind::Steam => "steam",
        }
    }

    /// Whether a code is issued by advancing a counter rather than by the clock.
    pub fn is_counter_based(self) -> bool {
        self == TokenKind::Hotp
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenKind {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        TokenKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownWord {
                kind: "token kind",
                word: s.to_owned(),
                expected: &["totp", "hotp", "steam"],
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_serde_and_parse_agree() {
        for k in TokenKind::ALL {
            assert_eq!(k.as_str().parse::<TokenKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
            let back: TokenKind = serde_json::from_str(&format!("\"{k}\"")).unwrap();
            assert_eq!(back, k);
        }
        assert_eq!(TokenKind::default(), TokenKind::Totp);
        assert!(TokenKind::Hotp.is_counter_based());
        assert!(!TokenKind::Totp.is_counter_based() && !TokenKind::Steam.is_counter_based());
        assert_eq!(
            "HOTP".parse::<TokenKind>().unwrap_err().to_string(),
            "unknown token kind `HOTP`; use `totp` or `hotp` or `steam`"
        );
    }
}
