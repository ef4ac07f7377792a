//! OAuth 2.0 clients: the client-app verbs under `/api/oauth2/clients`, with redirect URIs,
//! scopes, the registered domain, public clients (PKCE, no secret), clients with keys
//! (`private_key_jwt`: `jwks` or `jwksUri`, no secret), the implicit switch, and the security
//! profile (`standard`, or `fapi2`: PAR, DPoP, `private_key_jwt`, no implicit, confidential
//! only).

use keygate_core::clients::{self, Client, ClientKind, MAX_GRACE_SECONDS};
use keygate_core::identity::Manager;
use keygate_core::{ApiResult, Services};
use keygate_http::{empty, json, read_json};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::{list_of, read_rotate};

use crate::manage::oauth_clients::*;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OAuthClientOut {
    client_id: String,
    name: String,
    redirect_uris: Vec<String>,
    scopes: Vec<String>,
    domain: Option<String>,
    public: bool,
    implicit: bool,
    profile: &'static str,
    /// In force: set on the client, or implied by `fapi2`.
    require_pushed_authorization_requests: bool,
    require_dpop_nonce: bool,
    /// `client_secret_basic`, `private_key_jwt` or `none`.
    token_endpoint_auth_method: &'static str,
    /// The registered public keys (`private_key_jwt`, inline).
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    created_at: i64,
    updated_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_expires_at: Option<i64>,
    /// Creation and rotation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<keygate_core::kernel::crypto::Secret>,
}

fn out(c: &Client, secret: Option<keygate_core::kernel::crypto::Secret>) -> OAuthClientOut {
    let o = c.oauth.clone().unwrap_or_default();
    let (profile, par) = (o.profile.as_str(), o.requires_par());
    let keys = o.keys.as_ref();
    OAuthClientOut {
        token_endpoint_auth_method: o.auth_method().as_str(),
        jwks: keys
            .and_then(|k| k.inline())
            .map(|set| serde_json::json!({ "keys": set })),
        jwks_uri: keys.and_then(|k| k.jwks_uri()).map(str::to_owned),
        profile,
        require_pushed_authorization_requests: par,
        require_dpop_nonce: o.require_dpop_nonce,
        client_id: c.id.clone(),
        name: c.name.clone(),
        redirect_uris: o.redirect_uris,
        scopes: o.scopes,
        domain: o.domain,
        public: o.public,
        implicit: o.implicit,
        created_at: c.created_at,
        updated_at: c.updated_at,
        previous_secret_expires_at: c.secrets.get(1).and_then(|s| s.expires_at),
        client_secret: secret,
    }
}

pub async fn create(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    let input: OAuthClientIn = read_json(req)?;
    let (client, secret) = add(s, m, input).await?;
    Ok(json(201, &out(&client, secret)))
}

pub async fn list(s: &Services, m: &Manager) -> ApiResult<Response<Body>> {
    let all = clients::list(&*s.table, &m.account.id, ClientKind::OAuth).await?;
    Ok(list_of(all.iter().map(|c| out(c, None)).collect()))
}

pub async fn get(s: &Services, m: &Manager, id: &str) -> ApiResult<Response<Body>> {
    let (c, _) = clients::get_owned(&*s.table, &m.account.id, ClientKind::OAuth, id).await?;
    Ok(json(200, &out(&c, None)))
}

pub async fn update(
    s: &Services,
    m: &Manager,
    id: &str,
    req: &Request,
) -> ApiResult<Response<Body>> {
    let input: OAuthClientUpdateIn = read_json(req)?;
    let c = change(s, m, id, input).await?;
    Ok(json(200, &out(&c, None)))
}

pub async fn delete(s: &Services, m: &Manager, id: &str) -> ApiResult<Response<Body>> {
    crate::manage::apps::delete_client(s, m, ClientKind::OAuth, id, "oauthClient.revoke").await?;
    Ok(empty(204))
}

/// `POST /api/oauth2/clients/{clientId}/rotate`.
pub async fn rotate(
    s: &Services,
    m: &Manager,
    id: &str,
    req: &Request,
) -> ApiResult<Response<Body>> {
    let grace = read_rotate(req, 0, MAX_GRACE_SECONDS)?;
    let (c, secret) = new_credentials(s, m, id, grace).await?;
    Ok(json(200, &out(&c, Some(secret))))
}
