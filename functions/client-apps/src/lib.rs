//! The `client-apps` function: an account's self-service management of its API access — client
//! apps, OAuth 2.0 clients, its API key, its authentication settings and event notifications —
//! and `GET /api/whoami`.
//!
//! Every route but `whoami` and the public event catalog (`GET /api/callback/events`) authenticates in process and needs a manager (the owner, or a user
//! with `API_ACCESS` when roles and permissions are on). Every change writes an audit record in
//! the same transaction.

/// The DynamoDB actions this function's code makes: it everything the management routes change, in
/// transactions with their audit records, and the lists (table and `gsi1` queries). Mirrored by its
/// IAM statement in `template.yaml` (`ClientAppsFunction`), which the routes test compares with
/// this list.
pub const DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
];

mod api;
pub mod console;
mod manage;

use api::{account, apps, callback, messages, oauth_clients};

use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::handler;
use keygate_http::routes::{route, Access, Action, Function, Params, Route};
use keygate_http::Dialect::{Html, Platform};
use keygate_http::{authorizer_principal, json};
use lambda_http::{Body, Request, Response};

/// A management route's handler: the dispatcher has authorized its caller for the route's
/// declared [`Access::Api`] action ([`keygate_core::identity::authorize`]); `managed!(f)` calls `f(s, m)`
/// with it, with `req` passing the request, with `id = "param"` the path parameter.
macro_rules! managed {
    ($f:path) => { managed!(@h |s, m, _r, _p| $f(s, m)) };
    ($f:path, req) => { managed!(@h |s, m, r, _p| $f(s, m, r)) };
    ($f:path, id = $p:literal) => { managed!(@h |s, m, _r, p| $f(s, m, p.require($p)?)) };
    ($f:path, id = $p:literal, req) => {
        managed!(@h |s, m, r, p| $f(s, m, p.require($p)?, r))
    };
    (@h |$s:ident, $m:ident, $r:ident, $p:ident| $call:expr) => {{
        async fn managed($s: &Services, $r: &Request, $p: Params<'_>) -> ApiResult<Response<Body>> {
            let $m = keygate_http::auth::caller($r)?;
            $call.await
        }
        handler!(managed)
    }};
}

/// The function's routes (see `keygate_http::routes`).
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route("GET", "/api/whoami", Access::Platform, Platform, handler!(whoami, request)),
    route("GET", "/api/clientApps", Access::Api(Action::Manage), Platform, managed!(apps::list)),
    route("POST", "/api/clientApps", Access::Api(Action::Manage), Platform, managed!(apps::create, req)),
    route("GET", "/api/clientApps/{clientId}", Access::Api(Action::Manage), Platform, managed!(apps::get, id = "clientId")),
    route("DELETE", "/api/clientApps/{clientId}", Access::Api(Action::Manage), Platform, managed!(apps::delete, id = "clientId")),
    route("POST", "/api/clientApps/{clientId}/rotate", Access::Api(Action::Manage), Platform, managed!(apps::rotate, id = "clientId", req)),
    route("GET", "/api/oauth2/clients", Access::Api(Action::Manage), Platform, managed!(oauth_clients::list)),
    route("POST", "/api/oauth2/clients", Access::Api(Action::Manage), Platform, managed!(oauth_clients::create, req)),
    route("GET", "/api/oauth2/clients/{clientId}", Access::Api(Action::Manage), Platform, managed!(oauth_clients::get, id = "clientId")),
    route("PUT", "/api/oauth2/clients/{clientId}", Access::Api(Action::Manage), Platform, managed!(oauth_clients::update, id = "clientId", req)),
    route("DELETE", "/api/oauth2/clients/{clientId}", Access::Api(Action::Manage), Platform, managed!(oauth_clients::delete, id = "clientId")),
    route("POST", "/api/oauth2/clients/{clientId}/rotate", Access::Api(Action::Manage), Platform, managed!(oauth_clients::rotate, id = "clientId", req)),
    route("GET", "/api/account/apiKey", Access::Api(Action::Manage), Platform, managed!(account::api_key, req)),
    route("POST", "/api/account/apiKey/regenerate", Access::Api(Action::Owner), Platform, managed!(account::regenerate)),
    route("GET", "/api/account/authSettings", Access::Api(Action::Manage), Platform, managed!(account::settings, req)),
    route("PUT", "/api/account/authSettings", Access::Api(Action::Owner), Platform, managed!(account::update_settings, req)),
    route("GET", "/api/callback", Access::Api(Action::Manage), Platform, managed!(callback::get_primary)),
    route("PUT", "/api/callback", Access::Api(Action::Manage), Platform, managed!(callback::put_primary, req)),
    route("DELETE", "/api/callback", Access::Api(Action::Manage), Platform, managed!(callback::delete_primary)),
    route("POST", "/api/callback/secret/rotate", Access::Api(Action::Owner), Platform, managed!(callback::rotate_primary, req)),
    route("GET", "/api/callback/events", Access::Public, Platform, handler!(callback::catalog, request)),
    route("GET", "/api/callback/attempts", Access::Api(Action::Manage), Platform, managed!(callback::attempts, req)),
    route("GET", "/api/callback/messages", Access::Api(Action::Manage), Platform, managed!(messages::list, req)),
    route("POST", "/api/callback/messages/{id}/resend", Access::Api(Action::Manage), Platform, managed!(messages::resend, id = "id", req)),
    route("POST", "/api/callback/recover", Access::Api(Action::Manage), Platform, managed!(messages::recover, req)),
    route("GET", "/api/callback/endpoints", Access::Api(Action::Manage), Platform, managed!(callback::list)),
    route("POST", "/api/callback/endpoints", Access::Api(Action::Manage), Platform, managed!(callback::create, req)),
    route("GET", "/api/callback/endpoints/{endpointId}", Access::Api(Action::Manage), Platform, managed!(callback::get, id = "endpointId")),
    route("PUT", "/api/callback/endpoints/{endpointId}", Access::Api(Action::Manage), Platform, managed!(callback::update, id = "endpointId", req)),
    route("DELETE", "/api/callback/endpoints/{endpointId}", Access::Api(Action::Manage), Platform, managed!(callback::delete, id = "endpointId")),
    route("POST", "/api/callback/endpoints/{endpointId}/secret/rotate", Access::Api(Action::Owner), Platform, managed!(callback::rotate, id = "endpointId", req)),
    // The console (`console`): HTML pages and their forms, signed in with a session.
    route("GET", "/admin/api-access", Access::Console(Action::Manage), Html, handler!(console::actions::api_access, request)),
    route("POST", "/admin/api-access/api-key/regenerate", Access::Console(Action::Owner), Html, handler!(console::actions::regenerate_api_key, request)),
    route("POST", "/admin/api-access/client-apps", Access::Console(Action::Manage), Html, handler!(console::actions::add_client_app, request)),
    route("POST", "/admin/api-access/client-apps/{clientId}/rotate", Access::Console(Action::Manage), Html, handler!(console::actions::rotate_client_app)),
    route("POST", "/admin/api-access/client-apps/{clientId}/revoke", Access::Console(Action::Manage), Html, handler!(console::actions::revoke_client_app)),
    route("POST", "/admin/api-access/oauth-clients", Access::Console(Action::Manage), Html, handler!(console::actions::add_oauth_client, request)),
    route("POST", "/admin/api-access/oauth-clients/{clientId}/update", Access::Console(Action::Manage), Html, handler!(console::actions::update_oauth_client)),
    route("POST", "/admin/api-access/oauth-clients/{clientId}/credentials", Access::Console(Action::Manage), Html, handler!(console::actions::new_oauth_credentials)),
    route("POST", "/admin/api-access/oauth-clients/{clientId}/delete", Access::Console(Action::Manage), Html, handler!(console::actions::delete_oauth_client)),
    route("GET", "/admin/authentication", Access::Console(Action::Manage), Html, handler!(console::actions::authentication, request)),
    route("POST", "/admin/authentication", Access::Console(Action::Owner), Html, handler!(console::actions::save_authentication, request)),
    route("GET", "/admin/event-notifications", Access::Console(Action::Manage), Html, handler!(console::actions::event_notifications, request)),
    route("POST", "/admin/event-notifications", Access::Console(Action::Manage), Html, handler!(console::actions::save_event_notifications, request)),
    route("POST", "/admin/event-notifications/revert", Access::Console(Action::Manage), Html, handler!(console::actions::revert_event_notifications, request)),
    route("POST", "/admin/event-notifications/secret/rotate", Access::Console(Action::Owner), Html, handler!(console::actions::rotate_signing_secret, request)),
    route("POST", "/admin/event-notifications/endpoints", Access::Console(Action::Manage), Html, handler!(console::actions::add_endpoint, request)),
    route("POST", "/admin/event-notifications/endpoints/{endpointId}/delete", Access::Console(Action::Manage), Html, handler!(console::actions::delete_endpoint)),
    route("POST", "/admin/event-notifications/messages/{id}/resend", Access::Console(Action::Manage), Html, handler!(console::actions::resend_message)),
    route("POST", "/admin/event-notifications/recover", Access::Console(Action::Manage), Html, handler!(console::actions::recover_endpoint, request)),
    route("POST", "/admin/sign-out", Access::Console(Action::Platform), Html, handler!(console::actions::sign_out, request)),
    route("GET", "/admin/assets/console.css", Access::Public, Html, handler!(console::actions::stylesheet, request)),
    route("GET", "/admin/assets/console.js", Access::Public, Html, handler!(console::actions::script, request)),
];

pub const FUNCTION: Function = Function {
    name: "client-apps",
    resource: "ClientAppsFunction",
    routes: ROUTES,
};

/// Serves one request. Every expected failure is a JSON answer; `Err` never leaves here.
pub async fn handle(
    services: &Services,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(keygate_http::routes::dispatch(&FUNCTION, services, req).await)
}

/// `GET /api/whoami`: the principal the `verify` authorizer passed on, like
/// `sts get-caller-identity`, so an integrator can test any credential.
async fn whoami(_: &Services, req: &Request) -> ApiResult<Response<Body>> {
    match authorizer_principal(req) {
        Some(p) => Ok(json(200, &p)),
        None => Err(ApiError::unauthorized(
            "principal_missing",
            "no authenticated principal: this route must sit behind the verify authorizer",
        )),
    }
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
    let input: RotateIn = if keygate_http::body_bytes(req)
        .iter()
        .all(u8::is_ascii_whitespace)
    {
        RotateIn::default()
    } else {
        keygate_http::read_json(req)?
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
