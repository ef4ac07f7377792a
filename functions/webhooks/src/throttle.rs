//! The per-endpoint throttle (`rateLimit`, deliveries per second): deliveries beyond it wait
//! their turn — their message comes back when its turn comes (its visibility), with no attempt
//! recorded and nothing counted against the endpoint.
//!
//! One counter per endpoint and second in the volatile table (`RATE#<account>#<endpoint>#<unix
//! second>`, TTL two minutes), so every Lambda instance counts against the same limit. A
//! delivery adds one to its second's counter: the first `rate` go; the n-th beyond them waits
//! `ceil(n / rate)` seconds, when its turn comes in a later second (where it counts again, after
//! the deliveries already waiting there). A burst of 10 at 2/s goes out over 5 seconds: 2 now, 2
//! after 1 s, …, 2 after 4 s.

use keygate_core::kernel::clock::UnixSeconds;
use keygate_core::kernel::ids::AccountId;
use keygate_core::notify::endpoints::Endpoint;
use keygate_core::ports::store::{Key, StoreError, Table};

/// How long a second's counter is kept.
const COUNTER_TTL_SECONDS: i64 = 120;

/// The wait before a delivery's turn: `None` to go now, `Some(seconds)` to come back later.
pub async fn turn(
    table: &dyn Table,
    account: &AccountId,
    endpoint: &Endpoint,
    now: UnixSeconds,
) -> Result<Option<u32>, StoreError> {
    let Some(rate) = endpoint.rate_limit.filter(|r| *r > 0) else {
        return Ok(None);
    };
    let key = Key::new(format!("RATE#{account}#{}#{now}", endpoint.id), "N");
    let n = table.increment(&key, 1, now + COUNTER_TTL_SECONDS).await?;
    Ok(wait(n, rate))
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
}
