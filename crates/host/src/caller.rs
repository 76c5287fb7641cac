//! Who launched the host, as the browser tells it on the command line.
//!
//! Browsers pass the caller's identity themselves (after checking it against
//! the host manifest), so a web page cannot forge it. We check it again
//! against our own allow-list: a manifest edited by hand, or one written for
//! another extension, must not widen who may ask for codes.

use twofill_words::{CHROMIUM_EXTENSION_ID, GECKO_EXTENSION_ID};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Chromium { extension_id: String },
    Firefox { addon_id: String },
}

impl Caller {
    /// The extension id or add-on id, as the browser reported it.
    pub fn id(&self) -> &str {
        match self {
            Caller::Chromium { extension_id } => extension_id,
            Caller::Firefox { addon_id } => addon_id,
        }
    }

    pub fn is_allowed(&self) -> bool {
        match self {
            Caller::Chromium { extension_id } => extension_id == CHROMIUM_EXTENSION_ID,
            Caller::Firefox { addon_id } => addon_id == GECKO_EXTENSION_ID,
        }
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Chromium { extension_id } => write!(f, "chrome-extension://{extension_id}/"),
            Caller::Firefox { addon_id } => write!(f, "firefox add-on {addon_id}"),
        }
    }
}

/// `Some` when the arguments have the shape a browser uses to launch a
/// native host; `None` for a person's command line.
///
/// Chromium (all OSes): `host chrome-extension://<id>/ [--parent-window=N]`.
/// Firefox: `host /path/to/manifest.json <addon-id>`.
pub fn from_browser_args(args: &[String]) -> Option<Caller> {
    let first = args.get(1)?;
    if let Some(rest) = first.strip_prefix("chrome-extension://") {
        let id = rest.trim_end_matches('/');
        return Some(Caller::Chromium {
            extension_id: id.to_owned(),
        });
    }
    if first.ends_with(".json") && args.len() == 3 {
        return Some(Caller::Firefox {
            addon_id: args[2].clone(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofill_words::HOST_NAME;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn recognises_browser_launches() {
        let id = CHROMIUM_EXTENSION_ID;
        let c = from_browser_args(&args(&["h", &format!("chrome-extension://{id}/")])).unwrap();
        assert!(c.is_allowed());
        let c = from_browser_args(&args(&[
            "h",
            &format!("chrome-extension://{id}/"),
            "--parent-window=0",
        ]))
        .unwrap();
        assert!(c.is_allowed());
        let c = from_browser_args(&args(&[
            "h",
            &format!("/x/{HOST_NAME}.json"),
            GECKO_EXTENSION_ID,
        ]))
        .unwrap();
        assert!(c.is_allowed());
    }

    #[test]
    fn other_extensions_are_recognised_but_refused() {
        let c = from_browser_args(&args(&[
            "h",
            "chrome-extension://aaaabbbbccccddddeeeeffffgggghhhh/",
        ]))
        .unwrap();
        assert!(!c.is_allowed());
        let c = from_browser_args(&args(&["h", "/x/m.json", "evil@example.com"])).unwrap();
        assert!(!c.is_allowed());
    }

    #[test]
    fn people_get_the_cli() {
        assert!(from_browser_args(&args(&["h"])).is_none());
        assert!(from_browser_args(&args(&["h", "token", "list"])).is_none());
    }
}
