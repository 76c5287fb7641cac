//! Finding the one-time code in an SMS, most trustworthy rule first:
//!
//! 1. the origin-bound format (WICG "Origin-bound one-time codes delivered
//!    via SMS"): the last line is `@host #code`, optionally followed by
//!    ` @embedded-host` or ` %embedded-host` (the published spec's sigil and
//!    the draft's / Apple's; both are accepted). Such a code belongs to
//!    that origin only. A last line that tries the format and gets it
//!    wrong yields nothing: guessing a code out of it could hand another
//!    origin's code to this one.
//! 2. per-service message shapes ([`SENDER_PATTERNS`]).
//! 3. a conservative fallback: a 4–8 character run of ASCII letters and
//!    digits, with at least one digit, right next to a word for "code" in
//!    the languages the detector covers, and not part of a longer number,
//!    a date, an amount or a phone number.
//!
//! A message without a code gives `None`; it is still a message.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Extracted {
    pub code: String,
    /// `https://host` for an origin-bound code: offered only there.
    pub bound_origin: Option<String>,
    /// The embedded (iframe) origin the code is for, inside `bound_origin`.
    pub embedded_origin: Option<String>,
    pub rule: ExtractionRule,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractionRule {
    OriginBound,
    /// The name of the [`SENDER_PATTERNS`] entry.
    SenderPattern(&'static str),
    Fallback,
}

/// Messages longer than this are not searched (an SMS is at most 1600
/// characters in any provider's webhook).
const MAX_TEXT: usize = 4096;
/// The WICG format does not bound the code; this does, so that nothing
/// long ends up typed into a page.
const MAX_BOUND_CODE: usize = 32;

pub fn extract(text: &str) -> Option<Extracted> {
    if text.len() > MAX_TEXT {
        return None;
    }
    match origin_bound(text) {
        OriginBound::Found(found) => return Some(found),
        OriginBound::Malformed => return None,
        OriginBound::Absent => {}
    }
    sender_pattern(text).or_else(|| fallback(text))
}

enum OriginBound {
    Absent,
    Malformed,
    Found(Extracted),
}

fn origin_bound(text: &str) -> OriginBound {
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    // A forwarder's trailing newline does not make an empty last line.
    let trimmed = normalised.trim_end_matches('\n');
    let last = trimmed.rsplit('\n').next().unwrap_or_default();
    let attempt = last.trim_start();
    if !(attempt.starts_with('@') && attempt.contains('#')) {
        // "@anna see you at 5" is a mention, not an attempt at the format.
        return OriginBound::Absent;
    }
    // Nothing may precede the `@`.
    let Some(rest) = last.strip_prefix('@') else {
        return OriginBound::Malformed;
    };
    let (host, rest) = split_token(rest);
    let Some(host) = valid_host(host) else {
        return OriginBound::Malformed;
    };
    let Some(rest) = rest.strip_prefix(" #") else {
        return OriginBound::Malformed;
    };
    let (code, rest) = split_token(rest);
    if code.is_empty()
        || code.len() > MAX_BOUND_CODE
        || !code.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return OriginBound::Malformed;
    }
    let embedded = match rest.strip_prefix(" @").or_else(|| rest.strip_prefix(" %")) {
        Some(after) => match valid_host(split_token(after).0) {
            Some(embedded) => Some(format!("https://{embedded}")),
            None => return OriginBound::Malformed,
        },
        // Anything else after the code is ignored, as the spec says.
        None => None,
    };
    OriginBound::Found(Extracted {
        code: code.to_owned(),
        bound_origin: Some(format!("https://{host}")),
        embedded_origin: embedded,
        rule: ExtractionRule::OriginBound,
    })
}

/// Up to the first ASCII whitespace, and the rest from there.
fn split_token(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    s.split_at(end)
}

/// A DNS host name in ASCII (punycode for IDNs), lower-cased.
fn valid_host(host: &str) -> Option<String> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    ok.then(|| host.to_ascii_lowercase())
}

/// A service's known message shape: `pattern`'s first group is the code.
pub struct SenderPattern {
    pub name: &'static str,
    pub pattern: &'static str,
}

/// Known shapes. Only the first is seen in a public parser
/// (hackclub/mfa `parseCode.ts`: `(G-\d+) is your Google`); the others are
/// UNVERIFIED (no real sample here: they follow the services' usual
/// wording and need confirming with real messages).
pub const SENDER_PATTERNS: &[SenderPattern] = &[
    // Google's field takes the digits; "G-" is shown beside it.
    SenderPattern {
        name: "google",
        pattern: r"\bG-(\d{4,8}) is your Google verification code",
    },
    // UNVERIFIED: Kaspersky-style "Your code: 123456".
    SenderPattern {
        name: "your-code-colon",
        pattern: r"(?i)\byour (?:[a-z]+ )?code: ?(\d{4,8})\b",
    },
    // UNVERIFIED: "Use 1234567 as Microsoft account security code".
    SenderPattern {
        name: "microsoft",
        pattern: r"(?i)\buse (\d{4,8}) as (?:your )?microsoft account security code",
    },
    // UNVERIFIED: "Your Apple Account code is: 123456".
    SenderPattern {
        name: "apple",
        pattern: r"(?i)\bapple (?:id|account) (?:verification )?code is:? ?(\d{6})\b",
    },
];

static COMPILED: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    SENDER_PATTERNS
        .iter()
        .map(|p| (p.name, Regex::new(p.pattern).expect("a valid pattern")))
        .collect()
});

fn sender_pattern(text: &str) -> Option<Extracted> {
    COMPILED.iter().find_map(|(name, re)| {
        let code = re.captures(text)?.get(1)?.as_str();
        Some(Extracted {
            code: code.to_owned(),
            bound_origin: None,
            embedded_origin: None,
            rule: ExtractionRule::SenderPattern(name),
        })
    })
}

/// "Code" in the languages `crates/detection/src/words.rs` covers
/// (English, German, French, Spanish, Portuguese, Italian, Polish, Dutch,
/// Russian, Greek, Japanese, Chinese, Korean), lower-case, matched as
/// substrings (so `Bestätigungscode`, `kodu`, `验证码` count). An entry
/// starting with `^` is a whole word.
///
/// TODO(lead): the detector's `CODE_WORD` list is private to
/// `twofill-detection` (`mod words`); once it is exported (or moved to
/// `twofill-words`), use it here instead of this copy.
const CODE_WORDS: &[&str] = &[
    "code",
    "^otp",
    "^pin",
    "^tan",
    "kod",
    "kód",
    "código",
    "codice",
    "код",
    "κωδικ",
    "コード",
    "番号",
    "码",
    "碼",
    "코드",
    "번호",
];

/// A line with one of these is an advert, whose "code" is a coupon.
const PROMO_WORDS: &[&str] = &[
    "promo",
    "coupon",
    "discount",
    "rabatt",
    "gutschein",
    "réduction",
    "descuento",
    "sconto",
    "скидк",
    "промокод",
];

/// How far (in characters) a code may be from its code word.
const MAX_GAP: usize = 24;

fn fallback(text: &str) -> Option<Extracted> {
    let mut best: Option<(usize, String)> = None;
    let mut tie = false;
    for line in text.lines() {
        for (gap, code) in line_candidates(line) {
            match &best {
                Some((g, c)) if gap == *g && code != *c => tie = true,
                Some((g, _)) if gap >= *g => {}
                _ => {
                    best = Some((gap, code));
                    tie = false;
                }
            }
        }
    }
    if tie {
        return None;
    }
    best.map(|(_, code)| Extracted {
        code,
        bound_origin: None,
        embedded_origin: None,
        rule: ExtractionRule::Fallback,
    })
}

/// Each plausible code in `line` with its distance to the nearest code word.
fn line_candidates(line: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = line.chars().collect();
    // The lower-cased line, with each of its bytes' original char index.
    let mut lower = String::new();
    let mut origin = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        let start = lower.len();
        lower.extend(c.to_lowercase());
        origin.resize(origin.len() + (lower.len() - start), i);
    }
    if PROMO_WORDS.iter().any(|w| lower.contains(w)) {
        return Vec::new();
    }
    let mut words: Vec<(usize, usize)> = Vec::new();
    for entry in CODE_WORDS {
        let (word, whole) = match entry.strip_prefix('^') {
            Some(w) => (w, true),
            None => (*entry, false),
        };
        for (at, _) in lower.match_indices(word) {
            let (start, end) = (origin[at], origin[at + word.len() - 1] + 1);
            let boundary = |i: Option<usize>| {
                i.and_then(|i| chars.get(i))
                    .is_none_or(|c| !c.is_alphanumeric())
            };
            if whole && !(boundary(start.checked_sub(1)) && boundary(Some(end))) {
                continue;
            }
            words.push((start, end));
        }
    }
    if words.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        if !plausible_code(&token) || part_of_something_else(&chars, start, i) {
            continue;
        }
        let gap = words
            .iter()
            .filter_map(|&(ws, we)| {
                let (from, to) = if we <= start {
                    (we, start)
                } else if ws >= i {
                    (i, ws)
                } else {
                    return None; // the word is inside the token
                };
                let between = &chars[from..to];
                let sentence_break = between
                    .iter()
                    .any(|c| matches!(c, '.' | '!' | '?' | ';' | '。' | '！' | '？'));
                (between.len() <= MAX_GAP && !sentence_break).then_some(between.len())
            })
            .min();
        if let Some(gap) = gap {
            out.push((gap, token));
        }
    }
    out
}

fn plausible_code(token: &str) -> bool {
    (4..=8).contains(&token.len()) && token.bytes().any(|b| b.is_ascii_digit())
}

/// The token `chars[start..end]` continues a longer number (`1234.50`,
/// `2026-12-03`, `555-0100`), is a phone number (`+1…`), an order or
/// ticket number (`#4821`), or an amount (`$1234`, `1234 €`).
fn part_of_something_else(chars: &[char], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).map(|i| chars[i]);
    let before2 = start.checked_sub(2).map(|i| chars[i]);
    let after = chars.get(end).copied();
    let after2 = chars.get(end + 1).copied();
    let joins = |c: Option<char>| matches!(c, Some('.' | ',' | ':' | '/' | '-'));
    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    let money = |c: Option<char>| matches!(c, Some('$' | '€' | '£' | '¥' | '₽' | '%'));
    (joins(before) && digit(before2))
        || (joins(after) && digit(after2))
        || matches!(before, Some('+' | '#'))
        || money(before)
        || money(after)
        || (after == Some(' ') && money(after2))
        || (after == Some(' ') && currency_code(&chars[end + 1..]))
}

/// `EUR`, `USD`, … as the next word.
fn currency_code(rest: &[char]) -> bool {
    const CODES: &[&str] = &[
        "EUR", "USD", "GBP", "CHF", "PLN", "RUB", "JPY", "CNY", "KRW",
    ];
    let word: String = rest.iter().take_while(|c| c.is_alphabetic()).collect();
    CODES.contains(&word.to_uppercase().as_str())
}
