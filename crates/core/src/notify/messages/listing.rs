//! `GET /api/callback/messages`: an account's retained messages, newest first, with their
//! outcome per endpoint, filtered by time (`since`/`until` against `createdDate`), event type
//! and status, a page at a time.
//!
//! Each round reads every index shard with one ranged, newest-first query below the page's
//! cursor and merges them. The merge is exact down to the *frontier* — the oldest key of a shard
//! that returned a full page (below it, that shard may hold more) — so a round hands on only
//! what lies above it, and the next round starts there. A status filter needs each candidate's
//! attempts (one query of its own partition); a page whose filters keep few messages may come
//! back short, with a cursor to go on, after [`MAX_ROUNDS`] rounds — as DynamoDB's own filtered
//! queries do — so one request never reads an unbounded part of the index.

use futures_util::future::try_join_all;

use super::{ceiling_key, floor_key, outcomes, shards, Outcome, Retained, Status, MAX_PAGE};
use crate::kernel::clock::UnixSeconds;
use crate::kernel::ids::AccountId;
use crate::notify::attempts;
use crate::notify::endpoints::Endpoint;
use crate::ports::store::{Item, SkRange, StoreError, Table};

/// Rounds of index reads one page may take.
pub const MAX_ROUNDS: usize = 5;

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Messages whose time is at or after this (ms).
    pub since_ms: Option<i64>,
    /// Messages whose time is at or before this (ms).
    pub until_ms: Option<i64>,
    pub event_type: Option<String>,
    /// Messages with at least one endpoint in this status.
    pub status: Option<Status>,
    /// At most this many (1..=[`MAX_PAGE`]).
    pub limit: usize,
    /// Below this order key (the previous page's last).
    pub cursor: Option<String>,
}

/// A listed message with its outcome per endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub message: Retained,
    pub outcomes: Vec<Outcome>,
}

/// One page; `next` is the order key to go on below (`None`: nothing older matches).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub messages: Vec<Listed>,
    pub next: Option<String>,
}

/// A page of `account`'s messages, its outcomes judged against `current` (the account's
/// endpoints as they are now).
pub async fn list(
    table: &dyn Table,
    account: &AccountId,
    current: &[Endpoint],
    filter: &Filter,
    now: UnixSeconds,
) -> Result<Page, StoreError> {
    let limit = filter.limit.clamp(1, MAX_PAGE);
    let from = filter.since_ms.map(floor_key);
    let mut upper = match (&filter.cursor, filter.until_ms.map(ceiling_key)) {
        (Some(c), Some(u)) => Some(c.clone().min(u)),
        (Some(c), None) => Some(c.clone()),
        (None, u) => u,
    };
    // Keys at or above this were on an earlier page (the cursor itself) or an earlier round.
    let mut exclusive = filter.cursor.clone();
    let mut found: Vec<Listed> = Vec::new();
    let shard_keys = shards(account);
    for _ in 0..MAX_ROUNDS {
        if let (Some(f), Some(u)) = (&from, &upper) {
            if f > u {
                return Ok(Page {
                    messages: found,
                    next: None,
                });
            }
        }
        let want = limit - found.len() + 1;
        let range = SkRange {
            from: from.as_deref(),
            to: upper.as_deref(),
            descending: true,
        };
        let pages = try_join_all(
            shard_keys
                .iter()
                .map(|s| table.query_gsi1_range(s, range, want)),
        )
        .await?;
        // Exact down to the newest of the full pages' oldest keys.
        let frontier = pages
            .iter()
            .filter(|p| p.len() >= want)
            .filter_map(|p| p.last().and_then(|i| i.gsi1.as_ref()).map(|g| g.1.clone()))
            .max();
        let mut merged: Vec<(String, Item)> = pages
            .into_iter()
            .flatten()
            .filter_map(|i| i.gsi1.clone().map(|g| (g.1, i)))
            .filter(|(k, _)| frontier.as_ref().is_none_or(|f| k >= f))
            .filter(|(k, _)| exclusive.as_ref().is_none_or(|x| k < x))
            .collect();
        merged.sort_by(|a, b| b.0.cmp(&a.0));
        let mut candidates: Vec<(String, Retained)> = Vec::new();
        for (key, item) in merged {
            if !item.is_live(now) {
                continue;
            }
            let m: Retained = item.decode()?;
            if filter.event_type.as_ref().is_some_and(|t| *t != m.name) {
                continue;
            }
            candidates.push((key, m));
        }
        // Attempts are read a page's worth at a time: a full page stops the reading.
        let mut rest = candidates.as_slice();
        while !rest.is_empty() {
            let (chunk, later) = rest.split_at((limit - found.len()).min(rest.len()));
            rest = later;
            let histories = try_join_all(
                chunk
                    .iter()
                    .map(|(_, m)| attempts::list(table, account, &m.id)),
            )
            .await?;
            for ((key, m), history) in chunk.iter().zip(histories) {
                let outcomes = outcomes(m, &history, current);
                if filter
                    .status
                    .is_some_and(|s| !outcomes.iter().any(|o| o.status == s))
                {
                    continue;
                }
                found.push(Listed {
                    message: m.clone(),
                    outcomes,
                });
                if found.len() == limit {
                    return Ok(Page {
                        messages: found,
                        next: Some(key.clone()),
                    });
                }
            }
        }
        match frontier {
            // Every shard was read to the end of the range.
            None => {
                return Ok(Page {
                    messages: found,
                    next: None,
                })
            }
            Some(f) => {
                upper = Some(f.clone());
                exclusive = Some(f);
            }
        }
    }
    Ok(Page {
        messages: found,
        next: exclusive,
    })
}
