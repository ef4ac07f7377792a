//! The end-to-end tests, one binary (one link, one process) with a module per area. Two
//! stay binaries of their own: `faults` pauses the shared local stack while it runs, and
//! `log_secrecy` captures every log line of its process.

mod assertions;
mod auth_tokens;
mod authorization;
mod authz_findings;
mod callback_oauth;
mod client_apps;
mod consent_browser;
mod console_browser;
mod endpoint_races;
mod fapi2;
mod hardening;
mod integrations;
mod interop;
mod local_contract;
mod messages;
mod readme_flows;
mod rig;
mod routes_agree;
mod scale;
mod template_defaults;
mod throttle;
mod token;
mod verify;
mod webhooks;
