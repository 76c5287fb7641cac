//! People's devices: invites an admin makes, the one-time redemption that
//! enrolls a device, the device a client certificate belongs to, and
//! revocation. Each change runs in one write transaction with its audit
//! record, so every store (and every replica on one database) applies the
//! same rules: an invite enrolls exactly one device, before it expires.
//!
//! The vault never sees an invite's secret, only its SHA-256 (the key of
//! the invite's row), and knows a device by the SHA-256 of its client
//! certificate.

use twofill_words::{AuditAction, unix_now_ms};

use crate::admin::valid_name;
use crate::audit::{About, hex};
use crate::store::{DeviceRow, InviteRow};
use crate::{
    DeviceRecord, InviteProblem, InviteRecord, NewDevice, Refusal, Requester, Result, Vault,
    VaultError,
};

/// Longest device name kept (what the user calls the laptop).
const MAX_DEVICE_NAME: usize = 100;

impl Vault {
    /// An invite for `user` (created, not admin, if missing), valid until
    /// `expires_at_ms`. `actor` must be an admin. The record names the
    /// invite by the start of its secret's hash, never by the secret.
    pub fn create_invite(
        &mut self,
        actor: &str,
        user: &str,
        secret_sha256: [u8; 32],
        expires_at_ms: i64,
    ) -> Result<InviteRecord> {
        valid_name(user)?;
        let now = unix_now_ms();
        if expires_at_ms <= now {
            return Err(VaultError::Invalid(format!(
                "an invite must expire in the future (it would expire at {expires_at_ms} ms, now is {now} ms); give it a validity such as 24 hours"
            )));
        }
        self.admin(actor, AuditAction::InviteCreate, |c, _| {
            if c.authz.invite(c.tx.invite(&secret_sha256)?)?.is_some() {
                return Err(VaultError::Exists(format!(
                    "an invite with this secret ({})",
                    invite_name(&secret_sha256)
                )));
            }
            c.authz.ensure_user(c.tx, user)?;
            c.tx.insert_invite(&c.authz.invite_with_mac(InviteRow {
                secret_sha256,
                user: user.to_owned(),
                created_by: actor.to_owned(),
                created_at_ms: now,
                expires_at_ms,
                used_at_ms: None,
                device_id: None,
                mac: [0; 32],
            }))?;
            c.record(
                None,
                format!(
                    "invite {} for {user}; expires at {expires_at_ms} ms",
                    invite_name(&secret_sha256)
                ),
            )?;
            Ok(InviteRecord {
                user: user.to_owned(),
                expires_at_ms,
            })
        })
    }

    /// Enrolls `device` for the invite's user, in one transaction: the
    /// invite must exist, be unused and unexpired; it is then marked used
    /// and the join recorded. A used or expired invite is refused on record
    /// under its user; an unknown one is refused unrecorded (there is no
    /// user to name).
    pub fn redeem_invite(
        &mut self,
        secret_sha256: [u8; 32],
        device: &NewDevice<'_>,
    ) -> Result<DeviceRecord> {
        valid_device(device)?;
        let tx = self.store.begin_write()?;
        let now = unix_now_ms();
        let authz = &self.authz_key;
        let Some(invite) = authz.invite(tx.invite(&secret_sha256)?)? else {
            return Err(VaultError::Refused(Refusal::InviteInvalid {
                problem: InviteProblem::Unknown,
            }));
        };
        if authz.device(tx.device(device.id)?)?.is_some() {
            return Err(VaultError::Exists(format!("device `{}`", device.id)));
        }
        if authz
            .device(tx.device_by_cert(&device.cert_sha256)?)?
            .is_some()
        {
            return Err(VaultError::Exists(
                "a device with this certificate".to_owned(),
            ));
        }
        // The UPDATE only takes an unused invite: with the write lock held
        // the check before it decides, and the guard holds on its own too.
        let problem = if invite.used_at_ms.is_some() {
            Some(InviteProblem::Used)
        } else if now >= invite.expires_at_ms {
            Some(InviteProblem::Expired)
        } else if !tx.use_invite(
            &secret_sha256,
            now,
            device.id,
            &authz.mac(
                &InviteRow {
                    used_at_ms: Some(now),
                    ..invite.clone()
                }
                .authz_row(),
            ),
        )? {
            Some(InviteProblem::Used)
        } else {
            None
        };
        let about = About {
            who: &Requester::cli(&invite.user),
            action: AuditAction::DeviceJoin,
            token: None,
            origin: None,
        };
        if let Some(problem) = problem {
            let refusal = Refusal::InviteInvalid { problem };
            about.record_refusal(&*tx, &self.audit_key, &refusal)?;
            tx.commit()?;
            return Err(VaultError::Refused(refusal));
        }
        let row = authz.device_with_mac(DeviceRow {
            id: device.id.to_owned(),
            user: invite.user.clone(),
            name: device.name.to_owned(),
            cert_sha256: device.cert_sha256,
            joined_at_ms: now,
            revoked_at_ms: None,
            revoked_by: None,
            mac: [0; 32],
        });
        tx.insert_device(&row)?;
        about.record_success(
            &*tx,
            &self.audit_key,
            now,
            format!(
                "device {} ({}) with invite {}",
                device.id,
                device.name,
                invite_name(&secret_sha256)
            ),
        )?;
        tx.commit()?;
        Ok(record(row))
    }

    /// The device a client certificate belongs to. A revoked device is
    /// refused on record, under its user, naming it; an unknown certificate
    /// is refused unrecorded.
    pub fn authenticate_device(&mut self, cert_sha256: &[u8; 32]) -> Result<DeviceRecord> {
        let found = self.store.reader()?.device_by_cert(cert_sha256)?;
        // A device row changed past the vault (a revocation cleared, another
        // user's certificate) is refused, on record.
        let user = found.as_ref().map(|d| d.user.clone()).unwrap_or_default();
        let checked = self.authz_key.device(found);
        let found = self.noting_tampering(
            &Requester::cli(&user),
            AuditAction::DeviceRefused,
            None,
            checked,
        )?;
        let Some(device) = found else {
            return Err(VaultError::Refused(Refusal::DeviceNotEnrolled));
        };
        if device.revoked_at_ms.is_none() {
            return Ok(record(device));
        }
        let refusal = Refusal::DeviceRevoked {
            id: device.id.clone(),
        };
        let tx = self.store.begin_write()?;
        About {
            who: &Requester::cli(&device.user),
            action: AuditAction::DeviceRefused,
            token: None,
            origin: None,
        }
        .record_refusal(&*tx, &self.audit_key, &refusal)?;
        tx.commit()?;
        Err(VaultError::Refused(refusal))
    }

    /// Every device, or `user`'s, by user, join time and id.
    pub fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceRecord>> {
        let rows = self.store.reader()?.devices(user)?;
        Ok(self
            .authz_key
            .devices(rows)?
            .into_iter()
            .map(record)
            .collect())
    }

    /// Revokes device `id` (admins only): from its next request on, it gets
    /// nothing.
    pub fn revoke_device(&mut self, actor: &str, id: &str) -> Result<DeviceRecord> {
        self.admin(actor, AuditAction::DeviceRevoke, |c, _| {
            let device = c
                .authz
                .device(c.tx.device(id)?)?
                .ok_or_else(|| VaultError::NoSuchDevice(id.to_owned()))?;
            if let Some(revoked_at_ms) = device.revoked_at_ms {
                return Err(VaultError::AlreadyRevoked {
                    id: id.to_owned(),
                    revoked_at_ms,
                });
            }
            let now = unix_now_ms();
            let revoked = c.authz.mac(
                &DeviceRow {
                    revoked_at_ms: Some(now),
                    ..device.clone()
                }
                .authz_row(),
            );
            if !c.tx.revoke_device(id, now, actor, &revoked)? {
                return Err(VaultError::NoSuchDevice(id.to_owned()));
            }
            c.record(
                None,
                format!("device {id} ({}) of {}", device.name, device.user),
            )?;
            Ok(record(DeviceRow {
                revoked_at_ms: Some(now),
                revoked_by: Some(actor.to_owned()),
                ..device
            }))
        })
    }
}

/// How records name an invite: the first 6 bytes of its secret's hash,
/// enough to tell invites apart and useless for redeeming one.
fn invite_name(secret_sha256: &[u8; 32]) -> String {
    hex(&secret_sha256[..6])
}

fn valid_device(device: &NewDevice<'_>) -> Result<()> {
    valid_name(device.id)?;
    let name = device.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DEVICE_NAME
        || name.chars().any(char::is_control)
    {
        return Err(VaultError::Invalid(format!(
            "a device name must be 1–{MAX_DEVICE_NAME} printable characters (such as \"bob's laptop\")"
        )));
    }
    Ok(())
}

fn record(row: DeviceRow) -> DeviceRecord {
    DeviceRecord {
        id: row.id,
        user: row.user,
        name: row.name,
        joined_at_ms: row.joined_at_ms,
        revoked_at_ms: row.revoked_at_ms,
        cert_sha256: row.cert_sha256,
    }
}
