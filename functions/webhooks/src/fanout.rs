//! One event to every endpoint that wants it, concurrently, each endpoint on its own: claim,
//! sign, authenticate (an OAuth 2.0 callback's token, [`crate::callback_tokens`]), send, record the
//! attempt, settle the claim, update the endpoint's health.
//!
//! Each delivery holds one of the batch's permits while it works (the claim, the send, the
//! bookkeeping), and none while it waits for a token being fetched (`Turn`; why, in
//! [`crate::callback_tokens`]): a hung authorization server never holds the batch's other
//! deliveries back.

use std::sync::Arc;

use bytes::Bytes;
use keygate_core::notify::attempts::{self, Attempt, AttemptStatus, ErrorClass};
use keygate_core::notify::endpoints::Endpoint;
use keygate_core::notify::events::EventMessage;
use keygate_core::ports::keys::KeyRing;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::callback_tokens::{Grant, Token};
use crate::health::{self, Health};
use crate::ledger::{Claim, Pair, LEASE_MARGIN_SECONDS};
use crate::schedule::Pushback;
use crate::send::{self, Authorization, Outgoing, Sent, Verdict};
use crate::sign;
use crate::Webhooks;

/// What became of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointResult {
    /// Took the event now.
    Delivered,
    /// Had taken it before (a redelivery).
    AlreadyDelivered,
    /// Another delivery of the event to it is in flight.
    Busy,
    /// Failed; retry the message with this pushback.
    Failed(Pushback),
    /// Failed and is now disabled (410, or failing too long): no retry for it.
    Dropped,
    /// The store could not be asked (logged); retry.
    Unavailable,
}

/// The same event for every endpoint.
struct Shared {
    message: EventMessage,
    body: Bytes,
    ring: Arc<KeyRing>,
    attempt: u32,
}

/// Delivers `message` to `endpoints`, at most `permits` sends at a time across the batch.
pub async fn fan_out(
    state: &Webhooks,
    message: EventMessage,
    body: Bytes,
    endpoints: Vec<Endpoint>,
    attempt: u32,
    permits: &Arc<Semaphore>,
) -> Vec<EndpointResult> {
    let shared = Arc::new(Shared {
        ring: state.services.keys.ring().await,
        message,
        body,
        attempt,
    });
    let mut tasks = JoinSet::new();
    for ep in endpoints {
        let (state, shared, permits) = (state.clone(), shared.clone(), permits.clone());
        tasks.spawn(async move {
            let Some(mut turn) = Turn::take(permits).await else {
                return EndpointResult::Unavailable;
            };
            deliver_one(&state, &shared, ep, &mut turn).await
        });
    }
    let mut results = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.unwrap_or_else(|e| {
            tracing::error!(error = %e, "delivery task failed");
            EndpointResult::Unavailable
        }));
    }
    results
}

/// A delivery's permit of the batch: held for the claim, the send and the bookkeeping — it
/// bounds sockets and memory alike —, given back while the delivery waits for a token.
struct Turn {
    permits: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Turn {
    /// Waits for a permit (`None`: the batch's semaphore is closed).
    async fn take(permits: Arc<Semaphore>) -> Option<Self> {
        let permit = permits.clone().acquire_owned().await.ok()?;
        Some(Self {
            permits,
            permit: Some(permit),
        })
    }

    /// Gives the permit back, for a wait that does no work.
    fn pause(&mut self) {
        self.permit = None;
    }

    /// Takes a permit again after [`Turn::pause`]. (The batch's semaphore is never closed while
    /// its deliveries run; were it closed, the delivery would go on without one.)
    async fn resume(&mut self) {
        if self.permit.is_none() {
            self.permit = self.permits.clone().acquire_owned().await.ok();
        }
    }
}

/// One endpoint's delivery from claim to bookkeeping, in order: the claim, the send, the attempt
/// record, the endpoint's health, the ledger.
async fn deliver_one(
    state: &Webhooks,
    shared: &Shared,
    ep: Endpoint,
    turn: &mut Turn,
) -> EndpointResult {
    let services = &state.services;
    let table = &*services.table;
    let m = &shared.message;
    let now = services.now();
    let pair = Pair {
        account: &m.account_id,
        event_id: &m.id,
        endpoint: &ep.id,
    };
    let lease =
        i64::try_from(state.settings.timeout.as_secs()).unwrap_or(60) + LEASE_MARGIN_SECONDS;
    match pair.claim(table, shared.attempt, now, lease).await {
        Ok(Claim::Won) => {}
        Ok(Claim::Delivered) => return EndpointResult::AlreadyDelivered,
        Ok(Claim::Busy) => return EndpointResult::Busy,
        Err(e) => {
            tracing::warn!(error = %e, "webhooks: delivery ledger");
            return EndpointResult::Unavailable;
        }
    }

    let sent = match prepare(&ep, shared, now) {
        Ok(out) => authenticated_send(state, &ep, shared, out, now, turn).await,
        Err(refused) => refused,
    };
    let record = Attempt {
        event_id: m.id.clone(),
        event_name: m.name.clone(),
        endpoint_id: ep.id.clone(),
        attempt: shared.attempt,
        status: if sent.verdict == Verdict::Succeeded {
            AttemptStatus::Succeeded
        } else {
            AttemptStatus::Failed
        },
        response_code: sent.response_code,
        error_class: sent.error_class,
        latency_ms: sent.latency_ms,
        at: now,
    };
    log(&record, &m.account_id, &sent);
    if let Err(e) = attempts::record(table, &m.account_id, &record).await {
        tracing::warn!(event_id = %m.id, endpoint_id = %ep.id, error = %e, "attempt not recorded");
    }

    let settled = if sent.verdict == Verdict::Succeeded {
        pair.delivered(table, shared.attempt, now).await
    } else {
        pair.release(table).await
    };
    if let Err(e) = settled {
        // Delivered but not marked: a redelivery may send it again (at-least-once). Failed but
        // not released: the lease runs out before the next try is due.
        tracing::warn!(event_id = %m.id, endpoint_id = %ep.id, error = %e, "delivery mark not written");
    }

    let disable_after = state.settings.disable_after;
    let health = health::apply(table, &ep, sent.verdict, now, disable_after).await;
    let health = health.unwrap_or_else(|e| {
        tracing::warn!(endpoint_id = %ep.id, error = %e, "endpoint health not updated");
        Health::Active
    });
    match (sent.verdict, health) {
        (Verdict::Succeeded, _) => EndpointResult::Delivered,
        (_, Health::Disabled) => EndpointResult::Dropped,
        (_, Health::Active) => EndpointResult::Failed(sent.pushback),
    }
}

/// Sends `out`, for an OAuth 2.0 callback with a Bearer token: the kept one, or a fresh one from
/// the integrator's authorization server. A `401` from the receiver drops the token and the
/// delivery goes once more with a fresh one (it is one attempt: the second answer is the one
/// recorded). No token, no delivery: a failed attempt of class `token_endpoint`.
async fn authenticated_send(
    state: &Webhooks,
    ep: &Endpoint,
    shared: &Shared,
    out: Outgoing<'_>,
    now: i64,
    turn: &mut Turn,
) -> Sent {
    let local_mode = state.services.config.local_mode;
    let Some(credentials) = &ep.oauth else {
        return send::send(&state.client, out, local_mode, now).await;
    };
    let Some(secret) = ep.open_oauth_secret(shared.ring.peppers()) else {
        return Sent::refused(
            ErrorClass::SecretUnavailable,
            "the OAuth client secret could not be unsealed",
        );
    };
    let grant = Grant {
        client: &state.client,
        endpoint: ep.id.as_str(),
        credentials,
        secret: &secret,
        local_mode,
    };
    let first = match token(state, grant, now, turn, false).await {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    let sent = send::send(
        &state.client,
        Outgoing {
            auth: Authorization::Bearer(first.clone()),
            ..out.clone()
        },
        local_mode,
        now,
    )
    .await;
    if sent.response_code != Some(401) {
        return sent;
    }
    tracing::info!(endpoint_id = %ep.id, "webhook: the receiver refused the token; fetching a fresh one");
    state
        .tokens
        .forget(grant.endpoint, credentials, &first, now);
    match token(state, grant, now, turn, true).await {
        Ok(fresh) => {
            let again = Outgoing {
                auth: Authorization::Bearer(fresh),
                ..out
            };
            send::send(&state.client, again, local_mode, now).await
        }
        Err(refused) => refused,
    }
}

/// A token for `grant`: the kept one at once, or — the permit given back meanwhile — the one
/// being fetched, waited for at most the send timeout. A failure is the attempt's, of class
/// `token_endpoint`. Either way the delivery holds its permit again on return.
async fn token(
    state: &Webhooks,
    grant: Grant<'_>,
    now: i64,
    turn: &mut Turn,
    fresh: bool,
) -> Result<keygate_core::kernel::crypto::Secret, Sent> {
    let got = match state.tokens.token(grant, now, state.settings.timeout) {
        Token::Kept(token) => Ok(token),
        Token::Pending(pending) => {
            turn.pause();
            let got = pending.wait().await;
            turn.resume().await;
            got
        }
    };
    got.map_err(|f| {
        let when = if fresh { "a fresh token" } else { "a token" };
        let status = f.status.map_or(String::new(), |s| format!(" ({s})"));
        Sent::refused(
            ErrorClass::TokenEndpoint,
            format!("{when}: {}{status}", f.detail),
        )
    })
}

/// The request for one endpoint: its signatures and its key, unsealed now (an OAuth callback's
/// token is added by [`authenticated_send`]).
fn prepare<'a>(ep: &'a Endpoint, shared: &'a Shared, now: i64) -> Result<Outgoing<'a>, Sent> {
    let peppers = shared.ring.peppers();
    let secrets = ep.active_secrets(peppers, now);
    let signature = sign::signature_header(&secrets, &shared.message.id, now, &shared.body)
        .ok_or_else(|| {
            Sent::refused(
                ErrorClass::SecretUnavailable,
                "no signing secret could be unsealed",
            )
        })?;
    let auth = match &ep.key {
        None => Authorization::None,
        Some(_) => Authorization::Basic(ep.open_key(peppers).ok_or_else(|| {
            Sent::refused(
                ErrorClass::SecretUnavailable,
                "the callback key could not be unsealed",
            )
        })?),
    };
    Ok(Outgoing {
        url: &ep.url,
        event_id: &shared.message.id,
        timestamp: now,
        body: shared.body.clone(),
        signature,
        auth,
    })
}

/// One line per attempt: ids and outcome, never the URL (it may hold a token), key or signature.
fn log(a: &Attempt, account: &keygate_core::kernel::ids::AccountId, sent: &Sent) {
    let class = a.error_class.map(ErrorClass::as_str);
    // The alarm on the failure ratio watches these two outcomes (template.yaml).
    let outcome = if a.status == AttemptStatus::Succeeded {
        "delivered"
    } else {
        "failed"
    };
    keygate_core::kernel::metrics::delivery(outcome, a.latency_ms as f64);
    if a.status == AttemptStatus::Succeeded {
        tracing::info!(
            event_id = %a.event_id, account = %account, endpoint_id = %a.endpoint_id,
            attempt = a.attempt, response_code = a.response_code, latency_ms = a.latency_ms,
            "webhook delivered"
        );
    } else {
        tracing::warn!(
            event_id = %a.event_id, account = %account, endpoint_id = %a.endpoint_id,
            attempt = a.attempt, response_code = a.response_code, error_class = class,
            latency_ms = a.latency_ms, detail = sent.detail.as_deref(),
            "webhook attempt failed"
        );
    }
}
