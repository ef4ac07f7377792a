//! Authentication tokens (OneSpan's user, sender, multi-use and single-use signer tokens) and the
//! browser sessions they open (docs/CREDENTIALS.md).
//!
//! Layout (single table):
//! - `AUTHTOK#<keyed hash>/AUTHTOK`: a token not yet consumed ([`Scope`] and times), `ttl` = its
//!   expiry.
//! - `AUTHTOK#<keyed hash>/USED`: the tombstone a consumed single-use token leaves, so a reuse is
//!   told apart from a token that never existed; `ttl` = the token's original expiry.
//! - `SESSION#<keyed hash>/SESSION`: a session ([`Session`]), `ttl` = its expiry.
//!
//! Only keyed hashes of token and session values are stored (hash domains [`TOKEN_DOMAIN`] and
//! [`SESSION_DOMAIN`]), so a dump of the table opens no session. Expired items are refused at
//! once ([`Item::is_live`]), before DynamoDB TTL removes them.
//!
//! **At most once.** A single-use token is consumed by one transaction: its delete, conditioned
//! on it being live (`Condition::Live`), with its tombstone and its session. Of any number of
//! racing redemptions exactly one commits; the others are told `token_used` (no reader ever sees
//! the token gone without its tombstone), and a failure leaves nothing behind.
//! A multi-use signer token is only read and checked live.
//!
//! **Lifetimes.** A token lives the account's `authTokenTtlSeconds` (default 30 min). A session
//! lives as long, from its redemption, with an absolute expiry (a sliding one would cost a write
//! per request); both are clamped to [`MIN_TTL`]..=[`MAX_TTL`] whatever the stored setting says.
//!
//! Where the browser goes after a redemption (the redirect allowlist, the signing ceremony's
//! URL) is the pure policy of [`redirect`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::accounts::{self, Account, AuthSettings};
use crate::chain::{self, Chain, Root};
use crate::clock::UnixSeconds;
use crate::crypto::{looks_like_secret, Secret, SecretHash};
use crate::error::{ApiError, ApiResult, Kind};
use crate::ids::{AccountId, UserId};
use crate::policy::Kind as PrincipalKind;
use crate::principal::{CredentialKind, Origin, Principal, SubjectType};
use crate::services::Services;
use crate::store::{Condition, Item, Key, StoreError, Table, WriteOp};

pub mod redirect;

pub use redirect::{redirect_location, signing_location};

/// Hash domain of authentication tokens.
pub const TOKEN_DOMAIN: &str = "authtoken";
/// Hash domain of session values.
pub const SESSION_DOMAIN: &str = "session";
/// Shortest token or session lifetime, seconds.
pub const MIN_TTL: i64 = 60;
/// Longest token or session lifetime, seconds.
pub const MAX_TTL: i64 = 86_400;
/// Longest `packageId` / `signerId`, characters.
pub const MAX_ID_LEN: usize = 128;
/// Most entries in `sessionFields`.
pub const MAX_SESSION_FIELDS: usize = 20;
/// Longest `sessionFields` key, characters.
pub const MAX_FIELD_KEY_LEN: usize = 64;
/// Longest `sessionFields` value, characters.
pub const MAX_FIELD_VALUE_LEN: usize = 512;

/// How long a newly minted token lives.
pub fn token_ttl(settings: &AuthSettings) -> i64 {
    settings.auth_token_ttl_seconds.clamp(MIN_TTL, MAX_TTL)
}

/// How long a session lives from its redemption: the same account setting as tokens, bounded.
pub fn session_ttl(settings: &AuthSettings) -> i64 {
    settings.auth_token_ttl_seconds.clamp(MIN_TTL, MAX_TTL)
}

// ---------------------------------------------------------------------------------------------
// Validated inputs
// ---------------------------------------------------------------------------------------------

/// 1–[`MAX_ID_LEN`] visible ASCII characters (`!`..=`~`): no spaces, controls or non-ASCII.
fn visible_id(
    value: Option<&str>,
    field: &str,
    missing: &'static str,
    malformed: &'static str,
) -> ApiResult<String> {
    let v = match value {
        None | Some("") => {
            return Err(ApiError::bad_request(
                missing,
                format!("{field} is required"),
            ))
        }
        Some(v) => v,
    };
    if v.len() > MAX_ID_LEN || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            malformed,
            format!(
                "{field} must be 1 to {MAX_ID_LEN} visible ASCII characters (no spaces or controls)"
            ),
        ));
    }
    Ok(v.to_owned())
}

/// A package (transaction) id as the platform names it, e.g. `5vjLRY5MWrDJ6MzRAEyCKOy5IH0=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PackageId(String);

impl PackageId {
    /// `None` or empty is `400 package_id_missing`; anything but 1–128 visible ASCII characters
    /// is `400 package_id_malformed`.
    pub fn parse(value: Option<&str>) -> ApiResult<Self> {
        visible_id(
            value,
            "packageId",
            "package_id_missing",
            "package_id_malformed",
        )
        .map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A signer of a package: its id or its email (OneSpan accepts either).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignerId(String);

impl SignerId {
    /// Same rules as [`PackageId::parse`], reasons `signer_id_missing` / `signer_id_malformed`.
    pub fn parse(value: Option<&str>) -> ApiResult<Self> {
        visible_id(
            value,
            "signerId",
            "signer_id_missing",
            "signer_id_malformed",
        )
        .map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The flat string map a single-use signer token carries into its session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionFields(BTreeMap<String, String>);

impl SessionFields {
    /// At most [`MAX_SESSION_FIELDS`] entries, keys of 1–[`MAX_FIELD_KEY_LEN`] characters
    /// without controls, values of at most [`MAX_FIELD_VALUE_LEN`] characters. Too many or too
    /// long is `413 session_fields_too_large`; an empty key or one with controls is `400`.
    pub fn parse(map: BTreeMap<String, String>) -> ApiResult<Self> {
        let too_large = |what: String| {
            ApiError::new(
                Kind::PayloadTooLarge,
                "session_fields_too_large",
                format!("sessionFields {what}"),
            )
        };
        if map.len() > MAX_SESSION_FIELDS {
            return Err(too_large(format!(
                "may have at most {MAX_SESSION_FIELDS} entries"
            )));
        }
        for (k, v) in &map {
            if k.is_empty() || k.chars().any(char::is_control) {
                return Err(ApiError::bad_request(
                    "session_field_key_malformed",
                    "sessionFields keys must be non-empty and free of control characters",
                ));
            }
            if k.chars().count() > MAX_FIELD_KEY_LEN {
                return Err(too_large(format!(
                    "keys may be at most {MAX_FIELD_KEY_LEN} characters"
                )));
            }
            if v.chars().count() > MAX_FIELD_VALUE_LEN {
                return Err(too_large(format!(
                    "values may be at most {MAX_FIELD_VALUE_LEN} characters"
                )));
            }
        }
        Ok(Self(map))
    }
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Scope, tokens and sessions
// ---------------------------------------------------------------------------------------------

/// Which of the two browser routes redeems a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redemption {
    /// `GET /auth?authenticationToken=…&target=…`: user and sender tokens.
    Auth,
    /// `GET /access?sessionToken=…`: signer tokens.
    Access,
}

/// What a token grants; its session carries exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum Grant {
    /// The whole account, as this user.
    User { user_id: UserId },
    /// One package, as the sender (the user who minted the token).
    Sender {
        user_id: UserId,
        package_id: PackageId,
    },
    /// One signer of one package; redeemable until it expires.
    SignerMultiUse {
        package_id: PackageId,
        signer_id: SignerId,
    },
    /// One signer of one package, once, with its session fields.
    SignerSingleUse {
        package_id: PackageId,
        signer_id: SignerId,
        #[serde(default)]
        session_fields: Option<SessionFields>,
    },
}

impl Grant {
    /// All but the multi-use signer token work exactly once.
    pub fn single_use(&self) -> bool {
        !matches!(self, Grant::SignerMultiUse { .. })
    }
    pub fn redeemed_at(&self) -> Redemption {
        match self {
            Grant::User { .. } | Grant::Sender { .. } => Redemption::Auth,
            Grant::SignerMultiUse { .. } | Grant::SignerSingleUse { .. } => Redemption::Access,
        }
    }
    pub fn package_id(&self) -> Option<&PackageId> {
        match self {
            Grant::User { .. } => None,
            Grant::Sender { package_id, .. }
            | Grant::SignerMultiUse { package_id, .. }
            | Grant::SignerSingleUse { package_id, .. } => Some(package_id),
        }
    }
    /// A name for logs (never a value).
    pub fn kind(&self) -> &'static str {
        match self {
            Grant::User { .. } => "user",
            Grant::Sender { .. } => "sender",
            Grant::SignerMultiUse { .. } => "signer_multi_use",
            Grant::SignerSingleUse { .. } => "signer_single_use",
        }
    }
}

/// A grant within one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    pub account_id: AccountId,
    pub grant: Grant,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRecord {
    scope: Scope,
    created_at: UnixSeconds,
    expires_at: UnixSeconds,
    /// What minted it ([`crate::chain`]); records made before chains were kept have none and
    /// are refused.
    #[serde(default)]
    chain: Option<Chain>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsedRecord {
    used_at: UnixSeconds,
}

/// A browser session, as stored and as the authorizer and consent page read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub scope: Scope,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
    /// What minted the token that opened it ([`crate::chain`]), checked on every use; sessions
    /// opened before chains were kept have none and are refused.
    #[serde(default)]
    pub chain: Option<Chain>,
}

impl Session {
    /// Its row of the authorization table: a user session is a console session when an API key
    /// minted its token, an integration session when an integration did; a sender's or
    /// signer's session is a package session.
    pub fn kind(&self, account: &Account) -> PrincipalKind {
        match &self.scope.grant {
            Grant::User { .. } if self.chain.as_ref().is_some_and(Chain::from_integration) => {
                PrincipalKind::IntegrationSession
            }
            Grant::User { user_id } => PrincipalKind::ConsoleSession {
                owner: *user_id == account.owner_user_id,
            },
            _ => PrincipalKind::PackageSession,
        }
    }

    /// The caller this session proves: user tokens give the owner or a user (subject = user
    /// id), sender tokens a sender of one package (subject = the sending user), signer tokens a
    /// signer of one package (subject = signer id).
    pub fn principal(&self, account: &Account) -> Principal {
        let (subject_type, subject_id, package_id, signer_id) = match &self.scope.grant {
            Grant::User { user_id } => (
                if *user_id == account.owner_user_id {
                    SubjectType::Owner
                } else {
                    SubjectType::User
                },
                user_id.to_string(),
                None,
                None,
            ),
            Grant::Sender {
                user_id,
                package_id,
            } => (
                SubjectType::Sender,
                user_id.to_string(),
                Some(package_id.as_str().to_owned()),
                None,
            ),
            Grant::SignerMultiUse {
                package_id,
                signer_id,
            }
            | Grant::SignerSingleUse {
                package_id,
                signer_id,
                ..
            } => (
                SubjectType::Signer,
                signer_id.as_str().to_owned(),
                Some(package_id.as_str().to_owned()),
                Some(signer_id.as_str().to_owned()),
            ),
        };
        Principal {
            account_id: self.scope.account_id.clone(),
            subject_type,
            subject_id,
            client_id: None,
            scopes: vec![],
            package_id,
            signer_id,
            auth_method: CredentialKind::Session,
            account_method: account.settings.method,
            session_fields: self.session_fields().map(|f| f.0.clone()),
            minted_by: self.chain.as_ref().map(|c| {
                match &c.root {
                    Root::ApiKey { .. } => "API_KEY",
                    Root::Client {
                        kind: crate::clients::ClientKind::App,
                        ..
                    } => "CLIENT_APP",
                    Root::Client { .. } => "OAUTH2",
                }
                .to_owned()
            }),
            origin: Some(Origin {
                chain: self.chain.clone(),
                ..Origin::of(self.kind(account))
            }),
        }
    }

    /// The single-use signer token's session fields, if any.
    pub fn session_fields(&self) -> Option<&SessionFields> {
        match &self.scope.grant {
            Grant::SignerSingleUse { session_fields, .. } => session_fields.as_ref(),
            _ => None,
        }
    }
}

fn token_key(hash: &SecretHash) -> Key {
    Key::new(format!("AUTHTOK#{}", hash.0), "AUTHTOK")
}

fn used_key(hash: &SecretHash) -> Key {
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
    services: &Services,
    account: &Account,
    grant: Grant,
    chain: Chain,
) -> ApiResult<Minted> {
    let now = services.now();
    let value = Secret::generate();
    let hash = services
        .keys
        .ring()
        .await
        .peppers()
        .hash(TOKEN_DOMAIN, &value);
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
    services.table.put(item, Condition::NotExists).await?;
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

fn token_unknown() -> ApiError {
    ApiError::unauthorized("token_unknown", "the authentication token is not valid")
}

/// Redeems a token at `at` and opens its session.
///
/// Refusals, none of which consumes the token: not a token's shape `400 token_malformed`,
/// unknown (or altered) `401 token_unknown`, already used `401 token_used`, expired
/// `401 token_expired`, a token of the other route `400 token_wrong_route`, its account gone
/// `401 account_unknown`. A single-use token is consumed **at most once** (see the module doc).
pub async fn redeem(services: &Services, at: Redemption, presented: &str) -> ApiResult<Redeemed> {
    if !looks_like_secret(presented) {
        return Err(ApiError::bad_request(
            "token_malformed",
            "the authentication token is not well-formed",
        ));
    }
    let now = services.now();
    let ring = services.keys.ring().await;
    let peppers = ring.peppers();
    let table = &*services.table;
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

fn token_used() -> ApiError {
    ApiError::unauthorized("token_used", "the authentication token was already used")
}

/// The stored token a presented one names (under any pepper in force): `token_used` when only
/// its tombstone is left, `token_unknown` when there is nothing.
async fn find_token(
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
async fn consume(
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
pub async fn get_session(services: &Services, value: &str) -> ApiResult<Session> {
    Ok(find_session(services, value).await?.0)
}

/// [`get_session`], with the keyed hash the session is stored under.
async fn find_session(services: &Services, value: &str) -> ApiResult<(Session, SecretHash)> {
    let unknown = || ApiError::unauthorized("session_unknown", "the session is not valid");
    if !looks_like_secret(value) {
        return Err(unknown());
    }
    let now = services.now();
    let ring = services.keys.ring().await;
    for hash in ring.peppers().lookup_hashes(SESSION_DOMAIN, value) {
        let Some(item) = services.table.get(&session_key(&hash)).await? else {
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
pub async fn end_session(services: &Services, value: &str) -> ApiResult<()> {
    if !looks_like_secret(value) {
        return Ok(());
    }
    let ring = services.keys.ring().await;
    for hash in ring.peppers().lookup_hashes(SESSION_DOMAIN, value) {
        services
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
pub async fn authenticate_session(services: &Services, token: &str) -> ApiResult<Principal> {
    let (session, hash) = find_session(services, token).await?;
    let table = &*services.table;
    let account = accounts::get_account(table, &session.scope.account_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("account_unknown", "the account no longer exists"))?;
    let chain = session
        .chain
        .as_ref()
        .ok_or_else(|| ApiError::unauthorized("session_unknown", "the session is not valid"))?;
    let held = chain::check(table, &account, chain, session_key, services.now()).await?;
    let mut p = session.principal(&account);
    let acts_for_itself = held.root_user.owner || p.subject_id == held.root_user.id.as_str();
    if let Some(origin) = p.origin.as_mut() {
        origin.session = Some((hash, session.expires_at));
        origin.acts_for_itself = acts_for_itself;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::config::Config;
    use crate::store::MemoryTable;

    const T0: UnixSeconds = 1_800_000_000;

    struct Fixture {
        services: Services,
        table: Arc<MemoryTable>,
        clock: ManualClock,
        account: Account,
        /// The owner's API key as the root of what the tests mint.
        root: Chain,
    }

    async fn fixture() -> Fixture {
        let clock = ManualClock::new(T0);
        let config = Config::local("http://127.0.0.1:3000");
        let mut services = Services::in_memory(config.clone(), Arc::new(clock.clone())).await;
        let table = Arc::new(MemoryTable::new());
        services.table = table.clone();
        let ring = services.keys.ring().await;
        let new = accounts::create_account(
            &*table,
            ring.peppers(),
            &config,
            "Acme",
            "owner@acme.test",
            T0,
        )
        .await
        .unwrap();
        Fixture {
            services,
            table,
            clock,
            account: new.account,
            root: Chain::from(Root::ApiKey {
                user_id: new.owner.id.clone(),
                key: new.owner.api_key_hash.clone(),
            }),
        }
    }

    fn pkg(s: &str) -> PackageId {
        PackageId::parse(Some(s)).unwrap()
    }

    fn signer(s: &str) -> SignerId {
        SignerId::parse(Some(s)).unwrap()
    }

    fn fields(n: usize, key_len: usize, value_len: usize) -> BTreeMap<String, String> {
        (0..n)
            .map(|i| (format!("{i:0>key_len$}"), "v".repeat(value_len)))
            .collect()
    }

    #[test]
    fn ids_are_visible_ascii_up_to_128() {
        assert!(PackageId::parse(Some("5vjLRY5MWrDJ6MzRAEyCKOy5IH0=")).is_ok());
        assert!(SignerId::parse(Some("cd9lbzvjgblygdncdz3x@esignlive.com")).is_ok());
        assert!(PackageId::parse(Some(&"p".repeat(128))).is_ok());
        for (input, reason) in [
            (None, "package_id_missing"),
            (Some(""), "package_id_missing"),
            (Some(" pkg"), "package_id_malformed"),
            (Some("a b"), "package_id_malformed"),
            (Some("pkg\n"), "package_id_malformed"),
            (Some("päckage"), "package_id_malformed"),
        ] {
            let e = PackageId::parse(input).unwrap_err();
            assert_eq!((e.status().as_u16(), e.reason), (400, reason), "{input:?}");
        }
        let e = PackageId::parse(Some(&"p".repeat(129))).unwrap_err();
        assert_eq!(e.reason, "package_id_malformed");
        assert_eq!(
            SignerId::parse(None).unwrap_err().reason,
            "signer_id_missing"
        );
    }

    #[test]
    fn session_fields_are_bounded() {
        assert!(SessionFields::parse(fields(20, 64, 512)).is_ok());
        assert!(SessionFields::parse(BTreeMap::new()).is_ok());
        for too_big in [fields(21, 2, 1), fields(1, 65, 1), fields(1, 2, 513)] {
            let e = SessionFields::parse(too_big).unwrap_err();
            assert_eq!(e.status(), 413);
            assert_eq!(e.reason, "session_fields_too_large");
        }
        for bad_key in ["", "a\u{7}"] {
            let m = BTreeMap::from([(bad_key.to_owned(), "v".to_owned())]);
            assert_eq!(SessionFields::parse(m).unwrap_err().status(), 400);
        }
    }

    #[test]
    fn lifetimes_follow_the_setting_within_bounds() {
        let config = Config::local("http://127.0.0.1:3000");
        let mut s = AuthSettings::defaults(&config);
        assert_eq!(token_ttl(&s), 1800);
        assert_eq!(session_ttl(&s), 1800);
        s.auth_token_ttl_seconds = 0;
        assert_eq!(token_ttl(&s), MIN_TTL);
        s.auth_token_ttl_seconds = i64::MAX;
        assert_eq!(session_ttl(&s), MAX_TTL);
    }

    #[test]
    fn grants_serialize_with_their_kind() {
        let g = Grant::SignerSingleUse {
            package_id: pkg("p1"),
            signer_id: signer("s@x.test"),
            session_fields: None,
        };
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["kind"], "SIGNER_SINGLE_USE");
        assert_eq!(v["packageId"], "p1");
        assert_eq!(serde_json::from_value::<Grant>(v).unwrap(), g);
        assert!(g.single_use() && g.redeemed_at() == Redemption::Access);
        let m = Grant::SignerMultiUse {
            package_id: pkg("p1"),
            signer_id: signer("s"),
        };
        assert!(!m.single_use());
    }

    #[tokio::test]
    async fn each_kind_opens_a_session_of_its_scope() {
        let f = fixture().await;
        let owner = f.account.owner_user_id.clone();
        let cases = [
            (
                Grant::User {
                    user_id: owner.clone(),
                },
                Redemption::Auth,
                SubjectType::Owner,
            ),
            (
                Grant::Sender {
                    user_id: owner.clone(),
                    package_id: pkg("pkg1"),
                },
                Redemption::Auth,
                SubjectType::Sender,
            ),
            (
                Grant::SignerMultiUse {
                    package_id: pkg("pkg2"),
                    signer_id: signer("s1"),
                },
                Redemption::Access,
                SubjectType::Signer,
            ),
            (
                Grant::SignerSingleUse {
                    package_id: pkg("pkg3"),
                    signer_id: signer("s2@x.test"),
                    session_fields: Some(
                        SessionFields::parse(BTreeMap::from([("k".into(), "v".into())])).unwrap(),
                    ),
                },
                Redemption::Access,
                SubjectType::Signer,
            ),
        ];
        for (grant, at, subject) in cases {
            let minted = mint(&f.services, &f.account, grant.clone(), f.root.clone())
                .await
                .unwrap();
            assert_eq!(minted.expires_at, T0 + 1800);
            let r = redeem(&f.services, at, minted.value.expose())
                .await
                .unwrap();
            assert_eq!(r.session.scope.grant, grant);
            assert_eq!(r.max_age(T0), 1800);
            let p = authenticate_session(&f.services, r.session_value.expose())
                .await
                .unwrap();
            assert_eq!(p.subject_type, subject);
            assert_eq!(p.account_id, f.account.id);
            assert_eq!(p.auth_method, CredentialKind::Session);
            assert_eq!(
                p.package_id.as_deref(),
                grant.package_id().map(|p| p.as_str())
            );
            if let Grant::SignerSingleUse { session_fields, .. } = &grant {
                let s = get_session(&f.services, r.session_value.expose())
                    .await
                    .unwrap();
                assert_eq!(s.session_fields(), session_fields.as_ref());
                assert_eq!(p.signer_id.as_deref(), Some("s2@x.test"));
                assert_eq!(p.subject_id, "s2@x.test");
            }
            // Single-use tokens work once; the multi-use one again.
            let again = redeem(&f.services, at, minted.value.expose()).await;
            if grant.single_use() {
                assert_eq!(again.unwrap_err().reason, "token_used");
            } else {
                assert!(again.is_ok());
            }
        }
    }

    #[tokio::test]
    async fn nothing_stored_opens_a_session() {
        let f = fixture().await;
        let minted = mint(
            &f.services,
            &f.account,
            Grant::SignerMultiUse {
                package_id: pkg("p"),
                signer_id: signer("s"),
            },
            f.root.clone(),
        )
        .await
        .unwrap();
        let r = redeem(&f.services, Redemption::Access, minted.value.expose())
            .await
            .unwrap();
        for item in f.table.dump() {
            let text = format!("{:?} {}", item.key, item.data);
            assert!(!text.contains(minted.value.expose()));
            assert!(!text.contains(r.session_value.expose()));
        }
    }

    #[tokio::test]
    async fn refusals_leave_the_token_unconsumed() {
        let f = fixture().await;
        let user = Grant::User {
            user_id: f.account.owner_user_id.clone(),
        };
        let minted = mint(&f.services, &f.account, user, f.root.clone())
            .await
            .unwrap();
        let before = f.table.dump().len();
        let e = redeem(&f.services, Redemption::Access, minted.value.expose())
            .await
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (400, "token_wrong_route"));
        assert_eq!(f.table.dump().len(), before, "nothing written or consumed");

        let mut tampered = minted.value.expose().to_owned();
        let last = if tampered.ends_with('A') { "B" } else { "A" };
        tampered.replace_range(42.., last);
        let e = redeem(&f.services, Redemption::Auth, &tampered)
            .await
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (401, "token_unknown"));
        let e = redeem(&f.services, Redemption::Auth, "short")
            .await
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (400, "token_malformed"));
        assert_eq!(f.table.dump().len(), before);

        // Still good after all that.
        assert!(redeem(&f.services, Redemption::Auth, minted.value.expose())
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn tokens_and_sessions_expire_before_ttl_removes_them() {
        let f = fixture().await;
        let grant = Grant::SignerMultiUse {
            package_id: pkg("p"),
            signer_id: signer("s"),
        };
        let minted = mint(&f.services, &f.account, grant, f.root.clone())
            .await
            .unwrap();
        f.clock.advance(1799);
        let r = redeem(&f.services, Redemption::Access, minted.value.expose())
            .await
            .unwrap();
        f.clock.advance(1);
        let e = redeem(&f.services, Redemption::Access, minted.value.expose())
            .await
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (401, "token_expired"));
        // The session opened at T0+1799 lives until T0+1799+1800.
        assert!(authenticate_session(&f.services, r.session_value.expose())
            .await
            .is_ok());
        f.clock.advance(1799);
        let e = authenticate_session(&f.services, r.session_value.expose())
            .await
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (401, "session_expired"));
        let e = authenticate_session(&f.services, Secret::generate().expose())
            .await
            .unwrap_err();
        assert_eq!(e.reason, "session_unknown");
        let e = authenticate_session(&f.services, "not a session")
            .await
            .unwrap_err();
        assert_eq!(e.reason, "session_unknown");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_redemptions_open_exactly_one_session() {
        let f = fixture().await;
        let minted = mint(
            &f.services,
            &f.account,
            Grant::Sender {
                user_id: f.account.owner_user_id.clone(),
                package_id: pkg("p"),
            },
            f.root.clone(),
        )
        .await
        .unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let s = f.services.clone();
                let v = minted.value.expose().to_owned();
                tokio::spawn(async move { redeem(&s, Redemption::Auth, &v).await })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(e) => assert_eq!(e.reason, "token_used"),
            }
        }
        assert_eq!(won, 1);
        let sessions = f
            .table
            .dump()
            .into_iter()
            .filter(|i| i.key.sk == "SESSION")
            .count();
        assert_eq!(sessions, 1);
    }
}
