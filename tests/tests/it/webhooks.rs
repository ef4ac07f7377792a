//! The webhooks handler against real HTTP receivers on loopback, on the
//! in-memory adapters and on the local stack (DynamoDB Local + moto SQS), plus the local server's
//! event source. The receivers verify every signature with the `standardwebhooks` crate (the
//! spec's reference library), never with keygate's own code. Nothing here sleeps to synchronise:
//! the handler returns only once every send has been answered (or timed out), and the receivers
//! report each request on a channel.

use std::time::Duration;

use keygate_core::kernel::clock::Clock;
use keygate_core::kernel::ids::AccountId;
use keygate_core::notify::attempts::{self, AttemptStatus, ErrorClass};
use keygate_core::notify::endpoints::{self, Disabled, Endpoint};
use keygate_e2e::{Backend, Server};
use keygate_local::event_source;
use keygate_webhooks::Settings;
use serde_json::{json, Value};

use crate::rig::{failed_ids, fast, message, within, Hit, Receiver, Rig};

// ------------------------------------------------------------------------------- scenarios

/// Fan-out to every endpoint that wants the event type, with its key and its signatures (all
/// active secrets after a rotation); filtered and disabled endpoints get nothing.
async fn delivers_signed_events_to_every_subscribed_endpoint(backend: Backend) {
    let rig = Rig::new(backend, fast()).await;
    let acc = rig.account().await;
    let (a, b, c, d) = (
        Receiver::start(200).await,
        Receiver::start(204).await,
        Receiver::start(200).await,
        Receiver::start(200).await,
    );
    rig.endpoint(&acc, &a, Some("k3y-A"), &["PACKAGE_CREATE"])
        .await;
    // B rotated its secret: the old one still signs for the grace period.
    let s = rig.services();
    let ring = s.keys.ring().await;
    let (mut eb, old) = Endpoint::new(
        ring.peppers(),
        acc.clone(),
        true,
        b.url.clone(),
        None,
        vec!["DOCUMENT_SIGNED".into(), "PACKAGE_CREATE".into()],
        s.now(),
    );
    let new = eb.rotate_secret(ring.peppers(), 3600, s.now());
    endpoints::save(&*s.table, &eb, None).await.unwrap();
    b.trust(&new);
    b.trust(&old);
    rig.endpoint(&acc, &c, None, &["PACKAGE_COMPLETE"]).await;
    let ed = rig.endpoint(&acc, &d, None, &["PACKAGE_CREATE"]).await;
    let mut ed = ed;
    ed.disabled = Some(Disabled {
        at: s.now(),
        reason: "test".into(),
    });
    endpoints::save(&*s.table, &ed, Some(0)).await.unwrap();

    let sent = rig.publish(&acc, "evt_fanout", "PACKAGE_CREATE").await;
    let batch = rig.receive(1).await;
    let resp = rig.run(&batch).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");

    let (ha, hb) = (a.hits(), b.hits());
    assert_eq!((ha.len(), hb.len(), c.count(), d.count()), (1, 1, 0, 0));
    for h in [&ha[0], &hb[0]] {
        h.assert_verified();
        assert_eq!(h.json(), sent, "the body is the event message as queued");
        assert_eq!(h.header("content-type"), Some("application/json"));
        assert_eq!(h.header("webhook-id"), Some("evt_fanout"));
        let ts: i64 = h.header("webhook-timestamp").unwrap().parse().unwrap();
        assert_eq!(ts, rig.clock.now());
    }
    assert_eq!(ha[0].header("authorization"), Some("Basic k3y-A"));
    assert_eq!(hb[0].header("authorization"), None);
    assert_eq!(
        hb[0]
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2,
        "both active secrets sign"
    );
    assert_eq!(
        ha[0]
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        1
    );

    let tries = rig.attempts(&acc, "evt_fanout").await;
    assert_eq!(tries.len(), 2);
    assert!(tries.iter().all(|t| t.status == AttemptStatus::Succeeded
        && t.attempt == 1
        && t.error_class.is_none()
        && matches!(t.response_code, Some(200 | 204))));
    let v = serde_json::to_value(&tries[0]).unwrap();
    assert!(
        v.get("latencyMs").is_some() && v.get("endpointId").is_some(),
        "{v}"
    );
}

/// The same SQS record twice: the endpoint that took it is not sent it again; only the failed one
/// is retried. A producer's duplicate (same event id, new message) reaches nobody twice.
async fn redelivery_is_idempotent_per_endpoint(backend: Backend) {
    let rig = Rig::new(backend, fast()).await;
    let acc = rig.account().await;
    let (ok, flaky) = (Receiver::start(200).await, Receiver::start(500).await);
    rig.endpoint(&acc, &ok, None, &["PACKAGE_CREATE"]).await;
    let ef = rig.endpoint(&acc, &flaky, None, &["PACKAGE_CREATE"]).await;

    rig.publish(&acc, "evt_idem", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    let resp = rig.run(std::slice::from_ref(&m)).await;
    assert_eq!(failed_ids(&resp), [m.message_id.as_str()]);
    assert_eq!((ok.count(), flaky.count()), (1, 1));
    assert_eq!(rig.stored(&ef).await.failing_since, Some(rig.clock.now()));

    // Exactly the same record again (SQS at-least-once).
    let resp = rig.run_as(&m, 1).await;
    assert_eq!(failed_ids(&resp).len(), 1);
    assert_eq!((ok.count(), flaky.count()), (1, 2));

    flaky.set_status(202);
    let resp = rig.run_as(&m, 2).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!((ok.count(), flaky.count()), (1, 3));
    assert_eq!(
        rig.stored(&ef).await.failing_since,
        None,
        "success clears it"
    );
    flaky.hits().iter().for_each(Hit::assert_verified);

    // Once more, and a producer's duplicate of the event: nobody gets it again.
    let resp = rig.run_as(&m, 3).await;
    assert!(resp.batch_item_failures.is_empty());
    rig.forget(&m).await;
    rig.publish(&acc, "evt_idem", "PACKAGE_CREATE").await;
    let dup = rig.receive(1).await;
    assert!(rig.run(&dup).await.batch_item_failures.is_empty());
    assert_eq!((ok.count(), flaky.count()), (1, 3));

    let tries = rig.attempts(&acc, "evt_idem").await;
    let of = |id: &keygate_core::kernel::ids::EndpointId| -> Vec<(u32, AttemptStatus)> {
        let mut v: Vec<_> = tries
            .iter()
            .filter(|t| &t.endpoint_id == id)
            .map(|t| (t.attempt, t.status))
            .collect();
        v.sort_by_key(|(n, s)| (*n, *s == AttemptStatus::Succeeded));
        v
    };
    assert_eq!(
        of(&ef.id),
        [
            (1, AttemptStatus::Failed),
            (1, AttemptStatus::Failed),
            // Numbered from the endpoint's attempts recorded before it: its third try.
            (3, AttemptStatus::Succeeded)
        ]
    );
    assert_eq!(tries.len(), 4);
    assert!(tries
        .iter()
        .filter(|t| t.status == AttemptStatus::Failed)
        .all(|t| t.response_code == Some(500) && t.error_class == Some(ErrorClass::HttpStatus)));
}

/// The visibility the handler sets follows the receive count, `Retry-After` and timeouts.
async fn retry_delays_follow_receive_counts(backend: Backend) {
    let rig = Rig::new(
        backend,
        Settings {
            timeout: Duration::from_secs(1),
            ..Settings::default()
        },
    )
    .await;
    // A plain failure, on successive receives.
    let acc = rig.account().await;
    let down = Receiver::start(503).await;
    rig.endpoint(&acc, &down, None, &["PACKAGE_CREATE"]).await;
    rig.publish(&acc, "evt_sched", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    // The delay follows the endpoint's failed tries (read from its attempts), not SQS's receive
    // count: a wait for its turn would be a receive too.
    let expected = [
        (1, 4..=6),
        (2, 48..=72),
        (3, 240..=360),
        (4, 1_440..=2_160),
        (5, 5_760..=8_640),
        (6, 14_400..=21_600),
        (7, 28_800..=42_900),
    ];
    for (count, range) in expected.iter().cloned() {
        let resp = rig.run_as(&m, count).await;
        assert_eq!(failed_ids(&resp), [m.message_id.as_str()]);
        let set = *rig.visibility_of(&m).last().expect("a visibility was set");
        assert!(range.contains(&set), "receive {count}: {set}s");
    }
    // The eighth failed try is the last: the message goes to the DLQ for that endpoint and is
    // settled here (nothing left to retry).
    let resp = rig.run_as(&m, 8).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(down.count(), expected.len() + 1);
    let dead = rig
        .queues()
        .dead_letters
        .receive(10, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attributes["reason"], "exhausted");
    rig.forget(&m).await;

    // 429 with Retry-After: 120 is honoured over the 5 s step.
    let acc = rig.account().await;
    let busy = Receiver::start(429).await;
    busy.set_header("retry-after", "120");
    rig.endpoint(&acc, &busy, None, &["PACKAGE_CREATE"]).await;
    rig.publish(&acc, "evt_429", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    rig.run(std::slice::from_ref(&m)).await;
    assert_eq!(rig.visibility_of(&m), [120]);
    rig.forget(&m).await;

    // A slow receiver times out (1 s here): a failure that waits one step longer.
    let acc = rig.account().await;
    let slow = Receiver::start(200).await;
    slow.set_delay(Duration::from_secs(5));
    rig.endpoint(&acc, &slow, None, &["PACKAGE_CREATE"]).await;
    rig.publish(&acc, "evt_slow", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    let resp = rig.run(std::slice::from_ref(&m)).await;
    assert_eq!(failed_ids(&resp).len(), 1);
    let set = rig.visibility_of(&m);
    assert!(set.len() == 1 && (48..=72).contains(&set[0]), "{set:?}");
    let tries = rig.attempts(&acc, "evt_slow").await;
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0].error_class, Some(ErrorClass::Timeout));
    assert_eq!(tries[0].response_code, None);
    assert!(tries[0].latency_ms >= 1_000, "{}", tries[0].latency_ms);
    assert_eq!(slow.count(), 1);
}

/// 3xx is a failure and is not followed; 410 disables the endpoint (with an audit record) and is
/// not retried; disabled endpoints are skipped from then on.
async fn redirects_fail_and_gone_disables(backend: Backend) {
    let rig = Rig::new(backend, fast()).await;
    let acc = rig.account().await;
    let (redirecting, target, gone) = (
        Receiver::start(302).await,
        Receiver::start(200).await,
        Receiver::start(410).await,
    );
    redirecting.set_header("location", &target.url);
    let er = rig
        .endpoint(&acc, &redirecting, None, &["PACKAGE_CREATE"])
        .await;
    let eg = rig.endpoint(&acc, &gone, None, &["PACKAGE_CREATE"]).await;

    rig.publish(&acc, "evt_3xx", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    let resp = rig.run(std::slice::from_ref(&m)).await;
    assert_eq!(failed_ids(&resp).len(), 1, "the redirect is retried");
    assert_eq!(
        (redirecting.count(), target.count(), gone.count()),
        (1, 0, 1)
    );
    let disabled = rig.stored(&eg).await.disabled.expect("410 disabled it");
    assert!(disabled.reason.contains("410"), "{}", disabled.reason);
    let audit = keygate_core::kernel::audit::list(&*rig.services().table, &acc, 10)
        .await
        .unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "callback.disable" && e.target.as_deref() == Some(eg.id.as_str())));
    let tries = rig.attempts(&acc, "evt_3xx").await;
    let class_of = |id: &keygate_core::kernel::ids::EndpointId| {
        tries
            .iter()
            .find(|t| &t.endpoint_id == id)
            .map(|t| (t.response_code, t.error_class))
    };
    assert_eq!(
        class_of(&er.id),
        Some((Some(302), Some(ErrorClass::Redirect)))
    );
    assert_eq!(
        class_of(&eg.id),
        Some((Some(410), Some(ErrorClass::HttpStatus)))
    );

    // The retry goes to the redirecting endpoint only; the gone one is disabled.
    rig.run_as(&m, 2).await;
    assert_eq!((redirecting.count(), gone.count()), (2, 1));
    rig.forget(&m).await;

    // An endpoint that only answers 410 settles the message: nothing is left to retry.
    let acc = rig.account().await;
    let gone2 = Receiver::start(410).await;
    rig.endpoint(&acc, &gone2, None, &["PACKAGE_CREATE"]).await;
    rig.publish(&acc, "evt_gone", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    assert!(rig.run(&[m]).await.batch_item_failures.is_empty());
    assert_eq!(gone2.count(), 1);
    gone2.hits()[0].assert_verified();
}

/// An endpoint that keeps failing for longer than the configured time is disabled.
async fn continuous_failure_disables(backend: Backend) {
    let rig = Rig::new(
        backend,
        Settings {
            disable_after: 60,
            ..fast()
        },
    )
    .await;
    let acc = rig.account().await;
    let down = Receiver::start(500).await;
    let ep = rig.endpoint(&acc, &down, None, &["PACKAGE_CREATE"]).await;
    rig.publish(&acc, "evt_f1", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    assert_eq!(
        failed_ids(&rig.run(std::slice::from_ref(&m)).await).len(),
        1
    );
    rig.forget(&m).await;
    let since = rig.stored(&ep).await.failing_since.expect("failing since");

    rig.clock.advance(61);
    rig.publish(&acc, "evt_f2", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    let resp = rig.run(std::slice::from_ref(&m)).await;
    rig.forget(&m).await;
    assert!(
        resp.batch_item_failures.is_empty(),
        "disabled: nothing to retry"
    );
    let stored = rig.stored(&ep).await;
    let disabled = stored.disabled.expect("disabled after 60 s of failures");
    assert_eq!(disabled.at, since + 61);
    assert_eq!(down.count(), 2);

    rig.publish(&acc, "evt_f3", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    assert!(rig.run(&[m]).await.batch_item_failures.is_empty());
    assert_eq!(down.count(), 2, "a disabled endpoint is skipped");
}

/// Messages that can never succeed go to the DLQ at once with their reason.
async fn poison_is_dead_lettered_with_its_reason(backend: Backend) {
    let rig = Rig::new(backend, fast()).await;
    let acc = rig.account().await;
    let q = &rig.queues().events;
    q.send("{not json", &[]).await.unwrap();
    q.send(&message(&acc, "evt_p", "NOT_AN_EVENT").to_string(), &[])
        .await
        .unwrap();
    q.send(
        &message(&AccountId::generate(), "evt_p", "PACKAGE_CREATE").to_string(),
        &[],
    )
    .await
    .unwrap();
    // Not an object; an object without its account; an event past the 256 KB bound (its extra
    // field is what makes it large).
    q.send("[1, 2]", &[]).await.unwrap();
    let mut anonymous = message(&acc, "evt_p", "PACKAGE_CREATE");
    anonymous.as_object_mut().unwrap().remove("accountId");
    q.send(&anonymous.to_string(), &[]).await.unwrap();
    let mut large = message(&acc, "evt_p", "PACKAGE_CREATE");
    large["comment"] = json!("x".repeat(keygate_core::notify::events::MAX_MESSAGE_BYTES));
    q.send(&large.to_string(), &[]).await.unwrap();
    let batch = rig.receive(6).await;
    let resp = rig.run(&batch).await;
    assert!(resp.batch_item_failures.is_empty(), "poison is not retried");
    let mut dead = Vec::new();
    while dead.len() < 6 {
        dead.extend(
            rig.queues()
                .dead_letters
                .receive(10, Duration::from_secs(1))
                .await
                .unwrap(),
        );
    }
    let mut reasons: Vec<String> = dead
        .iter()
        .map(|m| m.attributes["reason"].clone())
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "malformed",
            "malformed",
            "malformed",
            "too_large",
            "unknown_account",
            "unknown_event"
        ]
    );
}

/// An event's own fields (OneSpan's `COBROWSE_REQUEST` carries `phone`, `comment` and
/// `selectedSupportBusinessHours`) reach the endpoint untouched; an event without `createdDate`
/// is delivered in OneSpan's shape, with `createdDate: null`.
async fn event_specific_fields_pass_through(backend: Backend) {
    let rig = Rig::new(backend, fast()).await;
    let acc = rig.account().await;
    let r = Receiver::start(200).await;
    rig.endpoint(&acc, &r, None, &["COBROWSE_REQUEST", "PACKAGE_CREATE"])
        .await;
    let mut cobrowse = message(&acc, "evt_cobrowse", "COBROWSE_REQUEST");
    let extra = json!({
        "phone": "+1 514 555 0100",
        "comment": "Je n'arrive pas à signer — « aide »",
        "selectedSupportBusinessHours": {"from": "09:00", "to": "17:00", "days": ["MON", "FRI"]}
    });
    for (k, v) in extra.as_object().unwrap() {
        cobrowse[k] = v.clone();
    }
    let mut dateless = message(&acc, "evt_dateless", "PACKAGE_CREATE");
    dateless.as_object_mut().unwrap().remove("createdDate");
    let q = &rig.queues().events;
    for m in [&cobrowse, &dateless] {
        q.send(&m.to_string(), &[]).await.unwrap();
    }
    let batch = rig.receive(2).await;
    let resp = rig.run(&batch).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let hits = r.hits();
    assert_eq!(hits.len(), 2);
    for h in &hits {
        h.assert_verified();
    }
    let body_of = |id: &str| {
        hits.iter()
            .map(Hit::json)
            .find(|b| b["id"] == id)
            .unwrap_or_else(|| panic!("{id} delivered"))
    };
    assert_eq!(body_of("evt_cobrowse"), cobrowse);
    dateless["createdDate"] = Value::Null;
    assert_eq!(body_of("evt_dateless"), dateless);
}

/// The local server's event source stands in for SQS's redrive: past `maxReceiveCount`, a
/// message goes to the DLQ instead of the handler.
async fn exhausted_messages_are_redriven(backend: Backend) {
    let rig = Rig::new(
        backend,
        Settings {
            queue_max_receives: 2,
            ..fast()
        },
    )
    .await;
    let acc = rig.account().await;
    let r = Receiver::start(200).await;
    rig.endpoint(&acc, &r, None, &["PACKAGE_CREATE"]).await;
    rig.publish(&acc, "evt_x", "PACKAGE_CREATE").await;
    let q = &rig.queues().events;
    for _ in 0..2 {
        let m = rig.receive(1).await.remove(0);
        q.change_visibility(&m.receipt_handle, 0).await.unwrap();
    }
    let third = rig.receive(1).await;
    assert_eq!(third[0].receive_count, 3);
    let resp = event_source::deliver(&rig.state, third).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(r.count(), 0);
    let dead = rig
        .queues()
        .dead_letters
        .receive(10, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attributes["reason"], event_source::EXHAUSTED);
}

/// Through the local server: `POST /_local/events`, the in-process event source, the handler
/// state built once, and a retry after the visibility the handler set.
async fn the_local_server_delivers_and_retries(backend: Backend) {
    let s = Server::start(backend).await;
    let (account, _, _) = s.create_account("Acme", "owner@acme.test").await;
    let acc = AccountId::parse(&account).unwrap();
    let r = Receiver::start(200).await;
    let services = s.services();
    let ring = services.keys.ring().await;
    let (ep, secret) = Endpoint::new(
        ring.peppers(),
        acc.clone(),
        true,
        r.url.clone(),
        Some("onespan-key"),
        vec!["PACKAGE_COMPLETE".into()],
        services.now(),
    );
    endpoints::save(&*services.table, &ep, None).await.unwrap();
    r.trust(&secret);

    let m1 = message(&acc, "evt_local1", "PACKAGE_COMPLETE");
    let (status, _) = s.call(s.http.post(s.url("/_local/events")).json(&m1)).await;
    assert_eq!(status, 202);
    let hit = r.next().await;
    hit.assert_verified();
    assert_eq!(hit.json(), m1);
    assert_eq!(hit.header("authorization"), Some("Basic onespan-key"));

    // A failure, then the redelivery the handler scheduled (5 s ± 20%) succeeds.
    r.set_status(500);
    let m2 = message(&acc, "evt_local2", "PACKAGE_COMPLETE");
    s.call(s.http.post(s.url("/_local/events")).json(&m2)).await;
    let first = r.next().await;
    assert_eq!(first.json(), m2);
    r.set_status(200);
    let second = r.next().await;
    assert_eq!(second.json(), m2);
    second.assert_verified();
    // The event source runs one batch at a time: once a later event arrives, the batch that
    // delivered m2 has finished, its attempts recorded.
    let m3 = message(&acc, "evt_local3", "PACKAGE_COMPLETE");
    s.call(s.http.post(s.url("/_local/events")).json(&m3)).await;
    assert_eq!(r.next().await.json(), m3);
    let tries = attempts::list(&*services.table, &acc, "evt_local2")
        .await
        .unwrap();
    let mut seen: Vec<(u32, AttemptStatus)> = tries.iter().map(|t| (t.attempt, t.status)).collect();
    seen.sort_by_key(|(n, _)| *n);
    assert_eq!(
        seen,
        [(1, AttemptStatus::Failed), (2, AttemptStatus::Succeeded)]
    );
}

/// Outside local mode loopback is refused — by scheme, by literal address, and after resolving a
/// name — and nothing reaches the receiver. (Only loopback is ever dialled from a test.)
async fn the_ssrf_guard_refuses_loopback_outside_local_mode(backend: Backend) {
    let rig = Rig::with_mode(backend, fast(), false).await;
    let acc = rig.account().await;
    let r = Receiver::start(200).await;
    let port = r
        .url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/hook");
    let urls = [
        r.url.clone(),
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://[::ffff:127.0.0.1]:{port}/hook"),
        format!("https://localhost:{port}/hook"),
    ];
    let mut ids = Vec::new();
    for u in &urls {
        ids.push(
            rig.endpoint_at(&acc, u, None, &["PACKAGE_CREATE"])
                .await
                .0
                .id,
        );
    }
    rig.publish(&acc, "evt_ssrf", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    let resp = rig.run(&[m]).await;
    assert_eq!(failed_ids(&resp).len(), 1, "refusals are failures, retried");
    assert_eq!(r.count(), 0);
    let tries = rig.attempts(&acc, "evt_ssrf").await;
    let class = |i: usize| {
        tries
            .iter()
            .find(|t| t.endpoint_id == ids[i])
            .and_then(|t| t.error_class)
    };
    assert_eq!(class(0), Some(ErrorClass::InvalidUrl));
    assert_eq!(class(1), Some(ErrorClass::BlockedAddress));
    assert_eq!(class(2), Some(ErrorClass::BlockedAddress));
    assert_eq!(class(3), Some(ErrorClass::BlockedAddress), "{tries:?}");
}

// ------------------------------------------------------------------------------- per backend

macro_rules! on_both {
    ($($name:ident => $secs:expr),* $(,)?) => {
        mod in_memory {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    within($secs, super::$name(Backend::Memory)).await;
                }
            )*
        }
        mod on_the_stack {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    within($secs * 2, super::$name(Backend::Stack)).await;
                }
            )*
        }
    };
}

on_both! {
    delivers_signed_events_to_every_subscribed_endpoint => 60,
    redelivery_is_idempotent_per_endpoint => 60,
    retry_delays_follow_receive_counts => 60,
    redirects_fail_and_gone_disables => 60,
    continuous_failure_disables => 60,
    poison_is_dead_lettered_with_its_reason => 60,
    event_specific_fields_pass_through => 60,
    exhausted_messages_are_redriven => 60,
    the_local_server_delivers_and_retries => 60,
    the_ssrf_guard_refuses_loopback_outside_local_mode => 60,
}

/// docs/SCALE.md, "Spread what must be written per event", counted: one account's events fanned
/// out to 10 endpoints, in batches of 10 as SQS hands them over, on a table metered under the
/// read cache. Per event, the hottest partition key (index partitions included) takes at most one
/// write, and the account's endpoint list and records cost no read in steady state.
#[tokio::test]
async fn fan_out_spreads_its_writes_and_reads_nothing_hot() {
    let (rig, meter) = Rig::metered(fast()).await;
    let acc = rig.account().await;
    let receiver = Receiver::start(200).await;
    for _ in 0..10 {
        rig.endpoint(&acc, &receiver, None, &["PACKAGE_CREATE"])
            .await;
    }
    // Warm-up: the instance's first event reads the account and its endpoints.
    rig.publish(&acc, "evt_warm", "PACKAGE_CREATE").await;
    let resp = rig.run(&rig.receive(1).await).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    meter.take();

    let events = 200;
    for batch in 0..events / 10 {
        for i in 0..10 {
            rig.publish(&acc, &format!("evt_{batch}_{i}"), "PACKAGE_CREATE")
                .await;
        }
        let resp = rig.run(&rig.receive(10).await).await;
        assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    }
    assert_eq!(receiver.count(), (events + 1) * 10);
    let t = meter.take();
    let per_event = |n: u64| n as f64 / events as f64;
    let (hot_w, hot_w_n) = t.hottest_write().expect("writes");
    let reads = per_event(t.total.reads);
    eprintln!(
        "fan-out to 10 endpoints: {:.2} reads, {:.2} writes per event; hottest key {hot_w} with {:.2} writes per event",
        reads,
        per_event(t.total.writes),
        per_event(hot_w_n)
    );
    assert!(per_event(hot_w_n) <= 1.0, "{hot_w}: {hot_w_n} writes");
    assert!(
        reads <= 0.1,
        "{reads} reads per event: {:?}",
        t.hottest_read()
    );
}
