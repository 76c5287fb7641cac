//! Form and query parameters as providers send them: names may repeat
//! (Twilio signs every value), order is the sender's.

use crate::IntakeError;

pub(crate) type Params = Vec<(String, String)>;

pub(crate) fn parse_form(text: &str) -> Params {
    form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The query string of `url` (after `?`, before `#`), decoded.
pub(crate) fn query_of(url: &str) -> Params {
    let without_fragment = url.split('#').next().unwrap_or_default();
    match without_fragment.split_once('?') {
        Some((_, query)) => parse_form(query),
        None => Vec::new(),
    }
}

/// The one value of `name`; a missing or repeated one is an error (a
/// repeated field is ambiguous: which one would the text be?).
pub(crate) fn single<'p>(params: &'p Params, name: &'static str) -> Result<&'p str, IntakeError> {
    let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    let first = values.next().ok_or(IntakeError::MissingField(name))?;
    if values.next().is_some() {
        return Err(IntakeError::DuplicateField(name.to_owned()));
    }
    Ok(first)
}
