//! The local API server: every HTTP route of `template.yaml`, served by the very handler functions
//! the Lambdas run, with the `verify` authorizer in front of the routes that have it, the
//! `/_local/*` operator routes (docs/LOCAL.md), and an in-process event source feeding the
//! webhooks handler as Lambda's SQS event source mapping would.

pub mod dispatch;
pub mod event_source;
pub mod operator;

use std::net::SocketAddr;

use keygate_core::ports::services::Queues;
use keygate_core::Services;
use tokio::net::TcpListener;

/// The listen address: `KEYGATE_LISTEN` or `127.0.0.1:3000`.
pub fn listen_addr() -> Result<SocketAddr, String> {
    let raw = std::env::var("KEYGATE_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    raw.parse().map_err(|_| {
        format!("KEYGATE_LISTEN '{raw}' is not a host:port address (e.g. 127.0.0.1:3000)")
    })
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub services: Services,
    /// The queues: producers' enqueues (`/_local/events`) and the event source's.
    pub queues: Queues,
    server: tokio::task::JoinHandle<()>,
    poller: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn abort(&self) {
        self.server.abort();
        self.poller.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Serves on `listener` (bind `127.0.0.1:0` in tests) until the returned handle is dropped.
pub fn serve(
    listener: TcpListener,
    mut services: Services,
    queues: Queues,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    // The management routes enqueue resends, recoveries and operational events where the
    // producers' events go.
    if services.events.is_none() {
        services.events = Some(queues.events.clone());
    }
    let app = dispatch::router(services.clone(), queues.clone());
    let server = tokio::spawn(async move {
        // The peer address becomes the request's source IP, as API Gateway passes it.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "local server stopped");
        }
    });
    // The webhooks handler's state, built once as a Lambda cold start would.
    let webhooks = keygate_webhooks::Webhooks::from_env(services.clone(), queues.clone())
        .map_err(std::io::Error::other)?;
    let poller = tokio::spawn(event_source::run(webhooks));
    Ok(Running {
        addr,
        services,
        queues,
        server,
        poller,
    })
}

/// Start-up check against real services: a wrong table, queue or endpoint is one clear line.
pub async fn probe(services: &Services, queues: &Queues) -> Result<(), String> {
    services
        .table
        .query("PROBE#", "", 1)
        .await
        .map_err(|e| format!("DynamoDB: {e}"))?;
    queues
        .events
        .probe()
        .await
        .map_err(|e| format!("SQS: {e}"))?;
    queues
        .dead_letters
        .probe()
        .await
        .map_err(|e| format!("SQS (dead-letter queue): {e}"))
}
