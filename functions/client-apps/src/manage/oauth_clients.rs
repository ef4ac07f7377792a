//! OAuth 2.0 clients, as both faces use them: what a creation or an update accepts, the flows a
//! profile allows, how the client authenticates (a secret, or keys for `private_key_jwt`:
//! inline `jwks` or a `jwksUri`), create, change and new credentials (its creator or the owner),
//! audited.

use keygate_core::accounts::validate_name;
use keygate_core::clients::keys::{validate_jwks, validate_jwks_uri};
use keygate_core::clients::{
    self, validate_domain, validate_redirect_uris, validate_scopes, Client, ClientAuthMethod,
    ClientKeys, ClientKind, KeySource, OAuthSettings, Profile,
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
    /// `client_secret_basic` (default; `client_secret_post` is the same secret), `none` (a
    /// public client) or `private_key_jwt` (with `jwks` or `jwksUri`).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<ClientAuthMethod>,
    /// Inline public keys: a JWK Set, at most 5 keys.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its public keys.
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

/// Update: every field optional; `public` cannot change (a secret would appear or vanish). New
/// `jwks` or a new `jwksUri` replace the keys (the tokens obtained with the previous ones
/// stop); given to a client with a secret, they replace the secret (`private_key_jwt` from then
/// on).
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
    /// Only `private_key_jwt` (with keys, given now or already) or the current method.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<ClientAuthMethod>,
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
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

/// The keys a creation or an update gives: `jwks` or `jwksUri` (not both), checked. `None` when
/// neither is given. A `jwksUri` is fetched later ([`check_published`]), when everything else
/// has passed.
fn new_keys(
    jwks: Option<&serde_json::Value>,
    jwks_uri: Option<&str>,
    local_mode: bool,
) -> ApiResult<Option<ClientKeys>> {
    let source = match (jwks, jwks_uri) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "jwks_conflict",
                "give jwks or jwksUri, not both",
            ))
        }
        (Some(set), None) => KeySource::Jwks(validate_jwks(set)?),
        (None, Some(uri)) => KeySource::JwksUri(validate_jwks_uri(uri, local_mode)?),
        (None, None) => return Ok(None),
    };
    Ok(Some(ClientKeys::new(source)))
}

/// New keys at a `jwksUri` (a creation, or a `PUT` naming one, the same URI included): fetched
/// once, and refused unless it publishes a usable key set (`400 jwks_uri_unusable`,
/// [`keygate_http::jwks::check_published`]). The last check before the write.
async fn check_published(s: &Services, keys: Option<&ClientKeys>) -> ApiResult<()> {
    match keys.and_then(ClientKeys::jwks_uri) {
        Some(uri) => keygate_http::jwks::check_published(s, uri).await,
        None => Ok(()),
    }
}

/// Whether `method` (as sent) agrees with the client being public and having keys.
fn check_method(method: Option<ClientAuthMethod>, public: bool, keys: bool) -> ApiResult<()> {
    let conflict = |msg: &'static str| Err(ApiError::bad_request("auth_method_conflict", msg));
    match method {
        None => Ok(()),
        Some(ClientAuthMethod::PrivateKeyJwt) if !keys => Err(ApiError::bad_request(
            "jwks_missing",
            "private_key_jwt needs the client's public keys: jwks or jwksUri",
        )),
        Some(ClientAuthMethod::PrivateKeyJwt) => Ok(()),
        Some(ClientAuthMethod::None) if !public => {
            conflict("tokenEndpointAuthMethod none is a public client: set public")
        }
        Some(ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost)
            if public || keys =>
        {
            conflict("a client secret method is for a confidential client without keys")
        }
        Some(_) => Ok(()),
    }
}

/// A new OAuth client, with its secret in clear for a confidential one without keys (shown
/// once). The REST route and the console both call this.
pub(crate) async fn add(
    s: &Services,
    m: &Manager,
    input: OAuthClientIn,
) -> ApiResult<(Client, Option<Secret>)> {
    let public = input.public || input.token_endpoint_auth_method == Some(ClientAuthMethod::None);
    let keys = new_keys(
        input.jwks.as_ref(),
        input.jwks_uri.as_deref(),
        s.config.local_mode,
    )?;
    check_method(input.token_endpoint_auth_method, public, keys.is_some())?;
    let settings = OAuthSettings {
        redirect_uris: validate_redirect_uris(&input.redirect_uris)?,
        scopes: validate_scopes(&input.scopes)?,
        domain: input.domain.as_deref().map(validate_domain).transpose()?,
        public,
        implicit: input.implicit,
        profile: input.profile,
        require_pushed_authorization_requests: input.require_pushed_authorization_requests,
        require_dpop_nonce: input.require_dpop_nonce,
        keys,
    };
    check_flows(&settings)?;
    let name = validate_name("name", &input.name)?;
    check_published(s, settings.keys.as_ref()).await?;
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
    let keys = new_keys(
        input.jwks.as_ref(),
        input.jwks_uri.as_deref(),
        s.config.local_mode,
    )?;
    let has_keys = keys.is_some() || settings.keys.is_some();
    if let Some(method) = input.token_endpoint_auth_method {
        // `client_secret_post` is the same secret as `client_secret_basic`.
        let secret = |m| match m {
            ClientAuthMethod::ClientSecretPost => ClientAuthMethod::ClientSecretBasic,
            other => other,
        };
        if secret(method) != settings.auth_method() && method != ClientAuthMethod::PrivateKeyJwt {
            return Err(ApiError::bad_request(
                "auth_method_conflict",
                "the authentication method changes only to private_key_jwt (with jwks or jwksUri)",
            ));
        }
        check_method(Some(method), settings.public, has_keys)?;
    }
    let now = s.now();
    if let Some(k) = keys.clone() {
        settings.keys = Some(k);
    }
    check_flows(&settings)?;
    check_published(s, keys.as_ref()).await?;
    c.oauth = Some(settings);
    if let Some(k) = keys {
        // The secret (if any) and the previous keys stop with their tokens.
        c.set_keys(k, now);
    }
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
    if c.keys().is_some() {
        return Err(ApiError::bad_request(
            "client_has_no_secret",
            "this client authenticates with private_key_jwt and has no secret: change its keys (jwks or jwksUri) with PUT /api/oauth2/clients/{clientId}",
        ));
    }
    let now = s.now();
    let ring = s.keys.ring().await;
    let secret = c.rotate(ring.peppers(), grace, now);
    let audit = audit(m, "oauthClient.rotate", Some(&c.id), now)?;
    clients::save(&*s.table, &c, rev, vec![audit]).await?;
    Ok((c, secret))
}
