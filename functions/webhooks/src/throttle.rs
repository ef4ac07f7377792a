//! The per-endpoint throttle (`rateLimit`, deliveries per second): deliveries beyond it wait
//! their turn — their message comes back when its turn comes (its visibility), with no attempt
//! recorded and nothing counted against the endpoint.
//!
//! Counters per endpoint and second in the volatile table (`RATE#<account>#<endpoint>#<unix
//! second>#<counter>`, TTL two minutes), so every Lambda instance counts against the same limit.
//! A delivery adds one to its second's counter: the first `rate` go; the n-th beyond them waits
//! `ceil(n / rate)` seconds, when its turn comes in a later second (where it counts again, after
//! the deliveries already waiting there). A burst of 10 at 2/s goes out over 5 seconds: 2 now, 2
//! after 1 s, …, 2 after 4 s.
//!
//! One key takes about 1,000 writes a second (docs/SCALE.md), and a `rateLimit` may be up to
//! 100,000: a limit above [`PER_COUNTER`] is split over `ceil(rate / PER_COUNTER)` counters, each
//! with its share of the rate, and a message counts on the one its id hashes to. At the limit no
//! counter takes more than about [`PER_COUNTER`] writes a second (a quarter of the key's budget,
//! the rest for the tries of a burst beyond it). The split is exact in sum but not per message:
//! with the ids falling unevenly, a counter may be full a moment before the endpoint is, and a
//! delivery then waits a second it need not have — the limit is never exceeded. A limit up to
//! [`PER_COUNTER`] has one counter and is exact.

use keygate_core::kernel::clock::UnixSeconds;
use keygate_core::kernel::ids::AccountId;
use keygate_core::notify::endpoints::Endpoint;
use keygate_core::ports::store::{Key, StoreError, Table};

/// How long a second's counter is kept.
const COUNTER_TTL_SECONDS: i64 = 120;

/// The share of an endpoint's rate one counter holds at most (deliveries per second).
pub const PER_COUNTER: u32 = 250;

/// The wait before the delivery of message `message_id` takes its turn: `None` to go now,
/// `Some(seconds)` to come back later.
pub async fn turn(
    table: &dyn Table,
    account: &AccountId,
    endpoint: &Endpoint,
    message_id: &str,
    now: UnixSeconds,
) -> Result<Option<u32>, StoreError> {
    let Some(rate) = endpoint.rate_limit.filter(|r| *r > 0) else {
        return Ok(None);
    };
    let (counter, share) = counter_of(rate, message_id);
    let key = Key::new(
        format!("RATE#{account}#{}#{now}#{counter}", endpoint.id),
        "N",
    );
    let n = table.increment(&key, 1, now + COUNTER_TTL_SECONDS).await?;
    Ok(wait(n, share))
}

/// How many counters a limit of `rate` per second is split over.
pub fn counters(rate: u32) -> u32 {
    rate.max(1).div_ceil(PER_COUNTER)
}

/// The counter message `message_id` counts on at `rate`, and that counter's share of the rate
/// (the shares add up to `rate`).
pub fn counter_of(rate: u32, message_id: &str) -> (u32, u32) {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let rate = rate.max(1);
    let n = counters(rate);
    let mut h = DefaultHasher::new();
    message_id.hash(&mut h);
    let counter = u32::try_from(h.finish() % u64::from(n)).unwrap_or(0);
    let share = rate / n + u32::from(counter < rate % n);
    (counter, share)
}

/// The policy: the `n`-th delivery of a second at `rate` per second.
pub fn wait(n: i64, rate: u32) -> Option<u32> {
    let rate = i64::from(rate.max(1));
    if n <= rate {
        return None;
    }
    let beyond = n - rate;
    Some(
        u32::try_from((beyond + rate - 1) / rate)
            .unwrap_or(u32::MAX)
            .max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_ten_at_two_per_second_takes_turns_over_four_seconds() {
        let waits: Vec<Option<u32>> = (1..=10).map(|n| wait(n, 2)).collect();
        assert_eq!(
            waits,
            [
                None,
                None,
                Some(1),
                Some(1),
                Some(2),
                Some(2),
                Some(3),
                Some(3),
                Some(4),
                Some(4)
            ]
        );
        assert_eq!(wait(1, 0), None, "a zero rate reads as one");
        assert_eq!(wait(2, 1), Some(1));
    }

    #[test]
    fn a_limit_is_split_into_shares_that_add_up_to_it() {
        for rate in [1, 2, 249, 250, 251, 999, 1_000, 1_001, 33_333, 100_000] {
            let n = counters(rate);
            assert_eq!(n, rate.div_ceil(PER_COUNTER), "{rate}");
            let mut shares = vec![None; n as usize];
            for i in 0..(n * 64) {
                let (c, share) = counter_of(rate, &format!("evt_{i}"));
                assert!(
                    c < n && (1..=PER_COUNTER).contains(&share),
                    "{rate}: {c} {share}"
                );
                shares[c as usize] = Some(share);
            }
            // Every counter is reached, and the shares are the rate.
            let sum: u32 = shares
                .iter()
                .map(|s| s.expect("every counter is used"))
                .sum();
            assert_eq!(sum, rate, "{rate}");
        }
        assert_eq!(counters(250), 1, "up to PER_COUNTER: one counter, exact");
        assert_eq!(counters(100_000), 400);
    }

    /// The hot key the split removes: at the highest limit, deliveries at that rate never put
    /// more than PER_COUNTER writes a second on one counter (here 100,000 messages in a second:
    /// about 250 each, against the 1,000 one key takes).
    #[test]
    fn no_counter_takes_more_than_a_key_can_at_the_highest_limit() {
        let rate = keygate_core::notify::endpoints::MAX_RATE_LIMIT;
        let mut per = vec![0u32; counters(rate) as usize];
        for i in 0..rate {
            per[counter_of(rate, &format!("evt_{i:08}")).0 as usize] += 1;
        }
        let hottest = per.iter().max().copied().unwrap_or(0);
        assert!(
            hottest <= 2 * PER_COUNTER,
            "{hottest} writes on one counter"
        );
    }

    #[tokio::test]
    async fn a_split_limit_lets_the_rate_through_and_defers_the_rest() {
        use keygate_core::kernel::crypto::{Pepper, Peppers};
        use keygate_core::ports::store::MemoryTable;
        let table = MemoryTable::new();
        let account = AccountId::generate();
        let (mut ep, _) = Endpoint::new(
            &Peppers::new(vec![Pepper::generate("p")]),
            account.clone(),
            true,
            "https://x.test/h".into(),
            None,
            vec!["PACKAGE_CREATE".into()],
            0,
        );
        ep.rate_limit = Some(1_000);
        let mut now_ = 0;
        let mut waits = Vec::new();
        for i in 0..2_000 {
            match turn(&table, &account, &ep, &format!("evt_{i}"), 1_800_000_000).await {
                Ok(None) => now_ += 1,
                Ok(Some(w)) => waits.push(w),
                Err(e) => panic!("{e}"),
            }
        }
        // Four counters of 250: each is full within the second (about 500 messages each).
        assert_eq!(now_, 1_000);
        assert!(waits.iter().all(|w| (1..=3).contains(w)), "{waits:?}");
    }
}
