//! The host manifest: the templates in `host-manifests/`, filled in here, so
//! what admins read in the repository is exactly what gets installed.
//!
//! One manifest per browser family: Chromium-based browsers get
//! `allowed_origins` (our extension's origin), Firefox gets
//! `allowed_extensions` (our add-on id). The host name and path are
//! JSON-escaped into the template, and the result must still parse.

use anyhow::{Context, Result};

use crate::paths::Family;
use twofill_words::{CHROMIUM_EXTENSION_ID, GECKO_EXTENSION_ID};

const CHROMIUM_TEMPLATE: &str = include_str!("../../../host-manifests/chromium.json");
const FIREFOX_TEMPLATE: &str = include_str!("../../../host-manifests/firefox.json");

/// Fills a family's template for a host named `name` at `host_path`.
pub(crate) fn render_manifest(family: Family, name: &str, host_path: &str) -> Result<String> {
    let json_str = |s: &str| -> Result<String> { Ok(serde_json::to_string(s)?) };
    let inner = |s: &str| -> Result<String> {
        let q = json_str(s)?;
        Ok(q[1..q.len() - 1].to_string())
    };
    let text = match family {
        Family::Firefox => {
            FIREFOX_TEMPLATE.replace("{{ALLOWED_EXTENSIONS}}", &json_str(GECKO_EXTENSION_ID)?)
        }
        Family::Chromium => CHROMIUM_TEMPLATE.replace(
            "{{ALLOWED_ORIGINS}}",
            &json_str(&format!("chrome-extension://{}/", CHROMIUM_EXTENSION_ID))?,
        ),
    }
    .replace("{{HOST_NAME}}", &inner(name)?)
    .replace("{{HOST_PATH}}", &inner(host_path)?);
    // The template must still be valid JSON after substitution.
    serde_json::from_str::<serde_json::Value>(&text).context("rendered manifest is not JSON")?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_NAME;

    #[test]
    fn chromium_manifest_names_our_origin_and_path() {
        let text =
            render_manifest(Family::Chromium, DEFAULT_NAME, "/opt/twofill/twofill-host").unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["name"], twofill_words::HOST_NAME);
        assert_eq!(v["type"], "stdio");
        assert_eq!(v["path"], "/opt/twofill/twofill-host");
        let origin = format!("chrome-extension://{}/", CHROMIUM_EXTENSION_ID);
        assert_eq!(v["allowed_origins"], serde_json::json!([origin]));
        assert!(v.get("allowed_extensions").is_none());
    }

    #[test]
    fn firefox_manifest_names_addon_id() {
        let text = render_manifest(Family::Firefox, "com.acme.otp", "/o/p \"q\"").unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["name"], "com.acme.otp");
        assert_eq!(
            v["allowed_extensions"],
            serde_json::json!([GECKO_EXTENSION_ID])
        );
        assert_eq!(v["path"], "/o/p \"q\"", "paths are JSON-escaped");
        assert!(v.get("allowed_origins").is_none());
    }

    #[test]
    fn windows_paths_are_json_escaped() {
        let text = render_manifest(
            Family::Chromium,
            DEFAULT_NAME,
            "C:\\Program Files\\Acme Corp\\twofill-host.exe",
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["path"], "C:\\Program Files\\Acme Corp\\twofill-host.exe");
    }
}
