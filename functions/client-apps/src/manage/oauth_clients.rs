//! OAuth 2.0 clients, as both faces use them: what a creation or an update accepts, the flows a
//! profile allows, create, change and new credentials (its creator or the owner), audited.

use keygate_core::accounts::validate_name;
use keygate_core::clients::{
    self, validate_domain, validate_redirect_uris, validate_scopes, Client, ClientKind,
    OAuthSettings, Profile,
};
use keygate_core::identity::Manager;
use keygate_core::kernel::crypto::Secret;
use keygate_core::{ApiError, ApiResult, Services};
use serde::Deserialize;

use crate::manage::audit;

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

pub(crate) fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub(crate) fn check_flows(settings: &OAuthSettings) -> ApiResult<()> {
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

/// A partial update of an OAuth client (fields left out keep their value).
pub(crate) async fn change(
    s: &Services,
    m: &Manager,
    id: &str,
    input: OAuthClientUpdateIn,
) -> ApiResult<Client> {
    let (mut c, rev) = crate::manage::apps::changeable(s, m, ClientKind::OAuth, id).await?;
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

/// "Get new credentials": a new secret, shown once; the old one works for `grace` seconds.
pub(crate) async fn new_credentials(
    s: &Services,
    m: &Manager,
    id: &str,
    grace: i64,
) -> ApiResult<(Client, Secret)> {
    let (mut c, rev) = crate::manage::apps::changeable(s, m, ClientKind::OAuth, id).await?;
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
