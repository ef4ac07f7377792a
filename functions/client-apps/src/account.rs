//! The account's API key (`GET /api/account/apiKey`, `POST /api/account/apiKey/regenerate`) and
//! authentication settings (`GET/PUT /api/account/authSettings`).

use keygate_core::accounts::{self, AuthMethod, AuthSettings};
use keygate_core::identity::Manager;
use keygate_core::kernel::crypto::Secret;
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{json, query_param, read_json};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::audit;

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

/// The caller's API key as shown: `****` + its last 4 characters.
pub(crate) fn masked_key(m: &Manager) -> String {
    format!("****{}", m.user.api_key_last4)
}

/// The caller's API key in clear: the owner only (`403 reveal_owner_only`).
pub(crate) async fn reveal_key(s: &Services, m: &Manager) -> ApiResult<Secret> {
    if !m.may(keygate_core::identity::policy::Action::Owner) {
        return Err(ApiError::forbidden(
            "reveal_owner_only",
            "only the account owner may reveal the API key",
        ));
    }
    let ring = s.keys.ring().await;
    m.user.reveal_api_key(ring.peppers()).ok_or_else(|| {
        ApiError::conflict(
            "reveal_unavailable",
            "this key can no longer be revealed: regenerate it",
        )
    })
}

/// A new key for the caller, shown once; the old one stops working at once.
pub async fn regenerate(s: &Services, m: &Manager) -> ApiResult<Response<Body>> {
    let key = regenerate_key(s, m).await?;
    Ok(json(200, &serde_json::json!({ "apiKey": key })))
}

/// The caller's new API key, in clear (shown once). The REST route and the console call this.
pub(crate) async fn regenerate_key(s: &Services, m: &Manager) -> ApiResult<Secret> {
    let now = s.now();
    let ring = s.keys.ring().await;
    // A console session regenerating its own user's key moves onto the new key in the same
    // transaction; everything else the old key minted stops (revocation flows down). A session
    // that could not move (one minted through another session, or gone meanwhile) would lose the
    // new key with itself: it is refused, and nothing changes.
    let session = match m.principal.origin.as_ref().and_then(|o| o.session.as_ref()) {
        Some((hash, _)) => Some(keygate_core::authtokens::session_item(&*s.table, hash).await?),
        None => None,
    };
    let cannot_move = || {
        ApiError::conflict(
            "regenerate_from_own_session",
            "regenerate the API key from a session opened with a token that key minted, or with the key itself",
        )
    };
    let audit = audit(m, "apiKey.regenerate", Some(m.user.id.as_str()), now)?;
    let (_, key) = accounts::regenerate_api_key(&*s.table, ring.peppers(), &m.user, |new_key| {
        let mut ops = vec![audit];
        match &session {
            None => {}
            Some(None) => return Err(cannot_move()),
            Some(Some(item)) => ops.push(
                keygate_core::authtokens::rekeyed_session(item, &m.user.id, new_key)?
                    .ok_or_else(cannot_move)?,
            ),
        }
        Ok(ops)
    })
    .await?;
    Ok(key)
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

/// The token endpoint as integrators reach it.
pub fn authorization_server_url(s: &Services, req: &Request) -> String {
    format!("{}/api/oauth2/token", s.config.issuer_for(req.headers()))
}

pub async fn settings(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    settings_out(s, &m.account.settings, req)
}

/// Partial update: fields left out keep their value.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SettingsIn {
    #[serde(default)]
    pub method: Option<AuthMethod>,
    #[serde(default)]
    pub api_token_ttl_seconds: Option<i64>,
    #[serde(default)]
    pub oauth_token_ttl_seconds: Option<i64>,
    #[serde(default)]
    pub auth_token_ttl_seconds: Option<i64>,
    #[serde(default)]
    pub roles_and_permissions: Option<bool>,
    /// Read-only: accepted when it is sent back unchanged (a GET-modify-PUT client).
    #[serde(default)]
    pub authorization_server_url: Option<String>,
}

fn bounded(field: &'static str, v: i64, min: i64, max: i64) -> ApiResult<i64> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::bad_request(
            "setting_out_of_bounds",
            format!("{field} must be between {min} and {max} seconds"),
        ))
    }
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

/// A partial update of the settings, by the owner only (`403 settings_owner_only`); the REST
/// route and the console call this.
pub(crate) async fn change_settings(
    s: &Services,
    m: &Manager,
    input: SettingsIn,
) -> ApiResult<AuthSettings> {
    if !m.may(keygate_core::identity::policy::Action::Owner) {
        return Err(ApiError::forbidden(
            "settings_owner_only",
            "only the account owner may change authentication settings",
        ));
    }
    let cur = &m.account.settings;
    let next = AuthSettings {
        method: input.method.unwrap_or(cur.method),
        api_token_ttl_seconds: bounded(
            "apiTokenTtlSeconds",
            input
                .api_token_ttl_seconds
                .unwrap_or(cur.api_token_ttl_seconds),
            60,
            86_400,
        )?,
        oauth_token_ttl_seconds: bounded(
            "oauthTokenTtlSeconds",
            input
                .oauth_token_ttl_seconds
                .unwrap_or(cur.oauth_token_ttl_seconds),
            60,
            86_400,
        )?,
        auth_token_ttl_seconds: bounded(
            "authTokenTtlSeconds",
            input
                .auth_token_ttl_seconds
                .unwrap_or(cur.auth_token_ttl_seconds),
            60,
            86_400,
        )?,
        roles_and_permissions: input
            .roles_and_permissions
            .unwrap_or(cur.roles_and_permissions),
    };
    let now = s.now();
    let account = accounts::update_settings(
        &*s.table,
        &m.account.id,
        next,
        vec![audit(m, "authSettings.update", None, now)?],
    )
    .await?;
    Ok(account.settings)
}
