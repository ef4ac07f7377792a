//! A read cache in front of a [`Table`], for the credential records every verified request reads
//! (docs/SCALE.md, "No request-rate key"): accounts and their users, the API-key index, clients
//! (which carry their revocations), lockout counters, and an account's endpoint list — negative
//! answers too, so a flood of unknown keys costs the table nothing after the first.
//! docs/CREDENTIALS.md allows the revocation check to be "cached for seconds, not minutes":
//! another instance's change reaches this one within `ttl`, while this instance's own writes
//! invalidate at once, so a revocation made through this process is seen by its very next
//! request.
//!
//! A miss is read **eventually consistent** (half the read units; any replica serves it), except
//! right after this instance wrote the key (or, for a listing, its partition): that read is
//! strong, so an instance always sees its own writes. Writes are never cached and pass straight
//! through, so every at-most-once guarantee is the inner table's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Condition, Item, Key, SkRange, StoreError, Table, WriteOp};
use crate::kernel::clock::UnixSeconds;

/// Partitions whose reads are cached.
/// `CLIENT#`: a client and its revocations; `ACC#`: an account and its users (the current
/// authentication method and permissions every credential is checked against); `APIKEY#`: the
/// API-key index; `LOCK#`: lockout counters.
const CACHED: [&str; 4] = ["CLIENT#", "ACC#", "APIKEY#", "LOCK#"];
/// Listings that are cached, as (partition family, sort-key prefix): an account's endpoints,
/// which every event's fan-out lists.
const CACHED_LISTINGS: [(&str, &str); 1] = [("ACC#", "EP#")];
/// Entries kept before the cache is emptied (bounded memory in a long-lived instance).
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
enum Cached {
    Item(Option<Item>),
    Counter(i64),
    /// This instance wrote the key: its next read is strong.
    Written,
}

/// A partition's cached listings, and when this instance last wrote into it.
#[derive(Default)]
struct Listings {
    written: Option<Instant>,
    results: HashMap<(String, usize), (Instant, Vec<Item>)>,
}

pub struct CachedTable {
    inner: Arc<dyn Table>,
    ttl: Duration,
    entries: Mutex<HashMap<Key, (Instant, Cached)>>,
    listings: Mutex<HashMap<String, Listings>>,
}

impl CachedTable {
    pub fn new(inner: Arc<dyn Table>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: Mutex::new(HashMap::new()),
            listings: Mutex::new(HashMap::new()),
        }
    }

    fn cacheable(key: &Key) -> bool {
        CACHED.iter().any(|p| key.pk.starts_with(p))
    }

    fn listing_cacheable(pk: &str, sk_prefix: &str) -> bool {
        CACHED_LISTINGS
            .iter()
            .any(|(p, s)| pk.starts_with(p) && sk_prefix.starts_with(s))
    }

    /// The cached value, or on a miss whether the read must be strong (own recent write).
    fn lookup(&self, key: &Key) -> Result<Cached, bool> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl) {
            Some((_, Cached::Written)) => Err(true),
            Some((_, v)) => Ok(v.clone()),
            None => Err(false),
        }
    }

    /// Keeps what a read that started at `started` found — unless this instance wrote the key
    /// since, in which case what was read may be older than its own write.
    fn remember(&self, key: &Key, value: Cached, started: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, Cached::Written)) = entries.get(key) {
            if *at >= started {
                return;
            }
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key.clone(), (Instant::now(), value));
    }

    /// After this instance's write: forget what was cached, and read strongly next time.
    fn written<'a>(&self, keys: impl IntoIterator<Item = &'a Key>) {
        let keys: Vec<&Key> = keys.into_iter().collect();
        {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            for k in &keys {
                if Self::cacheable(k) {
                    entries.insert((*k).clone(), (Instant::now(), Cached::Written));
                }
            }
        }
        let mut listings = self.listings.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            if CACHED_LISTINGS.iter().any(|(p, _)| k.pk.starts_with(p)) {
                if listings.len() >= MAX_ENTRIES {
                    listings.clear();
                }
                let l = listings.entry(k.pk.clone()).or_default();
                l.results.clear();
                l.written = Some(Instant::now());
            }
        }
    }

    async fn read(&self, key: &Key, strong: bool) -> Result<Option<Item>, StoreError> {
        if strong {
            self.inner.get(key).await
        } else {
            self.inner.get_eventually(key).await
        }
    }
}

#[async_trait]
impl Table for CachedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        if !Self::cacheable(key) {
            return self.inner.get(key).await;
        }
        let strong = match self.lookup(key) {
            Ok(Cached::Item(i)) => return Ok(i),
            Ok(_) => true,
            Err(strong) => strong,
        };
        let started = Instant::now();
        let found = self.read(key, strong).await?;
        self.remember(key, Cached::Item(found.clone()), started);
        Ok(found)
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let mut strong = false;
        let mut out: Vec<Option<Option<Item>>> = Vec::with_capacity(keys.len());
        for k in keys {
            if !Self::cacheable(k) {
                strong = true;
                out.push(None);
                continue;
            }
            match self.lookup(k) {
                Ok(Cached::Item(i)) => out.push(Some(i)),
                Ok(_) => {
                    strong = true;
                    out.push(None);
                }
                Err(s) => {
                    strong |= s;
                    out.push(None);
                }
            }
        }
        let missing: Vec<Key> = keys
            .iter()
            .zip(&out)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let started = Instant::now();
            let fetched = if strong {
                self.inner.get_many(&missing).await?
            } else {
                self.inner.get_many_eventually(&missing).await?
            };
            let mut fetched = missing.iter().zip(fetched);
            for (k, slot) in keys.iter().zip(out.iter_mut()) {
                if slot.is_none() {
                    if let Some((_, found)) = fetched.next() {
                        if Self::cacheable(k) {
                            self.remember(k, Cached::Item(found.clone()), started);
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
        self.written([&key]);
        r
    }

    async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError> {
        let r = self.inner.delete(key, cond).await;
        self.written([key]);
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
        self.written(&keys);
        r
    }

    async fn increment(&self, key: &Key, by: i64, ttl: UnixSeconds) -> Result<i64, StoreError> {
        let started = Instant::now();
        let n = self.inner.increment(key, by, ttl).await?;
        if Self::cacheable(key) {
            self.remember(key, Cached::Counter(n), started);
        }
        Ok(n)
    }

    async fn counter(&self, key: &Key) -> Result<i64, StoreError> {
        if !Self::cacheable(key) {
            return self.inner.counter(key).await;
        }
        if let Ok(Cached::Counter(n)) = self.lookup(key) {
            return Ok(n);
        }
        let started = Instant::now();
        let n = self.inner.counter(key).await?;
        self.remember(key, Cached::Counter(n), started);
        Ok(n)
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        if !Self::listing_cacheable(pk, sk_prefix) {
            return self.inner.query(pk, sk_prefix, limit).await;
        }
        let listing = (sk_prefix.to_owned(), limit);
        let strong = {
            let listings = self.listings.lock().unwrap_or_else(|e| e.into_inner());
            let part = listings.get(pk);
            if let Some((_, items)) = part
                .and_then(|l| l.results.get(&listing))
                .filter(|(at, _)| at.elapsed() < self.ttl)
            {
                return Ok(items.clone());
            }
            part.and_then(|l| l.written)
                .is_some_and(|at| at.elapsed() < self.ttl)
        };
        let started = Instant::now();
        let items = if strong {
            self.inner.query(pk, sk_prefix, limit).await?
        } else {
            self.inner.query_eventually(pk, sk_prefix, limit).await?
        };
        let mut listings = self.listings.lock().unwrap_or_else(|e| e.into_inner());
        if listings.len() >= MAX_ENTRIES {
            listings.clear();
        }
        let part = listings.entry(pk.to_owned()).or_default();
        if part.written.is_none_or(|at| at < started) {
            part.results
                .insert(listing, (Instant::now(), items.clone()));
        }
        Ok(items)
    }

    async fn query_gsi1(&self, gsi1pk: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.inner.query_gsi1(gsi1pk, limit).await
    }

    async fn query_gsi1_range(
        &self,
        gsi1pk: &str,
        range: SkRange<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.query_gsi1_range(gsi1pk, range, limit).await
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

    /// A table that tells strong reads from eventually consistent ones.
    #[derive(Default)]
    struct Consistency {
        inner: MemoryTable,
        strong: std::sync::atomic::AtomicUsize,
        eventual: std::sync::atomic::AtomicUsize,
    }

    impl Consistency {
        fn counts(&self) -> (usize, usize) {
            use std::sync::atomic::Ordering::Relaxed;
            (self.strong.load(Relaxed), self.eventual.load(Relaxed))
        }
    }

    #[async_trait]
    impl Table for Consistency {
        async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
            self.strong
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.get(key).await
        }
        async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, StoreError> {
            self.eventual
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.get(key).await
        }
        async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
            self.strong
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.get_many(keys).await
        }
        async fn get_many_eventually(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
            self.eventual
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.get_many(keys).await
        }
        async fn put(&self, item: Item, cond: Condition) -> Result<(), StoreError> {
            self.inner.put(item, cond).await
        }
        async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError> {
            self.inner.delete(key, cond).await
        }
        async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
            self.inner.transact(ops).await
        }
        async fn increment(&self, key: &Key, by: i64, ttl: UnixSeconds) -> Result<i64, StoreError> {
            self.inner.increment(key, by, ttl).await
        }
        async fn counter(&self, key: &Key) -> Result<i64, StoreError> {
            self.inner.counter(key).await
        }
        async fn query(&self, pk: &str, p: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
            self.strong
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.query(pk, p, limit).await
        }
        async fn query_eventually(
            &self,
            pk: &str,
            p: &str,
            limit: usize,
        ) -> Result<Vec<Item>, StoreError> {
            self.eventual
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.query(pk, p, limit).await
        }
        async fn query_gsi1(&self, g: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
            self.inner.query_gsi1(g, limit).await
        }
        async fn query_gsi1_range(
            &self,
            g: &str,
            range: SkRange<'_>,
            limit: usize,
        ) -> Result<Vec<Item>, StoreError> {
            self.inner.query_gsi1_range(g, range, limit).await
        }
    }

    #[tokio::test]
    async fn misses_read_eventually_except_right_after_an_own_write() {
        let inner = Arc::new(Consistency::default());
        let cached = CachedTable::new(inner.clone(), Duration::from_secs(60));
        let unknown = Key::new("APIKEY#unknown", "APIKEY");
        // An unknown API key: one eventually consistent read, then the negative answer cached.
        assert!(cached.get(&unknown).await.unwrap().is_none());
        assert!(cached.get(&unknown).await.unwrap().is_none());
        assert_eq!(inner.counts(), (0, 1));
        // After this instance writes the key, its next read is strong — and sees the write.
        cached.put(client_item(5), Condition::Always).await.unwrap();
        let key = Key::new("CLIENT#c", "CLIENT");
        assert!(cached.get(&key).await.unwrap().is_some());
        assert_eq!(inner.counts(), (1, 1));
        assert!(cached.get(&key).await.unwrap().is_some());
        assert_eq!(inner.counts(), (1, 1), "then served from the cache");
    }

    #[tokio::test]
    async fn an_accounts_endpoint_list_is_cached_and_refreshed_by_own_writes() {
        let inner = Arc::new(Consistency::default());
        let cached = CachedTable::new(inner.clone(), Duration::from_secs(60));
        let ep = |id: &str| Item::new(Key::new("ACC#a", format!("EP#{id}")), &id).unwrap();
        inner.inner.put(ep("1"), Condition::Always).await.unwrap();
        assert_eq!(cached.query("ACC#a", "EP#", 10).await.unwrap().len(), 1);
        assert_eq!(cached.query("ACC#a", "EP#", 10).await.unwrap().len(), 1);
        assert_eq!(inner.counts(), (0, 1), "one eventually consistent listing");
        cached.put(ep("2"), Condition::Always).await.unwrap();
        assert_eq!(cached.query("ACC#a", "EP#", 10).await.unwrap().len(), 2);
        assert_eq!(inner.counts(), (1, 1), "strong right after the own write");
        // Other listings of the partition are not cached.
        cached.query("ACC#a", "USER#", 10).await.unwrap();
        cached.query("ACC#a", "USER#", 10).await.unwrap();
        assert_eq!(inner.counts(), (3, 1));
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
