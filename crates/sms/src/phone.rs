//! Phone numbers: an inbox is an E.164 number, parsed and checked against
//! libphonenumber's metadata (the `phonenumber` crate), so `+1 (800)
//! 555-1212`, `0018005551212` and Vonage's `18005551212` are one inbox.

use serde::Serialize;

use crate::IntakeError;

/// A valid number in E.164 form: `+` and at most 15 digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct E164(String);

/// Why a number was refused, with what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid phone number: {reason}")]
pub struct PhoneError {
    pub input: String,
    pub reason: String,
}

impl PhoneError {
    fn new(input: &str, reason: impl Into<String>) -> PhoneError {
        let mut input: String = input.chars().take(40).collect();
        input.retain(|c| !c.is_control());
        PhoneError {
            input,
            reason: reason.into(),
        }
    }

    /// As the error of a request's field.
    pub(crate) fn field(self, field: &'static str) -> IntakeError {
        IntakeError::InvalidField {
            field,
            reason: self.to_string(),
        }
    }
}

impl E164 {
    /// An international number: `+` or `00` and the country code, or (as
    /// Vonage sends them) the digits alone with the country code first.
    /// Spaces, dots, dashes and parentheses are ignored.
    pub fn parse(raw: &str) -> Result<E164, PhoneError> {
        let trimmed = raw.trim();
        let mut digits = String::new();
        for (i, c) in trimmed.char_indices() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '.' | '-' | '(' | ')' => {}
                _ => {
                    return Err(PhoneError::new(
                        raw,
                        format!(
                            "`{c}` is not part of a number; write it as +, the country code and the number, e.g. +14155550100"
                        ),
                    ));
                }
            }
        }
        let digits = match digits.strip_prefix("00") {
            Some(rest) if !trimmed.starts_with('+') => rest.to_owned(),
            _ => digits,
        };
        if digits.is_empty() {
            return Err(PhoneError::new(raw, "it has no digits"));
        }
        if digits.len() > 15 {
            return Err(PhoneError::new(raw, "E.164 numbers have at most 15 digits"));
        }
        let number = phonenumber::parse(None, format!("+{digits}")).map_err(|e| {
            PhoneError::new(
                raw,
                format!("{e}; write it as +, the country code and the number"),
            )
        })?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::new(
                raw,
                "no such number in its country's numbering plan (check the country code and the digits)",
            ));
        }
        Ok(E164(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for E164 {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<E164, PhoneError> {
        E164::parse(s)
    }
}

/// Who sent an SMS: a number, or what carriers deliver instead (an
/// alphanumeric sender id such as `Google`, or a short code such as
/// `22000`), kept as given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    Number(E164),
    Name(String),
}

/// Alphanumeric sender ids are at most 11 characters (GSM 03.40); short
/// codes at most 8 digits. Some providers pass longer display names, so
/// allow a little more but never free text.
const MAX_SENDER_NAME: usize = 20;

impl Sender {
    pub fn parse(raw: &str) -> Result<Sender, PhoneError> {
        let trimmed = raw.trim();
        let digits = trimmed.bytes().filter(u8::is_ascii_digit).count();
        let looks_like_number = trimmed.starts_with('+') || digits > 8;
        if looks_like_number {
            return E164::parse(trimmed).map(Sender::Number);
        }
        if trimmed.is_empty() {
            return Err(PhoneError::new(raw, "the sender is empty"));
        }
        if trimmed.chars().count() > MAX_SENDER_NAME
            || !trimmed
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '.' | '_' | '&'))
        {
            return Err(PhoneError::new(
                raw,
                "neither a number nor a sender name (letters, digits, at most 20)",
            ));
        }
        Ok(Sender::Name(trimmed.to_owned()))
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            Sender::Name(n) => Some(n),
            Sender::Number(_) => None,
        }
    }
}
