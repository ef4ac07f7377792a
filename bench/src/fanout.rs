//! The webhook fan-out, metered per partition key (docs/SCALE.md): one account's events to 10
//! endpoints (a receiver on loopback answering 200), in batches of 10 as SQS hands them over, run
//! through the webhooks handler on in-memory services whose table is metered under the read
//! cache. After one warm-up event, what reaches the table per event is counted.

use std::sync::Arc;
use std::time::Duration;

use keygate_core::kernel::clock::SystemClock;
use keygate_core::kernel::config::Config;
use keygate_core::notify::endpoints::{self, Endpoint};
use keygate_core::ports::services::Queues;
use keygate_core::ports::store::meter::{KeyMeter, Tally};
use keygate_core::ports::store::{CachedTable, MemoryTable};
use keygate_core::Services;
use keygate_webhooks::{Settings, Webhooks};

/// Endpoints of the account.
pub const ENDPOINTS: usize = 10;

/// What `events` events cost, per key.
pub struct FanOut {
    pub events: usize,
    pub tally: Tally,
}

/// Fans `n` events (rounded up to batches of 10) out to [`ENDPOINTS`] endpoints.
pub async fn measure(n: usize) -> Result<FanOut, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let url = format!(
        "http://{}/hook",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let meter = Arc::new(KeyMeter::new(Arc::new(MemoryTable::new())));
    let config = Config::local("http://127.0.0.1:3000");
    let ttl = config.read_cache.max(Duration::from_secs(60));
    let mut services = Services::in_memory(config, Arc::new(SystemClock)).await;
    services.table = Arc::new(CachedTable::new(meter.clone(), ttl));
    let ring = services.keys.ring().await;
    let now = services.now();
    let account = keygate_core::accounts::create_account(
        &*services.table,
        ring.peppers(),
        &services.config,
        "Fan-out",
        "owner@fanout.bench",
        now,
    )
    .await
    .map_err(|e| format!("account: {e:?}"))?
    .account
    .id;
    for _ in 0..ENDPOINTS {
        let (ep, _) = Endpoint::new(
            ring.peppers(),
            account.clone(),
            false,
            url.clone(),
            None,
            vec!["PACKAGE_CREATE".into()],
            now,
        );
        endpoints::save(&*services.table, &ep, None)
            .await
            .map_err(|e| format!("endpoint: {e:?}"))?;
    }
    let state = Webhooks::new(services, Queues::in_memory(), Settings::default())
        .map_err(|e| format!("webhooks: {e}"))?;
    let batches = n.div_ceil(10).max(1);
    let mut tally = Tally::default();
    for b in 0..=batches {
        let size = if b == 0 { 1 } else { 10 };
        for i in 0..size {
            let m = serde_json::json!({
                "id": format!("evt_{b}_{i}"), "accountId": account.to_string(),
                "name": "PACKAGE_CREATE", "packageId": "pkg_bench", "documentId": null,
                "sessionUser": "usr_signer", "message": null,
                "createdDate": "2026-12-04T10:00:00Z"
            });
            state
                .queues
                .events
                .send(&m.to_string(), &[])
                .await
                .map_err(|e| format!("queue: {e:?}"))?;
        }
        let mut got = Vec::new();
        while got.len() < size {
            got.extend(
                state
                    .queues
                    .events
                    .receive(size - got.len(), Duration::from_millis(100))
                    .await
                    .map_err(|e| format!("queue: {e:?}"))?,
            );
        }
        meter.take();
        let resp =
            keygate_webhooks::handle_batch(&state, keygate_local::event_source::to_event(&got))
                .await;
        if !resp.batch_item_failures.is_empty() {
            return Err(format!(
                "fan-out: {} messages failed",
                resp.batch_item_failures.len()
            ));
        }
        let counted = meter.take();
        // Batch 0 is the warm-up: the instance's first event reads the account and endpoints.
        if b > 0 {
            tally.absorb(counted);
        }
    }
    Ok(FanOut {
        events: batches * 10,
        tally,
    })
}
