//! The `token` function: issues bearer tokens and publishes the keys that verify them.

use keygate::http::{error_response, json};
use keygate::{ApiError, Services};
use lambda_http::{Body, Request, Response};

/// Serves one request. Every expected failure is a JSON answer; `Err` never leaves here.
pub async fn handle(
    services: &Services,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let resp = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/.well-known/jwks.json") => jwks(services).await,
        _ => error_response(&ApiError::not_found("route_unknown", "no such route")),
    };
    Ok(resp)
}

/// `GET /.well-known/jwks.json`: every public key that can still verify a token.
async fn jwks(services: &Services) -> Response<Body> {
    let ring = services.keys.ring().await;
    let mut resp = json(200, &ring.jwks(services.now()));
    // Clients may cache the set briefly; a rotation publishes the new key before it signs.
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate::clock::ManualClock;
    use keygate::config::Config;
    use std::sync::Arc;

    async fn services() -> Services {
        Services::in_memory(
            Config::local("http://127.0.0.1:3000"),
            Arc::new(ManualClock::new(1_800_000_000)),
        )
        .await
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
        let Body::Text(t) = resp.body() else {
            panic!("text body")
        };
        let v: serde_json::Value = serde_json::from_str(t).unwrap();
        assert_eq!(v["keys"][0]["crv"], "P-256");
        assert_eq!(v["keys"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_sample_event_is_served() {
        let s = services().await;
        let req =
            lambda_http::request::from_str(include_str!("../../../events/token.json")).unwrap();
        let resp = handle(&s, req).await.unwrap();
        assert_eq!(resp.status(), 200);
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
}
