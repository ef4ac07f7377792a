//! Operational events (docs/EVENTS.md): keygate tells the account about its endpoints —
//! `CALLBACK_ENDPOINT_DISABLED` (with `reason`) and `CALLBACK_DELIVERY_EXHAUSTED` (with
//! `messageId`) from here, `CALLBACK_ENDPOINT_RECOVERED` from the management routes — as event
//! messages on the events queue, delivered like any event to the endpoints that subscribe to
//! them, never to the endpoint they are about ([`keygate_core::notify::events::EventMessage::about`]).
//! Best effort: a queue that refuses one is logged, and the delivery it is about goes on.

use keygate_core::notify::endpoints::Endpoint;
use keygate_core::notify::events;

use crate::Webhooks;

/// Puts an operational event about `endpoint` on the events queue.
pub async fn emit(
    state: &Webhooks,
    name: &'static str,
    endpoint: &Endpoint,
    message: String,
    extra: serde_json::Map<String, serde_json::Value>,
) {
    let event = events::operational(
        &endpoint.account_id,
        name,
        endpoint.api_id(),
        message,
        extra,
        state.services.now(),
    );
    let sent = match serde_json::to_string(&event) {
        Ok(body) => state.queues.events.send(&body, &[]).await.map(|_| ()),
        Err(e) => {
            tracing::error!(error = %e, "webhooks: serialising an operational event");
            return;
        }
    };
    match sent {
        Ok(()) => {
            tracing::info!(event = name, event_id = %event.id, endpoint_id = %endpoint.id, "operational event queued")
        }
        Err(e) => {
            tracing::warn!(event = name, endpoint_id = %endpoint.id, error = %e, "operational event not queued")
        }
    }
}

/// One field of an operational event.
pub fn field(
    name: &str,
    value: impl Into<serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(name.to_owned(), value.into());
    m
}
