//! One event to every endpoint that wants it, concurrently, each endpoint on its own: its turn
//! (the endpoint's `rateLimit`, [`crate::throttle`]), claim, sign, authenticate (an OAuth 2.0
//! callback's token, [`crate::callback_tokens`]), send, update the endpoint's health, record the
//! attempt, settle the claim; and when that was its last try, the dead-letter queue and the
//! operational event that says so ([`crate::ops`]).
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
use keygate_core::notify::events as event_types;
use keygate_core::notify::messages::attributes;

/// What became of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointResult {
    /// Took the event now.
    Delivered,
    /// Had taken it before (a redelivery).
    AlreadyDelivered,
    /// Another delivery of the event to it is in flight.
    Busy,
    /// Its turn is this many seconds away (its `rateLimit`): no attempt was made.
    Throttled(u32),
    /// Failed; retry the message with this pushback. `failures`: this round's failed tries so
    /// far, this one included (the retry schedule's step).
    Failed { pushback: Pushback, failures: u32 },
    /// Failed and is now disabled (410, or failing too long): no retry for it.
    Dropped,
    /// Failed its last try: sent to the dead-letter queue for it, no retry here.
    Exhausted,
    /// The store could not be asked (logged); retry.
    Unavailable,
}

/// One endpoint's delivery of the event: which attempt it is, and of which round.
#[derive(Debug, Clone)]
pub struct Plan {
    pub endpoint: Endpoint,
    /// The number this attempt is recorded with (the endpoint's attempts of the event so far,
    /// plus one).
    pub attempt: u32,
    /// This round's failed tries so far: with [`crate::Settings::max_receives`] of them, the
    /// round is exhausted.
    pub failures: u32,
    /// A resend's id: its own claim and round ([`Pair::round`]).
    pub round: Option<String>,
}

/// The same event for every endpoint.
struct Shared {
    message: EventMessage,
    body: Bytes,
    ring: Arc<KeyRing>,
}

/// Delivers `message` by each of `plans`, at most `permits` sends at a time across the batch.
pub async fn fan_out(
    state: &Webhooks,
    message: EventMessage,
    body: Bytes,
    plans: Vec<Plan>,
    permits: &Arc<Semaphore>,
) -> Vec<EndpointResult> {
    let shared = Arc::new(Shared {
        ring: state.services.keys.ring().await,
        message,
        body,
    });
    let mut tasks = JoinSet::new();
    for plan in plans {
        let (state, shared, permits) = (state.clone(), shared.clone(), permits.clone());
        tasks.spawn(async move {
            let Some(mut turn) = Turn::take(permits).await else {
                return EndpointResult::Unavailable;
            };
            deliver_one(&state, &shared, plan, &mut turn).await
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

/// One endpoint's delivery from its turn to its bookkeeping, in order: the throttle, the claim,
/// the send, the endpoint's health, the attempt record, the ledger, and what a last try leaves.
async fn deliver_one(
    state: &Webhooks,
    shared: &Shared,
    plan: Plan,
    turn: &mut Turn,
) -> EndpointResult {
    let services = &state.services;
    let table = &*services.table;
    let m = &shared.message;
    let ep = &plan.endpoint;
    let now = services.now();
    match crate::throttle::turn(table, &m.account_id, ep, &m.id, now).await {
        Ok(None) => {}
        Ok(Some(wait)) => {
            tracing::info!(event_id = %m.id, endpoint_id = %ep.id, wait, "webhook waits its turn (rateLimit)");
            return EndpointResult::Throttled(wait);
        }
        Err(e) => {
            tracing::warn!(error = %e, "webhooks: rate counter");
            return EndpointResult::Unavailable;
        }
    }
    let pair = Pair {
        account: &m.account_id,
        event_id: &m.id,
        endpoint: &ep.id,
        round: plan.round.as_deref(),
    };
    let lease =
        i64::try_from(state.settings.timeout.as_secs()).unwrap_or(60) + LEASE_MARGIN_SECONDS;
    match pair.claim(table, plan.attempt, now, lease).await {
        Ok(Claim::Won) => {}
        Ok(Claim::Delivered) => return EndpointResult::AlreadyDelivered,
        Ok(Claim::Busy) => return EndpointResult::Busy,
        Err(e) => {
            tracing::warn!(error = %e, "webhooks: delivery ledger");
            return EndpointResult::Unavailable;
        }
    }

    let sent = match prepare(ep, shared, now) {
        Ok(out) => authenticated_send(state, ep, shared, out, now, turn).await,
        Err(refused) => refused,
    };
    let succeeded = sent.verdict == Verdict::Succeeded;
    let disable_after = state.settings.disable_after;
    let health = health::apply(table, ep, sent.verdict, now, disable_after).await;
    let health = health.unwrap_or_else(|e| {
        tracing::warn!(endpoint_id = %ep.id, error = %e, "endpoint health not updated");
        Health::Active
    });
    let failures = plan.failures + u32::from(!succeeded);
    let exhausted =
        !succeeded && !health.is_disabled() && failures >= state.settings.max_receives.max(1);
    let record = Attempt {
        event_id: m.id.clone(),
        event_name: m.name.clone(),
        endpoint_id: ep.id.clone(),
        attempt: plan.attempt,
        status: if succeeded {
            AttemptStatus::Succeeded
        } else {
            AttemptStatus::Failed
        },
        response_code: sent.response_code,
        error_class: sent.error_class,
        latency_ms: sent.latency_ms,
        at: now,
        round: plan.round.clone(),
        last: !succeeded && (exhausted || health.is_disabled()),
    };
    log(&record, &m.account_id, &sent);
    if let Err(e) = attempts::record(table, &m.account_id, &record).await {
        tracing::warn!(event_id = %m.id, endpoint_id = %ep.id, error = %e, "attempt not recorded");
    }

    let settled = if succeeded {
        let ttl = crate::ledger::delivered_ttl(services.config.message_retention_days);
        pair.delivered(table, plan.attempt, now, ttl).await
    } else {
        pair.release(table).await
    };
    if let Err(e) = settled {
        // Delivered but not marked: a redelivery may send it again (at-least-once). Failed but
        // not released: the lease runs out before the next try is due.
        tracing::warn!(event_id = %m.id, endpoint_id = %ep.id, error = %e, "delivery mark not written");
    }

    if let Health::DisabledNow(reason) = &health {
        crate::ops::emit(
            state,
            event_types::ENDPOINT_DISABLED,
            ep,
            format!(
                "The callback endpoint {} was disabled: {reason}.",
                ep.api_id()
            ),
            crate::ops::field("reason", reason.as_str()),
        )
        .await;
    }
    match (succeeded, health.is_disabled(), exhausted) {
        (true, _, _) => EndpointResult::Delivered,
        (false, true, _) => EndpointResult::Dropped,
        (false, false, true) => {
            exhaust(state, shared, &plan).await;
            EndpointResult::Exhausted
        }
        (false, false, false) => EndpointResult::Failed {
            pushback: sent.pushback,
            failures,
        },
    }
}

/// A round used up its tries at an endpoint: the message goes to the dead-letter queue for that
/// endpoint (a redrive delivers it there again, and nowhere it was delivered), and the account
/// hears it (`CALLBACK_DELIVERY_EXHAUSTED`) — unless the message is an operational event itself.
async fn exhaust(state: &Webhooks, shared: &Shared, plan: &Plan) {
    let m = &shared.message;
    let ep = &plan.endpoint;
    let body = String::from_utf8_lossy(&shared.body);
    let mut attrs = vec![
        (attributes::REASON, "exhausted"),
        (attributes::ENDPOINT, ep.id.as_str()),
    ];
    if let Some(round) = &plan.round {
        attrs.push((attributes::ROUND, round.as_str()));
    }
    match state.queues.dead_letters.send(&body, &attrs).await {
        Ok(_) => {
            tracing::warn!(event_id = %m.id, endpoint_id = %ep.id, "webhook exhausted its retries: dead-lettered for the endpoint")
        }
        Err(e) => {
            tracing::error!(event_id = %m.id, endpoint_id = %ep.id, error = %e, "webhook exhausted its retries; the dead-letter queue refused it")
        }
    }
    if event_types::is_operational(&m.name) {
        // Not about an operational event itself: two failing endpoints told of each other
        // would tell each other forever.
        return;
    }
    crate::ops::emit(
        state,
        event_types::DELIVERY_EXHAUSTED,
        ep,
        format!(
            "The message {} could not be delivered to the callback endpoint {} after every retry.",
            m.id,
            ep.api_id()
        ),
        crate::ops::field("messageId", m.id.as_str()),
    )
    .await;
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
