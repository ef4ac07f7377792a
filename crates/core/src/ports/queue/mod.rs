//! The queue port, shaped like SQS: producers `send`; the webhooks function's event source (Lambda
//! in AWS, the local server's poller here) `receive`s, `delete`s what succeeded and lets the rest
//! come back after their visibility timeout, which the handler may change per message to space
//! retries out.

pub mod memory;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryQueue;

/// The longest delay a message can be sent with (SQS: 15 minutes).
pub const MAX_SEND_DELAY: u32 = 900;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// SQS failed the call (classified: see [`crate::kernel::fault`]).
    #[error(transparent)]
    Service(#[from] crate::kernel::fault::ServiceError),
    #[error("unknown receipt handle")]
    UnknownReceipt,
    /// The queue's URL was not configured: the variable is named.
    #[error("{0} is not set")]
    Unconfigured(&'static str),
    /// A message the adapter will not send (an attribute SQS would refuse): a bug.
    #[error("refused: {0}")]
    Refused(&'static str),
}

impl QueueError {
    /// An outage or throttling of the queue: retry later.
    pub fn is_transient(&self) -> bool {
        matches!(self, QueueError::Service(e) if e.is_transient())
    }
}

/// A message as a consumer sees it.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// 1 on first delivery.
    pub receive_count: u32,
    pub attributes: HashMap<String, String>,
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Enqueues a message with string message attributes; returns its id.
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError> {
        self.send_delayed(body, attributes, 0).await
    }
    /// [`Queue::send`], the message received no sooner than `delay_seconds` from now (SQS's
    /// `DelaySeconds`, at most [`MAX_SEND_DELAY`]: longer is clamped).
    async fn send_delayed(
        &self,
        body: &str,
        attributes: &[(&str, &str)],
        delay_seconds: u32,
    ) -> Result<String, QueueError>;
    /// Up to `max` visible messages, waiting up to `wait` for the first.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError>;
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;
    /// Hides the message for `seconds` more from now.
    async fn change_visibility(&self, receipt_handle: &str, seconds: u32)
        -> Result<(), QueueError>;
    /// Checks that the queue exists and answers, without touching its messages.
    async fn probe(&self) -> Result<(), QueueError> {
        Ok(())
    }
}

/// Moves every message of `from` to `to`, with its attributes (a redrive done message by
/// message: receive, send, then delete — a crash between the two leaves a copy in both, which
/// the delivery ledger makes harmless). Returns how many moved. For queues without SQS's
/// `StartMessageMoveTask` (the in-memory twin, an emulator that lacks it).
pub async fn move_all(from: &dyn Queue, to: &dyn Queue) -> Result<usize, QueueError> {
    let mut moved = 0;
    loop {
        let batch = from.receive(10, Duration::ZERO).await?;
        if batch.is_empty() {
            return Ok(moved);
        }
        for m in batch {
            let attrs: Vec<(&str, &str)> = m
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            to.send(&m.body, &attrs).await?;
            from.delete(&m.receipt_handle).await?;
            moved += 1;
        }
    }
}
