//! Retained messages, as both faces use them (docs/EVENTS.md, "Nothing an integrator missed is
//! lost"): the list with each message's outcome per endpoint, a resend of one message to one
//! endpoint, and the recovery of what one endpoint missed in a window. Resends and recoveries
//! are queued for the webhooks function, which delivers them as it delivers everything (signed,
//! SSRF-guarded, authenticated, throttled, retried, recorded): nothing here sends a webhook.

use std::sync::Arc;

use keygate_core::identity::Manager;
use keygate_core::kernel::clock::{parse_rfc3339_millis, rfc3339};
use keygate_core::notify::endpoints::{self, Endpoint};
use keygate_core::notify::events;
use keygate_core::notify::messages::{
    self, attributes, recovery::MAX_RECOVER, recovery::SCAN_BUDGET, Filter, Page, Recovery, Window,
};
use keygate_core::ports::queue::Queue;
use keygate_core::{ApiError, ApiResult, Services};

/// The events queue, or a `503` naming what to configure.
fn queue(s: &Services) -> ApiResult<&Arc<dyn Queue>> {
    s.events.as_ref().ok_or_else(|| {
        ApiError::unconfigured(
            "events_queue_unconfigured",
            "this function has no events queue (KEYGATE_QUEUE_URL): resends and recoveries cannot be queued",
        )
    })
}

/// An RFC 3339 time of the query or body field `field`, in milliseconds. A space where the
/// offset's `+` belongs is read as one: an unencoded `+` in a query string arrives as a space.
pub(crate) fn time(field: &'static str, raw: &str) -> ApiResult<i64> {
    let raw = raw.trim_start().replace(' ', "+");
    parse_rfc3339_millis(&raw).ok_or_else(|| {
        ApiError::bad_request(
            "time_invalid",
            format!("{field} must be an RFC 3339 time (2026-11-26T10:00:00Z)"),
        )
    })
}

/// The account's endpoint that `name` names (`primary`, or an `ep_…` id), or `404`.
pub(crate) async fn endpoint(s: &Services, m: &Manager, name: &str) -> ApiResult<(Endpoint, u64)> {
    endpoints::named(&*s.table, &m.account.id, name)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "endpoint_unknown",
                "no such endpoint (name the primary callback \"primary\")",
            )
        })
}

/// A page of the account's messages, and its endpoints as they are now (to name them).
pub(crate) async fn list(
    s: &Services,
    m: &Manager,
    filter: &Filter,
) -> ApiResult<(Page, Vec<Endpoint>)> {
    let current: Vec<Endpoint> = endpoints::list(&*s.table, &m.account.id)
        .await?
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    let page = messages::list(&*s.table, &m.account.id, &current, filter, s.now()).await?;
    Ok((page, current))
}

/// One new delivery of message `id` to the endpoint `name`, with its original `webhook-id`:
/// queued as a resend of its own (delivered even if the endpoint took the message before).
/// Returns the resend's id.
pub(crate) async fn resend(s: &Services, m: &Manager, id: &str, name: &str) -> ApiResult<String> {
    let unknown = || ApiError::not_found("message_unknown", "no such message is retained");
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(unknown());
    }
    let kept = messages::get(&*s.table, &m.account.id, id, s.now())
        .await?
        .ok_or_else(unknown)?;
    let (ep, _) = endpoint(s, m, name).await?;
    if ep.disabled.is_some() {
        return Err(ApiError::conflict(
            "endpoint_disabled",
            "the endpoint is disabled: recover it (POST /api/callback/recover) or save its settings again",
        ));
    }
    if kept.payload.about().is_some_and(|a| ep.is_named(a)) {
        return Err(ApiError::conflict(
            "event_about_endpoint",
            "an operational event is never sent to the endpoint it is about",
        ));
    }
    let body = serde_json::to_string(&kept.payload).map_err(ApiError::internal)?;
    let round = format!("rs_{}", keygate_core::kernel::ids::random_suffix());
    queue(s)?
        .send(
            &body,
            &[
                (attributes::ENDPOINT, ep.id.as_str()),
                (attributes::ROUND, round.as_str()),
            ],
        )
        .await?;
    tracing::info!(account = %m.account.id, event_id = %kept.id, endpoint_id = %ep.id, resend = %round, "resend queued");
    Ok(round)
}

/// What a recovery request came to.
pub(crate) enum Recovered {
    /// Queued: this many messages will be delivered again.
    Queued(usize),
    /// More than [`MAX_RECOVER`] in the window (`exact`: the whole window was counted).
    TooMany { count: usize, exact: bool },
}

/// Queues the recovery of what the endpoint `name` missed from `since_ms` to `until_ms`, and
/// enables the endpoint again if it was disabled (with its audit record, and the account hears
/// it: `CALLBACK_ENDPOINT_RECOVERED`). The job is queued first: a recovery refused or failed
/// leaves the endpoint as it was.
pub(crate) async fn recover(
    s: &Services,
    m: &Manager,
    since_ms: i64,
    until_ms: i64,
    name: &str,
) -> ApiResult<Recovered> {
    if until_ms < since_ms {
        return Err(ApiError::bad_request(
            "window_invalid",
            "until must not be before since",
        ));
    }
    let (ep, _) = endpoint(s, m, name).await?;
    let window = Window { since_ms, until_ms };
    let found = messages::missed(
        &*s.table,
        &m.account.id,
        &ep,
        window,
        None,
        0,
        SCAN_BUDGET,
        s.now(),
    )
    .await?;
    if found.count > MAX_RECOVER {
        return Ok(Recovered::TooMany {
            count: found.count,
            exact: found.complete,
        });
    }
    if found.count > 0 {
        let job = Recovery::new(m.account.id.clone(), ep.id.clone(), window);
        let body = serde_json::to_string(&job).map_err(ApiError::internal)?;
        queue(s)?
            .send(&body, &[(attributes::JOB, attributes::RECOVER)])
            .await?;
        tracing::info!(account = %m.account.id, endpoint_id = %ep.id, job = %job.id, messages = found.count, "recovery queued");
    }
    if ep.disabled.is_some() {
        // On the endpoint as stored now: a delivery may have written its health meanwhile.
        let enabled = crate::manage::callback::changing(|| async {
            let (mut current, rev) = endpoint(s, m, name).await?;
            if current.disabled.take().is_none() {
                return Ok(None);
            }
            current.failing_since = None;
            current.updated_at = s.now();
            crate::manage::callback::save(s, m, &current, Some(rev), "callback.recover").await?;
            Ok(Some(current))
        })
        .await?;
        if let Some(enabled) = enabled {
            recovered(s, &enabled).await;
        }
    }
    Ok(Recovered::Queued(found.count))
}

/// Tells the account that `ep` is enabled again (`CALLBACK_ENDPOINT_RECOVERED`): best effort, as
/// every operational event (a refused send is logged).
pub(crate) async fn recovered(s: &Services, ep: &Endpoint) {
    let event = events::operational(
        &ep.account_id,
        events::ENDPOINT_RECOVERED,
        ep.api_id(),
        format!(
            "The callback endpoint {} is enabled again ({}).",
            ep.api_id(),
            rfc3339(s.now())
        ),
        serde_json::Map::new(),
        s.now(),
    );
    let sent = match (queue(s), serde_json::to_string(&event)) {
        (Ok(q), Ok(body)) => q.send(&body, &[]).await.map_err(|e| e.to_string()),
        (Err(e), _) => Err(e.message.to_string()),
        (_, Err(e)) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        tracing::warn!(endpoint_id = %ep.id, error = %e, "operational event not queued");
    }
}
