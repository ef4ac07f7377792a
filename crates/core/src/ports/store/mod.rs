//! The storage port: one DynamoDB-shaped single table (`pk`/`sk`, GSI `gsi1`, `ttl`).
//!
//! The port is deliberately the handful of primitives DynamoDB gives atomically (get, conditional
//! put/delete, transactions, counters, queries) rather than one method per domain operation: the
//! at-most-once guarantees (a nonce claimed once, a single-use token consumed once) are then
//! written once, in the domain, on top of conditions every adapter enforces, and one contract
//! suite ([`contract`]) proves each adapter enforces them — races included.

pub mod cached;
#[cfg(any(test, feature = "testing"))]
pub mod contract;
pub mod memory;
pub mod meter;
pub mod placement;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::kernel::clock::UnixSeconds;

pub use cached::CachedTable;
pub use memory::MemoryTable;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold (item exists, item gone, revision moved, expired), or the write
    /// collided with a concurrent transaction on the same item: either way it lost a race and
    /// changed nothing.
    #[error("condition failed")]
    ConditionFailed,
    /// The backend failed the call: an outage or throttling (transient: `503`), or a refusal
    /// that is a bug or a deployment error (`500`). See [`crate::kernel::fault`].
    #[error(transparent)]
    Service(#[from] crate::kernel::fault::ServiceError),
    /// An item could not be encoded or decoded.
    #[error("corrupt item {}/{}: {source}", key.pk, key.sk)]
    Corrupt {
        key: Key,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A call the adapter will not make (a key twice in one transaction, too many keys): a bug.
    #[error("refused: {0}")]
    Refused(&'static str),
}

/// Deletes `key` if its item is live at `now`: `true` if this call deleted it, `false` if it was
/// gone, expired or deleted by a racing call (at most one caller gets `true`).
pub async fn delete_live(
    table: &dyn Table,
    key: &Key,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    match table.delete(key, Condition::Live { now }).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

impl StoreError {
    /// A stored item that cannot be what its key says (adapters report it with the key).
    pub fn corrupt(key: &Key, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Corrupt {
            key: key.clone(),
            source: source.into(),
        }
    }

    /// An outage or throttling of the backend: retry later.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Service(e) if e.is_transient())
    }
}

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// One record. `data` is the domain's serialized value; `rev` supports optimistic updates.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    /// Secondary index key (`gsi1pk`, `gsi1sk`), if the item is indexed.
    pub gsi1: Option<(String, String)>,
    /// Unix seconds after which the item is dead (DynamoDB TTL removes it later; reads refuse it
    /// at once).
    pub ttl: Option<UnixSeconds>,
    /// Incremented by every optimistic update.
    pub rev: u64,
    /// Shared, so that a read served from the cache costs no deep copy.
    pub data: std::sync::Arc<serde_json::Value>,
}

impl Item {
    pub fn new<T: Serialize>(key: Key, value: &T) -> Result<Self, StoreError> {
        let data = serde_json::to_value(value)
            .map(std::sync::Arc::new)
            .map_err(|e| StoreError::corrupt(&key, e))?;
        Ok(Self {
            key,
            gsi1: None,
            ttl: None,
            rev: 0,
            data,
        })
    }
    pub fn with_ttl(mut self, ttl: UnixSeconds) -> Self {
        self.ttl = Some(ttl);
        self
    }
    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1 = Some((pk.into(), sk.into()));
        self
    }
    /// Alive at `now`: no TTL, or a TTL still in the future.
    pub fn is_live(&self, now: UnixSeconds) -> bool {
        self.ttl.is_none_or(|t| t > now)
    }
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        T::deserialize(&*self.data).map_err(|e| StoreError::corrupt(&self.key, e))
    }
}

/// Which index sort keys a ranged index query ([`Table::query_gsi1_range`]) reads: `from ≤
/// gsi1sk ≤ to` (both ends inclusive, either open), ascending or newest-first (`descending`).
/// Callers that need an exclusive end (a page's cursor) ask for one more and drop the equal one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkRange<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub descending: bool,
}

impl SkRange<'_> {
    /// Whether `sk` is inside the range.
    pub fn contains(&self, sk: &str) -> bool {
        self.from.is_none_or(|f| sk >= f) && self.to.is_none_or(|t| sk <= t)
    }
}

/// Most keys one [`Table::get_many`] takes (DynamoDB's `BatchGetItem` limit).
pub const MAX_BATCH_GET: usize = 100;

/// A condition a write must meet, checked atomically with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// No condition.
    Always,
    /// The item must not exist (live or expired).
    NotExists,
    /// The item must exist and be live at `now`.
    Live { now: UnixSeconds },
    /// The item must not exist, or be expired at `now` (reclaims dead items TTL has not removed).
    Vacant { now: UnixSeconds },
    /// The item must exist with this revision.
    Revision(u64),
}

impl Condition {
    /// Whether the condition holds for the current item (in-memory adapter and tests).
    pub fn holds(&self, current: Option<&Item>) -> bool {
        match (self, current) {
            (Condition::Always, _) => true,
            (Condition::NotExists, c) => c.is_none(),
            (Condition::Live { now }, Some(i)) => i.is_live(*now),
            (Condition::Live { .. }, None) => false,
            (Condition::Vacant { now }, Some(i)) => !i.is_live(*now),
            (Condition::Vacant { .. }, None) => true,
            (Condition::Revision(r), Some(i)) => i.rev == *r,
            (Condition::Revision(_), None) => false,
        }
    }
}

/// One write of a transaction.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Put(Item, Condition),
    Delete(Key, Condition),
    /// Only checks a condition on another item.
    Check(Key, Condition),
}

/// The single-table port. Every method is atomic on its own; [`Table::transact`] is atomic across
/// items.
#[async_trait]
pub trait Table: Send + Sync + 'static {
    /// The item, live or not: callers decide with [`Item::is_live`].
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Several items in **one** request (DynamoDB `BatchGetItem`, strongly consistent), in the
    /// order of `keys`; a key may appear twice. At most [`MAX_BATCH_GET`] keys. This is how a
    /// bearer token's checks (client, revocations, account, user) stay one read.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError>;

    /// [`Table::get`], eventually consistent (DynamoDB `ConsistentRead: false`: half the read
    /// units, served by any replica, and may miss a write of the last second). For the read
    /// cache's misses ([`CachedTable`]) only — never where a decision needs the latest write.
    /// Adapters without replicas answer it strongly.
    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.get(key).await
    }

    /// [`Table::get_many`], eventually consistent (see [`Table::get_eventually`]).
    async fn get_many_eventually(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.get_many(keys).await
    }

    /// Writes the item if `cond` holds, else [`StoreError::ConditionFailed`] and nothing changes.
    async fn put(&self, item: Item, cond: Condition) -> Result<(), StoreError>;

    /// Deletes the item if `cond` holds and returns what was deleted (`None` if there was
    /// nothing). **At most once**: of several racing deletes with a condition that needs the item,
    /// exactly one gets `Some`; that is how single-use things are consumed.
    async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError>;

    /// All writes or none; any failed condition gives [`StoreError::ConditionFailed`].
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    /// Atomically adds `by` to the counter item at `key` (creating it with `ttl`) and returns the
    /// new value. Counters live in their own items.
    async fn increment(&self, key: &Key, by: i64, ttl: UnixSeconds) -> Result<i64, StoreError>;

    /// The counter's value, 0 when absent (an expired counter still counts until TTL removes it:
    /// callers put the window in the key).
    async fn counter(&self, key: &Key) -> Result<i64, StoreError>;

    /// Items of one partition whose `sk` starts with `sk_prefix`, in `sk` order, at most `limit`.
    async fn query(&self, pk: &str, sk_prefix: &str, limit: usize)
        -> Result<Vec<Item>, StoreError>;

    /// [`Table::query`], eventually consistent (see [`Table::get_eventually`]).
    async fn query_eventually(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.query(pk, sk_prefix, limit).await
    }

    /// Items whose `gsi1pk` equals `gsi1pk`, in `gsi1sk` order, at most `limit`.
    async fn query_gsi1(&self, gsi1pk: &str, limit: usize) -> Result<Vec<Item>, StoreError>;

    /// Items whose `gsi1pk` equals `gsi1pk` and whose `gsi1sk` is in `range`, in `gsi1sk` order
    /// (descending when the range says so), at most `limit`: one ranged index query (DynamoDB
    /// `Query` with a key condition on the sort key and `ScanIndexForward`), so a listing by time
    /// reads only the page it shows. Index reads are eventually consistent.
    async fn query_gsi1_range(
        &self,
        gsi1pk: &str,
        range: SkRange<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError>;
}
