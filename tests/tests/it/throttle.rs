//! Throttling is an outage, not a refusal (docs/SCALE.md, docs/ERRORS.md): while DynamoDB answers
//! `ProvisionedThroughputExceededException` — in the SDK's own error shape, after its retries —
//! keygate answers `503` with `Retry-After` (the token endpoint: `temporarily_unavailable`),
//! never a `401`/`403` that blames the credential; and it serves again from the next request
//! once DynamoDB does.
//!
//! On the local stack the table's client talks to DynamoDB Local through a proxy that, while
//! throttling, answers every call as DynamoDB does when a key is over its limit (HTTP 400 with the
//! `ProvisionedThroughputExceededException` type), so the real SDK retries, gives up and
//! classifies it. In memory, the table answers the classified error the adapter would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use keygate_core::kernel::fault::{Fault, Service, ServiceError};
use keygate_core::ports::store::{MemoryTable, StoreError, Table};
use keygate_core::testing::hooked::{Call, Hook, Hooked};
use keygate_e2e::{client_credentials, oauth_account, Backend, Server};
use serde_json::json;

/// DynamoDB's answer to a request over a key's throughput.
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."}"#;

/// A proxy in front of DynamoDB Local that throttles while `on` is set.
struct Proxy {
    on: AtomicBool,
    upstream: String,
    http: reqwest::Client,
}

async fn proxy(
    State(p): State<Arc<Proxy>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, Bytes) {
    let mut out = HeaderMap::new();
    if p.on.load(Ordering::SeqCst) {
        out.insert(
            "content-type",
            "application/x-amz-json-1.0".parse().expect("header"),
        );
        return (
            StatusCode::BAD_REQUEST,
            out,
            Bytes::from_static(THROTTLED.as_bytes()),
        );
    }
    let mut req = p.http.post(&p.upstream).body(body);
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let res = req.send().await.expect("DynamoDB Local answers");
    let status = StatusCode::from_u16(res.status().as_u16()).expect("status");
    for (k, v) in res.headers() {
        if k != "content-length" && k != "transfer-encoding" {
            out.insert(k, v.clone());
        }
    }
    (status, out, res.bytes().await.expect("body"))
}

/// The in-memory table, throttled while `on` is set, as the adapter reports it.
struct Throttled(Arc<AtomicBool>);

#[async_trait]
impl Hook for Throttled {
    async fn before(&self, _: &dyn Table, _: Call<'_>) -> Result<(), StoreError> {
        if self.0.load(Ordering::SeqCst) {
            return Err(StoreError::Service(ServiceError::new(
                Service::DynamoDb,
                "GetItem",
                "keygate",
                Fault::Throttled,
                "ProvisionedThroughputExceededException",
            )));
        }
        Ok(())
    }
}

/// A server whose table throttles while the returned switch is on.
async fn throttling_server(backend: Backend) -> (Server, Arc<dyn Fn(bool) + Send + Sync>) {
    match backend {
        Backend::Memory => {
            let on = Arc::new(AtomicBool::new(false));
            let table = Arc::new(Hooked {
                inner: Arc::new(MemoryTable::new()),
                hook: Throttled(on.clone()),
            });
            let s = Server::start_with(backend, move |services, _| services.table = table).await;
            (s, Arc::new(move |v| on.store(v, Ordering::SeqCst)))
        }
        Backend::Stack => {
            let stack = keygate_aws::testing::Stack::get();
            let p = Arc::new(Proxy {
                on: AtomicBool::new(false),
                upstream: stack.var("AWS_ENDPOINT_URL_DYNAMODB").to_owned(),
                http: reqwest::Client::new(),
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let url = format!("http://{}", listener.local_addr().expect("addr"));
            let app = axum::Router::new()
                .fallback(axum::routing::post(proxy))
                .with_state(p.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
            let conf = aws_sdk_dynamodb::config::Builder::from(&stack.sdk_config().await)
                .endpoint_url(url)
                .build();
            let table = keygate_aws::tables(
                aws_sdk_dynamodb::Client::from_conf(conf),
                stack.var("KEYGATE_TABLE").to_owned(),
                Some(stack.var("KEYGATE_VOLATILE_TABLE").to_owned()),
            );
            let s = Server::start_with(backend, move |services, _| services.table = table).await;
            (s, Arc::new(move |v| p.on.store(v, Ordering::SeqCst)))
        }
    }
}

async fn throttling_is_an_outage_and_ends_with_it(backend: Backend) {
    let (s, throttle) = throttling_server(backend).await;
    let (owner_key, id, secret) = oauth_account(&s, json!({})).await;
    let (_, _, api_key) = s.create_account("Other", "other@throttle.test").await;
    assert_eq!(s.whoami(&api_key).await.0, 200);

    throttle(true);
    let res = s
        .http
        .get(s.url("/api/whoami"))
        .header("authorization", format!("Basic {api_key}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), 503, "an API key during throttling");
    assert!(res.headers().contains_key("retry-after"));
    let (status, body) = client_credentials(&s, &id, &secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    let (status, body) = s
        .api("GET", "/api/oauth2/clients", Some(&owner_key), None)
        .await;
    assert_eq!(status, 503, "{body}");

    throttle(false);
    assert_eq!(s.whoami(&api_key).await.0, 200, "served again at once");
    let (status, body) = client_credentials(&s, &id, &secret).await;
    assert_eq!(status, 200, "{body}");
}

keygate_e2e::on_both_backends!(throttling_is_an_outage_and_ends_with_it);
