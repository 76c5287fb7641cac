//! Independent computations: signatures are computed by Python's `hmac` and
//! `hashlib`, never by the code under test.

use std::process::Command;

/// Run `python3 -c script args…` and return its stdout, trimmed.
pub fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs (the reference implementation of the signatures)");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `application/x-www-form-urlencoded` for `pairs`, encoded by Python.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut args = Vec::new();
    for (k, v) in pairs {
        args.push(*k);
        args.push(*v);
    }
    python(
        "import sys, urllib.parse as u; a=sys.argv[1:]; print(u.urlencode(list(zip(a[::2], a[1::2]))))",
        &args,
    )
}

/// A fixed "now" for the tests (2026-12-03T12:00:00Z).
pub const NOW: u64 = 1_796_299_200;
