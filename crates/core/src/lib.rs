//! keygate's core: the domain (accounts, credentials, tokens, OAuth, event notifications, the
//! authorization policy), the ports it talks to (`Table`, `Queue`, `KeySource`) with their
//! in-memory twins, configuration and errors. No AWS SDK, no Lambda runtime and no logging
//! backend here — `keygate_aws` adapts the ports to AWS, `keygate_http` speaks `lambda_http` —
//! and nothing in this crate's `Cargo.toml` lets them in.

pub mod accounts;
pub mod attempts;
pub mod audit;
pub mod auth;
pub mod authtokens;
pub mod callbacks;
pub mod chain;
pub mod client_auth;
pub mod clients;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dpop;
pub mod error;
pub mod events;
pub mod fault;
pub mod ids;
pub mod keys;
pub mod lockout;
pub mod metrics;
pub mod oauth;
pub mod policy;
pub mod principal;
pub mod queue;
pub mod request_log;
pub mod services;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tokens;

pub use error::{ApiError, ApiResult};
pub use services::Services;
