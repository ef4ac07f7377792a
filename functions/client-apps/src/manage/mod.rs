//! The use cases of self-service management, one layer for both faces — the JSON API
//! (`crate::api`) and the HTML console (`crate::console`): each checks what only it can (a client
//! belongs to its creator, owner-only changes) and writes its change with its audit record in one
//! transaction. Who may call a route at all is the registry's and the policy's, not theirs.

pub mod account;
pub mod apps;
pub mod callback;
pub mod messages;
pub mod oauth_clients;

use keygate_core::identity::Manager;
use keygate_core::ApiResult;

/// The audit write for a change by `m`.
pub(crate) fn audit(
    m: &Manager,
    action: &str,
    target: Option<&str>,
    now: i64,
) -> ApiResult<keygate_core::ports::store::WriteOp> {
    Ok(keygate_core::kernel::audit::AuditEntry::new(
        &m.account.id,
        m.user.id.as_str(),
        action,
        target,
        now,
    )
    .write()?)
}
