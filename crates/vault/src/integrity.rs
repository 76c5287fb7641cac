//! Authorization rows carry MACs made with a subkey of the vault's data key,
//! so a grant, binding, admin flag, membership or token owner written into
//! the database past the vault (no key needed for that) is refused and
//! reported, never obeyed.
//!
//! This is the one place that computes and checks those MACs. Each MAC is
//! `HMAC-SHA256(authz_key, canonical(row))`, where the canonical form names
//! the table and every field of the row, key columns included, so a MAC
//! cannot be moved to another row or table. The rules reach authorization
//! rows only through [`AuthzKey`]'s methods: reads check the MAC before the
//! row is used (a bad one is [`VaultError::Tampered`]), writes compute it.
//! The rows: users (name, admin), groups, memberships, grants (token,
//! group, level), site bindings, tokens (id, owner, kind), invites (hash,
//! user, expiry, use), devices (id, user, certificate, revocation) and the
//! first-admin row.
//!
//! Not covered (see SECURITY.md): a deleted row only takes access away,
//! except for the first admin, which the MAC'd first-admin row guards; and a
//! row put back exactly as it was earlier, old MAC included (a revoked
//! grant restored from an old backup), verifies.

use hmac::{Hmac, KeyInit, Mac as _};
use serde::Serialize;
use sha2::Sha256;
use twofill_seal::DataKey;
use zeroize::Zeroizing;

use crate::audit::hex;
use crate::store::sms::SmsInboxRow;
use crate::store::{
    AuthzRow, DeviceRow, DisabledUserRow, GrantRow, InviteRow, Mac, SsoIdentityRow, SsoSessionRow,
    StoreRead, StoreTx, TokenRow,
};
use crate::{Access, Result, Vault, VaultError};

/// The subkey's purpose: changing it invalidates every row's MAC.
const PURPOSE: &str = "twofill authorization rows v1";

/// The key authorization rows are MAC'd with.
pub(crate) struct AuthzKey(Zeroizing<[u8; 32]>);

impl AuthzRow {
    /// The vault's (logical) table the row lives in.
    pub(crate) fn table(&self) -> &'static str {
        match self {
            AuthzRow::User { .. } => "users",
            AuthzRow::Group { .. } => "groups",
            AuthzRow::Member { .. } => "members",
            AuthzRow::Grant { .. } => "grants",
            AuthzRow::Site { .. } => "token_sites",
            AuthzRow::Token { .. } => "tokens",
            AuthzRow::FirstAdmin { .. } => "meta",
            AuthzRow::Invite { .. } => "invites",
            AuthzRow::Device { .. } => "devices",
            AuthzRow::SsoIdentity { .. } => "sso_identities",
            AuthzRow::SsoSession { .. } => "sso_sessions",
            AuthzRow::DisabledUser { .. } => "disabled_users",
            AuthzRow::SmsInbox { .. } => "sms_inboxes",
            AuthzRow::SmsInboxSite { .. } => "sms_inbox_sites",
            AuthzRow::SmsInboxGrant { .. } => "sms_inbox_grants",
        }
    }

    /// The row's key columns, for people.
    pub(crate) fn describe(&self) -> String {
        match self {
            AuthzRow::User { name, .. } => format!("user {name}"),
            AuthzRow::Group { name } => format!("group {name}"),
            AuthzRow::Member { group, user } => format!("group {group}, user {user}"),
            AuthzRow::Grant { token, group, .. } => format!("token {token}, group {group}"),
            AuthzRow::Site { token, site } => format!("token {token}, site {site}"),
            AuthzRow::Token { id, .. } => format!("token {id}"),
            AuthzRow::FirstAdmin { .. } => "first_admin".into(),
            AuthzRow::Invite {
                secret_sha256,
                user,
                ..
            } => format!("invite {} of {user}", hex(&secret_sha256[..6])),
            AuthzRow::Device { id, user, .. } => format!("device {id} of {user}"),
            AuthzRow::SsoIdentity {
                issuer,
                subject,
                user,
            } => format!("identity {subject} at {issuer} of {user}"),
            AuthzRow::SsoSession {
                device_id, user, ..
            } => format!("session of device {device_id} of {user}"),
            AuthzRow::DisabledUser { user, .. } => format!("disabled user {user}"),
            AuthzRow::SmsInbox { number } => format!("SMS inbox {number}"),
            AuthzRow::SmsInboxSite { number, site } => format!("SMS inbox {number}, site {site}"),
            AuthzRow::SmsInboxGrant { number, group, .. } => {
                format!("SMS inbox {number}, group {group}")
            }
        }
    }

    /// The exact bytes the MAC covers: a JSON array (version, table, then
    /// every field in a fixed order), unambiguous whatever the strings hold.
    fn canonical(&self) -> Vec<u8> {
        use serde_json::json;
        let fields = match self {
            AuthzRow::User { name, admin } => json!([name, admin]),
            AuthzRow::Group { name } => json!([name]),
            AuthzRow::Member { group, user } => json!([group, user]),
            AuthzRow::Grant {
                token,
                group,
                level,
            } => json!([token, group, level]),
            AuthzRow::Site { token, site } => json!([token, site]),
            AuthzRow::Token { id, owner, kind } => json!([id, owner, kind]),
            AuthzRow::FirstAdmin { name } => json!(["first_admin", name]),
            AuthzRow::Invite {
                secret_sha256,
                user,
                expires_at_ms,
                used_at_ms,
            } => json!([hex(secret_sha256), user, expires_at_ms, used_at_ms]),
            AuthzRow::Device {
                id,
                user,
                cert_sha256,
                revoked_at_ms,
            } => json!([id, user, hex(cert_sha256), revoked_at_ms]),
            AuthzRow::SsoIdentity {
                issuer,
                subject,
                user,
            } => json!([issuer, subject, user]),
            AuthzRow::SsoSession {
                device_id,
                ticket_sha256,
                user,
                signed_in_at_ms,
                expires_at_ms,
                max_at_ms,
            } => json!([
                device_id,
                hex(ticket_sha256),
                user,
                signed_in_at_ms,
                expires_at_ms,
                max_at_ms
            ]),
            AuthzRow::DisabledUser {
                user,
                disabled_at_ms,
            } => json!([user, disabled_at_ms]),
            AuthzRow::SmsInbox { number } => json!([number]),
            AuthzRow::SmsInboxSite { number, site } => json!([number, site]),
            AuthzRow::SmsInboxGrant {
                number,
                group,
                level,
            } => json!([number, group, level]),
        };
        serde_json::to_vec(&json!([1, self.table(), fields])).expect("JSON of plain values")
    }
}

impl InviteRow {
    pub(crate) fn authz_row(&self) -> AuthzRow {
        AuthzRow::Invite {
            secret_sha256: self.secret_sha256,
            user: self.user.clone(),
            expires_at_ms: self.expires_at_ms,
            used_at_ms: self.used_at_ms,
        }
    }
}

impl DeviceRow {
    pub(crate) fn authz_row(&self) -> AuthzRow {
        AuthzRow::Device {
            id: self.id.clone(),
            user: self.user.clone(),
            cert_sha256: self.cert_sha256,
            revoked_at_ms: self.revoked_at_ms,
        }
    }
}

impl SsoIdentityRow {
    pub(crate) fn authz_row(&self) -> AuthzRow {
        AuthzRow::SsoIdentity {
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            user: self.user.clone(),
        }
    }
}

impl SsoSessionRow {
    pub(crate) fn authz_row(&self) -> AuthzRow {
        AuthzRow::SsoSession {
            device_id: self.device_id.clone(),
            ticket_sha256: self.ticket_sha256,
            user: self.user.clone(),
            signed_in_at_ms: self.signed_in_at_ms,
            expires_at_ms: self.expires_at_ms,
            max_at_ms: self.max_at_ms,
        }
    }
}

impl DisabledUserRow {
    pub(crate) fn authz_row(&self) -> AuthzRow {
        AuthzRow::DisabledUser {
            user: self.user.clone(),
            disabled_at_ms: self.disabled_at_ms,
        }
    }
}

impl SmsInboxRow {
    /// The inbox's own row, then each site and grant, with their MACs.
    pub(crate) fn authz_rows(&self) -> Vec<(AuthzRow, Mac)> {
        let mut out = vec![(
            AuthzRow::SmsInbox {
                number: self.number.clone(),
            },
            self.mac,
        )];
        for (site, mac) in &self.sites {
            out.push((
                AuthzRow::SmsInboxSite {
                    number: self.number.clone(),
                    site: site.clone(),
                },
                *mac,
            ));
        }
        for (group, level, mac) in &self.grants {
            out.push((
                AuthzRow::SmsInboxGrant {
                    number: self.number.clone(),
                    group: group.clone(),
                    level: level.clone(),
                },
                *mac,
            ));
        }
        out
    }
}

fn tampered(row: &AuthzRow) -> VaultError {
    VaultError::Tampered {
        table: row.table().to_owned(),
        row: row.describe(),
    }
}

impl AuthzKey {
    pub(crate) fn of(key: &DataKey) -> AuthzKey {
        AuthzKey(key.derive_subkey(PURPOSE))
    }

    fn hmac(&self, row: &AuthzRow) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0[..]).expect("any key length");
        m.update(&row.canonical());
        m
    }

    pub(crate) fn mac(&self, row: &AuthzRow) -> Mac {
        self.hmac(row).finalize().into_bytes().into()
    }

    /// The row as stored is the row the vault wrote (constant-time compare).
    pub(crate) fn check(&self, row: &AuthzRow, mac: &Mac) -> Result<()> {
        self.hmac(row).verify_slice(mac).map_err(|_| tampered(row))
    }

    // Reads: each checks every row it decides from.

    /// `Some(admin flag)` for a known user, `None` otherwise.
    pub(crate) fn user_admin(&self, store: &dyn StoreRead, name: &str) -> Result<Option<bool>> {
        let Some((admin, mac)) = store.user(name)? else {
            return Ok(None);
        };
        self.check(
            &AuthzRow::User {
                name: name.to_owned(),
                admin,
            },
            &mac,
        )?;
        Ok(Some(admin))
    }

    pub(crate) fn group_exists(&self, store: &dyn StoreRead, name: &str) -> Result<bool> {
        let Some(mac) = store.group(name)? else {
            return Ok(false);
        };
        self.check(
            &AuthzRow::Group {
                name: name.to_owned(),
            },
            &mac,
        )?;
        Ok(true)
    }

    /// The levels `user`'s groups hold on `token_id`: each membership and
    /// grant checked.
    pub(crate) fn levels_for(
        &self,
        store: &dyn StoreRead,
        user: &str,
        token_id: &str,
    ) -> Result<Vec<Access>> {
        let mut out = Vec::new();
        for path in store.grant_paths(user, token_id)? {
            self.check(
                &AuthzRow::Member {
                    group: path.group.clone(),
                    user: user.to_owned(),
                },
                &path.member_mac,
            )?;
            let grant = GrantRow {
                token: token_id.to_owned(),
                group: path.group,
                level: path.level,
                mac: path.grant_mac,
            };
            out.push(self.grant(grant)?.1);
        }
        Ok(out)
    }

    /// A grant row checked, as (its other key: group or token, level).
    fn grant(&self, g: GrantRow) -> Result<(GrantRow, Access)> {
        let row = AuthzRow::Grant {
            token: g.token.clone(),
            group: g.group.clone(),
            level: g.level.clone(),
        };
        self.check(&row, &g.mac)?;
        // The vault writes only levels it knows.
        let level = g.level.parse().map_err(|_| tampered(&row))?;
        Ok((g, level))
    }

    /// Grants checked, keyed by group (`by_group`) or by token.
    pub(crate) fn grants(
        &self,
        rows: Vec<GrantRow>,
        by_group: bool,
    ) -> Result<std::collections::BTreeMap<String, Access>> {
        rows.into_iter()
            .map(|g| {
                let (g, level) = self.grant(g)?;
                Ok((if by_group { g.group } else { g.token }, level))
            })
            .collect()
    }

    /// A token's row with its authorization fields and every site checked.
    pub(crate) fn token(&self, store: &dyn StoreRead, id: &str) -> Result<Option<TokenRow>> {
        let Some(row) = store.token(id)? else {
            return Ok(None);
        };
        self.check(
            &AuthzRow::Token {
                id: row.id.clone(),
                owner: row.owner.clone(),
                kind: row.kind.clone(),
            },
            &row.mac,
        )?;
        for (site, mac) in &row.sites {
            self.check(
                &AuthzRow::Site {
                    token: row.id.clone(),
                    site: site.clone(),
                },
                mac,
            )?;
        }
        Ok(Some(row))
    }

    /// Names with their rows checked (`row` makes the row of a name).
    pub(crate) fn names(
        &self,
        rows: Vec<(String, Mac)>,
        row: impl Fn(&str) -> AuthzRow,
    ) -> Result<Vec<String>> {
        rows.into_iter()
            .map(|(name, mac)| {
                self.check(&row(&name), &mac)?;
                Ok(name)
            })
            .collect()
    }

    /// Who became the first admin, `None` while the vault never had one.
    /// A missing row is tampering: every schema writes it.
    pub(crate) fn first_admin(&self, store: &dyn StoreRead) -> Result<Option<String>> {
        let Some((name, mac)) = store.first_admin()? else {
            return Err(tampered(&AuthzRow::FirstAdmin { name: None }));
        };
        self.check(&AuthzRow::FirstAdmin { name: name.clone() }, &mac)?;
        Ok(name)
    }

    /// An invite as stored, checked.
    pub(crate) fn invite(&self, row: Option<InviteRow>) -> Result<Option<InviteRow>> {
        if let Some(row) = &row {
            self.check(&row.authz_row(), &row.mac)?;
        }
        Ok(row)
    }

    /// Devices as stored, checked.
    pub(crate) fn devices(&self, rows: Vec<DeviceRow>) -> Result<Vec<DeviceRow>> {
        for row in &rows {
            self.check(&row.authz_row(), &row.mac)?;
        }
        Ok(rows)
    }

    /// A device as stored, checked.
    pub(crate) fn device(&self, row: Option<DeviceRow>) -> Result<Option<DeviceRow>> {
        Ok(self.devices(row.into_iter().collect())?.pop())
    }

    /// Single sign-on rows as stored, checked (`authz_row`, `mac` of each).
    pub(crate) fn checked<R>(
        &self,
        rows: Vec<R>,
        parts: impl Fn(&R) -> (AuthzRow, Mac),
    ) -> Result<Vec<R>> {
        for row in &rows {
            let (fields, mac) = parts(row);
            self.check(&fields, &mac)?;
        }
        Ok(rows)
    }

    pub(crate) fn sso_identity(
        &self,
        row: Option<SsoIdentityRow>,
    ) -> Result<Option<SsoIdentityRow>> {
        Ok(self
            .checked(row.into_iter().collect(), |r| (r.authz_row(), r.mac))?
            .pop())
    }

    pub(crate) fn sso_session(&self, row: Option<SsoSessionRow>) -> Result<Option<SsoSessionRow>> {
        Ok(self
            .checked(row.into_iter().collect(), |r| (r.authz_row(), r.mac))?
            .pop())
    }

    pub(crate) fn disabled_user(
        &self,
        row: Option<DisabledUserRow>,
    ) -> Result<Option<DisabledUserRow>> {
        Ok(self
            .checked(row.into_iter().collect(), |r| (r.authz_row(), r.mac))?
            .pop())
    }

    /// An SMS inbox as stored, checked: its row, every site and every
    /// grant (a level the vault never writes is tampering too).
    pub(crate) fn sms_inbox(&self, row: Option<SmsInboxRow>) -> Result<Option<SmsInboxRow>> {
        let Some(row) = row else { return Ok(None) };
        for (fields, mac) in row.authz_rows() {
            self.check(&fields, &mac)?;
            if let AuthzRow::SmsInboxGrant { level, .. } = &fields {
                level
                    .parse::<twofill_words::SmsAccess>()
                    .map_err(|_| tampered(&fields))?;
            }
        }
        Ok(Some(row))
    }

    /// The groups `user` is in, each membership checked.
    pub(crate) fn groups_of(&self, store: &dyn StoreRead, user: &str) -> Result<Vec<String>> {
        self.names(store.groups_of(user)?, |group| AuthzRow::Member {
            group: group.to_owned(),
            user: user.to_owned(),
        })
    }

    // Writes: each stores the row with its MAC.

    pub(crate) fn insert_sms_inbox(&self, tx: &dyn StoreTx, row: SmsInboxRow) -> Result<bool> {
        let mac = self.mac(&AuthzRow::SmsInbox {
            number: row.number.clone(),
        });
        tx.insert_sms_inbox(&SmsInboxRow { mac, ..row })
    }

    pub(crate) fn add_sms_inbox_site(
        &self,
        tx: &dyn StoreTx,
        number: &str,
        site: &str,
    ) -> Result<()> {
        let mac = self.mac(&AuthzRow::SmsInboxSite {
            number: number.to_owned(),
            site: site.to_owned(),
        });
        tx.add_sms_inbox_site(number, site, &mac)
    }

    pub(crate) fn put_sms_inbox_grant(
        &self,
        tx: &dyn StoreTx,
        number: &str,
        group: &str,
        level: twofill_words::SmsAccess,
    ) -> Result<()> {
        let mac = self.mac(&AuthzRow::SmsInboxGrant {
            number: number.to_owned(),
            group: group.to_owned(),
            level: level.as_str().to_owned(),
        });
        tx.put_sms_inbox_grant(number, group, level.as_str(), &mac)
    }

    pub(crate) fn sso_identity_with_mac(&self, row: SsoIdentityRow) -> SsoIdentityRow {
        SsoIdentityRow {
            mac: self.mac(&row.authz_row()),
            ..row
        }
    }

    pub(crate) fn sso_session_with_mac(&self, row: SsoSessionRow) -> SsoSessionRow {
        SsoSessionRow {
            mac: self.mac(&row.authz_row()),
            ..row
        }
    }

    pub(crate) fn disabled_user_with_mac(&self, row: DisabledUserRow) -> DisabledUserRow {
        DisabledUserRow {
            mac: self.mac(&row.authz_row()),
            ..row
        }
    }

    /// `row` with the MAC of its fields as they are.
    pub(crate) fn invite_with_mac(&self, row: InviteRow) -> InviteRow {
        InviteRow {
            mac: self.mac(&row.authz_row()),
            ..row
        }
    }

    /// `row` with the MAC of its fields as they are.
    pub(crate) fn device_with_mac(&self, row: DeviceRow) -> DeviceRow {
        DeviceRow {
            mac: self.mac(&row.authz_row()),
            ..row
        }
    }

    pub(crate) fn put_user(&self, tx: &dyn StoreTx, name: &str, admin: bool) -> Result<()> {
        let mac = self.mac(&AuthzRow::User {
            name: name.to_owned(),
            admin,
        });
        tx.put_user(name, admin, &mac)
    }

    pub(crate) fn ensure_user(&self, tx: &dyn StoreTx, name: &str) -> Result<()> {
        let mac = self.mac(&AuthzRow::User {
            name: name.to_owned(),
            admin: false,
        });
        tx.ensure_user(name, &mac)
    }

    pub(crate) fn insert_group(&self, tx: &dyn StoreTx, name: &str) -> Result<bool> {
        let mac = self.mac(&AuthzRow::Group {
            name: name.to_owned(),
        });
        tx.insert_group(name, &mac)
    }

    pub(crate) fn add_member(&self, tx: &dyn StoreTx, group: &str, user: &str) -> Result<()> {
        let mac = self.mac(&AuthzRow::Member {
            group: group.to_owned(),
            user: user.to_owned(),
        });
        tx.add_member(group, user, &mac)
    }

    pub(crate) fn put_grant(
        &self,
        tx: &dyn StoreTx,
        token: &str,
        group: &str,
        level: Access,
    ) -> Result<()> {
        let mac = self.mac(&AuthzRow::Grant {
            token: token.to_owned(),
            group: group.to_owned(),
            level: level.as_str().to_owned(),
        });
        tx.put_grant(token, group, level, &mac)
    }

    pub(crate) fn add_site(&self, tx: &dyn StoreTx, token: &str, site: &str) -> Result<()> {
        let mac = self.mac(&AuthzRow::Site {
            token: token.to_owned(),
            site: site.to_owned(),
        });
        tx.add_site(token, site, &mac)
    }

    /// The MAC of a new token's authorization fields.
    pub(crate) fn token_mac(&self, id: &str, owner: Option<&str>, kind: &str) -> Mac {
        self.mac(&AuthzRow::Token {
            id: id.to_owned(),
            owner: owner.map(str::to_owned),
            kind: kind.to_owned(),
        })
    }

    pub(crate) fn set_first_admin(&self, tx: &dyn StoreTx, name: &str) -> Result<()> {
        let mac = self.mac(&AuthzRow::FirstAdmin {
            name: Some(name.to_owned()),
        });
        tx.set_first_admin(name, &mac)
    }
}

/// The result of checking every authorization row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrityReport {
    /// How many rows were checked.
    pub rows: u64,
    /// Every row whose MAC does not verify (or that is missing, for the
    /// first-admin row).
    pub tampered: Vec<TamperedRow>,
}

impl IntegrityReport {
    pub fn is_intact(&self) -> bool {
        self.tampered.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TamperedRow {
    pub table: String,
    /// The row's key columns.
    pub row: String,
}

impl Vault {
    /// Checks the MAC of every authorization row (users, groups,
    /// memberships, grants, site bindings, tokens' owner and kind, the
    /// first-admin row) and lists each one that does not verify. Rows are
    /// reported, never rewritten: restore them from a backup.
    pub fn verify_authorization(&self) -> Result<IntegrityReport> {
        let store = self.store.reader()?;
        let rows = store.authorization_rows()?;
        let mut report = IntegrityReport {
            rows: rows.len() as u64,
            tampered: Vec::new(),
        };
        let mut first_admin_rows = 0;
        for (row, mac) in &rows {
            first_admin_rows += u32::from(matches!(row, AuthzRow::FirstAdmin { .. }));
            if self.authz_key.check(row, mac).is_err() {
                report.tampered.push(TamperedRow {
                    table: row.table().into(),
                    row: row.describe(),
                });
            }
        }
        if first_admin_rows == 0 {
            report.tampered.push(TamperedRow {
                table: "meta".into(),
                row: "first_admin (missing)".into(),
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_form_names_the_table_and_separates_fields() {
        let a = AuthzRow::Member {
            group: "a,b".into(),
            user: "c".into(),
        };
        let b = AuthzRow::Member {
            group: "a".into(),
            user: "b,c".into(),
        };
        assert_ne!(a.canonical(), b.canonical());
        let site = AuthzRow::Site {
            token: "t".into(),
            site: "x".into(),
        };
        let grant_like = AuthzRow::Member {
            group: "t".into(),
            user: "x".into(),
        };
        assert_ne!(site.canonical(), grant_like.canonical());
        assert_eq!(
            String::from_utf8(site.canonical()).unwrap(),
            r#"[1,"token_sites",["t","x"]]"#
        );
    }
}
