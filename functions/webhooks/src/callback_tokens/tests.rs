//! The token cache alone, and in the batch handler with real servers on loopback: one token
//! request for concurrent deliveries, a waiter's own deadline, and a token server that never
//! answers holding neither the batch nor another account's delivery. No test sleeps: each waits
//! for an event (a count reached, a connection closed), and the deadlines are short settings.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use keygate_core::kernel::clock::ManualClock;
use keygate_core::kernel::config::Config;
use keygate_core::kernel::ids::AccountId;
use keygate_core::notify::attempts::{self, AttemptStatus, ErrorClass};
use keygate_core::notify::endpoints::{self, AuthChange, Endpoint};
use keygate_core::ports::services::Queues;
use keygate_core::Services;
use tokio::sync::watch;

use super::*;
use crate::{handle_batch, Settings, Webhooks};

#[test]
fn tokens_are_used_until_shortly_before_they_expire() {
    assert_eq!(usable_until(1000, Some(3600)), 1000 + 3600 - 30);
    assert_eq!(usable_until(1000, Some(60)), 1000 + 60 - 6);
    assert_eq!(usable_until(1000, None), 1000 + 300 - 30);
    assert_eq!(usable_until(1000, Some(0)), 1000 + 300 - 30);
    assert_eq!(usable_until(1000, Some(10 * 86_400)), 1000 + 86_400 - 30);
}

const START: i64 = 1_800_000_000;

/// A token server that accepts connections and never answers.
struct Hung {
    url: String,
    accepted: AtomicUsize,
    /// How many of its connections the client has closed.
    closed: watch::Sender<usize>,
}

async fn hung_token_server() -> Arc<Hung> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung = Arc::new(Hung {
        url: format!("http://{}/token", listener.local_addr().unwrap()),
        accepted: AtomicUsize::new(0),
        closed: watch::Sender::new(0),
    });
    let h = hung.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            h.accepted.fetch_add(1, Ordering::SeqCst);
            let h = h.clone();
            tokio::spawn(async move {
                // Reads the request and whatever follows, answers nothing, until the client
                // hangs up.
                let mut buf = [0u8; 1024];
                while conn.readable().await.is_ok() {
                    match conn.try_read(&mut buf) {
                        Ok(0) => break,
                        Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => break,
                        _ => {}
                    }
                }
                h.closed.send_modify(|n| *n += 1);
            });
        }
    });
    hung
}

/// The integrator: a token server that answers once `gate` deliveries wait for it, and a
/// receiver that records each delivery.
struct Integrator {
    tokens: Arc<Tokens>,
    /// The token server answers when this many deliveries wait for a token.
    gate: AtomicUsize,
    /// The token server's answer: a token, or this status.
    failing: Mutex<Option<u16>>,
    token_requests: AtomicUsize,
    /// Each delivery: (webhook-id, Authorization, how many connections the hung token server
    /// had seen closed when it arrived).
    deliveries: Mutex<Vec<(String, String, usize)>>,
    hung: Option<Arc<Hung>>,
}

async fn token_answer(State(i): State<Arc<Integrator>>) -> Response {
    let n = i.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    let gate = i.gate.load(Ordering::SeqCst);
    // Not a sleep: the answer waits for the deliveries to be waiting.
    let _ = i.tokens.waiting().wait_for(|w| *w >= gate).await;
    let failing = *i.failing.lock().unwrap();
    match failing {
        Some(status) => (StatusCode::from_u16(status).unwrap(), "down").into_response(),
        None => Json(serde_json::json!({
            "access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": 120
        }))
        .into_response(),
    }
}

async fn hook(State(i): State<Arc<Integrator>>, headers: HeaderMap) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let closed = i.hung.as_ref().map_or(0, |h| *h.closed.borrow());
    i.deliveries
        .lock()
        .unwrap()
        .push((header("webhook-id"), header("authorization"), closed));
    StatusCode::NO_CONTENT
}

/// The integrator's servers on one loopback port: its base URL.
async fn integrator(i: &Arc<Integrator>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/token", post(token_answer))
        .route("/hook", post(hook))
        .with_state(i.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

fn new_integrator(tokens: &Arc<Tokens>, hung: Option<Arc<Hung>>) -> Arc<Integrator> {
    Arc::new(Integrator {
        tokens: tokens.clone(),
        gate: AtomicUsize::new(1),
        failing: Mutex::new(None),
        token_requests: AtomicUsize::new(0),
        deliveries: Mutex::default(),
        hung,
    })
}

async fn handler(settings: Settings) -> (Webhooks, ManualClock) {
    let clock = ManualClock::new(START);
    let services = Services::in_memory(
        Config::local("http://127.0.0.1:3000"),
        Arc::new(clock.clone()),
    )
    .await;
    let state = Webhooks::new(services, Queues::in_memory(), settings).unwrap();
    (state, clock)
}

/// A new account with one endpoint at `url` for `PACKAGE_CREATE`, authenticated with OAuth 2.0
/// at `token_url` when given.
async fn account_with_endpoint(s: &Webhooks, url: String, token_url: Option<&str>) -> AccountId {
    let services = &s.services;
    let ring = services.keys.ring().await;
    let account = keygate_core::accounts::create_account(
        &*services.table,
        ring.peppers(),
        &services.config,
        "Acme",
        "o@acme.test",
        services.now(),
    )
    .await
    .unwrap()
    .account
    .id;
    let (mut ep, _) = Endpoint::new(
        ring.peppers(),
        account.clone(),
        true,
        url,
        None,
        vec!["PACKAGE_CREATE".into()],
        services.now(),
    );
    if let Some(token_url) = token_url {
        ep.authenticate_with(
            ring.peppers(),
            AuthChange::OAuth2 {
                client_id: "keygate".into(),
                client_secret: Some("s3cret".into()),
                authorization_server_url: token_url.to_owned(),
                scope: None,
            },
        )
        .unwrap();
    }
    endpoints::save(&*services.table, &ep, None).await.unwrap();
    account
}

/// One SQS batch: a message per (account, event id), its message id the event id.
fn batch(events: &[(&AccountId, &str)]) -> SqsEvent {
    let mut batch = SqsEvent::default();
    for (account, id) in events {
        let body = serde_json::json!({
            "id": id, "accountId": account.to_string(), "name": "PACKAGE_CREATE",
            "packageId": "pkg_1", "documentId": null, "sessionUser": null, "message": null,
            "createdDate": "2026-12-02T10:00:00Z"
        });
        let mut m = SqsMessage::default();
        m.message_id = Some((*id).to_owned());
        m.body = Some(body.to_string());
        batch.records.push(m);
    }
    batch
}

/// The message ids reported as failed, sorted.
async fn failed(s: &Webhooks, events: &[(&AccountId, &str)]) -> Vec<String> {
    let resp = handle_batch(s, batch(events)).await;
    let mut ids: Vec<String> = resp
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    ids.sort();
    ids
}

async fn attempt_class(s: &Webhooks, account: &AccountId, event: &str) -> Option<ErrorClass> {
    let tries = attempts::list(&*s.services.table, account, event)
        .await
        .unwrap();
    assert_eq!(tries.len(), 1, "{event}: one attempt");
    match tries[0].status {
        AttemptStatus::Succeeded => None,
        AttemptStatus::Failed => tries[0].error_class,
    }
}

#[tokio::test]
async fn concurrent_deliveries_to_one_endpoint_make_one_token_request() {
    // One permit: every delivery must give it back while it waits, or the others never get to
    // ask for the token and the server, which answers once all five wait, never answers.
    let (s, clock) = handler(Settings {
        concurrency: 1,
        ..Settings::default()
    })
    .await;
    let i = new_integrator(&s.tokens, None);
    let base = integrator(&i).await;
    let token_url = format!("{base}/token");
    let acc = account_with_endpoint(&s, format!("{base}/hook"), Some(&token_url)).await;
    const N: usize = 5;
    let ids = |round: &str| -> Vec<String> { (0..N).map(|k| format!("evt_{round}{k}")).collect() };

    i.gate.store(N, Ordering::SeqCst);
    let first = ids("a");
    let events: Vec<_> = first.iter().map(|id| (&acc, id.as_str())).collect();
    assert!(failed(&s, &events).await.is_empty());
    assert_eq!(
        i.token_requests.load(Ordering::SeqCst),
        1,
        "one fetch shared"
    );
    let got = i.deliveries.lock().unwrap().clone();
    assert_eq!(got.len(), N);
    assert!(
        got.iter().all(|(_, auth, _)| auth == "Bearer tok-1"),
        "{got:?}"
    );
    assert_eq!(*s.tokens.waiting().borrow(), 0);

    // The token expires; the server now fails, once all five wait: one request, and each of
    // the five deliveries fails as `token_endpoint` with its answer.
    clock.advance(120);
    *i.failing.lock().unwrap() = Some(503);
    let second = ids("b");
    let events: Vec<_> = second.iter().map(|id| (&acc, id.as_str())).collect();
    assert_eq!(failed(&s, &events).await, second);
    assert_eq!(
        i.token_requests.load(Ordering::SeqCst),
        2,
        "one fetch shared"
    );
    for id in &second {
        assert_eq!(
            attempt_class(&s, &acc, id).await,
            Some(ErrorClass::TokenEndpoint)
        );
    }
    assert_eq!(i.deliveries.lock().unwrap().len(), N, "nothing sent");

    // A failure is not kept: the next delivery asks again.
    *i.failing.lock().unwrap() = None;
    i.gate.store(1, Ordering::SeqCst);
    assert!(failed(&s, &[(&acc, "evt_c")]).await.is_empty());
    assert_eq!(i.token_requests.load(Ordering::SeqCst), 3);
    assert_eq!(attempt_class(&s, &acc, "evt_c").await, None);
}

#[tokio::test]
async fn a_waiter_stops_at_its_own_deadline_while_the_fetch_goes_on() {
    let settings = Settings {
        timeout: Duration::from_secs(2),
        ..Settings::default()
    };
    let client = crate::client(&settings, true).unwrap();
    let hung = hung_token_server().await;
    let credentials = OAuth2Credentials {
        client_id: "keygate".into(),
        // Only a part of the cache key here: the secret itself is given unsealed.
        client_secret: keygate_core::kernel::crypto::Sealed("sealed".into()),
        authorization_server_url: hung.url.clone(),
        scope: None,
    };
    let secret = Secret::new("s3cret");
    let grant = Grant {
        client: &client,
        endpoint: "ep_1",
        credentials: &credentials,
        secret: &secret,
        local_mode: true,
    };
    let tokens = Tokens::default();
    let Token::Pending(starter) = tokens.token(grant, START, settings.timeout) else {
        panic!("no token is kept yet");
    };
    let Token::Pending(hasty) = tokens.token(grant, START, Duration::from_millis(100)) else {
        panic!("no token is kept yet");
    };
    assert_eq!(*tokens.waiting().borrow(), 2);
    let e = hasty.wait().await.unwrap_err();
    assert_eq!(e.detail, LATE);
    // It gave up on its own: the one fetch is still waiting for the server.
    assert_eq!(*hung.closed.borrow(), 0, "the fetch is still in flight");
    assert_eq!(*tokens.waiting().borrow(), 1);
    assert_eq!(starter.wait().await.unwrap_err().detail, LATE);
    assert_eq!(*tokens.waiting().borrow(), 0);
    // The fetch ends at its own timeout too (the connection is closed), and was the only one.
    let _ = hung.closed.subscribe().wait_for(|n| *n == 1).await;
    assert_eq!(hung.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_hung_token_server_holds_neither_the_batch_nor_another_account() {
    // One permit, a short timeout: a delivery that held its permit while the token server
    // hangs would keep the other account's delivery out until the fetch gave up.
    let (s, _) = handler(Settings {
        timeout: Duration::from_secs(3),
        concurrency: 1,
        ..Settings::default()
    })
    .await;
    let hung = hung_token_server().await;
    let i = new_integrator(&s.tokens, Some(hung.clone()));
    let base = integrator(&i).await;
    let stuck = account_with_endpoint(&s, format!("{base}/hook"), Some(&hung.url)).await;
    let fine = account_with_endpoint(&s, format!("{base}/hook"), None).await;

    let failures = failed(
        &s,
        &[
            (&stuck, "evt_s1"),
            (&stuck, "evt_s2"),
            (&fine, "evt_ok"),
            (&stuck, "evt_s3"),
        ],
    )
    .await;

    // The batch finished: the other account's event was delivered — while the token server
    // still held the one fetch (no connection of it closed yet) —, and the stuck account's
    // three failed as `token_endpoint`, all on that one fetch.
    assert_eq!(failures, ["evt_s1", "evt_s2", "evt_s3"]);
    let got = i.deliveries.lock().unwrap().clone();
    assert_eq!(got, [("evt_ok".to_owned(), String::new(), 0)]);
    assert_eq!(attempt_class(&s, &fine, "evt_ok").await, None);
    for id in ["evt_s1", "evt_s2", "evt_s3"] {
        assert_eq!(
            attempt_class(&s, &stuck, id).await,
            Some(ErrorClass::TokenEndpoint)
        );
    }
    assert_eq!(hung.accepted.load(Ordering::SeqCst), 1, "one fetch, shared");
    // And the fetch did not outlive its timeout.
    let _ = hung.closed.subscribe().wait_for(|n| *n == 1).await;
    assert_eq!(*s.tokens.waiting().borrow(), 0);
}
