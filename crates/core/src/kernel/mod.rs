//! The kernel every context uses: ids, the clock, crypto (secrets, keyed hashes, sealing),
//! configuration, errors and backing-service faults, metrics, the audit record, and what a
//! request learned about itself (`request_log`).

pub mod audit;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod fault;
pub mod ids;
pub mod metrics;
pub mod request_log;
pub mod urls;
