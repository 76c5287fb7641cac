//! Single sign-on, as the thin client sees it: every request carries this
//! device's session ticket (header [`SESSION_HEADER`]) beside the device
//! certificate. A ticket that ran out is refreshed first, under the session
//! lock ([`SessionStore::lock`]); a `session_expired` answer is refreshed
//! and retried once — never more, so a server that keeps refusing ends in
//! one clear answer, not a loop. A refresh the server refuses (the person
//! was disabled or left the groups) drops the local session and answers
//! `signed_out` with what to do.
//!
//! The laptop never validates tokens and holds no client secret: the
//! server is the relying party.

use serde::Serialize;
use serde::de::DeserializeOwned;
use twofill_protocol::{ErrorBody, ErrorCode};

use super::session::{SessionStore, StoredSession};
use super::{Server, body};
use crate::server::sealed::KeyStorage;
use twofill_team_api::{
    SSO_CONFIG_PATH, SSO_REFRESH_PATH, SsoConfigReply, SsoRefreshRequest, SsoSession,
};

/// What to run to sign in.
pub const LOGIN_HINT: &str =
    "sign in with `twofill-host login` (or the twofill toolbar button's \"Sign in\")";

/// The errors that mean "the device is fine, its user must sign in".
pub fn is_sign_in_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::SignedOut | ErrorCode::SessionExpired | ErrorCode::SignInAgain
    )
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// New sessions' refresh tokens go to the OS keyring when usable (tests
/// and headless machines set `TWOFILL_NO_KEYRING`, as for `join`).
pub fn keyring_wanted() -> bool {
    std::env::var_os("TWOFILL_NO_KEYRING").is_none()
}

impl Server {
    /// This device's session files.
    pub fn sessions(&self) -> SessionStore {
        SessionStore::new(&self.identity)
    }

    /// The stored session, if it is this server's.
    pub fn session(&self) -> Option<StoredSession> {
        self.sessions()
            .load()
            .ok()
            .flatten()
            .filter(|s| s.server == self.url())
    }

    /// The server's sign-in settings.
    pub fn sso_config(&self) -> Result<SsoConfigReply, ErrorBody> {
        self.get(SSO_CONFIG_PATH)
    }

    /// Keeps a session the server just issued; returns where its refresh
    /// token's key went.
    pub fn keep_session(
        &self,
        session: &SsoSession,
        org_name: Option<String>,
    ) -> anyhow::Result<Option<KeyStorage>> {
        let stored = StoredSession {
            server: self.url(),
            ticket: session.ticket.clone(),
            user: session.user.clone(),
            groups: session.groups.clone(),
            admin: session.admin,
            expires_at_ms: session.expires_at_ms,
            session_max_at_ms: session.session_max_at_ms,
            signed_in_at_ms: session.signed_in_at_ms,
            org_name,
        };
        let storage =
            self.sessions()
                .save(&stored, session.refresh_token.as_deref(), keyring_wanted())?;
        super::device::set_user(&self.identity, &session.user)?;
        Ok(storage)
    }

    /// `POST path` as this device and its signed-in user.
    pub fn call_signed_in<Req: Serialize, Rep: DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
    ) -> Result<Rep, ErrorBody> {
        let mut refreshed = false;
        let ticket = match self.session() {
            Some(s) if s.ticket_fresh(now_ms()) => Some(s.ticket),
            Some(_) => {
                refreshed = true;
                Some(self.refresh(None)?)
            }
            // Never signed in: the server decides whether that is enough
            // (a device-only user when SSO is not required).
            None => None,
        };
        match self.call_with_ticket(path, request, ticket.as_deref()) {
            Err(e) if e.code == ErrorCode::SessionExpired && !refreshed && ticket.is_some() => {
                let ticket = self.refresh(ticket.as_deref())?;
                self.call_with_ticket(path, request, Some(&ticket))
                    .map_err(|e| self.with_org(e))
            }
            other => other.map_err(|e| self.with_org(e)),
        }
    }

    /// A fresh ticket, from the refresh token. `stale` is the ticket the
    /// server just refused, if any: under the lock, a stored ticket that is
    /// neither stale nor expired was refreshed by another host process and
    /// is used as it is.
    fn refresh(&self, stale: Option<&str>) -> Result<String, ErrorBody> {
        let store = self.sessions();
        let storage = |e: anyhow::Error| {
            body(
                ErrorCode::Internal,
                format!("the sign-in session on this computer cannot be used: {e:#}"),
            )
        };
        let _lock = store.lock().map_err(storage)?;
        let current = self.session();
        if let Some(s) = &current
            && s.ticket_fresh(now_ms())
            && Some(s.ticket.as_str()) != stale
        {
            return Ok(s.ticket.clone());
        }
        let org = current.as_ref().and_then(|s| s.org_name.clone());
        let Some(refresh_token) = store.refresh_token().map_err(storage)? else {
            return Err(self.sign_in_error(
                ErrorCode::SessionExpired,
                "your sign-in ran out and cannot be renewed here",
                org,
            ));
        };
        let request = SsoRefreshRequest {
            refresh_token: refresh_token.to_string(),
        };
        match self.call::<_, SsoSession>(SSO_REFRESH_PATH, &request) {
            Ok(session) => {
                self.keep_session(&session, org).map_err(storage)?;
                Ok(session.ticket)
            }
            // The server (or the identity provider behind it) said no: this
            // session is over. Unreachable and the like keep it for later.
            Err(e) if e.code == ErrorCode::SsoRefused || is_sign_in_code(e.code) => {
                let _ = store.remove();
                Err(self.sign_in_error(
                    ErrorCode::SignedOut,
                    &format!(
                        "your organization ended your sign-in ({})",
                        e.message.trim_end_matches('.')
                    ),
                    org,
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// A sign-in error that says which organization and what to run.
    fn sign_in_error(&self, code: ErrorCode, why: &str, org: Option<String>) -> ErrorBody {
        let org = org.or_else(|| self.org_name());
        let mut e = body(
            code,
            format!(
                "{why}: {LOGIN_HINT}{}",
                org.as_deref()
                    .map(|o| format!(" to {o}"))
                    .unwrap_or_default()
            ),
        );
        e.org = org;
        e
    }

    /// Names the organization in a sign-in error that does not yet.
    fn with_org(&self, mut e: ErrorBody) -> ErrorBody {
        if is_sign_in_code(e.code) && e.org.is_none() {
            e.org = self
                .session()
                .and_then(|s| s.org_name)
                .or_else(|| self.org_name());
        }
        e
    }

    /// The organization's name, asked of the server (only on a sign-in
    /// error's way out, so a signed-in request costs nothing more).
    fn org_name(&self) -> Option<String> {
        self.sso_config()
            .ok()
            .map(|c| c.org_name)
            .filter(|n| !n.is_empty())
    }
}
