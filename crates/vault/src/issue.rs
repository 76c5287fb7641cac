//! Codes and seeds: permission-checked and audited.
//!
//! This is the only module that opens a sealed seed ([`unseal`]);
//! everything else in the vault works on names, bindings and grants, which
//! are not secret. A code or a seed is returned only after the transaction
//! holding its audit record has committed.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use twofill_otp::{CodeWindow, Kind, Token};
use twofill_seal::DataKey;
use twofill_words::{AuditAction, unix_now_ms};

use crate::audit::About;
use crate::integrity::AuthzKey;
use crate::permission::{access_to, check_admin, find_summary, full_seed_holder, summary};
use crate::store::{CodeParams, Store, StoreRead, StoreTx};
use crate::{
    CodeRequest, IssuedCode, Policy, Purpose, Refusal, Requester, Result, Scope, SiteBinding,
    TokenSummary, Vault, VaultError, seed_aad,
};

/// A token read out with its seed for `twofill-host vault push`.
#[derive(Debug, Clone)]
pub struct PushSeed {
    pub summary: TokenSummary,
    pub token: Token,
}

impl Vault {
    /// Every team token (and with `personal`, every personal token too)
    /// with its seed, for an admin moving this vault to a team server. Each
    /// seed read out is a `vault.push` record, committed before any seed is
    /// returned; a non-admin, or a policy that forbids seed reveals, is
    /// refused on record.
    pub fn seeds_for_push(&mut self, actor: &str, personal: bool) -> Result<Vec<PushSeed>> {
        let policy = self.policy;
        self.in_change(
            actor,
            AuditAction::VaultPush,
            |c| {
                if let Err(refusal) = check_admin(c.tx, c.audit_key, c.authz, actor)? {
                    return Ok(Err(refusal));
                }
                if !policy.allow_seed_reveal {
                    return Ok(Err(Refusal::Policy {
                        what: "reading seeds out (for a push)".into(),
                    }));
                }
                Ok(Ok(()))
            },
            |c, key, ()| {
                let mut out = Vec::new();
                for id in c.tx.token_ids()? {
                    let summary = summary(c.tx, c.authz, &id)?;
                    if summary.owner.is_some() && !personal {
                        continue;
                    }
                    let mut token = open_seed(c.tx, key, &id)?;
                    if let Kind::Hotp { counter } = &mut token.kind
                        && let Some(now) = c.tx.hotp_counter(&id)?
                    {
                        *counter = now;
                    }
                    c.record(
                        Some(&summary),
                        "seed read out to push to a team server".into(),
                    )?;
                    out.push(PushSeed { summary, token });
                }
                Ok(out)
            },
        )
    }

    /// The id of a token that already holds `token`'s seed for the same
    /// kind, issuer, account and owner, so a second push reuses it. Only
    /// the id leaves; no seed does, so nothing is audited.
    pub fn find_same_token(&self, token: &Token, owner: Option<&str>) -> Result<Option<String>> {
        let store = self.store.reader()?;
        for id in store.token_ids()? {
            let Some(found) = find_summary(&*store, &self.authz_key, &id)? else {
                continue;
            };
            if found.owner.as_deref() != owner
                || found.account != token.account
                || found.issuer != token.issuer
            {
                continue;
            }
            let stored = open_seed(&*store, &self.key, &id)?;
            if stored.secret.as_bytes() == token.secret.as_bytes()
                && std::mem::discriminant(&stored.kind) == std::mem::discriminant(&token.kind)
                && stored.algorithm == token.algorithm
                && stored.digits == token.digits
            {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Computes the current code for a token the requester may use, after a
    /// durable audit record. For [`Purpose::Fill`] the token must be bound
    /// to the origin; with no token named, the single permitted token bound
    /// to the origin is chosen. With [`Scope::SharedOnly`] a fill never picks
    /// a personal token and naming one is refused as if it did not exist.
    /// Fills are refused past the [`crate::RateLimit`] set on this handle.
    pub fn issue_code(&mut self, request: &CodeRequest<'_>) -> Result<IssuedCode> {
        let result = self.issue_code_unnoted(request);
        self.noting_tampering(
            request.who,
            request.purpose.action(),
            request.origin,
            result,
        )
    }

    fn issue_code_unnoted(&mut self, request: &CodeRequest<'_>) -> Result<IssuedCode> {
        let (store, issuer) = self.issuer();
        let tx = store.begin_write()?;
        let outcome = issuer.issue(&*tx, request, &mut BatchMemo::default())?;
        // Durable (synchronous=FULL) before the code exists outside this function.
        tx.commit()?;
        outcome.map_err(VaultError::Refused)
    }

    /// [`Vault::issue_code`] for many requests at once, with one durable
    /// commit for all their records (group commit: under load the commit's
    /// fsync, not the rules, is what limits codes per second). Each request
    /// gets exactly the answer it would get alone, in order; no code is
    /// returned before the commit that holds its record. When the batch
    /// cannot be committed as one (a database error, tampered rows), every
    /// request is answered on its own instead, so one bad request cannot
    /// change another's answer.
    pub fn issue_codes(&mut self, requests: &[CodeRequest<'_>]) -> Vec<Result<IssuedCode>> {
        if requests.len() > 1
            && let Ok(outcomes) = self.issue_codes_together(requests)
        {
            return outcomes
                .into_iter()
                .map(|o| o.map_err(VaultError::Refused))
                .collect();
        }
        requests.iter().map(|r| self.issue_code(r)).collect()
    }

    fn issue_codes_together(
        &mut self,
        requests: &[CodeRequest<'_>],
    ) -> Result<Vec<std::result::Result<IssuedCode, Refusal>>> {
        let (store, issuer) = self.issuer();
        let tx = store.begin_write()?;
        let mut memo = BatchMemo::default();
        let outcomes = requests
            .iter()
            .map(|r| issuer.issue(&*tx, r, &mut memo))
            .collect::<Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(outcomes)
    }

    /// The store, to begin a transaction in, and the rules to run in it.
    fn issuer(&mut self) -> (&mut dyn Store, Issuer<'_>) {
        let Vault {
            store,
            key,
            audit_key,
            authz_key,
            policy,
            hotp_allowed,
            rate_limit,
            // Codes are issued to unverified names too.
            unverified_identity: _,
        } = self;
        let issuer = Issuer {
            key,
            audit_key,
            authz_key,
            policy: *policy,
            hotp_allowed: *hotp_allowed,
            rate_limit: *rate_limit,
        };
        (&mut **store, issuer)
    }

    /// The token with its seed, for `full-seed` holders (and the owner of a
    /// personal token) only, and only if the [`Policy`] allows seed reveals.
    /// `action` is the audit action (`seed.reveal`, `seed.export`, `seed.qr`).
    pub fn reveal_seed(&mut self, who: &Requester, id: &str, action: AuditAction) -> Result<Token> {
        let result = self.reveal_seed_unnoted(who, id, action);
        self.noting_tampering(who, action, None, result)
    }

    fn reveal_seed_unnoted(
        &mut self,
        who: &Requester,
        id: &str,
        action: AuditAction,
    ) -> Result<Token> {
        let unverified = self.unverified(&who.user);
        let tx = self.store.begin_write()?;
        let allowed = self.policy.allow_seed_reveal;
        let held = full_seed_holder(
            &*tx,
            &self.audit_key,
            &self.authz_key,
            self.policy,
            who,
            action,
            id,
            || {
                unverified.or_else(|| {
                    (!allowed).then(|| Refusal::Policy {
                        what: "revealing seeds".into(),
                    })
                })
            },
            "see the seed of",
        )?;
        let summary = match held {
            Ok(summary) => summary,
            Err(refusal) => {
                tx.commit()?;
                return Err(VaultError::Refused(refusal));
            }
        };
        let about = About {
            who,
            action,
            token: Some(&summary),
            origin: None,
        };
        let mut token = open_seed(&*tx, &self.key, id)?;
        // The sealed link has the counter it was enrolled with; another
        // authenticator set up from this one must start where the vault is.
        if let Kind::Hotp { counter } = &mut token.kind
            && let Some(now) = tx.hotp_counter(id)?
        {
            *counter = now;
        }
        about.record_success(&*tx, &self.audit_key, unix_now_ms(), String::new())?;
        tx.commit()?;
        Ok(token)
    }
}

/// What the requests of one transaction share: the token each kind of
/// request gets (or its refusal) and the seeds opened. Nothing a code
/// changes is kept here (HOTP counters, rate-limit counts and the audit
/// head are read afresh), and the transaction holds the write lock, so no
/// twofill writer can change what is kept while it lives.
#[derive(Default)]
struct BatchMemo {
    chosen: HashMap<String, std::result::Result<TokenSummary, Refusal>>,
    seeds: HashMap<String, Token>,
}

impl BatchMemo {
    /// Everything `choose_token` reads from a request.
    fn choice_key(r: &CodeRequest<'_>) -> String {
        format!(
            "{}\0{:?}\0{:?}\0{:?}\0{:?}",
            r.who.user,
            r.token,
            r.origin.map(ToString::to_string),
            r.purpose,
            r.scope
        )
    }
}

/// The rules of one code request, apart from the transaction they run in
/// (one request's, or a batch's): the handle's keys and settings, borrowed
/// beside its store.
struct Issuer<'v> {
    key: &'v DataKey,
    audit_key: &'v [u8; 32],
    authz_key: &'v AuthzKey,
    policy: Policy,
    hotp_allowed: bool,
    rate_limit: crate::RateLimit,
}

impl Issuer<'_> {
    /// Decides `request` in `tx` and appends its record (the code's or the
    /// refusal's). The caller commits before the code leaves. A database
    /// error or tampered rows are errors, with nothing recorded.
    fn issue(
        &self,
        tx: &dyn StoreTx,
        request: &CodeRequest<'_>,
        memo: &mut BatchMemo,
    ) -> Result<std::result::Result<IssuedCode, Refusal>> {
        // Under the write lock, so the rate limit's count and this code's
        // record see the same time.
        let time_ms = unix_now_ms();
        let choice = match memo.chosen.entry(BatchMemo::choice_key(request)) {
            Entry::Occupied(known) => known.get().clone(),
            Entry::Vacant(new) => new
                .insert(choose_token(tx, self.authz_key, self.policy, request)?)
                .clone(),
        };
        let chosen = match choice {
            Ok(summary) => summary,
            Err(refusal) => {
                let summary = match request.token {
                    Some(id) => find_summary(tx, self.authz_key, id)?,
                    None => None,
                };
                About {
                    who: request.who,
                    action: request.purpose.action(),
                    token: summary.as_ref(),
                    origin: request.origin,
                }
                .record_refusal(tx, self.audit_key, &refusal)?;
                return Ok(Err(refusal));
            }
        };
        let about = About {
            who: request.who,
            action: request.purpose.action(),
            token: Some(&chosen),
            origin: request.origin,
        };
        // Counted in this transaction: no other writer can fill between
        // the count and this code's record (earlier requests of a batch
        // are in the count too).
        if request.purpose == Purpose::Fill
            && let Some(refusal) =
                self.rate_limit
                    .check(tx, &request.who.user, &chosen.id, time_ms)?
        {
            about.record_refusal(tx, self.audit_key, &refusal)?;
            return Ok(Err(refusal));
        }
        // The kind comes from the sealed seed, which a database edit cannot forge.
        let seed = match memo.seeds.entry(chosen.id.clone()) {
            Entry::Occupied(known) => known.get().clone(),
            Entry::Vacant(new) => new.insert(open_seed(tx, self.key, &chosen.id)?).clone(),
        };
        let now = (time_ms / 1000) as u64;
        let (window, counter) = match seed.kind {
            Kind::Hotp { .. } if !self.hotp_allowed => {
                let refusal = Refusal::HotpNeedsServer {
                    token: chosen.label(),
                };
                about.record_refusal(tx, self.audit_key, &refusal)?;
                return Ok(Err(refusal));
            }
            Kind::Hotp { .. } => {
                // Read and advanced under this transaction's write lock, and
                // committed with the record below or not at all: no two
                // codes share a counter, and none is issued off the record.
                let counter = take_hotp_counter(tx, &chosen.id)?;
                (hotp_window(&seed, counter, now), Some(counter))
            }
            Kind::Totp | Kind::Steam => (seed.window_at(now), None),
        };
        let detail = counter.map_or_else(String::new, |c| format!("counter: {c}"));
        let record = about.record_success(tx, self.audit_key, time_ms, detail)?;
        Ok(Ok(IssuedCode {
            token: chosen,
            window,
            counter,
            audit_seq: record.seq,
        }))
    }
}

/// The token a request gets, or the refusal to record. A database error is
/// an error (nothing is recorded), never a refusal.
fn choose_token(
    tx: &dyn StoreRead,
    authz: &AuthzKey,
    policy: Policy,
    request: &CodeRequest<'_>,
) -> Result<Result<TokenSummary, Refusal>> {
    let CodeRequest {
        who,
        token,
        origin,
        purpose,
        scope,
    } = *request;
    let user = who.user.as_str();
    if purpose != Purpose::Fill {
        let Some(id) = token else {
            return Ok(Err(Refusal::NoSuchToken { id: String::new() }));
        };
        let Some(summary) = find_summary(tx, authz, id)? else {
            return Ok(Err(Refusal::NoSuchToken { id: id.to_owned() }));
        };
        return Ok(access_to(tx, authz, policy, scope, user, &summary)?.map(|_| summary));
    }
    let Some(origin) = origin else {
        return Ok(Err(Refusal::OriginRequired));
    };
    // The index narrows the tokens to those bound to a candidate site;
    // `matches` below still decides, and each candidate's rows are verified.
    let mut ids = tx.token_ids_bound_to(&SiteBinding::candidate_keys(origin))?;
    if let Some(id) = token {
        ids.retain(|i| i == id);
    }
    // Other users' personal tokens, and the user's own outside the scope,
    // are not there at all for a fill.
    let mut bound = Vec::new();
    for id in &ids {
        let Some(s) = find_summary(tx, authz, id)? else {
            continue;
        };
        let in_scope = match &s.owner {
            None => true,
            Some(owner) => owner == user && scope == Scope::All,
        };
        if in_scope && s.bindings.iter().any(|b| b.matches(origin)) {
            bound.push(s);
        }
    }
    let had_personal = bound.iter().any(TokenSummary::is_personal);
    if !policy.allow_personal_tokens {
        bound.retain(|s| !s.is_personal());
    }
    if bound.is_empty() {
        return Ok(Err(if had_personal {
            Refusal::Policy {
                what: "personal tokens".into(),
            }
        } else {
            Refusal::NoTokenForOrigin {
                origin: origin.to_string(),
            }
        }));
    }
    let mut permitted = Vec::new();
    for s in &bound {
        if access_to(tx, authz, policy, scope, user, s)?.is_ok() {
            permitted.push(s.clone());
        }
    }
    Ok(match permitted.len() {
        0 => Err(Refusal::NotPermitted {
            user: user.to_owned(),
            what: format!(
                "use {} on {origin}",
                bound
                    .iter()
                    .map(|b| b.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        1 => Ok(permitted.into_iter().next().expect("one")),
        _ => Err(Refusal::Ambiguous {
            candidates: permitted,
        }),
    })
}

/// The counter of a HOTP token's next code, advanced in `tx` past it.
fn take_hotp_counter(tx: &dyn StoreTx, id: &str) -> Result<u64> {
    let bad = |detail: &str| VaultError::BadSeed {
        id: id.to_owned(),
        detail: detail.into(),
    };
    let counter = tx
        .hotp_counter(id)?
        .ok_or_else(|| bad("its HOTP counter is missing; enroll the token again"))?;
    let next = counter
        .checked_add(1)
        .ok_or_else(|| bad("its HOTP counter is used up; enroll the token again"))?;
    tx.set_hotp_counter(id, next)?;
    Ok(counter)
}

/// A HOTP code as a window: it stays valid until used, so the window is
/// only how long the popup shows it (one period).
fn hotp_window(seed: &Token, counter: u64, now: u64) -> CodeWindow {
    CodeWindow {
        code: seed.code_for_counter(counter),
        valid_from: now,
        valid_until: now.saturating_add(seed.period.max(1)),
    }
}

/// Opens the sealed seed of token `id`.
fn open_seed(store: &dyn StoreRead, key: &DataKey, id: &str) -> Result<Token> {
    let sealed = store
        .sealed_seed(id)?
        .ok_or_else(|| VaultError::NoSuchToken(id.to_owned()))?;
    unseal(key, id, &sealed)
}

/// How a token's codes are made, from its seed (stored in the clear so
/// listing never opens a seed).
pub(crate) fn code_params(token: &Token) -> CodeParams {
    CodeParams {
        algorithm: token.algorithm.to_string(),
        digits: token.digits,
        period: token.period,
    }
}

/// [`code_params`] of a sealed seed: for the schema 4 migration, which
/// fills the new columns once.
pub(crate) fn code_params_of_sealed(key: &DataKey, id: &str, sealed: &[u8]) -> Result<CodeParams> {
    Ok(code_params(&unseal(key, id, sealed)?))
}

/// The one place the vault opens a sealed seed.
fn unseal(key: &DataKey, id: &str, sealed: &[u8]) -> Result<Token> {
    let bad = |detail: String| VaultError::BadSeed {
        id: id.to_owned(),
        detail,
    };
    let plain = key
        .open(sealed, &seed_aad(id))
        .map_err(|e| bad(e.to_string()))?;
    let uri = std::str::from_utf8(&plain).map_err(|_| bad("not UTF-8".into()))?;
    Token::from_uri(uri).map_err(|e| bad(e.to_string()))
}
