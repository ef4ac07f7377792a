//! The `webhooks` function: event messages off SQS, signed HTTP POSTs to the callback endpoints
//! of the event's account (docs/EVENTS.md).
//!
//! Per message of a batch, all concurrently (at most [`Settings::concurrency`] sends at a time):
//! - a message that can never succeed (malformed, unknown event, unknown account) goes to the
//!   dead-letter queue at once with its reason and is acknowledged;
//! - otherwise every endpoint of the account that wants the event type gets it ([`fanout`]),
//!   at most once per (event, endpoint) ([`ledger`]), every try recorded
//!   ([`keygate_core::notify::attempts`]);
//! - every event of a known account is kept for the retention period with its payload
//!   ([`keygate_core::notify::messages`]), so it can be listed, resent and recovered;
//! - if any endpoint failed, the message is made invisible for [`retry_delay`] seconds (from that
//!   endpoint's failed tries) and reported in `batchItemFailures`, so SQS brings it back alone —
//!   and then only the endpoints that have not taken it are tried again. An endpoint whose
//!   `rateLimit` is used up this second makes it come back when its turn comes, with no attempt
//!   counted ([`throttle`]). After [`Settings::max_receives`] failed tries at an endpoint, the
//!   message goes to the DLQ for that endpoint and the account hears it (operational events,
//!   [`ops`]); SQS's own `maxReceiveCount` is only a backstop above that.
//! - a message keygate sent itself may name one endpoint (a resend, a redriven message that
//!   exhausted there: [`keygate_core::notify::messages::attributes`]), or be a recovery job
//!   ([`recover`]), which delivers what an endpoint missed, in order.

/// The DynamoDB actions this function's code makes: it reads accounts and endpoints, keeps
/// messages, claims and releases deliveries in the ledger (and asks it in batches, recovering),
/// counts endpoints' rates, records attempts, reads the messages' index, disables failing
/// endpoints with their audit record.
/// Mirrored by its IAM statement in `template.yaml` (`WebhooksFunction`), which the routes test
/// compares with this list.
pub const DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:Query",
];

pub mod callback_tokens;
pub mod fanout;
pub mod health;
pub mod ledger;
pub mod ops;
pub mod recover;
pub mod schedule;
pub mod send;
pub mod sign;
/// The SSRF guard, shared with the `token` function (`jwksUri`): `keygate_http::ssrf`.
pub use keygate_http::ssrf;
pub mod state;
pub mod throttle;

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use bytes::Bytes;
use keygate_core::notify::events::{self, EventMessage, Poison};
use keygate_core::ports::services::Queues;
use keygate_core::Services;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::fanout::{EndpointResult, Plan};
pub use crate::schedule::{retry_delay, Pushback};
pub use crate::state::{client, Settings, StartError, Webhooks, DEFAULT_DISABLE_AFTER_SECONDS};
use keygate_core::kernel::ids::EndpointId;
use keygate_core::notify::attempts::{Attempt, AttemptStatus};
use keygate_core::notify::endpoints::Endpoint;
use keygate_core::notify::messages::{self, attributes};

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
    /// Nothing failed: its turn, or its time, has not come yet.
    Waiting,
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
            Unsettled::Waiting => f.write_str("waiting for its turn"),
        }
    }
}

impl Unsettled {
    /// A store failure while doing `what`, logged here with its cause.
    pub(crate) fn store(what: &'static str, e: &keygate_core::ports::store::StoreError) -> Self {
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

/// The message attributes of a record (their string values).
pub fn message_attributes(record: &SqsMessage) -> HashMap<&str, &str> {
    record
        .message_attributes
        .iter()
        .filter_map(|(k, v)| v.string_value.as_deref().map(|s| (k.as_str(), s)))
        .collect()
}

/// The one endpoint a message keygate sent itself is for, and its resend round.
struct Target {
    endpoint: EndpointId,
    round: Option<String>,
}

impl Target {
    fn of(attrs: &HashMap<&str, &str>) -> Option<Self> {
        let endpoint = EndpointId::parse(attrs.get(attributes::ENDPOINT)?).ok()?;
        let round = attrs
            .get(attributes::ROUND)
            .filter(|r| r.len() <= 64 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .map(|r| (*r).to_owned());
        Some(Self { endpoint, round })
    }
}

/// The life of one message, step by step (a job, or: check, subscribers, retention, history,
/// fan-out, outcome): long, but each step is one call and its failure's retry.
async fn handle_message(
    state: &Webhooks,
    record: &SqsMessage,
    permits: &Arc<Semaphore>,
) -> Outcome {
    let services = &state.services;
    let receive = receive_count(record);
    let attrs = message_attributes(record);
    let body = record.body.as_deref().unwrap_or("");
    if attrs.get(attributes::JOB) == Some(&attributes::RECOVER) {
        return recover::run(state, body, permits).await;
    }
    // A backing service that could not be asked: back on the schedule of the message's
    // receives, so an outage of hours does not spend its receives in minutes.
    let retry = |why: Unsettled| Outcome::Retry {
        why,
        delay: retry_delay(receive, Pushback::None, rand::random::<f64>()),
    };
    let message = match check(services, body).await {
        Checked::Deliver(m) => m,
        Checked::Later(why) => return retry(why),
        Checked::Poison(poison) => return dead_letter(&state.queues, body, &poison).await,
    };
    let target = Target::of(&attrs);
    let endpoints = match recipients(state, &message, target.as_ref()).await {
        Ok(e) => e,
        Err(e) => return retry(Unsettled::store("endpoints", &e)),
    };
    let ids: Vec<EndpointId> = endpoints.iter().map(|e| e.id.clone()).collect();
    let kept = messages::retain(
        &*services.table,
        &message,
        &ids,
        services.now(),
        services.config.message_retention_days,
    )
    .await;
    if let Err(e) = kept {
        return retry(Unsettled::store("retention", &e));
    }
    if endpoints.is_empty() {
        return Outcome::Done {
            delivered: 0,
            already: 0,
        };
    }
    // A first delivery has no history; anything else reads the event's attempts once, so each
    // endpoint's attempt number and failed tries are its own (a throttled wait counts none).
    let history = if receive > 1 || target.is_some() {
        match keygate_core::notify::attempts::list(
            &*services.table,
            &message.account_id,
            &message.id,
        )
        .await
        {
            Ok(h) => h,
            Err(e) => return retry(Unsettled::store("attempts", &e)),
        }
    } else {
        Vec::new()
    };
    let round = target.and_then(|t| t.round);
    let plans: Vec<Plan> = endpoints
        .into_iter()
        .map(|ep| plan(ep, &history, round.clone()))
        .collect();
    // The body every endpoint gets: the message as validated, in its canonical JSON.
    let payload = match serde_json::to_vec(&message) {
        Ok(v) => Bytes::from(v),
        Err(e) => {
            tracing::error!(error = %e, "webhooks: serialising a validated event");
            return retry(Unsettled::TaskFailed);
        }
    };
    let results = fanout::fan_out(state, message, payload, plans, permits).await;
    outcome(&results)
}

/// Who gets `message`: the endpoint a targeted message names (if it is still there and
/// enabled), or every endpoint that subscribes to its type — never the endpoint an operational
/// event is about.
async fn recipients(
    state: &Webhooks,
    message: &events::EventMessage,
    target: Option<&Target>,
) -> Result<Vec<Endpoint>, keygate_core::ports::store::StoreError> {
    let table = &*state.services.table;
    let found = match target {
        None => {
            keygate_core::notify::endpoints::subscribed(table, &message.account_id, &message.name)
                .await?
        }
        Some(t) => keygate_core::notify::endpoints::get(table, &message.account_id, &t.endpoint)
            .await?
            .map(|(e, _)| e)
            .filter(|e| e.disabled.is_none())
            .into_iter()
            .collect(),
    };
    let about = message.about();
    Ok(found
        .into_iter()
        .filter(|e| !about.is_some_and(|a| e.is_named(a)))
        .collect())
}

/// An endpoint's delivery plan from the event's attempts: its attempt number, and its round's
/// failed tries since that round last ended.
pub fn plan(endpoint: Endpoint, history: &[Attempt], round: Option<String>) -> Plan {
    let mine: Vec<&Attempt> = history
        .iter()
        .filter(|a| a.endpoint_id == endpoint.id)
        .collect();
    let mut of_round: Vec<&&Attempt> = mine.iter().filter(|a| a.round == round).collect();
    of_round.sort_by_key(|a| (a.at, a.attempt));
    let since_end = of_round.iter().rposition(|a| a.last).map_or(0, |i| i + 1);
    let failures = of_round[since_end..]
        .iter()
        .filter(|a| a.status == AttemptStatus::Failed)
        .count();
    Plan {
        endpoint,
        attempt: u32::try_from(mine.len() + 1).unwrap_or(u32::MAX),
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        round,
    }
}

/// What the endpoints' results make of the message: settled, or back after the longest wait
/// any of them asked for (a receiver's Retry-After is honoured; the others only wait longer).
fn outcome(results: &[EndpointResult]) -> Outcome {
    let (mut delivered, mut already) = (0, 0);
    let mut waits: Vec<u32> = Vec::new();
    let mut failed = 0;
    for r in results {
        match r {
            EndpointResult::Delivered => delivered += 1,
            EndpointResult::AlreadyDelivered => already += 1,
            EndpointResult::Dropped | EndpointResult::Exhausted => {}
            EndpointResult::Busy | EndpointResult::Unavailable => {
                waits.push(retry_delay(1, Pushback::None, rand::random::<f64>()));
            }
            EndpointResult::Throttled(wait) => waits.push(*wait),
            EndpointResult::Failed { pushback, failures } => {
                failed += 1;
                waits.push(retry_delay(*failures, *pushback, rand::random::<f64>()));
            }
        }
    }
    match waits.iter().max() {
        None => Outcome::Done { delivered, already },
        Some(delay) if failed == 0 => Outcome::Retry {
            why: Unsettled::Waiting,
            delay: *delay,
        },
        Some(delay) => Outcome::Retry {
            why: Unsettled::Endpoints {
                failed,
                of: results.len(),
            },
            delay: *delay,
        },
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
