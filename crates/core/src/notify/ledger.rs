//! Fan-out idempotency: which endpoints already took an event (docs/EVENTS.md: "an endpoint
//! that already took an event is not sent it again").
//!
//! One item per (event, endpoint): `DELIVERED#<account>#<event id>` / `EP#<endpoint>`. Before
//! sending, a delivery *claims* it with a conditional put (`Vacant`: absent, or past its TTL):
//! a short lease (`sending`, TTL = timeout + margin). After a 2xx the claim becomes `delivered`
//! with a TTL as long as the message is retained (and never shorter than the dead-letter
//! queue's 14 days), so a redelivered SQS message, a producer's duplicate, a redrive of the
//! dead-letter queue or a recovery skips the endpoint. After a failure the claim is released,
//! so the retry can claim it again.
//!
//! The lease is what a plain "record success" marker lacks: two copies of one event processed at
//! the same time (SQS at-least-once, a producer's retry) cannot both send to one endpoint; the
//! loser sees `sending`, sends nothing and retries later, when it finds `delivered` (or, if the
//! winner failed, claims it). A delivery that crashes mid-send leaves a lease that simply expires.
//! At-least-once still holds: a 2xx whose `delivered` write then fails is sent again on a retry.
//!
//! A **resend** is one new delivery of a message the endpoint may already have taken: it claims
//! a pair of its own (`EP#<endpoint>#<resend id>`), so it is sent once whatever the plain mark
//! says, and its success marks the plain pair too (a retry of the original still due then skips
//! the endpoint). A **recovery** claims the plain pair: what the endpoint took is never sent
//! again.

use serde::{Deserialize, Serialize};

use crate::kernel::clock::UnixSeconds;
use crate::kernel::ids::{AccountId, EndpointId};
use crate::ports::store::{Condition, Item, Key, StoreError, Table, MAX_BATCH_GET};

/// The shortest a `delivered` mark is kept: past the dead-letter queue's 14-day retention, so a
/// redrive never sends an event twice.
pub const MIN_DELIVERED_TTL_SECONDS: i64 = 15 * 24 * 3600;
/// Added to the send timeout to make a lease.
pub const LEASE_MARGIN_SECONDS: i64 = 50;

/// How long a `delivered` mark is kept when messages are retained `retention_days`: a day
/// longer than the message, and at least [`MIN_DELIVERED_TTL_SECONDS`].
pub fn delivered_ttl(retention_days: i64) -> i64 {
    (retention_days * 86_400 + 86_400).max(MIN_DELIVERED_TTL_SECONDS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum State {
    Sending,
    Delivered,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mark {
    state: State,
    at: UnixSeconds,
    attempt: u32,
}

/// The answer to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours: send.
    Won,
    /// The endpoint already took this event: nothing to do.
    Delivered,
    /// Another delivery of this event to this endpoint is in flight: try again later.
    Busy,
}

/// Identifies one (event, endpoint) pair, of a resend round or not.
#[derive(Debug, Clone)]
pub struct Pair<'a> {
    pub account: &'a AccountId,
    pub event_id: &'a str,
    pub endpoint: &'a EndpointId,
    /// A resend's id: the pair of that resend alone.
    pub round: Option<&'a str>,
}

fn partition(account: &AccountId, event_id: &str) -> String {
    format!("DELIVERED#{account}#{event_id}")
}

impl Pair<'_> {
    fn key(&self) -> Key {
        let sk = match self.round {
            None => format!("EP#{}", self.endpoint),
            Some(r) => format!("EP#{}#{r}", self.endpoint),
        };
        Key::new(partition(self.account, self.event_id), sk)
    }

    fn plain(&self) -> Key {
        Key::new(
            partition(self.account, self.event_id),
            format!("EP#{}", self.endpoint),
        )
    }

    fn item(
        key: Key,
        state: State,
        attempt: u32,
        now: UnixSeconds,
        ttl: i64,
    ) -> Result<Item, StoreError> {
        Ok(Item::new(
            key,
            &Mark {
                state,
                at: now,
                attempt,
            },
        )?
        .with_ttl(now + ttl))
    }

    /// Claims the pair for a send lasting at most `lease` seconds.
    pub async fn claim(
        &self,
        table: &dyn Table,
        attempt: u32,
        now: UnixSeconds,
        lease: i64,
    ) -> Result<Claim, StoreError> {
        let item = Self::item(self.key(), State::Sending, attempt, now, lease.max(1))?;
        match table.put(item, Condition::Vacant { now }).await {
            Ok(()) => Ok(Claim::Won),
            Err(StoreError::ConditionFailed) => {
                let held = table.get(&self.key()).await?;
                Ok(
                    match held.filter(|i| i.is_live(now)).map(|i| i.decode::<Mark>()) {
                        Some(Ok(m)) if m.state == State::Delivered => Claim::Delivered,
                        // In flight elsewhere, gone meanwhile, or unreadable: come back later.
                        _ => Claim::Busy,
                    },
                )
            }
            Err(e) => Err(e),
        }
    }

    /// Records that the endpoint took the event, for `ttl` seconds ([`delivered_ttl`]); a
    /// resend's success marks the plain pair too.
    pub async fn delivered(
        &self,
        table: &dyn Table,
        attempt: u32,
        now: UnixSeconds,
        ttl: i64,
    ) -> Result<(), StoreError> {
        let item = Self::item(self.key(), State::Delivered, attempt, now, ttl)?;
        table.put(item, Condition::Always).await?;
        if self.round.is_some() {
            let plain = Self::item(self.plain(), State::Delivered, attempt, now, ttl)?;
            table.put(plain, Condition::Always).await?;
        }
        Ok(())
    }

    /// Gives a claim back after a failed send.
    pub async fn release(&self, table: &dyn Table) -> Result<(), StoreError> {
        table
            .delete(&self.key(), Condition::Always)
            .await
            .map(|_| ())
    }
}

/// Which of `event_ids` `endpoint` has taken (a live `delivered` mark), in order: batched reads
/// of [`MAX_BATCH_GET`] keys (the batches at once), strongly consistent.
pub async fn taken(
    table: &dyn Table,
    account: &AccountId,
    endpoint: &EndpointId,
    event_ids: &[&str],
    now: UnixSeconds,
) -> Result<Vec<bool>, StoreError> {
    let batches = event_ids.chunks(MAX_BATCH_GET).map(|chunk| {
        let keys: Vec<Key> = chunk
            .iter()
            .map(|id| {
                Pair {
                    account,
                    event_id: id,
                    endpoint,
                    round: None,
                }
                .key()
            })
            .collect();
        async move { table.get_many(&keys).await }
    });
    let found = futures_util::future::try_join_all(batches).await?;
    Ok(found
        .into_iter()
        .flatten()
        .map(|item| {
            item.filter(|i| i.is_live(now))
                .and_then(|i| i.decode::<Mark>().ok())
                .is_some_and(|m| m.state == State::Delivered)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::MemoryTable;

    const TTL: i64 = 31 * 86_400;

    #[tokio::test]
    async fn a_pair_is_sent_by_one_delivery_at_a_time_and_once_delivered_never_again() {
        let t = MemoryTable::new();
        let (acc, ep) = (AccountId::generate(), EndpointId::generate());
        let p = Pair {
            account: &acc,
            event_id: "evt#1",
            endpoint: &ep,
            round: None,
        };
        assert_eq!(p.claim(&t, 1, 100, 60).await.unwrap(), Claim::Won);
        assert_eq!(p.claim(&t, 1, 100, 60).await.unwrap(), Claim::Busy);
        // A crashed sender's lease runs out.
        assert_eq!(p.claim(&t, 2, 161, 60).await.unwrap(), Claim::Won);
        p.release(&t).await.unwrap();
        assert_eq!(p.claim(&t, 3, 170, 60).await.unwrap(), Claim::Won);
        assert_eq!(
            taken(&t, &acc, &ep, &["evt#1"], 170).await.unwrap(),
            [false],
            "in flight is not taken"
        );
        p.delivered(&t, 3, 171, TTL).await.unwrap();
        assert_eq!(p.claim(&t, 4, 172, 60).await.unwrap(), Claim::Delivered);
        assert_eq!(
            taken(&t, &acc, &ep, &["evt#1", "evt#2"], 172)
                .await
                .unwrap(),
            [true, false]
        );
        assert_eq!(
            p.claim(&t, 4, 171 + TTL, 60).await.unwrap(),
            Claim::Won,
            "the mark expires with the message's retention"
        );
        let other = EndpointId::generate();
        let q = Pair {
            endpoint: &other,
            ..p.clone()
        };
        assert_eq!(q.claim(&t, 1, 100, 60).await.unwrap(), Claim::Won);
    }

    #[tokio::test]
    async fn a_resend_is_sent_once_whatever_was_delivered_and_then_marks_the_pair() {
        let t = MemoryTable::new();
        let (acc, ep) = (AccountId::generate(), EndpointId::generate());
        let plain = Pair {
            account: &acc,
            event_id: "evt_1",
            endpoint: &ep,
            round: None,
        };
        let resend = Pair {
            round: Some("rs_1"),
            ..plain.clone()
        };
        assert_eq!(resend.claim(&t, 2, 10, 60).await.unwrap(), Claim::Won);
        resend.delivered(&t, 2, 11, TTL).await.unwrap();
        assert_eq!(resend.claim(&t, 3, 12, 60).await.unwrap(), Claim::Delivered);
        assert_eq!(plain.claim(&t, 3, 12, 60).await.unwrap(), Claim::Delivered);
        // Once delivered, another resend still goes (its own pair).
        let again = Pair {
            round: Some("rs_2"),
            ..plain.clone()
        };
        assert_eq!(again.claim(&t, 4, 13, 60).await.unwrap(), Claim::Won);
    }

    #[test]
    fn marks_outlive_the_retention_and_the_dead_letter_queue() {
        assert_eq!(delivered_ttl(30), 31 * 86_400);
        assert_eq!(delivered_ttl(1), MIN_DELIVERED_TTL_SECONDS);
    }
}
