//! `keygate-webhooks` Lambda: SQS batches in, partial batch failures out.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let services = keygate::services::start("keygate-webhooks").await;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, std::convert::Infallible>(keygate_webhooks::handle_batch(services, event.payload).await)
    }))
    .await
}
