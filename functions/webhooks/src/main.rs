//! `keygate-webhooks` Lambda: SQS batches in, partial batch failures out. Its state (the ports,
//! the queues, one HTTP client) is built once per cold start and lent to every invocation.

keygate_http::event_main!(
    "keygate-webhooks",
    aws_lambda_events::sqs::SqsEvent,
    keygate_webhooks::Webhooks::start,
    keygate_webhooks::handle_batch
);
