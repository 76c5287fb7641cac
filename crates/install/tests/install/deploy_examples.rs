//! The policy examples under `host-manifests/policies/` and the policy table in
//! `docs/admin-guide.md`, checked against what the browsers and the
//! extension expect:
//!
//! - every file parses (JSON, `.reg`, `.mobileconfig` plist);
//! - it names the right extension id, Firefox add-on id and host name, in
//!   the shape each browser reads (Windows lists as numbered values, the
//!   macOS per-extension preference domain, Firefox's capital-E
//!   `3rdparty.Extensions`);
//! - the extension's managed values, converted the way the browser converts
//!   them (Chromium's registry rules for `.reg`), validate against
//!   `extension/managed_schema.json` with a validator of the schema subset
//!   Chrome uses (type, properties, items, enum), cover every policy, and are
//!   the same in every example;
//! - the admin guide's policy table is the one generated from the schema.
//!   `TWOFILL_BLESS=1 cargo test -p twofill-install --test install deploy_examples`
//!   rewrites it after a schema change.
//!
//! So an example or the guide drifting from the schema fails here.

use crate::support::regfile;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use twofill_words::{CHROMIUM_EXTENSION_ID, GECKO_EXTENSION_ID, HOST_NAME};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn id() -> &'static str {
    CHROMIUM_EXTENSION_ID
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn read_json(rel: &str) -> Value {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
}

fn schema() -> Value {
    read_json("extension/managed_schema.json")
}

// ---------------------------------------------------------------------------
// A validator for the subset of JSON schema Chrome uses for managed storage.

const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "additionalProperties",
    "items",
    "enum",
    "title",
    "description",
];

/// Checks the schema itself: Chrome's subset, one `type` per node (this
/// validator does not follow `$ref`).
fn check_schema(node: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(obj) = node.as_object() else {
        errors.push(format!("{at}: a schema node must be an object"));
        return;
    };
    for k in obj.keys() {
        if !KEYWORDS.contains(&k.as_str()) {
            errors.push(format!(
                "{at}: schema keyword {k:?} is not supported by this validator; extend tests/install/deploy_examples.rs"
            ));
        }
    }
    match obj.get("type").and_then(Value::as_str) {
        Some("boolean" | "integer" | "number" | "string") => {}
        Some("array") => match obj.get("items") {
            Some(items) => check_schema(items, &format!("{at}[]"), errors),
            None => errors.push(format!("{at}: an array needs items")),
        },
        Some("object") => {
            for (k, v) in obj
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                check_schema(v, &format!("{at}.{k}"), errors);
            }
            if let Some(extra) = obj.get("additionalProperties") {
                check_schema(extra, &format!("{at}.*"), errors);
            }
        }
        other => errors.push(format!("{at}: unknown or missing type {other:?}")),
    }
}

fn validate(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let ty = schema["type"].as_str().unwrap_or("");
    let ok = match ty {
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    };
    if !ok {
        errors.push(format!("{at}: {value} is not a {ty}"));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match ty {
        "array" => {
            for (i, item) in value.as_array().unwrap().iter().enumerate() {
                validate(&schema["items"], item, &format!("{at}[{i}]"), errors);
            }
        }
        "object" => {
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in value.as_object().unwrap() {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => validate(s, v, &format!("{at}.{k}"), errors),
                    None => match schema.get("additionalProperties") {
                        Some(s) => validate(s, v, &format!("{at}.{k}"), errors),
                        None => errors.push(format!(
                            "{at}: {k:?} is not in the schema (Chrome ignores it)"
                        )),
                    },
                }
            }
        }
        _ => {}
    }
}

/// Validates one example's managed values and returns them.
fn check_values(what: &str, values: &Value) -> Value {
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, values, what, &mut errors);
    let props = schema["properties"].as_object().unwrap();
    for k in props.keys() {
        if values.get(k).is_none() {
            errors.push(format!(
                "{what}: sets no {k}; every example shows every policy"
            ));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(
        values["NativeHostName"], HOST_NAME,
        "{what}: the host the examples allow"
    );
    values.clone()
}

#[test]
fn the_schema_is_in_chromes_subset() {
    let schema = schema();
    let mut errors = Vec::new();
    check_schema(&schema, "schema", &mut errors);
    assert_eq!(schema["type"], "object");
    assert!(
        schema.get("additionalProperties").is_none(),
        "Chrome's top level has no additionalProperties"
    );
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_validator_catches_drift() {
    let schema = schema();
    for bad in [
        json!({"AutofillMode": "always"}),
        json!({"AllowedSites": "kaspersky.com"}),
        json!({"AllowedSites": [1]}),
        json!({"ShowSeeds": "false"}),
        json!({"ClipboardClearSeconds": 2.5}),
        json!({"AutoFillMode": "auto"}),
    ] {
        let mut errors = Vec::new();
        validate(&schema, &bad, "v", &mut errors);
        assert!(!errors.is_empty(), "{bad} should fail");
    }
}

// ---------------------------------------------------------------------------
// The examples.

/// Every example's managed values, keyed by file, for the same-everywhere check.
fn all_values() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for b in ["chrome", "chromium", "edge"] {
        let rel = format!("host-manifests/policies/linux/{b}.json");
        out.push((rel.clone(), linux_values(&rel)));
    }
    for b in ["chrome", "edge"] {
        let rel = format!("host-manifests/policies/windows/{b}.reg");
        out.push((rel.clone(), windows_values(&rel, b)));
    }
    for b in ["chrome", "edge", "firefox"] {
        let rel = format!("host-manifests/policies/macos/{b}.mobileconfig");
        out.push((rel.clone(), macos_values(&rel, b)));
    }
    out.push((
        "host-manifests/policies/firefox/policies.json".into(),
        firefox_values("host-manifests/policies/firefox/policies.json"),
    ));
    out
}

fn update_url() -> &'static str {
    "https://extensions.example.com/twofill/updates.xml"
}

/// Linux: one JSON file of Chrome policies, with `3rdparty.extensions`.
fn linux_values(rel: &str) -> Value {
    let v = read_json(rel);
    let known = [
        "ExtensionSettings",
        "ExtensionInstallForcelist",
        "NativeMessagingAllowlist",
        "NativeMessagingBlocklist",
        "NativeMessagingUserLevelHosts",
        "3rdparty",
    ];
    for k in v.as_object().unwrap().keys() {
        assert!(known.contains(&k.as_str()), "{rel}: unexpected policy {k}");
    }
    let ext = &v["ExtensionSettings"][id()];
    assert_eq!(ext["installation_mode"], "force_installed", "{rel}");
    assert_eq!(ext["update_url"], update_url(), "{rel}");
    assert_eq!(v["NativeMessagingAllowlist"], json!([HOST_NAME]), "{rel}");
    assert_eq!(v["NativeMessagingUserLevelHosts"], false, "{rel}");
    let third = v["3rdparty"]["extensions"].as_object().unwrap();
    assert_eq!(third.keys().collect::<Vec<_>>(), [id()], "{rel}");
    check_values(rel, &third[id()])
}

/// Converts a registry subtree the way Chromium reads 3rdparty policy
/// (components/policy/core/common/registry_dict.cc): strings from REG_SZ,
/// booleans and integers from REG_DWORD (or numeric strings), lists from a
/// subkey with values named 1, 2, … (or a JSON string).
fn registry_to_json(reg: &regfile::RegFile, key: &str, schema: &Value, rel: &str) -> Value {
    let values = reg.values(key).unwrap_or_default();
    let subkeys = reg.subkeys(key);
    let props = schema["properties"].as_object().unwrap();
    let mut out = Map::new();
    for (name, v) in &values {
        let prop = props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("{rel}: {name} is not in the schema"));
        let converted = match (prop.1["type"].as_str().unwrap(), v) {
            ("string", regfile::Value::Sz(s)) => json!(s),
            ("boolean", regfile::Value::Dword(d)) => json!(*d != 0),
            ("integer", regfile::Value::Dword(d)) => json!(*d),
            ("array", regfile::Value::Sz(s)) => serde_json::from_str(s)
                .unwrap_or_else(|e| panic!("{rel}: {name} is neither a subkey nor JSON: {e}")),
            (ty, v) => panic!("{rel}: {name} = {v:?} is no {ty} for Chromium"),
        };
        out.insert(prop.0.clone(), converted);
    }
    for (name, items) in &subkeys {
        let prop = props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("{rel}: subkey {name} is not in the schema"));
        assert_eq!(prop.1["type"], "array", "{rel}: {name} is a list subkey");
        let mut list = Vec::new();
        for i in 1..=items.len() {
            match items.get(&i.to_string()) {
                Some(regfile::Value::Sz(s)) => list.push(json!(s)),
                other => panic!("{rel}: {name}\\{i} is {other:?}; list values are \"1\", \"2\", …"),
            }
        }
        out.insert(prop.0.clone(), Value::Array(list));
    }
    Value::Object(out)
}

/// Windows: HKLM\SOFTWARE\Policies\<vendor>, forcelist and allowlist as
/// numbered values, the values under 3rdparty\extensions\<id>\policy.
fn windows_values(rel: &str, browser: &str) -> Value {
    let reg = regfile::parse(&regfile::decode(&std::fs::read(repo().join(rel)).unwrap()))
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    let base = match browser {
        "chrome" => r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Google\Chrome",
        _ => r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Edge",
    };
    for k in &reg.keys {
        assert!(!k.delete, "{rel}: deletes {}", k.path);
        assert!(
            k.path
                .to_ascii_lowercase()
                .starts_with(&base.to_ascii_lowercase()),
            "{rel}: {} is outside {base}",
            k.path
        );
    }
    let forcelist = reg
        .values(&format!(r"{base}\ExtensionInstallForcelist"))
        .unwrap();
    assert_eq!(
        forcelist.get("1"),
        Some(&regfile::Value::Sz(format!("{};{}", id(), update_url()))),
        "{rel}"
    );
    let allow = reg
        .values(&format!(r"{base}\NativeMessagingAllowlist"))
        .unwrap();
    assert_eq!(
        allow.get("1"),
        Some(&regfile::Value::Sz(HOST_NAME.into())),
        "{rel}"
    );
    assert_eq!(
        reg.values(base)
            .unwrap()
            .get("NativeMessagingUserLevelHosts"),
        Some(&regfile::Value::Dword(0)),
        "{rel}"
    );
    let third = format!(r"{base}\3rdparty\extensions").to_ascii_lowercase();
    let policy = format!(r"{third}\{}\policy", id());
    for k in &reg.keys {
        let path = k.path.to_ascii_lowercase();
        assert!(
            !path.starts_with(&third) || path.starts_with(&policy),
            "{rel}: {} — the extension's values go under 3rdparty\\extensions\\<id>\\policy",
            k.path
        );
    }
    check_values(rel, &registry_to_json(&reg, &policy, &schema(), rel))
}

fn plist_to_json(v: &plist::Value) -> Value {
    match v {
        plist::Value::Dictionary(d) => Value::Object(
            d.iter()
                .map(|(k, v)| (k.clone(), plist_to_json(v)))
                .collect(),
        ),
        plist::Value::Array(a) => Value::Array(a.iter().map(plist_to_json).collect()),
        plist::Value::Boolean(b) => json!(b),
        plist::Value::String(s) => json!(s),
        plist::Value::Integer(i) => json!(i.as_signed().expect("fits i64")),
        plist::Value::Real(r) => json!(r),
        other => panic!("unexpected plist value {other:?}"),
    }
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

/// macOS: a configuration profile; Chrome/Edge policies in their domain,
/// the extension's values in the per-extension domain (§3.5: a 3rdparty key
/// inside com.google.Chrome is not read on macOS); Firefox in
/// org.mozilla.firefox with EnterprisePoliciesEnabled.
fn macos_values(rel: &str, browser: &str) -> Value {
    let profile = plist::Value::from_file(repo().join(rel))
        .unwrap_or_else(|e| panic!("{rel} is not a plist: {e}"));
    let profile = plist_to_json(&profile);
    assert_eq!(profile["PayloadType"], "Configuration", "{rel}");
    assert_eq!(profile["PayloadVersion"], 1, "{rel}");
    let payloads = profile["PayloadContent"].as_array().unwrap();
    let mut uuids = vec![profile["PayloadUUID"].as_str().unwrap()];
    let mut idents = vec![profile["PayloadIdentifier"].as_str().unwrap()];
    for p in payloads {
        uuids.push(p["PayloadUUID"].as_str().unwrap());
        idents.push(p["PayloadIdentifier"].as_str().unwrap());
        assert_eq!(p["PayloadVersion"], 1, "{rel}");
    }
    assert!(uuids.iter().all(|u| is_uuid(u)), "{rel}: {uuids:?}");
    for list in [&uuids, &idents] {
        let mut sorted = list.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), list.len(), "{rel}: unique {list:?}");
    }
    let payload = |ty: &str| -> Map<String, Value> {
        let p = payloads
            .iter()
            .find(|p| p["PayloadType"] == ty)
            .unwrap_or_else(|| panic!("{rel}: no {ty} payload"));
        p.as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !k.starts_with("Payload"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    if browser == "firefox" {
        assert_eq!(payloads.len(), 1, "{rel}");
        let p = payload("org.mozilla.firefox");
        assert_eq!(p["EnterprisePoliciesEnabled"], true, "{rel}");
        return check_firefox_policies(rel, &Value::Object(p));
    }
    let domain = match browser {
        "chrome" => "com.google.Chrome",
        _ => "com.microsoft.Edge",
    };
    assert_eq!(payloads.len(), 2, "{rel}");
    let main = payload(domain);
    assert!(
        main.get("3rdparty").is_none(),
        "{rel}: {domain} ignores 3rdparty on macOS"
    );
    assert_eq!(
        main["ExtensionInstallForcelist"],
        json!([format!("{};{}", id(), update_url())]),
        "{rel}"
    );
    assert_eq!(
        main["NativeMessagingAllowlist"],
        json!([HOST_NAME]),
        "{rel}"
    );
    assert_eq!(main["NativeMessagingUserLevelHosts"], false, "{rel}");
    let values = payload(&format!("{domain}.extensions.{}", id()));
    check_values(rel, &Value::Object(values))
}

/// Firefox's `policies` object: force-install by id with an install_url,
/// values under `3rdparty.Extensions` (capital E).
fn check_firefox_policies(rel: &str, policies: &Value) -> Value {
    let ext = &policies["ExtensionSettings"][GECKO_EXTENSION_ID];
    assert_eq!(ext["installation_mode"], "force_installed", "{rel}");
    let url = ext["install_url"].as_str().unwrap_or("");
    assert!(
        url.starts_with("https://") && url.ends_with(".xpi"),
        "{rel}: install_url {url:?}"
    );
    assert!(
        policies["3rdparty"].get("extensions").is_none(),
        "{rel}: Firefox spells it Extensions"
    );
    let third = policies["3rdparty"]["Extensions"].as_object().unwrap();
    assert_eq!(
        third.keys().collect::<Vec<_>>(),
        [GECKO_EXTENSION_ID],
        "{rel}"
    );
    check_values(rel, &third[GECKO_EXTENSION_ID])
}

fn firefox_values(rel: &str) -> Value {
    let v = read_json(rel);
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["policies"],
        "{rel}"
    );
    check_firefox_policies(rel, &v["policies"])
}

#[test]
fn every_example_parses_names_the_right_ids_and_matches_the_schema() {
    let all = all_values();
    assert_eq!(all.len(), 9);
    let (first_file, first) = &all[0];
    for (file, values) in &all[1..] {
        assert_eq!(
            values, first,
            "{file} and {first_file} should set the same values"
        );
    }
}

#[test]
fn there_are_no_unchecked_examples() {
    let mut found = Vec::new();
    let base = repo().join("host-manifests/policies");
    for dir in std::fs::read_dir(&base).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let rel = f.strip_prefix(&base).unwrap().display().to_string();
            // Docs and git's own files (the .reg line-ending rule) are not examples.
            let hidden = f
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !rel.ends_with(".md") && !hidden {
                found.push(rel);
            }
        }
    }
    found.sort();
    assert_eq!(
        found,
        [
            "firefox/policies.json",
            "linux/chrome.json",
            "linux/chromium.json",
            "linux/edge.json",
            "macos/chrome.mobileconfig",
            "macos/edge.mobileconfig",
            "macos/firefox.mobileconfig",
            "windows/chrome.reg",
            "windows/edge.reg",
        ],
        "a new example needs a check in tests/install/deploy_examples.rs"
    );
}

// ---------------------------------------------------------------------------
// The admin guide's policy table.

const TABLE_BEGIN: &str = "<!-- policy-table: generated from extension/managed_schema.json; TWOFILL_BLESS=1 cargo test -p twofill-install --test install deploy_examples rewrites it -->";
const TABLE_END: &str = "<!-- /policy-table -->";

fn type_text(schema: &Value) -> String {
    match schema["type"].as_str().unwrap() {
        "array" => format!("list of {}s", type_text(&schema["items"])),
        "string" => match schema.get("enum").and_then(Value::as_array) {
            Some(e) => format!(
                "string: {}",
                e.iter()
                    .map(|v| format!("`{}`", v.as_str().unwrap()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "string".into(),
        },
        other => other.into(),
    }
}

fn policy_table() -> String {
    let schema = schema();
    let mut out = format!("{TABLE_BEGIN}\n| Policy | Type | What it does |\n|---|---|---|\n");
    let props = schema["properties"].as_object().unwrap();
    let mut names: Vec<&String> = props.keys().collect();
    names.sort();
    for name in names {
        let p = &props[name];
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        out.push_str(&format!(
            "| `{name}` | {} | **{}.** {} |\n",
            cell(&type_text(p)),
            cell(p["title"].as_str().unwrap_or("")),
            cell(p["description"].as_str().unwrap_or(""))
        ));
    }
    out.push_str(TABLE_END);
    out
}

#[test]
fn the_admin_guide_policy_table_is_generated_from_the_schema() {
    let path = repo().join("docs/admin-guide.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc
        .find(TABLE_BEGIN)
        .expect("the guide has the table markers");
    let end = doc[start..]
        .find(TABLE_END)
        .expect("the table's end marker")
        + start
        + TABLE_END.len();
    let want = policy_table();
    if doc[start..end] != want {
        if std::env::var_os("TWOFILL_BLESS").is_some() {
            let new = format!("{}{}{}", &doc[..start], want, &doc[end..]);
            std::fs::write(&path, new).unwrap();
            return;
        }
        panic!(
            "docs/admin-guide.md's policy table differs from extension/managed_schema.json; rerun with TWOFILL_BLESS=1 to regenerate it. Expected:\n{want}"
        );
    }
}
