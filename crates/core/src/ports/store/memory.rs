//! In-memory twin of the DynamoDB table (`keygate_aws::DynamoDbTable`): the embedded default and the unit-test store.
//! One mutex makes every operation atomic, as DynamoDB's conditions do per item.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Condition, Item, Key, SkRange, StoreError, Table, WriteOp};
use crate::kernel::clock::UnixSeconds;

#[derive(Default)]
pub struct MemoryTable {
    items: Mutex<BTreeMap<Key, Item>>,
    counters: Mutex<BTreeMap<Key, (i64, UnixSeconds)>>,
    calls: AtomicU64,
}

impl MemoryTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many operations were made, for benchmarks and the "≤ 1 call per request" checks.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Every item, as a dump of the table would show them (tests look for leaked secrets here).
    pub fn dump(&self) -> Vec<Item> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Item>> {
        // A panic while holding the lock cannot leave a half-applied write (every mutation is a
        // single insert/remove after all checks), so a poisoned lock is still consistent.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Table for MemoryTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.count();
        Ok(self.lock().get(key).cloned())
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.count();
        let items = self.lock();
        Ok(keys.iter().map(|k| items.get(k).cloned()).collect())
    }

    async fn put(&self, item: Item, cond: Condition) -> Result<(), StoreError> {
        self.count();
        let mut items = self.lock();
        if !cond.holds(items.get(&item.key)) {
            return Err(StoreError::ConditionFailed);
        }
        items.insert(item.key.clone(), item);
        Ok(())
    }

    async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError> {
        self.count();
        let mut items = self.lock();
        if !cond.holds(items.get(key)) {
            return Err(StoreError::ConditionFailed);
        }
        Ok(items.remove(key))
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.count();
        let mut items = self.lock();
        let mut seen = std::collections::BTreeSet::new();
        for op in &ops {
            let (key, cond) = match op {
                WriteOp::Put(i, c) => (&i.key, c),
                WriteOp::Delete(k, c) | WriteOp::Check(k, c) => (k, c),
            };
            if !seen.insert(key.clone()) {
                // DynamoDB refuses two operations on one item in a transaction.
                return Err(StoreError::Refused("a transaction touches one item twice"));
            }
            if !cond.holds(items.get(key)) {
                return Err(StoreError::ConditionFailed);
            }
        }
        for op in ops {
            match op {
                WriteOp::Put(i, _) => {
                    items.insert(i.key.clone(), i);
                }
                WriteOp::Delete(k, _) => {
                    items.remove(&k);
                }
                WriteOp::Check(..) => {}
            }
        }
        Ok(())
    }

    async fn increment(&self, key: &Key, by: i64, ttl: UnixSeconds) -> Result<i64, StoreError> {
        self.count();
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let entry = counters.entry(key.clone()).or_insert((0, ttl));
        entry.0 += by;
        Ok(entry.0)
    }

    async fn counter(&self, key: &Key) -> Result<i64, StoreError> {
        self.count();
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        Ok(counters.get(key).map(|(n, _)| *n).unwrap_or(0))
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.count();
        let items = self.lock();
        let start = Key::new(pk, sk_prefix);
        Ok(items
            .range(start..)
            .take_while(|(k, _)| k.pk == pk && k.sk.starts_with(sk_prefix))
            .take(limit)
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn query_gsi1(&self, gsi1pk: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.count();
        let items = self.lock();
        let mut found: Vec<Item> = items
            .values()
            .filter(|i| i.gsi1.as_ref().is_some_and(|(p, _)| p == gsi1pk))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.gsi1.cmp(&b.gsi1));
        found.truncate(limit);
        Ok(found)
    }

    async fn query_gsi1_range(
        &self,
        gsi1pk: &str,
        range: SkRange<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.count();
        let items = self.lock();
        let mut found: Vec<Item> = items
            .values()
            .filter(|i| {
                i.gsi1
                    .as_ref()
                    .is_some_and(|(p, s)| p == gsi1pk && range.contains(s))
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| a.gsi1.cmp(&b.gsi1));
        if range.descending {
            found.reverse();
        }
        found.truncate(limit);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_table_meets_the_contract() {
        super::super::contract::run_all(std::sync::Arc::new(MemoryTable::new()), "mem").await;
    }
}
