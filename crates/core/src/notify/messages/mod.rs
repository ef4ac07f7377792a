//! Retained messages (docs/EVENTS.md, "Nothing an integrator missed is lost"): every event
//! delivered to an account is kept with its payload for the retention period
//! (`KEYGATE_MESSAGE_RETENTION_DAYS`, default 30), and its outcome per endpoint is read from
//! its delivery attempts ([`super::attempts`]) — so keeping a message costs one write per event,
//! never one per delivery.
//!
//! **Layout** (volatile table; docs/SCALE.md, "Spread what must be written per event"):
//! - `MSG#<account>#<event id>` / `MSG`: the message — its id, name, `createdDate`, when keygate
//!   took it, the endpoints it was first fanned out to, the payload as delivered — with TTL.
//!   One partition per message: a busy account spreads over as many keys as it has events.
//! - its index entry (`gsi1`): `MSGS#<account>#<shard>` / `<time in ms, 14 digits>#<event id>`,
//!   the shard one of [`SHARDS`] by a hash of the event id. One account's 1,000 events/s are
//!   ≈ 63 index writes/s per shard, a sixteenth of a partition's limit. The time is the event's
//!   `createdDate` (what `since`/`until` compare with), or when keygate took it if the event has
//!   none; listing reads the shards with one ranged, newest-first query each and merges them
//!   ([`listing`]); recovery reads them oldest first ([`recovery`]).
//!
//! A message's outcome per endpoint ([`outcomes`]): `delivered` once an attempt succeeded;
//! `failed` once its retries are used up (its last attempt says so), or the endpoint is disabled
//! or gone; `pending` while a retry is due (or its first try is waiting its turn).

pub mod listing;
pub mod recovery;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::kernel::clock::UnixSeconds;
use crate::kernel::ids::{AccountId, EndpointId};
use crate::notify::attempts::{Attempt, AttemptStatus};
use crate::notify::endpoints::Endpoint;
use crate::notify::events::EventMessage;
use crate::ports::store::{Condition, Item, Key, StoreError, Table};

pub use listing::{list, Filter, Listed, Page};
pub use recovery::{missed, Missed, Recovery, Window};

/// Index keys one account's messages are spread over.
pub const SHARDS: u64 = 16;
/// Most messages one page lists.
pub const MAX_PAGE: usize = 100;

/// Message attributes of the queue messages keygate itself sends to the events queue.
pub mod attributes {
    /// The one endpoint (its id) a resend or a recovered retry is for.
    pub const ENDPOINT: &str = "keygate-endpoint";
    /// A resend's round id (`rs_…`): its own delivery, whatever was delivered before.
    pub const ROUND: &str = "keygate-round";
    /// A job rather than an event: `recover` (the body is a [`super::Recovery`]).
    pub const JOB: &str = "keygate-job";
    /// The job kind of a recovery.
    pub const RECOVER: &str = "recover";
    /// Why a message is in the dead-letter queue.
    pub const REASON: &str = "reason";
}

/// One retained message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retained {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub created_date: Option<String>,
    /// When keygate first took it from the queue.
    pub received_at: UnixSeconds,
    /// Its time in the index, in milliseconds: `createdDate`, else `received_at`.
    pub at_ms: i64,
    /// The endpoints its first fan-out was for.
    #[serde(default)]
    pub endpoints: Vec<EndpointId>,
    /// The event as delivered.
    pub payload: EventMessage,
}

impl Retained {
    /// Its sort key in the index.
    pub fn order_key(&self) -> String {
        order_key(self.at_ms, &self.id)
    }
}

fn partition(account: &AccountId, id: &str) -> String {
    format!("MSG#{account}#{id}")
}

/// The index partition of `account`'s message `id`.
fn shard_of(account: &AccountId, id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    shard(account, u64::from_be_bytes(first) % SHARDS)
}

fn shard(account: &AccountId, n: u64) -> String {
    format!("MSGS#{account}#{n:02}")
}

/// Every index partition of `account`.
fn shards(account: &AccountId) -> Vec<String> {
    (0..SHARDS).map(|n| shard(account, n)).collect()
}

/// `<ms, 14 digits>#<id>`: fixed width, so string order is time order (until year 5138).
pub fn order_key(at_ms: i64, id: &str) -> String {
    format!("{:014}#{id}", at_ms.clamp(0, 99_999_999_999_999))
}

/// The lowest key at `ms` (every key of that millisecond sorts after it).
pub fn floor_key(ms: i64) -> String {
    format!("{:014}", ms.clamp(0, 99_999_999_999_999))
}

/// The highest key at `ms` (DEL sorts after every visible character an id is made of).
pub fn ceiling_key(ms: i64) -> String {
    format!("{:014}#\u{7f}", ms.clamp(0, 99_999_999_999_999))
}

/// A page cursor: the order key of the last message a page examined, opaque to callers.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// The order key a cursor stands for, if it is one this module made.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).ok()?;
    let key = String::from_utf8(raw).ok()?;
    let (time, id) = key.split_once('#')?;
    let ok = time.len() == 14
        && time.bytes().all(|b| b.is_ascii_digit())
        && !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(key)
}

/// Keeps `message` of `account`, first taken from the queue at `now`, for `retention_days`:
/// one conditional put (its redeliveries find it kept and change nothing).
pub async fn retain(
    table: &dyn Table,
    message: &EventMessage,
    endpoints: &[EndpointId],
    now: UnixSeconds,
    retention_days: i64,
) -> Result<(), StoreError> {
    let at_ms = message
        .created_date
        .as_deref()
        .and_then(crate::kernel::clock::parse_rfc3339_millis)
        .unwrap_or(now * 1000);
    let kept = Retained {
        id: message.id.clone(),
        name: message.name.clone(),
        created_date: message.created_date.clone(),
        received_at: now,
        at_ms,
        endpoints: endpoints.to_vec(),
        payload: message.clone(),
    };
    let account = &message.account_id;
    let item = Item::new(Key::new(partition(account, &message.id), "MSG"), &kept)?
        .with_ttl(now + retention_days * 86_400)
        .with_gsi1(shard_of(account, &message.id), kept.order_key());
    match table.put(item, Condition::NotExists).await {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `account`'s retained message `id`, while it is retained.
pub async fn get(
    table: &dyn Table,
    account: &AccountId,
    id: &str,
    now: UnixSeconds,
) -> Result<Option<Retained>, StoreError> {
    match table.get(&Key::new(partition(account, id), "MSG")).await? {
        Some(i) if i.is_live(now) => Ok(Some(i.decode()?)),
        _ => Ok(None),
    }
}

/// Where a message stands for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A retry is due, or its first try waits its turn.
    Pending,
    Delivered,
    /// Its retries are used up, or the endpoint is disabled (or gone).
    Failed,
}

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Status::Pending),
            "delivered" => Some(Status::Delivered),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        }
    }
}

/// A message's outcome at one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub endpoint_id: EndpointId,
    pub status: Status,
    /// How many attempts were made (throttled waits are none).
    pub attempts: u32,
    pub last_attempt_at: Option<UnixSeconds>,
}

/// A message's outcome at every endpoint it was for (its first fan-out's, then any other that
/// an attempt names: a resend or a recovery), from its attempts and the endpoints as they are
/// now (`current`).
pub fn outcomes(m: &Retained, attempts: &[Attempt], current: &[Endpoint]) -> Vec<Outcome> {
    let mut ids: Vec<&EndpointId> = m.endpoints.iter().collect();
    let mut sorted: Vec<&Attempt> = attempts.iter().collect();
    sorted.sort_by_key(|a| (a.at, a.attempt));
    for a in &sorted {
        if !ids.contains(&&a.endpoint_id) {
            ids.push(&a.endpoint_id);
        }
    }
    ids.into_iter()
        .map(|id| {
            let mine: Vec<&&Attempt> = sorted.iter().filter(|a| &a.endpoint_id == id).collect();
            let endpoint = current.iter().find(|e| &e.id == id);
            let status = if mine.iter().any(|a| a.status == AttemptStatus::Succeeded) {
                Status::Delivered
            } else if mine.last().is_some_and(|a| a.last)
                || endpoint.is_none_or(|e| e.disabled.is_some())
            {
                Status::Failed
            } else {
                Status::Pending
            };
            Outcome {
                endpoint_id: id.clone(),
                status,
                attempts: u32::try_from(mine.len()).unwrap_or(u32::MAX),
                last_attempt_at: mine.iter().map(|a| a.at).max(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
