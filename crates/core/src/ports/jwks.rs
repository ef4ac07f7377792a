//! The keys an OAuth client publishes at its `jwksUri` (`private_key_jwt`): a port that fetches
//! them ([`FetchJwks`]; the `token` function's adapter goes through the SSRF-guarded HTTP
//! client), and the instance's cache in front of it ([`RemoteJwks`]).
//!
//! The cache follows what `jose`'s remote key sets do (and what oidc-provider relies on): a set
//! is kept [`MAX_AGE`] seconds; an assertion whose `kid` (or key type) is not in the set asks for
//! a fresh copy once ([`RemoteJwks::keys`] with `fresh`), at most every [`COOLDOWN`] seconds per
//! URI, so a stream of made-up `kid`s cannot turn keygate into a fetching machine aimed at the
//! client's host. A failed fetch is remembered for the cooldown too; a failed refresh keeps the
//! copy in hand while it is young enough. Time is the ports' `now`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::kernel::clock::UnixSeconds;

/// How long a fetched key set is used.
pub const MAX_AGE: i64 = 300;
/// The shortest time between two fetches of one URI.
pub const COOLDOWN: i64 = 30;
/// Most URIs kept (the oldest fetched is dropped to make room).
const MAX_ENTRIES: usize = 1024;

/// Why a client's published keys could not be had: a client-safe sentence (it names no
/// address keygate refused to call beyond its class).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub &'static str);

/// Fetches the JWK Set at a `jwksUri`: its keys, each normalised by
/// [`crate::clients::keys::normalise_key`] (keys keygate cannot use are left out), or why not.
#[async_trait::async_trait]
pub trait FetchJwks: Send + Sync {
    async fn fetch(&self, uri: &str) -> Result<Vec<Value>, FetchError>;
}

/// No fetching at all: every `jwksUri` is unavailable (unit tests that need none).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFetch;

#[async_trait::async_trait]
impl FetchJwks for NoFetch {
    async fn fetch(&self, _: &str) -> Result<Vec<Value>, FetchError> {
        Err(FetchError("no jwksUri is fetched here"))
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// The last good copy and when it was fetched.
    keys: Option<(Arc<Vec<Value>>, UnixSeconds)>,
    /// The last fetch, good or not.
    tried_at: UnixSeconds,
    /// Why the last fetch failed, if it did.
    error: Option<FetchError>,
}

/// The instance's cache of published key sets, in front of a [`FetchJwks`].
pub struct RemoteJwks {
    fetcher: Box<dyn FetchJwks>,
    cache: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks").finish_non_exhaustive()
    }
}

impl RemoteJwks {
    pub fn new(fetcher: impl FetchJwks + 'static) -> Self {
        Self {
            fetcher: Box::new(fetcher),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere while holding the lock leaves a consistent map: keep using it.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key set at `uri` at `now`: the cached copy while it is younger than [`MAX_AGE`] —
    /// unless `fresh` asks for a new one (an unknown `kid`), which is fetched when the last
    /// fetch is at least [`COOLDOWN`] old.
    pub async fn keys(
        &self,
        uri: &str,
        now: UnixSeconds,
        fresh: bool,
    ) -> Result<Arc<Vec<Value>>, FetchError> {
        let held = self.lock().get(uri).cloned();
        let young = |e: &Entry| {
            e.keys
                .as_ref()
                .filter(|(_, at)| now - at < MAX_AGE && *at <= now)
                .map(|(k, _)| k.clone())
        };
        if let Some(e) = &held {
            let cooling = now - e.tried_at < COOLDOWN && e.tried_at <= now;
            match young(e) {
                Some(keys) if !fresh || cooling => return Ok(keys),
                None if cooling => {
                    return Err(e
                        .error
                        .clone()
                        .unwrap_or(FetchError("the client's keys could not be fetched")))
                }
                _ => {}
            }
        }
        let fetched = self.fetcher.fetch(uri).await;
        let mut cache = self.lock();
        if cache.len() >= MAX_ENTRIES && !cache.contains_key(uri) {
            let oldest = cache
                .iter()
                .min_by_key(|(_, e)| e.tried_at)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                cache.remove(&k);
            }
        }
        let previous = held.as_ref().and_then(young);
        let entry = match fetched {
            Ok(keys) => Entry {
                keys: Some((Arc::new(keys), now)),
                tried_at: now,
                error: None,
            },
            Err(e) => Entry {
                keys: previous.map(|k| {
                    let at = held
                        .as_ref()
                        .and_then(|h| h.keys.as_ref())
                        .map_or(now, |(_, at)| *at);
                    (k, at)
                }),
                tried_at: now,
                error: Some(e),
            },
        };
        let answer = match (&entry.keys, &entry.error) {
            (Some((keys, _)), _) => Ok(keys.clone()),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(FetchError("the client's keys could not be fetched")),
        };
        cache.insert(uri.to_owned(), entry);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fetcher that answers `keys` (or fails when empty) and counts its calls.
    #[derive(Clone, Default)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        keys: Arc<Mutex<Vec<Value>>>,
    }

    #[async_trait::async_trait]
    impl FetchJwks for Counting {
        async fn fetch(&self, _: &str) -> Result<Vec<Value>, FetchError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let keys = self.keys.lock().unwrap().clone();
            if keys.is_empty() {
                Err(FetchError("down"))
            } else {
                Ok(keys)
            }
        }
    }

    fn set(f: &Counting, kid: &str) {
        *f.keys.lock().unwrap() = vec![serde_json::json!({ "kid": kid })];
    }

    #[tokio::test]
    async fn a_set_is_cached_and_fetched_again_once_on_an_unknown_kid() {
        let f = Counting::default();
        set(&f, "a");
        let remote = RemoteJwks::new(f.clone());
        let uri = "https://client.example/jwks";
        let calls = || f.calls.load(Ordering::SeqCst);
        assert_eq!(remote.keys(uri, 1000, false).await.unwrap()[0]["kid"], "a");
        assert_eq!(remote.keys(uri, 1200, false).await.unwrap()[0]["kid"], "a");
        assert_eq!(calls(), 1, "cached");
        // The client rotates: an unknown kid asks for a fresh copy, once per cooldown.
        set(&f, "b");
        assert_eq!(remote.keys(uri, 1010, true).await.unwrap()[0]["kid"], "a");
        assert_eq!(calls(), 1, "inside the cooldown, no fetch");
        assert_eq!(remote.keys(uri, 1031, true).await.unwrap()[0]["kid"], "b");
        assert_eq!(calls(), 2);
        assert_eq!(remote.keys(uri, 1032, true).await.unwrap()[0]["kid"], "b");
        assert_eq!(calls(), 2, "a burst of unknown kids fetches once");
        // Old: fetched again.
        set(&f, "c");
        assert_eq!(
            remote.keys(uri, 1031 + MAX_AGE, false).await.unwrap()[0]["kid"],
            "c"
        );
        assert_eq!(calls(), 3);
    }

    #[tokio::test]
    async fn failures_are_remembered_for_the_cooldown_and_keep_a_young_copy() {
        let f = Counting::default();
        let remote = RemoteJwks::new(f.clone());
        let uri = "https://client.example/jwks";
        let calls = || f.calls.load(Ordering::SeqCst);
        assert_eq!(remote.keys(uri, 1000, false).await.unwrap_err().0, "down");
        assert!(remote.keys(uri, 1010, false).await.is_err());
        assert_eq!(calls(), 1, "a failure is not retried at once");
        set(&f, "a");
        assert!(remote.keys(uri, 1030, false).await.is_ok());
        assert_eq!(calls(), 2);
        // The host goes down: a refresh fails, the young copy stays.
        f.keys.lock().unwrap().clear();
        assert_eq!(
            remote.keys(uri, 1070, true).await.unwrap()[0]["kid"],
            "a",
            "kept"
        );
        assert_eq!(calls(), 3);
        assert!(remote.keys(uri, 1030 + MAX_AGE, false).await.is_err());
    }
}
