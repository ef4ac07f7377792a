//! Handler unit tests (STYLE.md layer 1).

use super::*;

async fn services() -> Services {
    keygate_core::testing::memory_services().await
}

fn body(resp: &Response<Body>) -> serde_json::Value {
    match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    }
}

#[tokio::test]
async fn jwks_lists_the_current_key() {
    let s = services().await;
    let req = http::Request::builder()
        .uri("/.well-known/jwks.json")
        .body(Body::Empty)
        .unwrap();
    let resp = handle(&s, req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let v = body(&resp);
    assert_eq!(v["keys"][0]["crv"], "P-256");
    assert_eq!(v["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_sample_event_is_served() {
    let s = services().await;
    let req = lambda_http::request::from_str(include_str!("../../../events/token.json")).unwrap();
    let resp = handle(&s, req).await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn discovery_names_every_endpoint_under_the_issuer() {
    let s = services().await;
    let req = http::Request::builder()
        .uri("/.well-known/oauth-authorization-server")
        .body(Body::Empty)
        .unwrap();
    let v = body(&handle(&s, req).await.unwrap());
    assert_eq!(v["issuer"], "http://127.0.0.1:3000");
    assert_eq!(
        v["token_endpoint"],
        "http://127.0.0.1:3000/api/oauth2/token"
    );
    assert_eq!(
        v["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc6749() {
    let s = services().await;
    let req = http::Request::builder()
        .method("POST")
        .uri("/api/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::Text("grant_type=client_credentials".into()))
        .unwrap();
    let resp = handle(&s, req).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    assert_eq!(body(&resp)["error"], "invalid_client");

    let req = http::Request::builder()
        .method("POST")
        .uri("/api/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::Text("grant_type=password".into()))
        .unwrap();
    let resp = handle(&s, req).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(body(&resp)["error"], "unsupported_grant_type");
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let s = services().await;
    let req = http::Request::builder()
        .uri("/nope")
        .body(Body::Empty)
        .unwrap();
    assert_eq!(handle(&s, req).await.unwrap().status(), 404);
}
