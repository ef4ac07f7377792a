//! Faults: an outage of a backing service is an answer, not a hang (docs/ERRORS.md). The
//! local stack's DynamoDB Local or moto is paused (`SIGSTOP`) while requests run, then resumed
//! (`SIGCONT`); a watchdog resumes it after a bounded time whatever happens to the test. Every
//! answer during the outage is a `503` with `Retry-After` (within the SDK's operation timeout),
//! keygate recovers by itself after the resume, and nothing is half-written, lost or sent twice.
//!
//! The tests of this file pause shared services, so they run one at a time (`SERIAL`), and the
//! file is a test binary of its own (cargo runs test binaries one after the other).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use keygate_aws::testing::Stack;
use keygate_core::clients::{self, ClientKind};
use keygate_core::kernel::ids::AccountId;
use keygate_e2e::{Backend, Server};
use serde_json::{json, Value};
use tokio::sync::mpsc;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The longest a service stays paused, whatever the test does.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// How long one request may take during an outage: the SDK's operation timeout (3.5 s) plus
/// margin. A request that hangs longer fails the test.
const ANSWER_WITHIN: Duration = Duration::from_secs(8);

/// A paused stack service; resumed on `resume()`, on drop, or by the watchdog after
/// [`MAX_PAUSE`].
struct Paused {
    pid: u32,
    resumed: bool,
}

fn signal(sig: &str, pid: u32) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

impl Paused {
    fn stop(service: &str) -> Self {
        let pid = Stack::get().pid(service);
        signal("-STOP", pid);
        // The watchdog: a bound on the outage, not a synchronisation.
        std::thread::spawn(move || {
            std::thread::sleep(MAX_PAUSE);
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        });
        Self {
            pid,
            resumed: false,
        }
    }

    fn resume(&mut self) {
        if !self.resumed {
            signal("-CONT", self.pid);
            self.resumed = true;
        }
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        self.resume();
    }
}

/// Status, `Retry-After` and body of a request, which must be answered within
/// [`ANSWER_WITHIN`].
async fn answer(req: reqwest::RequestBuilder) -> (u16, Option<String>, Value) {
    let resp = tokio::time::timeout(ANSWER_WITHIN, req.send())
        .await
        .expect("answered within the bound, not hung")
        .expect("the request reaches the server");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        retry,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_dynamodb_outage_is_answered_503_and_keygate_recovers() {
    let _serial = SERIAL.lock().await;
    let s = Server::start(Backend::Stack).await;
    let (account, _, key) = s.create_account("Acme", "owner@acme.test").await;
    let (_, app) = s
        .api(
            "POST",
            "/api/clientApps",
            Some(&key),
            Some(json!({"name": "CRM"})),
        )
        .await;
    let (id, secret) = (
        app["clientId"].as_str().unwrap().to_owned(),
        app["secret"].as_str().unwrap().to_owned(),
    );
    let basic = format!("Basic {key}");
    let requests = || {
        [
            s.http
                .get(s.url("/api/whoami"))
                .header("authorization", &basic),
            s.http
                .post(s.url("/api/clientApps"))
                .header("authorization", &basic)
                .json(&json!({"name": "during the outage"})),
            s.http
                .post(s.url("/apitoken/clientApp/accessToken"))
                .json(&json!({"clientId": id, "secret": secret, "type": "OWNER"})),
            s.http
                .post(s.url("/api/authenticationTokens/user"))
                .header("authorization", &basic),
            s.http
                .get(s.url("/api/clientApps"))
                .header("authorization", &basic),
        ]
    };

    let mut paused = Paused::stop("dynamodb");
    let [a, b, c, d, e] = requests();
    let answers = tokio::join!(answer(a), answer(b), answer(c), answer(d), answer(e));
    paused.resume();
    for (i, (status, retry, body)) in [answers.0, answers.1, answers.2, answers.3, answers.4]
        .into_iter()
        .enumerate()
    {
        assert_eq!(status, 503, "request {i} during the outage: {body}");
        assert_eq!(retry.as_deref(), Some("2"), "request {i}: Retry-After");
        assert_eq!(
            body["reason"], "dynamodb_unavailable",
            "request {i}: {body}"
        );
    }

    // Recovery, with no restart: the same requests succeed.
    let [a, b, c, d, e] = requests();
    let answers = tokio::join!(answer(a), answer(b), answer(c), answer(d), answer(e));
    let statuses = [
        answers.0 .0,
        answers.1 .0,
        answers.2 .0,
        answers.3 .0,
        answers.4 .0,
    ];
    assert_eq!(statuses, [200, 201, 200, 200, 200], "after the resume");

    // A consistent table: a create the outage interrupted landed whole or not at all, so the
    // per-kind counter and the list agree.
    let account = AccountId::parse(&account).unwrap();
    let table = &*s.services().table;
    let listed = clients::list(table, &account, ClientKind::App)
        .await
        .unwrap();
    let counted = clients::count(table, &account, ClientKind::App)
        .await
        .unwrap();
    assert_eq!(listed.len(), counted);
    assert!((2..=3).contains(&counted), "{counted} apps");
}

/// A receiver that records each delivery by event id, and pauses moto when it gets the first one
/// (before answering `200`), so the delivery's SQS delete is what the outage breaks.
struct Receiver {
    url: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    first: Mutex<Option<mpsc::UnboundedReceiver<()>>>,
}

#[derive(Clone)]
struct Hook {
    hits: Arc<Mutex<HashMap<String, usize>>>,
    tx: mpsc::UnboundedSender<()>,
}

async fn hook(State(h): State<Hook>, _: HeaderMap, body: Bytes) -> &'static str {
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = event["id"].as_str().unwrap_or("?").to_owned();
    let n = {
        let mut hits = h.hits.lock().unwrap();
        let n = hits.entry(id).or_insert(0);
        *n += 1;
        hits.values().sum::<usize>()
    };
    if n == 1 {
        let _ = h.tx.send(());
    }
    "ok"
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let (tx, rx) = mpsc::unbounded_channel();
        let app = axum::Router::new()
            .route("/hook", post(hook))
            .with_state(Hook {
                hits: hits.clone(),
                tx,
            });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            hits,
            first: Mutex::new(Some(rx)),
        }
    }

    fn counts(&self) -> HashMap<String, usize> {
        self.hits.lock().unwrap().clone()
    }
}

/// A queue of the stack with a short visibility timeout, so a message whose delete the outage
/// broke comes back within seconds.
async fn short_visibility_queue() -> String {
    let sqs = Stack::get().sqs().await;
    let name = format!(
        "kg-fault-{}",
        keygate_core::kernel::ids::AccountId::generate()
    );
    sqs.create_queue()
        .queue_name(name)
        .attributes(aws_sdk_sqs_attr("VisibilityTimeout"), "3")
        .send()
        .await
        .expect("moto creates a queue")
        .queue_url()
        .expect("url")
        .to_owned()
}

fn aws_sdk_sqs_attr(name: &str) -> aws_sdk_sqs::types::QueueAttributeName {
    aws_sdk_sqs::types::QueueAttributeName::from(name)
}

/// Messages still in the queue, visible or in flight.
async fn left_in(url: &str) -> usize {
    let out = Stack::get()
        .sqs()
        .await
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs_attr("ApproximateNumberOfMessages"))
        .attribute_names(aws_sdk_sqs_attr("ApproximateNumberOfMessagesNotVisible"))
        .send()
        .await
        .expect("attributes");
    out.attributes()
        .map(|a| a.values().filter_map(|v| v.parse::<usize>().ok()).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn an_sqs_outage_under_webhooks_loses_nothing_and_sends_nothing_twice() {
    let _serial = SERIAL.lock().await;
    let url = short_visibility_queue().await;
    let sqs = Stack::get().sqs().await;
    let queue_url = url.clone();
    let s = Server::start_with(Backend::Stack, move |_, queues| {
        queues.events = Arc::new(keygate_aws::SqsQueue::new(sqs, queue_url));
    })
    .await;
    let receiver = Receiver::start().await;
    let (account, _, key) = s.create_account("Acme", "owner@acme.test").await;
    let (status, v) = s
        .api(
            "PUT",
            "/api/callback",
            Some(&key),
            Some(json!({"url": receiver.url, "events": ["PACKAGE_CREATE"]})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let ids: Vec<String> = (0..5).map(|i| format!("evt_fault_{i}_{account}")).collect();
    for id in &ids {
        let (status, v) = s
            .api(
                "POST",
                "/_local/events",
                None,
                Some(json!({
                    "id": id, "accountId": account, "name": "PACKAGE_CREATE",
                    "packageId": "pkg_1", "documentId": null, "sessionUser": null,
                    "message": null, "createdDate": "2026-12-01T10:00:00Z"
                })),
            )
            .await;
        assert_eq!(status, 202, "{v}");
    }

    // moto goes down as the first delivery arrives: its delete, the next receives and a
    // producer's enqueue all meet the outage.
    let mut first = receiver.first.lock().unwrap().take().unwrap();
    tokio::time::timeout(Duration::from_secs(30), first.recv())
        .await
        .expect("a first delivery");
    let mut paused = Paused::stop("moto");
    let during = json!({"id": "evt_during", "accountId": account, "name": "PACKAGE_CREATE"});
    let (status, retry, body) = answer(s.http.post(s.url("/_local/events")).json(&during)).await;
    assert_eq!((status, retry.as_deref()), (503, Some("2")), "{body}");
    assert_eq!(body["reason"], "sqs_unavailable");
    // The outage lasts past the delete's operation timeout (a length of fault, not a wait for
    // an event).
    tokio::time::sleep(Duration::from_secs(5)).await;
    paused.resume();
    // A 503 on a send is ambiguous (the request may have reached the queue before it stopped
    // answering), so the producer sends again, with the same id, as told: the event is then
    // delivered once whether the first send landed or not.
    let (status, v) = s
        .api("POST", "/_local/events", None, Some(during.clone()))
        .await;
    assert_eq!(status, 202, "{v}");
    let mut ids = ids;
    ids.push("evt_during".to_owned());

    // Every event arrives, and the queue drains (the message whose delete failed comes back
    // after its visibility timeout and is settled from the delivery ledger, not sent again).
    let drained = async {
        loop {
            let counts = receiver.counts();
            if ids.iter().all(|id| counts.contains_key(id)) && left_in(&url).await == 0 {
                return counts;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let counts = tokio::time::timeout(Duration::from_secs(60), drained)
        .await
        .expect("every event delivered and the queue drained after the outage");
    for id in &ids {
        assert_eq!(counts[id], 1, "{id} delivered exactly once: {counts:?}");
    }
    assert_eq!(counts.len(), ids.len(), "{counts:?}");
}
