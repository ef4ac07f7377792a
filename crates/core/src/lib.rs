//! keygate's core: the domain (accounts, credentials, tokens, OAuth, event notifications, the
//! authorization policy), the ports it talks to (`Table`, `Queue`, `KeySource`) with their
//! in-memory twins, configuration and errors. No AWS SDK, no Lambda runtime and no logging
//! backend here — `keygate_aws` adapts the ports to AWS, `keygate_http` speaks `lambda_http` —
//! and nothing in this crate's `Cargo.toml` lets them in.

pub mod accounts;
pub mod authtokens;
pub mod clients;
pub mod identity;
pub mod kernel;
pub mod notify;
pub mod oauth;
pub mod ports;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use kernel::error::{ApiError, ApiResult};
pub use ports::services::Services;
