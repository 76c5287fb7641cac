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
