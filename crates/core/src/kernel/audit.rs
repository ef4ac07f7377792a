//! Audit records: who changed what, when — never a secret. Written in the same transaction as the
//! change they describe, so neither exists without the other.

use serde::{Deserialize, Serialize};

use crate::kernel::clock::UnixSeconds;
use crate::kernel::ids::AccountId;
use crate::ports::store::{Condition, Item, Key, StoreError, Table, WriteOp};

/// How long audit records are kept.
pub const RETENTION_SECONDS: i64 = 400 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub account_id: AccountId,
    /// The acting user or client id.
    pub actor: String,
    /// A stable action name: `clientApp.create`, `apiKey.regenerate`, `callback.update`, …
    pub action: String,
    /// What was acted on (an id), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub at: UnixSeconds,
}

impl AuditEntry {
    pub fn new(
        account_id: &AccountId,
        actor: &str,
        action: &str,
        target: Option<&str>,
        at: UnixSeconds,
    ) -> Self {
        Self {
            account_id: account_id.clone(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.map(str::to_owned),
            at,
        }
    }

    /// The write that records this entry (for a transaction with the change itself).
    pub fn write(&self) -> Result<WriteOp, StoreError> {
        let key = Key::new(
            format!("AUDIT#{}", self.account_id),
            format!("{:012}#{}", self.at, crate::kernel::ids::random_suffix()),
        );
        Ok(WriteOp::Put(
            Item::new(key, self)?.with_ttl(self.at + RETENTION_SECONDS),
            Condition::NotExists,
        ))
    }
}

/// The newest entries of an account, oldest first, at most `limit`.
pub async fn list(
    table: &dyn Table,
    account: &AccountId,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    table
        .query(&format!("AUDIT#{account}"), "", limit)
        .await?
        .iter()
        .map(|i| i.decode())
        .collect()
}
