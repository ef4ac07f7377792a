//! "Nothing an integrator missed is lost" (docs/EVENTS.md), end to end on both backends:
//! retained messages (`GET /api/callback/messages`), resend, recover, the operational events,
//! the per-endpoint `rateLimit`, another account's messages, and the dead-letter queue's redrive.
//!
//! The API is the local server's; deliveries are driven by the test, one invocation of the
//! webhooks handler at a time over what the queue holds (the server's own poller is given a queue
//! that is always empty), so a retry the handler schedules never races the test: nothing sleeps
//! to synchronise, and time is the harness's `ManualClock` plus the visibility each message is
//! given.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keygate_core::kernel::ids::AccountId;
use keygate_core::notify::attempts::AttemptStatus;
use keygate_core::notify::endpoints::{self, Endpoint};
use keygate_core::ports::queue::{Queue, QueueError, Received};
use keygate_core::ports::services::Queues;
use keygate_e2e::{Backend, Server};
use keygate_local::event_source;
use keygate_webhooks::{Settings, Webhooks};
use serde_json::{json, Value};

use crate::rig::{failed_ids, fast, message, within, Hit, Receiver, Rig};

// ------------------------------------------------------------------------------- the harness

/// What the local server's poller reads: a long poll that never finds anything, so the test
/// delivers by hand. Everything sent lands in the real queue beneath.
struct Parked(Arc<dyn Queue>);

#[async_trait::async_trait]
impl Queue for Parked {
    async fn send_delayed(
        &self,
        body: &str,
        attributes: &[(&str, &str)],
        delay: u32,
    ) -> Result<String, QueueError> {
        self.0.send_delayed(body, attributes, delay).await
    }
    async fn receive(&self, _: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        // An empty long poll (not a synchronisation: nothing waits for it).
        tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
        Ok(Vec::new())
    }
    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.0.delete(receipt).await
    }
    async fn change_visibility(&self, receipt: &str, seconds: u32) -> Result<(), QueueError> {
        self.0.change_visibility(receipt, seconds).await
    }
}

/// The handler's view of the queue: a message it gives a retry delay is parked for ten minutes
/// instead (the retry schedule is longer than any test), so only what the test drives runs.
struct LongRetries(Arc<dyn Queue>);

#[async_trait::async_trait]
impl Queue for LongRetries {
    async fn send_delayed(
        &self,
        body: &str,
        attributes: &[(&str, &str)],
        delay: u32,
    ) -> Result<String, QueueError> {
        self.0.send_delayed(body, attributes, delay).await
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        self.0.receive(max, wait).await
    }
    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.0.delete(receipt).await
    }
    async fn change_visibility(&self, receipt: &str, seconds: u32) -> Result<(), QueueError> {
        self.0.change_visibility(receipt, seconds.max(600)).await
    }
}

/// The local server, and the webhooks handler the test drives over its queue.
struct Driven {
    s: Server,
    state: Webhooks,
    events: Arc<dyn Queue>,
}

impl Driven {
    async fn start(backend: Backend) -> Self {
        let mut events = None;
        let s = Server::start_with(backend, |services, queues| {
            let real = queues.events.clone();
            queues.events = Arc::new(Parked(real.clone()));
            services.events = Some(real.clone());
            events = Some(real);
        })
        .await;
        let events = events.expect("the queue");
        let queues = Queues {
            events: Arc::new(LongRetries(events.clone())),
            dead_letters: s.queues().dead_letters.clone(),
        };
        let state = Webhooks::new(s.services().clone(), queues, fast()).expect("the client builds");
        Self { s, state, events }
    }

    /// One invocation over what the queue holds now, as the event source runs it (what settles
    /// is deleted; the rest comes back after the visibility the handler set). How many it took.
    async fn step(&self) -> usize {
        let batch = self
            .events
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        let n = batch.len();
        if n > 0 {
            event_source::deliver(&self.state, batch).await;
        }
        n
    }

    /// Invocations until the queue holds nothing visible.
    async fn settle(&self) {
        while self.step().await > 0 {}
    }

    /// An account: (id, owner's API key).
    async fn account(&self) -> (AccountId, String) {
        let (id, _, key) = self.s.create_account("Acme", "owner@acme.test").await;
        (AccountId::parse(&id).unwrap(), key)
    }

    /// `PUT /api/callback` to `r`, trusted by it.
    async fn callback(&self, key: &str, r: &Receiver, events: &[&str]) {
        let (status, cb) = self
            .s
            .api(
                "PUT",
                "/api/callback",
                Some(key),
                Some(json!({"url": r.url, "events": events})),
            )
            .await;
        assert_eq!(status, 200, "{cb}");
        r.trust(&keygate_core::kernel::crypto::Secret::new(
            cb["signingSecret"].as_str().unwrap(),
        ));
    }

    /// `POST /_local/events`, as a producer.
    async fn publish(&self, account: &AccountId, id: &str, name: &str) -> Value {
        let m = message(account, id, name);
        let (status, v) = self
            .s
            .call(self.s.http.post(self.s.url("/_local/events")).json(&m))
            .await;
        assert_eq!(status, 202, "{v}");
        m
    }

    async fn messages(&self, key: &str, query: &str) -> Value {
        let (status, v) = self
            .s
            .api(
                "GET",
                &format!("/api/callback/messages{query}"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

/// The ids a receiver acknowledged (answered 2xx to), in order.
fn acknowledged(hits: &[Hit], statuses: &[u16]) -> Vec<String> {
    hits.iter()
        .zip(statuses)
        .filter(|(_, s)| (200..300).contains(*s))
        .map(|(h, _)| h.header("webhook-id").unwrap().to_owned())
        .collect()
}

fn ids(v: &Value) -> Vec<&str> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect()
}

/// An earlier time than any message of the tests (they are all created 2026-11-26T10:00:00Z).
const SINCE: &str = "2026-11-26T00:00:00Z";

// ------------------------------------------------------------------------------- scenarios

/// A receiver down while events are sent; recover then delivers exactly what it missed, oldest
/// first, each with its own `webhook-id`, and nothing it had acknowledged.
async fn recover_after_an_outage(backend: Backend) {
    let d = Driven::start(backend).await;
    let (acc, key) = d.account().await;
    let r = Receiver::start(200).await;
    d.callback(&key, &r, &["PACKAGE_CREATE"]).await;
    let mut statuses = Vec::new();
    d.publish(&acc, "evt_a0", "PACKAGE_CREATE").await;
    d.settle().await;
    statuses.push(200);
    r.set_status(503);
    for id in ["evt_a1", "evt_a2", "evt_a3"] {
        d.publish(&acc, id, "PACKAGE_CREATE").await;
    }
    d.settle().await;
    statuses.extend([503, 503, 503]);
    assert_eq!(r.count(), 4);

    // What the account sees: one delivered, three pending (a retry is due), primary named so.
    let pending = d.messages(&key, "?status=pending").await;
    assert_eq!(ids(&pending), ["evt_a3", "evt_a2", "evt_a1"], "{pending}");
    let e = &pending["messages"][0]["endpoints"][0];
    assert_eq!(e["endpointId"], "primary");
    assert_eq!(e["status"], "pending");
    assert_eq!(e["attempts"], 1);
    assert!(e["lastAttemptAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        pending["messages"][0]["createdDate"],
        "2026-11-26T10:00:00Z"
    );
    assert_eq!(
        ids(&d.messages(&key, "?status=delivered").await),
        ["evt_a0"]
    );

    // Back up: recover since before the outage.
    r.set_status(200);
    let (status, v) =
        d.s.api(
            "POST",
            "/api/callback/recover",
            Some(&key),
            Some(json!({"since": SINCE, "endpointId": "primary"})),
        )
        .await;
    assert_eq!((status, v["messages"].as_u64()), (202, Some(3)), "{v}");
    d.settle().await;
    statuses.extend([200, 200, 200]);
    let hits = r.hits();
    assert_eq!(hits.len(), 7);
    hits.iter().for_each(Hit::assert_verified);
    assert_eq!(
        acknowledged(&hits, &statuses),
        ["evt_a0", "evt_a1", "evt_a2", "evt_a3"],
        "exactly the missed ones, oldest first, nothing acknowledged twice"
    );
    for h in &hits[4..] {
        assert_eq!(h.header("webhook-id"), h.json()["id"].as_str());
    }
    let all = d.messages(&key, "?status=delivered").await;
    assert_eq!(ids(&all), ["evt_a3", "evt_a2", "evt_a1", "evt_a0"]);
    assert_eq!(all["messages"][0]["endpoints"][0]["attempts"], 2);
    assert_eq!(all["next"], Value::Null);
    // Nothing is left to recover; a page at a time, newest first.
    let (status, v) =
        d.s.api(
            "POST",
            "/api/callback/recover",
            Some(&key),
            Some(json!({"since": SINCE, "endpointId": "primary"})),
        )
        .await;
    assert_eq!((status, v["messages"].as_u64()), (202, Some(0)), "{v}");
    let page = d.messages(&key, "?limit=3").await;
    assert_eq!(ids(&page), ["evt_a3", "evt_a2", "evt_a1"]);
    let next = page["next"].as_str().expect("a cursor");
    let rest = d.messages(&key, &format!("?limit=3&cursor={next}")).await;
    assert_eq!(ids(&rest), ["evt_a0"]);
    assert_eq!(r.count(), 7, "nothing more");
}

/// A resend is one new delivery with the same `webhook-id`, recorded as an attempt; bad input is
/// a clear 4xx.
async fn resend_keeps_the_webhook_id(backend: Backend) {
    let d = Driven::start(backend).await;
    let (acc, key) = d.account().await;
    let r = Receiver::start(200).await;
    d.callback(&key, &r, &["DOCUMENT_SIGNED"]).await;
    let sent = d.publish(&acc, "evt_r1", "DOCUMENT_SIGNED").await;
    d.settle().await;
    let k = Some(key.as_str());
    let (status, v) =
        d.s.api(
            "POST",
            "/api/callback/messages/evt_r1/resend",
            k,
            Some(json!({"endpointId": "primary"})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    assert!(v["resendId"].as_str().unwrap().starts_with("rs_"));
    d.settle().await;
    let hits = r.hits();
    assert_eq!(hits.len(), 2, "delivered once, then resent once");
    for h in &hits {
        h.assert_verified();
        assert_eq!(h.header("webhook-id"), Some("evt_r1"));
        assert_eq!(h.json(), sent);
    }
    let (_, tries) =
        d.s.api("GET", "/api/callback/attempts?eventId=evt_r1", k, None)
            .await;
    assert_eq!(tries["count"], 2, "{tries}");
    assert_eq!(tries["results"][1]["attempt"], 2);
    assert!(tries["results"][1]["round"]
        .as_str()
        .unwrap()
        .starts_with("rs_"));

    for (path, body, want) in [
        (
            "/api/callback/messages/evt_nope/resend",
            json!({"endpointId": "primary"}),
            (404, "message_unknown"),
        ),
        (
            "/api/callback/messages/evt_r1/resend",
            json!({"endpointId": "ep_aaaaaaaaaaaaaaaa"}),
            (404, "endpoint_unknown"),
        ),
        (
            "/api/callback/messages/evt_r1/resend",
            json!({"endpointId": "nope"}),
            (404, "endpoint_unknown"),
        ),
        ("/api/callback/messages/evt_r1/resend", json!({}), (400, "")),
        (
            "/api/callback/recover",
            json!({"endpointId": "primary"}),
            (400, ""),
        ),
        (
            "/api/callback/recover",
            json!({"since": "yesterday", "endpointId": "primary"}),
            (400, "time_invalid"),
        ),
        (
            "/api/callback/recover",
            json!({"since": SINCE, "until": "2026-11-25T00:00:00Z", "endpointId": "primary"}),
            (400, "window_invalid"),
        ),
    ] {
        let (status, v) = d.s.api("POST", path, k, Some(body)).await;
        assert_eq!(status, want.0, "{path}: {v}");
        if !want.1.is_empty() {
            assert_eq!(v["reason"], want.1, "{path}: {v}");
        }
    }
    for (query, reason) in [
        ("?limit=0", "limit_invalid"),
        ("?limit=101", "limit_invalid"),
        ("?status=lost", "status_invalid"),
        ("?since=yesterday", "time_invalid"),
        ("?eventType=NOPE", "event_unknown"),
        ("?cursor=not-a-cursor", "cursor_invalid"),
    ] {
        let (status, v) =
            d.s.api("GET", &format!("/api/callback/messages{query}"), k, None)
                .await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (400, Some(reason)),
            "{query}: {v}"
        );
    }
    let (status, _) = d.s.api("GET", "/api/callback/messages", None, None).await;
    assert_eq!(status, 401);
    let filtered = d
        .messages(
            &key,
            "?eventType=DOCUMENT_SIGNED&since=2026-11-26T10:00:00Z&until=2026-11-26T10:00:00Z",
        )
        .await;
    assert_eq!(ids(&filtered), ["evt_r1"]);
    // An offset's `+` sent unencoded arrives as a space: read as meant.
    let offset = d
        .messages(
            &key,
            "?since=2026-11-26T11:00:00+01:00&until=2026-11-26T11:00:00%2B01:00",
        )
        .await;
    assert_eq!(ids(&offset), ["evt_r1"]);
    assert!(ids(&d.messages(&key, "?eventType=PACKAGE_CREATE").await).is_empty());
}

/// 410 disables the endpoint, and the endpoint that subscribes to operational events hears it
/// (never the one it is about); recover enables it again, delivers what it missed, and that is
/// heard too.
async fn gone_disables_and_recover_enables_again(backend: Backend) {
    let d = Driven::start(backend).await;
    let (acc, key) = d.account().await;
    let k = Some(key.as_str());
    let (gone, ops) = (Receiver::start(410).await, Receiver::start(200).await);
    d.callback(
        &key,
        &gone,
        &[
            "PACKAGE_CREATE",
            "CALLBACK_ENDPOINT_DISABLED",
            "CALLBACK_ENDPOINT_RECOVERED",
        ],
    )
    .await;
    let (status, ep) = d
        .s
        .api(
            "POST",
            "/api/callback/endpoints",
            k,
            Some(json!({"url": ops.url, "events": ["CALLBACK_ENDPOINT_DISABLED", "CALLBACK_ENDPOINT_RECOVERED", "CALLBACK_DELIVERY_EXHAUSTED"]})),
        )
        .await;
    assert_eq!(status, 201, "{ep}");
    ops.trust(&keygate_core::kernel::crypto::Secret::new(
        ep["signingSecret"].as_str().unwrap(),
    ));
    d.publish(&acc, "evt_g1", "PACKAGE_CREATE").await;
    d.settle().await;
    assert_eq!(gone.count(), 1);
    let (_, cb) = d.s.api("GET", "/api/callback", k, None).await;
    assert!(
        cb["disabled"]["reason"].as_str().unwrap().contains("410"),
        "{cb}"
    );
    let heard = ops.hits();
    assert_eq!(heard.len(), 1, "the operational endpoint hears it");
    heard[0].assert_verified();
    let op = heard[0].json();
    assert_eq!(op["name"], "CALLBACK_ENDPOINT_DISABLED");
    assert_eq!(op["endpointId"], "primary");
    assert!(op["reason"].as_str().unwrap().contains("410"), "{op}");
    assert_eq!(op["accountId"], acc.to_string());
    let failed = d.messages(&key, "?status=failed").await;
    assert_eq!(ids(&failed), ["evt_g1"], "{failed}");
    assert_eq!(failed["messages"][0]["endpoints"][0]["status"], "failed");

    // The receiver is back: recover enables it, and delivers what it missed (not the
    // operational event about itself).
    gone.set_status(200);
    let (status, v) =
        d.s.api(
            "POST",
            "/api/callback/recover",
            k,
            Some(json!({"since": SINCE, "endpointId": "primary"})),
        )
        .await;
    assert_eq!((status, v["messages"].as_u64()), (202, Some(1)), "{v}");
    let (_, cb) = d.s.api("GET", "/api/callback", k, None).await;
    assert!(cb.get("disabled").is_none(), "{cb}");
    d.settle().await;
    let back = gone.hits();
    assert_eq!(back.len(), 2, "only the missed event");
    assert_eq!(back[1].header("webhook-id"), Some("evt_g1"));
    back[1].assert_verified();
    let heard = ops.hits();
    assert_eq!(heard.len(), 2);
    assert_eq!(heard[1].json()["name"], "CALLBACK_ENDPOINT_RECOVERED");
    assert_eq!(heard[1].json()["endpointId"], "primary");
    assert_eq!(ids(&d.messages(&key, "?status=failed").await).len(), 0);
    // The operational events are messages of the account too.
    let all = d
        .messages(&key, "?eventType=CALLBACK_ENDPOINT_DISABLED")
        .await;
    assert_eq!(all["messages"].as_array().unwrap().len(), 1);
}

/// Another account's messages are never visible, resendable or recoverable.
async fn another_accounts_messages_are_never_visible(backend: Backend) {
    let d = Driven::start(backend).await;
    let (acc, key) = d.account().await;
    let r = Receiver::start(200).await;
    let (status, ep) =
        d.s.api(
            "POST",
            "/api/callback/endpoints",
            Some(&key),
            Some(json!({"url": r.url, "events": ["PACKAGE_CREATE"]})),
        )
        .await;
    assert_eq!(status, 201, "{ep}");
    d.publish(&acc, "evt_mine", "PACKAGE_CREATE").await;
    d.settle().await;
    assert_eq!(ids(&d.messages(&key, "").await), ["evt_mine"]);
    let (_, other) = d.account().await;
    let o = Some(other.as_str());
    assert!(ids(&d.messages(&other, "").await).is_empty());
    let (status, v) =
        d.s.api(
            "POST",
            "/api/callback/messages/evt_mine/resend",
            o,
            Some(json!({"endpointId": ep["id"]})),
        )
        .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (404, Some("message_unknown")),
        "{v}"
    );
    let (status, v) =
        d.s.api(
            "POST",
            "/api/callback/recover",
            o,
            Some(json!({"since": SINCE, "endpointId": ep["id"]})),
        )
        .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (404, Some("endpoint_unknown")),
        "{v}"
    );
    assert_eq!(r.count(), 1);
}

/// `rateLimit: 2` spreads a burst of 10 over at least 4 seconds (the clock's), nothing lost,
/// nothing failed, no attempt spent waiting: each message comes back when its turn comes (the
/// visibility the handler set), and the test moves the clock to that moment.
async fn a_rate_limit_spreads_a_burst(backend: Backend) {
    let rig = Rig::new(backend, fast()).await;
    let acc = rig.account().await;
    let r = Receiver::start(200).await;
    let s = rig.services();
    let ring = s.keys.ring().await;
    let (mut ep, secret) = Endpoint::new(
        ring.peppers(),
        acc.clone(),
        false,
        r.url.clone(),
        None,
        vec!["PACKAGE_CREATE".into()],
        s.now(),
    );
    ep.rate_limit = Some(2);
    endpoints::save(&*s.table, &ep, None).await.unwrap();
    r.trust(&secret);
    for i in 0..10 {
        rig.publish(&acc, &format!("evt_burst_{i}"), "PACKAGE_CREATE")
            .await;
    }
    let batch = rig.receive(10).await;
    let start = rig.clock.now_for_tests();
    // (message, receive count, due at) of what is still to go.
    let mut due: Vec<(Received, u32, i64)> = batch.into_iter().map(|m| (m, 1, start)).collect();
    let mut rounds = 0;
    while !due.is_empty() {
        rounds += 1;
        assert!(rounds < 20, "the burst never drained");
        let now = due.iter().map(|d| d.2).min().unwrap();
        rig.clock.set(now);
        let (ready, later): (Vec<_>, Vec<_>) = due.into_iter().partition(|d| d.2 == now);
        due = later;
        for (m, count, _) in ready {
            let resp = rig.run_as(&m, count).await;
            if failed_ids(&resp).is_empty() {
                rig.forget(&m).await;
            } else {
                let wait = *rig.visibility_of(&m).last().expect("a visibility");
                assert!((1..=5).contains(&wait), "{wait}");
                due.push((m, count + 1, now + i64::from(wait)));
            }
        }
    }
    let hits = r.hits();
    assert_eq!(hits.len(), 10, "nothing lost, nothing twice");
    let mut per_second: HashMap<i64, usize> = HashMap::new();
    for h in &hits {
        h.assert_verified();
        let at: i64 = h.header("webhook-timestamp").unwrap().parse().unwrap();
        *per_second.entry(at).or_default() += 1;
    }
    assert!(per_second.values().all(|n| *n <= 2), "{per_second:?}");
    let spread = per_second.keys().max().unwrap() - per_second.keys().min().unwrap();
    assert!(
        spread >= 4,
        "a burst of 10 at 2/s takes at least 4 s: {per_second:?}"
    );
    let mut seen: Vec<String> = hits
        .iter()
        .map(|h| h.json()["id"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 10);
    for i in 0..10 {
        let tries = rig.attempts(&acc, &format!("evt_burst_{i}")).await;
        assert_eq!(tries.len(), 1, "waiting is no attempt");
        assert_eq!(
            (tries[0].attempt, tries[0].status),
            (1, AttemptStatus::Succeeded)
        );
    }
}

/// The dead-letter queue's redrive delivers nothing twice: a message that exhausted its retries
/// at one endpoint goes back to that endpoint only; the endpoint that took it is never sent it
/// again, not even by a copy of the whole message.
async fn redrive_delivers_nothing_twice(backend: Backend) {
    let rig = Rig::new(
        backend,
        Settings {
            max_receives: 2,
            ..fast()
        },
    )
    .await;
    let acc = rig.account().await;
    let (ok, down) = (Receiver::start(200).await, Receiver::start(500).await);
    rig.endpoint(&acc, &ok, None, &["PACKAGE_CREATE"]).await;
    let ed = rig.endpoint(&acc, &down, None, &["PACKAGE_CREATE"]).await;
    let sent = rig.publish(&acc, "evt_dlq", "PACKAGE_CREATE").await;
    let m = rig.receive(1).await.remove(0);
    assert_eq!(
        failed_ids(&rig.run(std::slice::from_ref(&m)).await).len(),
        1
    );
    // Its second failed try is its last (max_receives 2): dead-lettered for that endpoint.
    assert!(rig.run_as(&m, 2).await.batch_item_failures.is_empty());
    rig.forget(&m).await;
    assert_eq!((ok.count(), down.count()), (1, 2));
    let exhausted = rig.receive_all(1).await.remove(0);
    let op: Value = serde_json::from_str(&exhausted.body).unwrap();
    assert_eq!(op["name"], "CALLBACK_DELIVERY_EXHAUSTED");
    assert_eq!(op["messageId"], "evt_dlq");
    assert_eq!(op["endpointId"], ed.id.as_str());
    rig.forget(&exhausted).await;
    // The backstop: SQS's own redrive would move the whole message, without the endpoint.
    rig.queues()
        .dead_letters
        .send(&sent.to_string(), &[("reason", event_source::EXHAUSTED)])
        .await
        .unwrap();

    // The endpoint is fixed; the operator redrives (`keygate-admin redrive`: SQS's message move
    // task, or message by message where it has none — as here, on either backend).
    down.set_status(200);
    let moved =
        keygate_core::ports::queue::move_all(&*rig.queues().dead_letters, &*rig.queues().events)
            .await
            .unwrap();
    assert_eq!(moved, 2);
    let back = rig.receive(2).await;
    assert!(back
        .iter()
        .any(|b| b.attributes.get("keygate-endpoint").map(String::as_str) == Some(ed.id.as_str())));
    // One after the other (together, one would find the other's delivery in flight and wait).
    for b in &back {
        let resp = rig.run(std::slice::from_ref(b)).await;
        assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
        rig.forget(b).await;
    }
    assert_eq!(
        (ok.count(), down.count()),
        (1, 3),
        "the failed endpoint gets it once; the one that took it, never again"
    );
    down.hits()[2].assert_verified();
    assert_eq!(down.hits()[2].header("webhook-id"), Some("evt_dlq"));
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
    recover_after_an_outage => 60,
    resend_keeps_the_webhook_id => 60,
    gone_disables_and_recover_enables_again => 60,
    another_accounts_messages_are_never_visible => 60,
    a_rate_limit_spreads_a_burst => 60,
    redrive_delivers_nothing_twice => 60,
}

/// A window with more than 10,000 missed messages is refused with their count (in memory: ten
/// thousand retained messages are written straight to the table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_of_more_than_ten_thousand_is_refused_with_the_count() {
    let d = Driven::start(Backend::Memory).await;
    let (acc, key) = d.account().await;
    let r = Receiver::start(200).await;
    d.callback(&key, &r, &["PACKAGE_CREATE"]).await;
    let table = &*d.s.services().table;
    let now = d.s.clock.now_for_tests();
    for i in 0..10_001 {
        let event: keygate_core::notify::events::EventMessage =
            serde_json::from_value(message(&acc, &format!("evt_many_{i:05}"), "PACKAGE_CREATE"))
                .unwrap();
        keygate_core::notify::messages::retain(table, &event, &[], now, 30)
            .await
            .unwrap();
    }
    let (status, v) =
        d.s.api(
            "POST",
            "/api/callback/recover",
            Some(&key),
            Some(json!({"since": SINCE, "endpointId": "primary"})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["reason"], "recover_too_many");
    assert_eq!(v["count"], 10_001);
    assert_eq!(v["countIsExact"], true);
    assert_eq!(v["code"], 400);
    // A narrower window is accepted (every message here has the same createdDate: none).
    let (status, v) =
        d.s.api(
            "POST",
            "/api/callback/recover",
            Some(&key),
            Some(json!({"since": "2026-11-27T00:00:00Z", "endpointId": "primary"})),
        )
        .await;
    assert_eq!((status, v["messages"].as_u64()), (202, Some(0)), "{v}");
    assert_eq!(r.count(), 0);
}
