//! How authtokens are stored: the table keys and the reads and writes (one transaction per change).

use super::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TokenRecord {
    scope: Scope,
    created_at: UnixSeconds,
    expires_at: UnixSeconds,
    /// What minted it ([`crate::identity::chain`]); records made before chains were kept have none and
    /// are refused.
    #[serde(default)]
    chain: Option<Chain>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsedRecord {
    used_at: UnixSeconds,
}

pub(super) fn token_key(hash: &SecretHash) -> Key {
    Key::new(format!("AUTHTOK#{}", hash.0), "AUTHTOK")
}

pub(super) fn used_key(hash: &SecretHash) -> Key {
    Key::new(format!("AUTHTOK#{}", hash.0), "USED")
}

pub(crate) fn session_key(hash: &SecretHash) -> Key {
    Key::new(format!("SESSION#{}", hash.0), "SESSION")
}

/// A freshly minted token: its value appears here only.
#[derive(Debug)]
pub struct Minted {
    pub value: Secret,
    pub expires_at: UnixSeconds,
}

/// Mints a token of `grant` for `account`, living [`token_ttl`] but never past its chain's end
/// (what a session mints expires with it), recording its `chain`. One conditional put.
pub async fn mint(
    ports: &Ports<'_>,
    account: &Account,
    grant: Grant,
    chain: Chain,
) -> ApiResult<Minted> {
    let now = ports.now;
    let value = Secret::generate();
    let hash = ports.peppers().hash(TOKEN_DOMAIN, &value);
    let expires_at = chain.clamp(now + token_ttl(&account.settings));
    if expires_at <= now {
        return Err(ApiError::unauthorized(
            "session_expired",
            "the session has expired",
        ));
    }
    let kind = grant.kind();
    let record = TokenRecord {
        scope: Scope {
            account_id: account.id.clone(),
            grant,
        },
        created_at: now,
        expires_at,
        chain: Some(chain),
    };
    let item = Item::new(token_key(&hash), &record)?.with_ttl(expires_at);
    ports.table.put(item, Condition::NotExists).await?;
    tracing::info!(account = %account.id, kind, "authentication token minted");
    Ok(Minted { value, expires_at })
}

/// A redeemed token: the new session and its cookie value (which appears here only).
#[derive(Debug)]
pub struct Redeemed {
    pub session_value: Secret,
    pub session: Session,
}

impl Redeemed {
    /// Seconds the session has left at `now` (for the cookie's `Max-Age`).
    pub fn max_age(&self, now: UnixSeconds) -> i64 {
        (self.session.expires_at - now).max(0)
    }
}

pub(super) fn token_unknown() -> ApiError {
    ApiError::unauthorized("token_unknown", "the authentication token is not valid")
}

/// Redeems a token at `at` and opens its session.
///
/// Refusals, none of which consumes the token: not a token's shape `400 token_malformed`,
/// unknown (or altered) `401 token_unknown`, already used `401 token_used`, expired
/// `401 token_expired`, a token of the other route `400 token_wrong_route`, its account gone
/// `401 account_unknown`. A single-use token is consumed **at most once** (see the module doc).
pub async fn redeem(ports: &Ports<'_>, at: Redemption, presented: &str) -> ApiResult<Redeemed> {
    if !looks_like_secret(presented) {
        return Err(ApiError::bad_request(
            "token_malformed",
            "the authentication token is not well-formed",
        ));
    }
    let (table, peppers, now) = (ports.table, ports.peppers(), ports.now);
    let (hash, item) =
        find_token(table, &peppers.lookup_hashes(TOKEN_DOMAIN, presented), now).await?;
    let record: TokenRecord = item.decode()?;
    if !item.is_live(now) {
        return Err(ApiError::unauthorized(
            "token_expired",
            "the authentication token has expired",
        ));
    }
    let grant = &record.scope.grant;
    if grant.redeemed_at() != at {
        return Err(ApiError::bad_request(
            "token_wrong_route",
            match at {
                Redemption::Auth => "this is a signer token: open it with /access?sessionToken=…",
                Redemption::Access => {
                    "this is a user or sender token: open it with /auth?authenticationToken=…"
                }
            },
        ));
    }
    let account = accounts::get_account(table, &record.scope.account_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("account_unknown", "the account no longer exists"))?;
    // Revocation flows down: a token whose source stopped opens nothing (and is not consumed).
    let chain = record.chain.clone().ok_or_else(token_unknown)?;
    chain::check(table, &account, &chain, session_key, now).await?;

    let session_value = Secret::generate();
    let session = Session {
        scope: record.scope.clone(),
        created_at: now,
        expires_at: chain.clamp(now + session_ttl(&account.settings)),
        chain: Some(chain),
    };
    let session_item = Item::new(
        session_key(&peppers.hash(SESSION_DOMAIN, &session_value)),
        &session,
    )?
    .with_ttl(session.expires_at);
    if grant.single_use() {
        consume(table, item, &hash, record.expires_at, session_item, now).await?;
    } else {
        table.put(session_item, Condition::NotExists).await?;
    }
    tracing::info!(account = %account.id, kind = grant.kind(), "authentication token redeemed");
    Ok(Redeemed {
        session_value,
        session,
    })
}

pub(super) fn token_used() -> ApiError {
    ApiError::unauthorized("token_used", "the authentication token was already used")
}

/// The stored token a presented one names (under any pepper in force): `token_used` when only
/// its tombstone is left, `token_unknown` when there is nothing.
pub(super) async fn find_token(
    table: &dyn Table,
    hashes: &[SecretHash],
    now: UnixSeconds,
) -> ApiResult<(SecretHash, Item)> {
    for hash in hashes {
        if let Some(item) = table.get(&token_key(hash)).await? {
            return Ok((hash.clone(), item));
        }
    }
    for hash in hashes {
        if let Some(used) = table.get(&used_key(hash)).await? {
            if used.is_live(now) {
                return Err(token_used());
            }
        }
    }
    Err(token_unknown())
}

/// Consumes a single-use token, in one transaction (**at most once**: its delete is conditioned
/// on it being live, and only one request can win it): the token goes, its tombstone and its
/// session appear. No reader ever finds the token neither live nor used — a racing loser is told
/// `token_used`, never `token_unknown` — and a failure leaves nothing half-done.
pub(super) async fn consume(
    table: &dyn Table,
    item: Item,
    hash: &SecretHash,
    expires_at: UnixSeconds,
    session_item: Item,
    now: UnixSeconds,
) -> ApiResult<()> {
    let used =
        Item::new(used_key(hash), &UsedRecord { used_at: now })?.with_ttl(expires_at.max(now + 1));
    let writes = vec![
        WriteOp::Delete(item.key, Condition::Live { now }),
        WriteOp::Put(used, Condition::NotExists),
        WriteOp::Put(session_item, Condition::NotExists),
    ];
    match table.transact(writes).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(token_used()),
        Err(e) => Err(e.into()),
    }
}

/// The live session a cookie value names: unknown (or not a session's shape)
/// `401 session_unknown`, expired `401 session_expired`.
pub async fn get_session(ports: &Ports<'_>, value: &str) -> ApiResult<Session> {
    Ok(find_session(ports, value).await?.0)
}

/// [`get_session`], with the keyed hash the session is stored under.
pub(super) async fn find_session(
    ports: &Ports<'_>,
    value: &str,
) -> ApiResult<(Session, SecretHash)> {
    let unknown = || ApiError::unauthorized("session_unknown", "the session is not valid");
    if !looks_like_secret(value) {
        return Err(unknown());
    }
    let now = ports.now;
    for hash in ports.peppers().lookup_hashes(SESSION_DOMAIN, value) {
        let Some(item) = ports.table.get(&session_key(&hash)).await? else {
            continue;
        };
        if !item.is_live(now) {
            return Err(ApiError::unauthorized(
                "session_expired",
                "the session has expired",
            ));
        }
        return Ok((item.decode()?, hash));
    }
    Err(unknown())
}

/// Ends the session a cookie value names (sign-out): its record is deleted under every pepper
/// it could be stored under; an unknown value is a no-op.
pub async fn end_session(ports: &Ports<'_>, value: &str) -> ApiResult<()> {
    if !looks_like_secret(value) {
        return Ok(());
    }
    for hash in ports.peppers().lookup_hashes(SESSION_DOMAIN, value) {
        ports
            .table
            .delete(&session_key(&hash), Condition::Always)
            .await?;
    }
    Ok(())
}

/// A session's stored record, by its keyed hash (for [`rekeyed_session`]).
pub async fn session_item(table: &dyn Table, hash: &SecretHash) -> ApiResult<Option<Item>> {
    Ok(table.get(&session_key(hash)).await?)
}

/// The write that moves a console session (its record `item`) from the API key it came from
/// onto that key's regeneration (`new_key`), at the revision read — so the session that
/// regenerated its own user's key goes on (and can show the new key once), while every other
/// session and token the old key minted stops. `None` when the session is not rooted directly
/// in `user_id`'s key.
pub fn rekeyed_session(
    item: &Item,
    user_id: &UserId,
    new_key: &SecretHash,
) -> ApiResult<Option<WriteOp>> {
    let mut session: Session = item.decode()?;
    let Some(chain) = session.chain.as_mut() else {
        return Ok(None);
    };
    match &mut chain.root {
        Root::ApiKey { user_id: u, key } if u == user_id && chain.sessions.is_empty() => {
            *key = new_key.clone();
        }
        _ => return Ok(None),
    }
    let mut next = Item::new(item.key.clone(), &session)?.with_ttl(session.expires_at);
    next.rev = item.rev + 1;
    Ok(Some(WriteOp::Put(next, Condition::Revision(item.rev))))
}

/// Authenticates a session cookie's value: the [`Principal`] of exactly the token's scope
/// (see [`Session::principal`]), `auth_method` `SESSION`. Besides [`get_session`]'s refusals,
/// a session whose account is gone is `401 account_unknown`, and one whose chain no longer
/// holds is `401` with the broken link's reason ([`chain::check`]): revocation flows down.
/// Three reads (the session, the account, the chain's batch).
pub async fn authenticate_session(ports: &Ports<'_>, token: &str) -> ApiResult<Principal> {
    let (session, hash) = find_session(ports, token).await?;
    let table = ports.table;
    let account = accounts::get_account(table, &session.scope.account_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("account_unknown", "the account no longer exists"))?;
    let chain = session
        .chain
        .as_ref()
        .ok_or_else(|| ApiError::unauthorized("session_unknown", "the session is not valid"))?;
    let held = chain::check(table, &account, chain, session_key, ports.now).await?;
    let mut p = session.principal(&account);
    let acts_for_itself = held.root_user.owner || p.subject_id == held.root_user.id.as_str();
    if let Some(origin) = p.origin.as_mut() {
        origin.session = Some((hash, session.expires_at));
        origin.acts_for_itself = acts_for_itself;
    }
    Ok(p)
}
