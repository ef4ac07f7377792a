//! A table that lets a test step in before each call: fail it (a throttled service), or make
//! something happen meanwhile (another writer between a read and a write). One delegating
//! decorator, so that each such test writes only its hook.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use async_trait::async_trait;

use crate::kernel::clock::UnixSeconds;
use crate::ports::store::{Condition, Item, Key, SkRange, StoreError, Table, WriteOp};

/// The call a [`Hook`] is asked about.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    /// Any read (`get`, `get_many`, the queries, `counter`).
    Read,
    /// A write of one item (`put`, `delete`, `increment`).
    Write(&'a Key),
    /// A transaction with its operations.
    Transact(&'a [WriteOp]),
}

/// What runs before each call of a [`Hooked`] table: an error stops the call with it.
#[async_trait]
pub trait Hook: Send + Sync + 'static {
    async fn before(&self, inner: &dyn Table, call: Call<'_>) -> Result<(), StoreError>;
}

/// `inner`, with `hook` run before each call.
pub struct Hooked<H> {
    pub inner: Arc<dyn Table>,
    pub hook: H,
}

impl<H: Hook> Hooked<H> {
    async fn before(&self, call: Call<'_>) -> Result<(), StoreError> {
        self.hook.before(&*self.inner, call).await
    }
}

#[async_trait]
impl<H: Hook> Table for Hooked<H> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.before(Call::Read).await?;
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.before(Call::Read).await?;
        self.inner.get_many(keys).await
    }
    async fn put(&self, item: Item, cond: Condition) -> Result<(), StoreError> {
        self.before(Call::Write(&item.key)).await?;
        self.inner.put(item, cond).await
    }
    async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError> {
        self.before(Call::Write(key)).await?;
        self.inner.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.before(Call::Transact(&ops)).await?;
        self.inner.transact(ops).await
    }
    async fn increment(&self, key: &Key, by: i64, ttl: UnixSeconds) -> Result<i64, StoreError> {
        self.before(Call::Write(key)).await?;
        self.inner.increment(key, by, ttl).await
    }
    async fn counter(&self, key: &Key) -> Result<i64, StoreError> {
        self.before(Call::Read).await?;
        self.inner.counter(key).await
    }
    async fn query(&self, pk: &str, prefix: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.before(Call::Read).await?;
        self.inner.query(pk, prefix, limit).await
    }
    async fn query_gsi1(&self, gsi1pk: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.before(Call::Read).await?;
        self.inner.query_gsi1(gsi1pk, limit).await
    }
    async fn query_gsi1_range(
        &self,
        gsi1pk: &str,
        range: SkRange<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.before(Call::Read).await?;
        self.inner.query_gsi1_range(gsi1pk, range, limit).await
    }
}

/// A failed delivery writing an endpoint's health (`failingSince`, as the webhooks function
/// does) right before each of the next `n` transactions that write a stored endpoint (`n` is the
/// counter's value, counted down per write made): the manager's read is stale by the time its
/// write lands.
pub struct DeliveryRaces(pub Arc<AtomicU32>);

#[async_trait]
impl Hook for DeliveryRaces {
    async fn before(&self, inner: &dyn Table, call: Call<'_>) -> Result<(), StoreError> {
        use crate::kernel::ids::{AccountId, EndpointId};
        use crate::notify::endpoints;
        let Call::Transact(ops) = call else {
            return Ok(());
        };
        for op in ops {
            let key = match op {
                WriteOp::Put(item, _) => &item.key,
                WriteOp::Delete(key, _) => key,
                WriteOp::Check(..) => continue,
            };
            let (Some(account), Some(id)) =
                (key.pk.strip_prefix("ACC#"), key.sk.strip_prefix("EP#"))
            else {
                continue;
            };
            let (Ok(account), Ok(id)) = (AccountId::parse(account), EndpointId::parse(id)) else {
                continue;
            };
            if self.0.load(SeqCst) == 0 {
                return Ok(());
            }
            // A race is used up only by a write that happened: a transaction on an endpoint not
            // stored yet (a create) leaves it armed, so a test's "none left" proves the write.
            let Some((mut ep, rev)) = endpoints::get(inner, &account, &id).await? else {
                continue;
            };
            ep.failing_since = Some(ep.failing_since.unwrap_or(0) + 1);
            endpoints::save(inner, &ep, Some(rev)).await?;
            let _ = self.0.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1));
        }
        Ok(())
    }
}
