//! Making an invite (from the CLI or the API): 16 random bytes that only
//! the admin ever sees, with the CA pin beside them; the vault keeps only
//! their SHA-256, so a database dump redeems nothing.

use sha2::{Digest, Sha256};
use twofill_team_api::{INVITE_SECRET_BYTES, Invite, InviteReply};
use twofill_vault::Vault;
use twofill_words::unix_now_ms;

/// The longest an invite may stay valid.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 3600;

pub fn secret_sha256(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// Invites `user` (created if new) on `actor`'s authority (an admin),
/// valid for `ttl_secs`.
pub fn create(
    vault: &mut Vault,
    ca_pin: [u8; 32],
    actor: &str,
    user: &str,
    ttl_secs: u64,
) -> twofill_vault::Result<InviteReply> {
    make(ca_pin, ttl_secs, |hash, expires_at_ms| {
        vault.create_invite(actor, user, hash, expires_at_ms)
    })
}

/// Single sign-on: an invite for a device that becomes the user's who
/// signs in on it first (`invite --sso`).
pub fn create_sso(
    vault: &mut Vault,
    ca_pin: [u8; 32],
    actor: &str,
    ttl_secs: u64,
) -> twofill_vault::Result<InviteReply> {
    make(ca_pin, ttl_secs, |hash, expires_at_ms| {
        vault.create_sso_invite(actor, hash, expires_at_ms)
    })
}

fn make(
    ca_pin: [u8; 32],
    ttl_secs: u64,
    store: impl FnOnce([u8; 32], i64) -> twofill_vault::Result<twofill_vault::InviteRecord>,
) -> twofill_vault::Result<InviteReply> {
    let mut secret = [0u8; INVITE_SECRET_BYTES];
    crate::random::fill(&mut secret);
    let expires_at_ms = unix_now_ms() + (ttl_secs.min(MAX_TTL_SECS) as i64) * 1000;
    let record = store(secret_sha256(&secret), expires_at_ms)?;
    Ok(InviteReply {
        user: record.user,
        invite: Invite { secret, ca_pin }.to_string(),
        expires_at_ms: record.expires_at_ms,
    })
}
