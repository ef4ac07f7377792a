//! The SQS adapter of [`Queue`]. Every SDK error is classified ([`keygate_core::kernel::fault`]); a long
//! poll gets an attempt timeout of its own wait plus the usual bound.

use std::time::Duration;

use async_trait::async_trait;

use keygate_core::ports::queue::{Queue, QueueError, Received};

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
    QueueError::Service(crate::sdk::service_error(
        keygate_core::kernel::fault::Service::Sqs,
        op,
        url,
        e,
    ))
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send_delayed(
        &self,
        body: &str,
        attributes: &[(&str, &str)],
        delay_seconds: u32,
    ) -> Result<String, QueueError> {
        use aws_sdk_sqs::types::MessageAttributeValue;
        let delay = delay_seconds.min(keygate_core::ports::queue::MAX_SEND_DELAY);
        let mut req = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        if delay > 0 {
            req = req.delay_seconds(delay as i32);
        }
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
                    Duration::from_secs(wait_secs) + crate::sdk::ATTEMPT_TIMEOUT,
                )
                .operation_timeout(Duration::from_secs(wait_secs) + crate::sdk::OPERATION_TIMEOUT)
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

/// What `keygate-admin redrive` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redrive {
    /// SQS moves the messages itself (`StartMessageMoveTask`); its handle.
    Task(String),
    /// The service has no message move task (an emulator): moved one by one.
    Copied(usize),
}

impl SqsQueue {
    /// The queue's ARN (`GetQueueAttributes`).
    pub async fn arn(&self) -> Result<String, QueueError> {
        use aws_sdk_sqs::types::QueueAttributeName;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sqs_err("GetQueueAttributes", &self.url, e))?;
        out.attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or(QueueError::Refused("the queue has no ARN"))
    }

    /// Moves the dead-letter queue (`self`) back to `events` with SQS's message move task; where
    /// the service does not implement it (moto 5 answers `StartMessageMoveTask` with a 500 page:
    /// "has not been implemented"), message by message instead
    /// ([`keygate_core::ports::queue::move_all`]). Either way a message keeps its attributes, and
    /// the delivery ledger keeps it from reaching an endpoint that already took it.
    pub async fn redrive_to(&self, events: &SqsQueue) -> Result<Redrive, QueueError> {
        let (source, destination) = (self.arn().await?, events.arn().await?);
        let started = self
            .client
            .start_message_move_task()
            .source_arn(&source)
            .destination_arn(&destination)
            .send()
            .await;
        match started {
            Ok(out) => Ok(Redrive::Task(
                out.task_handle().unwrap_or_default().to_owned(),
            )),
            Err(e) if not_implemented(&e) => {
                tracing::info!(
                    "StartMessageMoveTask is not implemented here: moving message by message"
                );
                let moved = keygate_core::ports::queue::move_all(self, events).await?;
                Ok(Redrive::Copied(moved))
            }
            Err(e) => Err(sqs_err("StartMessageMoveTask", &self.url, e)),
        }
    }
}

/// Whether a call failed because the service does not implement it (an emulator), rather than
/// for a reason a fallback must not paper over (a task already running, no permission).
fn not_implemented<E: aws_sdk_sqs::error::ProvideErrorMetadata>(
    e: &aws_sdk_sqs::error::SdkError<E>,
) -> bool {
    use aws_sdk_sqs::error::ProvideErrorMetadata;
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().unwrap_or_default().to_ascii_lowercase();
    let message = e.message().unwrap_or_default().to_ascii_lowercase();
    // moto raises NotImplementedError for the action: a 500 with an HTML page, no SQS error
    // document (real SQS always answers one, with a code).
    let html_500 = status == Some(500)
        && e.code().is_none()
        && e.raw_response()
            .and_then(|r| r.body().bytes())
            .is_some_and(|b| {
                String::from_utf8_lossy(b)
                    .to_ascii_lowercase()
                    .contains("<html")
            });
    status == Some(501)
        || html_500
        || [
            "notimplemented",
            "invalidaction",
            "unknownoperation",
            "unsupportedoperation",
        ]
        .iter()
        .any(|c| code.contains(c))
        || message.contains("not yet implemented")
        || message.contains("not implemented")
}
