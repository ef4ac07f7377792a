//! Fan-out idempotency: the delivery ledger is the domain's
//! ([`keygate_core::notify::ledger`]), shared with the management routes' recovery, which asks
//! it what an endpoint has taken.

pub use keygate_core::notify::ledger::*;
