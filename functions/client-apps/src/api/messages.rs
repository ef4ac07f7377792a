//! `GET /api/callback/messages`, `POST /api/callback/messages/{id}/resend`,
//! `POST /api/callback/recover` (docs/EVENTS.md): parse, call `crate::manage::messages`, map.

use keygate_core::identity::Manager;
use keygate_core::kernel::clock::rfc3339;
use keygate_core::notify::endpoints::Endpoint;
use keygate_core::notify::events::is_event_type;
use keygate_core::notify::messages::{
    decode_cursor, encode_cursor, Filter, Listed, Status, MAX_PAGE,
};
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{json, query_param, read_json};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::manage::messages::{self, time, Recovered};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndpointOut {
    endpoint_id: String,
    status: Status,
    attempts: u32,
    last_attempt_at: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageOut {
    id: String,
    name: String,
    created_date: Option<String>,
    endpoints: Vec<EndpointOut>,
}

/// A listed message as the API shows it: the primary callback named `primary`.
pub(crate) fn message_out(l: &Listed, current: &[Endpoint]) -> serde_json::Value {
    let endpoints = l
        .outcomes
        .iter()
        .map(|o| EndpointOut {
            endpoint_id: current
                .iter()
                .find(|e| e.id == o.endpoint_id)
                .map_or_else(|| o.endpoint_id.to_string(), |e| e.api_id().to_owned()),
            status: o.status,
            attempts: o.attempts,
            last_attempt_at: o.last_attempt_at.map(rfc3339),
        })
        .collect();
    serde_json::to_value(MessageOut {
        id: l.message.id.clone(),
        name: l.message.name.clone(),
        created_date: l.message.created_date.clone(),
        endpoints,
    })
    .unwrap_or_default()
}

/// The listing's query: `since`, `until`, `eventType`, `status`, `limit` (1–100, default 50),
/// `cursor`.
pub(crate) fn filter(req: &Request) -> ApiResult<Filter> {
    let since_ms = query_param(req, "since")?
        .map(|v| time("since", &v))
        .transpose()?;
    let until_ms = query_param(req, "until")?
        .map(|v| time("until", &v))
        .transpose()?;
    let event_type = query_param(req, "eventType")?;
    if let Some(t) = &event_type {
        if !is_event_type(t) {
            return Err(ApiError::bad_request(
                "event_unknown",
                format!(
                    "'{}' is not an event type",
                    keygate_core::kernel::ids::printable(t)
                ),
            ));
        }
    }
    let status = match query_param(req, "status")? {
        None => None,
        Some(s) => Some(Status::parse(&s).ok_or_else(|| {
            ApiError::bad_request("status_invalid", "status is failed, delivered or pending")
        })?),
    };
    let limit = match query_param(req, "limit")? {
        None => 50,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "limit_invalid",
                    format!("limit is a whole number from 1 to {MAX_PAGE}"),
                )
            })?,
    };
    let cursor = match query_param(req, "cursor")? {
        None => None,
        Some(c) => Some(decode_cursor(&c).ok_or_else(|| {
            ApiError::bad_request(
                "cursor_invalid",
                "cursor is the next value of a previous page, as it was given",
            )
        })?),
    };
    Ok(Filter {
        since_ms,
        until_ms,
        event_type,
        status,
        limit,
        cursor,
    })
}

/// `GET /api/callback/messages`: newest first, a page at a time.
pub async fn list(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    let filter = filter(req)?;
    let (page, current) = messages::list(s, m, &filter).await?;
    let out: Vec<serde_json::Value> = page
        .messages
        .iter()
        .map(|l| message_out(l, &current))
        .collect();
    Ok(json(
        200,
        &json!({ "messages": out, "next": page.next.as_deref().map(encode_cursor) }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResendIn {
    endpoint_id: String,
}

/// `POST /api/callback/messages/{id}/resend {"endpointId"}` → `202`.
pub async fn resend(
    s: &Services,
    m: &Manager,
    id: &str,
    req: &Request,
) -> ApiResult<Response<Body>> {
    let input: ResendIn = read_json(req)?;
    let round = messages::resend(s, m, id, &input.endpoint_id).await?;
    Ok(json(
        202,
        &json!({ "messageId": id, "endpointId": input.endpoint_id, "resendId": round }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RecoverIn {
    since: String,
    #[serde(default)]
    until: Option<String>,
    endpoint_id: String,
}

/// `POST /api/callback/recover {"since", "until"?, "endpointId"}` → `202 {"messages": n}`, or
/// `400` with the `count` when the window holds more than 10,000.
pub async fn recover(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    let input: RecoverIn = read_json(req)?;
    let since = time("since", &input.since)?;
    let until = match &input.until {
        Some(u) => time("until", u)?,
        None => s.now() * 1000 + 999,
    };
    match messages::recover(s, m, since, until, &input.endpoint_id).await? {
        Recovered::Queued(n) => Ok(json(202, &json!({ "messages": n }))),
        Recovered::TooMany { count, exact } => Ok(too_many(count, exact)),
    }
}

/// `400 recover_too_many`, the platform error body with the `count`.
fn too_many(count: usize, exact: bool) -> Response<Body> {
    let max = keygate_core::notify::messages::recovery::MAX_RECOVER;
    let counted = if exact {
        format!("{count}")
    } else {
        format!("at least {count}")
    };
    let e = ApiError::bad_request(
        "recover_too_many",
        format!("the window holds {counted} messages the endpoint did not receive; one recovery delivers at most {max}: narrow it (since, until)"),
    );
    let mut resp = keygate_http::error_response(&e);
    if let Body::Text(t) = resp.body() {
        if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(t) {
            v["count"] = count.into();
            v["countIsExact"] = exact.into();
            *resp.body_mut() = Body::Text(v.to_string());
        }
    }
    resp
}
