//! Handler unit tests (STYLE.md layer 1): requests built in memory, in-memory services.

use super::*;
use keygate_core::ports::store::{Condition, Item, Key, SkRange, StoreError, Table, WriteOp};

async fn services() -> Services {
    keygate_core::testing::memory_services().await
}

fn body(resp: &Response<Body>) -> serde_json::Value {
    match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => serde_json::Value::Null,
    }
}

#[tokio::test]
async fn whoami_returns_the_authorizer_principal() {
    let s = services().await;
    let req =
        lambda_http::request::from_str(include_str!("../../../events/client-apps.json")).unwrap();
    let resp = handle(&s, req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let v = body(&resp);
    assert_eq!(v["subjectType"], "owner");
    assert_eq!(v["authMethod"], "API_KEY");
}

#[tokio::test]
async fn whoami_without_authorizer_is_401() {
    let s = services().await;
    let req = http::Request::builder()
        .uri("/api/whoami")
        .body(Body::Empty)
        .unwrap();
    let resp = handle(&s, req).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(body(&resp)["messageKey"], "error.unauthorised");
}

#[tokio::test]
async fn management_needs_a_credential() {
    let s = services().await;
    let req = http::Request::builder()
        .uri("/api/clientApps")
        .body(Body::Empty)
        .unwrap();
    assert_eq!(handle(&s, req).await.unwrap().status(), 401);
}

#[tokio::test]
async fn create_then_list_client_app() {
    let s = services().await;
    let acc = keygate_core::testing::account(&s).await;
    let auth = format!("Basic {}", acc.api_key.expose());
    let req = http::Request::builder()
        .method("POST")
        .uri("/api/clientApps")
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(Body::Text(r#"{"name":"CRM"}"#.into()))
        .unwrap();
    let resp = handle(&s, req).await.unwrap();
    assert_eq!(resp.status(), 201);
    let created = body(&resp);
    assert!(created["secret"].as_str().unwrap().len() == 43);
    let req = http::Request::builder()
        .uri("/api/clientApps")
        .header("authorization", &auth)
        .body(Body::Empty)
        .unwrap();
    let listed = body(&handle(&s, req).await.unwrap());
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["clientId"], created["clientId"]);
    assert!(listed["results"][0].get("secret").is_none());
}

/// A table on which a failed delivery writes an endpoint's health (`failingSince`, as the
/// webhooks function does) right before each of the next `races` transactions that write an
/// endpoint: the manager's read is stale by the time its write lands.
struct DeliveryRaces {
    inner: std::sync::Arc<dyn Table>,
    races: std::sync::atomic::AtomicU32,
}

impl DeliveryRaces {
    fn arm(&self, races: u32) {
        self.races.store(races, std::sync::atomic::Ordering::SeqCst);
    }
    fn left(&self) -> u32 {
        self.races.load(std::sync::atomic::Ordering::SeqCst)
    }
    async fn deliver_and_fail(&self, ops: &[WriteOp]) {
        use keygate_core::kernel::ids::{AccountId, EndpointId};
        use keygate_core::notify::endpoints;
        use std::sync::atomic::Ordering::SeqCst;
        for op in ops {
            let key = match op {
                WriteOp::Put(item, _) => &item.key,
                WriteOp::Delete(key, _) => key,
                WriteOp::Check(..) => continue,
            };
            let (Some(account), Some(id)) =
                (key.pk.strip_prefix("ACC#"), key.sk.strip_prefix("EP#"))
            else {
                continue;
            };
            if self
                .races
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_err()
            {
                return;
            }
            let (account, id) = (
                AccountId::parse(account).unwrap(),
                EndpointId::parse(id).unwrap(),
            );
            let (mut ep, rev) = endpoints::get(&*self.inner, &account, &id)
                .await
                .unwrap()
                .expect("the endpoint the manager read");
            ep.failing_since = Some(ep.failing_since.unwrap_or(0) + 1);
            endpoints::save(&*self.inner, &ep, Some(rev)).await.unwrap();
        }
    }
}

#[async_trait::async_trait]
impl Table for DeliveryRaces {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn put(&self, item: Item, cond: Condition) -> Result<(), StoreError> {
        self.inner.put(item, cond).await
    }
    async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.deliver_and_fail(&ops).await;
        self.inner.transact(ops).await
    }
    async fn increment(&self, key: &Key, by: i64, ttl: i64) -> Result<i64, StoreError> {
        self.inner.increment(key, by, ttl).await
    }
    async fn counter(&self, key: &Key) -> Result<i64, StoreError> {
        self.inner.counter(key).await
    }
    async fn query(&self, pk: &str, p: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.inner.query(pk, p, limit).await
    }
    async fn query_gsi1(&self, g: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.inner.query_gsi1(g, limit).await
    }
    async fn query_gsi1_range(
        &self,
        g: &str,
        range: SkRange<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.query_gsi1_range(g, range, limit).await
    }
}

/// A manager's change of an endpoint is made even when a failed delivery writes the endpoint's
/// health between the change's read and its write (the console's REVERT lost that race and
/// answered "the endpoint changed meanwhile"); only a change that keeps losing is a `409`.
#[tokio::test]
async fn endpoint_changes_survive_a_delivery_writing_meanwhile() {
    let mut s = services().await;
    let races = std::sync::Arc::new(DeliveryRaces {
        inner: s.table.clone(),
        races: 0.into(),
    });
    s.table = races.clone();
    let acc = keygate_core::testing::account(&s).await;
    let auth = format!("Basic {}", acc.api_key.expose());
    let call = |method: &'static str, uri: &str, input: Option<serde_json::Value>| {
        let uri = uri.to_owned();
        let (s, auth) = (&s, &auth);
        async move {
            let mut req = http::Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", auth);
            let sent = match input {
                Some(b) => {
                    req = req.header("content-type", "application/json");
                    Body::Text(b.to_string())
                }
                None => Body::Empty,
            };
            let resp = handle(s, req.body(sent).unwrap()).await.unwrap();
            (resp.status().as_u16(), body(&resp))
        }
    };
    let callback =
        serde_json::json!({"url": "https://hooks.example/cb", "events": ["PACKAGE_CREATE"]});
    assert_eq!(
        call("PUT", "/api/callback", Some(callback.clone())).await.0,
        200
    );
    let (status, extra) = call("POST", "/api/callback/endpoints", Some(callback.clone())).await;
    assert_eq!(status, 201, "{extra}");

    // Each change loses one race to a delivery, and is made all the same.
    races.arm(1);
    let changed =
        serde_json::json!({"url": "https://hooks.example/v2", "events": ["PACKAGE_CREATE"]});
    let (status, got) = call("PUT", "/api/callback", Some(changed)).await;
    assert_eq!((status, races.left()), (200, 0), "{got}");
    assert_eq!(got["url"], "https://hooks.example/v2");
    races.arm(1);
    let (status, got) = call("POST", "/api/callback/secret/rotate", None).await;
    assert_eq!((status, races.left()), (200, 0), "{got}");
    races.arm(1);
    let id = extra["id"].as_str().unwrap().to_owned();
    let path = format!("/api/callback/endpoints/{id}");
    let (status, got) = call("PUT", &path, Some(callback.clone())).await;
    assert_eq!((status, races.left()), (200, 0), "{got}");
    races.arm(1);
    assert_eq!(call("DELETE", &path, None).await.0, 204);
    assert_eq!(races.left(), 0);

    // A change that loses every try is refused, and nothing of it is stored.
    races.arm(3);
    let (status, got) = call("DELETE", "/api/callback", None).await;
    assert_eq!(
        (status, got["reason"].as_str()),
        (409, Some("concurrent_change")),
        "{got}"
    );
    assert_eq!(
        call("GET", "/api/callback", None).await.1["url"],
        "https://hooks.example/v2"
    );
    // REVERT, losing one race: the callback goes.
    races.arm(1);
    assert_eq!(call("DELETE", "/api/callback", None).await.0, 204);
    assert_eq!(races.left(), 0);
    assert_eq!(
        call("GET", "/api/callback", None).await.1["url"],
        serde_json::Value::Null
    );
}
