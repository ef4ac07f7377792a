//! The queue port, shaped like SQS: producers `send`; the webhooks function's event source (Lambda
//! in AWS, the local server's poller here) `receive`s, `delete`s what succeeded and lets the rest
//! come back after their visibility timeout, which the handler may change per message to space
//! retries out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// SQS failed the call (classified: see [`crate::fault`]).
    #[error(transparent)]
    Service(#[from] crate::fault::ServiceError),
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
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError>;
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

struct Slot {
    message: Received,
    visible_at: Instant,
    receipt: Option<String>,
}

/// In-process queue with SQS's visibility semantics, for the embedded default and tests.
pub struct MemoryQueue {
    slots: Mutex<Vec<Slot>>,
    notify: tokio::sync::Notify,
    visibility: Duration,
}

impl MemoryQueue {
    pub fn new(visibility: Duration) -> Self {
        Self {
            slots: Mutex::new(Vec::new()),
            notify: tokio::sync::Notify::new(),
            visibility,
        }
    }

    /// Bodies of every message still queued (visible or not).
    pub fn bodies(&self) -> Vec<String> {
        self.lock().iter().map(|s| s.message.body.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_visible(&self, max: usize) -> Vec<Received> {
        let now = Instant::now();
        let mut out = Vec::new();
        for slot in self.lock().iter_mut() {
            if out.len() == max {
                break;
            }
            if slot.visible_at <= now {
                slot.message.receive_count += 1;
                let receipt = format!("{}#{}", slot.message.message_id, slot.message.receive_count);
                slot.receipt = Some(receipt.clone());
                slot.visible_at = now + self.visibility;
                let mut m = slot.message.clone();
                m.receipt_handle = receipt;
                out.push(m);
            }
        }
        out
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError> {
        let id = format!("msg-{}", crate::ids::random_suffix());
        self.lock().push(Slot {
            message: Received {
                message_id: id.clone(),
                receipt_handle: String::new(),
                body: body.to_owned(),
                receive_count: 0,
                attributes: attributes
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            },
            visible_at: Instant::now(),
            receipt: None,
        });
        self.notify.notify_waiters();
        Ok(id)
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            let got = self.take_visible(max);
            if !got.is_empty() {
                return Ok(got);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(got);
            }
            // Wake on a new message, or soon enough to see one whose visibility ran out.
            let next_visible = self
                .lock()
                .iter()
                .map(|s| s.visible_at)
                .min()
                .unwrap_or(deadline)
                .clamp(now, deadline);
            let _ = tokio::time::timeout(
                next_visible
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(5)),
                notified,
            )
            .await;
        }
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut slots = self.lock();
        let before = slots.len();
        slots.retain(|s| s.receipt.as_deref() != Some(receipt_handle));
        if slots.len() == before {
            return Err(QueueError::UnknownReceipt);
        }
        Ok(())
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        seconds: u32,
    ) -> Result<(), QueueError> {
        let mut slots = self.lock();
        let slot = slots
            .iter_mut()
            .find(|s| s.receipt.as_deref() == Some(receipt_handle))
            .ok_or(QueueError::UnknownReceipt)?;
        slot.visible_at = Instant::now() + Duration::from_secs(seconds.into());
        drop(slots);
        self.notify.notify_waiters();
        Ok(())
    }
}

/// SQS adapter.
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
    pub fn url(&self) -> &str {
        &self.url
    }
}

fn sqs_err<E>(op: &'static str, url: &str, e: aws_sdk_sqs::error::SdkError<E>) -> QueueError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    QueueError::Service(crate::aws::service_error(
        crate::fault::Service::Sqs,
        op,
        url,
        e,
    ))
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str, attributes: &[(&str, &str)]) -> Result<String, QueueError> {
        use aws_sdk_sqs::types::MessageAttributeValue;
        let mut req = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        for (k, v) in attributes {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(*v)
                .build()
                .map_err(|_| QueueError::Refused("a message attribute could not be built"))?;
            req = req.message_attributes(*k, attr);
        }
        let out = req
            .send()
            .await
            .map_err(|e| sqs_err("SendMessage", &self.url, e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        use aws_sdk_sqs::types::MessageSystemAttributeName;
        let wait_secs = wait.as_secs().min(20);
        // A long poll waits on purpose: its attempt may last the wait plus the usual bound.
        let long_poll = aws_sdk_sqs::config::Builder::default().timeout_config(
            aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(
                    Duration::from_secs(wait_secs) + crate::aws::ATTEMPT_TIMEOUT,
                )
                .operation_timeout(Duration::from_secs(wait_secs) + crate::aws::OPERATION_TIMEOUT)
                .build(),
        );
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait_secs as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .customize()
            .config_override(long_poll)
            .send()
            .await
            .map_err(|e| sqs_err("ReceiveMessage", &self.url, e))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
                attributes: m
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .filter_map(|(k, v)| {
                                v.string_value().map(|s| (k.clone(), s.to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sqs_err("DeleteMessage", &self.url, e))
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        seconds: u32,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds.min(43_200) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sqs_err("ChangeMessageVisibility", &self.url, e))
    }

    async fn probe(&self) -> Result<(), QueueError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sqs_err("GetQueueAttributes", &self.url, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_queue_redelivers_after_visibility_and_counts_receives() {
        let q = MemoryQueue::new(Duration::from_millis(0));
        q.send("a", &[("reason", "x")]).await.unwrap();
        let first = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].receive_count, 1);
        assert_eq!(first[0].attributes["reason"], "x");
        let second = q.receive(10, Duration::from_millis(100)).await.unwrap();
        assert_eq!(second[0].receive_count, 2);
        assert!(
            q.delete(&first[0].receipt_handle).await.is_err(),
            "old receipt is stale"
        );
        q.delete(&second[0].receipt_handle).await.unwrap();
        assert!(q.bodies().is_empty());
    }

    #[tokio::test]
    async fn invisible_messages_are_not_received_until_visible() {
        let q = MemoryQueue::new(Duration::from_secs(60));
        q.send("a", &[]).await.unwrap();
        let got = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 1);
        assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
        q.change_visibility(&got[0].receipt_handle, 0)
            .await
            .unwrap();
        assert_eq!(q.receive(10, Duration::ZERO).await.unwrap().len(), 1);
    }
}
