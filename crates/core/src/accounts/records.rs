//! How accounts are stored: the table keys and the reads and writes (one transaction per change).

use super::*;

/// The index from an API key's keyed hash to its user. It also carries what authenticating
/// needs (owner or not, the account's method), so checking an API key is **one read**; the
/// account's method is copied onto every index item in the transaction that changes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyIndex {
    pub account_id: AccountId,
    pub user_id: UserId,
    #[serde(default)]
    pub owner: bool,
    #[serde(default)]
    pub account_method: AuthMethod,
}

/// Most users an account may have: changing the account's method rewrites every user's index
/// item in one transaction (DynamoDB allows 100 items per transaction).
pub const MAX_USERS: usize = 90;

pub(super) fn index_write(
    user: &User,
    method: AuthMethod,
    cond: Condition,
) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::Put(
        Item::new(
            api_key_index_key(&user.api_key_hash),
            &ApiKeyIndex {
                account_id: user.account_id.clone(),
                user_id: user.id.clone(),
                owner: user.owner,
                account_method: method,
            },
        )?,
        cond,
    ))
}

/// The index entry of a presented API key (one read per pepper in force; one between pepper
/// rotations) and the keyed hash it was found under (the key's identity, which a regeneration
/// changes), or `None`.
pub async fn index_by_api_key(
    table: &dyn Table,
    peppers: &Peppers,
    presented: &str,
) -> Result<Option<(ApiKeyIndex, SecretHash)>, StoreError> {
    for hash in peppers.lookup_hashes(API_KEY_DOMAIN, presented) {
        if let Some(item) = table.get(&api_key_index_key(&hash)).await? {
            return Ok(Some((item.decode()?, hash)));
        }
    }
    Ok(None)
}

pub fn account_key(id: &AccountId) -> Key {
    Key::new(format!("ACC#{id}"), "ACCOUNT")
}

pub fn user_key(account: &AccountId, user: &UserId) -> Key {
    Key::new(format!("ACC#{account}"), format!("USER#{user}"))
}

pub(super) fn email_key(account: &AccountId, email: &str) -> Key {
    Key::new(
        format!("ACC#{account}"),
        format!("EMAIL#{}", email.to_ascii_lowercase()),
    )
}

pub(super) fn api_key_index_key(hash: &SecretHash) -> Key {
    Key::new(format!("APIKEY#{}", hash.0), "APIKEY")
}

/// The result of creating an account: the API key appears here only.
#[derive(Debug)]
pub struct NewAccount {
    pub account: Account,
    pub owner: User,
    pub api_key: Secret,
}

/// The result of adding a user: the API key appears here only.
#[derive(Debug)]
pub struct NewUser {
    pub user: User,
    pub api_key: Secret,
}

pub(super) fn new_user(
    peppers: &Peppers,
    account_id: &AccountId,
    email: String,
    owner: bool,
    permissions: Vec<Permission>,
    now: UnixSeconds,
) -> (User, Secret) {
    let id = UserId::generate();
    let api_key = Secret::generate();
    let user = User {
        api_key_hash: peppers.hash(API_KEY_DOMAIN, &api_key),
        api_key_sealed: Some(peppers.seal(&api_key_aad(&id), api_key.expose())),
        api_key_last4: api_key.masked()[4..].to_owned(),
        id,
        account_id: account_id.clone(),
        email,
        owner,
        permissions,
        created_at: now,
    };
    (user, api_key)
}

pub(super) fn api_key_aad(user: &UserId) -> String {
    format!("apikey:{user}")
}

/// Replaces a user's API key: the old one stops working at once, the new one is returned once.
/// One transaction with the `extra` writes made for the new key's keyed hash (the audit record;
/// the regenerating console session moved onto the new key); a concurrent change gives `409`.
pub async fn regenerate_api_key(
    table: &dyn Table,
    peppers: &Peppers,
    user: &User,
    extra: impl FnOnce(&SecretHash) -> ApiResult<Vec<WriteOp>>,
) -> ApiResult<(User, Secret)> {
    let current = table
        .get(&user_key(&user.account_id, &user.id))
        .await?
        .ok_or_else(|| ApiError::not_found("user_unknown", "no such user"))?;
    let stored: User = current.decode()?;
    let account_item = table
        .get(&account_key(&stored.account_id))
        .await?
        .ok_or_else(|| ApiError::not_found("account_unknown", "no such account"))?;
    let account_rev = account_item.rev;
    let account: Account = account_item.decode()?;
    let api_key = Secret::generate();
    let mut next = stored.clone();
    next.api_key_hash = peppers.hash(API_KEY_DOMAIN, &api_key);
    next.api_key_sealed = Some(peppers.seal(&api_key_aad(&next.id), api_key.expose()));
    next.api_key_last4 = api_key.masked()[4..].to_owned();
    let mut item = Item::new(user_key(&next.account_id, &next.id), &next)?;
    item.rev = current.rev + 1;
    let mut ops = vec![
        WriteOp::Put(item, Condition::Revision(current.rev)),
        WriteOp::Delete(api_key_index_key(&stored.api_key_hash), Condition::Always),
        index_write(&next, account.settings.method, Condition::NotExists)?,
        WriteOp::Check(
            account_key(&next.account_id),
            Condition::Revision(account_rev),
        ),
    ];
    ops.extend(extra(&next.api_key_hash)?);
    crate::kernel::error::conflict_on_race(
        table.transact(ops).await,
        "the key changed meanwhile: try again",
    )
    .map(|()| (next, api_key))
}

/// Replaces an account's settings at the revision read (`409` if it moved), with `extra` writes.
pub async fn update_settings(
    table: &dyn Table,
    account: &AccountId,
    settings: AuthSettings,
    extra: Vec<WriteOp>,
) -> ApiResult<Account> {
    let current = table
        .get(&account_key(account))
        .await?
        .ok_or_else(|| ApiError::not_found("account_unknown", "no such account"))?;
    let mut acc: Account = current.decode()?;
    let method_changed = acc.settings.method != settings.method;
    acc.settings = settings;
    let mut item = Item::new(account_key(account), &acc)?;
    item.rev = current.rev + 1;
    let mut ops = vec![WriteOp::Put(item, Condition::Revision(current.rev))];
    if method_changed {
        for u in table
            .query(&format!("ACC#{account}"), "USER#", MAX_USERS + 1)
            .await?
        {
            let user: User = u.decode()?;
            ops.push(index_write(
                &user,
                acc.settings.method,
                Condition::Live { now: 0 },
            )?);
        }
    }
    ops.extend(extra);
    crate::kernel::error::conflict_on_race(
        table.transact(ops).await,
        "the settings changed meanwhile: try again",
    )
    .map(|()| acc)
}

pub(super) fn user_writes(user: &User, method: AuthMethod) -> Result<Vec<WriteOp>, StoreError> {
    Ok(vec![
        WriteOp::Put(
            Item::new(user_key(&user.account_id, &user.id), user)?,
            Condition::NotExists,
        ),
        WriteOp::Put(
            Item::new(email_key(&user.account_id, &user.email), &user.id)?,
            Condition::NotExists,
        ),
        index_write(user, method, Condition::NotExists)?,
    ])
}

/// Creates an account and its owner (with an API key) in one transaction.
pub async fn create_account(
    table: &dyn Table,
    peppers: &Peppers,
    config: &crate::kernel::config::Config,
    name: &str,
    owner_email: &str,
    now: UnixSeconds,
) -> ApiResult<NewAccount> {
    let name = validate_name("name", name)?;
    let email = validate_email(owner_email)?;
    let id = AccountId::generate();
    let (owner, api_key) = new_user(peppers, &id, email, true, vec![], now);
    let account = Account {
        id: id.clone(),
        name,
        owner_user_id: owner.id.clone(),
        settings: AuthSettings::defaults(config),
        created_at: now,
    };
    let mut ops = vec![WriteOp::Put(
        Item::new(account_key(&id), &account)?,
        Condition::NotExists,
    )];
    ops.extend(user_writes(&owner, account.settings.method)?);
    table.transact(ops).await?;
    Ok(NewAccount {
        account,
        owner,
        api_key,
    })
}

/// Adds a user with its own API key. A second user with the same email gets `409`.
pub async fn add_user(
    table: &dyn Table,
    peppers: &Peppers,
    account_id: &AccountId,
    email: &str,
    permissions: Vec<Permission>,
    now: UnixSeconds,
) -> ApiResult<NewUser> {
    let email = validate_email(email)?;
    let Some(account_item) = table.get(&account_key(account_id)).await? else {
        return Err(ApiError::not_found("account_unknown", "no such account"));
    };
    let account: Account = account_item.decode()?;
    if table
        .query(&format!("ACC#{account_id}"), "USER#", MAX_USERS + 1)
        .await?
        .len()
        >= MAX_USERS
    {
        return Err(ApiError::conflict(
            "users_limit",
            "the account has too many users",
        ));
    }
    let (user, api_key) = new_user(peppers, account_id, email, false, permissions, now);
    // The account must not change meanwhile: the index item copies its method.
    let mut ops = vec![WriteOp::Check(
        account_key(account_id),
        Condition::Revision(account_item.rev),
    )];
    ops.extend(user_writes(&user, account.settings.method)?);
    match table.transact(ops).await {
        Ok(()) => Ok(NewUser { user, api_key }),
        Err(StoreError::ConditionFailed) => {
            // Which condition failed is not told; the email is the likely one, a concurrent
            // settings change the rare other.
            let taken = table
                .get(&email_key(account_id, &user.email))
                .await?
                .is_some();
            if taken {
                Err(ApiError::conflict(
                    "email_taken",
                    "a user with this email already exists in the account",
                ))
            } else {
                Err(ApiError::conflict(
                    "concurrent_change",
                    "the account changed meanwhile: try again",
                ))
            }
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get_account(table: &dyn Table, id: &AccountId) -> Result<Option<Account>, StoreError> {
    table
        .get(&account_key(id))
        .await?
        .map(|i| i.decode())
        .transpose()
}

pub async fn get_user(
    table: &dyn Table,
    account: &AccountId,
    user: &UserId,
) -> Result<Option<User>, StoreError> {
    table
        .get(&user_key(account, user))
        .await?
        .map(|i| i.decode())
        .transpose()
}

/// Finds the user an API key belongs to: one read per pepper in force (one, between
/// rotations), then the user and account. Returns `None` for an unknown key.
pub async fn find_by_api_key(
    table: &dyn Table,
    peppers: &Peppers,
    presented: &str,
) -> Result<Option<(Account, User)>, StoreError> {
    for hash in peppers.lookup_hashes(API_KEY_DOMAIN, presented) {
        let Some(item) = table.get(&api_key_index_key(&hash)).await? else {
            continue;
        };
        let idx: ApiKeyIndex = item.decode()?;
        let (Some(account), Some(user)) = (
            get_account(table, &idx.account_id).await?,
            get_user(table, &idx.account_id, &idx.user_id).await?,
        ) else {
            return Ok(None);
        };
        // The index and the user agree, and the comparison is constant-time.
        if user.api_key_hash == hash
            && peppers.verify(API_KEY_DOMAIN, &user.api_key_hash, presented)
        {
            return Ok(Some((account, user)));
        }
        return Ok(None);
    }
    Ok(None)
}
