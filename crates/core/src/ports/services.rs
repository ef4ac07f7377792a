//! The ports a function runs on, built once per cold start: [`Services`] (configuration, the
//! table, the keys, the clock) for every function, and [`Queues`] (the events queue and its
//! dead-letter queue) only for the webhooks function and the local server, which use them.
//! Their in-memory twins are built here; the AWS adapters (and the cold start that reads the
//! environment) are `keygate_aws::start`'s.

use std::sync::Arc;
use std::time::Duration;

use crate::kernel::clock::{Clock, UnixSeconds};
use crate::kernel::config::Config;
use crate::ports::keys::Keys;
use crate::ports::queue::{MemoryQueue, Queue};
use crate::ports::store::{MemoryTable, Table};

/// What every function uses.
#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub table: Arc<dyn Table>,
    pub keys: Arc<Keys>,
    pub clock: Arc<dyn Clock>,
    /// The events queue, for the one HTTP function that enqueues onto it: `client-apps` sends
    /// resends, recoveries and operational events there (`KEYGATE_QUEUE_URL`, send only).
    /// `None` where the function has no business with it; a route that needs it then answers
    /// `503` naming the variable.
    pub events: Option<Arc<dyn Queue>>,
    /// Where OAuth clients' published keys (`jwksUri`) are fetched from and cached. `None`: the
    /// instance's own, through the SSRF guard (`keygate_http::jwks::remote`), which is what a
    /// deployment uses; tests put theirs here (a resolver that pins a name to an address).
    pub jwks: Option<Arc<crate::ports::jwks::RemoteJwks>>,
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
    /// In-process queues (the embedded default and tests).
    pub fn in_memory() -> Self {
        Self {
            events: Arc::new(MemoryQueue::new(Duration::from_secs(30))),
            dead_letters: Arc::new(MemoryQueue::new(Duration::from_secs(30))),
        }
    }
}

impl Services {
    /// In-memory adapters, fresh signing keys, and `clock`.
    pub async fn in_memory(config: Config, clock: Arc<dyn Clock>) -> Self {
        let read_cache = config.read_cache;
        let now = clock.now();
        Self {
            config: Arc::new(config),
            table: cached(Arc::new(MemoryTable::new()), read_cache),
            keys: Arc::new(Keys::generated(now).await),
            clock,
            events: None,
            jwks: None,
        }
    }

    pub fn now(&self) -> UnixSeconds {
        self.clock.now()
    }
}

/// `table` behind the instance's read cache ([`crate::ports::store::CachedTable`]) unless `ttl` is zero.
pub fn cached(table: Arc<dyn Table>, ttl: Duration) -> Arc<dyn Table> {
    if ttl.is_zero() {
        table
    } else {
        Arc::new(crate::ports::store::CachedTable::new(table, ttl))
    }
}
