//! A read cache in front of a [`Table`], for the few records every verified request reads:
//! clients (which carry revocations) and lockout counters. docs/CREDENTIALS.md allows the revocation check
//! to be "cached for seconds, not minutes": another instance's revocation reaches this one within
//! `ttl`, while this instance's own writes invalidate at once, so a revocation made through this
//! process is seen by its very next request. Everything else passes straight through, and writes
//! are never cached, so every at-most-once guarantee is the inner table's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Condition, Item, Key, StoreError, Table, WriteOp};
use crate::kernel::clock::UnixSeconds;

/// Partitions whose reads are cached.
/// `CLIENT#`: a client and its revocations; `ACC#`: an account and its users (the current
/// authentication method and permissions every credential is checked against); `LOCK#`: lockout
/// counters.
const CACHED: [&str; 3] = ["CLIENT#", "ACC#", "LOCK#"];
/// Entries kept before the cache is emptied (bounded memory in a long-lived instance).
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
enum Cached {
    Item(Option<Item>),
    Counter(i64),
}

pub struct CachedTable {
    inner: Arc<dyn Table>,
    ttl: Duration,
    entries: Mutex<HashMap<Key, (Instant, Cached)>>,
}

impl CachedTable {
    pub fn new(inner: Arc<dyn Table>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cacheable(key: &Key) -> bool {
        CACHED.iter().any(|p| key.pk.starts_with(p))
    }

    fn lookup(&self, key: &Key) -> Option<Cached> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    fn remember(&self, key: &Key, value: Cached) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key.clone(), (Instant::now(), value));
    }

    fn forget<'a>(&self, keys: impl IntoIterator<Item = &'a Key>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            entries.remove(k);
        }
    }
}

#[async_trait]
impl Table for CachedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        if !Self::cacheable(key) {
            return self.inner.get(key).await;
        }
        if let Some(Cached::Item(i)) = self.lookup(key) {
            return Ok(i);
        }
        let found = self.inner.get(key).await?;
        self.remember(key, Cached::Item(found.clone()));
        Ok(found)
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let mut out: Vec<Option<Option<Item>>> = keys
            .iter()
            .map(
                |k| match Self::cacheable(k).then(|| self.lookup(k)).flatten() {
                    Some(Cached::Item(i)) => Some(i),
                    _ => None,
                },
            )
            .collect();
        let missing: Vec<Key> = keys
            .iter()
            .zip(&out)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let fetched = self.inner.get_many(&missing).await?;
            let mut fetched = missing.iter().zip(fetched);
            for (k, slot) in keys.iter().zip(out.iter_mut()) {
                if slot.is_none() {
                    if let Some((_, found)) = fetched.next() {
                        if Self::cacheable(k) {
                            self.remember(k, Cached::Item(found.clone()));
                        }
                        *slot = Some(found);
                    }
                }
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    async fn put(&self, item: Item, cond: Condition) -> Result<(), StoreError> {
        let key = item.key.clone();
        let r = self.inner.put(item, cond).await;
        self.forget([&key]);
        r
    }

    async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError> {
        let r = self.inner.delete(key, cond).await;
        self.forget([key]);
        r
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let keys: Vec<Key> = ops
            .iter()
            .map(|op| match op {
                WriteOp::Put(i, _) => i.key.clone(),
                WriteOp::Delete(k, _) | WriteOp::Check(k, _) => k.clone(),
            })
            .collect();
        let r = self.inner.transact(ops).await;
        self.forget(&keys);
        r
    }

    async fn increment(&self, key: &Key, by: i64, ttl: UnixSeconds) -> Result<i64, StoreError> {
        let n = self.inner.increment(key, by, ttl).await?;
        if Self::cacheable(key) {
            self.remember(key, Cached::Counter(n));
        }
        Ok(n)
    }

    async fn counter(&self, key: &Key) -> Result<i64, StoreError> {
        if !Self::cacheable(key) {
            return self.inner.counter(key).await;
        }
        if let Some(Cached::Counter(n)) = self.lookup(key) {
            return Ok(n);
        }
        let n = self.inner.counter(key).await?;
        self.remember(key, Cached::Counter(n));
        Ok(n)
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.query(pk, sk_prefix, limit).await
    }

    async fn query_gsi1(&self, gsi1pk: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.inner.query_gsi1(gsi1pk, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::MemoryTable;

    fn client_item(v: i64) -> Item {
        Item::new(Key::new("CLIENT#c", "CLIENT"), &v).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_contract_holds_through_the_cache() {
        let t = CachedTable::new(Arc::new(MemoryTable::new()), Duration::from_secs(60));
        crate::ports::store::contract::run_all(Arc::new(t), "cached").await;
    }

    #[tokio::test]
    async fn own_writes_are_seen_at_once_and_others_within_ttl() {
        let inner = Arc::new(MemoryTable::new());
        let cached = CachedTable::new(inner.clone(), Duration::from_secs(60));
        cached.put(client_item(1), Condition::Always).await.unwrap();
        let key = Key::new("CLIENT#c", "CLIENT");
        assert_eq!(
            *cached.get(&key).await.unwrap().unwrap().data,
            serde_json::json!(1)
        );
        let calls = inner.calls();
        assert_eq!(
            *cached.get(&key).await.unwrap().unwrap().data,
            serde_json::json!(1)
        );
        assert_eq!(inner.calls(), calls, "second read served from the cache");
        // Another instance revokes (writes the inner table directly): stale within the TTL...
        inner.delete(&key, Condition::Always).await.unwrap();
        assert!(cached.get(&key).await.unwrap().is_some());
        // ...while a write through this instance is seen by the very next read.
        cached.put(client_item(2), Condition::Always).await.unwrap();
        assert_eq!(
            *cached.get(&key).await.unwrap().unwrap().data,
            serde_json::json!(2)
        );
        cached.delete(&key, Condition::Always).await.unwrap();
        assert!(cached.get(&key).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_zero_ttl_caches_nothing_and_other_partitions_pass_through() {
        let inner = Arc::new(MemoryTable::new());
        let cached = CachedTable::new(inner.clone(), Duration::ZERO);
        cached.put(client_item(1), Condition::Always).await.unwrap();
        let key = Key::new("CLIENT#c", "CLIENT");
        cached.get(&key).await.unwrap();
        inner.delete(&key, Condition::Always).await.unwrap();
        assert!(cached.get(&key).await.unwrap().is_none());
        let other = Key::new("SESSION#a", "SESSION");
        let before = inner.calls();
        cached.get(&other).await.unwrap();
        cached.get(&other).await.unwrap();
        assert_eq!(inner.calls(), before + 2);
    }

    #[tokio::test]
    async fn counters_are_cached_and_updated_by_own_increments() {
        let inner = Arc::new(MemoryTable::new());
        let cached = CachedTable::new(inner.clone(), Duration::from_secs(60));
        let key = Key::new("LOCK#cred#x", "W#1");
        assert_eq!(cached.counter(&key).await.unwrap(), 0);
        cached.increment(&key, 1, 100).await.unwrap();
        assert_eq!(
            cached.counter(&key).await.unwrap(),
            1,
            "own increment seen at once"
        );
    }
}
