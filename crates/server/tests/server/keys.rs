//! The data key's protection on a server: a systemd credential or a
//! passphrase from the environment instead of a key file beside the vault.

use std::path::Path;
use std::process::{Command, Output};

use twofill_seal::{DataKey, Protection};

use crate::support::exe;

fn server(state: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(exe());
    command
        .arg("--state")
        .arg(state)
        .args(args)
        .env_remove("CREDENTIALS_DIRECTORY");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_systemd_credential_holds_the_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    // What `systemd-creds encrypt` would hand the service, decrypted.
    twofill_seal::wrap(
        &DataKey::generate(),
        &Protection::KeyFile(credentials.join("twofill-data-key")),
    )
    .unwrap();
    let state = dir.path().join("state");
    let with_credential = [("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap())];
    ok(&server(&state, &with_credential, &["init"]));
    ok(&server(
        &state,
        &with_credential,
        &["admin", "add", "alice"],
    ));
    assert!(
        !state.join("data.key").exists(),
        "a key file beside the vault"
    );
    // Without the credential the vault stays locked.
    let err = refused(&server(&state, &[], &["devices"]));
    assert!(err.contains("cannot open the vault"), "{err}");
}

#[test]
fn a_passphrase_from_the_environment_protects_the_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let pass = [("TF_SERVER_PASS", "correct horse battery staple")];
    ok(&server(
        &state,
        &pass,
        &["--passphrase-env", "TF_SERVER_PASS", "init"],
    ));
    // server.toml remembers where the passphrase comes from.
    ok(&server(&state, &pass, &["admin", "add", "alice"]));
    assert!(!state.join("data.key").exists());
    let err = refused(&server(&state, &[], &["devices"]));
    assert!(
        err.contains("set the environment variable TF_SERVER_PASS"),
        "{err}"
    );
    let err = refused(&server(
        &state,
        &[("TF_SERVER_PASS", "wrong")],
        &["devices"],
    ));
    assert!(err.contains("cannot open the vault"), "{err}");
}
