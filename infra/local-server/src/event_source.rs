//! Lambda's SQS event source mapping, in process: batches of up to 10, partial batch failures,
//! redelivery after the visibility timeout.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use keygate::queue::Received;
use keygate::Services;

/// Polls until the task is dropped. Queue errors are logged and retried with a pause.
pub async fn run(services: Services) {
    loop {
        match services.queue.receive(10, Duration::from_secs(10)).await {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => deliver(&services, batch).await,
            Err(e) => {
                tracing::warn!(error = %e, "event source: receive failed");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// One invocation of the webhooks handler on a batch; deletes what it settled.
pub async fn deliver(services: &Services, batch: Vec<Received>) {
    let records = batch.iter().map(to_record).collect();
    let mut event = SqsEvent::default();
    event.records = records;
    let resp = keygate_webhooks::handle_batch(services, event).await;
    let failed: HashSet<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    for m in &batch {
        if !failed.contains(m.message_id.as_str()) {
            if let Err(e) = services.queue.delete(&m.receipt_handle).await {
                tracing::warn!(error = %e, message_id = %m.message_id, "event source: delete failed");
            }
        }
    }
}

fn to_record(m: &Received) -> SqsMessage {
    let mut r = SqsMessage::default();
    r.message_id = Some(m.message_id.clone());
    r.receipt_handle = Some(m.receipt_handle.clone());
    r.body = Some(m.body.clone());
    r.attributes = HashMap::from([(
        "ApproximateReceiveCount".to_owned(),
        m.receive_count.to_string(),
    )]);
    r.event_source = Some("aws:sqs".to_owned());
    r
}
