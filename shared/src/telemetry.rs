//! Tracing, set up once per process: JSON lines in Lambda (CloudWatch reads them), compact text
//! locally. `RUST_LOG` filters.

/// Installs the global subscriber; a second call is a no-op.
pub fn init() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok()
        || std::env::var("KEYGATE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            // The runtime's invocation span carries the Lambda `requestId`; the list keeps it beside
            // the request span (route, account).
            .with_span_list(true)
            .flatten_event(true)
            .without_time()
            .try_init()
    } else {
        builder.compact().try_init()
    };
}

/// Runs one HTTP request inside a `request` span (function, method, route; the account once
/// known) and logs its outcome. The query string is never logged: it can carry tokens.
pub async fn observe<F>(
    function: &'static str,
    method: &str,
    path: &str,
    fut: F,
) -> lambda_http::Response<lambda_http::Body>
where
    F: std::future::Future<Output = lambda_http::Response<lambda_http::Body>>,
{
    use tracing::Instrument;
    let span = tracing::info_span!(
        "request",
        function,
        method = %method,
        route = %path,
        account = tracing::field::Empty,
    );
    async move {
        let resp = fut.await;
        tracing::info!(status = resp.status().as_u16(), "response");
        resp
    }
    .instrument(span)
    .await
}

/// Records the authenticated account on the current request span.
pub fn record_account(account: &str) {
    tracing::Span::current().record("account", account);
}
