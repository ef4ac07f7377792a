//! Refresh tokens (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).
//!
//! A refresh token is stored under its keyed hash. Rotating it marks it used — keeping the
//! answer it got, sealed, for retries inside a short grace window — and stores its successor,
//! in one transaction conditioned on the record's revision. Presented again after the window,
//! a used token revokes its whole grant family.

use serde::{Deserialize, Serialize};

use super::TokenResponse;
use crate::clock::UnixSeconds;
use crate::crypto::{looks_like_secret, Peppers, Sealed, Secret};
use crate::error::{ApiError, ApiResult, OAuthError};
use crate::ids::AccountId;
use crate::principal::SubjectType;
use crate::store::{Condition, Item, Key, StoreError, Table, WriteOp};

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
    /// §5): it refreshes only with a proof of it. Successors keep the binding.
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
/// `invalid_grant`, and nothing is consumed.
///
/// One sequence, because the order is the contract: every refusal before anything is written,
/// the answer built before the one conditional transaction that commits it.
pub async fn rotate_refresh(
    table: &dyn Table,
    peppers: &Peppers,
    presented: &str,
    client_id: &str,
    now: UnixSeconds,
    answer: impl FnOnce(&RefreshRecord, &Secret) -> ApiResult<(TokenResponse, String)>,
) -> ApiResult<TokenResponse> {
    let Some(found) = find_refresh(table, peppers, presented, now).await? else {
        return Err(invalid_grant("the refresh token is invalid or expired"));
    };
    let Found { hash, record, rev } = &found;
    if record.client_id != client_id {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if crate::clients::is_revoked(table, client_id, &record.family, now).await? {
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
            match find_refresh(table, peppers, presented, now).await? {
                Some(f) => match f.record.used_at {
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
/// client became `fapi2`) is `invalid_grant`.
pub async fn refresh_in_place(
    table: &dyn Table,
    peppers: &Peppers,
    presented: &str,
    client_id: &str,
    now: UnixSeconds,
) -> ApiResult<RefreshRecord> {
    let Some(found) = find_refresh(table, peppers, presented, now).await? else {
        return Err(invalid_grant("the refresh token is invalid or expired"));
    };
    let record = found.record;
    if record.client_id != client_id {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if record.used_at.is_some() {
        return Err(invalid_grant("the refresh token was already used"));
    }
    if crate::clients::is_revoked(table, client_id, &record.family, now).await? {
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
    crate::clients::revoke(table, &record.client_id, &record.family, record.expires_at).await?;
    tracing::warn!(client = %record.client_id, "refresh token reused: its family is revoked");
    Err(invalid_grant(
        "the refresh token was already used: every token of its grant is revoked",
    ))
}
