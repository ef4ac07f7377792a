//! The ports the domain talks to — the single [`store::Table`], the [`queue::Queue`] and the
//! signing keys' [`keys::KeySource`] — with their in-memory twins, and the [`services::Services`]
//! a function runs on. Their AWS adapters are `keygate_aws`'s.

pub mod keys;
pub mod queue;
pub mod services;
pub mod store;
