//! Cold start against AWS: the SDK configuration (explicit timeouts and retries,
//! [`crate::sdk`]) loaded once, and the adapters the configuration names — DynamoDB behind the
//! instance's read cache, Secrets Manager for the signing keys, SQS for the queues — or the
//! in-memory twins on the embedded backend.

use std::sync::Arc;

use keygate_core::kernel::clock::SystemClock;
use keygate_core::kernel::config::{Backend, Config, ConfigError};
use keygate_core::ports::keys::{KeyError, Keys};
use keygate_core::ports::queue::{Queue, QueueError, Received};
use keygate_core::ports::services::{cached, Queues, Services};
use keygate_core::ports::store::StoreError;

use crate::{SecretsManagerKeySource, SqsQueue};

pub use aws_config::SdkConfig;
pub use aws_sdk_secretsmanager::Client as SecretsManagerClient;

/// The AWS SDK configuration (region, credentials, `AWS_ENDPOINT_URL_*`), loaded once, with
/// explicit timeouts and retries ([`crate::sdk`]).
pub async fn load_sdk_config() -> SdkConfig {
    crate::sdk::sdk_config().await
}

/// Why a function could not start: printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Queue(#[from] QueueError),
}

/// Reads the environment and builds the adapters it names.
pub async fn services_from_env() -> Result<Services, StartError> {
    services_from_config(Config::from_env()?).await
}

/// The services `config` names: DynamoDB (behind the read cache) and Secrets Manager on the AWS
/// backend, the in-memory twins otherwise.
pub async fn services_from_config(config: Config) -> Result<Services, StartError> {
    let read_cache = config.read_cache;
    match config.backend.clone() {
        Backend::Memory => Ok(Services::in_memory(config, Arc::new(SystemClock)).await),
        Backend::Aws {
            table,
            volatile_table,
            secret_id,
            queue_url,
            ..
        } => {
            let sdk = load_sdk_config().await;
            let ddb = aws_sdk_dynamodb::Client::new(&sdk);
            // The events queue, where the function is given it (client-apps: send only).
            let events = queue_url.map(|u| {
                Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), u)) as Arc<dyn Queue>
            });
            let sm = aws_sdk_secretsmanager::Client::new(&sdk);
            let source = Arc::new(SecretsManagerKeySource::new(sm, secret_id));
            let keys = Keys::load(source, config.key_cache).await?;
            Ok(Services {
                config: Arc::new(config),
                table: cached(crate::tables(ddb, table, volatile_table), read_cache),
                keys: Arc::new(keys),
                clock: Arc::new(SystemClock),
                events,
                jwks: None,
            })
        }
    }
}

/// The queues `config` names: SQS on the AWS backend (a missing URL answers every call with the
/// variable to set), in-memory otherwise.
pub async fn queues_from_config(config: &Config) -> Queues {
    match &config.backend {
        Backend::Memory => Queues::in_memory(),
        Backend::Aws {
            queue_url, dlq_url, ..
        } => {
            let sqs = aws_sdk_sqs::Client::new(&load_sdk_config().await);
            let queue = |url: &Option<String>, var: &'static str| -> Arc<dyn Queue> {
                match url {
                    Some(u) => Arc::new(SqsQueue::new(sqs.clone(), u.clone())),
                    None => Arc::new(Unconfigured(var)),
                }
            };
            Queues {
                events: queue(queue_url, "KEYGATE_QUEUE_URL"),
                dead_letters: queue(dlq_url, "KEYGATE_DLQ_URL"),
            }
        }
    }
}

/// Cold start of a function: the services from the environment. On bad configuration prints
/// one line naming the problem and exits with status 1 (no backtrace).
pub async fn start(function: &str) -> Services {
    or_exit(function, services_from_env().await)
}

/// The value, or one line naming the problem and exit status 1 (a cold start that cannot
/// succeed: no backtrace, nothing half-started).
pub fn or_exit<T, E: std::fmt::Display>(function: &str, r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{function}: cannot start: {e}");
            std::process::exit(1);
        }
    }
}

/// A queue the configuration does not name: every call says which variable to set.
struct Unconfigured(&'static str);

#[async_trait::async_trait]
impl Queue for Unconfigured {
    async fn send_delayed(
        &self,
        _: &str,
        _: &[(&str, &str)],
        _: u32,
    ) -> Result<String, QueueError> {
        Err(self.err())
    }
    async fn receive(&self, _: usize, _: std::time::Duration) -> Result<Vec<Received>, QueueError> {
        Err(self.err())
    }
    async fn delete(&self, _: &str) -> Result<(), QueueError> {
        Err(self.err())
    }
    async fn change_visibility(&self, _: &str, _: u32) -> Result<(), QueueError> {
        Err(self.err())
    }
    async fn probe(&self) -> Result<(), QueueError> {
        Err(self.err())
    }
}

impl Unconfigured {
    fn err(&self) -> QueueError {
        QueueError::Unconfigured(self.0)
    }
}

/// `keygate-admin redrive`: the dead-letter queue `config` names moved back to its events queue
/// ([`crate::sqs::SqsQueue::redrive_to`]).
pub async fn redrive(config: &Config) -> Result<crate::sqs::Redrive, String> {
    let Backend::Aws {
        queue_url: Some(queue),
        dlq_url: Some(dlq),
        ..
    } = &config.backend
    else {
        return Err("KEYGATE_QUEUE_URL and KEYGATE_DLQ_URL must be set (the stack's EventsQueueUrl and EventsDeadLetterQueueUrl)".into());
    };
    let sqs = aws_sdk_sqs::Client::new(&load_sdk_config().await);
    let events = SqsQueue::new(sqs.clone(), queue.clone());
    SqsQueue::new(sqs, dlq.clone())
        .redrive_to(&events)
        .await
        .map_err(|e| e.to_string())
}
