//! `twofill-answer` over a real vault (SQLite in a temp directory).

mod errors;
mod requests;
mod support;
