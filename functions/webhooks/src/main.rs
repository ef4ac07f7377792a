//! `keygate-webhooks` Lambda: SQS batches in, partial batch failures out. Builds its state (the
//! ports, one HTTP client) once per cold start and lends it to every invocation.

use aws_lambda_events::sqs::SqsEvent;
use keygate_webhooks::Webhooks;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let services = keygate::services::start("keygate-webhooks").await;
    let state = match Webhooks::from_env(services) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("keygate-webhooks: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, std::convert::Infallible>(
            keygate_webhooks::handle_batch(state, event.payload).await,
        )
    }))
    .await
}
