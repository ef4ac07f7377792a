//! Lockout: repeated failures slow down whoever fails, never the credential's owner (docs/CREDENTIALS.md
//! "Credentials").
//!
//! Failures are counted per (credential, source address) and per source address, in the table so
//! every Lambda instance sees the same count, in fixed windows that are part of the counter's key
//! (old counts expire by TTL). A source that reaches a limit is answered `429` + `Retry-After`
//! for the rest of the window:
//! - per (credential, source): [`Policy::max_per_credential`] wrong secrets for one client from
//!   one address lock that pair only — the same client from any other address is untouched, so
//!   naming a victim's public client id can never lock the victim out;
//! - per source: [`Policy::max_per_source`] failures from one address, on any credentials,
//!   lock that address (credential stuffing across many ids).
//!
//! An IPv6 source is its /64 network (`Source::label`): one customer's link is a /64, and its
//! 2^64 addresses are free to whoever holds it — counted per /128, an attacker would take a
//! fresh address for each few tries. An IPv4 address is itself (IPv4-mapped IPv6 included).
//!
//! Only a presented secret that is wrong counts: a request that carries no secret is refused
//! without counting.

use std::net::IpAddr;

use crate::kernel::clock::UnixSeconds;
use crate::kernel::error::{ApiError, ApiResult};
use crate::ports::store::{Key, Table};

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

/// The address a request comes from: API Gateway's `requestContext.http.sourceIp` (the local
/// server passes the peer address there). Unknown only outside API Gateway (a handler called
/// directly); unknown sources share one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Source(Option<IpAddr>);

impl Source {
    pub const UNKNOWN: Source = Source(None);

    pub fn new(ip: IpAddr) -> Self {
        Self(Some(ip))
    }

    /// From the text API Gateway passes; anything that is not an address is unknown.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(raw.and_then(|r| r.trim().parse().ok()))
    }

    pub fn ip(&self) -> Option<IpAddr> {
        self.0
    }

    /// What is counted, as it appears in counter keys: an IPv4 address (`to_canonical` folds
    /// IPv4-mapped IPv6 onto IPv4: one address, one bucket), or an IPv6 address's /64 network.
    fn label(&self) -> String {
        match self.0.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => {
                let network = u128::from(v6) & !(u128::from(u64::MAX));
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
            None => "unknown".to_owned(),
        }
    }
}

/// One authentication attempt: the credential it names (a client id, a signed request's key),
/// already checked for its shape, or `None` when the id was not even well formed, and where it
/// comes from.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub credential: Option<&'a str>,
    pub source: Source,
}

impl<'a> Attempt<'a> {
    pub fn new(credential: &'a str, source: Source) -> Self {
        Self {
            credential: Some(credential),
            source,
        }
    }

    /// An attempt whose credential id is malformed: only its source is counted.
    pub fn anonymous(source: Source) -> Self {
        Self {
            credential: None,
            source,
        }
    }

    /// The counters this attempt touches, with their limits.
    fn counters(&self, p: &Policy, window: i64) -> Vec<(Key, i64)> {
        let src = self.source.label();
        let mut out = vec![(
            Key::new(format!("LOCK#src#{src}"), format!("W#{window}")),
            p.max_per_source,
        )];
        if let Some(id) = self.credential {
            out.push((
                Key::new(format!("LOCK#cred#{id}#{src}"), format!("W#{window}")),
                p.max_per_credential,
            ));
        }
        out
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

/// `429` if the attempt's source, or its (credential, source) pair, is locked at `now`.
pub async fn check(table: &dyn Table, attempt: Attempt<'_>, now: UnixSeconds) -> ApiResult<()> {
    let p = POLICY;
    let window = now.div_euclid(p.window_seconds);
    for (key, max) in attempt.counters(&p, window) {
        let failures = table.counter(&key).await?;
        if let Some(retry) = locked_for(
            failures,
            max,
            window * p.window_seconds,
            p.window_seconds,
            now,
        ) {
            return Err(ApiError::locked("locked_out", retry));
        }
    }
    Ok(())
}

/// Counts one failure of the attempt (a wrong secret or signature was presented).
pub async fn record_failure(
    table: &dyn Table,
    attempt: Attempt<'_>,
    now: UnixSeconds,
) -> ApiResult<()> {
    let p = POLICY;
    let window = now.div_euclid(p.window_seconds);
    let ttl = (window + 1) * p.window_seconds + 60;
    for (key, _) in attempt.counters(&p, window) {
        table.increment(&key, 1, ttl).await?;
    }
    Ok(())
}

/// The failures counted in the window of `now`: the source's, and the pair's when the attempt
/// names a credential (tests look at them).
#[cfg(any(test, feature = "testing"))]
pub async fn failures(
    table: &dyn Table,
    attempt: Attempt<'_>,
    now: UnixSeconds,
) -> ApiResult<(i64, Option<i64>)> {
    let window = now.div_euclid(POLICY.window_seconds);
    let mut counts = Vec::new();
    for (key, _) in attempt.counters(&POLICY, window) {
        counts.push(table.counter(&key).await?);
    }
    Ok((counts[0], counts.get(1).copied()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::MemoryTable;

    fn src(ip: &str) -> Source {
        Source::parse(Some(ip))
    }

    #[test]
    fn lock_lasts_until_the_window_ends() {
        assert_eq!(locked_for(4, 5, 900, 900, 1000), None);
        assert_eq!(locked_for(5, 5, 900, 900, 1000), Some(800));
        assert_eq!(locked_for(9, 5, 900, 900, 1799), Some(1));
    }

    #[test]
    fn sources_are_parsed_and_canonical() {
        assert_eq!(src("127.0.0.1"), src(" 127.0.0.1 "));
        assert_eq!(src("::ffff:127.0.0.1").label(), "127.0.0.1");
        assert_eq!(src("not an ip"), Source::UNKNOWN);
        assert_eq!(Source::parse(None).label(), "unknown");
        // IPv6: the /64 is the source.
        assert_eq!(src("2001:db8:1:2:aaaa::1").label(), "2001:db8:1:2::/64");
        assert_eq!(
            src("2001:db8:1:2:ffff:ffff:ffff:ffff").label(),
            src("2001:db8:1:2::").label()
        );
        assert_ne!(
            src("2001:db8:1:3::1").label(),
            src("2001:db8:1:2::1").label()
        );
        assert_eq!(src("::1").label(), "::/64");
    }

    #[tokio::test]
    async fn failures_lock_the_pair_not_the_credential() {
        let t = MemoryTable::new();
        let now = 9_000;
        let attacker = Attempt::new("c", src("10.0.0.1"));
        for _ in 0..5 {
            check(&t, attacker, now).await.unwrap();
            record_failure(&t, attacker, now).await.unwrap();
        }
        let e = check(&t, attacker, now + 10).await.unwrap_err();
        assert_eq!(e.status(), 429);
        assert_eq!(e.retry_after, Some(890));
        // The owner of "c", elsewhere, is not locked; nor is the attacker on another credential.
        check(&t, Attempt::new("c", src("10.0.0.2")), now)
            .await
            .unwrap();
        check(&t, Attempt::new("other", src("10.0.0.1")), now)
            .await
            .unwrap();
        check(&t, attacker, now + 900).await.unwrap();
    }

    /// Each of `attempts` fails once; then `probe` is refused, and its error returned.
    async fn fail_then_refused(
        t: &MemoryTable,
        attempts: impl IntoIterator<Item = Attempt<'_>>,
        probe: Attempt<'_>,
        now: UnixSeconds,
    ) -> ApiError {
        for attempt in attempts {
            record_failure(t, attempt, now).await.unwrap();
        }
        check(t, probe, now).await.unwrap_err()
    }

    /// `n` credential ids, `c0`, `c1`, …
    fn ids(n: i64) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[tokio::test]
    async fn many_failures_from_one_source_lock_the_source() {
        let t = MemoryTable::new();
        let now = 9_000;
        let ids = ids(POLICY.max_per_source);
        let many = ids.iter().map(|id| Attempt::new(id, src("10.0.0.9")));
        let e = fail_then_refused(&t, many, Attempt::new("fresh", src("10.0.0.9")), now).await;
        assert_eq!(e.status(), 429);
        check(&t, Attempt::anonymous(src("10.0.0.9")), now)
            .await
            .unwrap_err();
        check(&t, Attempt::new("fresh", src("10.0.0.10")), now)
            .await
            .unwrap();
    }

    /// An attacker with an IPv6 /64 takes a fresh address for every try: still one source.
    #[tokio::test]
    async fn a_new_ipv6_address_per_try_is_still_one_source() {
        let t = MemoryTable::new();
        let now = 9_000;
        let from = |i: u32| src(&format!("2001:db8:0:7:{:x}:{:x}::1", i >> 16, i & 0xffff));
        let tries = (0..).map(from).take(POLICY.max_per_credential as usize);
        let victim = tries.map(|source| Attempt::new("victim", source));
        let e = fail_then_refused(&t, victim, Attempt::new("victim", from(99)), now).await;
        assert_eq!(e.status(), 429, "the pair is locked for the whole /64");
        let ids = ids(POLICY.max_per_source);
        let many = ids
            .iter()
            .zip(1_000..)
            .map(|(id, i)| Attempt::new(id, from(i)));
        let e = fail_then_refused(&t, many, Attempt::new("fresh", from(7_777)), now).await;
        assert_eq!(e.status(), 429, "the source is locked for the whole /64");
        // The owner of "victim", on another network, is untouched.
        check(&t, Attempt::new("victim", src("2001:db8:0:8::1")), now)
            .await
            .unwrap();
    }
}
