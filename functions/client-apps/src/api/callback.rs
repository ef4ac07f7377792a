//! Event notifications: OneSpan's `/api/callback` (`{url, key, events}`, all events off by
//! default, `DELETE` reverts) is the account's primary endpoint; `/api/callback/endpoints` adds
//! more, each with its own filter and Standard Webhooks signing secret.
//!
//! How deliveries authenticate (OneSpan's `authentication`: `NONE`, `BASIC` with the `key`, or
//! `OAUTH2` with the integrator's client id, secret, authorization server URL and scope) is the
//! owner's to set. Signing secrets and the callback key are shown to the owner only; other
//! managers see the key masked and no secret; the OAuth client secret is write-only, shown
//! masked to everyone.

use keygate_core::identity::Manager;
use keygate_core::kernel::crypto::Peppers;
use keygate_core::notify::endpoints::{
    self, AuthType, Endpoint, DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS,
};
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{empty, json, read_json};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::{list_of, read_rotate};

use crate::manage::callback::*;

/// How deliveries authenticate, as shown: the OAuth client secret always masked.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthenticationOut {
    #[serde(rename = "type")]
    kind: AuthType,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_server_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

impl AuthenticationOut {
    const NONE: Self = Self {
        kind: AuthType::None,
        client_id: None,
        client_secret: None,
        authorization_server_url: None,
        scope: None,
    };

    fn of(ep: &Endpoint, peppers: &Peppers) -> Self {
        let Some(c) = &ep.oauth else {
            return Self {
                kind: ep.auth_type(),
                ..Self::NONE
            };
        };
        Self {
            kind: AuthType::OAuth2,
            client_id: Some(c.client_id.clone()),
            client_secret: Some(masked_oauth_secret(ep, peppers)),
            authorization_server_url: Some(c.authorization_server_url.clone()),
            scope: c.scope.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallbackOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    url: Option<String>,
    key: Option<String>,
    events: Vec<String>,
    authentication: AuthenticationOut,
    signing_secret: Option<keygate_core::kernel::crypto::Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled: Option<keygate_core::notify::endpoints::Disabled>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<i64>,
}

fn out(ep: &Endpoint, m: &Manager, peppers: &Peppers, with_id: bool) -> CallbackOut {
    let key = ep.open_key(peppers).map(|k| {
        if m.may(keygate_core::identity::policy::Action::Owner) {
            k.expose().to_owned()
        } else {
            k.masked()
        }
    });
    CallbackOut {
        id: with_id.then(|| ep.id.to_string()),
        url: Some(ep.url.clone()),
        key,
        events: ep.events.clone(),
        authentication: AuthenticationOut::of(ep, peppers),
        signing_secret: if m.may(keygate_core::identity::policy::Action::Owner) {
            ep.current_secret(peppers)
        } else {
            None
        },
        disabled: ep.disabled.clone(),
        rate_limit: ep.rate_limit,
        created_at: Some(ep.created_at),
        updated_at: Some(ep.updated_at),
    }
}

pub async fn get_primary(s: &Services, m: &Manager) -> ApiResult<Response<Body>> {
    let ring = s.keys.ring().await;
    Ok(match primary(s, m).await? {
        Some((ep, _)) => json(200, &out(&ep, m, ring.peppers(), false)),
        None => json(
            200,
            &CallbackOut {
                id: None,
                url: None,
                key: None,
                events: vec![],
                authentication: AuthenticationOut::NONE,
                signing_secret: None,
                disabled: None,
                rate_limit: None,
                created_at: None,
                updated_at: None,
            },
        ),
    })
}

/// Creates or replaces the callback; replacing keeps the signing secret and re-enables it.
pub async fn put_primary(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    let input: CallbackIn = read_json(req)?;
    let ep = set_primary(s, m, input).await?;
    let ring = s.keys.ring().await;
    Ok(json(200, &out(&ep, m, ring.peppers(), false)))
}

pub async fn delete_primary(s: &Services, m: &Manager) -> ApiResult<Response<Body>> {
    revert_primary(s, m).await?;
    Ok(empty(204))
}

/// `POST /api/callback/secret/rotate {"gracePeriodSeconds"}` (default 24 h, at most 7 days).
pub async fn rotate_primary(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    rotate_endpoint(s, m, Which::Primary, req).await
}

pub async fn list(s: &Services, m: &Manager) -> ApiResult<Response<Body>> {
    let ring = s.keys.ring().await;
    let all = endpoints::list(&*s.table, &m.account.id).await?;
    Ok(list_of(
        all.iter()
            .filter(|(e, _)| !e.primary)
            .map(|(e, _)| out(e, m, ring.peppers(), true))
            .collect(),
    ))
}

pub async fn create(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    let input: CallbackIn = read_json(req)?;
    let ep = add_endpoint(s, m, input).await?;
    let ring = s.keys.ring().await;
    Ok(json(201, &out(&ep, m, ring.peppers(), true)))
}

pub async fn get(s: &Services, m: &Manager, id: &str) -> ApiResult<Response<Body>> {
    let (ep, _) = owned(s, m, id).await?;
    let ring = s.keys.ring().await;
    Ok(json(200, &out(&ep, m, ring.peppers(), true)))
}

pub async fn update(
    s: &Services,
    m: &Manager,
    id: &str,
    req: &Request,
) -> ApiResult<Response<Body>> {
    let input: CallbackIn = read_json(req)?;
    let ep = update_endpoint(s, m, id, input).await?;
    let ring = s.keys.ring().await;
    Ok(json(200, &out(&ep, m, ring.peppers(), true)))
}

pub async fn delete(s: &Services, m: &Manager, id: &str) -> ApiResult<Response<Body>> {
    remove_endpoint(s, m, id).await?;
    Ok(empty(204))
}

pub async fn rotate(
    s: &Services,
    m: &Manager,
    id: &str,
    req: &Request,
) -> ApiResult<Response<Body>> {
    rotate_endpoint(s, m, Which::Extra(id), req).await
}

/// `GET /api/callback/attempts?eventId=…`: every delivery attempt of one of the account's
/// events (status, latency, response code), oldest first.
pub async fn attempts(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    let event_id = keygate_http::query_param(req, "eventId")?.ok_or_else(|| {
        ApiError::bad_request(
            "event_id_missing",
            "the eventId query parameter is required",
        )
    })?;
    if event_id.is_empty()
        || event_id.len() > 128
        || !event_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::bad_request(
            "event_id_malformed",
            "eventId must be 1-128 visible characters",
        ));
    }
    let found = keygate_core::notify::attempts::list(&*s.table, &m.account.id, &event_id).await?;
    Ok(list_of(found))
}

/// `GET /api/callback/events` (no credential): the event catalog — the 24 types, where each comes
/// from, and its label and description in English and French (`keygate_core::notify::events::catalog`).
pub async fn catalog(_: &Services, req: &Request) -> ApiResult<Response<Body>> {
    use keygate_core::notify::events::catalog::{Origin, CATALOG};
    let origin = match keygate_http::query_param(req, "origin")?.as_deref() {
        None => None,
        Some("ACCOUNT") => Some(Origin::Account),
        Some("PARTICIPANT") => Some(Origin::Participant),
        Some("OPERATIONAL") => Some(Origin::Operational),
        Some(_) => {
            return Err(ApiError::bad_request(
                "origin_unknown",
                "origin is ACCOUNT, PARTICIPANT or OPERATIONAL",
            ))
        }
    };
    let events: Vec<_> = CATALOG
        .iter()
        .filter(|e| origin.is_none_or(|o| e.origin == o))
        .collect();
    let mut resp = json(200, &serde_json::json!({ "events": events }));
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(resp)
}

async fn rotate_endpoint(
    s: &Services,
    m: &Manager,
    which: Which<'_>,
    req: &Request,
) -> ApiResult<Response<Body>> {
    let grace = read_rotate(req, DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS)?;
    let (ep, secret) = rotate_signing_secret(s, m, which, grace).await?;
    let previous_expires = ep.secrets.get(1).and_then(|x| x.expires_at);
    Ok(json(
        200,
        &serde_json::json!({ "signingSecret": secret, "previousSecretExpiresAt": previous_expires }),
    ))
}
