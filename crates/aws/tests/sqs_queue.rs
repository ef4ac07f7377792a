//! The SQS adapter against moto: send, receive with counts and attributes, visibility, delete.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use keygate_aws::testing::Stack;
use keygate_aws::SqsQueue;
use keygate_core::ports::queue::Queue;

#[tokio::test]
async fn sqs_queue_round_trip_with_visibility_and_redelivery() {
    let stack = Stack::get();
    let q = SqsQueue::new(stack.sqs().await, stack.fresh_queue("kg-test-q").await);
    q.probe().await.expect("queue exists");
    q.send("hello", &[("reason", "because")]).await.unwrap();

    let first = q.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].body, "hello");
    assert_eq!(first[0].receive_count, 1);
    assert_eq!(first[0].attributes["reason"], "because");

    q.change_visibility(&first[0].receipt_handle, 0)
        .await
        .unwrap();
    let second = q.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(second.len(), 1, "visible again at once");
    assert_eq!(second[0].receive_count, 2);

    q.delete(&second[0].receipt_handle).await.unwrap();
    q.change_visibility(&second[0].receipt_handle, 0).await.ok();
    assert!(
        q.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "deleted for good"
    );
}

#[tokio::test]
async fn a_missing_queue_fails_the_probe() {
    let stack = Stack::get();
    let url = stack
        .var("KEYGATE_QUEUE_URL")
        .replace("keygate-events", "no-such-queue");
    let q = SqsQueue::new(stack.sqs().await, url);
    assert!(q.probe().await.is_err());
}

/// `keygate-admin redrive`: the dead-letter queue back to the events queue, every message with
/// its attributes — by SQS's message move task, or, where the service has none (moto), one by
/// one.
#[tokio::test]
async fn the_dead_letter_queue_is_redriven_with_its_attributes() {
    let stack = Stack::get();
    let sqs = stack.sqs().await;
    let dlq = SqsQueue::new(sqs.clone(), stack.fresh_queue("kg-test-dlq").await);
    let events = SqsQueue::new(sqs, stack.fresh_queue("kg-test-events").await);
    for i in 0..3 {
        dlq.send(
            &format!("event {i}"),
            &[("reason", "exhausted"), ("keygate-endpoint", "ep_x")],
        )
        .await
        .unwrap();
    }
    let how = dlq.redrive_to(&events).await.unwrap();
    eprintln!("redrive on this SQS: {how:?}");
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while got.len() < 3 && std::time::Instant::now() < deadline {
        // A move task moves in the background: a long poll waits for what it moved.
        got.extend(events.receive(10, Duration::from_secs(2)).await.unwrap());
    }
    let mut bodies: Vec<&str> = got.iter().map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["event 0", "event 1", "event 2"]);
    assert!(got.iter().all(
        |m| m.attributes["keygate-endpoint"] == "ep_x" && m.attributes["reason"] == "exhausted"
    ));
    assert!(
        dlq.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "the dead-letter queue is empty"
    );
}
