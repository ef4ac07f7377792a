//! Event notifications: the platform's events as producers put them on the queue
//! ([`events`]), the endpoints an account sends them to — the primary callback and the extra
//! ones — with their authentication, filters and signing secrets ([`endpoints`]), and the record
//! of every delivery attempt ([`attempts`]).

pub mod attempts;
pub mod endpoints;
pub mod events;
