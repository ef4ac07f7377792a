//! Webhook delivery attempts (docs/EVENTS.md: every attempt is recorded).
//!
//! The `webhooks` function writes one [`Attempt`] per HTTP try of an (event, endpoint) pair; the
//! account's owner reads them back by event id (`GET /api/callback/attempts?eventId=…`), and the
//! console lists the account's most recent ones ([`recent`], from the `gsi1` index:
//! `ATTEMPTS#<account>#<shard>` / a count-down of the time).
//!
//! **Sharded index** (docs/SCALE.md, "Spread what must be written per event"): every attempt
//! writes its index entry too, so one index key per account would take every delivery of the
//! account — 1,000 events/s × 20 endpoints is 20,000 writes/s, twenty times what one key holds.
//! The entry goes to one of [`SHARDS`] keys, chosen by a hash of (event, endpoint), so one
//! account's deliveries spread evenly and stay under 500 writes/s per key at that rate; the
//! listing reads the shards at once and merges them.
//!
//! Layout: `ATTEMPT#<account>#<event id>` / `<at:011>#<endpoint>#<attempt:04>#<random>`, TTL 30
//! days. One partition per (account, event): the read is one query, the account is part of the
//! key (so one account can never read another's), and a busy account spreads over many
//! partitions. The event id is the partition key's tail, matched exactly, so a `#` in it is
//! harmless. The sort key orders attempts by time, then endpoint, then attempt number; the random
//! tail keeps two racing deliveries of one message (SQS is at-least-once) from overwriting each
//! other's record.

use serde::{Deserialize, Serialize};

use crate::kernel::clock::UnixSeconds;
use crate::kernel::ids::{AccountId, EndpointId};
use crate::ports::store::{Condition, Item, Key, StoreError, Table};

/// Index keys one account's attempts are spread over: 20,000 writes/s ÷ 64 ≈ 310 per key, a
/// third of a partition's 1,000.
pub const SHARDS: u64 = 64;

/// The index key of `account`'s attempts of `event_id` to `endpoint`.
fn index_key(account: &AccountId, event_id: &str, endpoint: &EndpointId) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(event_id.as_bytes())
        .chain_update([0])
        .chain_update(endpoint.as_str().as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    format!(
        "ATTEMPTS#{account}#{:02}",
        u64::from_be_bytes(first) % SHARDS
    )
}

/// How long attempts are kept.
pub const ATTEMPT_TTL_SECONDS: i64 = 30 * 24 * 3600;
/// Most attempts one event lists (20 endpoints × 8 receives leaves ample room for duplicates).
pub const MAX_LISTED: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// The endpoint answered 2xx.
    Succeeded,
    Failed,
}

/// Why an attempt failed, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// No answer within the timeout (10 s).
    Timeout,
    /// Could not connect (refused, reset, TLS handshake, DNS failure).
    Connect,
    /// A 3xx answer: redirects are not followed.
    Redirect,
    /// A non-2xx, non-3xx answer; `responseCode` says which.
    HttpStatus,
    /// The URL's host is, or resolves to, an address keygate does not call (private, loopback,
    /// link-local, metadata…).
    BlockedAddress,
    /// The URL is not one keygate calls (not `https`, not parseable).
    InvalidUrl,
    /// The endpoint's signing secret, callback key or OAuth client secret could not be unsealed.
    SecretUnavailable,
    /// An OAuth 2.0 callback's token could not be had from the integrator's authorization
    /// server (refused, unreachable, blocked, or an answer that is not a Bearer token); no
    /// delivery was sent.
    TokenEndpoint,
    /// Any other failure to send the request.
    Request,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connect => "connect",
            ErrorClass::Redirect => "redirect",
            ErrorClass::HttpStatus => "http_status",
            ErrorClass::BlockedAddress => "blocked_address",
            ErrorClass::InvalidUrl => "invalid_url",
            ErrorClass::SecretUnavailable => "secret_unavailable",
            ErrorClass::TokenEndpoint => "token_endpoint",
            ErrorClass::Request => "request",
        }
    }
}

/// One HTTP try of one event to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub event_id: String,
    /// The event type (`PACKAGE_CREATE`, …).
    pub event_name: String,
    pub endpoint_id: EndpointId,
    /// 1 for the first delivery of the event's message, then one more per redelivery (the SQS
    /// receive count).
    pub attempt: u32,
    pub status: AttemptStatus,
    /// The HTTP status the endpoint answered, if it answered.
    #[serde(default)]
    pub response_code: Option<u16>,
    #[serde(default)]
    pub error_class: Option<ErrorClass>,
    /// From sending the request to the end of the (at most 4 KiB) response body read.
    pub latency_ms: u64,
    /// When the attempt started (unix seconds).
    pub at: UnixSeconds,
    /// The delivery round it belongs to: `None` for the event's own delivery (and a recovery's,
    /// which only completes it), a resend's id (`rs_…`) for a resend's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<String>,
    /// No try of this round follows it: its retries are used up (the message went to the
    /// dead-letter queue for this endpoint), or the endpoint was disabled. A failed delivery
    /// whose last attempt says so is `failed`; one still to be retried is `pending`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub last: bool,
}

fn partition(account: &AccountId, event_id: &str) -> String {
    format!("ATTEMPT#{account}#{event_id}")
}

/// Records an attempt of `account`'s event, kept 30 days from its start.
pub async fn record(
    table: &dyn Table,
    account: &AccountId,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    let key = Key::new(
        partition(account, &attempt.event_id),
        format!(
            "{:011}#{}#{:04}#{}",
            attempt.at.max(0),
            attempt.endpoint_id,
            attempt.attempt,
            crate::kernel::ids::random_suffix()
        ),
    );
    // Newest first in the account's index: the sort key counts down.
    let recent = format!(
        "{:011}#{}",
        NEWEST_FIRST - attempt.at.clamp(0, NEWEST_FIRST),
        key.sk
    );
    let item = Item::new(key, attempt)?
        .with_ttl(attempt.at + ATTEMPT_TTL_SECONDS)
        .with_gsi1(
            index_key(account, &attempt.event_id, &attempt.endpoint_id),
            recent,
        );
    table.put(item, Condition::NotExists).await
}

/// The largest time the recent-attempts index orders (year 5138).
const NEWEST_FIRST: UnixSeconds = 99_999_999_999;

/// The account's most recent attempts across its events, newest first (at most `limit`): the
/// console's delivery log. Read from the `gsi1` index, so an attempt may show a moment late.
pub async fn recent(
    table: &dyn Table,
    account: &AccountId,
    limit: usize,
) -> Result<Vec<Attempt>, StoreError> {
    let shards = (0..SHARDS).map(|shard| async move {
        table
            .query_gsi1(&format!("ATTEMPTS#{account}#{shard:02}"), limit)
            .await
    });
    let mut items: Vec<Item> = futures_util::future::try_join_all(shards)
        .await?
        .into_iter()
        .flatten()
        .collect();
    // Each shard is newest first; so is the merge (the index sort key counts time down).
    items.sort_by(|a, b| {
        a.gsi1
            .as_ref()
            .map(|g| &g.1)
            .cmp(&b.gsi1.as_ref().map(|g| &g.1))
    });
    items.truncate(limit);
    items.iter().map(Item::decode).collect()
}

/// The attempts of one of `account`'s events, oldest first (at most [`MAX_LISTED`]). Records
/// past their TTL that DynamoDB has not removed yet may still appear: they are history, not
/// credentials.
pub async fn list(
    table: &dyn Table,
    account: &AccountId,
    event_id: &str,
) -> Result<Vec<Attempt>, StoreError> {
    table
        .query(&partition(account, event_id), "", MAX_LISTED)
        .await?
        .iter()
        .map(Item::decode)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::MemoryTable;

    fn attempt(event: &str, ep: &EndpointId, n: u32, at: UnixSeconds) -> Attempt {
        Attempt {
            event_id: event.into(),
            event_name: "PACKAGE_CREATE".into(),
            endpoint_id: ep.clone(),
            attempt: n,
            status: if n == 2 {
                AttemptStatus::Succeeded
            } else {
                AttemptStatus::Failed
            },
            response_code: Some(if n == 2 { 200 } else { 503 }),
            error_class: (n != 2).then_some(ErrorClass::HttpStatus),
            latency_ms: 12,
            at,
            round: None,
            last: false,
        }
    }

    #[tokio::test]
    async fn attempts_list_by_event_oldest_first_and_per_account() {
        let t = MemoryTable::new();
        let (a, b) = (AccountId::generate(), AccountId::generate());
        let ep = EndpointId::generate();
        record(&t, &a, &attempt("evt#1", &ep, 2, 200))
            .await
            .unwrap();
        record(&t, &a, &attempt("evt#1", &ep, 1, 100))
            .await
            .unwrap();
        // Same (event, endpoint, attempt) twice: both kept.
        record(&t, &a, &attempt("evt#1", &ep, 1, 100))
            .await
            .unwrap();
        record(&t, &a, &attempt("evt#10", &ep, 1, 50))
            .await
            .unwrap();
        let got = list(&t, &a, "evt#1").await.unwrap();
        assert_eq!(got.iter().map(|x| x.attempt).collect::<Vec<_>>(), [1, 1, 2]);
        assert!(list(&t, &b, "evt#1").await.unwrap().is_empty());
        assert_eq!(list(&t, &a, "evt#10").await.unwrap().len(), 1);

        // The account's recent attempts across events: newest first, bounded, its own only.
        let recent_a = recent(&t, &a, 3).await.unwrap();
        let ats: Vec<_> = recent_a
            .iter()
            .map(|x| (x.event_id.as_str(), x.at))
            .collect();
        assert_eq!(ats, [("evt#1", 200), ("evt#1", 100), ("evt#1", 100)]);
        assert_eq!(
            recent(&t, &a, 10).await.unwrap().last().unwrap().event_id,
            "evt#10"
        );
        assert!(recent(&t, &b, 10).await.unwrap().is_empty());
    }

    #[test]
    fn one_accounts_deliveries_spread_evenly_over_the_shards() {
        let a = AccountId::generate();
        let endpoints: Vec<EndpointId> = (0..10).map(|_| EndpointId::generate()).collect();
        let mut per_key = std::collections::HashMap::new();
        let events = 1000;
        for e in 0..events {
            for ep in &endpoints {
                *per_key
                    .entry(index_key(&a, &format!("evt-{e}"), ep))
                    .or_insert(0u32) += 1;
            }
        }
        assert_eq!(per_key.len() as u64, SHARDS);
        let hottest = *per_key.values().max().unwrap();
        // 10 writes per event over 64 keys: ≈ 0.16 per event each; the hottest well under 1.
        assert!(f64::from(hottest) / f64::from(events) < 0.25, "{hottest}");
    }

    #[test]
    fn attempts_serialize_in_camel_case() {
        let ep = EndpointId::generate();
        let v = serde_json::to_value(attempt("e", &ep, 1, 7)).unwrap();
        assert_eq!(v["eventId"], "e");
        assert_eq!(v["endpointId"], ep.as_str());
        assert_eq!(v["responseCode"], 503);
        assert_eq!(v["errorClass"], "http_status");
        assert_eq!(v["latencyMs"], 12);
        assert_eq!(v["status"], "failed");
        assert_eq!(ErrorClass::BlockedAddress.as_str(), "blocked_address");
        assert_eq!(
            serde_json::to_value(ErrorClass::BlockedAddress).unwrap(),
            "blocked_address"
        );
    }
}
