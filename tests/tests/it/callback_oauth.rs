//! Callbacks authenticated with OAuth 2.0 (OneSpan, French edition; docs/EVENTS.md), end to end: the owner configures `authentication: OAUTH2` through the API,
//! and the webhook handler gets a token from a real token server on loopback (client credentials,
//! Basic client authentication, the scope), keeps it until shortly before it expires, sends it as
//! `Bearer` to a real receiver that checks it, refreshes it once on a `401`, and records a token
//! endpoint that fails as a failed attempt; a token server that never answers fails its own
//! account's deliveries at the timeout and holds no other account's. On the in-memory store and
//! on DynamoDB Local (the handler reads the endpoint, with its sealed secret, from the store the
//! API wrote).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_core::kernel::ids::AccountId;
use keygate_core::notify::attempts::{AttemptStatus, ErrorClass};
use keygate_core::ports::services::Queues;
use keygate_e2e::{Backend, Server};
use keygate_local::event_source;
use keygate_webhooks::{Settings, Webhooks};
use serde_json::{json, Value};
use tokio::sync::watch;

const CLIENT_ID: &str = "keygate events";
const CLIENT_SECRET: &str = "s3cret:with%odd+chars";
const LIFETIME: i64 = 120;

/// One token request: the decoded Basic credentials, and the form.
type TokenRequest = (Option<String>, Vec<(String, String)>);

/// What the token server and the receiver share: the tokens issued and still honoured.
#[derive(Default)]
struct Integrator {
    issued: Mutex<Vec<String>>,
    honoured: Mutex<HashSet<String>>,
    /// Each token request: (decoded Basic credentials, form).
    token_requests: Mutex<Vec<TokenRequest>>,
    /// The token endpoint answers this status when set.
    token_failure: Mutex<Option<u16>>,
    /// The receiver refuses every token when set.
    refusing: Mutex<bool>,
    /// Each delivery: (the event id, its Authorization header, the status answered).
    deliveries: Mutex<Vec<(String, String, u16)>>,
    /// Each delivery to the plain receiver (no authentication): (the event id, how many
    /// connections the hung token server had seen closed then).
    plain: Mutex<Vec<(String, usize)>>,
    /// The hung token server's count of closed connections, when there is one.
    hung_closed: Mutex<Option<watch::Receiver<usize>>>,
}

impl Integrator {
    fn token_requests(&self) -> usize {
        self.token_requests.lock().unwrap().len()
    }
    fn deliveries(&self) -> Vec<(String, String, u16)> {
        self.deliveries.lock().unwrap().clone()
    }
    fn revoke_all(&self) {
        self.honoured.lock().unwrap().clear();
    }
}

async fn token(
    State(i): State<Arc<Integrator>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    i.token_requests
        .lock()
        .unwrap()
        .push((basic.clone(), form.clone()));
    if let Some(status) = *i.token_failure.lock().unwrap() {
        return (StatusCode::from_u16(status).unwrap(), "down").into_response();
    }
    // RFC 6749 §2.3.1: each part form-urlencoded before base64.
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let expected = format!("{}:{}", enc(CLIENT_ID), enc(CLIENT_SECRET));
    let grant = form
        .iter()
        .any(|(k, v)| k == "grant_type" && v == "client_credentials");
    if basic.as_deref() != Some(expected.as_str()) || !grant {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let mut issued = i.issued.lock().unwrap();
    let t = format!("tok-{}", issued.len() + 1);
    issued.push(t.clone());
    i.honoured.lock().unwrap().insert(t.clone());
    Json(json!({"access_token": t, "token_type": "Bearer", "expires_in": LIFETIME})).into_response()
}

async fn hook(State(i): State<Arc<Integrator>>, headers: HeaderMap) -> StatusCode {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let ok = !*i.refusing.lock().unwrap()
        && auth
            .strip_prefix("Bearer ")
            .is_some_and(|t| i.honoured.lock().unwrap().contains(t));
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    i.deliveries
        .lock()
        .unwrap()
        .push((id, auth, status.as_u16()));
    status
}

async fn plain_hook(State(i): State<Arc<Integrator>>, headers: HeaderMap) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let closed = i
        .hung_closed
        .lock()
        .unwrap()
        .as_ref()
        .map_or(0, |c| *c.borrow());
    i.plain.lock().unwrap().push((id, closed));
    StatusCode::OK
}

/// A token server that accepts connections and never answers: (its token URL, the connections
/// accepted, the connections the client closed).
async fn hung_token_server() -> (String, Arc<AtomicUsize>, watch::Receiver<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let (closed, closed_rx) = watch::channel(0usize);
    let counted = accepted.clone();
    tokio::spawn(async move {
        let closed = Arc::new(closed);
        while let Ok((conn, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let closed = closed.clone();
            tokio::spawn(async move {
                // Reads whatever comes, answers nothing, until the client hangs up.
                let mut buf = [0u8; 1024];
                while conn.readable().await.is_ok() {
                    match conn.try_read(&mut buf) {
                        Ok(0) => break,
                        Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => break,
                        _ => {}
                    }
                }
                closed.send_modify(|n| *n += 1);
            });
        }
    });
    (url, accepted, closed_rx)
}

/// The integrator's token server and receiver on one loopback port: (base URL, state).
async fn integrator() -> (String, Arc<Integrator>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Integrator::default());
    let app = Router::new()
        .route("/oauth/token", post(token))
        .route("/hook", post(hook))
        .route("/plain", post(plain_hook))
        .with_state(state.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, state, task)
}

/// The webhook handler over the server's store and clock, with a queue of its own (the local
/// server's own delivery loop is given another, which nothing is sent to).
struct Handler {
    state: Webhooks,
}

impl Handler {
    fn new(s: &Server) -> Self {
        Self::with(
            s,
            Settings {
                timeout: Duration::from_secs(5),
                ..Settings::default()
            },
        )
    }

    fn with(s: &Server, settings: Settings) -> Self {
        let state = Webhooks::new(s.services().clone(), Queues::in_memory(), settings).unwrap();
        Self { state }
    }

    /// Publishes the events and runs one invocation over them; the ids of the failed ones.
    async fn deliver(&self, account: &str, ids: &[&str]) -> Vec<String> {
        let events: Vec<(&str, &str)> = ids.iter().map(|id| (account, *id)).collect();
        self.deliver_to(&events).await
    }

    /// [`Handler::deliver`] of events of several accounts, one batch: (account, event id).
    async fn deliver_to(&self, events: &[(&str, &str)]) -> Vec<String> {
        let q = &self.state.queues.events;
        for (account, id) in events {
            let m = json!({
                "id": id, "accountId": account, "name": "PACKAGE_CREATE", "packageId": "pkg_1",
                "documentId": null, "sessionUser": null, "message": null,
                "createdDate": "2026-12-02T10:00:00Z"
            });
            q.send(&m.to_string(), &[]).await.unwrap();
        }
        let mut batch = Vec::new();
        while batch.len() < events.len() {
            batch.extend(
                q.receive(events.len() - batch.len(), Duration::from_secs(1))
                    .await
                    .unwrap(),
            );
        }
        let resp =
            keygate_webhooks::handle_batch(&self.state, event_source::to_event(&batch)).await;
        for m in &batch {
            let failed = resp
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == m.message_id);
            if !failed {
                q.delete(&m.receipt_handle).await.unwrap();
            }
        }
        resp.batch_item_failures
            .iter()
            .filter_map(|f| {
                batch
                    .iter()
                    .find(|m| m.message_id == f.item_identifier)
                    .map(|m| {
                        serde_json::from_str::<Value>(&m.body).unwrap()["id"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
            })
            .collect()
    }
}

async fn oauth_callbacks(backend: Backend) {
    // The local server's own delivery loop gets a queue nothing is sent to.
    let s = Server::start_with(backend, |_, queues| {
        queues.events = Queues::in_memory().events;
    })
    .await;
    let (base, integrator, _task) = integrator().await;
    let (account, _, owner) = s.create_account("Acme", "owner@acme.test").await;
    let auth = json!({
        "type": "OAUTH2",
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "authorizationServerUrl": format!("{base}/oauth/token"),
        "scope": "  events.write   events.read ",
    });
    let body = json!({"url": format!("{base}/hook"), "events": ["PACKAGE_CREATE"], "authentication": auth});
    let (status, cb) = s
        .api("PUT", "/api/callback", Some(&owner), Some(body))
        .await;
    assert_eq!(status, 200, "{cb}");
    let shown = &cb["authentication"];
    assert_eq!(shown["type"], "OAUTH2");
    assert_eq!(shown["clientId"], CLIENT_ID);
    assert_eq!(shown["clientSecret"], "****hars", "write-only: masked");
    assert_eq!(
        shown["scope"], "events.write events.read",
        "stored normalised"
    );
    assert_eq!(cb["key"], Value::Null);
    let (_, got) = s.api("GET", "/api/callback", Some(&owner), None).await;
    assert_eq!(got["authentication"], *shown);
    assert!(
        !s.dump_table().await.contains(CLIENT_SECRET),
        "the secret is sealed in the table"
    );

    // Extra endpoints get the same choice.
    let extra = json!({"url": format!("{base}/hook"), "events": ["PACKAGE_CREATE"], "authentication": auth});
    let (status, ep) = s
        .api("POST", "/api/callback/endpoints", Some(&owner), Some(extra))
        .await;
    assert_eq!(status, 201, "{ep}");
    assert_eq!(ep["authentication"], *shown);
    let path = format!("/api/callback/endpoints/{}", ep["id"].as_str().unwrap());
    assert_eq!(s.api("DELETE", &path, Some(&owner), None).await.0, 204);

    // A GET-modify-PUT keeps the secret; a new authorization server needs it again.
    let mut back = got.clone();
    back.as_object_mut()
        .unwrap()
        .retain(|k, _| ["url", "events", "authentication"].contains(&k.as_str()));
    let (status, kept) = s
        .api("PUT", "/api/callback", Some(&owner), Some(back.clone()))
        .await;
    assert_eq!(status, 200, "{kept}");
    let mut moved = back.clone();
    moved["authentication"]["authorizationServerUrl"] = json!(format!("{base}/elsewhere"));
    let (status, err) = s
        .api("PUT", "/api/callback", Some(&owner), Some(moved))
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (400, Some("client_secret_missing")),
        "{err}"
    );
    // Type and fields must agree.
    for bad in [
        json!({"type": "OAUTH2", "clientId": CLIENT_ID}),
        json!({"type": "NONE", "clientId": CLIENT_ID}),
        json!({"type": "BASIC"}),
        json!({"type": "OAUTH2", "clientId": CLIENT_ID, "clientSecret": "x", "authorizationServerUrl": "ftp://x.example/t"}),
        json!({"type": "OAUTH2", "clientId": CLIENT_ID, "clientSecret": "x", "authorizationServerUrl": format!("{base}/t"), "scope": "a\"b"}),
        json!({"type": "KERBEROS"}),
    ] {
        let body = json!({"url": format!("{base}/hook"), "events": [], "authentication": bad});
        let (status, err) = s
            .api("PUT", "/api/callback", Some(&owner), Some(body))
            .await;
        assert_eq!(status, 400, "{err}");
    }

    // A manager may change the event filter, sending back what GET showed, but not the
    // authentication.
    let (status, added) = s
        .call(
            s.http
                .post(s.url(&format!("/_local/accounts/{account}/users")))
                .json(&json!({"email": "dev@acme.test", "permissions": ["API_ACCESS"]})),
        )
        .await;
    assert_eq!(status, 201);
    let dev = added["apiKey"].as_str().unwrap().to_owned();
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&owner),
        Some(json!({"rolesAndPermissions": true})),
    )
    .await;
    let (status, v) = s
        .api("PUT", "/api/callback", Some(&dev), Some(back.clone()))
        .await;
    assert_eq!(status, 200, "{v}");
    let mut stolen = back.clone();
    stolen["authentication"]["authorizationServerUrl"] = json!("https://attacker.example/token");
    stolen["authentication"]["clientSecret"] = json!("guess");
    let (status, err) = s
        .api("PUT", "/api/callback", Some(&dev), Some(stolen))
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("callback_owner_only"))
    );

    // Three events at once with no token kept: one token request, asked as configured.
    let h = Handler::new(&s);
    assert!(h
        .deliver(&account, &["evt_a", "evt_b", "evt_c"])
        .await
        .is_empty());
    assert_eq!(
        integrator.token_requests(),
        1,
        "one fetch for concurrent deliveries"
    );
    let (basic, form) = integrator.token_requests.lock().unwrap()[0].clone();
    assert!(basic.is_some());
    assert!(form.contains(&("grant_type".into(), "client_credentials".into())));
    assert!(form.contains(&("scope".into(), "events.write events.read".into())));
    let d = integrator.deliveries();
    assert_eq!(d.len(), 3);
    assert!(
        d.iter()
            .all(|(_, auth, status)| auth == "Bearer tok-1" && *status == 200),
        "{d:?}"
    );

    // Kept while it lives; shortly before it expires, a fresh one.
    s.clock.advance(LIFETIME - 30);
    assert!(h.deliver(&account, &["evt_d"]).await.is_empty());
    assert_eq!(integrator.token_requests(), 1, "still the kept token");
    s.clock.advance(20);
    assert!(h.deliver(&account, &["evt_e"]).await.is_empty());
    assert_eq!(integrator.token_requests(), 2, "renewed before it expires");
    assert_eq!(integrator.deliveries().last().unwrap().1, "Bearer tok-2");

    // The receiver stops honouring it: the 401 drops it and the delivery goes again, once,
    // with a fresh one; one attempt, succeeded.
    integrator.revoke_all();
    assert!(h.deliver(&account, &["evt_f"]).await.is_empty());
    let f: Vec<_> = integrator
        .deliveries()
        .into_iter()
        .filter(|(id, _, _)| id == "evt_f")
        .collect();
    assert_eq!(
        f,
        [
            ("evt_f".to_owned(), "Bearer tok-2".to_owned(), 401),
            ("evt_f".to_owned(), "Bearer tok-3".to_owned(), 200)
        ]
    );
    let account_id = AccountId::parse(&account).unwrap();
    let tries = keygate_core::notify::attempts::list(&*s.services().table, &account_id, "evt_f")
        .await
        .unwrap();
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0].status, AttemptStatus::Succeeded);

    // A receiver that refuses the fresh token too: a failed attempt, its 401 recorded, no loop.
    *integrator.refusing.lock().unwrap() = true;
    let before = integrator.token_requests();
    assert_eq!(h.deliver(&account, &["evt_g"]).await, ["evt_g"]);
    assert_eq!(
        integrator.token_requests(),
        before + 1,
        "one fresh token, not more"
    );
    let g = keygate_core::notify::attempts::list(&*s.services().table, &account_id, "evt_g")
        .await
        .unwrap();
    assert_eq!((g.len(), g[0].response_code), (1, Some(401)));

    *integrator.refusing.lock().unwrap() = false;

    // The token endpoint fails: nothing is sent, the attempt fails as `token_endpoint`, and
    // the event is retried like any failed delivery.
    *integrator.token_failure.lock().unwrap() = Some(503);
    s.clock.advance(LIFETIME);
    let sent_before = integrator.deliveries().len();
    assert_eq!(h.deliver(&account, &["evt_h"]).await, ["evt_h"]);
    assert_eq!(
        integrator.deliveries().len(),
        sent_before,
        "no delivery without a token"
    );
    let t = keygate_core::notify::attempts::list(&*s.services().table, &account_id, "evt_h")
        .await
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].status, t[0].error_class),
        (AttemptStatus::Failed, Some(ErrorClass::TokenEndpoint))
    );
    let (_, listed) = s
        .api(
            "GET",
            "/api/callback/attempts?eventId=evt_h",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        listed["results"][0]["errorClass"], "token_endpoint",
        "{listed}"
    );
    // It recovers by itself.
    *integrator.token_failure.lock().unwrap() = None;
    assert!(h.deliver(&account, &["evt_i"]).await.is_empty());
    assert_eq!(integrator.deliveries().last().unwrap().2, 200);
}

/// An account whose token server accepts the connection and never answers, and another
/// account's plain callback, in one batch: the other account's event is delivered while the
/// token request still hangs, and the stuck account's events fail as `token_endpoint` at the
/// timeout, on one shared token request, recorded in the store.
async fn hung_token_server_holds_no_one_else(backend: Backend) {
    let s = Server::start_with(backend, |_, queues| {
        queues.events = Queues::in_memory().events;
    })
    .await;
    let (base, integrator, _task) = integrator().await;
    let (token_url, accepted, closed) = hung_token_server().await;
    *integrator.hung_closed.lock().unwrap() = Some(closed.clone());

    let (stuck, _, stuck_owner) = s.create_account("Stuck", "owner@stuck.test").await;
    let auth = json!({
        "type": "OAUTH2", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
        "authorizationServerUrl": token_url,
    });
    let body = json!({"url": format!("{base}/hook"), "events": ["PACKAGE_CREATE"], "authentication": auth});
    let (status, cb) = s
        .api("PUT", "/api/callback", Some(&stuck_owner), Some(body))
        .await;
    assert_eq!(status, 200, "{cb}");
    let (fine, _, fine_owner) = s.create_account("Fine", "owner@fine.test").await;
    let body = json!({"url": format!("{base}/plain"), "events": ["PACKAGE_CREATE"]});
    let (status, cb) = s
        .api("PUT", "/api/callback", Some(&fine_owner), Some(body))
        .await;
    assert_eq!(status, 200, "{cb}");

    // One permit: a delivery that kept it while waiting for the token would hold the other
    // account's delivery until the token request gave up.
    let h = Handler::with(
        &s,
        Settings {
            timeout: Duration::from_secs(5),
            concurrency: 1,
            ..Settings::default()
        },
    );
    let mut failed = h
        .deliver_to(&[
            (&stuck, "evt_stuck_1"),
            (&fine, "evt_fine"),
            (&stuck, "evt_stuck_2"),
        ])
        .await;
    failed.sort();
    assert_eq!(failed, ["evt_stuck_1", "evt_stuck_2"]);
    assert_eq!(
        *integrator.plain.lock().unwrap(),
        [("evt_fine".to_owned(), 0)],
        "delivered while the token request still hung"
    );
    assert!(integrator.deliveries().is_empty(), "no token, no delivery");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one token request, shared"
    );
    for (account, owner, id, class) in [
        (&stuck, &stuck_owner, "evt_stuck_1", json!("token_endpoint")),
        (&stuck, &stuck_owner, "evt_stuck_2", json!("token_endpoint")),
        (&fine, &fine_owner, "evt_fine", Value::Null),
    ] {
        let account = AccountId::parse(account).unwrap();
        let tries = keygate_core::notify::attempts::list(&*s.services().table, &account, id)
            .await
            .unwrap();
        assert_eq!(tries.len(), 1, "{id}");
        let path = format!("/api/callback/attempts?eventId={id}");
        let (_, listed) = s.api("GET", &path, Some(owner), None).await;
        assert_eq!(listed["results"][0]["errorClass"], class, "{listed}");
    }
    // The token request itself ends at its timeout.
    let _ = closed.clone().wait_for(|n| *n == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_token_server_in_memory() {
    hung_token_server_holds_no_one_else(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_token_server_on_dynamodb_local() {
    hung_token_server_holds_no_one_else(Backend::Stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_callbacks_in_memory() {
    oauth_callbacks(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_callbacks_on_dynamodb_local() {
    oauth_callbacks(Backend::Stack).await;
}
