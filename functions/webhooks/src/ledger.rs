//! Fan-out idempotency: which endpoints already took an event.
//!
//! One item per (event, endpoint): `DELIVERED#<account>#<event id>` / `EP#<endpoint>`. Before
//! sending, a delivery *claims* it with a conditional put (`Vacant`: absent, or past its TTL):
//! a short lease (`sending`, TTL = timeout + margin). After a 2xx the claim becomes `delivered`
//! with a TTL beyond the queue's retention (4 days), so a redelivered SQS message — or a second
//! message a producer sent with the same event id — skips the endpoint. After a failure the claim
//! is released, so the retry can claim it again.
//!
//! The lease is what a plain "record success" marker lacks: two copies of one event processed at
//! the same time (SQS at-least-once, a producer's retry) cannot both send to one endpoint; the
//! loser sees `sending`, sends nothing and retries later, when it finds `delivered` (or, if the
//! winner failed, claims it). A delivery that crashes mid-send leaves a lease that simply expires.
//! At-least-once still holds: a 2xx whose `delivered` write then fails is sent again on a retry.

use keygate_core::kernel::clock::UnixSeconds;
use keygate_core::kernel::ids::{AccountId, EndpointId};
use keygate_core::ports::store::{Condition, Item, Key, StoreError, Table};
use serde::{Deserialize, Serialize};

/// How long a `delivered` mark is kept: past the queue's 4-day retention, by a day.
pub const DELIVERED_TTL_SECONDS: i64 = 5 * 24 * 3600;
/// Added to the send timeout to make a lease.
pub const LEASE_MARGIN_SECONDS: i64 = 50;

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

/// Identifies one (event, endpoint) pair.
#[derive(Debug, Clone)]
pub struct Pair<'a> {
    pub account: &'a AccountId,
    pub event_id: &'a str,
    pub endpoint: &'a EndpointId,
}

impl Pair<'_> {
    fn key(&self) -> Key {
        Key::new(
            format!("DELIVERED#{}#{}", self.account, self.event_id),
            format!("EP#{}", self.endpoint),
        )
    }

    fn item(
        &self,
        state: State,
        attempt: u32,
        now: UnixSeconds,
        ttl: i64,
    ) -> Result<Item, StoreError> {
        Ok(Item::new(
            self.key(),
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
        let item = self.item(State::Sending, attempt, now, lease.max(1))?;
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

    /// Records that the endpoint took the event.
    pub async fn delivered(
        &self,
        table: &dyn Table,
        attempt: u32,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let item = self.item(State::Delivered, attempt, now, DELIVERED_TTL_SECONDS)?;
        table.put(item, Condition::Always).await
    }

    /// Gives a claim back after a failed send.
    pub async fn release(&self, table: &dyn Table) -> Result<(), StoreError> {
        table
            .delete(&self.key(), Condition::Always)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_core::ports::store::MemoryTable;

    #[tokio::test]
    async fn a_pair_is_sent_by_one_delivery_at_a_time_and_once_delivered_never_again() {
        let t = MemoryTable::new();
        let (acc, ep) = (AccountId::generate(), EndpointId::generate());
        let p = Pair {
            account: &acc,
            event_id: "evt#1",
            endpoint: &ep,
        };
        assert_eq!(p.claim(&t, 1, 100, 60).await.unwrap(), Claim::Won);
        assert_eq!(p.claim(&t, 1, 100, 60).await.unwrap(), Claim::Busy);
        // A crashed sender's lease runs out.
        assert_eq!(p.claim(&t, 2, 161, 60).await.unwrap(), Claim::Won);
        p.release(&t).await.unwrap();
        assert_eq!(p.claim(&t, 3, 170, 60).await.unwrap(), Claim::Won);
        p.delivered(&t, 3, 171).await.unwrap();
        assert_eq!(p.claim(&t, 4, 172, 60).await.unwrap(), Claim::Delivered);
        assert_eq!(
            p.claim(&t, 4, 171 + DELIVERED_TTL_SECONDS, 60)
                .await
                .unwrap(),
            Claim::Won,
            "the mark expires with the queue's retention"
        );
        let other = EndpointId::generate();
        let q = Pair {
            endpoint: &other,
            ..p.clone()
        };
        assert_eq!(q.claim(&t, 1, 100, 60).await.unwrap(), Claim::Won);
    }
}
