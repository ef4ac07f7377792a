//! Lockout: repeated failures on one credential, or from one source address, lock it for the
//! rest of a fixed window (`429` + `Retry-After`). Counted in the table, so every Lambda instance
//! sees the same count; the window is part of the counter's key, so old counts expire by TTL.

use crate::clock::UnixSeconds;
use crate::error::{ApiError, ApiResult};
use crate::store::{Key, Table};

/// Failures allowed per window before the lock.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub window_seconds: i64,
    pub max_per_credential: i64,
    pub max_per_source: i64,
}

pub const POLICY: Policy = Policy {
    window_seconds: 900,
    max_per_credential: 5,
    max_per_source: 50,
};

/// What a counter counts.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A client id, an API key's account, a signed-request key id.
    Credential(&'a str),
    /// A source IP address.
    Source(&'a str),
}

impl Subject<'_> {
    fn key(&self, window: i64) -> Key {
        match self {
            Subject::Credential(id) => Key::new(format!("LOCK#cred#{id}"), format!("W#{window}")),
            Subject::Source(ip) => Key::new(format!("LOCK#ip#{ip}"), format!("W#{window}")),
        }
    }
    fn max(&self, p: &Policy) -> i64 {
        match self {
            Subject::Credential(_) => p.max_per_credential,
            Subject::Source(_) => p.max_per_source,
        }
    }
}

/// Pure policy: the seconds left on the lock, if `failures` in the window starting at
/// `window_start` reach the limit.
pub fn locked_for(
    failures: i64,
    max: i64,
    window_start: UnixSeconds,
    window: i64,
    now: UnixSeconds,
) -> Option<u64> {
    (failures >= max).then(|| (window_start + window - now).max(1) as u64)
}

/// `429` if the subject is locked at `now`.
pub async fn check(table: &dyn Table, subject: Subject<'_>, now: UnixSeconds) -> ApiResult<()> {
    let p = POLICY;
    let window = now.div_euclid(p.window_seconds);
    let failures = table.counter(&subject.key(window)).await?;
    match locked_for(
        failures,
        subject.max(&p),
        window * p.window_seconds,
        p.window_seconds,
        now,
    ) {
        Some(retry) => Err(ApiError::locked("locked_out", retry)),
        None => Ok(()),
    }
}

/// Counts one failure.
pub async fn record_failure(
    table: &dyn Table,
    subject: Subject<'_>,
    now: UnixSeconds,
) -> ApiResult<()> {
    let p = POLICY;
    let window = now.div_euclid(p.window_seconds);
    let ttl = (window + 1) * p.window_seconds + 60;
    table.increment(&subject.key(window), 1, ttl).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryTable;

    #[test]
    fn lock_lasts_until_the_window_ends() {
        assert_eq!(locked_for(4, 5, 900, 900, 1000), None);
        assert_eq!(locked_for(5, 5, 900, 900, 1000), Some(800));
        assert_eq!(locked_for(9, 5, 900, 900, 1799), Some(1));
    }

    #[tokio::test]
    async fn five_failures_lock_a_credential_until_the_next_window() {
        let t = MemoryTable::new();
        let now = 9_000;
        for _ in 0..5 {
            check(&t, Subject::Credential("c"), now).await.unwrap();
            record_failure(&t, Subject::Credential("c"), now)
                .await
                .unwrap();
        }
        let e = check(&t, Subject::Credential("c"), now + 10)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 429);
        assert_eq!(e.retry_after, Some(890));
        check(&t, Subject::Credential("other"), now).await.unwrap();
        check(&t, Subject::Credential("c"), now + 900)
            .await
            .unwrap();
    }
}
