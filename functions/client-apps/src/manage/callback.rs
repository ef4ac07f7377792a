//! Event notification endpoints, as both faces use them: what a callback accepts, how its
//! deliveries authenticate (owner-only changes, write-only secrets), the primary callback and the
//! extra endpoints, signing secrets, audited.

use keygate_core::identity::Manager;
use keygate_core::kernel::crypto::Peppers;
use keygate_core::kernel::ids::EndpointId;
use keygate_core::notify::endpoints::{
    self, validate_events, validate_key, validate_oauth, validate_rate_limit, validate_url,
    AuthChange, AuthType, Endpoint, MAX_ENDPOINTS,
};
use keygate_core::ports::store::{Condition, WriteOp};
use keygate_core::{ApiError, ApiResult, Services};
use serde::Deserialize;

use crate::manage::audit;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CallbackIn {
    pub url: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub authentication: Option<AuthenticationIn>,
    /// Most deliveries per second; left out (or `null`), none.
    #[serde(default)]
    pub rate_limit: Option<u64>,
}

/// OneSpan's `authentication` (French edition): `{"type": "NONE" | "BASIC" | "OAUTH2", …}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AuthenticationIn {
    #[serde(rename = "type")]
    pub kind: AuthType,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Write-only; left out (or sent back masked, as `GET` shows it) keeps the current one.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub authorization_server_url: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// The OAuth client secret as `GET` shows it.
pub(crate) fn masked_oauth_secret(ep: &Endpoint, peppers: &Peppers) -> String {
    ep.open_oauth_secret(peppers)
        .map_or_else(|| "****".to_owned(), |s| s.masked())
}

/// What a callback's URL, events and rate limit are, once checked.
#[derive(Clone)]
pub(crate) struct Checked {
    pub url: String,
    pub events: Vec<String>,
    pub rate_limit: Option<u32>,
}

pub(crate) fn check(s: &Services, input: &CallbackIn) -> ApiResult<Checked> {
    Ok(Checked {
        url: validate_url(&input.url, s.config.local_mode)?,
        events: validate_events(&input.events)?,
        rate_limit: validate_rate_limit(input.rate_limit)?,
    })
}

/// What the request says about authentication (`None`: it says nothing — no `key`, no
/// `authentication`). A `key` alone means `BASIC`; a type and fields that disagree are `400`.
pub(crate) fn requested_auth(s: &Services, input: &CallbackIn) -> ApiResult<Option<AuthChange>> {
    let key = input.key.as_deref();
    if let Some(k) = key {
        validate_key(k)?;
    }
    let Some(a) = &input.authentication else {
        return Ok(key.map(|k| AuthChange::Basic(k.to_owned())));
    };
    let conflict = |msg: &'static str| ApiError::bad_request("authentication_conflict", msg);
    let oauth_fields = a.client_id.is_some()
        || a.client_secret.is_some()
        || a.authorization_server_url.is_some()
        || a.scope.is_some();
    let change = match a.kind {
        AuthType::None if key.is_some() || oauth_fields => {
            return Err(conflict(
                "authentication type NONE takes no key and no OAuth fields",
            ))
        }
        AuthType::None => AuthChange::None,
        AuthType::Basic if oauth_fields => {
            return Err(conflict(
                "authentication type BASIC takes the key, not OAuth fields",
            ))
        }
        AuthType::Basic => AuthChange::Basic(key.map(str::to_owned).ok_or_else(|| {
            ApiError::bad_request(
                "callback_key_missing",
                "authentication type BASIC sends the callback key: set key",
            )
        })?),
        AuthType::OAuth2 if key.is_some() => {
            return Err(conflict(
                "authentication type OAUTH2 sends a Bearer token, not the key",
            ))
        }
        AuthType::OAuth2 => validate_oauth(
            a.client_id.as_deref(),
            a.client_secret.as_deref(),
            a.authorization_server_url.as_deref(),
            a.scope.as_deref(),
            s.config.local_mode,
        )?,
    };
    Ok(Some(change))
}

/// The endpoint's current authentication as a change that keeps it.
pub(crate) fn kept(ep: &Endpoint, peppers: &Peppers) -> AuthChange {
    match (&ep.oauth, ep.open_key(peppers)) {
        (Some(c), _) => AuthChange::OAuth2 {
            client_id: c.client_id.clone(),
            client_secret: None,
            authorization_server_url: c.authorization_server_url.clone(),
            scope: c.scope.clone(),
        },
        (None, Some(k)) => AuthChange::Basic(k.expose().to_owned()),
        (None, None) => AuthChange::None,
    }
}

/// A change with what `GET` showed sent back: the masked key or OAuth secret means the current
/// one.
pub(crate) fn unmasked(
    change: AuthChange,
    current: Option<&Endpoint>,
    peppers: &Peppers,
) -> AuthChange {
    let Some(ep) = current else { return change };
    match change {
        AuthChange::Basic(k) => match ep.open_key(peppers) {
            Some(c) if k == c.masked() => AuthChange::Basic(c.expose().to_owned()),
            _ => AuthChange::Basic(k),
        },
        AuthChange::OAuth2 {
            client_id,
            client_secret: Some(secret),
            authorization_server_url,
            scope,
        } if ep.oauth.is_some() && secret == masked_oauth_secret(ep, peppers) => {
            AuthChange::OAuth2 {
                client_id,
                client_secret: None,
                authorization_server_url,
                scope,
            }
        }
        other => other,
    }
}

/// Where events go and how they authenticate is the owner's to change (docs/CREDENTIALS.md): a manager who could point the callback at their own server, or its token requests at
/// theirs, would receive events signed with the owner's secret. Another manager may change the
/// event filter only: the URL must be the current one, and the authentication left out or sent
/// back as it was shown. Returns the authentication to store (for the owner, saying nothing
/// means none, as a `PUT` replaces the callback).
pub(crate) fn authentication(
    m: &Manager,
    peppers: &Peppers,
    current: Option<&Endpoint>,
    url: &str,
    requested: Option<AuthChange>,
) -> ApiResult<AuthChange> {
    let requested = requested.map(|c| unmasked(c, current, peppers));
    if m.may(keygate_core::identity::policy::Action::Owner) {
        return Ok(requested.unwrap_or(AuthChange::None));
    }
    let refused = || {
        ApiError::forbidden(
            "callback_owner_only",
            "only the account owner may set or change a callback's URL or authentication",
        )
    };
    let current = current.ok_or_else(refused)?;
    let keep = kept(current, peppers);
    if current.url != url || requested.is_some_and(|r| r != keep) {
        return Err(refused());
    }
    Ok(keep)
}

/// The account's primary (OneSpan) callback, if set.
pub(crate) async fn primary(s: &Services, m: &Manager) -> ApiResult<Option<(Endpoint, u64)>> {
    Ok(endpoints::list(&*s.table, &m.account.id)
        .await?
        .into_iter()
        .find(|(e, _)| e.primary))
}

/// Which of the account's endpoints a change is about.
#[derive(Clone, Copy)]
pub(crate) enum Which<'a> {
    /// The primary callback (`404 callback_unset` when there is none).
    Primary,
    /// An extra endpoint by its id (`404 endpoint_unknown`).
    Extra(&'a str),
}

/// The endpoint `which` names, with its revision.
pub(crate) async fn find(
    s: &Services,
    m: &Manager,
    which: Which<'_>,
) -> ApiResult<(Endpoint, u64)> {
    match which {
        Which::Primary => primary(s, m)
            .await?
            .ok_or_else(|| ApiError::not_found("callback_unset", "no callback is configured")),
        Which::Extra(id) => owned(s, m, id).await,
    }
}

pub(crate) async fn owned(s: &Services, m: &Manager, id: &str) -> ApiResult<(Endpoint, u64)> {
    let unknown = || ApiError::not_found("endpoint_unknown", "no such endpoint");
    let id = EndpointId::parse(id).map_err(|_| unknown())?;
    match endpoints::get(&*s.table, &m.account.id, &id).await? {
        Some((ep, rev)) if !ep.primary => Ok((ep, rev)),
        _ => Err(unknown()),
    }
}

/// What a new endpoint is made of.
pub(crate) struct NewEndpoint {
    primary: bool,
    url: String,
    auth: AuthChange,
    events: Vec<String>,
    rate_limit: Option<u32>,
}

/// Creates an endpoint (the account's limit permitting) with its audit record.
pub(crate) async fn create_endpoint(
    s: &Services,
    m: &Manager,
    peppers: &Peppers,
    new: NewEndpoint,
    action: &str,
) -> ApiResult<Endpoint> {
    if endpoints::list(&*s.table, &m.account.id).await?.len() >= MAX_ENDPOINTS {
        return Err(ApiError::conflict(
            "endpoints_limit",
            "the account has too many endpoints",
        ));
    }
    let (mut ep, _) = Endpoint::new(
        peppers,
        m.account.id.clone(),
        new.primary,
        new.url,
        None,
        new.events,
        s.now(),
    );
    ep.authenticate_with(peppers, new.auth)?;
    ep.rate_limit = new.rate_limit;
    save(s, m, &ep, None, action).await?;
    Ok(ep)
}

/// Writes an endpoint and its audit record together; a lost race is a `409`.
pub(crate) async fn save(
    s: &Services,
    m: &Manager,
    ep: &Endpoint,
    rev: Option<u64>,
    action: &str,
) -> ApiResult<()> {
    keygate_core::kernel::error::conflict_on_race(
        s.table
            .transact(vec![
                ep.write(rev)?,
                audit(m, action, Some(ep.id.as_str()), s.now())?,
            ])
            .await,
        "the endpoint changed meanwhile: try again",
    )
}

pub(crate) async fn remove(
    s: &Services,
    m: &Manager,
    ep: &Endpoint,
    rev: u64,
    action: &str,
) -> ApiResult<()> {
    keygate_core::kernel::error::conflict_on_race(
        s.table
            .transact(vec![
                WriteOp::Delete(
                    endpoints::endpoint_key(&ep.account_id, &ep.id),
                    Condition::Revision(rev),
                ),
                audit(m, action, Some(ep.id.as_str()), s.now())?,
            ])
            .await,
        "the endpoint changed meanwhile: try again",
    )
}

/// Sets the primary callback (the REST route and the console call this).
pub(crate) async fn set_primary(
    s: &Services,
    m: &Manager,
    input: CallbackIn,
) -> ApiResult<Endpoint> {
    put(s, m, Which::Primary, input).await
}

/// Updates an extra endpoint (`PUT /api/callback/endpoints/{id}`).
pub(crate) async fn update_endpoint(
    s: &Services,
    m: &Manager,
    id: &str,
    input: CallbackIn,
) -> ApiResult<Endpoint> {
    put(s, m, Which::Extra(id), input).await
}

/// A `PUT` of the endpoint `which`: its settings replaced (and, for the primary callback, the
/// callback created when there is none).
async fn put(
    s: &Services,
    m: &Manager,
    which: Which<'_>,
    input: CallbackIn,
) -> ApiResult<Endpoint> {
    let checked = check(s, &input)?;
    let requested = requested_auth(s, &input)?;
    let (checked, requested) = (&checked, &requested);
    changing(|| async move {
        let ring = s.keys.ring().await;
        let current = match which {
            Which::Primary => primary(s, m).await?,
            Which::Extra(id) => Some(owned(s, m, id).await?),
        };
        let auth = authentication(
            m,
            ring.peppers(),
            current.as_ref().map(|(e, _)| e),
            &checked.url,
            requested.clone(),
        )?;
        let Some((mut ep, rev)) = current else {
            let new = NewEndpoint {
                primary: true,
                url: checked.url.clone(),
                auth,
                events: checked.events.clone(),
                rate_limit: checked.rate_limit,
            };
            return create_endpoint(s, m, ring.peppers(), new, "callback.create").await;
        };
        let enabled = apply(&mut ep, ring.peppers(), checked.clone(), auth, s.now())?;
        let action = if ep.primary {
            "callback.update"
        } else {
            "endpoint.update"
        };
        save(s, m, &ep, Some(rev), action).await?;
        if enabled {
            crate::manage::messages::recovered(s, &ep).await;
        }
        Ok(ep)
    })
    .await
}

/// How many times a manager's read–change–write of an endpoint is tried (see [`changing`]).
const TRIES: u32 = 3;

/// Runs `op` — a manager's read of an endpoint, its change and the conditional write — again when
/// the write lost a race (`409 concurrent_change`), on the endpoint as it is stored by then. The
/// webhooks function writes an endpoint's health (`failingSince`, `disabled`) whenever a delivery
/// to it fails, and a manager's edit must not fail because a delivery did meanwhile: what the
/// manager asked for (new settings, a removal, a new signing secret) is made on what is stored
/// now — a `PUT` re-enables, as it does without a race. Each try is the whole read, change and
/// write, so nothing of a lost try stays. Three lost races in a row leave the `409`.
pub(crate) async fn changing<T, Fut>(mut op: impl FnMut() -> Fut) -> ApiResult<T>
where
    Fut: std::future::Future<Output = ApiResult<T>>,
{
    let mut tries = 1;
    loop {
        match op().await {
            Err(e) if e.reason == "concurrent_change" && tries < TRIES => tries += 1,
            done => return done,
        }
    }
}

/// Applies a `PUT`: returns whether it enabled a disabled endpoint again (the account hears it:
/// `CALLBACK_ENDPOINT_RECOVERED`).
pub(crate) fn apply(
    ep: &mut Endpoint,
    peppers: &Peppers,
    checked: Checked,
    auth: AuthChange,
    now: i64,
) -> ApiResult<bool> {
    ep.authenticate_with(peppers, auth)?;
    ep.url = checked.url;
    ep.events = checked.events;
    ep.rate_limit = checked.rate_limit;
    // A PUT is how an operator re-enables an endpoint that delivery disabled.
    let enabled = ep.disabled.take().is_some();
    ep.failing_since = None;
    ep.updated_at = now;
    Ok(enabled)
}

/// OneSpan's REVERT: the callback goes (and with it every event subscription).
pub(crate) async fn revert_primary(s: &Services, m: &Manager) -> ApiResult<()> {
    changing(|| async {
        if let Some((ep, rev)) = primary(s, m).await? {
            remove(s, m, &ep, rev, "callback.delete").await?;
        }
        Ok(())
    })
    .await
}

/// A new signing secret for `ep`, the others signing for `grace` more seconds; the owner only
/// (`403 secret_owner_only`).
pub(crate) async fn rotate_signing_secret(
    s: &Services,
    m: &Manager,
    which: Which<'_>,
    grace: i64,
) -> ApiResult<(Endpoint, keygate_core::kernel::crypto::Secret)> {
    changing(|| async {
        let (mut ep, rev) = find(s, m, which).await?;
        if !m.may(keygate_core::identity::policy::Action::Owner) {
            return Err(ApiError::forbidden(
                "secret_owner_only",
                "only the account owner may rotate signing secrets",
            ));
        }
        let ring = s.keys.ring().await;
        let secret = ep.rotate_secret(ring.peppers(), grace, s.now());
        save(s, m, &ep, Some(rev), "callback.secret.rotate").await?;
        Ok((ep, secret))
    })
    .await
}

/// A new extra endpoint (the REST route and the console call this).
pub(crate) async fn add_endpoint(
    s: &Services,
    m: &Manager,
    input: CallbackIn,
) -> ApiResult<Endpoint> {
    let checked = check(s, &input)?;
    let requested = requested_auth(s, &input)?;
    let ring = s.keys.ring().await;
    let auth = authentication(m, ring.peppers(), None, &checked.url, requested)?;
    let new = NewEndpoint {
        primary: false,
        url: checked.url,
        auth,
        events: checked.events,
        rate_limit: checked.rate_limit,
    };
    create_endpoint(s, m, ring.peppers(), new, "endpoint.create").await
}

/// Deletes an extra endpoint of the account.
pub(crate) async fn remove_endpoint(s: &Services, m: &Manager, id: &str) -> ApiResult<()> {
    changing(|| async {
        let (ep, rev) = owned(s, m, id).await?;
        remove(s, m, &ep, rev, "endpoint.delete").await
    })
    .await
}
