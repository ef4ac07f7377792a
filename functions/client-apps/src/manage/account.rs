//! The account's API key and authentication settings, as both faces use them: masked, revealed
//! (owner), regenerated (owner; a console session moves onto the new key), the settings changed
//! (owner), audited.

use keygate_core::accounts::{self, AuthMethod, AuthSettings};
use keygate_core::identity::Manager;
use keygate_core::kernel::crypto::Secret;
use keygate_core::{ApiError, ApiResult, Services};
use lambda_http::Request;
use serde::Deserialize;

use crate::manage::audit;

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

/// The token endpoint as integrators reach it.
pub fn authorization_server_url(s: &Services, req: &Request) -> String {
    format!("{}/api/oauth2/token", s.config.issuer_for(req.headers()))
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

pub(crate) fn bounded(field: &'static str, v: i64, min: i64, max: i64) -> ApiResult<i64> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::bad_request(
            "setting_out_of_bounds",
            format!("{field} must be between {min} and {max} seconds"),
        ))
    }
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
