//! Tokens for callbacks authenticated with OAuth 2.0 (OneSpan, French edition; docs/EVENTS.md): obtained from the integrator's authorization server by the client
//! credentials grant (Basic client authentication, `scope` when set), kept until shortly before
//! their `expires_in`, and shared by an instance's concurrent deliveries — one fetch at a time
//! per endpoint credential. A receiver's `401` drops the kept token ([`Tokens::forget`]).
//!
//! The token endpoint is called with the delivery client, so it is under the same SSRF guard,
//! the same timeout and the same no-redirect rule as deliveries. Its failures are delivery
//! failures, with their own error class (`token_endpoint`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_core::kernel::clock::UnixSeconds;
use keygate_core::kernel::crypto::Secret;
use keygate_core::notify::endpoints::OAuth2Credentials;
use serde::Deserialize;

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

/// The tokens this instance keeps, per endpoint credential.
#[derive(Default)]
pub struct Tokens {
    slots: Mutex<HashMap<CacheKey, Arc<tokio::sync::Mutex<Option<Held>>>>>,
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFailure {
    /// The token endpoint's status, when it answered.
    pub status: Option<u16>,
    /// For logs: why, in a few words (never the secret or a token).
    pub detail: String,
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

/// Past this many kept credentials, the ones with no usable token and no delivery using them
/// are dropped (an instance serves a bounded set of endpoints; their credentials change).
const MAX_SLOTS: usize = 4096;

impl Tokens {
    fn slot(&self, k: &CacheKey, now: UnixSeconds) -> Arc<tokio::sync::Mutex<Option<Held>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= MAX_SLOTS && !slots.contains_key(k) {
            slots.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().map_or(true, |held| {
                        held.as_ref().is_some_and(|h| h.usable_until > now)
                    })
            });
        }
        slots.entry(k.clone()).or_default().clone()
    }

    /// How many credentials have a slot (for tests of the bound).
    pub fn kept(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// A token for endpoint `endpoint` with credentials `c` (secret unsealed): the kept one while
    /// usable, else a fresh one — fetched by one delivery while the others wait for it.
    pub async fn get(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        c: &OAuth2Credentials,
        secret: &Secret,
        local_mode: bool,
        now: UnixSeconds,
    ) -> Result<Secret, TokenFailure> {
        let slot = self.slot(&key(endpoint, c), now);
        let mut held = slot.lock().await;
        if let Some(h) = held.as_ref().filter(|h| h.usable_until > now) {
            return Ok(h.token.clone());
        }
        let fresh = fetch(client, c, secret, local_mode, now).await?;
        let token = fresh.token.clone();
        *held = Some(fresh);
        Ok(token)
    }

    /// Drops the kept token `token` (the receiver refused it); a newer one is kept.
    pub async fn forget(
        &self,
        endpoint: &str,
        c: &OAuth2Credentials,
        token: &Secret,
        now: UnixSeconds,
    ) {
        let slot = self.slot(&key(endpoint, c), now);
        let mut held = slot.lock().await;
        if held.as_ref().is_some_and(|h| h.token == *token) {
            *held = None;
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
mod tests {
    use super::*;

    #[test]
    fn tokens_are_used_until_shortly_before_they_expire() {
        assert_eq!(usable_until(1000, Some(3600)), 1000 + 3600 - 30);
        assert_eq!(usable_until(1000, Some(60)), 1000 + 60 - 6);
        assert_eq!(usable_until(1000, None), 1000 + 300 - 30);
        assert_eq!(usable_until(1000, Some(0)), 1000 + 300 - 30);
        assert_eq!(usable_until(1000, Some(10 * 86_400)), 1000 + 86_400 - 30);
    }
}
