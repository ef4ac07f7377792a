//! Handler tests on in-memory adapters with the sample event of `events/` (the end-to-end ones,
//! with real receivers and the local stack, are in `tests/tests/it/webhooks.rs`).

use super::*;
use keygate_core::kernel::clock::ManualClock;
use keygate_core::kernel::config::Config;
use std::time::Duration;

async fn state() -> Webhooks {
    let services = Services::in_memory(
        Config::local("http://127.0.0.1:3000"),
        Arc::new(ManualClock::new(1_800_000_000)),
    )
    .await;
    Webhooks::new(
        services,
        keygate_core::ports::services::Queues::in_memory(),
        Settings::default(),
    )
    .expect("client builds")
}

fn sample() -> SqsEvent {
    serde_json::from_str(include_str!("../../../events/webhooks.json")).expect("sample SQS event")
}

async fn account(s: &Services) -> keygate_core::kernel::ids::AccountId {
    let ring = s.keys.ring().await;
    keygate_core::accounts::create_account(
        &*s.table,
        ring.peppers(),
        &s.config,
        "Acme",
        "o@acme.test",
        s.now(),
    )
    .await
    .expect("account")
    .account
    .id
}

fn for_account(mut event: SqsEvent, account: &keygate_core::kernel::ids::AccountId) -> SqsEvent {
    let body = event.records[0].body.clone().unwrap_or_default();
    let mut v: serde_json::Value = serde_json::from_str(&body).expect("sample body is JSON");
    v["accountId"] = account.to_string().into();
    event.records[0].body = Some(v.to_string());
    event
}

#[test]
fn the_sample_is_a_valid_first_delivery() {
    let event = sample();
    assert_eq!(event.records.len(), 1);
    assert_eq!(receive_count(&event.records[0]), 1);
    let body = event.records[0].body.as_deref().unwrap_or_default();
    let m = events::parse(body).expect("the sample's body is a valid event message");
    assert_eq!(m.name, "PACKAGE_CREATE");
}

#[test]
fn receive_counts_are_read_leniently() {
    let mut r = SqsMessage::default();
    assert_eq!(receive_count(&r), 1);
    r.attributes
        .insert("ApproximateReceiveCount".into(), "7".into());
    assert_eq!(receive_count(&r), 7);
    r.attributes
        .insert("ApproximateReceiveCount".into(), "lots".into());
    assert_eq!(receive_count(&r), 1);
    r.attributes
        .insert("ApproximateReceiveCount".into(), "0".into());
    assert_eq!(receive_count(&r), 1);
}

#[test]
fn settings_default_and_validate() {
    let none = Settings::from_lookup(|_| None).unwrap();
    assert_eq!(none, Settings::default());
    assert_eq!(none.disable_after, 5 * 24 * 3600);
    assert_eq!(none.timeout, Duration::from_secs(10));
    let set = Settings::from_lookup(|k| {
        (k == "KEYGATE_WEBHOOK_DISABLE_AFTER_SECONDS").then(|| "3600".to_owned())
    })
    .unwrap();
    assert_eq!(set.disable_after, 3600);
    for bad in ["0", "soon", "-1", "99999999999"] {
        let e = Settings::from_lookup(|k| {
            (k == "KEYGATE_WEBHOOK_DISABLE_AFTER_SECONDS").then(|| bad.to_owned())
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("KEYGATE_WEBHOOK_DISABLE_AFTER_SECONDS"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn an_event_nobody_subscribed_to_is_settled() {
    let s = state().await;
    let acc = account(&s.services).await;
    let resp = handle_batch(&s, for_account(sample(), &acc)).await;
    assert!(resp.batch_item_failures.is_empty());
    assert!(s
        .queues
        .dead_letters
        .receive(10, Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn poison_goes_to_the_dlq_with_its_reason_and_is_not_retried() {
    let s = state().await;
    let mut event = sample();
    let mut bad = event.records[0].clone();
    bad.message_id = Some("bad".into());
    bad.body = Some("{not json".into());
    event.records.push(bad);
    let mut no_body = event.records[0].clone();
    no_body.message_id = Some("empty".into());
    no_body.body = None;
    event.records.push(no_body);
    // The sample's account does not exist here.
    let resp = handle_batch(&s, event).await;
    assert!(resp.batch_item_failures.is_empty());
    let dead = s
        .queues
        .dead_letters
        .receive(10, Duration::ZERO)
        .await
        .unwrap();
    let mut reasons: Vec<&str> = dead
        .iter()
        .map(|m| m.attributes["reason"].as_str())
        .collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["malformed", "malformed", "unknown_account"]);
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_the_message_with_a_scheduled_delay() {
    let s = state().await;
    let acc = account(&s.services).await;
    let ring = s.services.keys.ring().await;
    // Loopback is allowed in local mode; port 9 (discard) has no listener here.
    let (ep, _) = keygate_core::notify::endpoints::Endpoint::new(
        ring.peppers(),
        acc.clone(),
        true,
        "http://127.0.0.1:9/hook".into(),
        None,
        vec!["PACKAGE_CREATE".into()],
        s.services.now(),
    );
    keygate_core::notify::endpoints::save(&*s.services.table, &ep, None)
        .await
        .unwrap();
    let mut event = for_account(sample(), &acc);
    event.records[0].receipt_handle = None;
    let msg = &event.records[0];
    let permits = Arc::new(Semaphore::new(4));
    match handle_message(&s, msg, &permits).await {
        Outcome::Retry { delay, .. } => assert!((4..=6).contains(&delay), "{delay}"),
        other => panic!("expected a retry, got {other:?}"),
    }
    let attempts =
        keygate_core::notify::attempts::list(&*s.services.table, &acc, "evt_demodemodemodemo")
            .await
            .unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].error_class,
        Some(keygate_core::notify::attempts::ErrorClass::Connect)
    );
    assert_eq!(attempts[0].attempt, 1);
    // The next receives follow the schedule by the endpoint's failed tries; the eighth failed
    // try is its last: the message goes to the DLQ for that endpoint, the account hears it, and
    // nothing is left to retry.
    for n in 2..=8u32 {
        let mut again = msg.clone();
        again
            .attributes
            .insert("ApproximateReceiveCount".into(), n.to_string());
        let outcome = handle_message(&s, &again, &permits).await;
        if n < 8 {
            match outcome {
                Outcome::Retry { delay, .. } => {
                    let step = schedule::SCHEDULE[(n as usize - 1).min(6)];
                    assert!(
                        delay >= step * 4 / 5 && delay <= step * 6 / 5 + 1,
                        "try {n}: {delay}"
                    );
                }
                other => panic!("expected a retry, got {other:?}"),
            }
        } else {
            assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
        }
    }
    let attempts =
        keygate_core::notify::attempts::list(&*s.services.table, &acc, "evt_demodemodemodemo")
            .await
            .unwrap();
    assert_eq!(attempts.len(), 8);
    assert!(attempts.iter().filter(|a| a.last).count() == 1 && attempts[7].last);
    let dead = s
        .queues
        .dead_letters
        .receive(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attributes["reason"], "exhausted");
    assert_eq!(dead[0].attributes[attributes::ENDPOINT], ep.id.as_str());
    let told = s.queues.events.receive(10, Duration::ZERO).await.unwrap();
    let op: serde_json::Value = serde_json::from_str(&told[0].body).unwrap();
    assert_eq!(op["name"], "CALLBACK_DELIVERY_EXHAUSTED");
    assert_eq!(op["messageId"], "evt_demodemodemodemo");
    assert_eq!(op["endpointId"], "primary");
}
