//! The webhook test rig, shared by `webhooks.rs` and `messages.rs`: recording receivers on
//! loopback whose status a test flips (every signature verified with the `standardwebhooks`
//! crate, never keygate's code), and the handler's state on either backend with a clock the
//! test moves and a queue that records every visibility change.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::SqsBatchResponse;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use keygate_core::kernel::clock::{Clock, ManualClock};
use keygate_core::kernel::config::Config;
use keygate_core::kernel::crypto::Secret;
use keygate_core::kernel::ids::AccountId;
use keygate_core::notify::attempts::{self, Attempt};
use keygate_core::notify::endpoints::{self, Endpoint};
use keygate_core::ports::queue::{Queue, QueueError, Received};
use keygate_core::ports::services::Queues;
use keygate_core::ports::store::meter::KeyMeter;
use keygate_core::ports::store::{CachedTable, MemoryTable};
use keygate_core::Services;
use keygate_e2e::Backend;
use keygate_local::event_source;
use keygate_webhooks::{Settings, Webhooks};
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub(crate) const WAIT: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------------------- receivers

/// One request a receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Hit {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// `standardwebhooks`' verdict under each secret the receiver trusts, in order.
    pub(crate) verified: Vec<Result<(), String>>,
}

impl Hit {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
    pub(crate) fn assert_verified(&self) {
        assert!(!self.verified.is_empty(), "the receiver trusts no secret");
        for v in &self.verified {
            assert_eq!(v, &Ok(()), "standardwebhooks refused a signature");
        }
    }
}

pub(crate) struct Behaviour {
    status: AtomicU16,
    delay_ms: AtomicU64,
    headers: Mutex<Vec<(String, String)>>,
    trusted: Mutex<Vec<String>>,
    hits: Mutex<Vec<Hit>>,
    tx: mpsc::UnboundedSender<Hit>,
}

/// An HTTP receiver on `127.0.0.1:0` that records every request, answers with a status that a
/// test can flip, optionally slowly, with extra headers (`Location`, `Retry-After`).
pub(crate) struct Receiver {
    pub(crate) url: String,
    b: Arc<Behaviour>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Hit>>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) async fn hook(
    State(b): State<Arc<Behaviour>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The answer is fixed before the request is reported, so a test that flips the status after
    // seeing a request changes the answers to later requests only.
    let status = StatusCode::from_u16(b.status.load(Ordering::SeqCst)).unwrap();
    let delay = b.delay_ms.load(Ordering::SeqCst);
    let mut resp = (status, "{\"ok\":true}").into_response();
    for (k, v) in b.headers.lock().unwrap().iter() {
        resp.headers_mut().insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let trusted = b.trusted.lock().unwrap().clone();
    let verified = trusted
        .iter()
        .map(|s| {
            standardwebhooks::Webhook::new(s)
                .and_then(|w| w.verify(&body, &headers))
                .map_err(|e| e.to_string())
        })
        .collect();
    let hit = Hit {
        headers,
        body,
        verified,
    };
    b.hits.lock().unwrap().push(hit.clone());
    let _ = b.tx.send(hit);
    if delay > 0 {
        // A slow receiver (the sender's timeout is what is under test).
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    resp
}

impl Receiver {
    pub(crate) async fn start(status: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        let b = Arc::new(Behaviour {
            status: AtomicU16::new(status),
            delay_ms: AtomicU64::new(0),
            headers: Mutex::default(),
            trusted: Mutex::default(),
            hits: Mutex::default(),
            tx,
        });
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(b.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            b,
            rx: tokio::sync::Mutex::new(rx),
            task,
        }
    }
    pub(crate) fn set_status(&self, status: u16) {
        self.b.status.store(status, Ordering::SeqCst);
    }
    pub(crate) fn set_delay(&self, d: Duration) {
        self.b
            .delay_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }
    pub(crate) fn set_header(&self, name: &str, value: &str) {
        self.b
            .headers
            .lock()
            .unwrap()
            .push((name.into(), value.into()));
    }
    pub(crate) fn trust(&self, secret: &Secret) {
        self.b
            .trusted
            .lock()
            .unwrap()
            .push(secret.expose().to_owned());
    }
    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.b.hits.lock().unwrap().clone()
    }
    pub(crate) fn count(&self) -> usize {
        self.b.hits.lock().unwrap().len()
    }
    /// The next request, waiting for it at most [`WAIT`].
    pub(crate) async fn next(&self) -> Hit {
        tokio::time::timeout(WAIT, self.rx.lock().await.recv())
            .await
            .expect("the receiver got a request in time")
            .expect("channel open")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ------------------------------------------------------------------------------- the rig

/// The events queue, recording every visibility change the handler makes.
pub(crate) struct Recording {
    inner: Arc<dyn Queue>,
    visibility: Arc<Mutex<Vec<(String, u32)>>>,
}

#[async_trait::async_trait]
impl Queue for Recording {
    async fn send_delayed(
        &self,
        body: &str,
        attributes: &[(&str, &str)],
        delay: u32,
    ) -> Result<String, QueueError> {
        self.inner.send_delayed(body, attributes, delay).await
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        self.inner.receive(max, wait).await
    }
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt_handle).await
    }
    async fn change_visibility(&self, receipt: &str, seconds: u32) -> Result<(), QueueError> {
        self.visibility
            .lock()
            .unwrap()
            .push((receipt.to_owned(), seconds));
        self.inner.change_visibility(receipt, seconds).await
    }
}

/// The handler's state on one backend, with a clock the test moves and a recording queue.
pub(crate) struct Rig {
    pub(crate) state: Webhooks,
    pub(crate) clock: ManualClock,
    visibility: Arc<Mutex<Vec<(String, u32)>>>,
}

impl Rig {
    pub(crate) async fn new(backend: Backend, settings: Settings) -> Self {
        Self::with_mode(backend, settings, true).await
    }

    pub(crate) async fn with_mode(backend: Backend, settings: Settings, local_mode: bool) -> Self {
        let clock = ManualClock::starting_now();
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let mut config = Config::local("http://127.0.0.1:3000");
        config.local_mode = local_mode;
        let (services, mut queues) = match backend {
            Backend::Memory => (
                Services::in_memory(config, shared).await,
                Queues::in_memory(),
            ),
            Backend::Stack => {
                let stack = keygate_aws::testing::Stack::get();
                (stack.services(config, shared).await, stack.queues().await)
            }
        };
        let visibility = Arc::new(Mutex::new(Vec::new()));
        queues.events = Arc::new(Recording {
            inner: queues.events.clone(),
            visibility: visibility.clone(),
        });
        Self {
            state: Webhooks::new(services, queues, settings).expect("the client builds"),
            clock,
            visibility,
        }
    }

    /// In memory, the table metered under a read cache that outlives the test
    /// (docs/SCALE.md: what reaches DynamoDB, per key).
    pub(crate) async fn metered(settings: Settings) -> (Self, Arc<KeyMeter>) {
        let clock = ManualClock::starting_now();
        let config = Config::local("http://127.0.0.1:3000");
        let mut services = Services::in_memory(config, Arc::new(clock.clone())).await;
        let meter = Arc::new(KeyMeter::new(Arc::new(MemoryTable::new())));
        services.table = Arc::new(CachedTable::new(meter.clone(), Duration::from_secs(3600)));
        let rig = Self {
            state: Webhooks::new(services, Queues::in_memory(), settings)
                .expect("the client builds"),
            clock,
            visibility: Arc::new(Mutex::new(Vec::new())),
        };
        (rig, meter)
    }

    pub(crate) fn services(&self) -> &Services {
        &self.state.services
    }

    pub(crate) fn queues(&self) -> &Queues {
        &self.state.queues
    }

    pub(crate) async fn account(&self) -> AccountId {
        let s = self.services();
        let ring = s.keys.ring().await;
        let name = format!("Acme {}", AccountId::generate());
        keygate_core::accounts::create_account(
            &*s.table,
            ring.peppers(),
            &s.config,
            &name,
            "owner@acme.test",
            s.now(),
        )
        .await
        .expect("account")
        .account
        .id
    }

    /// An endpoint for `receiver`, trusted by it; `None` events = every event the tests send.
    pub(crate) async fn endpoint(
        &self,
        account: &AccountId,
        receiver: &Receiver,
        key: Option<&str>,
        events: &[&str],
    ) -> Endpoint {
        let (ep, secret) = self.endpoint_at(account, &receiver.url, key, events).await;
        receiver.trust(&secret);
        ep
    }

    pub(crate) async fn endpoint_at(
        &self,
        account: &AccountId,
        url: &str,
        key: Option<&str>,
        events: &[&str],
    ) -> (Endpoint, Secret) {
        let s = self.services();
        let ring = s.keys.ring().await;
        let (ep, secret) = Endpoint::new(
            ring.peppers(),
            account.clone(),
            false,
            url.to_owned(),
            key,
            events.iter().map(|e| (*e).to_owned()).collect(),
            s.now(),
        );
        endpoints::save(&*s.table, &ep, None).await.unwrap();
        (ep, secret)
    }

    pub(crate) async fn stored(&self, ep: &Endpoint) -> Endpoint {
        endpoints::get(&*self.services().table, &ep.account_id, &ep.id)
            .await
            .unwrap()
            .expect("the endpoint exists")
            .0
    }

    /// Puts an event on the queue as a producer would; returns the message JSON.
    pub(crate) async fn publish(&self, account: &AccountId, id: &str, name: &str) -> Value {
        let m = message(account, id, name);
        self.queues()
            .events
            .send(&m.to_string(), &[])
            .await
            .unwrap();
        m
    }

    /// Exactly `n` messages off the queue (fails the test if they do not come). The
    /// operational events the handler queued meanwhile (an endpoint disabled, a message
    /// exhausted) are taken off and left out: [`Rig::receive_all`] keeps them.
    pub(crate) async fn receive(&self, n: usize) -> Vec<Received> {
        self.receive_where(n, |m| !m.body.contains("\"name\":\"CALLBACK_"))
            .await
    }

    /// Exactly `n` messages off the queue, operational events included.
    pub(crate) async fn receive_all(&self, n: usize) -> Vec<Received> {
        self.receive_where(n, |_| true).await
    }

    pub(crate) async fn receive_where(
        &self,
        n: usize,
        keep: impl Fn(&Received) -> bool,
    ) -> Vec<Received> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT * 2;
        while got.len() < n {
            assert!(tokio::time::Instant::now() < deadline, "queue too slow");
            let batch = self
                .queues()
                .events
                .receive(n - got.len(), Duration::from_secs(1))
                .await
                .unwrap();
            for m in batch {
                if keep(&m) {
                    got.push(m);
                } else {
                    self.forget(&m).await;
                }
            }
        }
        got
    }

    /// One invocation of the handler, the messages as received (nothing deleted).
    pub(crate) async fn run(&self, batch: &[Received]) -> SqsBatchResponse {
        keygate_webhooks::handle_batch(&self.state, event_source::to_event(batch)).await
    }

    /// The same SQS record again, as SQS would redeliver it on its `count`-th receive.
    pub(crate) async fn run_as(&self, m: &Received, count: u32) -> SqsBatchResponse {
        let mut again = m.clone();
        again.receive_count = count;
        self.run(&[again]).await
    }

    /// Done with a message: off the queue, so a later `receive` cannot get it back.
    pub(crate) async fn forget(&self, m: &Received) {
        let _ = self.queues().events.delete(&m.receipt_handle).await;
    }

    pub(crate) fn visibility_of(&self, m: &Received) -> Vec<u32> {
        self.visibility
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| *r == m.receipt_handle)
            .map(|(_, s)| *s)
            .collect()
    }

    pub(crate) async fn attempts(&self, account: &AccountId, event_id: &str) -> Vec<Attempt> {
        attempts::list(&*self.services().table, account, event_id)
            .await
            .unwrap()
    }
}

pub(crate) fn message(account: &AccountId, id: &str, name: &str) -> Value {
    json!({
        "id": id, "accountId": account.to_string(), "name": name, "packageId": "pkg_1",
        "documentId": null, "sessionUser": "usr_signer", "message": null,
        "createdDate": "2026-11-26T10:00:00Z"
    })
}

pub(crate) fn failed_ids(resp: &SqsBatchResponse) -> Vec<&str> {
    resp.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

pub(crate) fn fast() -> Settings {
    Settings {
        timeout: Duration::from_secs(2),
        ..Settings::default()
    }
}

pub(crate) async fn within<F: std::future::Future<Output = ()>>(secs: u64, f: F) {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("the scenario finished in time");
}
