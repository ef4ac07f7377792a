//! Deliveries per second of one handler instance, and memory per
//! in-flight delivery.
//!
//! `cargo bench -p keygate-webhooks --bench delivery` (add `-- --quick` for a short run).
//!
//! One [`Webhooks`] state on the in-memory adapters (so the numbers are the handler's: signing,
//! claims, attempt records, the retained message, HTTP), with JSON logs formatted into a sink as in Lambda, sends
//! batches of 10 messages to a fast receiver on loopback running in a child process (so its CPU
//! and memory are not counted as ours). Memory is measured with a counting global allocator: the
//! peak of live heap bytes while every delivery of a batch is held open by a slow receiver, less
//! the live bytes before, divided by the deliveries in flight.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use keygate_core::kernel::clock::SystemClock;
use keygate_core::kernel::config::Config;
use keygate_core::kernel::ids::AccountId;
use keygate_core::notify::endpoints::{self, Endpoint};
use keygate_core::Services;
use keygate_webhooks::{handle_batch, Settings, Webhooks};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only sizes are counted on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

// ------------------------------------------------------------------------------- receiver

/// The receiver child: answers `204` after `delay_ms`, prints its port, exits when its stdin
/// closes (the bench ended or died).
fn receiver(delay_ms: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("PORT {}", listener.local_addr().expect("addr").port());
        let _ = std::io::stdout().flush();
        std::thread::spawn(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            std::process::exit(0);
        });
        let app = axum::Router::new().route(
            "/hook/{n}",
            axum::routing::post(move |_body: axum::body::Bytes| async move {
                if delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                }
                axum::http::StatusCode::NO_CONTENT
            }),
        );
        let _ = axum::serve(listener, app).await;
    });
}

struct Child {
    proc: std::process::Child,
    port: u16,
}

impl Child {
    fn spawn(delay_ms: u64) -> Self {
        let exe = std::env::current_exe().expect("own path");
        let mut proc = Command::new(exe)
            .args(["--receiver", &delay_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("receiver starts");
        let out = proc.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).expect("port line");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .expect("PORT <n>");
        Self { proc, port }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.proc.kill();
        let _ = self.proc.wait();
    }
}

// ------------------------------------------------------------------------------- bench

struct Bench {
    state: Webhooks,
    account: AccountId,
    next_event: usize,
}

impl Bench {
    async fn new(port: u16, endpoints: usize, concurrency: usize) -> Self {
        let services = Services::in_memory(
            Config::local("http://127.0.0.1:3000"),
            Arc::new(SystemClock),
        )
        .await;
        let ring = services.keys.ring().await;
        let account = keygate_core::accounts::create_account(
            &*services.table,
            ring.peppers(),
            &services.config,
            "Bench",
            "bench@example.test",
            services.now(),
        )
        .await
        .expect("account")
        .account
        .id;
        for i in 0..endpoints {
            let (ep, _) = Endpoint::new(
                ring.peppers(),
                account.clone(),
                i == 0,
                format!("http://127.0.0.1:{port}/hook/{i}"),
                Some("callback-key"),
                vec!["PACKAGE_CREATE".into()],
                services.now(),
            );
            endpoints::save(&*services.table, &ep, None)
                .await
                .expect("endpoint");
        }
        let settings = Settings {
            concurrency,
            ..Settings::default()
        };
        Self {
            state: Webhooks::new(
                services,
                keygate_core::ports::services::Queues::in_memory(),
                settings,
            )
            .expect("client"),
            account,
            next_event: 0,
        }
    }

    fn batch(&mut self, size: usize) -> SqsEvent {
        let mut event = SqsEvent::default();
        for _ in 0..size {
            self.next_event += 1;
            let body = serde_json::json!({
                "id": format!("evt_bench_{}", self.next_event), "accountId": self.account.to_string(),
                "name": "PACKAGE_CREATE", "packageId": "pkg_1", "documentId": "doc_1",
                "sessionUser": "usr_signer", "message": null, "createdDate": "2026-11-26T10:00:00Z"
            });
            let mut r = SqsMessage::default();
            r.message_id = Some(format!("m{}", self.next_event));
            r.receipt_handle = Some(format!("r{}", self.next_event));
            r.body = Some(body.to_string());
            r.attributes
                .insert("ApproximateReceiveCount".into(), "1".into());
            event.records.push(r);
        }
        event
    }

    /// Runs `batches` batches of 10; returns deliveries per second.
    async fn throughput(&mut self, batches: usize, per_message: usize) -> f64 {
        let started = Instant::now();
        for _ in 0..batches {
            let event = self.batch(10);
            let resp = handle_batch(&self.state, event).await;
            assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
        }
        (batches * 10 * per_message) as f64 / started.elapsed().as_secs_f64()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--receiver") {
        let delay = args.get(i + 1).and_then(|d| d.parse().ok()).unwrap_or(0);
        receiver(delay);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // Logs as in Lambda (JSON lines), written nowhere: their formatting cost is counted.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::sink)
        .try_init();
    // Lambda's runtime: tokio on every vCPU (2 here).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let fast = Child::spawn(0);
        let batches = if quick { 20 } else { 100 };
        println!(
            "keygate-webhooks delivery bench: {} cores, batches of 10 messages, receiver on loopback (child process)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        // Every message is kept as the function keeps it in production (its retained copy and
        // its index entry written before the fan-out): the figures below include it.
        println!(
            "  retention on: every message kept {} days with its payload and outcome per endpoint",
            Config::local("http://127.0.0.1:3000").message_retention_days
        );
        for (endpoints, concurrency) in [(20, 64), (20, 200), (1, 64), (5, 64)] {
            let mut b = Bench::new(fast.port, endpoints, concurrency).await;
            b.throughput(3, endpoints).await; // warm the pool
            let rate = b.throughput(batches, endpoints).await;
            println!(
                "  {endpoints:>2} endpoints/message, concurrency {concurrency:>3}: {:>8.0} deliveries/s ({} deliveries)",
                rate,
                batches * 10 * endpoints
            );
        }

        // Memory: every delivery of a batch held open by a receiver that answers after 500 ms.
        let slow = Child::spawn(500);
        let mut b = Bench::new(slow.port, 20, 200).await;
        for round in ["cold (connections opened)", "warm (pooled connections)"] {
            let event = b.batch(10);
            let before = LIVE.load(Ordering::SeqCst);
            PEAK.store(before, Ordering::SeqCst);
            let resp = handle_batch(&b.state, event).await;
            assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
            let peak = PEAK.load(Ordering::SeqCst);
            let per = (peak.saturating_sub(before)) as f64 / 200.0;
            println!(
                "  memory, 200 deliveries in flight, {round}: peak +{:.0} KiB, {:.1} KiB per in-flight delivery",
                (peak.saturating_sub(before)) as f64 / 1024.0,
                per / 1024.0
            );
        }
        drop(slow);
        drop(fast);
    });
}
