//! The team server's tests: the real `twofill-server` binary, real mutual
//! TLS, SQLite and a real PostgreSQL, codes checked against oathtool.

mod codes;
mod concurrency;
mod devices;
mod hostile;
mod keys;
mod outage;
mod push;
mod recovery;
mod replicas;
mod siem;
mod sms;
mod sso;
mod support;
mod tampering;
