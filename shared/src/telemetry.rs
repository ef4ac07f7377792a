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
            .flatten_event(true)
            .without_time()
            .try_init()
    } else {
        builder.compact().try_init()
    };
}
