//! A recording [`Table`] decorator: how many reads and writes reach the table, and on which
//! partition keys — index partitions counted as keys of their own (`gsi1:<gsi1pk>`), since
//! DynamoDB's limit of 3,000 read and 1,000 write units per second holds per key, index
//! partitions included (docs/SCALE.md). Put it under the read cache to count what DynamoDB would
//! serve; the bench driver and the scale tests divide by the requests they made.
//!
//! Counting, per operation (units of work on a key, not bytes): a get is one read of its key, a
//! batch one read per key, a query or index query one read of its (index) key; a put one write
//! of its key plus one of its index key, a delete one write (plus the index key of what it
//! deleted), a transaction one per item (a condition check a read), a counter increment one
//! write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{Condition, Item, Key, SkRange, StoreError, Table, WriteOp};
use crate::kernel::clock::UnixSeconds;

/// Reads and writes of one key, or of all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ops {
    pub reads: u64,
    pub writes: u64,
}

/// What the meter saw.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub total: Ops,
    pub per_key: HashMap<String, Ops>,
}

impl Tally {
    /// Adds what `other` counted.
    pub fn absorb(&mut self, other: Tally) {
        self.total.reads += other.total.reads;
        self.total.writes += other.total.writes;
        for (k, o) in other.per_key {
            let e = self.per_key.entry(k).or_default();
            e.reads += o.reads;
            e.writes += o.writes;
        }
    }

    /// The key read most, with its count.
    pub fn hottest_read(&self) -> Option<(&str, u64)> {
        self.per_key
            .iter()
            .max_by_key(|(_, o)| o.reads)
            .map(|(k, o)| (k.as_str(), o.reads))
    }

    /// The key written most, with its count.
    pub fn hottest_write(&self) -> Option<(&str, u64)> {
        self.per_key
            .iter()
            .max_by_key(|(_, o)| o.writes)
            .map(|(k, o)| (k.as_str(), o.writes))
    }
}

/// Counts what passes through to `inner`.
pub struct KeyMeter {
    inner: Arc<dyn Table>,
    tally: Mutex<Tally>,
}

impl KeyMeter {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self {
            inner,
            tally: Mutex::new(Tally::default()),
        }
    }

    /// What was counted since the last [`KeyMeter::take`] (or the start), and a fresh count.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.tally.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn count<'a>(
        &self,
        reads: impl IntoIterator<Item = &'a str>,
        writes: impl IntoIterator<Item = &'a str>,
    ) {
        let mut t = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        for k in reads {
            t.total.reads += 1;
            t.per_key.entry(k.to_owned()).or_default().reads += 1;
        }
        for k in writes {
            t.total.writes += 1;
            t.per_key.entry(k.to_owned()).or_default().writes += 1;
        }
    }

    fn write_item(&self, item: &Item) {
        let index = item.gsi1.as_ref().map(|(p, _)| format!("gsi1:{p}"));
        self.count(
            [],
            std::iter::once(item.key.pk.as_str()).chain(index.as_deref()),
        );
    }
}

#[async_trait]
impl Table for KeyMeter {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.count([key.pk.as_str()], []);
        self.inner.get(key).await
    }

    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.count([key.pk.as_str()], []);
        self.inner.get_eventually(key).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.count(keys.iter().map(|k| k.pk.as_str()), []);
        self.inner.get_many(keys).await
    }

    async fn get_many_eventually(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.count(keys.iter().map(|k| k.pk.as_str()), []);
        self.inner.get_many_eventually(keys).await
    }

    async fn put(&self, item: Item, cond: Condition) -> Result<(), StoreError> {
        self.write_item(&item);
        self.inner.put(item, cond).await
    }

    async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError> {
        let r = self.inner.delete(key, cond).await;
        match &r {
            Ok(Some(item)) => self.write_item(item),
            _ => self.count([], [key.pk.as_str()]),
        }
        r
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        for op in &ops {
            match op {
                WriteOp::Put(item, _) => self.write_item(item),
                WriteOp::Delete(k, _) => self.count([], [k.pk.as_str()]),
                WriteOp::Check(k, _) => self.count([k.pk.as_str()], []),
            }
        }
        self.inner.transact(ops).await
    }

    async fn increment(&self, key: &Key, by: i64, ttl: UnixSeconds) -> Result<i64, StoreError> {
        self.count([], [key.pk.as_str()]);
        self.inner.increment(key, by, ttl).await
    }

    async fn counter(&self, key: &Key) -> Result<i64, StoreError> {
        self.count([key.pk.as_str()], []);
        self.inner.counter(key).await
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.count([pk], []);
        self.inner.query(pk, sk_prefix, limit).await
    }

    async fn query_eventually(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.count([pk], []);
        self.inner.query_eventually(pk, sk_prefix, limit).await
    }

    async fn query_gsi1(&self, gsi1pk: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        let key = format!("gsi1:{gsi1pk}");
        self.count([key.as_str()], []);
        self.inner.query_gsi1(gsi1pk, limit).await
    }

    async fn query_gsi1_range(
        &self,
        gsi1pk: &str,
        range: SkRange<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let key = format!("gsi1:{gsi1pk}");
        self.count([key.as_str()], []);
        self.inner.query_gsi1_range(gsi1pk, range, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::MemoryTable;

    #[tokio::test]
    async fn index_writes_count_on_their_own_key() {
        let m = KeyMeter::new(Arc::new(MemoryTable::new()));
        for i in 0..3 {
            let item = Item::new(Key::new(format!("P#{i}"), "S"), &i)
                .unwrap()
                .with_gsi1("IDX#a", format!("{i}"));
            m.put(item, Condition::Always).await.unwrap();
        }
        m.get(&Key::new("P#0", "S")).await.unwrap();
        m.query_gsi1("IDX#a", 10).await.unwrap();
        let t = m.take();
        assert_eq!(
            t.total,
            Ops {
                reads: 2,
                writes: 6
            }
        );
        assert_eq!(t.hottest_write(), Some(("gsi1:IDX#a", 3)));
        assert_eq!(m.take().total, Ops::default());
    }
}
