//! Recovery (backup) codes as admins have them: pasted one per line, or
//! the file a service lets them download. Those files wrap the codes in
//! headers, numbering, columns and notes:
//!
//! - GitHub (`github-recovery-codes.txt`): one `xxxxx-xxxxx` per line;
//! - Google (`Backup-codes-NAME.txt`): a title, then `1. 1234 5678` in two
//!   columns, then notes ("* You can only use each backup code once.");
//! - Kaspersky and most others: a numbered list (`1. abcd-efgh`,
//!   `1) …`, `- …`), sometimes with a header line.
//!
//! A line is codes when every column of it (columns are split by a tab or
//! two or more spaces) is one code after its numbering is dropped: letters,
//! digits and dashes (single spaces inside are dropped, as in Google's
//! `1234 5678`), with a digit or in dash-separated groups of one length
//! (`abcde-fghij`). Any other line is text (headers, notes, dates, links)
//! and is counted, not kept. Empty lines are ignored. Duplicates, a file
//! that is not text (an image, a PDF, binary) or JSON are errors, so
//! nothing is saved from them.

use std::collections::HashMap;

/// Largest recovery-code input read, in bytes (a service's file is < 2 KiB).
pub const MAX_RECOVERY_INPUT_BYTES: usize = 64 * 1024;

/// The codes read from one input, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodes {
    /// The codes, each as the service will accept it.
    pub codes: Vec<String>,
    /// Lines that were not codes (headers, notes), left out.
    pub text_lines: usize,
}

/// Why an input gives no recovery codes; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryInputError {
    /// Empty or only blank lines.
    #[error(
        "no recovery codes given: the input is empty; paste the codes the service shows, one per line, or give the file it lets you download"
    )]
    Empty,
    /// Larger than [`MAX_RECOVERY_INPUT_BYTES`].
    #[error(
        "the input is {len} bytes, more than a recovery-code file ({max} bytes at most); give the service's recovery-code file itself"
    )]
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not text: an image, a PDF, an archive or other binary data.
    #[error(
        "this is {what}, not a text file of recovery codes; download the codes as text (or copy them) from the service's 2FA settings; nothing was saved"
    )]
    NotText {
        /// What it looks like ("a PNG image", "binary data").
        what: &'static str,
    },
    /// JSON (an export of something else, or a service's API answer).
    #[error(
        "this is JSON, not a list of recovery codes; give the codes as text, one per line; nothing was saved"
    )]
    Json,
    /// Text with no line that is a code.
    #[error(
        "no recovery codes found in {text_lines} lines of text; give the codes one per line (e.g. `abcd-1234`); nothing was saved"
    )]
    NoCodes {
        /// How many lines were read as text.
        text_lines: usize,
    },
    /// A code given twice.
    #[error(
        "recovery code {code_number} (line {line}) is the same as code {first_number} (line {first_line}); each code is single-use, so a duplicate is a copying mistake; nothing was saved"
    )]
    Duplicate {
        /// 1-based position of the second copy among the codes.
        code_number: usize,
        /// The second copy's line.
        line: usize,
        /// 1-based position of the first copy among the codes.
        first_number: usize,
        /// The first copy's line.
        first_line: usize,
    },
}

/// Reads recovery codes from pasted text or a downloaded file's bytes.
pub fn recovery_codes(input: &[u8]) -> Result<RecoveryCodes, RecoveryInputError> {
    if input.len() > MAX_RECOVERY_INPUT_BYTES {
        return Err(RecoveryInputError::TooLarge {
            len: input.len(),
            max: MAX_RECOVERY_INPUT_BYTES,
        });
    }
    if let Some(what) = binary_kind(input) {
        return Err(RecoveryInputError::NotText { what });
    }
    let text = std::str::from_utf8(input).map_err(|_| RecoveryInputError::NotText {
        what: "not UTF-8 text",
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(RecoveryInputError::Empty);
    }
    if (trimmed.starts_with('{') || trimmed.starts_with('[')) && serde_json_like(trimmed) {
        return Err(RecoveryInputError::Json);
    }
    // Each code with its list number, if it had one.
    let mut codes: Vec<(Option<u32>, String)> = Vec::new();
    let mut text_lines = 0;
    // Code text → (its number, its line).
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(found) = codes_of_line(line) else {
            text_lines += 1;
            continue;
        };
        for (list_number, code) in found {
            let number = codes.len() + 1;
            if let Some(&(first_number, first_line)) = seen.get(&code) {
                return Err(RecoveryInputError::Duplicate {
                    code_number: number,
                    line: line_no,
                    first_number,
                    first_line,
                });
            }
            seen.insert(code.clone(), (number, line_no));
            codes.push((list_number, code));
        }
    }
    if codes.is_empty() {
        return Err(RecoveryInputError::NoCodes { text_lines });
    }
    // A numbered list in columns (Google's 1 and 6 on one line) is kept in
    // the service's order when every code has its own number.
    let mut numbers: Vec<Option<u32>> = codes.iter().map(|(n, _)| *n).collect();
    numbers.sort();
    numbers.dedup();
    if numbers.len() == codes.len() && numbers.iter().all(Option::is_some) {
        codes.sort_by_key(|(n, _)| *n);
    }
    Ok(RecoveryCodes {
        codes: codes.into_iter().map(|(_, c)| c).collect(),
        text_lines,
    })
}

/// What a non-text input is, from its first bytes.
fn binary_kind(input: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive (or an office document)"),
        (b"RIFF", "a RIFF file (WebP image or media)"),
        (b"\xff\xfe", "UTF-16 text (save it as UTF-8)"),
        (b"\xfe\xff", "UTF-16 text (save it as UTF-8)"),
    ];
    for (magic, what) in MAGIC {
        if input.starts_with(magic) {
            return Some(what);
        }
    }
    let controls = input
        .iter()
        .any(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t')));
    controls.then_some("binary data")
}

/// Whether text that opens like JSON is JSON-shaped: it has a quoted key
/// or string, so a pasted `[1] abcd-1234` list is not taken for JSON.
fn serde_json_like(text: &str) -> bool {
    text.contains('"') && (text.ends_with('}') || text.ends_with(']'))
}

/// The codes on one line with their list numbers, or `None` when it is text.
fn codes_of_line(line: &str) -> Option<Vec<(Option<u32>, String)>> {
    let mut out = Vec::new();
    for column in columns(line) {
        let (number, rest) = strip_numbering(column);
        out.push((number, code_of(rest)?));
    }
    (!out.is_empty()).then_some(out)
}

/// A line's columns: split at tabs and runs of two or more spaces.
fn columns(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let gap = if bytes[i] == b'\t' {
            1
        } else if bytes[i] == b' ' && bytes.get(i + 1) == Some(&b' ') {
            bytes[i..].iter().take_while(|&&b| b == b' ').count()
        } else {
            0
        };
        if gap > 0 {
            out.push(&line[start..i]);
            i += gap;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&line[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// Drops list numbering (`1. `, `12) `, `#3 `, kept as the number) and
/// bullets (`- `, `* `, `• `).
fn strip_numbering(column: &str) -> (Option<u32>, &str) {
    let column = column.trim();
    for bullet in ["- ", "* ", "• "] {
        if let Some(rest) = column.strip_prefix(bullet) {
            return (None, rest.trim_start());
        }
    }
    let rest = column.strip_prefix('#').unwrap_or(column);
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let (number, after) = rest.split_at(digits);
        for mark in [". ", ") ", ": "] {
            if let Some(code) = after.strip_prefix(mark) {
                return (number.parse().ok(), code.trim_start());
            }
        }
    }
    (None, column)
}

/// A column as one code: its single spaces dropped, then letters, digits
/// and dashes only, 4–64 long, with a digit or in equal dash groups.
fn code_of(column: &str) -> Option<String> {
    let code: String = column.split(' ').collect();
    let well_formed = (4..=64).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !code.starts_with('-')
        && !code.ends_with('-');
    if !well_formed {
        return None;
    }
    let has_digit = code.bytes().any(|b| b.is_ascii_digit());
    let groups: Vec<&str> = code.split('-').collect();
    let equal_groups = groups.len() > 1
        && groups[0].len() >= 3
        && groups.iter().all(|g| g.len() == groups[0].len());
    (has_digit || equal_groups).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_and_columns() {
        assert_eq!(strip_numbering("1. abcd"), (Some(1), "abcd"));
        assert_eq!(strip_numbering("12) abcd"), (Some(12), "abcd"));
        assert_eq!(strip_numbering("- abcd"), (None, "abcd"));
        assert_eq!(strip_numbering("2024-01"), (None, "2024-01"));
        assert_eq!(
            columns("1. 1234 5678\t\t6. 2345 6789"),
            ["1. 1234 5678", "6. 2345 6789"]
        );
        assert_eq!(code_of("1234 5678").as_deref(), Some("12345678"));
        assert_eq!(code_of("abcde-fghij").as_deref(), Some("abcde-fghij"));
        assert_eq!(code_of("two-factor"), None);
        assert_eq!(code_of("SAVE YOUR BACKUP CODES"), None);
        assert_eq!(code_of("Generated: Oct 3, 2021"), None);
    }
}
