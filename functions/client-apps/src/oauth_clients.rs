//! OAuth 2.0 clients: the client-app verbs under `/api/oauth2/clients`, with redirect URIs,
//! scopes, the registered domain, public clients (PKCE, no secret), the implicit switch, and the
//! security profile (`standard`, or `fapi2`: PAR, DPoP, no implicit, confidential only).

use keygate_core::accounts::validate_name;
use keygate_core::clients::{
    self, validate_domain, validate_redirect_uris, validate_scopes, Client, ClientKind,
    OAuthSettings, Profile, MAX_GRACE_SECONDS,
};
use keygate_core::identity::Manager;
use keygate_core::kernel::crypto::Secret;
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{empty, json, read_json};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::{audit, list_of, read_rotate};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct OAuthClientIn {
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub implicit: bool,
    /// `standard` (default) or `fapi2`.
    #[serde(default)]
    pub profile: Profile,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// DPoP proofs at the token endpoint must carry a server nonce (RFC 9449 §8).
    #[serde(default)]
    pub require_dpop_nonce: bool,
}

/// Update: every field optional; `public` cannot change (a secret would appear or vanish).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct OAuthClientUpdateIn {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// `null` removes the domain.
    #[serde(default, deserialize_with = "double_option")]
    pub domain: Option<Option<String>>,
    #[serde(default)]
    pub implicit: Option<bool>,
    #[serde(default)]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub require_pushed_authorization_requests: Option<bool>,
    #[serde(default)]
    pub require_dpop_nonce: Option<bool>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

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
    OAuthClientOut {
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

fn check_flows(settings: &OAuthSettings) -> ApiResult<()> {
    if let Some(conflict) = settings.profile_conflict() {
        return Err(ApiError::bad_request("profile_conflict", conflict));
    }
    if settings.public && settings.redirect_uris.is_empty() {
        return Err(ApiError::bad_request(
            "redirect_uris_missing",
            "a public client needs at least one redirect URI",
        ));
    }
    if settings.implicit && settings.redirect_uris.is_empty() {
        return Err(ApiError::bad_request(
            "redirect_uris_missing",
            "the implicit flow needs at least one redirect URI",
        ));
    }
    Ok(())
}

pub async fn create(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    let input: OAuthClientIn = read_json(req)?;
    let (client, secret) = add(s, m, input).await?;
    Ok(json(201, &out(&client, secret)))
}

/// A new OAuth client, with its secret in clear for a confidential one (shown once). The REST
/// route and the console both call this.
pub(crate) async fn add(
    s: &Services,
    m: &Manager,
    input: OAuthClientIn,
) -> ApiResult<(Client, Option<Secret>)> {
    let settings = OAuthSettings {
        redirect_uris: validate_redirect_uris(&input.redirect_uris)?,
        scopes: validate_scopes(&input.scopes)?,
        domain: input.domain.as_deref().map(validate_domain).transpose()?,
        public: input.public,
        implicit: input.implicit,
        profile: input.profile,
        require_pushed_authorization_requests: input.require_pushed_authorization_requests,
        require_dpop_nonce: input.require_dpop_nonce,
    };
    check_flows(&settings)?;
    let name = validate_name("name", &input.name)?;
    let now = s.now();
    let ring = s.keys.ring().await;
    let (mut client, secret) =
        Client::new_oauth(ring.peppers(), m.account.id.clone(), name, settings, now);
    // Its client-credentials tokens act as this user when they mint authentication tokens.
    client.created_by = Some(m.user.id.clone());
    clients::create(
        &*s.table,
        &client,
        vec![audit(m, "oauthClient.create", Some(&client.id), now)?],
    )
    .await?;
    Ok((client, secret))
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

/// A partial update of an OAuth client (fields left out keep their value).
pub(crate) async fn change(
    s: &Services,
    m: &Manager,
    id: &str,
    input: OAuthClientUpdateIn,
) -> ApiResult<Client> {
    let (mut c, rev) = crate::apps::changeable(s, m, ClientKind::OAuth, id).await?;
    let mut settings = c
        .oauth
        .clone()
        .ok_or_else(|| ApiError::not_found("client_unknown", "no such client"))?;
    if let Some(n) = input.name {
        c.name = validate_name("name", &n)?;
    }
    if let Some(u) = input.redirect_uris {
        settings.redirect_uris = validate_redirect_uris(&u)?;
    }
    if let Some(sc) = input.scopes {
        settings.scopes = validate_scopes(&sc)?;
    }
    if let Some(d) = input.domain {
        settings.domain = d.as_deref().map(validate_domain).transpose()?;
    }
    if let Some(i) = input.implicit {
        settings.implicit = i;
    }
    if let Some(p) = input.profile {
        settings.profile = p;
    }
    if let Some(r) = input.require_pushed_authorization_requests {
        settings.require_pushed_authorization_requests = r;
    }
    if let Some(r) = input.require_dpop_nonce {
        settings.require_dpop_nonce = r;
    }
    check_flows(&settings)?;
    let now = s.now();
    c.oauth = Some(settings);
    c.updated_at = now;
    let audit = audit(m, "oauthClient.update", Some(&c.id), now)?;
    clients::save(&*s.table, &c, rev, vec![audit]).await?;
    Ok(c)
}

pub async fn delete(s: &Services, m: &Manager, id: &str) -> ApiResult<Response<Body>> {
    crate::apps::delete_client(s, m, ClientKind::OAuth, id, "oauthClient.revoke").await?;
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

/// "Get new credentials": a new secret, shown once; the old one works for `grace` seconds.
pub(crate) async fn new_credentials(
    s: &Services,
    m: &Manager,
    id: &str,
    grace: i64,
) -> ApiResult<(Client, Secret)> {
    let (mut c, rev) = crate::apps::changeable(s, m, ClientKind::OAuth, id).await?;
    if c.oauth.as_ref().is_some_and(|o| o.public) {
        return Err(ApiError::conflict(
            "client_public",
            "a public client has no secret to rotate",
        ));
    }
    let now = s.now();
    let ring = s.keys.ring().await;
    let secret = c.rotate(ring.peppers(), grace, now);
    let audit = audit(m, "oauthClient.rotate", Some(&c.id), now)?;
    clients::save(&*s.table, &c, rev, vec![audit]).await?;
    Ok((c, secret))
}
