//! The `webhooks` function: event messages off SQS, signed HTTP POSTs to the callback endpoints
//! of the event's account (docs/EVENTS.md).
//!
//! Per message of a batch, all concurrently (at most [`Settings::concurrency`] sends at a time):
//! - a message that can never succeed (malformed, unknown event, unknown account) goes to the
//!   dead-letter queue at once with its reason and is acknowledged;
//! - otherwise every endpoint of the account that wants the event type gets it ([`fanout`]),
//!   at most once per (event, endpoint) ([`ledger`]), every try recorded
//!   ([`keygate_core::notify::attempts`]);
//! - if any endpoint failed, the message is made invisible for [`retry_delay`] seconds (from its
//!   receive count) and reported in `batchItemFailures`, so SQS brings it back alone — and then
//!   only the endpoints that have not taken it are tried again. After the template's
//!   `maxReceiveCount` (8) tries SQS moves it to the DLQ.

/// The DynamoDB actions this function's code makes: it reads accounts and endpoints, claims
/// deliveries in the ledger, records attempts, disables failing endpoints with their audit record.
/// Mirrored by its IAM statement in `template.yaml` (`WebhooksFunction`), which the routes test
/// compares with this list.
pub const DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:Query",
];

pub mod callback_tokens;
pub mod fanout;
pub mod health;
pub mod ledger;
pub mod schedule;
pub mod send;
pub mod sign;
/// The SSRF guard, shared with the `token` function (`jwksUri`): `keygate_http::ssrf`.
pub use keygate_http::ssrf;
pub mod state;

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use bytes::Bytes;
use keygate_core::notify::events::{self, EventMessage, Poison};
use keygate_core::ports::services::Queues;
use keygate_core::Services;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::fanout::EndpointResult;
pub use crate::schedule::{retry_delay, Pushback};
pub use crate::state::{client, Settings, StartError, Webhooks, DEFAULT_DISABLE_AFTER_SECONDS};

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Settled: every endpoint that wants it has it (or is now disabled), or none wants it.
    Done { delivered: usize, already: usize },
    /// Sent to the DLQ with this reason code.
    DeadLettered(&'static str),
    /// Not settled: SQS must deliver it again after `delay` seconds (its new visibility).
    Retry { why: Unsettled, delay: u32 },
}

/// Why a message is not settled yet (the details are logged where they happen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsettled {
    /// A backing service could not be asked: `what` was being done (`account`, `endpoints`,
    /// `ledger`, `dead-letter queue`).
    Backend { what: &'static str, transient: bool },
    /// `failed` of `of` endpoints did not take it.
    Endpoints { failed: usize, of: usize },
    /// The handler's own task failed (a bug, logged).
    TaskFailed,
}

impl std::fmt::Display for Unsettled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsettled::Backend {
                what,
                transient: true,
            } => write!(f, "{what}: backing service unavailable"),
            Unsettled::Backend {
                what,
                transient: false,
            } => write!(f, "{what}: backing service error"),
            Unsettled::Endpoints { failed, of } => {
                write!(f, "{failed} of {of} endpoints not delivered")
            }
            Unsettled::TaskFailed => f.write_str("message task failed"),
        }
    }
}

impl Unsettled {
    /// A store failure while doing `what`, logged here with its cause.
    fn store(what: &'static str, e: &keygate_core::ports::store::StoreError) -> Self {
        tracing::warn!(error = %e, what, "webhooks: store");
        Unsettled::Backend {
            what,
            transient: e.is_transient(),
        }
    }
}

/// One invocation: every message of the batch concurrently; the unsettled ones are reported in
/// `batchItemFailures` after their visibility is set for the retry.
pub async fn handle_batch(state: &Webhooks, event: SqsEvent) -> SqsBatchResponse {
    let permits = Arc::new(Semaphore::new(state.settings.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut ids = HashMap::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let (st, p) = (state.clone(), permits.clone());
        let task = tasks.spawn(async move { settle(&st, &record, &p).await });
        ids.insert(task.id(), id);
    }
    let mut resp = SqsBatchResponse::default();
    while let Some(joined) = tasks.join_next_with_id().await {
        let (task, outcome) = match joined {
            Ok((task, outcome)) => (task, outcome),
            Err(e) => {
                tracing::error!(error = %e, "message task failed");
                let outcome = Outcome::Retry {
                    why: Unsettled::TaskFailed,
                    delay: 0,
                };
                (e.id(), outcome)
            }
        };
        let id = ids.remove(&task).unwrap_or_default();
        match &outcome {
            Outcome::Done { delivered, already } => {
                tracing::info!(message_id = %id, delivered, already, "settled")
            }
            Outcome::DeadLettered(reason) => {
                tracing::warn!(message_id = %id, reason, "dead-lettered")
            }
            Outcome::Retry { why, delay } => {
                tracing::warn!(message_id = %id, why = %why, delay, "will retry")
            }
        }
        if let Outcome::Retry { .. } = outcome {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            resp.batch_item_failures.push(failure);
        }
    }
    resp
}

/// Handles one message and, when it must come back, sets when.
async fn settle(state: &Webhooks, record: &SqsMessage, permits: &Arc<Semaphore>) -> Outcome {
    let outcome = handle_message(state, record, permits).await;
    if let (Outcome::Retry { delay, .. }, Some(receipt)) = (&outcome, &record.receipt_handle) {
        if let Err(e) = state.queues.events.change_visibility(receipt, *delay).await {
            // The queue's own visibility timeout applies instead.
            tracing::warn!(error = %e, "retry delay not set");
        }
    }
    outcome
}

/// The SQS receive count: 1 on first delivery.
pub fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .max(1)
}

/// The life of one message, step by step (check, subscribers, fan-out, outcome): long, but each
/// step is one call and its failure's retry.
async fn handle_message(
    state: &Webhooks,
    record: &SqsMessage,
    permits: &Arc<Semaphore>,
) -> Outcome {
    let services = &state.services;
    let attempt = receive_count(record);
    // When this message is to come back, and why.
    let retry = |why: Unsettled, pushback: Pushback| {
        // Its last try: visible at once, so SQS hands it to the DLQ now rather than after the
        // schedule's 10 h. (Only at exactly the last: were the queue's maxReceiveCount higher
        // than configured, later receives keep the schedule instead of spinning.)
        let delay = if attempt == state.settings.max_receives {
            0
        } else {
            retry_delay(attempt, pushback, rand::random::<f64>())
        };
        Outcome::Retry { why, delay }
    };
    let body = record.body.as_deref().unwrap_or("");
    let message = match check(services, body).await {
        Checked::Deliver(m) => m,
        Checked::Later(why) => return retry(why, Pushback::None),
        Checked::Poison(poison) => return dead_letter(&state.queues, body, &poison).await,
    };
    let endpoints = match keygate_core::notify::endpoints::subscribed(
        &*services.table,
        &message.account_id,
        &message.name,
    )
    .await
    {
        Ok(e) => e,
        Err(e) => return retry(Unsettled::store("endpoints", &e), Pushback::None),
    };
    if endpoints.is_empty() {
        return Outcome::Done {
            delivered: 0,
            already: 0,
        };
    }
    // The body every endpoint gets: the message as validated, in its canonical JSON.
    let payload = match serde_json::to_vec(&message) {
        Ok(v) => Bytes::from(v),
        Err(e) => {
            tracing::error!(error = %e, "webhooks: serialising a validated event");
            return retry(Unsettled::TaskFailed, Pushback::None);
        }
    };
    let results = fanout::fan_out(state, message, payload, endpoints, attempt, permits).await;

    let (mut delivered, mut already) = (0, 0);
    let mut pending: Vec<Pushback> = Vec::new();
    for r in results {
        match r {
            EndpointResult::Delivered => delivered += 1,
            EndpointResult::AlreadyDelivered => already += 1,
            EndpointResult::Dropped => {}
            EndpointResult::Busy | EndpointResult::Unavailable => pending.push(Pushback::None),
            EndpointResult::Failed(p) => pending.push(p),
        }
    }
    // Several endpoints failed: the one that asked for the longest wait sets the delay (a
    // receiver's Retry-After is honoured; the others only wait longer).
    match pending
        .iter()
        .max_by_key(|p| retry_delay(attempt, **p, 0.5))
    {
        None => Outcome::Done { delivered, already },
        Some(pushback) => retry(
            Unsettled::Endpoints {
                failed: pending.len(),
                of: pending.len() + delivered + already,
            },
            *pushback,
        ),
    }
}

/// What a queue message turned out to be.
enum Checked {
    /// An event of a known account: deliver it.
    Deliver(EventMessage),
    /// A message that can never succeed: to the dead-letter queue with its reason.
    Poison(Poison),
    /// It could not be checked now: retry later.
    Later(Unsettled),
}

async fn check(services: &Services, body: &str) -> Checked {
    let m = match events::parse(body) {
        Ok(m) => m,
        Err(poison) => return Checked::Poison(poison),
    };
    match keygate_core::accounts::get_account(&*services.table, &m.account_id).await {
        Ok(Some(_)) => Checked::Deliver(m),
        Ok(None) => Checked::Poison(Poison::UnknownAccount(m.account_id.to_string())),
        Err(e) => Checked::Later(Unsettled::store("account", &e)),
    }
}

async fn dead_letter(queues: &Queues, body: &str, poison: &Poison) -> Outcome {
    let detail = poison.to_string();
    match queues
        .dead_letters
        .send(body, &[("reason", poison.code()), ("detail", &detail)])
        .await
    {
        Ok(_) => Outcome::DeadLettered(poison.code()),
        Err(e) => {
            tracing::warn!(error = %e, "webhooks: dead-letter queue");
            Outcome::Retry {
                why: Unsettled::Backend {
                    what: "dead-letter queue",
                    transient: e.is_transient(),
                },
                delay: retry_delay(1, Pushback::None, 0.5),
            }
        }
    }
}

#[cfg(test)]
mod tests;
