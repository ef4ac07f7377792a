//! Handler unit tests (STYLE.md layer 1): requests built in memory, in-memory services.

use super::*;

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
