//! Refresh tokens (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).
//!
//! A refresh token is stored under its keyed hash. Rotating it marks it used — keeping the
//! answer it got, sealed, for retries inside a short grace window — and stores its successor,
//! in one transaction conditioned on the record's revision. Presented again after the window,
//! a used token revokes its whole grant family.

use serde::{Deserialize, Serialize};

use super::TokenResponse;
use crate::identity::principal::SubjectType;
use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{looks_like_secret, Peppers, Sealed, Secret};
use crate::kernel::error::{ApiError, ApiResult, OAuthError};
use crate::kernel::ids::AccountId;
use crate::oauth::dpop::Refused;
use crate::ports::store::{Condition, Item, Key, StoreError, Table, WriteOp};

/// Refresh tokens live 30 days.
pub const REFRESH_TTL: i64 = 30 * 24 * 3600;
/// A retried refresh inside this window gets the same answer instead of revoking the family.
pub const REFRESH_GRACE: i64 = 10;
const REFRESH_DOMAIN: &str = "oauth-refresh";

/// A refresh token's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRecord {
    pub client_id: String,
    pub account_id: AccountId,
    pub sub: String,
    pub sub_type: SubjectType,
    pub scope: String,
    pub family: String,
    pub expires_at: UnixSeconds,
    /// Set when rotated: the token must not be used again (after the grace window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<UnixSeconds>,
    /// The answer given when it was rotated, sealed, for retries inside the grace window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Sealed>,
    /// A public client's refresh token obtained with a DPoP proof is bound to that key (RFC 9449
    /// §5): it refreshes only with a proof of it. Successors keep the binding; an unbound one
    /// refreshed with a proof hands on a successor bound to that proof's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

fn refresh_key(hash: &str) -> Key {
    Key::new(format!("RT#{hash}"), "RT")
}

fn invalid_grant(msg: &'static str) -> ApiError {
    ApiError::oauth(OAuthError::InvalidGrant, msg)
}

fn answer_aad(hash: &str) -> String {
    format!("refresh-answer:{hash}")
}

/// A refresh token as a client presents it.
#[derive(Clone, Copy)]
pub struct Presented<'a> {
    /// The token itself.
    pub token: &'a str,
    /// The authenticated (or, for a public client, identified) client.
    pub client_id: &'a str,
    /// The RFC 7638 thumbprint of the request's checked DPoP proof, if it carried one.
    pub jkt: Option<&'a str>,
    /// Whether the client is public: its refresh tokens are bound to the key it proves (RFC 9449
    /// §5); a confidential client's are bound to the client by its authentication already.
    pub public: bool,
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("token", &"[redacted]")
            .field("client_id", &self.client_id)
            .field("jkt", &self.jkt)
            .field("public", &self.public)
            .finish()
    }
}

impl Presented<'_> {
    /// The refusals every use of a refresh token starts with, before anything is read beyond its
    /// record or written: another client's token, or a DPoP-bound one without a proof of its key
    /// (checked before the token's reuse, so a replay without the key can neither get a
    /// retry's answer nor revoke the family).
    fn check(&self, record: &RefreshRecord) -> ApiResult<()> {
        if record.client_id != self.client_id {
            return Err(invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        check_binding(record, self.jkt)
    }

    /// The binding the successor of `record` carries: its own, or, for a public client's
    /// unbound token refreshed with a proof, the proof's key.
    fn successor_jkt(&self, record: &RefreshRecord) -> Option<String> {
        record
            .jkt
            .clone()
            .or_else(|| self.jkt.filter(|_| self.public).map(str::to_owned))
    }
}

/// A refresh token bound to a key refreshes (or is revoked) only with a proof of that key (RFC
/// 9449 §5): `jkt`, the thumbprint of the request's checked proof.
pub fn check_binding(record: &RefreshRecord, jkt: Option<&str>) -> ApiResult<()> {
    match (record.jkt.as_deref(), jkt) {
        (None, _) => Ok(()),
        (Some(bound), Some(j)) if bound == j => Ok(()),
        (Some(_), Some(_)) => {
            Err(Refused("the refresh token is bound to another DPoP key").at_token_endpoint())
        }
        (Some(_), None) => Err(
            Refused("the refresh token is DPoP-bound: send a proof of its key").at_token_endpoint(),
        ),
    }
}

/// A stored refresh token: its hash, record and revision.
#[derive(Debug, Clone)]
pub struct Found {
    pub hash: String,
    pub record: RefreshRecord,
    pub rev: u64,
}

/// The live record of a presented refresh token (any pepper in force).
pub async fn find_refresh(
    table: &dyn Table,
    peppers: &Peppers,
    presented: &str,
    now: UnixSeconds,
) -> Result<Option<Found>, StoreError> {
    if !looks_like_secret(presented) {
        return Ok(None);
    }
    for h in peppers.lookup_hashes(REFRESH_DOMAIN, presented) {
        if let Some(item) = table.get(&refresh_key(&h.0)).await? {
            if item.is_live(now) {
                return Ok(Some(Found {
                    rev: item.rev,
                    record: item.decode()?,
                    hash: h.0,
                }));
            }
        }
    }
    Ok(None)
}

/// Stores a new refresh token for `record`; returns it (its only plaintext copy).
pub async fn issue_refresh(
    table: &dyn Table,
    peppers: &Peppers,
    record: &RefreshRecord,
) -> Result<Secret, StoreError> {
    let refresh = Secret::generate();
    let hash = peppers.hash(REFRESH_DOMAIN, &refresh);
    let item = Item::new(refresh_key(&hash.0), record)?.with_ttl(record.expires_at);
    table.put(item, Condition::NotExists).await?;
    Ok(refresh)
}

/// Rotates the refresh token `presented` of client `client_id`: `answer` builds the response
/// from the record and the successor token (and says which scope the successor keeps), and the
/// rotation commits it.
///
/// **At most once**: of any number of rotations of one token, concurrent or not, exactly one
/// commits a successor. Another inside [`REFRESH_GRACE`] seconds of it gets that same answer (a
/// client retrying a lost response); any later one revokes the whole grant family and gets
/// `invalid_grant`. A token of another client, unknown, expired or of a revoked family is
/// `invalid_grant`, and nothing is consumed; so is a DPoP-bound token presented without a proof
/// of its key (`invalid_dpop_proof`), before its reuse is looked at.
///
/// One sequence, because the order is the contract: every refusal before anything is written,
/// the answer built before the one conditional transaction that commits it.
pub async fn rotate_refresh(
    table: &dyn Table,
    peppers: &Peppers,
    presented: Presented<'_>,
    now: UnixSeconds,
    answer: impl FnOnce(&RefreshRecord, &Secret) -> ApiResult<(TokenResponse, String)>,
) -> ApiResult<TokenResponse> {
    let Some(found) = find_refresh(table, peppers, presented.token, now).await? else {
        return Err(invalid_grant("the refresh token is invalid or expired"));
    };
    let Found { hash, record, rev } = &found;
    presented.check(record)?;
    if crate::clients::is_revoked(table, presented.client_id, &record.family, now).await? {
        return Err(invalid_grant("the refresh token was revoked"));
    }
    if let Some(used_at) = record.used_at {
        return retry_or_revoke(table, peppers, &found, used_at, now).await;
    }
    let next = Secret::generate();
    let (response, scope) = answer(record, &next)?;
    let sealed = peppers.seal(
        &answer_aad(hash),
        &serde_json::to_string(&response).map_err(ApiError::internal)?,
    );
    let used = RefreshRecord {
        used_at: Some(now),
        answer: Some(sealed),
        ..record.clone()
    };
    let mut used_item = Item::new(refresh_key(hash), &used)?.with_ttl(record.expires_at);
    used_item.rev = rev + 1;
    let fresh = RefreshRecord {
        scope,
        used_at: None,
        answer: None,
        jkt: presented.successor_jkt(record),
        ..record.clone()
    };
    let next_hash = peppers.hash(REFRESH_DOMAIN, &next);
    let res = table
        .transact(vec![
            WriteOp::Put(used_item, Condition::Revision(*rev)),
            WriteOp::Put(
                Item::new(refresh_key(&next_hash.0), &fresh)?.with_ttl(fresh.expires_at),
                Condition::NotExists,
            ),
        ])
        .await;
    match res {
        Ok(()) => Ok(response),
        // Another rotation won the race: this request is a retry of that one.
        Err(StoreError::ConditionFailed) => {
            match find_refresh(table, peppers, presented.token, now).await? {
                Some(f) => match presented.check(&f.record).map(|()| f.record.used_at)? {
                    Some(used_at) => retry_or_revoke(table, peppers, &f, used_at, now).await,
                    None => Err(invalid_grant("the refresh token is busy: try again")),
                },
                None => Err(invalid_grant("the refresh token is invalid or expired")),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A refresh without rotation (the `fapi2` profile, whose tokens are sender-constrained instead):
/// the record of `presented`, which stays the client's refresh token. Nothing is written; a
/// token of another client, unknown, expired, of a revoked family or already rotated (before the
/// client became `fapi2`) is `invalid_grant`; a DPoP-bound one without a proof of its key is
/// `invalid_dpop_proof`.
pub async fn refresh_in_place(
    table: &dyn Table,
    peppers: &Peppers,
    presented: Presented<'_>,
    now: UnixSeconds,
) -> ApiResult<RefreshRecord> {
    let Some(found) = find_refresh(table, peppers, presented.token, now).await? else {
        return Err(invalid_grant("the refresh token is invalid or expired"));
    };
    let record = found.record;
    presented.check(&record)?;
    if record.used_at.is_some() {
        return Err(invalid_grant("the refresh token was already used"));
    }
    if crate::clients::is_revoked(table, presented.client_id, &record.family, now).await? {
        return Err(invalid_grant("the refresh token was revoked"));
    }
    Ok(record)
}

/// A rotated refresh token presented again: inside the grace window, the same answer; after it,
/// the whole family is revoked.
async fn retry_or_revoke(
    table: &dyn Table,
    peppers: &Peppers,
    found: &Found,
    used_at: UnixSeconds,
    now: UnixSeconds,
) -> ApiResult<TokenResponse> {
    let record = &found.record;
    if now - used_at <= REFRESH_GRACE {
        if let Some(answer) = record
            .answer
            .as_ref()
            .and_then(|a| peppers.open(&answer_aad(&found.hash), a))
            .and_then(|plain| serde_json::from_str::<TokenResponse>(plain.expose()).ok())
        {
            return Ok(answer);
        }
    }
    crate::clients::revoke(
        table,
        &record.client_id,
        &record.family,
        record.expires_at,
        now,
    )
    .await?;
    tracing::warn!(client = %record.client_id, "refresh token reused: its family is revoked");
    Err(invalid_grant(
        "the refresh token was already used: every token of its grant is revoked",
    ))
}
