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
