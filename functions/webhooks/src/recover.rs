//! Recovery jobs (`POST /api/callback/recover`): what one endpoint missed in a window, delivered
//! again oldest first, each with its original `webhook-id`, as any delivery is (the endpoint's
//! turn, the ledger's claim — so nothing it took is sent again —, signatures, authentication,
//! the SSRF guard, the attempt recorded).
//!
//! A job ([`Recovery`]) works one part at a time ([`PART`] messages, or [`BUDGET`] of wall
//! time), one message after the other so their order holds, then queues itself again from where
//! it stopped. A message that fails stops the job: it comes back after the retry schedule's
//! delay for its failed tries, counted in the job; when they are used up
//! ([`crate::Settings::max_receives`]) the message is dead-lettered for the endpoint, the account
//! hears it, and the job ends — the endpoint is down again, a later recovery takes it from there.
//! An endpoint disabled meanwhile (410) ends it too. A throttled endpoint makes it wait its turn,
//! counting nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use keygate_core::notify::messages::{self, attributes, Recovery};
use keygate_core::ports::queue::MAX_SEND_DELAY;
use tokio::sync::Semaphore;

use crate::fanout::{self, EndpointResult};
use crate::schedule::{retry_delay, Pushback};
use crate::{Outcome, Unsettled, Webhooks};

/// Messages one part delivers at most.
pub const PART: usize = 10;
/// Wall time after which a part stops starting deliveries (each may take the send timeout more):
/// well inside the function's 60 s.
pub const BUDGET: Duration = Duration::from_secs(20);
/// Index entries one part reads at most while looking for what was missed.
const SCAN: usize = 5_000;

/// Runs one part of the job in `body`.
pub async fn run(state: &Webhooks, body: &str, permits: &Arc<Semaphore>) -> Outcome {
    let job: Recovery = match serde_json::from_str(body) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(error = %e, "recovery job unreadable: dropped");
            return done();
        }
    };
    let services = &state.services;
    let now = services.now();
    if let Some(at) = job.not_before.filter(|at| *at > now) {
        // Early: wait for it, counting nothing.
        return Outcome::Retry {
            why: Unsettled::Waiting,
            delay: u32::try_from(at - now).unwrap_or(u32::MAX),
        };
    }
    let table = &*services.table;
    let endpoint = match keygate_core::notify::endpoints::get(
        table,
        &job.account_id,
        &job.endpoint_id,
    )
    .await
    {
        Ok(Some((e, _))) if e.disabled.is_none() => e,
        Ok(_) => {
            tracing::info!(job = %job.id, "recovery ended: the endpoint is gone or disabled");
            return done();
        }
        Err(e) => {
            return Outcome::Retry {
                why: Unsettled::store("endpoints", &e),
                delay: 5,
            }
        }
    };
    let started = Instant::now();
    let mut job = job;
    loop {
        let part = messages::missed(
            table,
            &job.account_id,
            &endpoint,
            job.window,
            job.after.as_deref(),
            PART,
            SCAN,
            now,
        )
        .await;
        let part = match part {
            Ok(p) => p,
            Err(e) => {
                return Outcome::Retry {
                    why: Unsettled::store("messages", &e),
                    delay: 5,
                }
            }
        };
        if part.messages.is_empty() {
            if part.complete {
                tracing::info!(job = %job.id, "recovery done");
                return done();
            }
            // Read its budget without finding any: go on from where the scan got to.
            return again(state, job, 0).await;
        }
        for m in part.messages {
            let history =
                match keygate_core::notify::attempts::list(table, &job.account_id, &m.id).await {
                    Ok(h) => h,
                    Err(e) => {
                        return Outcome::Retry {
                            why: Unsettled::store("attempts", &e),
                            delay: 5,
                        }
                    }
                };
            let mut plan = crate::plan(endpoint.clone(), &history, None);
            plan.failures = job.failures;
            let body = match serde_json::to_vec(&m.payload) {
                Ok(b) => Bytes::from(b),
                Err(e) => {
                    tracing::error!(error = %e, "webhooks: serialising a retained event");
                    return done();
                }
            };
            let key = m.order_key();
            let result = fanout::fan_out(state, m.payload, body, vec![plan], permits)
                .await
                .pop()
                .unwrap_or(EndpointResult::Unavailable);
            match result {
                EndpointResult::Delivered | EndpointResult::AlreadyDelivered => {
                    job.after = Some(key);
                    job.failures = 0;
                }
                EndpointResult::Throttled(wait) => return again(state, job, wait).await,
                EndpointResult::Busy | EndpointResult::Unavailable => {
                    return again(state, job, retry_delay(1, Pushback::None, 0.5)).await
                }
                EndpointResult::Failed { pushback, failures } => {
                    job.failures = failures;
                    let delay = retry_delay(failures, pushback, rand::random::<f64>());
                    return again(state, job, delay).await;
                }
                EndpointResult::Exhausted | EndpointResult::Dropped => {
                    tracing::warn!(job = %job.id, "recovery ended: the endpoint failed again");
                    return done();
                }
            }
            if started.elapsed() >= BUDGET {
                return again(state, job, 0).await;
            }
        }
    }
}

fn done() -> Outcome {
    Outcome::Done {
        delivered: 0,
        already: 0,
    }
}

/// Queues the job again, to run after `delay` seconds (beyond SQS's 15-minute send delay, it
/// waits the rest when it comes). If the queue refuses, this part's message comes back instead
/// and redoes the part — the ledger skips what it delivered.
async fn again(state: &Webhooks, mut job: Recovery, delay: u32) -> Outcome {
    let now = state.services.now();
    job.not_before = (delay > MAX_SEND_DELAY).then(|| now + i64::from(delay));
    let body = match serde_json::to_string(&job) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: serialising a recovery job");
            return done();
        }
    };
    let sent = state
        .queues
        .events
        .send_delayed(
            &body,
            &[(attributes::JOB, attributes::RECOVER)],
            delay.min(MAX_SEND_DELAY),
        )
        .await;
    match sent {
        Ok(_) => done(),
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "recovery job not queued again");
            Outcome::Retry {
                why: Unsettled::Backend {
                    what: "events queue",
                    transient: e.is_transient(),
                },
                delay: 5,
            }
        }
    }
}
