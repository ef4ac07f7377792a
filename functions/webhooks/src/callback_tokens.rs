//! Tokens for callbacks authenticated with OAuth 2.0 (OneSpan, French edition; docs/EVENTS.md): obtained from the integrator's authorization server by the client
//! credentials grant (Basic client authentication, `scope` when set), kept until shortly before
//! their `expires_in`, and shared by an instance's concurrent deliveries. A receiver's `401`
//! drops the kept token ([`Tokens::forget`]).
//!
//! **One fetch, many waiters, each with its own deadline.** The deliveries that need a token
//! for one endpoint credential while none is kept share one fetch ([`Tokens::token`]): the first
//! starts it as a task of its own, the others join it. The lock of the cache is held only to
//! look up or record, never across the request, and each waiter stops waiting at its own
//! deadline (the delivery timeout, [`crate::Settings::timeout`]) with a `token_endpoint`
//! failure. The fetch itself is bounded by the same timeout (the delivery client's, and its
//! own), so an authorization server that hangs costs each of its deliveries at most one timeout
//! — not one per delivery queued before it — and nothing else. A token fetched is kept; a
//! failure is not (the next delivery that needs a token asks again), but every delivery waiting
//! on that fetch gets it: one failed attempt each, retried as usual.
//!
//! **Waiting holds no delivery permit** ([`crate::fanout`]). The batch's permits count the
//! deliveries that are working — calling the store, sending — so that sockets and memory stay
//! bounded. A delivery that has to wait for a token gives its permit back while it waits and
//! takes one again before it sends. The other way, fetching the token before taking the permit,
//! was not chosen: it would ask the authorization server before the delivery ledger says whether
//! the endpoint is to be sent the event at all (a redelivered message would fetch tokens for
//! endpoints that already took it, and fail them as `token_endpoint` when the server hangs), it
//! would start the fetches of every OAuth delivery of the batch at once, outside any bound, and
//! the fresh token after a `401` is needed in the middle of a delivery anyway. So the permits
//! keep meaning "work in flight", and a hung token server holds no permit: the other deliveries
//! of the batch, other accounts' too, go on. The fetches are outside the permits but there is at
//! most one per credential at a time, each started by a delivery that held a permit.
//!
//! The token endpoint is called with the delivery client, so it is under the same SSRF guard,
//! the same timeout and the same no-redirect rule as deliveries. Its failures are delivery
//! failures, with their own error class (`token_endpoint`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_core::kernel::clock::UnixSeconds;
use keygate_core::kernel::crypto::Secret;
use keygate_core::notify::endpoints::OAuth2Credentials;
use serde::Deserialize;
use tokio::sync::watch;

use crate::ssrf;

/// A token is used until this many seconds before it expires (or a tenth of its life, if that
/// is less), so a delivery never carries one that expires on the way.
const MARGIN_SECONDS: i64 = 30;
/// The life of a token whose answer has no `expires_in`.
const DEFAULT_LIFETIME: i64 = 300;
/// The longest a kept token is used, whatever `expires_in` says.
const MAX_LIFETIME: i64 = 24 * 3600;
/// Largest token answer read.
const MAX_ANSWER: usize = 16 * 1024;
/// Why a token did not come in time (the fetch's own timeout and a waiter's deadline alike).
const LATE: &str = "the authorization server did not answer in time";

#[derive(Clone)]
struct Held {
    token: Secret,
    usable_until: UnixSeconds,
}

/// What identifies a kept token: the endpoint and every part of its credential (a changed
/// secret — sealed afresh, so its ciphertext changes —, URL or scope gets a token of its own).
#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    endpoint: String,
    url: String,
    client_id: String,
    scope: Option<String>,
    sealed_secret: String,
}

/// What a fetch publishes to its waiters: nothing while it runs, then its outcome.
type Outcome = Option<Result<Secret, TokenFailure>>;

/// One credential's token: the kept one, and the fetch in flight, if any.
#[derive(Default)]
struct Slot {
    held: Option<Held>,
    /// Set while a fetch runs (cleared by the fetch's task when it ends, however it ends).
    fetching: Option<watch::Receiver<Outcome>>,
}

type SlotRef = Arc<Mutex<Slot>>;

/// The tokens this instance keeps, per endpoint credential.
pub struct Tokens {
    slots: Mutex<HashMap<CacheKey, SlotRef>>,
    /// How many deliveries wait for a fetch right now.
    waiting: watch::Sender<usize>,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            slots: Mutex::default(),
            waiting: watch::Sender::new(0),
        }
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFailure {
    /// The token endpoint's status, when it answered.
    pub status: Option<u16>,
    /// For logs: why, in a few words (never the secret or a token).
    pub detail: String,
}

impl TokenFailure {
    fn new(status: Option<u16>, detail: &str) -> Self {
        Self {
            status,
            detail: detail.to_owned(),
        }
    }
}

/// A token, or the fetch to wait for ([`Tokens::token`]).
pub enum Token<'a> {
    /// The kept token, usable now.
    Kept(Secret),
    /// A fetch is under way: [`Pending::wait`] for it.
    Pending(Pending<'a>),
}

/// One delivery's wait for a fetch, until its own deadline.
pub struct Pending<'a> {
    answer: watch::Receiver<Outcome>,
    deadline: tokio::time::Instant,
    waiting: &'a watch::Sender<usize>,
}

impl Pending<'_> {
    /// The fetch's token, or its failure; a `token_endpoint` failure of its own once the
    /// deadline passes, whatever the fetch is doing then.
    pub async fn wait(mut self) -> Result<Secret, TokenFailure> {
        let answer = tokio::time::timeout_at(self.deadline, self.answer.wait_for(Option::is_some));
        match answer.await {
            Err(_) => Err(TokenFailure::new(None, LATE)),
            Ok(Err(_)) => Err(TokenFailure::new(None, "the token fetch stopped")),
            Ok(Ok(outcome)) => outcome
                .clone()
                .unwrap_or_else(|| Err(TokenFailure::new(None, "the token fetch stopped"))),
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.waiting.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[derive(Deserialize)]
struct Answer {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

fn key(endpoint: &str, c: &OAuth2Credentials) -> CacheKey {
    CacheKey {
        endpoint: endpoint.to_owned(),
        url: c.authorization_server_url.clone(),
        client_id: c.client_id.clone(),
        scope: c.scope.clone(),
        sealed_secret: c.client_secret.0.clone(),
    }
}

/// `x` form-urlencoded (RFC 6749 §2.3.1, before Basic's base64).
fn form_encode(x: &str) -> String {
    url::form_urlencoded::byte_serialize(x.as_bytes()).collect()
}

/// Until when a token that lives `expires_in` seconds from `now` is used (pure).
pub fn usable_until(now: UnixSeconds, expires_in: Option<i64>) -> UnixSeconds {
    let life = expires_in
        .filter(|e| *e > 0)
        .unwrap_or(DEFAULT_LIFETIME)
        .min(MAX_LIFETIME);
    now + life - MARGIN_SECONDS.min(life / 10)
}

/// Past this many kept credentials, the ones with no usable token, no fetch and no delivery
/// using them are dropped (an instance serves a bounded set of endpoints; their credentials
/// change).
const MAX_SLOTS: usize = 4096;

/// A lock that a panic elsewhere does not poison for good (the data stays consistent: every
/// change under these locks is one assignment).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ends its slot's fetch when the fetch's task ends — normally, by a panic or by the runtime's
/// shutdown —, so a fetch that is gone is never joined.
struct EndOfFetch {
    slot: SlotRef,
    /// The fetch's channel: a later fetch of the slot is not this one's to end.
    answer: watch::Receiver<Outcome>,
}

impl EndOfFetch {
    /// Keeps the token fetched, if any, and ends the fetch.
    fn end(&self, fetched: Option<&Held>) {
        let mut s = lock(&self.slot);
        if let Some(fresh) = fetched {
            s.held = Some(fresh.clone());
        }
        if s.fetching
            .as_ref()
            .is_some_and(|f| f.same_channel(&self.answer))
        {
            s.fetching = None;
        }
    }
}

impl Drop for EndOfFetch {
    fn drop(&mut self) {
        self.end(None);
    }
}

/// What a token is asked with: the delivery client, the endpoint and its credentials (the
/// secret unsealed).
#[derive(Clone, Copy)]
pub struct Grant<'a> {
    pub client: &'a reqwest::Client,
    pub endpoint: &'a str,
    pub credentials: &'a OAuth2Credentials,
    pub secret: &'a Secret,
    pub local_mode: bool,
}

impl Tokens {
    fn slot(&self, k: &CacheKey, now: UnixSeconds) -> SlotRef {
        let mut slots = lock(&self.slots);
        if slots.len() >= MAX_SLOTS && !slots.contains_key(k) {
            slots.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().map_or(true, |s| {
                        s.fetching.is_some()
                            || s.held.as_ref().is_some_and(|h| h.usable_until > now)
                    })
            });
        }
        slots.entry(k.clone()).or_default().clone()
    }

    /// How many credentials have a slot (for tests of the bound).
    pub fn kept(&self) -> usize {
        lock(&self.slots).len()
    }

    /// How many deliveries are waiting for a token being fetched, as it changes (for tests and
    /// diagnostics).
    pub fn waiting(&self) -> watch::Receiver<usize> {
        self.waiting.subscribe()
    }

    /// A token for `grant`'s endpoint and credentials: the kept one while usable; else the
    /// fetch in flight for this credential, joined, or one started now (a task of its own,
    /// bounded by `wait`), to be waited for at most `wait` from now. Returns at once: nothing is
    /// awaited here. Must be called within a Tokio runtime.
    pub fn token(&self, grant: Grant<'_>, now: UnixSeconds, wait: Duration) -> Token<'_> {
        let deadline = tokio::time::Instant::now() + wait;
        let slot = self.slot(&key(grant.endpoint, grant.credentials), now);
        let answer = {
            let mut s = lock(&slot);
            if let Some(h) = s.held.as_ref().filter(|h| h.usable_until > now) {
                return Token::Kept(h.token.clone());
            }
            match &s.fetching {
                Some(answer) => answer.clone(),
                None => {
                    let (tx, answer) = watch::channel(None);
                    s.fetching = Some(answer.clone());
                    let end = EndOfFetch {
                        slot: slot.clone(),
                        answer: answer.clone(),
                    };
                    let client = grant.client.clone();
                    let (c, secret) = (grant.credentials.clone(), grant.secret.clone());
                    let local_mode = grant.local_mode;
                    tokio::spawn(async move {
                        let fetched = tokio::time::timeout(
                            wait,
                            fetch(&client, &c, &secret, local_mode, now),
                        )
                        .await
                        .unwrap_or_else(|_| Err(TokenFailure::new(None, LATE)));
                        end.end(fetched.as_ref().ok());
                        // Waiters that gave up are gone; the others get the outcome.
                        let _ = tx.send(Some(fetched.map(|h| h.token)));
                    });
                    answer
                }
            }
        };
        self.waiting.send_modify(|n| *n += 1);
        Token::Pending(Pending {
            answer,
            deadline,
            waiting: &self.waiting,
        })
    }

    /// Drops the kept token `token` (the receiver refused it); a newer one is kept.
    pub fn forget(&self, endpoint: &str, c: &OAuth2Credentials, token: &Secret, now: UnixSeconds) {
        let slot = self.slot(&key(endpoint, c), now);
        let mut s = lock(&slot);
        if s.held.as_ref().is_some_and(|h| h.token == *token) {
            s.held = None;
        }
    }
}

/// The client credentials grant at the integrator's authorization server.
async fn fetch(
    client: &reqwest::Client,
    c: &OAuth2Credentials,
    secret: &Secret,
    local_mode: bool,
    now: UnixSeconds,
) -> Result<Held, TokenFailure> {
    let fail = |status: Option<u16>, detail: &str| TokenFailure {
        status,
        detail: detail.to_owned(),
    };
    let url = url::Url::parse(&c.authorization_server_url)
        .map_err(|_| fail(None, "the authorization server URL is not a URL"))?;
    ssrf::check_target(&url, local_mode).map_err(|e| fail(None, &e.to_string()))?;
    let basic = STANDARD.encode(format!(
        "{}:{}",
        form_encode(&c.client_id),
        form_encode(secret.expose())
    ));
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = c.scope.as_deref() {
        form.push(("scope", scope));
    }
    let mut auth = http::HeaderValue::from_str(&format!("Basic {basic}"))
        .map_err(|_| fail(None, "the client credentials cannot be sent"))?;
    auth.set_sensitive(true);
    let resp = client
        .post(url)
        .header(http::header::AUTHORIZATION, auth)
        .header(http::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| {
            if ssrf::blocked_in(&e).is_some() {
                fail(
                    None,
                    "the authorization server's address is not one keygate calls",
                )
            } else if e.is_timeout() {
                fail(None, "the authorization server did not answer in time")
            } else {
                fail(None, "the authorization server could not be reached")
            }
        })?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(fail(
            Some(status),
            "the authorization server refused the client credentials",
        ));
    }
    let mut body = Vec::new();
    let mut resp = resp;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| fail(Some(status), "the token answer could not be read"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ANSWER {
            return Err(fail(Some(status), "the token answer is too large"));
        }
    }
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|_| fail(Some(status), "the token answer is not RFC 6749 JSON"))?;
    if answer
        .token_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(fail(Some(status), "the token is not a Bearer token"));
    }
    if answer.access_token.is_empty()
        || http::HeaderValue::from_str(&format!("Bearer {}", answer.access_token)).is_err()
    {
        return Err(fail(
            Some(status),
            "the access token cannot be sent in a header",
        ));
    }
    Ok(Held {
        token: Secret::new(answer.access_token),
        usable_until: usable_until(now, answer.expires_in),
    })
}

#[cfg(test)]
mod tests;
