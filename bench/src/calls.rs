//! DynamoDB calls and capacity units per request.
//!
//! [`Metered`] wraps the `MemoryTable` the server runs on: the calls are the adapter's own
//! counter ([`MemoryTable::calls`]); on top, each operation is priced in on-demand request units
//! as DynamoDB would bill it (see [`Prices`] for the assumptions), from the sizes of the items it
//! writes or reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use keygate_core::kernel::clock::UnixSeconds;
use keygate_core::ports::store::{
    Condition, Item, Key, MemoryTable, SkRange, StoreError, Table, WriteOp,
};

/// On-demand prices and the assumptions behind the unit counts (us-east-1, standard table class).
pub struct Prices;

impl Prices {
    /// $ per million write request units.
    pub const WRU: f64 = 1.25;
    /// $ per million read request units.
    pub const RRU: f64 = 0.25;
    /// Lambda arm64, $ per GB-second.
    pub const LAMBDA_GB_S: f64 = 0.000_013_333_4;
    /// Lambda, $ per million requests.
    pub const LAMBDA_REQUESTS: f64 = 0.20;
    /// Memory of every function (`template.yaml`), GB.
    pub const LAMBDA_GB: f64 = 0.25;
    /// API Gateway HTTP API, $ per million requests (first 300 million a month).
    pub const HTTP_API: f64 = 1.00;
}

/// Half read units, so eventually consistent reads (½ RRU) stay integers.
#[derive(Default)]
struct Units {
    half_rru: AtomicU64,
    wru: AtomicU64,
}

/// A counting, pricing view of a [`MemoryTable`].
pub struct Metered {
    pub inner: Arc<MemoryTable>,
    units: Units,
}

/// Calls and units at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Meter {
    pub calls: u64,
    pub rru: f64,
    pub wru: f64,
}

impl std::ops::Sub for Meter {
    type Output = Meter;
    fn sub(self, o: Meter) -> Meter {
        Meter {
            calls: self.calls - o.calls,
            rru: self.rru - o.rru,
            wru: self.wru - o.wru,
        }
    }
}

impl Metered {
    pub fn new(inner: Arc<MemoryTable>) -> Self {
        Self {
            inner,
            units: Units::default(),
        }
    }

    pub fn meter(&self) -> Meter {
        Meter {
            calls: self.inner.calls(),
            rru: self.units.half_rru.load(Ordering::Relaxed) as f64 / 2.0,
            wru: self.units.wru.load(Ordering::Relaxed) as f64,
        }
    }

    fn read(&self, half_units: u64) {
        self.units.half_rru.fetch_add(half_units, Ordering::Relaxed);
    }

    fn write(&self, units: u64) {
        self.units.wru.fetch_add(units, Ordering::Relaxed);
    }
}

/// An item's size as DynamoDB counts it (attribute names plus values, as `DynamoDbTable` stores
/// them: `pk`, `sk`, `data` (the JSON text), `rev`, `ttl`, `gsi1pk`, `gsi1sk`); numbers are
/// counted as their digits, a slight overestimate.
pub fn item_size(item: &Item) -> usize {
    let mut n = 2 + item.key.pk.len() + 2 + item.key.sk.len();
    n += 4 + item.data.to_string().len();
    n += 3 + item.rev.to_string().len();
    if let Some(ttl) = item.ttl {
        n += 3 + ttl.to_string().len();
    }
    if let Some((p, s)) = &item.gsi1 {
        n += 6 + p.len() + 6 + s.len();
    }
    n
}

/// Write units of one item write: 1 per KB, at least 1.
fn wru(size: usize) -> u64 {
    size.div_ceil(1024).max(1) as u64
}

/// Read units (strongly consistent) of `bytes` read: 1 per 4 KB, at least 1.
fn rru(bytes: usize) -> u64 {
    bytes.div_ceil(4096).max(1) as u64
}

#[async_trait]
impl Table for Metered {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let r = self.inner.get(key).await;
        let size = r
            .as_ref()
            .ok()
            .and_then(|i| i.as_ref())
            .map_or(0, item_size);
        self.read(2 * rru(size)); // GetItem with ConsistentRead
        r
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let r = self.inner.get_many(keys).await;
        // BatchGetItem bills each key as a consistent GetItem of its item.
        let units: u64 = r.as_ref().map_or(keys.len() as u64 * 2, |v| {
            v.iter()
                .map(|i| 2 * rru(i.as_ref().map_or(0, item_size)))
                .sum()
        });
        self.read(units);
        r
    }

    async fn put(&self, item: Item, cond: Condition) -> Result<(), StoreError> {
        self.write(wru(item_size(&item))); // a failed condition is billed too
        self.inner.put(item, cond).await
    }

    async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError> {
        let r = self.inner.delete(key, cond).await;
        let size = r
            .as_ref()
            .ok()
            .and_then(|i| i.as_ref())
            .map_or(0, item_size);
        self.write(wru(size));
        r
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        // Transactions bill 2 units per item per KB; a condition check is billed as a write.
        let units: u64 = ops
            .iter()
            .map(|op| match op {
                WriteOp::Put(item, _) => 2 * wru(item_size(item)),
                WriteOp::Delete(..) | WriteOp::Check(..) => 2,
            })
            .sum();
        self.write(units);
        self.inner.transact(ops).await
    }

    async fn increment(&self, key: &Key, by: i64, ttl: UnixSeconds) -> Result<i64, StoreError> {
        self.write(1); // UpdateItem ADD on a counter item (< 1 KB)
        self.inner.increment(key, by, ttl).await
    }

    async fn counter(&self, key: &Key) -> Result<i64, StoreError> {
        self.read(2); // GetItem with ConsistentRead
        self.inner.counter(key).await
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let r = self.inner.query(pk, sk_prefix, limit).await;
        let bytes = r.as_ref().map_or(0, |v| v.iter().map(item_size).sum());
        self.read(2 * rru(bytes)); // Query with ConsistentRead
        r
    }

    async fn query_gsi1(&self, gsi1pk: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        let r = self.inner.query_gsi1(gsi1pk, limit).await;
        let bytes = r.as_ref().map_or(0, |v| v.iter().map(item_size).sum());
        self.read(rru(bytes)); // GSI queries are eventually consistent: ½ unit per 4 KB
        r
    }

    async fn query_gsi1_range(
        &self,
        gsi1pk: &str,
        range: SkRange<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let r = self.inner.query_gsi1_range(gsi1pk, range, limit).await;
        let bytes = r.as_ref().map_or(0, |v| v.iter().map(item_size).sum());
        self.read(rru(bytes));
        r
    }
}
