//! One HTTP try: the request, and what its answer means.
//!
//! `POST` of the event JSON with `Content-Type: application/json`, the Standard Webhooks headers
//! and, when the endpoint has a callback key, `Authorization: Basic <key>` (OneSpan's shape: the
//! key as it was set, not `user:password`), or for an OAuth 2.0 callback `Bearer <token>`. Any 2xx is success; 3xx is a failure (the client
//! follows no redirect); `410 Gone` means the endpoint is gone; `429` and a `503` with
//! `Retry-After` push the next try back. At most 4 KiB of the answer is read: enough to drain a
//! typical small body so the connection goes back to the pool, never enough for a receiver to
//! make us buffer a large one (a longer body just closes that connection).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use keygate_core::kernel::clock::UnixSeconds;
use keygate_core::kernel::crypto::Secret;
use keygate_core::notify::attempts::ErrorClass;
use url::Url;

use crate::schedule::{parse_retry_after, Pushback};
use crate::ssrf::{self, TargetError};

/// How much of a response body is read.
pub const MAX_RESPONSE_BODY: usize = 4 * 1024;

/// What a try amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    Failed,
    /// `410 Gone`: the endpoint is to be disabled.
    Gone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub verdict: Verdict,
    pub response_code: Option<u16>,
    pub error_class: Option<ErrorClass>,
    pub pushback: Pushback,
    pub latency_ms: u64,
    /// For logs: why, in a few words (never a header, key or signature).
    pub detail: Option<String>,
}

impl Sent {
    /// A try that failed before any request went out.
    pub fn refused(class: ErrorClass, detail: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Failed,
            response_code: None,
            error_class: Some(class),
            pushback: Pushback::None,
            latency_ms: 0,
            detail: Some(detail.into()),
        }
    }
}

/// The `Authorization` a delivery carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    None,
    /// `Basic <callback key>` (OneSpan's shape: the key as it was set).
    Basic(Secret),
    /// `Bearer <token>` (an OAuth 2.0 callback).
    Bearer(Secret),
}

/// A request ready to go.
#[derive(Clone)]
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub event_id: &'a str,
    pub timestamp: UnixSeconds,
    pub body: Bytes,
    /// The `webhook-signature` value.
    pub signature: String,
    pub auth: Authorization,
}

/// Sends one request with `client` (built by [`crate::client`]: no redirects, the guarded
/// resolver, the timeout) and classifies the answer. Never panics, whatever the receiver does.
/// The request, the bounded read of the answer and its classification, in order.
pub async fn send(
    client: &reqwest::Client,
    out: Outgoing<'_>,
    local_mode: bool,
    now: UnixSeconds,
) -> Sent {
    let url = match Url::parse(out.url) {
        Ok(u) => u,
        Err(_) => return Sent::refused(ErrorClass::InvalidUrl, "unparseable URL"),
    };
    match ssrf::check_target(&url, local_mode) {
        Ok(()) => {}
        Err(e @ TargetError::InvalidUrl(_)) => {
            return Sent::refused(ErrorClass::InvalidUrl, e.to_string())
        }
        Err(e @ TargetError::Blocked(_)) => {
            return Sent::refused(ErrorClass::BlockedAddress, e.to_string())
        }
    }
    let headers = match headers(&out) {
        Some(h) => h,
        None => return Sent::refused(ErrorClass::Request, "a header value is not sendable"),
    };
    let started = Instant::now();
    let result = client
        .post(url)
        .headers(headers)
        .body(out.body)
        .send()
        .await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let (class, detail) = classify_error(&e);
            return Sent {
                verdict: Verdict::Failed,
                response_code: None,
                error_class: Some(class),
                pushback: if class == ErrorClass::Timeout {
                    Pushback::SlowDown
                } else {
                    Pushback::None
                },
                latency_ms: millis(started.elapsed()),
                detail: Some(detail),
            };
        }
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    drain(&mut resp).await;
    let latency_ms = millis(started.elapsed());
    let (verdict, error_class, pushback) = classify_status(status, retry_after);
    Sent {
        verdict,
        response_code: Some(status),
        error_class,
        pushback,
        latency_ms,
        detail: None,
    }
}

/// What a status (and its `Retry-After`, in seconds) means.
pub fn classify_status(
    status: u16,
    retry_after: Option<u32>,
) -> (Verdict, Option<ErrorClass>, Pushback) {
    match status {
        200..=299 => (Verdict::Succeeded, None, Pushback::None),
        300..=399 => (Verdict::Failed, Some(ErrorClass::Redirect), Pushback::None),
        410 => (Verdict::Gone, Some(ErrorClass::HttpStatus), Pushback::None),
        429 => (
            Verdict::Failed,
            Some(ErrorClass::HttpStatus),
            retry_after.map_or(Pushback::SlowDown, Pushback::After),
        ),
        503 => (
            Verdict::Failed,
            Some(ErrorClass::HttpStatus),
            retry_after.map_or(Pushback::None, Pushback::After),
        ),
        _ => (
            Verdict::Failed,
            Some(ErrorClass::HttpStatus),
            Pushback::None,
        ),
    }
}

fn headers(out: &Outgoing<'_>) -> Option<HeaderMap> {
    let mut h = HeaderMap::with_capacity(5);
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert("webhook-id", HeaderValue::from_str(out.event_id).ok()?);
    h.insert("webhook-timestamp", HeaderValue::from(out.timestamp));
    h.insert(
        "webhook-signature",
        HeaderValue::from_str(&out.signature).ok()?,
    );
    let credential = match &out.auth {
        Authorization::None => None,
        Authorization::Basic(key) => Some(format!("Basic {}", key.expose())),
        Authorization::Bearer(token) => Some(format!("Bearer {}", token.expose())),
    };
    if let Some(c) = credential {
        let mut v = HeaderValue::from_str(&c).ok()?;
        v.set_sensitive(true);
        h.insert(AUTHORIZATION, v);
    }
    Some(h)
}

/// Reads at most [`MAX_RESPONSE_BODY`] bytes of the body and drops the rest.
async fn drain(resp: &mut reqwest::Response) {
    let mut read = 0usize;
    while read < MAX_RESPONSE_BODY {
        match resp.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
}

fn classify_error(e: &reqwest::Error) -> (ErrorClass, String) {
    if let Some(b) = ssrf::blocked_in(e) {
        return (ErrorClass::BlockedAddress, b.to_string());
    }
    let class = if e.is_timeout() {
        ErrorClass::Timeout
    } else if e.is_connect() {
        ErrorClass::Connect
    } else if e.is_redirect() {
        ErrorClass::Redirect
    } else {
        ErrorClass::Request
    };
    // The innermost cause reads best ("Connection refused"); reqwest's own text would repeat the
    // URL, which may carry a token of the integrator's.
    let mut detail = None;
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        detail = Some(c.to_string());
        cur = c.source();
    }
    let detail = detail.unwrap_or_else(|| class.as_str().to_owned());
    (class, detail)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_mean_what_the_design_says() {
        assert_eq!(classify_status(200, None).0, Verdict::Succeeded);
        assert_eq!(classify_status(204, None).0, Verdict::Succeeded);
        assert_eq!(
            classify_status(302, None),
            (Verdict::Failed, Some(ErrorClass::Redirect), Pushback::None)
        );
        assert_eq!(classify_status(410, None).0, Verdict::Gone);
        assert_eq!(classify_status(429, None).2, Pushback::SlowDown);
        assert_eq!(classify_status(429, Some(90)).2, Pushback::After(90));
        assert_eq!(classify_status(503, Some(30)).2, Pushback::After(30));
        assert_eq!(classify_status(500, Some(30)).2, Pushback::None);
        assert_eq!(
            classify_status(404, None),
            (
                Verdict::Failed,
                Some(ErrorClass::HttpStatus),
                Pushback::None
            )
        );
    }

    #[test]
    fn the_key_header_is_sensitive_and_ids_must_be_header_safe() {
        let out = Outgoing {
            url: "https://x.test/",
            event_id: "evt_1",
            timestamp: 5,
            body: Bytes::from_static(b"{}"),
            signature: "v1,abc=".into(),
            auth: Authorization::Basic(Secret::new("k3y")),
        };
        let h = headers(&out).unwrap();
        assert_eq!(h["authorization"], "Basic k3y");
        assert!(h["authorization"].is_sensitive());
        let bearer = Outgoing {
            auth: Authorization::Bearer(Secret::new("t0k")),
            ..out.clone()
        };
        let h = headers(&bearer).unwrap();
        assert_eq!(h["authorization"], "Bearer t0k");
        assert!(h["authorization"].is_sensitive());
        let none = Outgoing {
            auth: Authorization::None,
            ..out.clone()
        };
        assert!(headers(&none).unwrap().get("authorization").is_none());
        assert_eq!(h["webhook-timestamp"], "5");
        assert_eq!(h["content-type"], "application/json");
        let bad = Outgoing {
            event_id: "evt\n1",
            ..out
        };
        assert!(headers(&bad).is_none());
    }
}
