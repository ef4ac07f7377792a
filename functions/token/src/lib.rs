//! The `token` function: the OAuth 2.0 authorization server (client credentials, authorization
//! code + PKCE, implicit, refresh, revocation, introspection, discovery, JWKS) and the client-app
//! API token exchange.
//!
//! Client authentication is `Authorization: Basic base64(urlencode(id):urlencode(secret))` only
//! (RFC 6749 §2.3.1): a secret in the body is refused, even where Secured Signing's examples put
//! it there (DESIGN.md is stricter). Public clients name themselves with `client_id` in the body
//! and prove possession with PKCE.

mod apitoken;
mod authorize;
mod client_auth;
mod grants;
mod metadata;
mod revoke;

use keygate::http::{error_response, json};
use keygate::{ApiError, Services};
use lambda_http::{Body, Request, Response};

/// Serves one request. Every expected failure is a JSON (or HTML) answer; `Err` never leaves.
pub async fn handle(
    services: &Services,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
    Ok(keygate::telemetry::observe("token", &method, &path, route(services, req)).await)
}

async fn route(services: &Services, req: Request) -> Response<Body> {
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/.well-known/jwks.json") => jwks(services).await,
        ("GET", "/.well-known/oauth-authorization-server") => metadata::document(services, &req),
        ("POST", "/apitoken/clientApp/accessToken") => apitoken::exchange(services, &req).await,
        ("POST", "/api/oauth2/token") => grants::token(services, &req).await,
        ("GET", "/api/oauth2/authorize") => authorize::show(services, &req).await,
        ("POST", "/api/oauth2/authorize") => authorize::decide(services, &req).await,
        ("POST", "/api/oauth2/revoke") => revoke::revoke(services, &req).await,
        ("POST", "/api/oauth2/introspect") => revoke::introspect(services, &req).await,
        _ => error_response(&ApiError::not_found("route_unknown", "no such route")),
    }
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
mod tests;
