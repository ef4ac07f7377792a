//! The in-memory twin of the SQS queue (`keygate_aws::SqsQueue`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Queue, QueueError, Received};

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
    async fn send_delayed(
        &self,
        body: &str,
        attributes: &[(&str, &str)],
        delay_seconds: u32,
    ) -> Result<String, QueueError> {
        let delay = Duration::from_secs(delay_seconds.min(super::MAX_SEND_DELAY).into());
        let id = format!("msg-{}", crate::kernel::ids::random_suffix());
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
            visible_at: Instant::now() + delay,
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
