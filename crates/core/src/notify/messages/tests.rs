use super::*;
use crate::kernel::crypto::{Pepper, Peppers};
use crate::notify::attempts::{self, ErrorClass};
use crate::notify::events::{self, EventMessage};
use crate::notify::ledger::{self, Pair};
use crate::notify::messages::recovery::SCAN_BUDGET;
use crate::ports::store::MemoryTable;

const NOW: i64 = 1_800_000_000;

fn event(account: &AccountId, id: &str, name: &str, created: Option<&str>) -> EventMessage {
    EventMessage {
        id: id.into(),
        account_id: account.clone(),
        name: name.into(),
        package_id: Some("pkg".into()),
        document_id: None,
        session_user: None,
        message: None,
        created_date: created.map(str::to_owned),
        extra: serde_json::Map::new(),
    }
}

fn endpoint(account: &AccountId, events: &[&str], at: i64) -> Endpoint {
    let p = Peppers::new(vec![Pepper::generate("p")]);
    Endpoint::new(
        &p,
        account.clone(),
        false,
        "https://x.test/h".into(),
        None,
        events.iter().map(|e| (*e).to_owned()).collect(),
        at,
    )
    .0
}

fn attempt(m: &str, ep: &EndpointId, n: u32, ok: bool, at: i64, last: bool) -> Attempt {
    Attempt {
        event_id: m.into(),
        event_name: "PACKAGE_CREATE".into(),
        endpoint_id: ep.clone(),
        attempt: n,
        status: if ok {
            AttemptStatus::Succeeded
        } else {
            AttemptStatus::Failed
        },
        response_code: Some(if ok { 200 } else { 500 }),
        error_class: (!ok).then_some(ErrorClass::HttpStatus),
        latency_ms: 1,
        at,
        round: None,
        last,
    }
}

/// `n` events a second apart from `start` (their createdDate), ids `evt_000`…
async fn seed(t: &MemoryTable, acc: &AccountId, n: usize, eps: &[EndpointId]) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("evt_{i:03}");
        let created = crate::kernel::clock::rfc3339(NOW + i as i64);
        let name = if i % 3 == 0 {
            "DOCUMENT_SIGNED"
        } else {
            "PACKAGE_CREATE"
        };
        retain(
            t,
            &event(acc, &id, name, Some(&created)),
            eps,
            NOW + i as i64,
            30,
        )
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn a_message_is_kept_once_with_its_payload_and_expires() {
    let t = MemoryTable::new();
    let acc = AccountId::generate();
    let m = event(&acc, "evt#1", "PACKAGE_CREATE", None);
    retain(&t, &m, &[], NOW, 30).await.unwrap();
    // A redelivery later changes nothing (first receipt wins).
    retain(&t, &m, &[], NOW + 60, 30).await.unwrap();
    let kept = get(&t, &acc, "evt#1", NOW).await.unwrap().unwrap();
    assert_eq!(kept.payload, m);
    assert_eq!(kept.received_at, NOW);
    assert_eq!(
        kept.at_ms,
        NOW * 1000,
        "no createdDate: the time it was taken"
    );
    assert!(get(&t, &acc, "evt#1", NOW + 30 * 86_400)
        .await
        .unwrap()
        .is_none());
    assert!(get(&t, &AccountId::generate(), "evt#1", NOW)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn listing_is_newest_first_paged_filtered_and_per_account() {
    let t = MemoryTable::new();
    let (acc, other) = (AccountId::generate(), AccountId::generate());
    let ep = endpoint(&acc, &["PACKAGE_CREATE"], NOW);
    let ids = seed(&t, &acc, 45, std::slice::from_ref(&ep.id)).await;
    seed(&t, &other, 5, &[]).await;
    let current = [ep.clone()];
    // Pages of 10, in order, every message once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(
            &t,
            &acc,
            &current,
            &Filter {
                limit: 10,
                cursor: cursor.clone(),
                ..Filter::default()
            },
            NOW,
        )
        .await
        .unwrap();
        seen.extend(page.messages.iter().map(|l| l.message.id.clone()));
        match page.next {
            Some(n) => {
                assert_eq!(decode_cursor(&encode_cursor(&n)), Some(n.clone()));
                cursor = Some(n);
            }
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    // since/until (inclusive) and the event type.
    let page = list(
        &t,
        &acc,
        &current,
        &Filter {
            since_ms: Some((NOW + 10) * 1000),
            until_ms: Some((NOW + 20) * 1000),
            event_type: Some("DOCUMENT_SIGNED".into()),
            limit: 100,
            ..Filter::default()
        },
        NOW,
    )
    .await
    .unwrap();
    let got: Vec<&str> = page
        .messages
        .iter()
        .map(|l| l.message.id.as_str())
        .collect();
    assert_eq!(got, ["evt_018", "evt_015", "evt_012"]);
    assert_eq!(page.next, None);

    // Status: one delivered, one failed for good, the rest pending.
    attempts::record(
        &t,
        &acc,
        &attempt("evt_044", &ep.id, 1, true, NOW + 50, false),
    )
    .await
    .unwrap();
    attempts::record(
        &t,
        &acc,
        &attempt("evt_007", &ep.id, 8, false, NOW + 50, true),
    )
    .await
    .unwrap();
    let by = |s: Status| {
        let t = &t;
        let acc = &acc;
        let current = &current;
        async move {
            list(
                t,
                acc,
                current,
                &Filter {
                    status: Some(s),
                    limit: 100,
                    ..Filter::default()
                },
                NOW,
            )
            .await
            .unwrap()
            .messages
            .into_iter()
            .map(|l| l.message.id)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(by(Status::Delivered).await, ["evt_044"]);
    assert_eq!(by(Status::Failed).await, ["evt_007"]);
    assert_eq!(by(Status::Pending).await.len(), 43);
    // Another account's are its own.
    let theirs = list(
        &t,
        &other,
        &[],
        &Filter {
            limit: 100,
            ..Filter::default()
        },
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(theirs.messages.len(), 5);
}

#[test]
fn outcomes_follow_the_attempts_and_the_endpoints() {
    let acc = AccountId::generate();
    let (a, b, c) = (
        endpoint(&acc, &[], 0),
        endpoint(&acc, &[], 0),
        endpoint(&acc, &[], 0),
    );
    let gone = EndpointId::generate();
    let m = Retained {
        id: "evt_1".into(),
        name: "PACKAGE_CREATE".into(),
        created_date: None,
        received_at: 0,
        at_ms: 0,
        endpoints: vec![a.id.clone(), b.id.clone(), c.id.clone()],
        payload: event(&acc, "evt_1", "PACKAGE_CREATE", None),
    };
    let mut disabled = c.clone();
    disabled.disabled = Some(crate::notify::endpoints::Disabled {
        at: 5,
        reason: "410".into(),
    });
    let history = [
        attempt("evt_1", &a.id, 1, false, 10, false),
        attempt("evt_1", &a.id, 2, true, 20, false),
        attempt("evt_1", &b.id, 1, false, 10, false),
        attempt("evt_1", &gone, 1, false, 30, false),
    ];
    let got = outcomes(&m, &history, &[a.clone(), b.clone(), disabled]);
    let brief: Vec<(Status, u32, Option<i64>)> = got
        .iter()
        .map(|o| (o.status, o.attempts, o.last_attempt_at))
        .collect();
    assert_eq!(
        brief,
        [
            (Status::Delivered, 2, Some(20)),
            (Status::Pending, 1, Some(10)),
            (Status::Failed, 0, None),
            (Status::Failed, 1, Some(30)),
        ]
    );
    assert_eq!(
        got[3].endpoint_id, gone,
        "a resend's endpoint is listed too"
    );
}

#[tokio::test]
async fn recovery_finds_what_the_endpoint_did_not_take_oldest_first() {
    let t = MemoryTable::new();
    let acc = AccountId::generate();
    let ep = endpoint(&acc, &["PACKAGE_CREATE", events::ENDPOINT_DISABLED], NOW);
    let ids = seed(&t, &acc, 30, std::slice::from_ref(&ep.id)).await;
    // It took evt_001 and evt_002; it wants no DOCUMENT_SIGNED (every third).
    for id in ["evt_001", "evt_002"] {
        let p = Pair {
            account: &acc,
            event_id: id,
            endpoint: &ep.id,
            round: None,
        };
        p.claim(&t, 1, NOW, 60).await.unwrap();
        p.delivered(&t, 1, NOW, ledger::delivered_ttl(30))
            .await
            .unwrap();
    }
    // An operational event about itself, and one about another endpoint.
    let mut about = serde_json::Map::new();
    about.insert("reason".into(), "x".into());
    let own = events::operational(
        &acc,
        events::ENDPOINT_DISABLED,
        ep.id.as_str(),
        "x".into(),
        about.clone(),
        NOW + 100,
    );
    let other = events::operational(
        &acc,
        events::ENDPOINT_DISABLED,
        "primary",
        "x".into(),
        about,
        NOW + 101,
    );
    retain(&t, &own, &[], NOW + 100, 30).await.unwrap();
    retain(&t, &other, &[], NOW + 101, 30).await.unwrap();
    let window = Window {
        since_ms: NOW * 1000,
        until_ms: (NOW + 200) * 1000,
    };
    let all = missed(&t, &acc, &ep, window, None, 0, SCAN_BUDGET, NOW)
        .await
        .unwrap();
    let want: Vec<&String> = ids
        .iter()
        .enumerate()
        .filter(|(i, id)| i % 3 != 0 && !["evt_001", "evt_002"].contains(&id.as_str()))
        .map(|(_, id)| id)
        .collect();
    assert_eq!(all.count, want.len() + 1, "and the event about the primary");
    assert!(all.complete && all.messages.is_empty());
    // In parts, oldest first, each after the last.
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let part = missed(&t, &acc, &ep, window, after.as_deref(), 4, SCAN_BUDGET, NOW)
            .await
            .unwrap();
        got.extend(part.messages.iter().map(|m| m.id.clone()));
        match part.messages.last() {
            Some(m) => after = Some(m.order_key()),
            None => break,
        }
    }
    let mut expected: Vec<String> = want.iter().map(|s| (*s).clone()).collect();
    expected.push(other.id.clone());
    assert_eq!(got, expected);
    // Nothing before the endpoint existed.
    let late = endpoint(&acc, &["PACKAGE_CREATE"], NOW + 1_000);
    let none = missed(&t, &acc, &late, window, None, 10, SCAN_BUDGET, NOW)
        .await
        .unwrap();
    assert_eq!(none.count, 0);
}

#[test]
fn cursors_are_opaque_and_checked() {
    let key = order_key(1_800_000_000_123, "evt_1");
    assert_eq!(key, "01800000000123#evt_1");
    assert_eq!(decode_cursor(&encode_cursor(&key)), Some(key));
    for bad in [
        "",
        "!!",
        &encode_cursor("123#x"),
        &encode_cursor("01800000000123#"),
        &encode_cursor("01800000000123#a b"),
    ] {
        assert_eq!(decode_cursor(bad), None, "{bad}");
    }
    assert!(floor_key(5) < order_key(5, "!") && order_key(5, "~~") < ceiling_key(5));
}
