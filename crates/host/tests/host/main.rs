//! twofill-host's integration tests: one test binary (`cargo test -p
//! twofill-host --test host`), one module per area, one `support` module.
//!
//! Every test drives the real `twofill-host` binary in its own temporary
//! directory (vault, config, HOME, staging root, loopback port 0), so the
//! tests share no state and run in parallel threads of this one process.
//! Nothing here may change the process environment or current directory
//! (`std::env::set_var`, `set_current_dir`): pass them to the child instead.

mod support;

mod cli_output;
mod crash_safety;
mod enrollment;
mod hostile_input;
mod keyring;
mod native_messaging;
mod personal_and_policy;
mod rate_limit;
mod read_roles;
mod recovery;
mod siem_http;
mod siem_syslog;
mod sms;
mod sso;
mod system_install;
mod team_server;
mod vault_files;
