//! Event notifications: the platform's events as producers put them on the queue
//! ([`events`]), the endpoints an account sends them to — the primary callback and the extra
//! ones — with their authentication, filters and signing secrets ([`endpoints`]), the record
//! of every delivery attempt ([`attempts`]), which endpoint took which event ([`ledger`]), and
//! every event kept for its retention period with its outcome per endpoint ([`messages`]).

pub mod attempts;
pub mod endpoints;
pub mod events;
pub mod ledger;
pub mod messages;
