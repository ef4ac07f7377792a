//! The `token` function: the OAuth 2.0 authorization server (client credentials, authorization
//! code + PKCE, implicit, refresh, pushed authorization requests, DPoP-bound tokens, revocation,
//! introspection, discovery, JWKS) and the client-app API token exchange.
//!
//! Client authentication is `Authorization: Basic base64(urlencode(id):urlencode(secret))`
//! (RFC 6749 §2.3.1) on every route; the authorization-code and refresh grants also take
//! `client_id` + `client_secret` in the form body (`client_secret_post`), as Secured Signing's
//! examples send them, while the client-credentials grant stays Basic-only as OneSpan documents
//! it. Any OAuth client registered with keys authenticates on every route with a client
//! assertion instead (`private_key_jwt`, RFC 7523), and a `fapi2` client only so. Two methods in
//! one request are `invalid_request`. Public clients name themselves with `client_id` in the
//! body and prove possession with PKCE.

/// The DynamoDB actions this function's code makes: it reads clients, accounts, codes, pushed
/// requests and refresh tokens (one batch per bearer token), writes codes, pushed requests,
/// DPoP proof and client assertion claims, refresh tokens and revocations, consumes
/// codes and rotates refresh tokens in transactions, counts failed client authentications. Mirrored
/// by its IAM statement in `template.yaml` (`TokenFunction`), which the routes test compares with
/// this list.
pub const DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:TransactWriteItems",
];

mod apitoken;
mod authorize;
mod client_methods;
mod grants;
mod metadata;
mod revoke;

use keygate_core::{ApiResult, Services};
use keygate_http::handler;
use keygate_http::json;
use keygate_http::routes::{route, Access, Function, Route};
use keygate_http::Dialect::{Html, OAuth, Platform};
use lambda_http::{Body, Request, Response};

/// The function's routes (see `keygate_http::routes`).
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route("GET", "/.well-known/jwks.json", Access::Public, Platform, handler!(jwks, request)),
    route("GET", "/.well-known/oauth-authorization-server", Access::Public, Platform, handler!(metadata::document, request)),
    route("POST", "/apitoken/clientApp/accessToken", Access::Client, Platform, handler!(apitoken::exchange, request)),
    route("POST", "/api/oauth2/token", Access::Client, OAuth, handler!(grants::token, request)),
    route("GET", "/api/oauth2/authorize", Access::Consent, Html, handler!(authorize::show, request)),
    route("POST", "/api/oauth2/authorize", Access::Consent, Html, handler!(authorize::decide, request)),
    route("POST", "/api/oauth2/par", Access::Client, OAuth, handler!(authorize::push, request)),
    route("POST", "/api/oauth2/revoke", Access::Client, OAuth, handler!(revoke::revoke, request)),
    route("POST", "/api/oauth2/introspect", Access::Client, OAuth, handler!(revoke::introspect, request)),
];

pub const FUNCTION: Function = Function {
    name: "token",
    resource: "TokenFunction",
    routes: ROUTES,
};

/// Serves one request. Every expected failure is a JSON (or HTML) answer; `Err` never leaves.
pub async fn handle(
    services: &Services,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(keygate_http::routes::dispatch(&FUNCTION, services, req).await)
}

/// `GET /.well-known/jwks.json`: every public key that can still verify a token.
async fn jwks(services: &Services, _: &Request) -> ApiResult<Response<Body>> {
    let ring = services.keys.ring().await;
    let mut resp = json(200, &ring.jwks(services.now()));
    // Clients may cache the set briefly; a rotation publishes the new key before it signs.
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=300"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests;
