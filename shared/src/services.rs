//! The ports a function runs on, built once per cold start: [`Services`] (configuration, the
//! table, the keys, the clock) for every function, and [`Queues`] (the events queue and its
//! dead-letter queue) only for the webhooks function and the local server, which use them.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock, UnixSeconds};
use crate::config::{Backend, Config, ConfigError};
use crate::keys::{KeyError, Keys, SecretsManagerKeySource};
use crate::queue::{MemoryQueue, Queue, SqsQueue};
use crate::store::{DynamoDbTable, MemoryTable, StoreError, Table};

pub use aws_config::SdkConfig;
pub use aws_sdk_secretsmanager::Client as SecretsManagerClient;

/// The AWS SDK configuration (region, credentials, `AWS_ENDPOINT_URL_*`), loaded once, with
/// explicit timeouts and retries ([`crate::aws`]).
pub async fn load_sdk_config() -> SdkConfig {
    crate::aws::sdk_config().await
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
    Queue(#[from] crate::queue::QueueError),
}

/// What every function uses.
#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub table: Arc<dyn Table>,
    pub keys: Arc<Keys>,
    pub clock: Arc<dyn Clock>,
}

/// The queues: only the webhooks function (and the local server, which feeds it and takes the
/// producers' enqueues) gets them.
#[derive(Clone)]
pub struct Queues {
    /// The events queue (producers, and the event source that feeds the webhooks function).
    pub events: Arc<dyn Queue>,
    /// The dead-letter queue.
    pub dead_letters: Arc<dyn Queue>,
}

impl Queues {
    /// The queues `config` names: SQS on the AWS backend (a missing URL answers every call with
    /// the variable to set), in-memory otherwise.
    pub async fn from_config(config: &Config) -> Self {
        match &config.backend {
            Backend::Memory => Self::in_memory(),
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
                Self {
                    events: queue(queue_url, "KEYGATE_QUEUE_URL"),
                    dead_letters: queue(dlq_url, "KEYGATE_DLQ_URL"),
                }
            }
        }
    }

    pub fn in_memory() -> Self {
        Self {
            events: Arc::new(MemoryQueue::new(Duration::from_secs(30))),
            dead_letters: Arc::new(MemoryQueue::new(Duration::from_secs(30))),
        }
    }
}

impl Services {
    /// Reads the environment and builds the adapters it names.
    pub async fn from_env() -> Result<Self, StartError> {
        Self::from_config(Config::from_env()?).await
    }

    pub async fn from_config(config: Config) -> Result<Self, StartError> {
        let read_cache = config.read_cache;
        match config.backend.clone() {
            Backend::Memory => Ok(Self::in_memory(config, Arc::new(SystemClock)).await),
            Backend::Aws {
                table, secret_id, ..
            } => {
                let sdk = load_sdk_config().await;
                let ddb = aws_sdk_dynamodb::Client::new(&sdk);
                let sm = aws_sdk_secretsmanager::Client::new(&sdk);
                let source = Arc::new(SecretsManagerKeySource::new(sm, secret_id));
                let keys = Keys::load(source, config.key_cache).await?;
                Ok(Self {
                    config: Arc::new(config),
                    table: cached(Arc::new(DynamoDbTable::new(ddb, table)), read_cache),
                    keys: Arc::new(keys),
                    clock: Arc::new(SystemClock),
                })
            }
        }
    }

    /// In-memory adapters and freshly generated keys.
    pub async fn in_memory(config: Config, clock: Arc<dyn Clock>) -> Self {
        let read_cache = config.read_cache;
        let now = clock.now();
        Self {
            config: Arc::new(config),
            table: cached(Arc::new(MemoryTable::new()), read_cache),
            keys: Arc::new(Keys::generated(now).await),
            clock,
        }
    }

    pub fn now(&self) -> UnixSeconds {
        self.clock.now()
    }
}

/// The table behind the read cache, unless the cache is off.
fn cached(table: Arc<dyn Table>, ttl: Duration) -> Arc<dyn Table> {
    if ttl.is_zero() {
        table
    } else {
        Arc::new(crate::store::CachedTable::new(table, ttl))
    }
}

/// A queue whose URL was not configured: every call says which variable is missing.
struct Unconfigured(&'static str);

#[async_trait::async_trait]
impl Queue for Unconfigured {
    async fn send(&self, _: &str, _: &[(&str, &str)]) -> Result<String, crate::queue::QueueError> {
        Err(self.err())
    }
    async fn receive(
        &self,
        _: usize,
        _: Duration,
    ) -> Result<Vec<crate::queue::Received>, crate::queue::QueueError> {
        Err(self.err())
    }
    async fn delete(&self, _: &str) -> Result<(), crate::queue::QueueError> {
        Err(self.err())
    }
    async fn change_visibility(&self, _: &str, _: u32) -> Result<(), crate::queue::QueueError> {
        Err(self.err())
    }
    async fn probe(&self) -> Result<(), crate::queue::QueueError> {
        Err(self.err())
    }
}

impl Unconfigured {
    fn err(&self) -> crate::queue::QueueError {
        crate::queue::QueueError::Unconfigured(self.0)
    }
}

/// Cold start of a function: tracing, then the services from the environment. On bad
/// configuration prints one line naming the problem and exits with status 1 (no backtrace).
pub async fn start(function: &str) -> Services {
    crate::telemetry::init();
    or_exit(function, Services::from_env().await)
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

/// The `main` of an HTTP function: its services once per cold start, lent to every request.
#[macro_export]
macro_rules! http_main {
    ($name:literal, $handle:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_http::Error> {
            let services = $crate::services::start($name).await;
            let services = &services;
            lambda_http::run(lambda_http::service_fn(move |req| $handle(services, req))).await
        }
    };
}

/// The `main` of an event function (`lambda_runtime`): its state built once per cold start from
/// the services (`$build`, fallible: one line and exit 1), lent to every invocation of
/// `$handle(&state, event) -> response`.
#[macro_export]
macro_rules! event_main {
    ($name:literal, $event:ty, $build:expr, $handle:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_runtime::Error> {
            let services = $crate::services::start($name).await;
            let state = $crate::services::or_exit($name, $build(services).await);
            let state = &state;
            lambda_runtime::run(lambda_runtime::service_fn(
                move |event: lambda_runtime::LambdaEvent<$event>| async move {
                    Ok::<_, std::convert::Infallible>($handle(state, event.payload).await)
                },
            ))
            .await
        }
    };
}
