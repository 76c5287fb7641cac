use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownWord;

/// What a group's members may do with a token: in the vault's grants, on
/// the wire to the extension, and in the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Access {
    /// Codes only: fill, copy, view. Never the seed.
    #[serde(rename = "code-only")]
    CodeOnly,
    /// Codes, and the seed itself (reveal, export, QR).
    #[serde(rename = "full-seed")]
    FullSeed,
}

impl Access {
    pub const ALL: [Access; 2] = [Access::CodeOnly, Access::FullSeed];

    pub fn as_str(self) -> &'static str {
        match self {
            Access::CodeOnly => "code-only",
            Access::FullSeed => "full-seed",
        }
    }

    /// Whether this level includes the seed itself.
    pub fn includes_seed(self) -> bool {
        self == Access::FullSeed
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Access {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        Access::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownWord {
                kind: "access level",
                word: s.to_owned(),
                expected: &["code-only", "full-seed"],
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_serde_and_parse_agree() {
        for a in Access::ALL {
            assert_eq!(a.as_str().parse::<Access>().unwrap(), a);
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
            let back: Access = serde_json::from_str(&format!("\"{a}\"")).unwrap();
            assert_eq!(back, a);
        }
        let e = "full".parse::<Access>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown access level `full`; use `code-only` or `full-seed`"
        );
    }
}

/// What a group's members may see of a shared SMS inbox: on the team
/// server's grants, on the wire and in the admin CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SmsAccess {
    /// The extracted one-time code only (fill, copy, view).
    #[serde(rename = "code-only")]
    CodeOnly,
    /// The code, and the message's sender and text.
    #[serde(rename = "full")]
    Full,
}

impl SmsAccess {
    pub const ALL: [SmsAccess; 2] = [SmsAccess::CodeOnly, SmsAccess::Full];
    const TEXTS: &'static [&'static str] = &["code-only", "full"];

    pub fn as_str(self) -> &'static str {
        match self {
            SmsAccess::CodeOnly => Self::TEXTS[0],
            SmsAccess::Full => Self::TEXTS[1],
        }
    }

    /// Whether this level includes the sender and the text.
    pub fn includes_text(self) -> bool {
        self == SmsAccess::Full
    }
}

impl fmt::Display for SmsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SmsAccess {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        SmsAccess::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownWord {
                kind: "SMS inbox access level",
                word: s.to_owned(),
                expected: SmsAccess::TEXTS,
            })
    }
}

#[cfg(test)]
mod sms_tests {
    use super::*;

    #[test]
    fn sms_levels_round_trip_and_refuse_the_token_words() {
        for a in SmsAccess::ALL {
            assert_eq!(a.as_str().parse::<SmsAccess>().unwrap(), a);
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        }
        assert!(!SmsAccess::CodeOnly.includes_text() && SmsAccess::Full.includes_text());
        assert_eq!(
            "full-seed".parse::<SmsAccess>().unwrap_err().to_string(),
            "unknown SMS inbox access level `full-seed`; use `code-only` or `full`"
        );
    }
}
