//! Team server mode: the host as a thin client.
//!
//! With `[server]` in the config in force, the host never opens a local
//! vault: `list_tokens`, `get_code` and `reveal_seed` become calls to the
//! team server over mutual TLS (this device's certificate, the CA pinned at
//! `join`), carrying the origin the browser reported, and the server's
//! replies go back to the extension in the native protocol's shapes. The
//! rules, the audit log and the seeds are all on the server.
//!
//! Every failure becomes an [`ErrorBody`] that says what to do: the server
//! cannot be reached (or is not the pinned one) → `server_unreachable`; it
//! no longer accepts this device → `device_revoked`; no identity here →
//! `device_not_enrolled`; anything the server refused → its own reply, as
//! it sent it. With single sign-on every request also carries this
//! device's session ticket, refreshed when it runs out ([`sso`]).

pub mod callback;
pub mod device;
pub mod http;
pub mod pkce;
pub mod sealed;
pub mod session;
pub mod sso;

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twofill_protocol::{ErrorBody, ErrorCode};
use twofill_team_api::ErrorReply;

use crate::config::ServerTarget;
use device::Enrollment;
use http::{Client, HttpError, ServerUrl};

/// What the user should run to (re-)enroll this device.
pub fn join_hint(url: &str) -> String {
    format!("run `twofill-host join {url} --invite <invite>` with a new invite from your admin")
}

pub(crate) fn body(code: ErrorCode, message: String) -> ErrorBody {
    ErrorBody {
        code,
        message,
        candidates: Vec::new(),
        retry_after_ms: None,
        org: None,
    }
}

/// The team server, as this device.
pub struct Server {
    client: Client,
    enrollment: Enrollment,
    /// The config file to name in messages.
    config: String,
    /// Where the device identity (and its sign-in session) lives.
    identity: PathBuf,
}

impl Server {
    /// Opens this device's identity for `target`. `config` names the config
    /// file in messages.
    pub fn open(target: &ServerTarget, config: &str) -> Result<Server, ErrorBody> {
        let url = ServerUrl::parse(&target.url).map_err(|e| {
            body(
                ErrorCode::ServerUnreachable,
                format!("{e}; fix the server URL in {config}"),
            )
        })?;
        let hint = join_hint(&url.to_string());
        let not_enrolled =
            |why: String| body(ErrorCode::DeviceNotEnrolled, format!("{why}; {hint}"));
        let identity = match device::load(&target.identity) {
            Ok(Some(identity)) => identity,
            Ok(None) => {
                return Err(not_enrolled(format!(
                    "this computer has not joined the team server {url} (no device identity in {})",
                    target.identity.display()
                )));
            }
            Err(e) => return Err(not_enrolled(format!("{e:#}"))),
        };
        if identity.enrollment.server != url.to_string() {
            return Err(not_enrolled(format!(
                "this device joined {}, but {config} names {url}",
                identity.enrollment.server
            )));
        }
        let client = Client::pinned(url, identity.ca, Some((identity.chain, identity.key)))
            .map_err(|e| not_enrolled(e.to_string()))?;
        Ok(Server {
            client,
            enrollment: identity.enrollment,
            config: config.to_owned(),
            identity: target.identity.clone(),
        })
    }

    pub fn enrollment(&self) -> &Enrollment {
        &self.enrollment
    }

    pub fn url(&self) -> String {
        self.client.url().to_string()
    }

    /// `POST path` with `request` as JSON; the reply decoded, or the error
    /// to hand the extension.
    /// Without a session ticket: the sign-in paths themselves. Everything
    /// else goes through [`Server::call_signed_in`].
    pub fn call<Req: Serialize, Rep: DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
    ) -> Result<Rep, ErrorBody> {
        self.call_with_ticket(path, request, None)
    }

    /// `POST path`, with the session ticket in its header when given.
    fn call_with_ticket<Req: Serialize, Rep: DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
        ticket: Option<&str>,
    ) -> Result<Rep, ErrorBody> {
        let json = serde_json::to_vec(request).expect("requests always serialise");
        let headers: Vec<(&str, &str)> = ticket
            .map(|t| (twofill_team_api::SESSION_HEADER, t))
            .into_iter()
            .collect();
        let reply = self
            .client
            .post_json_with(path, &json, &headers)
            .map_err(|e| self.transport_error(e))?;
        self.decode(reply)
    }

    /// `GET path` as this device (no ticket).
    pub fn get<Rep: DeserializeOwned>(&self, path: &str) -> Result<Rep, ErrorBody> {
        let reply = self
            .client
            .get_with(path, &[])
            .map_err(|e| self.transport_error(e))?;
        self.decode(reply)
    }

    fn decode<Rep: DeserializeOwned>(&self, reply: http::Reply) -> Result<Rep, ErrorBody> {
        if reply.status == 200 {
            return serde_json::from_slice(&reply.body).map_err(|e| {
                self.unreachable(format!(
                    "{} sent a reply this host does not understand ({e}); is it a twofill team server of a matching version?",
                    self.url()
                ))
            });
        }
        Err(self.refusal(reply.status, &reply.body))
    }

    fn unreachable(&self, why: String) -> ErrorBody {
        body(
            ErrorCode::ServerUnreachable,
            format!(
                "{why}. Check your network, or the server URL in {}",
                self.config
            ),
        )
    }

    fn revoked(&self) -> ErrorBody {
        body(
            ErrorCode::DeviceRevoked,
            format!(
                "the team server {} no longer accepts this device (an admin revoked it); {}",
                self.url(),
                join_hint(&self.url())
            ),
        )
    }

    fn transport_error(&self, e: HttpError) -> ErrorBody {
        match e {
            HttpError::Unreachable(why) => {
                self.unreachable(format!("cannot reach the team server: {why}"))
            }
            HttpError::UntrustedServer(why) => self.unreachable(format!(
                "{why}; someone may be in the middle, or the server was replaced (then {})",
                join_hint(&self.url())
            )),
            HttpError::ClientCertificateRefused(_) => self.revoked(),
        }
    }

    /// A non-200 reply. 401 means the server does not take this device's
    /// certificate, which it issued: revoked (the server says no more, on
    /// purpose), unless it says it does not know the device at all, or that
    /// the device is fine but its user must sign in (the sign-in codes).
    fn refusal(&self, status: u16, reply: &[u8]) -> ErrorBody {
        let error = serde_json::from_slice::<ErrorReply>(reply)
            .ok()
            .map(|r| r.error);
        match (status, error) {
            (401, Some(e)) if e.code == ErrorCode::DeviceNotEnrolled => body(
                ErrorCode::DeviceNotEnrolled,
                format!(
                    "the team server {} does not know this device; {}",
                    self.url(),
                    join_hint(&self.url())
                ),
            ),
            (401, Some(e)) if sso::is_sign_in_code(e.code) => e,
            (401, _) => self.revoked(),
            (_, Some(e)) => e,
            (_, None) => self.unreachable(format!(
                "{} answered HTTP {status} without a twofill reply; is it the team server?",
                self.url()
            )),
        }
    }
}
