//! The functions' `main`s: logging set up and the services built once per cold start
//! (`keygate_aws::start`, which the function's crate depends on), then lent to every request or
//! event. A bad configuration is one line and exit status 1.

/// The `main` of an HTTP function: its services once per cold start, lent to every request.
#[macro_export]
macro_rules! http_main {
    ($name:literal, $handle:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_http::Error> {
            $crate::telemetry::init();
            let services = ::keygate_aws::start::start($name).await;
            let services = &services;
            lambda_http::run(lambda_http::service_fn(move |req| $handle(services, req))).await
        }
    };
}

/// The `main` of an event function (`lambda_runtime`): its state built once per cold start from
/// the services (`$build`, fallible: one line and exit 1), lent to every invocation of
/// `$handle(&state, event) -> response`.
#[macro_export]
macro_rules! event_main {
    ($name:literal, $event:ty, $build:expr, $handle:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_runtime::Error> {
            $crate::telemetry::init();
            let services = ::keygate_aws::start::start($name).await;
            let state = ::keygate_aws::start::or_exit($name, $build(services).await);
            let state = &state;
            lambda_runtime::run(lambda_runtime::service_fn(
                move |event: lambda_runtime::LambdaEvent<$event>| async move {
                    Ok::<_, std::convert::Infallible>($handle(state, event.payload).await)
                },
            ))
            .await
        }
    };
}
