//! Single sign-on: the identity provider's subject linked to a twofill
//! user (created just in time), the groups the provider's claims map to,
//! one session per device (the ticket kept as its SHA-256 only), disabled
//! users, and the offboarding report. The server validates the provider's
//! tokens; the vault decides what a validated sign-in may change and
//! whether a ticket is good, and records each step.
//!
//! Rules, in one place: a ticket is valid only for the device it was issued
//! to, until `expires_at` (refresh), and never past `max_at` (sign in
//! again); a disabled user's sessions are ended and their devices get
//! nothing; a sign-in changes only the memberships of the groups the
//! mapping manages.

use twofill_words::{AuditAction, unix_now_ms};

use crate::admin::{Change, last_admin, valid_name};
use crate::audit::About;
use crate::store::{DisabledUserRow, SsoIdentityRow, SsoSessionRow, StoreRead};
use crate::{DeviceRecord, Refusal, Requester, Result, Vault, VaultError};

/// The user an `invite --sso` enrolls a device for until its first
/// sign-in, which gives the device to whoever signed in.
pub const SSO_PENDING_USER_PREFIX: &str = "sso-pending-";

/// A sign-in (or refresh) whose ID token the server validated.
#[derive(Debug, Clone)]
pub struct SsoSignIn<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    /// The email claim: the twofill user name of a new user.
    pub email: &'a str,
    pub device: &'a DeviceRecord,
    pub ticket_sha256: [u8; 32],
    /// When the user authenticated at the provider (`auth_time`).
    pub signed_in_at_ms: i64,
    pub expires_at_ms: i64,
    pub max_at_ms: i64,
    /// The twofill groups the provider's group claim maps to.
    pub groups: &'a [String],
    /// Every twofill group the mapping manages: memberships in these follow
    /// the claim; others are left as admins set them.
    pub managed_groups: &'a [String],
    /// `Some(in the admin group)` when an admin group is configured.
    pub admin: Option<bool>,
    /// A refresh (audited as `sso.refresh`) rather than a sign-in.
    pub refresh: bool,
}

/// A device's session, as the server answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSessionRecord {
    pub user: String,
    pub device_id: String,
    pub groups: Vec<String>,
    pub admin: bool,
    pub signed_in_at_ms: i64,
    pub expires_at_ms: i64,
    pub max_at_ms: i64,
}

impl SsoSessionRecord {
    /// The sign-in is recent enough for a step-up action (a seed reveal).
    pub fn signed_in_within(&self, window_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.signed_in_at_ms) <= window_ms
    }
}

/// What an admin needs when someone leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffboardingReport {
    pub user: String,
    pub disabled: bool,
    /// Tokens whose seed the user was handed (id, label, last time): rotate.
    pub revealed: Vec<(String, String, i64)>,
    /// Tokens the user only got codes for (id, label): nothing to rotate.
    pub code_only: Vec<(String, String)>,
    pub devices: Vec<DeviceRecord>,
    pub last_activity_ms: Option<i64>,
}

impl Vault {
    /// Applies a validated sign-in in one write transaction: links (or
    /// creates) the user, checks the device is theirs and they are not
    /// disabled, maps groups and the admin flag (each change audited as
    /// `sso.group_mapped`), and stores the device's session, replacing its
    /// earlier one. A refusal is recorded as `sso.refused` with its reason.
    pub fn sso_sign_in(&mut self, s: &SsoSignIn<'_>) -> Result<SsoSessionRecord> {
        let result = (|| {
            let tx = self.store.begin_write()?;
            let c = Change {
                tx: &*tx,
                audit_key: &self.audit_key,
                authz: &self.authz_key,
                who: Requester::cli(&s.device.user),
                action: AuditAction::SsoRefused,
            };
            match link_and_check(&c, s)? {
                Err(refusal) => {
                    c.refuse(None, &refusal)?;
                    tx.commit()?;
                    Err(VaultError::Refused(refusal))
                }
                Ok(user) => {
                    let c = Change {
                        who: Requester::cli(&user),
                        action: AuditAction::SsoGroupMapped,
                        ..c
                    };
                    map_groups(&c, &user, s)?;
                    let row = c.authz.sso_session_with_mac(SsoSessionRow {
                        device_id: s.device.id.clone(),
                        ticket_sha256: s.ticket_sha256,
                        user: user.clone(),
                        signed_in_at_ms: s.signed_in_at_ms,
                        expires_at_ms: s.expires_at_ms,
                        max_at_ms: s.max_at_ms,
                        mac: [0; 32],
                    });
                    c.tx.put_sso_session(&row)?;
                    let record = session_record(&c, row)?;
                    let c = Change {
                        action: if s.refresh {
                            AuditAction::SsoRefresh
                        } else {
                            AuditAction::SsoLogin
                        },
                        ..c
                    };
                    c.record(
                        None,
                        format!(
                            "device {}; subject {} at {}; groups: {}; admin: {}; expires at {} ms",
                            s.device.id,
                            s.subject,
                            s.issuer,
                            record.groups.join(", "),
                            record.admin,
                            record.expires_at_ms
                        ),
                    )?;
                    tx.commit()?;
                    Ok(record)
                }
            }
        })();
        let who = Requester::cli(&s.device.user);
        self.noting_tampering(&who, AuditAction::SsoRefused, None, result)
    }

    /// The session `ticket_sha256` opens on `device`: refused as signed out
    /// (no session, or a ticket that is not this device's), expired (refresh
    /// it), past its maximum age (sign in again), or a disabled user. A
    /// ticket presented on a device it is not for is recorded.
    pub fn sso_session(
        &mut self,
        device: &DeviceRecord,
        ticket_sha256: &[u8; 32],
    ) -> Result<SsoSessionRecord> {
        let now = unix_now_ms();
        let refusal = (|| {
            let store = self.store.reader()?;
            let row = self.authz_key.sso_session(store.sso_session(&device.id)?)?;
            let Some(row) = row else {
                return Ok(Err((Refusal::SignedOut, true)));
            };
            // A hash compare leaks nothing usable about the ticket itself.
            if &row.ticket_sha256 != ticket_sha256 || row.user != device.user {
                return Ok(Err((Refusal::SignedOut, true)));
            }
            if self.is_disabled(&*store, &row.user)? {
                return Ok(Err((
                    Refusal::UserDisabled {
                        user: row.user.clone(),
                    },
                    true,
                )));
            }
            if now >= row.max_at_ms {
                return Ok(Err((
                    Refusal::SignInAgain {
                        why: "the session reached the organization's maximum age".into(),
                    },
                    false,
                )));
            }
            if now >= row.expires_at_ms {
                return Ok(Err((Refusal::SessionExpired, false)));
            }
            Ok(Ok(row))
        })();
        let refusal = self.noting_tampering(
            &Requester::cli(&device.user),
            AuditAction::SsoRefused,
            None,
            refusal,
        )?;
        match refusal {
            Ok(row) => {
                let store = self.store.reader()?;
                read_session(&*store, &self.authz_key, row)
            }
            Err((refusal, recorded)) => {
                if recorded {
                    let tx = self.store.begin_write()?;
                    About {
                        who: &Requester::cli(&device.user),
                        action: AuditAction::SsoRefused,
                        token: None,
                        origin: None,
                    }
                    .record_refusal(&*tx, &self.audit_key, &refusal)?;
                    tx.commit()?;
                }
                Err(VaultError::Refused(refusal))
            }
        }
    }

    /// An invite for a device whose user is whoever signs in on it first
    /// (`actor` must be an admin); its placeholder user has no groups.
    pub fn create_sso_invite(
        &mut self,
        actor: &str,
        secret_sha256: [u8; 32],
        expires_at_ms: i64,
    ) -> Result<crate::InviteRecord> {
        let placeholder = format!(
            "{SSO_PENDING_USER_PREFIX}{}",
            crate::audit::hex(&secret_sha256[..6])
        );
        self.create_invite(actor, &placeholder, secret_sha256, expires_at_ms)
    }

    /// The device's current session whatever its times (a refresh keeps
    /// its sign-in time and maximum age), `None` when it has none.
    pub fn sso_session_of_device(&self, device_id: &str) -> Result<Option<SsoSessionRecord>> {
        let store = self.store.reader()?;
        match self.authz_key.sso_session(store.sso_session(device_id)?)? {
            Some(row) => Ok(Some(read_session(&*store, &self.authz_key, row)?)),
            None => Ok(None),
        }
    }

    /// Ends the device's session; false when it had none.
    pub fn sso_logout(&mut self, device: &DeviceRecord) -> Result<bool> {
        let tx = self.store.begin_write()?;
        let ended = tx.delete_sso_session(&device.id)?;
        About {
            who: &Requester::cli(&device.user),
            action: AuditAction::SsoLogout,
            token: None,
            origin: None,
        }
        .record_success(
            &*tx,
            &self.audit_key,
            unix_now_ms(),
            format!("device {}; session ended: {ended}", device.id),
        )?;
        tx.commit()?;
        Ok(ended)
    }

    /// Records a refused sign-in, refresh or token (`reason`: expired,
    /// wrong_audience, unknown_key, …; `detail` without token contents).
    pub fn record_sso_refusal(&mut self, user: &str, reason: &str, detail: &str) -> Result<()> {
        let tx = self.store.begin_write()?;
        About {
            who: &Requester::cli(user),
            action: AuditAction::SsoRefused,
            token: None,
            origin: None,
        }
        .record_refusal(
            &*tx,
            &self.audit_key,
            &Refusal::SsoRefused {
                reason: reason.to_owned(),
                detail: detail.to_owned(),
            },
        )?;
        tx.commit()
    }

    /// The user signs in through the identity provider (a linked identity).
    pub fn is_sso_user(&self, user: &str) -> Result<bool> {
        let store = self.store.reader()?;
        let rows = self
            .authz_key
            .checked(store.sso_identities_of(user)?, |r| (r.authz_row(), r.mac))?;
        Ok(!rows.is_empty())
    }

    /// An admin disabled `user`.
    pub fn user_disabled(&self, user: &str) -> Result<bool> {
        let store = self.store.reader()?;
        self.is_disabled(&*store, user)
    }

    fn is_disabled(&self, store: &dyn StoreRead, user: &str) -> Result<bool> {
        Ok(self
            .authz_key
            .disabled_user(store.disabled_user(user)?)?
            .is_some())
    }

    /// Disables `user` at once (admins only): their sessions end and their
    /// devices get nothing until [`Vault::enable_user`].
    pub fn disable_user(&mut self, actor: &str, user: &str) -> Result<u64> {
        self.admin(actor, AuditAction::UserDisabled, |c, _| {
            if c.authz.user_admin(c.tx, user)?.is_none() {
                return Err(VaultError::NoSuchUser(user.to_owned()));
            }
            c.tx.put_disabled_user(&c.authz.disabled_user_with_mac(DisabledUserRow {
                user: user.to_owned(),
                disabled_at_ms: unix_now_ms(),
                disabled_by: actor.to_owned(),
                mac: [0; 32],
            }))?;
            let ended = c.tx.delete_sso_sessions_of(user)?;
            c.record(None, format!("user: {user}; sessions ended: {ended}"))?;
            Ok(ended)
        })
    }

    /// Enables a disabled user again (admins only); false when they were not disabled.
    pub fn enable_user(&mut self, actor: &str, user: &str) -> Result<bool> {
        self.admin(actor, AuditAction::UserEnabled, |c, _| {
            let was = c.tx.delete_disabled_user(user)?;
            c.record(None, format!("user: {user}; was disabled: {was}"))?;
            Ok(was)
        })
    }

    /// The offboarding report for `user` (admins only): from the audit log,
    /// the tokens whose seed they were handed (rotate those) and the ones
    /// they only had codes of; their devices and last activity.
    pub fn offboarding(&mut self, actor: &str, user: &str) -> Result<OffboardingReport> {
        self.admin(actor, AuditAction::UserOffboarding, |c, _| {
            if c.authz.user_admin(c.tx, user)?.is_none() {
                return Err(VaultError::NoSuchUser(user.to_owned()));
            }
            c.record(None, format!("user: {user}"))
        })?;
        let mut revealed: std::collections::BTreeMap<String, (String, i64)> = Default::default();
        let mut coded: std::collections::BTreeMap<String, String> = Default::default();
        let mut last_activity_ms = None;
        let mut after = 0;
        loop {
            let page = self.audit_records(after, 1000)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for r in page.iter().filter(|r| r.event.user == user) {
                last_activity_ms = Some(r.time_ms);
                let (Some(id), true) = (&r.event.token_id, r.event.success) else {
                    continue;
                };
                let label = r.event.token_label.clone().unwrap_or_default();
                if r.event.action.is_seed() {
                    revealed.insert(id.clone(), (label, r.time_ms));
                } else if r.event.action.is_code() {
                    coded.insert(id.clone(), label);
                }
            }
        }
        Ok(OffboardingReport {
            user: user.to_owned(),
            disabled: self.user_disabled(user)?,
            code_only: coded
                .into_iter()
                .filter(|(id, _)| !revealed.contains_key(id))
                .collect(),
            revealed: revealed
                .into_iter()
                .map(|(id, (label, at))| (id, label, at))
                .collect(),
            devices: self.devices(Some(user))?,
            last_activity_ms,
        })
    }
}

/// The user a sign-in is for, linked (and created) if new, or why not.
fn link_and_check(c: &Change<'_>, s: &SsoSignIn<'_>) -> Result<Result<String, Refusal>> {
    let refused = |reason: &str, detail: String| {
        Ok(Err(Refusal::SsoRefused {
            reason: reason.to_owned(),
            detail,
        }))
    };
    let linked = c
        .authz
        .sso_identity(c.tx.sso_identity(s.issuer, s.subject)?)?;
    let user = match linked {
        Some(identity) => identity.user,
        None => {
            if valid_name(s.email).is_err() {
                return refused(
                    "bad_email",
                    "the identity provider's email claim is not usable as a twofill user name \
                     (letters, digits, . _ - @, at most 64); ask your twofill admin"
                        .into(),
                );
            }
            let others = c
                .authz
                .checked(c.tx.sso_identities_of(s.email)?, |r| (r.authz_row(), r.mac))?;
            if others.iter().any(|o| o.issuer == s.issuer) {
                return refused(
                    "email_taken",
                    format!(
                        "{} is already linked to another account at this identity provider; \
                         ask your twofill admin",
                        s.email
                    ),
                );
            }
            c.authz.ensure_user(c.tx, s.email)?;
            c.tx.insert_sso_identity(&c.authz.sso_identity_with_mac(SsoIdentityRow {
                issuer: s.issuer.to_owned(),
                subject: s.subject.to_owned(),
                user: s.email.to_owned(),
                created_at_ms: unix_now_ms(),
                mac: [0; 32],
            }))?;
            s.email.to_owned()
        }
    };
    // A device enrolled by `invite --sso` becomes the first signer's.
    if s.device.user.starts_with(SSO_PENDING_USER_PREFIX) && s.device.user != user {
        let device = c
            .authz
            .device(c.tx.device(&s.device.id)?)?
            .ok_or_else(|| VaultError::NoSuchDevice(s.device.id.clone()))?;
        let moved = crate::store::DeviceRow {
            user: user.clone(),
            ..device
        };
        c.tx.set_device_user(&moved.id, &user, &c.authz.mac(&moved.authz_row()))?;
        Change {
            tx: c.tx,
            audit_key: c.audit_key,
            authz: c.authz,
            who: Requester::cli(&user),
            action: AuditAction::DeviceJoin,
        }
        .record(
            None,
            format!(
                "device {} (enrolled by an SSO invite as {}) is {user}'s from this first sign-in",
                s.device.id, s.device.user
            ),
        )?;
    } else if s.device.user != user {
        return refused(
            "wrong_user",
            format!(
                "this device is enrolled for {}; sign in as {} (or ask your admin for an invite for {user})",
                s.device.user, s.device.user
            ),
        );
    }
    if c.authz.disabled_user(c.tx.disabled_user(&user)?)?.is_some() {
        return Ok(Err(Refusal::UserDisabled { user }));
    }
    Ok(Ok(user))
}

/// Memberships of the managed groups follow the claim; the admin flag
/// follows the admin group (never removing the last admin).
fn map_groups(c: &Change<'_>, user: &str, s: &SsoSignIn<'_>) -> Result<()> {
    let member_row = |g: &str| crate::store::AuthzRow::Member {
        group: g.to_owned(),
        user: user.to_owned(),
    };
    let current = c.authz.names(c.tx.groups_of(user)?, member_row)?;
    for group in s.managed_groups {
        let want = s.groups.contains(group);
        let have = current.contains(group);
        if want && !have {
            c.authz.insert_group(c.tx, group)?;
            c.authz.add_member(c.tx, group, user)?;
            c.record(None, format!("user: {user}; added to group {group}"))?;
        } else if !want && have {
            c.tx.remove_member(group, user)?;
            c.record(None, format!("user: {user}; removed from group {group}"))?;
        }
    }
    if let Some(want) = s.admin {
        let have = c.authz.user_admin(c.tx, user)?.unwrap_or(false);
        if want && !have {
            c.authz.put_user(c.tx, user, true)?;
            c.record(None, format!("user: {user}; admin granted (admin group)"))?;
        } else if !want && have && last_admin(c, user)?.is_none() {
            c.authz.put_user(c.tx, user, false)?;
            c.record(
                None,
                format!("user: {user}; admin removed (not in the admin group)"),
            )?;
        }
    }
    Ok(())
}

fn session_record(c: &Change<'_>, row: SsoSessionRow) -> Result<SsoSessionRecord> {
    read_session(c.tx, c.authz, row)
}

fn read_session(
    store: &dyn StoreRead,
    authz: &crate::integrity::AuthzKey,
    row: SsoSessionRow,
) -> Result<SsoSessionRecord> {
    let user = row.user.clone();
    let groups = authz.names(store.groups_of(&user)?, |g| {
        crate::store::AuthzRow::Member {
            group: g.to_owned(),
            user: user.clone(),
        }
    })?;
    Ok(SsoSessionRecord {
        admin: authz.user_admin(store, &user)?.unwrap_or(false),
        groups,
        user,
        device_id: row.device_id,
        signed_in_at_ms: row.signed_in_at_ms,
        expires_at_ms: row.expires_at_ms,
        max_at_ms: row.max_at_ms,
    })
}
