//! Endpoint health: a run of failures starts a clock (`failingSince`), a success stops it, and an
//! endpoint failing continuously for longer than the configured time (or answering `410 Gone`)
//! is disabled, with an audit record; the owner re-enables it with a `PUT`.
//!
//! The policy is a pure function ([`after_try`]); [`apply`] loads the endpoint, applies it and
//! saves with the revision it read, retrying on a concurrent change (ten messages of one batch
//! failing on the same endpoint race here; only the first finds anything to write).

use keygate_core::kernel::audit::AuditEntry;
use keygate_core::kernel::clock::UnixSeconds;
use keygate_core::notify::endpoints::{self, Disabled, Endpoint};
use keygate_core::ports::store::{Condition, Item, StoreError, Table, WriteOp};

use crate::send::Verdict;

/// The audit actor of changes the webhooks function makes.
pub const ACTOR: &str = "keygate-webhooks";
/// The audit action of an automatic disable.
pub const DISABLE_ACTION: &str = "callback.disable";

/// What a try does to its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Nothing,
    /// First failure of a run.
    StartFailing(UnixSeconds),
    /// A success after failures.
    Recover,
    Disable(String),
}

/// The policy, given the endpoint's current `failing_since`.
pub fn after_try(
    failing_since: Option<UnixSeconds>,
    verdict: Verdict,
    now: UnixSeconds,
    disable_after: i64,
) -> Change {
    match (verdict, failing_since) {
        (Verdict::Succeeded, Some(_)) => Change::Recover,
        (Verdict::Succeeded, None) => Change::Nothing,
        (Verdict::Gone, _) => Change::Disable("the endpoint answered 410 Gone".into()),
        (Verdict::Failed, None) => Change::StartFailing(now),
        (Verdict::Failed, Some(since)) if now - since >= disable_after => Change::Disable(format!(
            "every delivery failed for {} s (since {since}); the limit is {disable_after} s",
            now - since
        )),
        (Verdict::Failed, Some(_)) => Change::Nothing,
    }
}

/// Where the endpoint stands after [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Still receiving (whatever was recorded).
    Active,
    /// Disabled before this call (or deleted): deliveries to it stop.
    Disabled,
    /// Disabled by this call, for this reason: deliveries to it stop, and the account hears it
    /// (`CALLBACK_ENDPOINT_DISABLED`).
    DisabledNow(String),
}

impl Health {
    /// Deliveries to it stop.
    pub fn is_disabled(&self) -> bool {
        !matches!(self, Health::Active)
    }
}

/// Applies a try's verdict to the stored endpoint. `seen` is the endpoint as it was when the
/// try was sent: if its URL has changed since, the verdict is about an old URL and is dropped.
/// One optimistic read-modify-write of the endpoint, retried on a lost race: long, but one loop.
pub async fn apply(
    table: &dyn Table,
    seen: &Endpoint,
    verdict: Verdict,
    now: UnixSeconds,
    disable_after: i64,
) -> Result<Health, StoreError> {
    // Most tries change nothing: decide on what we saw before reading again.
    if after_try(seen.failing_since, verdict, now, disable_after) == Change::Nothing {
        return Ok(Health::Active);
    }
    for _ in 0..4 {
        let Some((mut ep, rev)) = endpoints::get(table, &seen.account_id, &seen.id).await? else {
            return Ok(Health::Disabled); // deleted: nothing to deliver to either
        };
        if ep.disabled.is_some() {
            return Ok(Health::Disabled);
        }
        if ep.url != seen.url {
            return Ok(Health::Active);
        }
        let change = after_try(ep.failing_since, verdict, now, disable_after);
        let mut audit = None;
        match &change {
            Change::Nothing => return Ok(Health::Active),
            Change::StartFailing(t) => ep.failing_since = Some(*t),
            Change::Recover => ep.failing_since = None,
            Change::Disable(reason) => {
                ep.disabled = Some(Disabled {
                    at: now,
                    reason: reason.clone(),
                });
                ep.updated_at = now;
                let entry = AuditEntry::new(
                    &ep.account_id,
                    ACTOR,
                    DISABLE_ACTION,
                    Some(ep.id.as_str()),
                    now,
                );
                audit = Some(entry.write()?);
            }
        }
        let mut item = Item::new(endpoints::endpoint_key(&ep.account_id, &ep.id), &ep)?;
        item.rev = rev + 1;
        let written = match audit {
            // The disable and its audit record: both or neither.
            Some(audit) => {
                let put = WriteOp::Put(item, Condition::Revision(rev));
                table.transact(vec![put, audit]).await
            }
            None => table.put(item, Condition::Revision(rev)).await,
        };
        match written {
            Ok(()) => {
                if let Change::Disable(reason) = change {
                    tracing::warn!(
                        audit = DISABLE_ACTION,
                        account = %ep.account_id,
                        endpoint_id = %ep.id,
                        reason = %reason,
                        "endpoint disabled"
                    );
                    return Ok(Health::DisabledNow(reason));
                }
                return Ok(Health::Active);
            }
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e),
        }
    }
    // Lost every race: someone else is updating it; the next try will see where it stands.
    Ok(Health::Active)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_core::kernel::crypto::{Pepper, Peppers};
    use keygate_core::kernel::ids::AccountId;
    use keygate_core::ports::store::MemoryTable;

    #[test]
    fn the_policy() {
        use Verdict::*;
        assert_eq!(after_try(None, Succeeded, 10, 100), Change::Nothing);
        assert_eq!(after_try(Some(1), Succeeded, 10, 100), Change::Recover);
        assert_eq!(after_try(None, Failed, 10, 100), Change::StartFailing(10));
        assert_eq!(after_try(Some(10), Failed, 109, 100), Change::Nothing);
        assert!(matches!(
            after_try(Some(10), Failed, 110, 100),
            Change::Disable(_)
        ));
        assert!(matches!(after_try(None, Gone, 10, 100), Change::Disable(r) if r.contains("410")));
    }

    async fn endpoint(t: &MemoryTable) -> Endpoint {
        let p = Peppers::new(vec![Pepper::generate("p")]);
        let (ep, _) = Endpoint::new(
            &p,
            AccountId::generate(),
            true,
            "https://x.test/h".into(),
            None,
            vec!["PACKAGE_CREATE".into()],
            0,
        );
        endpoints::save(t, &ep, None).await.unwrap();
        ep
    }

    #[tokio::test]
    async fn failing_then_disabled_with_an_audit_record() {
        let t = MemoryTable::new();
        let ep = endpoint(&t).await;
        assert_eq!(
            apply(&t, &ep, Verdict::Failed, 100, 60).await.unwrap(),
            Health::Active
        );
        let (stored, _) = endpoints::get(&t, &ep.account_id, &ep.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.failing_since, Some(100));
        // A stale snapshot (no failing_since) still reads the stored one.
        assert_eq!(
            apply(&t, &ep, Verdict::Failed, 130, 60).await.unwrap(),
            Health::Active
        );
        assert!(matches!(
            apply(&t, &stored, Verdict::Failed, 160, 60).await.unwrap(),
            Health::DisabledNow(reason) if reason.contains("failed for 60 s")
        ));
        assert_eq!(
            apply(&t, &stored, Verdict::Failed, 170, 60).await.unwrap(),
            Health::Disabled,
            "already disabled"
        );
        let (stored, _) = endpoints::get(&t, &ep.account_id, &ep.id)
            .await
            .unwrap()
            .unwrap();
        assert!(stored.disabled.is_some());
        let audit = keygate_core::kernel::audit::list(&t, &ep.account_id, 10)
            .await
            .unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, DISABLE_ACTION);
        assert_eq!(audit[0].target.as_deref(), Some(ep.id.as_str()));
    }

    #[tokio::test]
    async fn success_clears_and_a_changed_url_ignores_old_verdicts() {
        let t = MemoryTable::new();
        let ep = endpoint(&t).await;
        apply(&t, &ep, Verdict::Failed, 100, 60).await.unwrap();
        let (mut stored, rev) = endpoints::get(&t, &ep.account_id, &ep.id)
            .await
            .unwrap()
            .unwrap();
        apply(&t, &stored, Verdict::Succeeded, 120, 60)
            .await
            .unwrap();
        let (fresh, _) = endpoints::get(&t, &ep.account_id, &ep.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fresh.failing_since, None);
        // The owner moves the endpoint; a 410 from the old URL must not disable the new one.
        stored.url = "https://y.test/h".into();
        stored.failing_since = None;
        endpoints::save(&t, &stored, Some(rev + 1)).await.unwrap();
        assert_eq!(
            apply(&t, &ep, Verdict::Gone, 130, 60).await.unwrap(),
            Health::Active
        );
        let (fresh, _) = endpoints::get(&t, &ep.account_id, &ep.id)
            .await
            .unwrap()
            .unwrap();
        assert!(fresh.disabled.is_none());
    }
}
