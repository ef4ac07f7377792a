//! Lambda's SQS event source mapping, in process: batches of up to 10, partial batch failures,
//! redelivery after the visibility timeout (which the handler sets per message to space its
//! retries), and SQS's redrive: a message received more than `maxReceiveCount` times goes to the
//! dead-letter queue (the in-memory queue and the stack's plain queues have no redrive policy of
//! their own).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use keygate_core::ports::queue::Received;
use keygate_webhooks::Webhooks;

/// The DLQ `reason` of a message that exhausted its receives.
pub const EXHAUSTED: &str = "max_receive_count";

/// Polls until the task is dropped, invoking the handler with `state` (built once, like a Lambda
/// cold start). Queue errors are logged and retried with a pause.
pub async fn run(state: Webhooks) {
    loop {
        match state
            .queues
            .events
            .receive(10, Duration::from_secs(10))
            .await
        {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => {
                deliver(&state, batch).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "event source: receive failed");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// One invocation of the webhooks handler on a batch; deletes what it settled and returns the
/// handler's answer.
pub async fn deliver(state: &Webhooks, batch: Vec<Received>) -> SqsBatchResponse {
    let batch = redrive(state, batch).await;
    if batch.is_empty() {
        return SqsBatchResponse::default();
    }
    let resp = keygate_webhooks::handle_batch(state, to_event(&batch)).await;
    let failed: HashSet<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    for m in &batch {
        if !failed.contains(m.message_id.as_str()) {
            if let Err(e) = state.queues.events.delete(&m.receipt_handle).await {
                tracing::warn!(error = %e, message_id = %m.message_id, "event source: delete failed");
            }
        }
    }
    resp
}

/// SQS's redrive policy: messages past `maxReceiveCount` go to the DLQ instead of the handler.
async fn redrive(state: &Webhooks, batch: Vec<Received>) -> Vec<Received> {
    let max = state.settings.queue_max_receives;
    let mut keep = Vec::with_capacity(batch.len());
    for m in batch {
        if m.receive_count <= max {
            keep.push(m);
            continue;
        }
        let queues = &state.queues;
        // As SQS's redrive does: the message with its attributes, plus why.
        let mut attrs: Vec<(&str, &str)> = m
            .attributes
            .iter()
            .filter(|(k, _)| k.as_str() != "reason")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        attrs.push(("reason", EXHAUSTED));
        match queues.dead_letters.send(&m.body, &attrs).await {
            Ok(_) => {
                tracing::warn!(message_id = %m.message_id, receives = m.receive_count, "event source: dead-lettered after its last receive");
                if let Err(e) = queues.events.delete(&m.receipt_handle).await {
                    tracing::warn!(error = %e, message_id = %m.message_id, "event source: delete failed");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, message_id = %m.message_id, "event source: dead-letter failed")
            }
        }
    }
    keep
}

/// The batch as Lambda would pass it.
pub fn to_event(batch: &[Received]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = batch.iter().map(to_record).collect();
    event
}

fn to_record(m: &Received) -> SqsMessage {
    let mut r = SqsMessage::default();
    r.message_id = Some(m.message_id.clone());
    r.receipt_handle = Some(m.receipt_handle.clone());
    r.body = Some(m.body.clone());
    r.message_attributes = m
        .attributes
        .iter()
        .map(|(k, v)| {
            let mut a = aws_lambda_events::sqs::SqsMessageAttribute::default();
            a.string_value = Some(v.clone());
            a.data_type = Some("String".to_owned());
            (k.clone(), a)
        })
        .collect();
    r.attributes = HashMap::from([(
        "ApproximateReceiveCount".to_owned(),
        m.receive_count.to_string(),
    )]);
    r.event_source = Some("aws:sqs".to_owned());
    r
}
