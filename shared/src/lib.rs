//! keygate's shared crate: the domain (accounts, credentials, tokens), the ports (table, queue,
//! keys) with their AWS and in-memory adapters, configuration, errors and HTTP helpers. The
//! domain talks to the ports only; AWS crates appear in the adapters alone.

pub mod accounts;
pub mod attempts;
pub mod audit;
pub mod auth;
pub mod authtokens;
pub mod aws;
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
pub mod http;
pub mod ids;
pub mod keys;
pub mod lockout;
pub mod metrics;
pub mod oauth;
pub mod policy;
pub mod principal;
pub mod queue;
pub mod routes;
pub mod services;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tokens;

pub use error::{ApiError, ApiResult};
pub use services::Services;
