//! Handler unit tests (STYLE.md layer 1): requests built in memory, in-memory services.

use super::*;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use keygate_core::testing::hooked::{DeliveryRaces, Hooked};

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

/// A manager's change of an endpoint is made even when a failed delivery writes the endpoint's
/// health between the change's read and its write (the console's REVERT lost that race and
/// answered "the endpoint changed meanwhile"); only a change that keeps losing is a `409`.
#[tokio::test]
async fn endpoint_changes_survive_a_delivery_writing_meanwhile() {
    let mut s = services().await;
    let races = Arc::new(AtomicU32::new(0));
    s.table = Arc::new(Hooked {
        inner: s.table.clone(),
        hook: DeliveryRaces(races.clone()),
    });
    let arm = |n: u32| races.store(n, SeqCst);
    let left = || races.load(SeqCst);
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
    arm(1);
    let changed =
        serde_json::json!({"url": "https://hooks.example/v2", "events": ["PACKAGE_CREATE"]});
    let (status, got) = call("PUT", "/api/callback", Some(changed)).await;
    assert_eq!((status, left()), (200, 0), "{got}");
    assert_eq!(got["url"], "https://hooks.example/v2");
    arm(1);
    let (status, got) = call("POST", "/api/callback/secret/rotate", None).await;
    assert_eq!((status, left()), (200, 0), "{got}");
    arm(1);
    let id = extra["id"].as_str().unwrap().to_owned();
    let path = format!("/api/callback/endpoints/{id}");
    let (status, got) = call("PUT", &path, Some(callback.clone())).await;
    assert_eq!((status, left()), (200, 0), "{got}");
    arm(1);
    assert_eq!(call("DELETE", &path, None).await.0, 204);
    assert_eq!(left(), 0);

    // A change that loses every try is refused, and nothing of it is stored.
    arm(3);
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
    arm(1);
    assert_eq!(call("DELETE", "/api/callback", None).await.0, 204);
    assert_eq!(left(), 0);
    assert_eq!(
        call("GET", "/api/callback", None).await.1["url"],
        serde_json::Value::Null
    );
}
