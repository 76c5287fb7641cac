//! Wire formats: RFC 5424 syslog with structured data, CEF (carried in
//! RFC 5424), ECS JSON lines and Splunk HEC events; RFC 6587 octet-counting
//! framing for syslog over TCP.

use std::fmt::Write as _;

use serde_json::json;
use twofill_vault::audit::hex;
use twofill_vault::{AuditAction, AuditRecord};

/// Private SD-ID enterprise number. 32473 is IANA's documentation example
/// (RFC 5612); a deployment with its own PEN changes only this.
pub const ENTERPRISE_ID: u32 = 32473;
pub const SD_ID: &str = "twofill@32473";
pub const APP_NAME: &str = "twofill";
const VENDOR: &str = "twofill";
const PRODUCT: &str = "twofill-host";
const VERSION: &str = env!("CARGO_PKG_VERSION");

const SEVERITY_WARNING: u8 = 4;
const SEVERITY_NOTICE: u8 = 5;

/// What every syslog message of this host shares.
#[derive(Debug, Clone)]
pub struct SyslogHeader {
    pub facility: u8,
    /// Already sanitised with [`header_field`].
    pub hostname: String,
}

impl SyslogHeader {
    pub fn new(facility: u8, hostname: &str) -> SyslogHeader {
        SyslogHeader {
            facility,
            hostname: header_field(hostname, 255),
        }
    }

    fn prefix(&self, r: &AuditRecord) -> String {
        // Refusals are warnings, everything else a notice.
        let severity = if r.event.success {
            SEVERITY_NOTICE
        } else {
            SEVERITY_WARNING
        };
        let pri = u16::from(self.facility) * 8 + u16::from(severity);
        format!(
            "<{pri}>1 {} {} {APP_NAME} - {}",
            rfc3339_utc(r.time_ms),
            self.hostname,
            header_field(r.event.action.as_str(), 32),
        )
    }
}

/// Text for a person's terminal: control characters (escape sequences,
/// carriage returns, newlines inside a field) and bidirectional overrides
/// written as `\u{…}`, so text a caller chose (a refused origin, an
/// imported issuer) cannot move the cursor or forge a line.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// An RFC 5424 header field: printable US-ASCII without spaces, at most
/// `max` characters, `-` (NILVALUE) when empty. Anything else becomes `_`.
pub fn header_field(s: &str, max: usize) -> String {
    let out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    if out.is_empty() { "-".into() } else { out }
}

/// RFC 5424 §6.3.3: inside PARAM-VALUE, `"`, `\` and `]` are escaped with a
/// backslash; everything else (UTF-8) goes as it is.
pub fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `[twofill@32473 …]` element: every field of the record, absent ones
/// left out, so a SIEM can dedupe on `seq`/`mac` and re-check the chain.
pub fn structured_data(r: &AuditRecord) -> String {
    let e = &r.event;
    let mut sd = format!("[{SD_ID}");
    let mut param = |name: &str, value: &str| {
        let _ = write!(sd, " {name}=\"{}\"", sd_escape(value));
    };
    param("seq", &r.seq.to_string());
    param("time", &r.time_ms.to_string());
    param("action", e.action.as_str());
    param("outcome", r.outcome().as_str());
    param("user", &e.user);
    let optional = [
        ("token", &e.token_id),
        ("label", &e.token_label),
        ("origin", &e.origin),
        ("browser", &e.browser),
        ("ext", &e.extension_id),
        ("reason", &e.reason),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            param(name, v);
        }
    }
    param("prev", &hex(&r.prev_mac));
    param("mac", &hex(&r.mac));
    sd.push(']');
    sd
}

/// A one-line human summary, e.g. `alice code.fill success: GitHub (me) @ https://github.com`.
pub fn summary(r: &AuditRecord) -> String {
    let e = &r.event;
    let mut s = format!("{} {} {}", e.user, e.action, r.outcome().as_str());
    if let Some(l) = &e.token_label {
        let _ = write!(s, ": {l}");
    }
    if let Some(o) = &e.origin {
        let _ = write!(s, " @ {o}");
    }
    if let Some(x) = &e.reason {
        let _ = write!(s, " ({x})");
    }
    s
}

/// RFC 5424 MSG: plain when ASCII, else UTF-8 with the BOM the RFC asks for.
fn msg(text: &str) -> String {
    if text.is_ascii() {
        text.to_owned()
    } else {
        format!("\u{feff}{text}")
    }
}

/// `<PRI>1 TIMESTAMP HOSTNAME twofill - ACTION [twofill@32473 …] summary`
pub fn rfc5424(h: &SyslogHeader, r: &AuditRecord) -> String {
    format!(
        "{} {} {}",
        h.prefix(r),
        structured_data(r),
        msg(&summary(r))
    )
}

/// CEF header fields: `\` and `|` escaped, line breaks flattened.
pub fn cef_header_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// CEF extension values: `\` and `=` escaped, line breaks as `\n` / `\r`.
pub fn cef_value_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// CEF severity (0–10): refusals 6, seed reveals 5, the rest 3.
fn cef_severity(r: &AuditRecord) -> u8 {
    if !r.event.success {
        6
    } else if r.event.action.is_seed() {
        5
    } else {
        3
    }
}

/// `CEF:0|twofill|twofill-host|VER|ACTION|NAME|SEV|rt=… suser=… …`
pub fn cef(r: &AuditRecord) -> String {
    let e = &r.event;
    let mut s = format!(
        "CEF:0|{VENDOR}|{PRODUCT}|{VERSION}|{}|{}|{}|",
        cef_header_escape(e.action.as_str()),
        cef_header_escape(&format!("{} {}", e.action, r.outcome().as_str())),
        cef_severity(r),
    );
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", r.time_ms.to_string()),
        ("externalId", r.seq.to_string()),
        ("act", e.action.to_string()),
        ("outcome", r.outcome().as_str().into()),
        ("suser", e.user.clone()),
    ];
    if let Some(o) = &e.origin {
        ext.push(("request", o.clone()));
        ext.push(("dhost", domain(o).into()));
    }
    if let Some(b) = &e.browser {
        ext.push(("requestClientApplication", b.clone()));
    }
    if let Some(x) = &e.reason {
        ext.push(("reason", x.clone()));
    }
    let custom = [
        ("tokenId", &e.token_id),
        ("tokenLabel", &e.token_label),
        ("extensionId", &e.extension_id),
    ];
    let labels = ["cs1", "cs2", "cs3"];
    for ((label, value), key) in custom.into_iter().zip(labels) {
        if let Some(v) = value {
            ext.push((key, v.clone()));
            ext.push(match key {
                "cs1" => ("cs1Label", label.into()),
                "cs2" => ("cs2Label", label.into()),
                _ => ("cs3Label", label.into()),
            });
        }
    }
    ext.push(("cs4", hex(&r.mac)));
    ext.push(("cs4Label", "mac".into()));
    ext.push(("cs5", hex(&r.prev_mac)));
    ext.push(("cs5Label", "prevMac".into()));
    ext.push(("msg", summary(r)));
    let body: Vec<String> = ext
        .iter()
        .map(|(k, v)| format!("{k}={}", cef_value_escape(v)))
        .collect();
    s.push_str(&body.join(" "));
    s
}

/// CEF carried as the MSG of an RFC 5424 message (no structured data:
/// everything is in the CEF extension).
pub fn cef_syslog(h: &SyslogHeader, r: &AuditRecord) -> String {
    format!("{} - {}", h.prefix(r), msg(&cef(r)))
}

fn domain(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    match host.find(']') {
        Some(end) => &host[..=end],
        None => host.split(':').next().unwrap_or(host),
    }
}

/// RFC 6587 §3.4.1 octet counting: `LEN SP MSG`, LEN in bytes.
pub fn octet_frame(message: &str, out: &mut Vec<u8>) {
    let _ = write!(VecWriter(out), "{} ", message.len());
    out.extend_from_slice(message.as_bytes());
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// One ECS JSON line (with the trailing newline).
pub fn ecs_line(r: &AuditRecord) -> String {
    let mut s = to_ecs(r).to_string();
    s.push('\n');
    s
}

/// One Splunk HEC event object (`/services/collector/event`); a batch is
/// these objects concatenated.
pub fn hec_event(r: &AuditRecord, host: &str, index: Option<&str>) -> serde_json::Value {
    let mut v = json!({
        "time": r.time_ms as f64 / 1000.0,
        "host": host,
        "source": "twofill",
        "sourcetype": "twofill:audit",
        "event": to_ecs(r),
        "fields": {"seq": r.seq.to_string(), "mac": hex(&r.mac)},
    });
    if let Some(i) = index {
        v["index"] = json!(i);
    }
    v
}

/// One record in Elastic Common Schema field names, as a JSON object, for
/// `audit export` and the SIEM sinks.
pub fn to_ecs(r: &AuditRecord) -> serde_json::Value {
    let ts = rfc3339_utc(r.time_ms);
    let action = r.event.action;
    let category = if action.is_code()
        || action.is_seed()
        || action.is_sms_code()
        || matches!(
            action,
            AuditAction::DeviceJoin | AuditAction::DeviceRefused | AuditAction::SmsRead
        ) {
        "authentication"
    } else if matches!(
        action,
        AuditAction::InviteCreate | AuditAction::DeviceRevoke
    ) {
        "iam"
    } else {
        "configuration"
    };
    let mut v = serde_json::json!({
        "@timestamp": ts,
        "ecs": {"version": "8.11.0"},
        "event": {
            "kind": "event",
            "dataset": "twofill.audit",
            "module": "twofill",
            "action": r.event.action,
            "category": [category],
            "outcome": r.outcome().as_str(),
            "sequence": r.seq,
            "reason": r.event.reason,
            "hash": hex(&r.mac),
        },
        "user": {"name": r.event.user},
        "twofill": {
            "token": {"id": r.event.token_id, "label": r.event.token_label},
            "chain": {"prev_mac": hex(&r.prev_mac), "mac": hex(&r.mac)},
            "extension_id": r.event.extension_id,
        },
    });
    if let Some(origin) = &r.event.origin {
        v["url"] = serde_json::json!({"original": origin, "domain": domain_of(origin)});
    }
    if let Some(browser) = &r.event.browser {
        v["user_agent"] = serde_json::json!({"name": browser});
    }
    v
}

fn domain_of(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    match host.find(']') {
        Some(end) => &host[..=end],
        None => host.split(':').next().unwrap_or(host),
    }
}

/// RFC 3339 UTC with milliseconds, without a date-time dependency.
pub fn rfc3339_utc(time_ms: i64) -> String {
    let secs = time_ms.div_euclid(1000);
    let ms = time_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofill_vault::{AuditAction, AuditEvent};

    fn record(user: &str, reason: Option<&str>) -> AuditRecord {
        AuditRecord {
            seq: 42,
            time_ms: 1_700_000_000_123,
            event: AuditEvent {
                user: user.into(),
                action: AuditAction::CodeFill,
                success: reason.is_none(),
                token_id: Some("t1".into()),
                token_label: Some("GitHub (me|you)".into()),
                origin: Some("https://github.com:443".into()),
                browser: Some("chromium".into()),
                extension_id: Some("abc".into()),
                reason: reason.map(Into::into),
            },
            prev_mac: [1; 32],
            mac: [2; 32],
        }
    }

    #[test]
    fn sd_values_escape_quote_backslash_and_bracket() {
        assert_eq!(sd_escape(r#"a"b\c]d[e"#), r#"a\"b\\c\]d[e"#);
        assert_eq!(sd_escape("plain ünï"), "plain ünï");
    }

    #[test]
    fn rfc5424_has_header_sd_and_msg() {
        let h = SyslogHeader::new(10, "ws 042");
        let m = rfc5424(&h, &record("alice", None));
        // authpriv(10)*8 + notice(5) = 85
        assert!(
            m.starts_with("<85>1 2023-11-14T22:13:20.123Z ws_042 twofill - code.fill [twofill@32473 seq=\"42\" time=\"1700000000123\" action=\"code.fill\" outcome=\"success\" user=\"alice\" token=\"t1\""),
            "{m}"
        );
        assert!(
            m.contains(&format!(" mac=\"{}\"] ", "02".repeat(32))),
            "{m}"
        );
        assert!(m.ends_with("] alice code.fill success: GitHub (me|you) @ https://github.com:443"));
        // A refusal is a warning: 10*8 + 4.
        let m = rfc5424(&h, &record("alice", Some("no grant")));
        assert!(m.starts_with("<84>1 "), "{m}");
        assert!(m.contains(" reason=\"no grant\""));
    }

    #[test]
    fn hostile_values_cannot_break_out_of_the_sd_element() {
        let h = SyslogHeader::new(10, "h");
        let m = rfc5424(&h, &record("evil\"] [x@1 a=\"b\\", None));
        assert!(m.contains(r#"user="evil\"\] [x@1 a=\"b\\""#), "{m}");
        // Exactly one SD element opens before the MSG.
        let sd_start = m.find("[twofill@32473").unwrap();
        let mut depth_end = None;
        let bytes = m.as_bytes();
        let (mut i, mut in_value) = (sd_start, false);
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if in_value => i += 1,
                b'"' => in_value = !in_value,
                b']' if !in_value => {
                    depth_end = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let end = depth_end.unwrap();
        assert!(m[end..].starts_with("] evil"), "{}", &m[end..]);
    }

    #[test]
    fn non_ascii_msg_gets_a_bom_and_header_fields_stay_ascii() {
        let h = SyslogHeader::new(4, "hôte");
        let m = rfc5424(&h, &record("zoë", None));
        assert!(m.contains(" h_te twofill "), "{m}");
        assert!(m.contains("] \u{feff}zoë code.fill"), "{m}");
        assert_eq!(header_field("", 10), "-");
        assert_eq!(header_field(&"x".repeat(40), 32).len(), 32);
    }

    #[test]
    fn octet_counting_counts_bytes_not_chars() {
        let mut out = Vec::new();
        octet_frame("é\nb", &mut out);
        octet_frame("x", &mut out);
        assert_eq!(out, "4 é\nb1 x".as_bytes());
    }

    #[test]
    fn cef_escapes_header_and_extension() {
        assert_eq!(cef_header_escape(r"a|b\c=d"), r"a\|b\\c=d");
        assert_eq!(cef_value_escape("a=b\\c|d\ne\r"), r"a\=b\\c|d\ne\r");
        let c = cef(&record("alice", Some("x=1\ny")));
        assert!(
            c.starts_with(&format!(
                "CEF:0|twofill|twofill-host|{VERSION}|code.fill|code.fill failure|6|rt=1700000000123 externalId=42 act=code.fill outcome=failure suser=alice request=https://github.com:443 dhost=github.com "
            )),
            "{c}"
        );
        assert!(c.contains(r" reason=x\=1\ny "), "{c}");
        assert!(
            c.contains(" cs2=GitHub (me|you) cs2Label=tokenLabel "),
            "{c}"
        );
        assert!(c.contains(&format!(" cs4={} cs4Label=mac ", "02".repeat(32))));
        // Header has exactly 7 unescaped pipes.
        let h = SyslogHeader::new(10, "h");
        let s = cef_syslog(&h, &record("a|b", None));
        assert!(s.starts_with("<85>1 2023-11-14T22:13:20.123Z h twofill - code.fill - CEF:0|"));
    }

    #[test]
    fn hec_event_shape() {
        let v = hec_event(&record("alice", None), "ws", Some("sec"));
        assert_eq!(v["time"], json!(1_700_000_000.123));
        assert_eq!(v["host"], "ws");
        assert_eq!(v["source"], "twofill");
        assert_eq!(v["sourcetype"], "twofill:audit");
        assert_eq!(v["index"], "sec");
        assert_eq!(v["event"]["event"]["sequence"], 42);
        assert_eq!(v["event"]["user"]["name"], "alice");
        assert_eq!(v["fields"]["seq"], "42");
    }

    #[test]
    fn ecs_line_is_one_json_line() {
        let l = ecs_line(&record("a\nb", None));
        assert_eq!(l.matches('\n').count(), 1);
        assert!(l.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["user"]["name"], "a\nb");
    }

    #[test]
    fn enrollment_records_are_categorised_for_ecs() {
        let category = |action| {
            let mut r = record("bob", None);
            r.event.action = action;
            to_ecs(&r)["event"]["category"][0].clone()
        };
        assert_eq!(category(AuditAction::DeviceJoin), "authentication");
        assert_eq!(category(AuditAction::DeviceRefused), "authentication");
        assert_eq!(category(AuditAction::InviteCreate), "iam");
        assert_eq!(category(AuditAction::DeviceRevoke), "iam");
        assert_eq!(category(AuditAction::GrantSet), "configuration");
    }

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn domain_extraction() {
        assert_eq!(domain_of("https://my.kaspersky.com"), "my.kaspersky.com");
        assert_eq!(domain_of("http://a.test:8080"), "a.test");
        assert_eq!(domain_of("http://[::1]:8080"), "[::1]");
    }
}
