//! The webhooks function's state, built once per cold start: its settings (from the
//! environment), the ports, the SSRF-guarded delivery client and the callback tokens' cache.

use std::sync::Arc;
use std::time::Duration;

use keygate_core::kernel::config::ConfigError;
use keygate_core::ports::services::Queues;
use keygate_core::Services;

use crate::{callback_tokens, ssrf};

/// The webhooks function's own settings (the shared `Config` holds what every function reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Whole-request timeout of one send (docs/EVENTS.md: 10 s).
    pub timeout: Duration,
    /// An endpoint whose every delivery failed for this long is disabled
    /// (`KEYGATE_WEBHOOK_DISABLE_AFTER_SECONDS`, default 5 days).
    pub disable_after: i64,
    /// Tries of one delivery round at one endpoint (`KEYGATE_WEBHOOK_MAX_RECEIVES`, default 8):
    /// the message fails its last one, it goes to the DLQ for that endpoint
    /// (`CALLBACK_DELIVERY_EXHAUSTED`). Counted from the attempts recorded, so a delivery that
    /// waited its turn (`rateLimit`) spends none.
    pub max_receives: u32,
    /// The queue's own `maxReceiveCount`, a backstop above [`Settings::max_receives`] (waiting
    /// turns are receives too): the local server's event source dead-letters past it as SQS
    /// would (`KEYGATE_WEBHOOK_QUEUE_MAX_RECEIVES`, default 50, as the template).
    pub queue_max_receives: u32,
    /// Most sends in flight at once per invocation (`KEYGATE_WEBHOOK_CONCURRENCY`, default 64).
    pub concurrency: usize,
}

pub const DEFAULT_DISABLE_AFTER_SECONDS: i64 = 5 * 24 * 3600;

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            disable_after: DEFAULT_DISABLE_AFTER_SECONDS,
            max_receives: 8,
            queue_max_receives: 50,
            concurrency: 64,
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let num = |name: &'static str, default: i64, min: i64, max: i64| {
            keygate_core::kernel::config::bounded(&get, name, default, min, max)
        };
        Ok(Self {
            timeout: d.timeout,
            disable_after: num(
                "KEYGATE_WEBHOOK_DISABLE_AFTER_SECONDS",
                d.disable_after,
                60,
                90 * 24 * 3600,
            )?,
            max_receives: num("KEYGATE_WEBHOOK_MAX_RECEIVES", 8, 1, 1000)? as u32,
            queue_max_receives: num("KEYGATE_WEBHOOK_QUEUE_MAX_RECEIVES", 50, 1, 1000)? as u32,
            concurrency: num("KEYGATE_WEBHOOK_CONCURRENCY", 64, 1, 1000)? as usize,
        })
    }
}

/// Why the function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The handler's state, built once per cold start: the ports, one HTTP client (its connection
/// pool reused across invocations) and the settings. Cheap to clone (reference-counted inside).
#[derive(Clone)]
pub struct Webhooks {
    pub services: Services,
    /// The events queue (visibility of retried messages) and the dead-letter queue.
    pub queues: Queues,
    pub client: reqwest::Client,
    /// OAuth 2.0 callbacks' tokens, shared by the instance's concurrent deliveries.
    pub tokens: Arc<callback_tokens::Tokens>,
    pub settings: Settings,
}

impl Webhooks {
    pub fn new(services: Services, queues: Queues, settings: Settings) -> Result<Self, StartError> {
        let client = client(&settings, services.config.local_mode)?;
        Ok(Self {
            services,
            queues,
            client,
            tokens: Arc::default(),
            settings,
        })
    }

    /// The settings from the environment.
    pub fn from_env(services: Services, queues: Queues) -> Result<Self, StartError> {
        Self::new(services, queues, Settings::from_env()?)
    }

    /// The Lambda's cold start: the queues the environment names, the settings, the client.
    pub async fn start(services: Services) -> Result<Self, StartError> {
        let queues = keygate_aws::queues_from_config(&services.config).await;
        Self::from_env(services, queues)
    }
}

/// The delivery client: the SSRF-guarded client ([`ssrf::guarded_builder`]: rustls, no
/// redirects, no proxy, the guarded resolver) with the send timeout.
pub fn client(settings: &Settings, local_mode: bool) -> Result<reqwest::Client, reqwest::Error> {
    ssrf::guarded_builder(local_mode)
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .user_agent(concat!("keygate-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}
