//! The `/_local/*` operator routes (docs/LOCAL.md): served by the local server only, never
//! by a Lambda, never in `template.yaml`.

use keygate_core::accounts::{self, Permission};
use keygate_core::kernel::ids::AccountId;
use keygate_core::ports::services::Queues;
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{error_response, json, read_json_any_type as read_json};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewAccountIn {
    name: String,
    owner_email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewUserIn {
    email: String,
    #[serde(default)]
    permissions: Vec<Permission>,
}

pub async fn handle(services: &Services, queues: &Queues, req: Request) -> Response<Body> {
    let segments: Vec<&str> = req
        .uri()
        .path()
        .trim_end_matches('/')
        .split('/')
        .skip(2)
        .collect();
    let result = match (req.method().as_str(), segments.as_slice()) {
        ("POST", ["accounts"]) => create_account(services, &req).await,
        ("POST", ["accounts", id, "users"]) => add_user(services, &req, id).await,
        ("POST", ["events"]) => enqueue(queues, &req).await,
        _ => Err(ApiError::not_found(
            "route_unknown",
            "no such operator route",
        )),
    };
    result.unwrap_or_else(|e| error_response(&e))
}

async fn create_account(services: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let input: NewAccountIn = read_json(req)?;
    let ring = services.keys.ring().await;
    let created = accounts::create_account(
        &*services.table,
        ring.peppers(),
        &services.config,
        &input.name,
        &input.owner_email,
        services.now(),
    )
    .await?;
    Ok(json(
        201,
        &serde_json::json!({
            "accountId": created.account.id,
            "ownerUserId": created.owner.id,
            "apiKey": created.api_key,
        }),
    ))
}

async fn add_user(services: &Services, req: &Request, account: &str) -> ApiResult<Response<Body>> {
    let account = AccountId::parse(account)
        .map_err(|_| ApiError::not_found("account_unknown", "no such account"))?;
    let input: NewUserIn = read_json(req)?;
    let ring = services.keys.ring().await;
    let created = accounts::add_user(
        &*services.table,
        ring.peppers(),
        &account,
        &input.email,
        input.permissions,
        services.now(),
    )
    .await?;
    Ok(json(
        201,
        &serde_json::json!({ "userId": created.user.id, "apiKey": created.api_key }),
    ))
}

/// Enqueues the body exactly as a producer's SQS message: no validation here, the webhooks
/// handler judges it (and dead-letters what it refuses).
async fn enqueue(queues: &Queues, req: &Request) -> ApiResult<Response<Body>> {
    let body = match req.body() {
        Body::Text(t) if !t.trim().is_empty() => t.clone(),
        Body::Binary(_) => {
            return Err(ApiError::bad_request(
                "body_not_utf8",
                "an SQS message body is UTF-8 text",
            ))
        }
        _ => {
            return Err(ApiError::bad_request(
                "body_missing",
                "the event message is the request body",
            ))
        }
    };
    let id = queues.events.send(&body, &[]).await?;
    Ok(json(202, &serde_json::json!({ "messageId": id })))
}
