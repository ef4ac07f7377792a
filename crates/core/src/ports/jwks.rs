//! The keys an OAuth client publishes at its `jwksUri` (`private_key_jwt`): a port that fetches
//! them ([`FetchJwks`]; the adapter, `keygate_http::jwks`, goes through the SSRF-guarded HTTP
//! client), and the instance's cache in front of it ([`RemoteJwks`]).
//!
//! The cache follows what `jose`'s remote key sets do (and what oidc-provider relies on): a set
//! is kept [`MAX_AGE`] seconds; an assertion whose `kid` (or key type) is not in the set asks for
//! a fresh copy once ([`RemoteJwks::keys`] with `fresh`), at most every [`COOLDOWN`] seconds per
//! set, so a stream of made-up `kid`s cannot turn keygate into a fetching machine aimed at the
//! client's host. A set is cached per registration of the client's keys ([`SetId`]: the keys'
//! id and the URI), so new keys (`PUT` with `jwks` or `jwksUri`, even the same URI) are fetched
//! afresh on every instance, never served from the copy of the previous registration.
//!
//! A failed fetch is remembered, and not tried again, for [`FAILURE_BACKOFF`] seconds, doubled
//! with each failure in a row up to [`MAX_BACKOFF`]: a host that hangs costs an instance one
//! fetch (at most the adapter's timeout) per backoff, whoever asks and however often. A failed
//! refresh keeps the copy in hand while it is young enough. The answer says whether this call
//! fetched ([`Unavailable::fetched`]), so the caller can count that cost against whoever
//! caused it. Time is the ports' `now`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::kernel::clock::UnixSeconds;

/// How long a fetched key set is used.
pub const MAX_AGE: i64 = 300;
/// The shortest time between two fetches of one set that answered.
pub const COOLDOWN: i64 = 30;
/// How long a first failed fetch is remembered (doubled for each further failure in a row).
pub const FAILURE_BACKOFF: i64 = 60;
/// The longest a failed fetch is remembered.
pub const MAX_BACKOFF: i64 = 900;
/// Most sets kept (the oldest fetched is dropped to make room).
const MAX_ENTRIES: usize = 1024;

/// Why a client's published keys could not be had: a sentence for the log and for the client's
/// own registration (it names no address keygate refused to call beyond its class). Never sent
/// to a caller of the OAuth routes, who has proven nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub &'static str);

/// A set the cache holds: the client keys' registration ([`crate::clients::ClientKeys::id`]) and
/// the URI it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetId<'a> {
    pub registration: &'a str,
    pub uri: &'a str,
}

/// No key set to use: why, and whether this very call fetched (and so cost keygate a request
/// to the client's host, with its timeout) or answered from a remembered failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub error: FetchError,
    pub fetched: bool,
}

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
    /// Failed fetches in a row.
    failures: u32,
}

impl Entry {
    /// Until when no fetch is made: the cooldown after an answer, the backoff after failures.
    fn quiet_until(&self) -> UnixSeconds {
        match self.failures {
            0 => self.tried_at + COOLDOWN,
            n => {
                let doubled = FAILURE_BACKOFF.saturating_mul(1 << (n - 1).min(16));
                self.tried_at + doubled.min(MAX_BACKOFF)
            }
        }
    }

    /// Whether `now` is inside the quiet time (a clock that went back ends it).
    fn quiet(&self, now: UnixSeconds) -> bool {
        self.tried_at <= now && now < self.quiet_until()
    }

    /// The good copy, while younger than [`MAX_AGE`].
    fn young(&self, now: UnixSeconds) -> Option<(Arc<Vec<Value>>, UnixSeconds)> {
        self.keys
            .as_ref()
            .filter(|(_, at)| now - at < MAX_AGE && *at <= now)
            .cloned()
    }
}

/// The instance's cache of published key sets, in front of a [`FetchJwks`].
pub struct RemoteJwks {
    fetcher: Box<dyn FetchJwks>,
    cache: Mutex<HashMap<(String, String), Entry>>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks").finish_non_exhaustive()
    }
}

fn unknown_failure() -> FetchError {
    FetchError("the client's keys could not be fetched")
}

impl RemoteJwks {
    pub fn new(fetcher: impl FetchJwks + 'static) -> Self {
        Self {
            fetcher: Box::new(fetcher),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        // A panic elsewhere while holding the lock leaves a consistent map: keep using it.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fetcher itself, past the cache: a registration checks its `jwksUri` with it.
    pub fn fetcher(&self) -> &dyn FetchJwks {
        &*self.fetcher
    }

    /// The key set `set` at `now`: the cached copy while it is younger than [`MAX_AGE`] —
    /// unless `fresh` asks for a new one (an unknown `kid`), which is fetched when the last
    /// fetch is at least [`COOLDOWN`] old. After a failure, nothing is fetched for the backoff.
    pub async fn keys(
        &self,
        set: SetId<'_>,
        now: UnixSeconds,
        fresh: bool,
    ) -> Result<Arc<Vec<Value>>, Unavailable> {
        let key = (set.registration.to_owned(), set.uri.to_owned());
        let held = self.lock().get(&key).cloned();
        if let Some(e) = &held {
            let quiet = e.quiet(now);
            match e.young(now) {
                Some((keys, _)) if !fresh || quiet => return Ok(keys),
                None if quiet => {
                    return Err(Unavailable {
                        error: e.error.clone().unwrap_or_else(unknown_failure),
                        fetched: false,
                    })
                }
                _ => {}
            }
        }
        let fetched = self.fetcher.fetch(set.uri).await;
        let mut cache = self.lock();
        if cache.len() >= MAX_ENTRIES && !cache.contains_key(&key) {
            let oldest = cache
                .iter()
                .min_by_key(|(_, e)| e.tried_at)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                cache.remove(&k);
            }
        }
        let entry = match fetched {
            Ok(keys) => Entry {
                keys: Some((Arc::new(keys), now)),
                tried_at: now,
                error: None,
                failures: 0,
            },
            Err(e) => Entry {
                keys: held.as_ref().and_then(|h| h.young(now)),
                tried_at: now,
                error: Some(e),
                failures: held.as_ref().map_or(0, |h| h.failures).saturating_add(1),
            },
        };
        let answer = match (&entry.keys, &entry.error) {
            (Some((keys, _)), _) => Ok(keys.clone()),
            (None, error) => Err(Unavailable {
                error: error.clone().unwrap_or_else(unknown_failure),
                fetched: true,
            }),
        };
        cache.insert(key, entry);
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

    const URI: &str = "https://client.example/jwks";
    const SET: SetId<'static> = SetId {
        registration: "k1",
        uri: URI,
    };

    #[tokio::test]
    async fn a_set_is_cached_and_fetched_again_once_on_an_unknown_kid() {
        let f = Counting::default();
        set(&f, "a");
        let remote = RemoteJwks::new(f.clone());
        let calls = || f.calls.load(Ordering::SeqCst);
        assert_eq!(remote.keys(SET, 1000, false).await.unwrap()[0]["kid"], "a");
        assert_eq!(remote.keys(SET, 1200, false).await.unwrap()[0]["kid"], "a");
        assert_eq!(calls(), 1, "cached");
        // The client rotates: an unknown kid asks for a fresh copy, once per cooldown.
        set(&f, "b");
        assert_eq!(remote.keys(SET, 1010, true).await.unwrap()[0]["kid"], "a");
        assert_eq!(calls(), 1, "inside the cooldown, no fetch");
        assert_eq!(remote.keys(SET, 1031, true).await.unwrap()[0]["kid"], "b");
        assert_eq!(calls(), 2);
        assert_eq!(remote.keys(SET, 1032, true).await.unwrap()[0]["kid"], "b");
        assert_eq!(calls(), 2, "a burst of unknown kids fetches once");
        // Old: fetched again.
        set(&f, "c");
        assert_eq!(
            remote.keys(SET, 1031 + MAX_AGE, false).await.unwrap()[0]["kid"],
            "c"
        );
        assert_eq!(calls(), 3);
    }

    #[tokio::test]
    async fn a_new_registration_of_the_same_uri_is_fetched_afresh() {
        let f = Counting::default();
        set(&f, "a");
        let remote = RemoteJwks::new(f.clone());
        let calls = || f.calls.load(Ordering::SeqCst);
        assert_eq!(remote.keys(SET, 1000, false).await.unwrap()[0]["kid"], "a");
        // The client drops key a and its keys are registered again (PUT, same URI): the new
        // registration is not served the previous one's copy, cooldown or not.
        set(&f, "b");
        let again = SetId {
            registration: "k2",
            ..SET
        };
        assert_eq!(
            remote.keys(again, 1001, false).await.unwrap()[0]["kid"],
            "b"
        );
        assert_eq!(calls(), 2);
        assert_eq!(remote.keys(again, 1002, true).await.unwrap()[0]["kid"], "b");
        assert_eq!(calls(), 2, "the new registration's own cooldown");
    }

    #[tokio::test]
    async fn failures_are_remembered_with_a_growing_backoff_and_keep_a_young_copy() {
        let f = Counting::default();
        let remote = RemoteJwks::new(f.clone());
        let calls = || f.calls.load(Ordering::SeqCst);
        let e = remote.keys(SET, 1000, false).await.unwrap_err();
        assert_eq!((e.error.0, e.fetched), ("down", true));
        // Remembered for the backoff, whoever asks, fresh or not: no fetch, and said so.
        for (at, fresh) in [
            (1001, false),
            (1030, true),
            (1000 + FAILURE_BACKOFF - 1, true),
        ] {
            let e = remote.keys(SET, at, fresh).await.unwrap_err();
            assert_eq!((e.error.0, e.fetched), ("down", false), "{at}");
        }
        assert_eq!(calls(), 1, "a failure is not retried within its backoff");
        // Each failure in a row doubles it, up to the longest.
        let mut at = 1000;
        let mut backoff = FAILURE_BACKOFF;
        for n in 2..=6 {
            at += backoff;
            assert!(remote.keys(SET, at, false).await.unwrap_err().fetched);
            assert_eq!(calls(), n);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            let e = remote.keys(SET, at + backoff - 1, false).await.unwrap_err();
            assert!(!e.fetched, "failure {n}: remembered {backoff} s");
        }
        assert_eq!(backoff, MAX_BACKOFF);
        // It answers again: used at once, and the backoff starts over.
        set(&f, "a");
        at += backoff;
        assert!(remote.keys(SET, at, false).await.is_ok());
        let fetched = calls();
        // The host goes down: a refresh fails, the young copy stays.
        f.keys.lock().unwrap().clear();
        assert_eq!(
            remote.keys(SET, at + COOLDOWN, true).await.unwrap()[0]["kid"],
            "a",
            "kept"
        );
        assert_eq!(calls(), fetched + 1);
        assert!(
            remote.keys(SET, at + COOLDOWN + 1, true).await.is_ok(),
            "no fetch within the backoff"
        );
        assert_eq!(calls(), fetched + 1);
        let e = remote.keys(SET, at + MAX_AGE, false).await.unwrap_err();
        assert!(
            e.fetched,
            "the copy is old and the backoff over: fetched again"
        );
    }
}
