//! The JSON face of self-service management: OneSpan's REST routes, their input and output
//! shapes, each handler parsing, calling the use case of `crate::manage`, and mapping the result.

pub mod account;
pub mod apps;
pub mod callback;
pub mod messages;
pub mod oauth_clients;
