//! The contract every [`Table`] adapter must meet, run against the in-memory table in unit tests
//! and against DynamoDB Local in `crates/aws/tests/dynamodb_contract.rs`.
//!
//! `ns` prefixes every key so runs can share one table.

// A test suite: a broken contract is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::{Condition, Item, Key, SkRange, StoreError, Table, WriteOp};

const NOW: i64 = 1_800_000_000;

fn key(ns: &str, pk: &str, sk: &str) -> Key {
    Key::new(format!("{ns}#{pk}"), sk)
}

fn item(k: Key, v: serde_json::Value) -> Item {
    Item::new(k, &v).expect("json value serializes")
}

/// Runs every check; panics with the failing check's name.
pub async fn run_all(t: Arc<dyn Table>, ns: &str) {
    round_trip(&*t, ns).await;
    get_many_answers_in_key_order(&*t, ns).await;
    not_exists_refuses_second_put(&*t, ns).await;
    revision_guards_updates(&*t, ns).await;
    live_and_vacant_respect_ttl(&*t, ns).await;
    conditional_delete_consumes_once(&*t, ns).await;
    transactions_are_all_or_nothing(&*t, ns).await;
    queries_filter_order_and_limit(&*t, ns).await;
    ranged_index_queries_read_both_ways(&*t, ns).await;
    racing_consumers_exactly_one_wins(t.clone(), ns).await;
    racing_claims_exactly_one_wins(t.clone(), ns).await;
    counters_are_atomic(t, ns).await;
}

async fn round_trip(t: &dyn Table, ns: &str) {
    let k = key(ns, "rt", "A");
    let mut it = item(k.clone(), serde_json::json!({"name": "x", "n": [1, 2]}))
        .with_ttl(NOW + 60)
        .with_gsi1(format!("{ns}#g"), "1");
    it.rev = 3;
    t.put(it.clone(), Condition::Always).await.expect("put");
    let got = t.get(&k).await.expect("get").expect("present");
    assert_eq!(got, it, "round_trip: item comes back exactly");
    assert!(t.get(&key(ns, "rt", "missing")).await.unwrap().is_none());
}

async fn get_many_answers_in_key_order(t: &dyn Table, ns: &str) {
    let a = key(ns, "gm", "A");
    let b = key(ns, "gm", "B");
    t.put(item(a.clone(), serde_json::json!("a")), Condition::Always)
        .await
        .expect("put a");
    t.put(item(b.clone(), serde_json::json!("b")), Condition::Always)
        .await
        .expect("put b");
    let missing = key(ns, "gm", "missing");
    let got = t
        .get_many(&[b.clone(), missing, a.clone(), b.clone()])
        .await
        .expect("get_many");
    let data: Vec<Option<serde_json::Value>> = got
        .into_iter()
        .map(|i| i.map(|i| (*i.data).clone()))
        .collect();
    assert_eq!(
        data,
        vec![
            Some(serde_json::json!("b")),
            None,
            Some(serde_json::json!("a")),
            Some(serde_json::json!("b"))
        ],
        "get_many: in key order, absent keys None, repeats answered"
    );
    assert!(t.get_many(&[]).await.expect("empty").is_empty());
}

async fn not_exists_refuses_second_put(t: &dyn Table, ns: &str) {
    let k = key(ns, "ne", "A");
    t.put(item(k.clone(), serde_json::json!(1)), Condition::NotExists)
        .await
        .expect("first put");
    let second = t
        .put(item(k.clone(), serde_json::json!(2)), Condition::NotExists)
        .await;
    assert!(
        matches!(second, Err(StoreError::ConditionFailed)),
        "not_exists: second put must fail, got {second:?}"
    );
    let got = t.get(&k).await.unwrap().unwrap();
    assert_eq!(
        *got.data,
        serde_json::json!(1),
        "not_exists: first value kept"
    );
}

async fn revision_guards_updates(t: &dyn Table, ns: &str) {
    let k = key(ns, "rev", "A");
    t.put(
        item(k.clone(), serde_json::json!("v0")),
        Condition::NotExists,
    )
    .await
    .unwrap();
    let mut next = item(k.clone(), serde_json::json!("v1"));
    next.rev = 1;
    t.put(next.clone(), Condition::Revision(0))
        .await
        .expect("rev 0 → 1");
    let stale = t.put(next, Condition::Revision(0)).await;
    assert!(
        matches!(stale, Err(StoreError::ConditionFailed)),
        "revision: stale update refused"
    );
    let missing = t
        .put(
            item(key(ns, "rev", "none"), serde_json::json!(0)),
            Condition::Revision(0),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::ConditionFailed)),
        "revision: needs the item"
    );
}

async fn live_and_vacant_respect_ttl(t: &dyn Table, ns: &str) {
    let k = key(ns, "ttl", "A");
    t.put(
        item(k.clone(), serde_json::json!(1)).with_ttl(NOW - 1),
        Condition::Always,
    )
    .await
    .unwrap();
    let live = t.delete(&k, Condition::Live { now: NOW }).await;
    assert!(
        matches!(live, Err(StoreError::ConditionFailed)),
        "ttl: expired item is not live"
    );
    t.put(
        item(k.clone(), serde_json::json!(2)).with_ttl(NOW + 60),
        Condition::Vacant { now: NOW },
    )
    .await
    .expect("ttl: an expired item is vacant and can be reclaimed");
    let again = t
        .put(
            item(k.clone(), serde_json::json!(3)).with_ttl(NOW + 60),
            Condition::Vacant { now: NOW },
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::ConditionFailed)),
        "ttl: a live item is not vacant"
    );
    let live = t.get(&k).await.unwrap().unwrap();
    assert!(live.is_live(NOW) && !live.is_live(NOW + 60));
}

async fn conditional_delete_consumes_once(t: &dyn Table, ns: &str) {
    let k = key(ns, "del", "A");
    t.put(
        item(k.clone(), serde_json::json!({"v": 7})),
        Condition::NotExists,
    )
    .await
    .unwrap();
    let first = t
        .delete(&k, Condition::Live { now: NOW })
        .await
        .expect("first delete");
    assert_eq!(
        first.map(|i| (*i.data).clone()),
        Some(serde_json::json!({"v": 7})),
        "delete returns the old item"
    );
    let second = t.delete(&k, Condition::Live { now: NOW }).await;
    assert!(
        matches!(second, Err(StoreError::ConditionFailed)),
        "delete: second consume refused"
    );
    let unconditional = t
        .delete(&k, Condition::Always)
        .await
        .expect("delete of nothing");
    assert!(unconditional.is_none());
}

async fn transactions_are_all_or_nothing(t: &dyn Table, ns: &str) {
    let a = key(ns, "tx", "A");
    let b = key(ns, "tx", "B");
    t.put(
        item(b.clone(), serde_json::json!("b")),
        Condition::NotExists,
    )
    .await
    .unwrap();
    let failed = t
        .transact(vec![
            WriteOp::Put(
                item(a.clone(), serde_json::json!("a")),
                Condition::NotExists,
            ),
            WriteOp::Put(
                item(b.clone(), serde_json::json!("b2")),
                Condition::NotExists,
            ),
        ])
        .await;
    assert!(
        matches!(failed, Err(StoreError::ConditionFailed)),
        "tx: a failed condition fails all"
    );
    assert!(
        t.get(&a).await.unwrap().is_none(),
        "tx: nothing half-written"
    );
    assert_eq!(
        *t.get(&b).await.unwrap().unwrap().data,
        serde_json::json!("b")
    );

    let c = key(ns, "tx", "C");
    t.transact(vec![
        WriteOp::Put(
            item(a.clone(), serde_json::json!("a")),
            Condition::NotExists,
        ),
        WriteOp::Delete(b.clone(), Condition::Live { now: NOW }),
        WriteOp::Check(c.clone(), Condition::NotExists),
    ])
    .await
    .expect("tx: all conditions hold");
    assert!(t.get(&a).await.unwrap().is_some());
    assert!(t.get(&b).await.unwrap().is_none());
}

async fn queries_filter_order_and_limit(t: &dyn Table, ns: &str) {
    let pk = format!("{ns}#q");
    for sk in ["APP#2", "APP#1", "APP#3", "USER#1", "AP"] {
        t.put(
            item(Key::new(&pk, sk), serde_json::json!(sk)).with_gsi1(format!("{ns}#qi"), sk),
            Condition::Always,
        )
        .await
        .unwrap();
    }
    let got: Vec<String> = t
        .query(&pk, "APP#", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key.sk)
        .collect();
    assert_eq!(got, ["APP#1", "APP#2", "APP#3"], "query: prefix and order");
    assert_eq!(
        t.query(&pk, "APP#", 2).await.unwrap().len(),
        2,
        "query: limit"
    );
    let idx: Vec<String> = t
        .query_gsi1(&format!("{ns}#qi"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key.sk)
        .collect();
    assert_eq!(
        idx,
        ["AP", "APP#1", "APP#2", "APP#3", "USER#1"],
        "gsi1: all, in gsi1sk order"
    );
}

async fn ranged_index_queries_read_both_ways(t: &dyn Table, ns: &str) {
    let idx = format!("{ns}#ri");
    // Sort keys as the retained messages' index writes them: a fixed-width time, then an id.
    for (i, sk) in ["0100#a", "0200#b", "0200#c", "0300#d", "0400#e"]
        .iter()
        .enumerate()
    {
        t.put(
            item(Key::new(format!("{ns}#rp{i}"), "M"), serde_json::json!(sk)).with_gsi1(&idx, *sk),
            Condition::Always,
        )
        .await
        .unwrap();
    }
    // Another index partition, between the same bounds: never read.
    t.put(
        item(Key::new(format!("{ns}#rpx"), "M"), serde_json::json!("x"))
            .with_gsi1(format!("{ns}#rj"), "0250#x"),
        Condition::Always,
    )
    .await
    .unwrap();
    let read = |range: SkRange<'static>, limit: usize| {
        let idx = idx.clone();
        async move {
            t.query_gsi1_range(&idx, range, limit)
                .await
                .expect("ranged index query")
                .into_iter()
                .map(|i| i.gsi1.expect("indexed").1)
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(
        read(SkRange::default(), 10).await,
        ["0100#a", "0200#b", "0200#c", "0300#d", "0400#e"],
        "range: all, ascending"
    );
    assert_eq!(
        read(
            SkRange {
                from: Some("0200"),
                to: Some("0300#d"),
                descending: true
            },
            10
        )
        .await,
        ["0300#d", "0200#c", "0200#b"],
        "range: both ends inclusive (a prefix bound takes its extensions), newest first"
    );
    assert_eq!(
        read(
            SkRange {
                from: None,
                to: Some("0200#c"),
                descending: true
            },
            2
        )
        .await,
        ["0200#c", "0200#b"],
        "range: an upper bound, descending, limited"
    );
    assert_eq!(
        read(
            SkRange {
                from: Some("0250"),
                to: None,
                descending: false
            },
            1
        )
        .await,
        ["0300#d"],
        "range: a lower bound, ascending, limited"
    );
    assert!(
        read(
            SkRange {
                from: Some("0500"),
                to: None,
                descending: true
            },
            10
        )
        .await
        .is_empty(),
        "range: nothing past the end"
    );
}

async fn racing_consumers_exactly_one_wins(t: Arc<dyn Table>, ns: &str) {
    let k = key(ns, "race", "token");
    t.put(
        item(k.clone(), serde_json::json!("once")).with_ttl(NOW + 60),
        Condition::NotExists,
    )
    .await
    .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let t = t.clone();
            let k = k.clone();
            tokio::spawn(async move { t.delete(&k, Condition::Live { now: NOW }).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(Some(_)) => wins += 1,
            Ok(None) => panic!("race: a conditional delete returned nothing"),
            Err(StoreError::ConditionFailed) => {}
            Err(e) => panic!("race: unexpected {e}"),
        }
    }
    assert_eq!(wins, 1, "race: exactly one consumer wins");
}

async fn racing_claims_exactly_one_wins(t: Arc<dyn Table>, ns: &str) {
    let k = key(ns, "race", "nonce");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let t = t.clone();
            let it = item(k.clone(), serde_json::json!(i)).with_ttl(NOW + 600);
            tokio::spawn(async move { t.put(it, Condition::Vacant { now: NOW }).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => wins += 1,
            Err(StoreError::ConditionFailed) => {}
            Err(e) => panic!("claim race: unexpected {e}"),
        }
    }
    assert_eq!(wins, 1, "claim race: exactly one claim wins");
}

async fn counters_are_atomic(t: Arc<dyn Table>, ns: &str) {
    let k = key(ns, "ctr", "W1");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let t = t.clone();
            let k = k.clone();
            tokio::spawn(async move { t.increment(&k, 1, NOW + 60).await })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.expect("task").expect("increment"));
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=20).collect::<Vec<i64>>(),
        "counter: every value handed out once"
    );
    assert_eq!(t.counter(&k).await.unwrap(), 20);
    assert_eq!(t.counter(&key(ns, "ctr", "none")).await.unwrap(), 0);
}
