//! The `client-apps` function: an account's self-service management of its API access — client
//! apps, OAuth 2.0 clients, its API key, its authentication settings and event notifications —
//! and `GET /api/whoami`.
//!
//! Every route but `whoami` authenticates in process and needs a manager (the owner, or a user
//! with `API_ACCESS` when roles and permissions are on). Every change writes an audit record in
//! the same transaction.

mod account;
mod apps;
mod callback;
mod oauth;

use keygate::auth::Manager;
use keygate::http::{authorizer_principal, error_response, json};
use keygate::{ApiError, ApiResult, Services};
use lambda_http::{Body, Request, Response};

/// Serves one request. Every expected failure is a JSON answer; `Err` never leaves here.
pub async fn handle(
    services: &Services,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
    let fut = async {
        route(services, &req)
            .await
            .unwrap_or_else(|e| error_response(&e))
    };
    Ok(keygate::telemetry::observe("client-apps", &method, &path, fut).await)
}

async fn route(services: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let method = req.method().as_str();
    if let ("GET", ["api", "whoami"]) = (method, segs.as_slice()) {
        return Ok(whoami(req));
    }
    let m = keygate::auth::manager(services, req).await?;
    let s = services;
    match (method, segs.as_slice()) {
        ("GET", ["api", "clientApps"]) => apps::list(s, &m).await,
        ("POST", ["api", "clientApps"]) => apps::create(s, &m, req).await,
        ("GET", ["api", "clientApps", id]) => apps::get(s, &m, id).await,
        ("DELETE", ["api", "clientApps", id]) => apps::delete(s, &m, id).await,
        ("POST", ["api", "clientApps", id, "rotate"]) => apps::rotate(s, &m, id, req).await,
        ("GET", ["api", "oauth2", "clients"]) => oauth::list(s, &m).await,
        ("POST", ["api", "oauth2", "clients"]) => oauth::create(s, &m, req).await,
        ("GET", ["api", "oauth2", "clients", id]) => oauth::get(s, &m, id).await,
        ("PUT", ["api", "oauth2", "clients", id]) => oauth::update(s, &m, id, req).await,
        ("DELETE", ["api", "oauth2", "clients", id]) => oauth::delete(s, &m, id).await,
        ("POST", ["api", "oauth2", "clients", id, "rotate"]) => oauth::rotate(s, &m, id, req).await,
        ("GET", ["api", "account", "apiKey"]) => account::api_key(s, &m, req).await,
        ("POST", ["api", "account", "apiKey", "regenerate"]) => account::regenerate(s, &m).await,
        ("GET", ["api", "account", "authSettings"]) => Ok(account::settings(&m)),
        ("PUT", ["api", "account", "authSettings"]) => account::update_settings(s, &m, req).await,
        ("GET", ["api", "callback"]) => callback::get_primary(s, &m).await,
        ("PUT", ["api", "callback"]) => callback::put_primary(s, &m, req).await,
        ("DELETE", ["api", "callback"]) => callback::delete_primary(s, &m).await,
        ("POST", ["api", "callback", "secret", "rotate"]) => {
            callback::rotate_primary(s, &m, req).await
        }
        ("GET", ["api", "callback", "attempts"]) => callback::attempts(s, &m, req).await,
        ("GET", ["api", "callback", "endpoints"]) => callback::list(s, &m).await,
        ("POST", ["api", "callback", "endpoints"]) => callback::create(s, &m, req).await,
        ("GET", ["api", "callback", "endpoints", id]) => callback::get(s, &m, id).await,
        ("PUT", ["api", "callback", "endpoints", id]) => callback::update(s, &m, id, req).await,
        ("DELETE", ["api", "callback", "endpoints", id]) => callback::delete(s, &m, id).await,
        ("POST", ["api", "callback", "endpoints", id, "secret", "rotate"]) => {
            callback::rotate(s, &m, id, req).await
        }
        _ => Err(ApiError::not_found("route_unknown", "no such route")),
    }
}

/// `GET /api/whoami`: the principal the `verify` authorizer passed on, like
/// `sts get-caller-identity`, so an integrator can test any credential.
fn whoami(req: &Request) -> Response<Body> {
    match authorizer_principal(req) {
        Some(p) => json(200, &p),
        None => error_response(&ApiError::unauthorized(
            "principal_missing",
            "no authenticated principal: this route must sit behind the verify authorizer",
        )),
    }
}

/// The audit write for a change by `m`.
fn audit(
    m: &Manager,
    action: &str,
    target: Option<&str>,
    now: i64,
) -> ApiResult<keygate::store::WriteOp> {
    Ok(
        keygate::audit::AuditEntry::new(&m.account.id, m.user.id.as_str(), action, target, now)
            .write()?,
    )
}

/// `{"results": [...], "count": n}`, OneSpan's list shape.
fn list_of<T: serde::Serialize>(items: Vec<T>) -> Response<Body> {
    let count = items.len();
    json(
        200,
        &serde_json::json!({ "results": items, "count": count }),
    )
}

/// A rotation request: `{"gracePeriodSeconds"}` (default 0, at most 7 days); an empty body is
/// the default.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RotateIn {
    #[serde(default)]
    grace_period_seconds: Option<i64>,
}

fn read_rotate(req: &Request, default: i64, max: i64) -> ApiResult<i64> {
    let input: RotateIn = if keygate::http::body_bytes(req)
        .iter()
        .all(u8::is_ascii_whitespace)
    {
        RotateIn::default()
    } else {
        keygate::http::read_json(req)?
    };
    let grace = input.grace_period_seconds.unwrap_or(default);
    if !(0..=max).contains(&grace) {
        return Err(ApiError::bad_request(
            "grace_period_invalid",
            format!("gracePeriodSeconds must be between 0 and {max}"),
        ));
    }
    Ok(grace)
}

#[cfg(test)]
mod tests;
