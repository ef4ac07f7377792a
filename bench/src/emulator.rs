//! A minimal AWS Lambda Runtime API on loopback: hands one invocation to the runtime client of a
//! function binary and records what comes back, with the instant each call arrived.
//!
//! Routes (API version `2018-06-01`): `GET /runtime/invocation/next` (the one event, with the
//! `Lambda-Runtime-*` headers; a second `next` parks, as a frozen Lambda would, until the run
//! ends), `POST /runtime/invocation/{id}/response`, `POST /runtime/invocation/{id}/error` and
//! `POST /runtime/init/error`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, watch};

/// What the function did, and when the emulator saw it.
#[derive(Debug)]
pub enum Call {
    /// `GET …/invocation/next`: the runtime is initialised and asks for work.
    Next(Instant),
    /// `POST …/invocation/{id}/response` with its body.
    Response(Instant, Bytes),
    /// `POST …/invocation/{id}/error` with its body.
    Error(Bytes),
    /// `POST …/init/error` with its body.
    InitError(Bytes),
}

struct Shared {
    payload: Bytes,
    request_id: String,
    function_arn: String,
    served: AtomicBool,
    calls: mpsc::UnboundedSender<Call>,
    stop: watch::Sender<bool>,
}

/// A running emulator for one invocation.
pub struct Emulator {
    pub addr: SocketAddr,
    pub calls: mpsc::UnboundedReceiver<Call>,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

/// The deadline the emulator hands out: the function's timeout in `template.yaml` is far above
/// what a cold start takes; 30 s is API Gateway's own limit.
const DEADLINE: Duration = Duration::from_secs(30);

impl Emulator {
    /// Starts on `127.0.0.1:0`, ready to hand `payload` to `function` as request `request_id`.
    pub async fn start(
        function: &str,
        payload: Bytes,
        request_id: String,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            payload,
            request_id,
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
            served: AtomicBool::new(false),
            calls: tx,
            stop,
        });
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let mut stopped = shared.stop.subscribe();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
        Ok(Self {
            addr,
            calls: rx,
            shared,
            server,
        })
    }

    /// Releases a parked `next` and stops serving.
    pub fn stop(self) {
        let _ = self.shared.stop.send(true);
        self.server.abort();
    }
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    if s.served.swap(true, Ordering::SeqCst) {
        // The one invocation is out: park like a frozen sandbox until the run ends.
        let mut stopped = s.stop.subscribe();
        let _ = stopped.wait_for(|v| *v).await;
        return StatusCode::GONE.into_response();
    }
    let _ = s.calls.send(Call::Next(Instant::now()));
    let deadline_ms = (SystemTime::now() + DEADLINE)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", s.request_id.as_str())
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            s.function_arn.as_str(),
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        )
        .body(Body::from(s.payload.clone()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

async fn response(State(s): State<Arc<Shared>>, Path(_id): Path<String>, body: Bytes) -> Response {
    let _ = s.calls.send(Call::Response(Instant::now(), body));
    accepted()
}

async fn error(State(s): State<Arc<Shared>>, Path(_id): Path<String>, body: Bytes) -> Response {
    let _ = s.calls.send(Call::Error(body));
    accepted()
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let _ = s.calls.send(Call::InitError(body));
    accepted()
}
