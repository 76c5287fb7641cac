use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownWord;

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// What an audit record says happened. Its text (`code.fill`, …) is
        /// what the HMAC chain covers and what SIEM events carry, so a
        /// variant's text never changes once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum AuditAction {
            $($(#[$doc])* #[serde(rename = $text)] $variant,)*
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];
            const TEXTS: &'static [&'static str] = &[$($text,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $text,)*
                }
            }
        }
    };
}

actions! {
    /// A new vault was created (its first admin named).
    VaultInit = "vault.init",
    /// The browser's extension connected to the host (a refused caller).
    HostConnect = "host.connect",
    /// Tokens were listed for a site.
    TokenList = "token.list",
    TokenAdd = "token.add",
    TokenRemove = "token.remove",
    TokenBind = "token.bind",
    TokenUnbind = "token.unbind",
    UserAdd = "user.add",
    UserRemove = "user.remove",
    GroupAdd = "group.add",
    GroupRemove = "group.remove",
    GroupMemberAdd = "group.member.add",
    GroupMemberRemove = "group.member.remove",
    GrantSet = "grant.set",
    GrantRevoke = "grant.revoke",
    /// A code filled into a page by the extension.
    CodeFill = "code.fill",
    /// A code copied from the popup.
    CodeCopy = "code.copy",
    /// A code shown in the popup.
    CodeView = "code.view",
    /// A code printed by the command line.
    CodeCli = "code.cli",
    /// The seed shown as text.
    SeedReveal = "seed.reveal",
    /// The seed shown as a QR code.
    SeedQr = "seed.qr",
    /// The seed exported as an `otpauth://` link.
    SeedExport = "seed.export",
    /// An admin invited a user to enroll a device (never the invite's secret).
    InviteCreate = "invite.create",
    /// A device joined with an invite (or an invite was refused).
    DeviceJoin = "device.join",
    /// An admin revoked a device.
    DeviceRevoke = "device.revoke",
    /// A revoked device's certificate was presented and refused.
    DeviceRefused = "device.refused",
    /// A local vault moved to the team server: locally, one record per seed
    /// read out for the push; on the server, the push's summary.
    VaultPush = "vault.push",
    /// An admin (or a personal token's owner) attached recovery codes to a
    /// token that had none (the record counts them, never their text).
    RecoveryAttach = "recovery.attach",
    /// The recovery codes of a token were replaced: the old set discarded.
    RecoveryReplace = "recovery.replace",
    /// One single-use recovery code was taken (the record names its slot).
    RecoveryTake = "recovery.take",
    /// A single sign-on at the identity provider opened a session.
    SsoLogin = "sso.login",
    /// A session was renewed with the IdP's refresh token.
    SsoRefresh = "sso.refresh",
    /// A session was ended by its user.
    SsoLogout = "sso.logout",
    /// A sign-in, refresh or ticket was refused; the detail names the reason.
    SsoRefused = "sso.refused",
    /// A sign-in changed the user's group memberships to match the IdP.
    SsoGroupMapped = "sso.group_mapped",
    /// An admin disabled a user: sessions dropped, devices refused.
    UserDisabled = "user.disabled",
    /// An admin enabled a disabled user again.
    UserEnabled = "user.enabled",
    /// An admin read a user's offboarding report.
    UserOffboarding = "user.offboarding",
    /// An admin made a phone number (E.164) a shared SMS inbox.
    SmsInboxAdd = "sms.inbox.add",
    /// An admin bound an inbox to a site, or unbound it.
    SmsInboxBind = "sms.inbox.bind",
    /// An admin granted an inbox to a group (`code-only` / `full`), or revoked it.
    SmsInboxGrant = "sms.inbox.grant",
    /// Messages were purged: an admin's purge of an inbox, or retention.
    SmsPurge = "sms.purge",
    /// A provider's webhook delivered an SMS to an inbox (never its text or code).
    SmsReceive = "sms.receive",
    /// A webhook was refused (forged, unsigned, stale, unroutable number).
    SmsRefused = "sms.refused",
    /// An SMS code was filled into a page.
    SmsCodeFill = "sms.code.fill",
    /// An SMS code was shown in the popup.
    SmsCodeView = "sms.code.view",
    /// An SMS code was copied from the popup.
    SmsCodeCopy = "sms.code.copy",
    /// A message's sender and text were read (`full` holders only).
    SmsRead = "sms.read",
}

impl AuditAction {
    /// A code was handed out (or refused).
    pub fn is_code(self) -> bool {
        self.as_str().starts_with("code.")
    }

    /// An SMS inbox's code was handed out (or refused): counted with codes.
    pub fn is_sms_code(self) -> bool {
        self.as_str().starts_with("sms.code.")
    }

    /// The seed itself was handed out (or refused).
    pub fn is_seed(self) -> bool {
        self.as_str().starts_with("seed.")
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        AuditAction::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownWord {
                kind: "audit action",
                word: s.to_owned(),
                expected: AuditAction::TEXTS,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for &a in AuditAction::ALL {
            assert!(seen.insert(a.as_str()), "{a} twice");
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), a);
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        }
        assert!(AuditAction::CodeFill.is_code() && !AuditAction::CodeFill.is_seed());
        assert!(AuditAction::SeedQr.is_seed());
        assert!("code.steal".parse::<AuditAction>().is_err());
    }
}
