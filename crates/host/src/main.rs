//! `twofill-host`: one binary, two faces.
//!
//! Launched by a browser (its arguments are a caller origin or a Firefox
//! manifest path plus add-on id) it serves native messages on stdin/stdout.
//! Launched by a person it is the admin command line.

mod caller;
mod cli;
mod config;
mod identity;
mod serve;
mod server;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match caller::from_browser_args(&args) {
        Some(caller) => serve::run(caller),
        None => cli::run(),
    }
}
