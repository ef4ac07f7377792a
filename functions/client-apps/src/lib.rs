//! The `client-apps` function: an account's self-service management of its API access, and
//! `GET /api/whoami`.

use keygate::http::{authorizer_principal, error_response, json};
use keygate::{ApiError, Services};
use lambda_http::{Body, Request, Response};

/// Serves one request. Every expected failure is a JSON answer; `Err` never leaves here.
pub async fn handle(_services: &Services, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let resp = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/api/whoami") => whoami(&req),
        _ => error_response(&ApiError::not_found("route_unknown", "no such route")),
    };
    Ok(resp)
}

/// `GET /api/whoami`: the principal the `verify` authorizer passed on, like
/// `sts get-caller-identity`, so an integrator can test any credential.
fn whoami(req: &Request) -> Response<Body> {
    match authorizer_principal(req) {
        Some(p) => json(200, &p),
        None => error_response(&ApiError::unauthorized(
            "principal_missing",
            "no authenticated principal: this route must sit behind the verify authorizer",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate::clock::ManualClock;
    use keygate::config::Config;
    use std::sync::Arc;

    async fn services() -> Services {
        Services::in_memory(Config::local("http://127.0.0.1:3000"), Arc::new(ManualClock::new(1_800_000_000))).await
    }

    fn body(resp: &Response<Body>) -> serde_json::Value {
        let Body::Text(t) = resp.body() else { panic!("text body") };
        serde_json::from_str(t).unwrap()
    }

    #[tokio::test]
    async fn whoami_returns_the_authorizer_principal() {
        let s = services().await;
        let req = lambda_http::request::from_str(include_str!("../../../events/client-apps.json")).unwrap();
        let resp = handle(&s, req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let v = body(&resp);
        assert_eq!(v["subjectType"], "owner");
        assert_eq!(v["authMethod"], "API_KEY");
    }

    #[tokio::test]
    async fn whoami_without_authorizer_is_401() {
        let s = services().await;
        let req = http::Request::builder().uri("/api/whoami").body(Body::Empty).unwrap();
        let resp = handle(&s, req).await.unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(body(&resp)["messageKey"], "error.unauthorised");
    }
}
