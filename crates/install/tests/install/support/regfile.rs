//! A strict reader for Windows `.reg` files (regedit's "Version 5.00"
//! format), for checking the files `twofill-host install --os windows`
//! writes and the policy examples under `host-manifests/policies/`. It accepts only what
//! those files use — `REG_SZ` strings, `dword:` values, key and value
//! deletion — and rejects anything it does not understand, so an escaping
//! mistake fails a test instead of being skipped.

// The install and host test binaries each use part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Sz(String),
    Dword(u32),
    /// `"name"=-`
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// As written, e.g. `HKEY_LOCAL_MACHINE\SOFTWARE\…`.
    pub path: String,
    /// `[-HKEY_…]`: delete the key.
    pub delete: bool,
    /// Value name (`""` for the default value `@`) and value, in order.
    pub values: Vec<(String, Value)>,
}

#[derive(Debug, Clone, Default)]
pub struct RegFile {
    pub keys: Vec<Key>,
}

/// UTF-16LE with a BOM (what regedit writes) or UTF-8 (with or without BOM).
pub fn decode(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        assert!(rest.len() % 2 == 0, "odd UTF-16 length");
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).expect("valid UTF-16")
    } else {
        let b = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        String::from_utf8(b.to_vec()).expect("valid UTF-8")
    }
}

/// Reads a `"…"` string starting at `s[0] == '"'`; returns it and the rest.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, '"')) => {}
        _ => return Err(format!("expected a quoted string: {s}")),
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                other => return Err(format!("bad escape \\{other:?} in {s}")),
            },
            c => out.push(c),
        }
    }
    Err(format!("unterminated string: {s}"))
}

pub fn parse(text: &str) -> Result<RegFile, String> {
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    if first != "Windows Registry Editor Version 5.00" {
        return Err(format!(
            "first line must be the version header, not {first:?}"
        ));
    }
    let mut file = RegFile::default();
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(inner) = line.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| format!("key line without ]: {line}"))?;
            let (delete, path) = match inner.strip_prefix('-') {
                Some(p) => (true, p),
                None => (false, inner),
            };
            if !(path.starts_with("HKEY_LOCAL_MACHINE\\")
                || path.starts_with("HKEY_CURRENT_USER\\"))
            {
                return Err(format!("unexpected hive in {line}"));
            }
            if path.contains("\\\\") || path.ends_with('\\') {
                return Err(format!("empty key name in {line}"));
            }
            file.keys.push(Key {
                path: path.to_string(),
                delete,
                values: Vec::new(),
            });
            continue;
        }
        let key = file
            .keys
            .last_mut()
            .ok_or_else(|| format!("value before any key: {line}"))?;
        if key.delete {
            return Err(format!("value under a deleted key: {line}"));
        }
        let (name, rest) = if let Some(rest) = line.strip_prefix('@') {
            (String::new(), rest)
        } else {
            quoted(line)?
        };
        let data = rest
            .strip_prefix('=')
            .ok_or_else(|| format!("expected = in {line}"))?;
        let value = if data == "-" {
            Value::Delete
        } else if let Some(hex) = data.strip_prefix("dword:") {
            if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("dword needs 8 hex digits: {line}"));
            }
            Value::Dword(u32::from_str_radix(hex, 16).unwrap())
        } else if data.starts_with('"') {
            let (s, tail) = quoted(data)?;
            if !tail.is_empty() {
                return Err(format!("text after the string: {line}"));
            }
            Value::Sz(s)
        } else {
            return Err(format!("unsupported value type: {line}"));
        };
        if key
            .values
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            return Err(format!("value {name:?} set twice under {}", key.path));
        }
        key.values.push((name, value));
    }
    Ok(file)
}

impl RegFile {
    /// The values of every key, case-insensitively merged by path (later
    /// keys add to earlier ones, as regedit would).
    pub fn tree(&self) -> BTreeMap<String, BTreeMap<String, Value>> {
        let mut t: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        for k in self.keys.iter().filter(|k| !k.delete) {
            let entry = t.entry(k.path.to_ascii_lowercase()).or_default();
            for (n, v) in &k.values {
                entry.insert(n.clone(), v.clone());
            }
        }
        t
    }

    /// The values directly under `path` (case-insensitive).
    pub fn values(&self, path: &str) -> Option<BTreeMap<String, Value>> {
        self.tree().get(&path.to_ascii_lowercase()).cloned()
    }

    /// Paths of the direct subkeys of `path` with their values.
    pub fn subkeys(&self, path: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
        let prefix = format!("{}\\", path.to_ascii_lowercase());
        self.tree()
            .into_iter()
            .filter_map(|(p, v)| {
                let rest = p.strip_prefix(&prefix)?;
                (!rest.contains('\\')).then(|| (rest.to_string(), v))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_strings_dwords_and_deletions() {
        let f = parse(
            "Windows Registry Editor Version 5.00\r\n\r\n; c\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\A]\r\n@=\"C:\\\\x \\\"y\\\"\"\r\n\"n\"=dword:0000000a\r\n[-HKEY_CURRENT_USER\\SOFTWARE\\B]\r\n",
        )
        .unwrap();
        assert_eq!(f.keys.len(), 2);
        assert_eq!(
            f.keys[0].values[0],
            (String::new(), Value::Sz("C:\\x \"y\"".into()))
        );
        assert_eq!(f.keys[0].values[1], ("n".into(), Value::Dword(10)));
        assert!(f.keys[1].delete);
    }

    #[test]
    fn rejects_what_regedit_would_misread() {
        for bad in [
            "REGEDIT4\n",
            "Windows Registry Editor Version 5.00\n[HKEY_LOCAL_MACHINE\\A]\n@=\"C:\\x\"\n",
            "Windows Registry Editor Version 5.00\n[HKEY_LOCAL_MACHINE\\A]\n@=\"unterminated\n",
            "Windows Registry Editor Version 5.00\n@=\"no key\"\n",
            "Windows Registry Editor Version 5.00\n[HKEY_LOCAL_MACHINE\\A]\n\"x\"=dword:1\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
