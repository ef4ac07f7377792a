//! The ports a function runs on, built once per cold start.

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

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub table: Arc<dyn Table>,
    pub keys: Arc<Keys>,
    /// The events queue (producers and the local event source).
    pub queue: Arc<dyn Queue>,
    /// The dead-letter queue.
    pub dlq: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
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
                table,
                secret_id,
                queue_url,
                dlq_url,
            } => {
                let sdk = load_sdk_config().await;
                let ddb = aws_sdk_dynamodb::Client::new(&sdk);
                let sm = aws_sdk_secretsmanager::Client::new(&sdk);
                let sqs = aws_sdk_sqs::Client::new(&sdk);
                let source = Arc::new(SecretsManagerKeySource::new(sm, secret_id));
                let keys = Keys::load(source, config.key_cache).await?;
                let queue: Arc<dyn Queue> = match queue_url {
                    Some(u) => Arc::new(SqsQueue::new(sqs.clone(), u)),
                    None => Arc::new(Unconfigured("KEYGATE_QUEUE_URL")),
                };
                let dlq: Arc<dyn Queue> = match dlq_url {
                    Some(u) => Arc::new(SqsQueue::new(sqs, u)),
                    None => Arc::new(Unconfigured("KEYGATE_DLQ_URL")),
                };
                Ok(Self {
                    config: Arc::new(config),
                    table: cached(Arc::new(DynamoDbTable::new(ddb, table)), read_cache),
                    keys: Arc::new(keys),
                    queue,
                    dlq,
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
            queue: Arc::new(MemoryQueue::new(Duration::from_secs(30))),
            dlq: Arc::new(MemoryQueue::new(Duration::from_secs(30))),
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
    match Services::from_env().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{function}: cannot start: {e}");
            std::process::exit(1);
        }
    }
}
