//! Organization policy: the values IT pushes through the browser's managed
//! storage (`chrome.storage.managed`; Chrome/Edge `3rdparty` policy, Firefox
//! `3rdparty.Extensions` or a ManagedStorage manifest). The names are those
//! of `extension/managed_schema.json`.
//!
//! Chromium drops values that do not match the schema; Firefox enforces no
//! schema, so every value is checked again here. A malformed value is
//! ignored *and reported* (the popup lists it), and where ignoring it would
//! widen what the extension does, the policy fails closed: an `AllowedSites`
//! whose entries are all malformed allows no site; a malformed
//! `NativeHostName` reaches no host rather than the default one.
//!
//! The policy only narrows what the extension does. The host makes every
//! permission decision on its own (and has its own organization policy in
//! its system config); a user who edits the extension cannot get a code the
//! host would refuse.

use serde::Serialize;
use serde_json::{Map, Value};

/// The host the extension talks to when no policy names another.
pub const DEFAULT_HOST_NAME: &str = twofill_protocol::HOST_NAME;
const DEFAULT_CLEAR_SECONDS: u32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AutofillMode {
    /// Fill a detected prompt at once.
    Auto,
    /// Offer a "Fill code" button next to the prompt; fill on a click.
    Click,
    /// Never fill pages; codes are only copied from the popup.
    Off,
}

/// One `AllowedSites`/`BlockedSites` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SitePattern {
    scheme: Option<String>,
    host: String,
    /// `*.host` / `.host`: subdomains only; else the host and its subdomains.
    subdomains_only: bool,
    port: Option<u16>,
}

#[derive(Debug, Clone, Default)]
pub struct ManagedPolicy {
    /// Anything was set by the organization (shows the "managed" line).
    pub managed: bool,
    autofill_mode: Option<AutofillMode>,
    allowed_sites: Option<Vec<SitePattern>>,
    blocked_sites: Vec<SitePattern>,
    allow_personal_tokens: Option<bool>,
    show_seeds: Option<bool>,
    /// `Err` holds the rejected value: no host is reachable then.
    native_host_name: Option<Result<String, String>>,
    clipboard_clear_seconds: Option<u32>,
    pub organization_name: Option<String>,
    pub support_url: Option<String>,
    pub audit_notice: Option<String>,
    pub expected_audit_sinks: Vec<String>,
    /// Values that were ignored, and why, for the popup.
    pub problems: Vec<String>,
}

impl ManagedPolicy {
    /// Reads `storage.managed.get()`'s result. Never fails: whatever cannot
    /// be used is listed in `problems`.
    pub fn from_value(value: &Value) -> ManagedPolicy {
        let mut p = ManagedPolicy::default();
        let Some(map) = value.as_object() else {
            return p;
        };
        p.managed = !map.is_empty();
        let mut r = Reader {
            map,
            problems: &mut p.problems,
        };
        p.autofill_mode = r.string("AutofillMode").and_then(|s| match s.as_str() {
            "auto" => Some(AutofillMode::Auto),
            "click" => Some(AutofillMode::Click),
            "off" => Some(AutofillMode::Off),
            other => {
                r.problem(
                    "AutofillMode",
                    &format!("{other:?} is not auto, click or off"),
                );
                None
            }
        });
        p.allowed_sites = r.sites("AllowedSites");
        p.blocked_sites = r.sites("BlockedSites").unwrap_or_default();
        p.allow_personal_tokens = r.boolean("AllowPersonalTokens");
        p.show_seeds = r.boolean("ShowSeeds");
        p.native_host_name = r.string("NativeHostName").map(|name| {
            if valid_host_name(&name) {
                Ok(name)
            } else {
                r.problem(
                    "NativeHostName",
                    &format!(
                        "{name:?} is not a native messaging host name (lowercase letters, digits, '_' and '.')"
                    ),
                );
                Err(name)
            }
        });
        p.clipboard_clear_seconds = r.integer("ClipboardClearSeconds").map(|s| {
            if !(5..=600).contains(&s) {
                r.problem(
                    "ClipboardClearSeconds",
                    &format!("{s} is outside 5..600; using {}", s.clamp(5, 600)),
                );
            }
            s.clamp(5, 600) as u32
        });
        p.organization_name = r
            .string("OrganizationName")
            .filter(|s| !s.trim().is_empty());
        p.support_url = r.string("SupportUrl").and_then(|u| {
            if u.starts_with("https://") || u.starts_with("http://") || u.starts_with("mailto:") {
                Some(u)
            } else {
                r.problem("SupportUrl", "must start with https://, http:// or mailto:");
                None
            }
        });
        p.audit_notice = r.string("AuditNotice").filter(|s| !s.trim().is_empty());
        p.expected_audit_sinks = r.strings("ExpectedAuditSinks").unwrap_or_default();
        p
    }

    pub fn autofill_mode(&self) -> AutofillMode {
        self.autofill_mode.unwrap_or(AutofillMode::Auto)
    }

    /// Whether the user's personal tokens may be listed and filled.
    pub fn allow_personal_tokens(&self) -> bool {
        self.allow_personal_tokens.unwrap_or(true)
    }

    pub fn show_seeds(&self) -> bool {
        self.show_seeds.unwrap_or(true)
    }

    /// The native host to ask, or why none may be asked.
    pub fn host_name(&self) -> Result<&str, String> {
        match &self.native_host_name {
            None => Ok(DEFAULT_HOST_NAME),
            Some(Ok(name)) => Ok(name),
            Some(Err(bad)) => Err(format!(
                "your organization's policy names the native host {bad:?}, which is not a valid host name; tell your IT department"
            )),
        }
    }

    pub fn clipboard_clear_seconds(&self) -> Option<u32> {
        self.clipboard_clear_seconds
    }

    pub fn default_clipboard_clear_seconds() -> u32 {
        DEFAULT_CLEAR_SECONDS
    }

    /// May codes be filled into pages of `origin` (`scheme://host[:port]`,
    /// as the browser reports it)? `Err` says why not, for the user.
    pub fn may_fill(&self, origin: &str) -> Result<(), String> {
        if self.autofill_mode() == AutofillMode::Off {
            return Err("filling codes into pages is turned off by your organization".into());
        }
        let Some((scheme, host, port)) = split_origin(origin) else {
            return Err(format!("{origin} is not a web origin"));
        };
        if self
            .blocked_sites
            .iter()
            .any(|p| p.matches(&scheme, &host, port))
        {
            return Err(format!(
                "your organization does not allow filling codes on {host}"
            ));
        }
        if let Some(allowed) = &self.allowed_sites
            && !allowed.iter().any(|p| p.matches(&scheme, &host, port))
        {
            return Err(format!(
                "your organization allows filling codes only on listed sites, and {host} is not one of them"
            ));
        }
        Ok(())
    }

    /// The expected audit sinks the host does not report.
    pub fn missing_audit_sinks(&self, host_sinks: &[String]) -> Vec<String> {
        self.expected_audit_sinks
            .iter()
            .filter(|s| !host_sinks.contains(s))
            .cloned()
            .collect()
    }
}

/// Reads typed values out of the managed-storage object, noting bad ones.
struct Reader<'a> {
    map: &'a Map<String, Value>,
    problems: &'a mut Vec<String>,
}

impl Reader<'_> {
    fn problem(&mut self, key: &str, why: &str) {
        self.problems.push(format!("{key}: {why}; ignored"));
    }

    fn get(&mut self, key: &str, want: &str, ok: impl Fn(&Value) -> bool) -> Option<Value> {
        let v = self.map.get(key)?;
        if v.is_null() {
            return None;
        }
        if ok(v) {
            Some(v.clone())
        } else {
            self.problem(key, &format!("expected {want}, got {v}"));
            None
        }
    }

    fn string(&mut self, key: &str) -> Option<String> {
        self.get(key, "a string", Value::is_string)
            .and_then(|v| v.as_str().map(|s| s.trim().to_owned()))
    }

    fn boolean(&mut self, key: &str) -> Option<bool> {
        self.get(key, "true or false", Value::is_boolean)
            .and_then(|v| v.as_bool())
    }

    fn integer(&mut self, key: &str) -> Option<i64> {
        self.get(key, "an integer", |v| v.is_i64())
            .and_then(|v| v.as_i64())
    }

    fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        let v = self.get(key, "a list of strings", Value::is_array)?;
        let mut out = Vec::new();
        for item in v.as_array().into_iter().flatten() {
            match item.as_str() {
                Some(s) => out.push(s.trim().to_owned()),
                None => self.problem(key, &format!("entry {item} is not a string")),
            }
        }
        Some(out)
    }

    /// A site list. Set-but-broken stays set (possibly empty), so a broken
    /// allow-list allows nothing rather than everything.
    fn sites(&mut self, key: &str) -> Option<Vec<SitePattern>> {
        let entries = self.strings(key)?;
        let mut out = Vec::new();
        for entry in entries {
            match SitePattern::parse(&entry) {
                Ok(p) => out.push(p),
                Err(why) => self.problem(key, &format!("entry {entry:?} {why}")),
            }
        }
        Some(out)
    }
}

impl SitePattern {
    fn parse(entry: &str) -> Result<SitePattern, &'static str> {
        let entry = entry.trim().to_ascii_lowercase();
        let (scheme, rest) = match entry.split_once("://") {
            Some((s, rest)) if s == "http" || s == "https" => (Some(s.to_owned()), rest),
            Some(_) => return Err("has a scheme other than http or https"),
            None => (None, entry.as_str()),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err("must be a host or an origin, without a path");
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| "has a bad port")?)),
            None => (rest, None),
        };
        let (host, subdomains_only) =
            match host.strip_prefix("*.").or_else(|| host.strip_prefix('.')) {
                Some(h) => (h, true),
                None => (host, false),
            };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            || host.starts_with('.')
            || host.ends_with('.')
            || host.contains("..")
        {
            return Err("is not a host name (write internationalized names in punycode, xn--…)");
        }
        Ok(SitePattern {
            scheme,
            host: host.to_owned(),
            subdomains_only,
            port,
        })
    }

    fn matches(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != scheme) {
            return false;
        }
        if self.port.is_some() && self.port != port {
            return false;
        }
        let sub = host
            .strip_suffix(self.host.as_str())
            .is_some_and(|prefix| prefix.ends_with('.'));
        sub || (!self.subdomains_only && host == self.host)
    }
}

/// `("https", "my.example", Some(8443))` from `https://my.example:8443`.
fn split_origin(origin: &str) -> Option<(String, String, Option<u16>)> {
    let (scheme, rest) = origin.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let rest = rest.split(['/', '?', '#']).next()?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || p.is_empty() => (h, p.parse().ok()),
        _ => (rest, None),
    };
    Some((scheme.to_owned(), host.to_ascii_lowercase(), port))
}

/// Chromium's rule for native messaging host names (Firefox's is looser).
pub fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(v: Value) -> ManagedPolicy {
        ManagedPolicy::from_value(&v)
    }

    #[test]
    fn no_policy_means_defaults_and_not_managed() {
        let p = policy(json!({}));
        assert!(!p.managed);
        assert_eq!(p.autofill_mode(), AutofillMode::Auto);
        assert!(p.allow_personal_tokens() && p.show_seeds());
        assert_eq!(p.host_name().unwrap(), twofill_words::HOST_NAME);
        assert!(p.may_fill("https://anything.example").is_ok());
        assert!(p.problems.is_empty());
        // Firefox without a policy answers with nothing at all.
        assert!(!policy(Value::Null).managed);
    }

    #[test]
    fn modes() {
        assert_eq!(
            policy(json!({"AutofillMode": "click"})).autofill_mode(),
            AutofillMode::Click
        );
        let off = policy(json!({"AutofillMode": "off"}));
        assert!(off.managed);
        assert!(off.may_fill("https://my.kaspersky.com").is_err());
        let bad = policy(json!({"AutofillMode": "sometimes"}));
        assert_eq!(bad.autofill_mode(), AutofillMode::Auto);
        assert_eq!(bad.problems.len(), 1, "{:?}", bad.problems);
    }

    #[test]
    fn blocked_sites_win_and_cover_subdomains() {
        let p = policy(json!({
            "AllowedSites": ["kaspersky.com", "https://intranet.example:8443"],
            "BlockedSites": ["*.ru.kaspersky.com"]
        }));
        assert!(p.may_fill("https://kaspersky.com").is_ok());
        assert!(p.may_fill("https://my.kaspersky.com").is_ok());
        assert!(p.may_fill("https://a.ru.kaspersky.com").is_err());
        assert!(
            p.may_fill("https://ru.kaspersky.com").is_ok(),
            "*. is subdomains only"
        );
        assert!(p.may_fill("https://intranet.example:8443").is_ok());
        assert!(
            p.may_fill("http://intranet.example:8443").is_err(),
            "scheme"
        );
        assert!(p.may_fill("https://intranet.example").is_err(), "port");
        // Look-alikes are not subdomains.
        assert!(p.may_fill("https://evilkaspersky.com").is_err());
        assert!(p.may_fill("https://kaspersky.com.evil.test").is_err());
        assert!(p.may_fill("https://KASPERSKY.com").is_ok());
    }

    #[test]
    fn broken_allow_list_allows_nothing() {
        let p = policy(json!({"AllowedSites": ["https://x/path", 7, "ftp://a.b", "ünï.de"]}));
        assert_eq!(p.problems.len(), 4, "{:?}", p.problems);
        assert!(p.may_fill("https://x").is_err());
        assert!(p.may_fill("https://example.com").is_err());
        // A wrong type for the whole list is dropped like Chromium does.
        let p = policy(json!({"AllowedSites": "kaspersky.com"}));
        assert_eq!(p.problems.len(), 1);
        assert!(p.may_fill("https://example.com").is_ok());
    }

    #[test]
    fn host_name_is_validated_and_fails_closed() {
        let p = policy(json!({"NativeHostName": "com.acme.twofill"}));
        assert_eq!(p.host_name().unwrap(), "com.acme.twofill");
        for bad in ["Com.Acme", "com..acme", ".com", "com/acme", ""] {
            let p = policy(json!({ "NativeHostName": bad }));
            assert!(p.host_name().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn other_values() {
        let p = policy(json!({
            "AllowPersonalTokens": false,
            "ShowSeeds": false,
            "ClipboardClearSeconds": 2,
            "OrganizationName": "ACME",
            "SupportUrl": "javascript:alert(1)",
            "ExpectedAuditSinks": ["splunk", "soc-syslog"],
            "Unknown": 1
        }));
        assert!(!p.allow_personal_tokens() && !p.show_seeds());
        assert_eq!(p.clipboard_clear_seconds(), Some(5));
        assert_eq!(p.organization_name.as_deref(), Some("ACME"));
        assert_eq!(p.support_url, None);
        assert_eq!(
            p.missing_audit_sinks(&["splunk".into()]),
            vec!["soc-syslog".to_owned()]
        );
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
        assert!(policy(json!({"ShowSeeds": "no"})).show_seeds());
    }
}
