//! How clients are stored: the table keys and the reads and writes (one transaction per change).

use super::*;

/// A revocation: a token id (`jti`) or a grant family, until everything it covers has expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    pub until: UnixSeconds,
}

pub fn client_key(id: &str) -> Key {
    Key::new(format!("CLIENT#{id}"), "CLIENT")
}

/// Where the revocation of `id` (a `jti` or a family) of a client lives.
pub fn revocation_key(client_id: &str, id: &str) -> Key {
    Key::new(format!("CLIENT#{client_id}"), format!("REVOKED#{id}"))
}

pub(super) fn list_pk(account: &AccountId, kind: ClientKind) -> String {
    format!("ACC#{account}#{}", kind.tag())
}

pub(super) fn count_key(account: &AccountId, kind: ClientKind) -> Key {
    Key::new(format!("ACC#{account}"), format!("CLIENTS#{}", kind.tag()))
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(super) struct ClientCount {
    n: usize,
}

/// A client by id, with its revision.
pub async fn get(table: &dyn Table, id: &str) -> Result<Option<(Client, u64)>, StoreError> {
    match table.get(&client_key(id)).await? {
        Some(i) => Ok(Some((i.decode()?, i.rev))),
        None => Ok(None),
    }
}

/// A client of `account` and `kind` by id; any other (unknown, another account's, other kind)
/// is the same 404, so ids of other accounts leak nothing.
pub async fn get_owned(
    table: &dyn Table,
    account: &AccountId,
    kind: ClientKind,
    id: &str,
) -> ApiResult<(Client, u64)> {
    if !kind.id_well_formed(id) {
        return Err(ApiError::not_found("client_unknown", "no such client"));
    }
    match get(table, id).await? {
        Some((c, rev)) if &c.account_id == account && c.kind == kind => Ok((c, rev)),
        _ => Err(ApiError::not_found("client_unknown", "no such client")),
    }
}

/// The account's clients of one kind, oldest first (each kind has its own index partition).
pub async fn list(
    table: &dyn Table,
    account: &AccountId,
    kind: ClientKind,
) -> Result<Vec<Client>, StoreError> {
    table
        .query_gsi1(&list_pk(account, kind), MAX_CLIENTS)
        .await?
        .iter()
        .map(Item::decode)
        .collect()
}

/// How many clients of `kind` the account has, by its counter item (one read).
pub async fn count(table: &dyn Table, account: &AccountId, kind: ClientKind) -> ApiResult<usize> {
    Ok(match table.get(&count_key(account, kind)).await? {
        Some(i) => i.decode::<ClientCount>()?.n,
        None => 0,
    })
}

/// How many times a create or delete re-reads the count after losing a race to another one.
pub(super) const COUNT_ATTEMPTS: usize = 16;

/// Writes the counter item next to `op` and `extra`, at the revision read: the limit check and
/// the write are one transaction, so concurrent creates can never exceed [`MAX_CLIENTS`].
pub(super) async fn counted(
    table: &dyn Table,
    account: &AccountId,
    kind: ClientKind,
    delta: isize,
    op: WriteOp,
    extra: Vec<WriteOp>,
) -> ApiResult<()> {
    let key = count_key(account, kind);
    for _ in 0..COUNT_ATTEMPTS {
        let current = table.get(&key).await?;
        let (count, cond, rev) = match &current {
            Some(i) => (
                i.decode::<ClientCount>()?,
                Condition::Revision(i.rev),
                i.rev + 1,
            ),
            None => (ClientCount::default(), Condition::NotExists, 0),
        };
        let n = count.n.saturating_add_signed(delta);
        if delta > 0 && n > MAX_CLIENTS {
            return Err(ApiError::conflict(
                "clients_limit",
                format!(
                    "the account already has {MAX_CLIENTS} {}",
                    match kind {
                        ClientKind::App => "client apps",
                        ClientKind::OAuth => "OAuth clients",
                    }
                ),
            ));
        }
        let mut counter = Item::new(key.clone(), &ClientCount { n })?;
        counter.rev = rev;
        let mut ops = vec![WriteOp::Put(counter, cond), op.clone()];
        ops.extend(extra.iter().cloned());
        match table.transact(ops).await {
            Ok(()) => return Ok(()),
            // Another create or delete moved the count (or the client itself changed): read again.
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "concurrent_change",
        "the account's clients changed too often meanwhile: try again",
    ))
}

/// Stores a new client with `extra` writes (its audit record), within the per-kind limit.
pub async fn create(table: &dyn Table, client: &Client, extra: Vec<WriteOp>) -> ApiResult<()> {
    counted(
        table,
        &client.account_id,
        client.kind,
        1,
        client.write(None)?,
        extra,
    )
    .await
}

/// Deletes a client read at `rev` (revocation of all its tokens), with `extra` writes; `409` if
/// it changed meanwhile.
pub async fn delete(
    table: &dyn Table,
    client: &Client,
    rev: u64,
    extra: Vec<WriteOp>,
) -> ApiResult<()> {
    let op = WriteOp::Delete(client_key(&client.id), Condition::Revision(rev));
    counted(table, &client.account_id, client.kind, -1, op, extra).await
}

/// Writes a changed client read at `rev`, with `extra` writes (its audit record); `409` if it
/// changed meanwhile.
pub async fn save(
    table: &dyn Table,
    client: &Client,
    rev: u64,
    extra: Vec<WriteOp>,
) -> ApiResult<()> {
    let mut ops = vec![client.write(Some(rev))?];
    ops.extend(extra);
    crate::kernel::error::conflict_on_race(
        table.transact(ops).await,
        "the client changed meanwhile: try again",
    )
}

/// Revokes a token id or grant family of a client until `until` (when everything it covers has
/// expired), and moves the client's revocation watermark ([`Client::revoked_at`]) to `now`, in
/// one transaction: a verifier that reads the new watermark also finds the revocation.
/// Idempotent; a later revocation of the same id keeps the later expiry. A client that is gone
/// needs no watermark (every token of it fails): the revocation alone is written.
pub async fn revoke(
    table: &dyn Table,
    client_id: &str,
    id: &str,
    until: UnixSeconds,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    let key = revocation_key(client_id, id);
    // A concurrent change of the client (another revocation, a rotation) moves its revision:
    // read again and retry. The watermark moves at most once a second, so a client revoking
    // many tokens at once writes its record once and its revocations beside it.
    for _ in 0..8 {
        let until = match table.get(&key).await? {
            Some(i) => i.decode::<Revoked>()?.until.max(until),
            None => until,
        };
        let item = Item::new(key.clone(), &Revoked { until })?.with_ttl(until);
        let Some((mut client, rev)) = get(table, client_id).await? else {
            return table.put(item, Condition::Always).await;
        };
        if client.revoked_at.is_some_and(|at| at >= now) {
            return table.put(item, Condition::Always).await;
        }
        client.revoked_at = Some(now);
        match table
            .transact(vec![
                WriteOp::Put(item, Condition::Always),
                client.write(Some(rev))?,
            ])
            .await
        {
            Err(StoreError::ConditionFailed) => continue,
            other => return other,
        }
    }
    Err(StoreError::ConditionFailed)
}

/// Whether `id` (a `jti` or family) of a client is revoked at `now`: one read.
pub async fn is_revoked(
    table: &dyn Table,
    client_id: &str,
    id: &str,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    Ok(table
        .get(&revocation_key(client_id, id))
        .await?
        .is_some_and(|i| i.is_live(now)))
}
