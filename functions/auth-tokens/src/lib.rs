//! The `auth-tokens` function: OneSpan-style authentication tokens and the sessions they open.

use keygate::http::error_response;
use keygate::{ApiError, Services};
use lambda_http::{Body, Request, Response};

/// Serves one request. Every expected failure is a JSON answer; `Err` never leaves here.
pub async fn handle(_services: &Services, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let _ = req;
    Ok(error_response(&ApiError::not_found("route_unknown", "no such route")))
}
