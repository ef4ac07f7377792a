//! `POST /api/oauth2/par` (RFC 9126): the client pushes its authorization request, authenticated
//! as at the token endpoint; it is checked exactly as `/authorize` checks one (the same code:
//! [`client_and_redirect`], [`check_flow`]), refused with the same error codes as JSON, and kept
//! for [`PAR_TTL`] seconds. The answer names it by a `request_uri` for `/authorize`.
//!
//! A push may come with a DPoP proof (RFC 9449 §10.1): checked as at the token endpoint, its key
//! becomes the request's `dpop_jkt` — the code it leads to is redeemed only with a proof of that
//! key — and the answer carries a fresh `DPoP-Nonce`.

use keygate_core::kernel::error::OAuthError;
use keygate_core::oauth::dpop::Refused;
use keygate_core::oauth::par::{self, PAR_TTL};
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{json, Form};
use lambda_http::{Body, Request, Response};

use super::request::{check_flow, client_and_redirect, AuthzRequest};
use super::Refusal;
use crate::client_methods::{self, Methods};

/// A refusal `/authorize` would show or redirect, as the OAuth error a pushing client reads.
fn as_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Page(_, _, msg) => ApiError::oauth(OAuthError::InvalidRequest, msg),
        Refusal::Redirect(_, code, msg) => {
            let code = match code {
                "unauthorized_client" => OAuthError::UnauthorizedClient,
                "unsupported_response_type" => OAuthError::UnsupportedResponseType,
                "invalid_scope" => OAuthError::InvalidScope,
                "access_denied" => OAuthError::AccessDenied,
                _ => OAuthError::InvalidRequest,
            };
            ApiError::oauth(code, msg)
        }
        Refusal::Failed(e) => e,
    }
}

/// The path pushed requests are posted to (a proof's `htu` names it).
pub const PAR_PATH: &str = "/api/oauth2/par";

pub async fn push(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let answer = pushed(s, req).await;
    crate::grants::with_nonce(s, req, answer).await
}

async fn pushed(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let form = Form::parse(req)?;
    let authed = client_methods::authenticate(s, req, &form, Methods::ANY).await?;
    if form.get("request_uri").is_some() {
        return Err(ApiError::oauth(
            OAuthError::InvalidRequest,
            "request_uri cannot be pushed",
        ));
    }
    let mut r = AuthzRequest::from_form(&form);
    if r.client_id.is_empty() {
        r.client_id = authed.client.id.clone();
    } else if r.client_id != authed.client.id {
        return Err(ApiError::oauth(
            OAuthError::InvalidRequest,
            "client_id differs from the authenticated client",
        ));
    }
    let (client, _) = client_and_redirect(s, &r).await.map_err(as_error)?;
    let (implicit, _) = check_flow(&client, &r, "", true).map_err(as_error)?;
    if implicit
        && req
            .headers()
            .contains_key(keygate_core::oauth::dpop::HEADER)
    {
        return Err(ApiError::oauth(
            OAuthError::InvalidRequest,
            "a DPoP proof here binds an authorization code: the implicit flow has none",
        ));
    }
    if let Some(jkt) = crate::grants::proof_for(s, req, &client, PAR_PATH).await? {
        if r.dpop_jkt.as_ref().is_some_and(|given| *given != jkt) {
            return Err(
                Refused("dpop_jkt is not the thumbprint of the DPoP proof's key")
                    .at_token_endpoint(),
            );
        }
        r.dpop_jkt = Some(jkt);
    }
    let now = s.now();
    let ring = s.keys.ring().await;
    let request_uri = par::push(&*s.table, ring.peppers(), &client.id, &r, now).await?;
    let mut resp = json(
        201,
        &serde_json::json!({ "request_uri": request_uri, "expires_in": PAR_TTL }),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}
