//! `POST /api/callback/recover`: what one endpoint did not receive in a window — failed,
//! exhausted to the dead-letter queue, or sent while it was disabled — oldest first.
//!
//! A message counts as missed by an endpoint when the endpoint wants its event type now (its
//! filter; never an operational event about itself), the message came after the endpoint
//! existed, and the delivery ledger holds no `delivered` mark for the pair
//! ([`crate::notify::ledger::taken`], kept as long as the message). The scan reads the index
//! shards oldest first, merged exactly as [`super::listing`] does newest first, and asks the
//! ledger in batches of 100.
//!
//! The management route counts what a window holds (refusing more than [`MAX_RECOVER`]) and
//! queues one [`Recovery`] job; the webhooks function works through it a few messages at a
//! time, in order, each delivered as any delivery is (signed, SSRF-guarded, authenticated,
//! recorded), the job queued again after each part. Its failures are counted in the job, not
//! in SQS's receive count, so waiting for a throttled endpoint costs it nothing.

use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};

use super::{ceiling_key, floor_key, shards, Retained};
use crate::kernel::clock::UnixSeconds;
use crate::kernel::ids::{AccountId, EndpointId};
use crate::notify::endpoints::Endpoint;
use crate::notify::ledger;
use crate::ports::store::{Item, SkRange, StoreError, Table};

/// Most messages one recovery delivers (`400` beyond, with the count).
pub const MAX_RECOVER: usize = 10_000;
/// Index entries one count reads at most: past it the count is a lower bound.
pub const SCAN_BUDGET: usize = 100_000;
/// Entries read from each shard per round: many when counting a window, a few more than asked
/// for when taking a part of it.
fn page(want: usize) -> usize {
    if want == 0 {
        500
    } else {
        (want * 4).clamp(20, 500)
    }
}

/// A recovery's window, in milliseconds, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    pub since_ms: i64,
    pub until_ms: i64,
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Missed {
    /// The oldest missed messages after the starting point, at most as many as asked for.
    pub messages: Vec<Retained>,
    /// How many missed messages the scan saw (those returned included).
    pub count: usize,
    /// Whether the scan reached the end of the window (else `count` is a lower bound, or the
    /// scan stopped once it had the messages it was asked for).
    pub complete: bool,
}

/// Whether `endpoint` wants `m` and did not come after it.
fn meant_for(endpoint: &Endpoint, m: &Retained) -> bool {
    endpoint.events.contains(&m.name)
        && m.received_at >= endpoint.created_at
        && !m.payload.about().is_some_and(|a| endpoint.is_named(a))
}

/// `endpoint`'s missed messages of `account` in `window`, oldest first, after the order key
/// `after` (exclusive): at most `want` returned, at most `budget` index entries read.
#[allow(clippy::too_many_arguments)] // the scan's bounds, each a plain value
pub async fn missed(
    table: &dyn Table,
    account: &AccountId,
    endpoint: &Endpoint,
    window: Window,
    after: Option<&str>,
    want: usize,
    budget: usize,
    now: UnixSeconds,
) -> Result<Missed, StoreError> {
    let upper = ceiling_key(window.until_ms);
    let mut done: Option<String> = after.map(str::to_owned);
    let mut out = Missed::default();
    let mut examined = 0usize;
    let shard_keys = shards(account);
    let page = page(want);
    loop {
        let from = match &done {
            Some(d) => d.clone().max(floor_key(window.since_ms)),
            None => floor_key(window.since_ms),
        };
        if from > upper {
            out.complete = true;
            return Ok(out);
        }
        let range = SkRange {
            from: Some(&from),
            to: Some(&upper),
            descending: false,
        };
        let pages = try_join_all(
            shard_keys
                .iter()
                .map(|s| table.query_gsi1_range(s, range, page + 1)),
        )
        .await?;
        // Exact up to the oldest of the full pages' newest keys.
        let frontier = pages
            .iter()
            .filter(|p| p.len() > page)
            .filter_map(|p| p.last().and_then(|i| i.gsi1.as_ref()).map(|g| g.1.clone()))
            .min();
        let mut merged: Vec<(String, Item)> = pages
            .into_iter()
            .flatten()
            .filter_map(|i| i.gsi1.clone().map(|g| (g.1, i)))
            .filter(|(k, _)| frontier.as_ref().is_none_or(|f| k <= f))
            .filter(|(k, _)| done.as_ref().is_none_or(|d| k > d))
            .collect();
        merged.sort_by(|a, b| a.0.cmp(&b.0));
        examined += merged.len();
        let mut candidates: Vec<Retained> = Vec::new();
        for (_, item) in &merged {
            if !item.is_live(now) {
                continue;
            }
            let m: Retained = item.decode()?;
            if meant_for(endpoint, &m) {
                candidates.push(m);
            }
        }
        let ids: Vec<&str> = candidates.iter().map(|m| m.id.as_str()).collect();
        let taken = ledger::taken(table, account, &endpoint.id, &ids, now).await?;
        for (m, took) in candidates.into_iter().zip(taken) {
            if took {
                continue;
            }
            out.count += 1;
            if out.messages.len() < want {
                out.messages.push(m);
            } else if want > 0 {
                // Asked for a part of the window: the part is full.
                return Ok(out);
            }
        }
        match frontier {
            None => {
                out.complete = true;
                return Ok(out);
            }
            Some(f) => done = Some(f),
        }
        if examined >= budget {
            return Ok(out);
        }
    }
}

/// A recovery job, as queued (body JSON, attribute `keygate-job: recover`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovery {
    /// `rc_…`, for logs.
    pub id: String,
    pub account_id: AccountId,
    pub endpoint_id: EndpointId,
    pub window: Window,
    /// The order key of the last message done (exclusive start of the next part).
    #[serde(default)]
    pub after: Option<String>,
    /// Failed tries of the message the job is at.
    #[serde(default)]
    pub failures: u32,
    /// Not to run before this time (a retry's delay beyond SQS's 15-minute send delay).
    #[serde(default)]
    pub not_before: Option<UnixSeconds>,
}

impl Recovery {
    pub fn new(account_id: AccountId, endpoint_id: EndpointId, window: Window) -> Self {
        Self {
            id: format!("rc_{}", crate::kernel::ids::random_suffix()),
            account_id,
            endpoint_id,
            window,
            after: None,
            failures: 0,
            not_before: None,
        }
    }
}
