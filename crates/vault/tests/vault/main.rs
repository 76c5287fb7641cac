//! The vault's integration tests, one binary (`autotests = false`): each
//! module is one area, `support` is what they share.

mod audit_chain;
mod enrollment;
mod group_commit;
mod hotp;
mod integrity;
mod open_and_migrate;
mod permissions;
mod personal;
mod postgres_store;
mod push;
mod rate_limit;
mod recovery;
mod siem_cursors;
mod site_lookup;
mod sms_inbox;
mod sso;
mod support;
