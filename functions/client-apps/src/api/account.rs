//! The account's API key (`GET /api/account/apiKey`, `POST /api/account/apiKey/regenerate`) and
//! authentication settings (`GET/PUT /api/account/authSettings`).

use keygate_core::accounts::AuthSettings;
use keygate_core::identity::Manager;
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{json, query_param, read_json};
use lambda_http::{Body, Request, Response};

use crate::manage::account::*;

/// The caller's own API key, masked (`****` + last 4) unless `?reveal=true`, which only the owner
/// may ask for.
pub async fn api_key(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    let reveal = match query_param(req, "reveal")?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "reveal_invalid",
                "reveal must be true or false",
            ))
        }
    };
    if !reveal {
        return Ok(json(
            200,
            &serde_json::json!({ "apiKey": masked_key(m), "masked": true }),
        ));
    }
    let key = reveal_key(s, m).await?;
    Ok(json(
        200,
        &serde_json::json!({ "apiKey": key, "masked": false }),
    ))
}

/// A new key for the caller, shown once; the old one stops working at once.
pub async fn regenerate(s: &Services, m: &Manager) -> ApiResult<Response<Body>> {
    let key = regenerate_key(s, m).await?;
    Ok(json(200, &serde_json::json!({ "apiKey": key })))
}

/// The settings as shown: with `authorizationServerUrl`, read-only, the token endpoint
/// integrators configure (OneSpan's "Authentication Server URL", visible at all times; the same
/// as the discovery document's `token_endpoint`).
fn settings_out(s: &Services, settings: &AuthSettings, req: &Request) -> ApiResult<Response<Body>> {
    let mut v = serde_json::to_value(settings).map_err(ApiError::internal)?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "authorizationServerUrl".into(),
            serde_json::Value::String(authorization_server_url(s, req)),
        );
    }
    Ok(json(200, &v))
}

pub async fn settings(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    settings_out(s, &m.account.settings, req)
}

/// Settings decide who may manage the account, so only the owner changes them.
pub async fn update_settings(
    s: &Services,
    m: &Manager,
    req: &Request,
) -> ApiResult<Response<Body>> {
    let input: SettingsIn = read_json(req)?;
    if input
        .authorization_server_url
        .as_deref()
        .is_some_and(|u| u != authorization_server_url(s, req))
    {
        return Err(ApiError::bad_request(
            "read_only_field",
            "authorizationServerUrl is provided by keygate and cannot be changed",
        ));
    }
    let settings = change_settings(s, m, input).await?;
    settings_out(s, &settings, req)
}
