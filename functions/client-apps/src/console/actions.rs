//! The console's routes: each page view reads through the domain, each form post calls the same
//! function as its REST route, then answers `303` back to its page (see [`super::Console::done`]).

use keygate_core::clients::{self, ClientKind, Profile};
use keygate_core::notify::endpoints::{self, AuthType};
use keygate_core::notify::messages::Filter;
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::routes::Params;
use lambda_http::{Body, Request, Response};

use super::pages::{self, ApiAccessView, EventsView, Page};
use super::{Console, ConsoleForm, Flash};
use crate::manage::callback::{AuthenticationIn, CallbackIn};
use crate::manage::messages::Recovered;
use crate::manage::oauth_clients::{OAuthClientIn, OAuthClientUpdateIn};
use crate::manage::{account, apps, callback, messages, oauth_clients};

/// How many messages the Event Notification page lists.
const RECENT_MESSAGES: usize = 25;

/// Opens a page view, or answers the refusal page.
macro_rules! view {
    ($s:expr, $req:expr) => {
        match Console::get($s, $req).await? {
            super::Opened::Ready(v) => v,
            super::Opened::Refused(page) => return Ok(page),
        }
    };
}

/// Opens a form post, or answers the refusal page.
macro_rules! post {
    ($s:expr, $req:expr) => {
        match Console::post($s, $req).await? {
            super::Opened::Ready(v) => v,
            super::Opened::Refused(page) => return Ok(page),
        }
    };
}

fn done(what: &'static str) -> Option<Flash> {
    Some(Flash::Done {
        what: what.to_owned(),
    })
}

// ------------------------------------------------------------------------------ API Access

pub async fn api_access(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, flash) = view!(s, req);
    let reveal = keygate_http::query_param(req, "reveal")?.as_deref() == Some("true");
    let (api_key, revealed) = if reveal {
        match account::reveal_key(s, &c.m).await {
            Ok(k) => (k.expose().to_owned(), true),
            Err(e) if e.is_outage() => return Err(e),
            Err(_) => (account::masked_key(&c.m), false),
        }
    } else {
        (account::masked_key(&c.m), false)
    };
    let table = &*s.table;
    let apps = clients::list(table, &c.m.account.id, ClientKind::App).await?;
    let oauth_clients = clients::list(table, &c.m.account.id, ClientKind::OAuth).await?;
    let token_endpoint = account::authorization_server_url(s, req);
    let view = ApiAccessView {
        api_key: &api_key,
        revealed,
        apps: &apps,
        oauth_clients: &oauth_clients,
        token_endpoint: &token_endpoint,
    };
    Ok(pages::api_access(&c, flash.as_ref(), &view))
}

pub async fn regenerate_api_key(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let result = async {
        if !form.checked("confirm") {
            return Err(ApiError::bad_request(
                "confirmation_missing",
                "tick the confirmation to regenerate the API key",
            ));
        }
        let key = account::regenerate_key(s, &c.m).await?;
        Ok(Some(Flash::ApiKey {
            key: key.expose().to_owned(),
        }))
    }
    .await;
    c.done(s, Page::ApiAccess.path(), result).await
}

/// A client app's new secret, for the page that shows it once.
fn shown_once(
    (app, secret): (
        keygate_core::clients::Client,
        keygate_core::kernel::crypto::Secret,
    ),
) -> Option<Flash> {
    Some(Flash::ClientApp {
        client_id: app.id,
        secret: secret.expose().to_owned(),
    })
}

pub async fn add_client_app(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let result = apps::add(s, &c.m, form.get("name").unwrap_or_default())
        .await
        .map(shown_once);
    c.done(s, Page::ApiAccess.path(), result).await
}

pub async fn rotate_client_app(
    s: &Services,
    req: &Request,
    p: Params<'_>,
) -> ApiResult<Response<Body>> {
    let (c, _) = post!(s, req);
    let result = apps::rotate_secret(s, &c.m, p.require("clientId")?, 0)
        .await
        .map(shown_once);
    c.done(s, Page::ApiAccess.path(), result).await
}

pub async fn revoke_client_app(
    s: &Services,
    req: &Request,
    p: Params<'_>,
) -> ApiResult<Response<Body>> {
    revoke(s, req, p, ClientKind::App, "clientApp.revoke").await
}

/// Revokes (deletes) a client of `kind`, audited as `action`; back to API Access.
async fn revoke(
    s: &Services,
    req: &Request,
    p: Params<'_>,
    kind: ClientKind,
    action: &str,
) -> ApiResult<Response<Body>> {
    let (c, _) = post!(s, req);
    let id = p.require("clientId")?;
    let result = apps::delete_client(s, &c.m, kind, id, action).await;
    let w = c.lang.words();
    c.done(
        s,
        Page::ApiAccess.path(),
        result.map(|()| done(w.done_title)),
    )
    .await
}

/// Redirect URIs as typed in the textarea: one per line.
fn lines(form: &ConsoleForm, name: &str) -> Vec<String> {
    form.get(name)
        .map(|v| {
            v.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The public keys a form gives (`private_key_jwt`): the JWK Set pasted as JSON, or the URL the
/// client publishes it at; each left empty is absent.
fn form_keys(form: &ConsoleForm) -> ApiResult<(Option<serde_json::Value>, Option<String>)> {
    let jwks = form
        .get("jwks")
        .map(|text| {
            serde_json::from_str(text).map_err(|_| {
                ApiError::bad_request(
                    "jwks_invalid",
                    "the public keys must be a JWK Set in JSON: {\"keys\": [...]}",
                )
            })
        })
        .transpose()?;
    Ok((jwks, form.get("jwksUri").map(str::to_owned)))
}

pub async fn add_oauth_client(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let (jwks, jwks_uri) = match form_keys(&form) {
        Ok(keys) => keys,
        Err(e) => return c.done(s, Page::ApiAccess.path(), Err(e)).await,
    };
    let input = OAuthClientIn {
        token_endpoint_auth_method: None,
        jwks,
        jwks_uri,
        name: form.get("name").unwrap_or_default().to_owned(),
        redirect_uris: lines(&form, "redirectUris"),
        scopes: form.all("scopes"),
        domain: form.get("domain").map(str::to_owned),
        public: form.checked("public"),
        implicit: false,
        profile: if form.checked("fapi2") {
            Profile::Fapi2
        } else {
            Profile::Standard
        },
        require_pushed_authorization_requests: false,
        require_dpop_nonce: false,
    };
    let result = oauth_clients::add(s, &c.m, input)
        .await
        .map(|(client, secret)| {
            Some(Flash::OAuthClient {
                client_id: client.id,
                secret: secret.map(|x| x.expose().to_owned()),
            })
        });
    c.done(s, Page::ApiAccess.path(), result).await
}

pub async fn update_oauth_client(
    s: &Services,
    req: &Request,
    p: Params<'_>,
) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let (jwks, jwks_uri) = match form_keys(&form) {
        Ok(keys) => keys,
        Err(e) => return c.done(s, Page::ApiAccess.path(), Err(e)).await,
    };
    let input = OAuthClientUpdateIn {
        jwks,
        jwks_uri,
        redirect_uris: Some(lines(&form, "redirectUris")),
        scopes: Some(form.all("scopes")),
        domain: Some(form.get("domain").map(str::to_owned)),
        ..OAuthClientUpdateIn::default()
    };
    let result = oauth_clients::change(s, &c.m, p.require("clientId")?, input).await;
    let w = c.lang.words();
    c.done(
        s,
        Page::ApiAccess.path(),
        result.map(|_| done(w.done_title)),
    )
    .await
}

pub async fn new_oauth_credentials(
    s: &Services,
    req: &Request,
    p: Params<'_>,
) -> ApiResult<Response<Body>> {
    let (c, _) = post!(s, req);
    let result = oauth_clients::new_credentials(s, &c.m, p.require("clientId")?, 0)
        .await
        .map(|(client, secret)| {
            Some(Flash::OAuthClient {
                client_id: client.id,
                secret: Some(secret.expose().to_owned()),
            })
        });
    c.done(s, Page::ApiAccess.path(), result).await
}

pub async fn delete_oauth_client(
    s: &Services,
    req: &Request,
    p: Params<'_>,
) -> ApiResult<Response<Body>> {
    revoke(s, req, p, ClientKind::OAuth, "oauthClient.revoke").await
}

// --------------------------------------------------------------------- Authentication

pub async fn authentication(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, flash) = view!(s, req);
    Ok(pages::authentication(&c, flash.as_ref()))
}

pub async fn save_authentication(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let method = match form.get("method") {
        Some("API_KEY") => Ok(keygate_core::accounts::AuthMethod::ApiKey),
        Some("OAUTH2") => Ok(keygate_core::accounts::AuthMethod::OAuth2),
        _ => Err(ApiError::bad_request(
            "method_invalid",
            "choose an authentication method",
        )),
    };
    let result = match method {
        Ok(method) => {
            let input = account::SettingsIn {
                method: Some(method),
                ..account::SettingsIn::default()
            };
            account::change_settings(s, &c.m, input).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    let w = c.lang.words();
    c.done(
        s,
        Page::Authentication.path(),
        result.map(|()| done(w.settings_saved)),
    )
    .await
}

// ------------------------------------------------------------------ Event Notification

pub async fn event_notifications(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, flash) = view!(s, req);
    let ring = s.keys.ring().await;
    let peppers = ring.peppers();
    let all = endpoints::list(&*s.table, &c.m.account.id).await?;
    let primary = all.iter().map(|(e, _)| e).find(|e| e.primary);
    let extra: Vec<_> = all
        .iter()
        .map(|(e, _)| e)
        .filter(|e| !e.primary)
        .cloned()
        .collect();
    let owner = c.m.may(keygate_core::identity::policy::Action::Owner);
    let key = primary.and_then(|e| e.open_key(peppers)).map(|k| {
        if owner {
            k.expose().to_owned()
        } else {
            k.masked()
        }
    });
    let oauth_secret = primary
        .filter(|e| e.oauth.is_some())
        .map(|e| callback::masked_oauth_secret(e, peppers));
    let signing_secret = primary
        .filter(|_| owner)
        .and_then(|e| e.current_secret(peppers))
        .map(|x| x.expose().to_owned());
    let filter = Filter {
        limit: RECENT_MESSAGES,
        ..Filter::default()
    };
    let recent = keygate_core::notify::messages::list(
        &*s.table,
        &c.m.account.id,
        &all.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>(),
        &filter,
        s.now(),
    )
    .await?;
    let view = EventsView {
        primary,
        key,
        oauth_secret,
        signing_secret,
        extra: &extra,
        messages: &recent.messages,
    };
    Ok(pages::event_notifications(&c, flash.as_ref(), &view))
}

/// An endpoint form as the REST body it stands for: the authentication chosen, with only the
/// fields of that choice (a key left in the Basic field while choosing None is not sent).
fn callback_input(form: &ConsoleForm) -> ApiResult<CallbackIn> {
    let kind = match form.get("authType") {
        None | Some("NONE") => AuthType::None,
        Some("BASIC") => AuthType::Basic,
        Some("OAUTH2") => AuthType::OAuth2,
        Some(_) => {
            return Err(ApiError::bad_request(
                "auth_type_invalid",
                "choose None, Basic or OAuth 2.0",
            ))
        }
    };
    let oauth = kind == AuthType::OAuth2;
    let field = |name: &str| form.get(name).filter(|_| oauth).map(str::to_owned);
    let rate_limit = match form.get("rateLimit").map(str::trim) {
        None | Some("") => None,
        Some(r) => Some(r.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "rate_limit_invalid",
                "rateLimit is deliveries per second: a whole number from 1",
            )
        })?),
    };
    Ok(CallbackIn {
        rate_limit,
        url: form.get("url").unwrap_or_default().to_owned(),
        key: form
            .get("key")
            .filter(|_| kind == AuthType::Basic)
            .map(str::to_owned),
        events: form.all("events"),
        authentication: Some(AuthenticationIn {
            kind,
            client_id: field("clientId"),
            client_secret: field("clientSecret"),
            authorization_server_url: field("authorizationServerUrl"),
            scope: field("scope"),
        }),
    })
}

pub async fn save_event_notifications(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let result = match callback_input(&form) {
        Ok(input) => callback::set_primary(s, &c.m, input).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let w = c.lang.words();
    c.done(
        s,
        Page::EventNotification.path(),
        result.map(|()| done(w.callback_saved)),
    )
    .await
}

pub async fn revert_event_notifications(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, _) = post!(s, req);
    let result = callback::revert_primary(s, &c.m).await;
    let w = c.lang.words();
    c.done(
        s,
        Page::EventNotification.path(),
        result.map(|()| done(w.reverted)),
    )
    .await
}

pub async fn rotate_signing_secret(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let result = async {
        let grace = form
            .get("grace")
            .and_then(|g| g.parse::<i64>().ok())
            .filter(|g| (0..=endpoints::MAX_GRACE_SECONDS).contains(g))
            .ok_or_else(|| {
                ApiError::bad_request("grace_period_invalid", "choose a grace period")
            })?;
        callback::rotate_signing_secret(s, &c.m, callback::Which::Primary, grace).await?;
        Ok(done(c.lang.words().done_title))
    }
    .await;
    c.done(s, Page::EventNotification.path(), result).await
}

pub async fn add_endpoint(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let result = match callback_input(&form) {
        Ok(input) => callback::add_endpoint(s, &c.m, input).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let w = c.lang.words();
    c.done(
        s,
        Page::EventNotification.path(),
        result.map(|()| done(w.done_title)),
    )
    .await
}

pub async fn delete_endpoint(
    s: &Services,
    req: &Request,
    p: Params<'_>,
) -> ApiResult<Response<Body>> {
    let (c, _) = post!(s, req);
    let result = callback::remove_endpoint(s, &c.m, p.require("endpointId")?).await;
    let w = c.lang.words();
    c.done(
        s,
        Page::EventNotification.path(),
        result.map(|()| done(w.done_title)),
    )
    .await
}

/// A failed delivery's Resend button: the message once more to that endpoint.
pub async fn resend_message(
    s: &Services,
    req: &Request,
    p: Params<'_>,
) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let endpoint = form.get("endpointId").unwrap_or_default().to_owned();
    let result = messages::resend(s, &c.m, p.require("id")?, &endpoint).await;
    let w = c.lang.words();
    c.done(
        s,
        Page::EventNotification.path(),
        result.map(|_| done(w.resend_queued)),
    )
    .await
}

/// The Recover since form: a `datetime-local` value read as UTC (or a full RFC 3339 time).
pub async fn recover_endpoint(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (c, form) = post!(s, req);
    let w = c.lang.words();
    let result = async {
        let raw = form.get("since").unwrap_or_default().trim();
        let since = match raw.len() {
            16 => format!("{raw}:00Z"),
            19 => format!("{raw}Z"),
            _ => raw.to_owned(),
        };
        let since = messages::time("since", &since)?;
        let until = s.now() * 1000 + 999;
        let endpoint = form.get("endpointId").unwrap_or_default();
        match messages::recover(s, &c.m, since, until, endpoint).await? {
            Recovered::Queued(n) => Ok(Some(Flash::Done {
                what: w.recovery_queued.replace("{n}", &n.to_string()),
            })),
            Recovered::TooMany { count, .. } => Err(ApiError::bad_request(
                "recover_too_many",
                format!(
                    "{count} > {}",
                    keygate_core::notify::messages::recovery::MAX_RECOVER
                ),
            )),
        }
    }
    .await;
    c.done(s, Page::EventNotification.path(), result).await
}

// ------------------------------------------------------------------------- sign-out, assets

/// Ends the session (and so every session minted through it) and clears its cookie; then the
/// sign-in page. Any session may sign out (`Access::Console(Platform)`): the form's CSRF token
/// proves the session, no user or right is needed.
pub async fn sign_out(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let (session, lang) = match Console::signing_out(s, req).await? {
        super::Opened::Ready(v) => v,
        super::Opened::Refused(page) => return Ok(page),
    };
    keygate_core::authtokens::end_session(&keygate_core::authtokens::Ports::of(s).await, &session)
        .await?;
    let mut resp = super::see_other(&lang.link(Page::ApiAccess.path()));
    // As `/auth` set it: `__Host-kg_session` wherever keygate is served over https.
    let clear = keygate_core::identity::credentials::clear_session_cookie(s.config.serves_https());
    if let Ok(v) = http::HeaderValue::from_str(&clear) {
        resp.headers_mut().insert(http::header::SET_COOKIE, v);
    }
    Ok(resp)
}

fn asset(content_type: &'static str, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body.to_owned()));
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    resp
}

pub async fn stylesheet(_: &Services, _: &Request) -> ApiResult<Response<Body>> {
    Ok(asset(
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    ))
}

pub async fn script(_: &Services, _: &Request) -> ApiResult<Response<Body>> {
    Ok(asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    ))
}
