//! The adapter of [`keygate_core::ports::jwks::FetchJwks`]: an OAuth client's published keys,
//! fetched from its `jwksUri` through the SSRF-guarded client ([`crate::ssrf`]: `https` only —
//! `http` to loopback in local mode —, every address a name resolves to checked, no redirects,
//! no proxy), within [`CONNECT_TIMEOUT`] to connect and [`TIMEOUT`] in all, and [`MAX_BODY`];
//! kept by the instance's [`RemoteJwks`] cache ([`remote`]). The `token` function fetches with
//! it at every assertion of a client with a `jwksUri`; `client-apps` once at each registration
//! of one ([`check_published`]), which is refused unless the set is there and usable.
//!
//! Of a published set, the keys keygate can verify with are kept (a set may also hold keys for
//! encryption or other algorithms: those are left out, not refused).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use keygate_core::clients::keys::normalise_key;
use keygate_core::ports::jwks::{FetchError, FetchJwks, RemoteJwks};
use keygate_core::{ApiError, ApiResult, Services};
use serde_json::Value;

use crate::ssrf;

/// Longest wait to connect to a client's host.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait for a client's key set, all told: a request that makes keygate fetch holds the
/// instance no longer than this.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// Largest key set read.
pub const MAX_BODY: usize = 64 * 1024;
/// Most keys kept of one set.
const MAX_KEYS: usize = 20;

/// Fetches key sets through the SSRF guard.
pub struct Guarded {
    client: Option<reqwest::Client>,
    local_mode: bool,
}

impl Guarded {
    pub fn new(local_mode: bool) -> Self {
        Self::build(ssrf::guarded_builder(local_mode), local_mode)
    }

    /// The same, its names resolved by `resolver` (which must classify the addresses as
    /// [`ssrf::GuardedResolver`] does: tests pin a name with [`ssrf::PinnedResolver`]).
    pub fn with_resolver<R: reqwest::dns::Resolve + 'static>(
        local_mode: bool,
        resolver: Arc<R>,
    ) -> Self {
        let builder = ssrf::guarded_builder(local_mode).dns_resolver(resolver);
        Self::build(builder, local_mode)
    }

    fn build(builder: reqwest::ClientBuilder, local_mode: bool) -> Self {
        let client = builder
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("keygate/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok();
        Self { client, local_mode }
    }
}

#[async_trait::async_trait]
impl FetchJwks for Guarded {
    async fn fetch(&self, uri: &str) -> Result<Vec<Value>, FetchError> {
        let client = self
            .client
            .as_ref()
            .ok_or(FetchError("keygate has no HTTP client to fetch it with"))?;
        let url = url::Url::parse(uri).map_err(|_| FetchError("the jwksUri is not a URL"))?;
        ssrf::check_target(&url, self.local_mode).map_err(|e| match e {
            ssrf::TargetError::InvalidUrl(why) => FetchError(why),
            ssrf::TargetError::Blocked(_) => {
                FetchError("the jwksUri's address is not one keygate calls")
            }
        })?;
        let mut resp = client
            .get(url)
            .header(
                http::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await
            .map_err(|e| {
                if ssrf::blocked_in(&e).is_some() {
                    FetchError("the jwksUri's address is not one keygate calls")
                } else if e.is_timeout() {
                    FetchError("the jwksUri did not answer in time")
                } else {
                    FetchError("the jwksUri could not be reached")
                }
            })?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(FetchError("the jwksUri did not answer 200"));
        }
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(FetchError("the jwksUri's key set is too large"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|_| FetchError("the jwksUri's answer was cut short"))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError("the jwksUri's key set is too large"));
            }
            body.extend_from_slice(&chunk);
        }
        let set: Value = serde_json::from_slice(&body)
            .map_err(|_| FetchError("the jwksUri's answer is not JSON"))?;
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(FetchError("the jwksUri's answer is not a JWK Set"))?;
        Ok(keys
            .iter()
            .filter_map(|k| normalise_key(k).ok())
            .take(MAX_KEYS)
            .collect())
    }
}

/// The cache of published key sets `services` use: theirs when they carry one (tests), else the
/// instance's, one per mode (the local server calls loopback, a deployment never does), built
/// on first use.
pub fn remote(services: &Services) -> &RemoteJwks {
    static LOCAL: OnceLock<RemoteJwks> = OnceLock::new();
    static DEPLOYED: OnceLock<RemoteJwks> = OnceLock::new();
    if let Some(own) = services.jwks.as_deref() {
        return own;
    }
    let local_mode = services.config.local_mode;
    let cell = if local_mode { &LOCAL } else { &DEPLOYED };
    cell.get_or_init(|| RemoteJwks::new(Guarded::new(local_mode)))
}

/// A `jwksUri` being registered (creation, or a `PUT` naming one, the same URI included),
/// fetched once now: `400 jwks_uri_unusable` unless it answers a JWK Set with at least one key
/// keygate can verify with, so a URI that is down, hangs, is refused by the SSRF guard or
/// publishes nothing usable is never registered (and never fetched at each assertion).
pub async fn check_published(services: &Services, uri: &str) -> ApiResult<()> {
    let unusable = |why: &str| {
        ApiError::bad_request(
            "jwks_uri_unusable",
            format!("jwksUri was fetched and cannot be used: {why}"),
        )
    };
    let keys = remote(services)
        .fetcher()
        .fetch(uri)
        .await
        .map_err(|e| unusable(e.0))?;
    if keys.is_empty() {
        return Err(unusable(
            "its JWK Set holds no key keygate verifies with (P-256, RSA of at least 2048 bits, Ed25519; use sig)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_core::testing::dpop::ProofKey;
    use std::io::{Read, Write};

    /// An HTTP server on loopback (a thread of its own) answering every request with `status`
    /// and `body`: its port.
    fn serve(status: u16, body: String) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut sock in listener.incoming().map_while(Result::ok) {
                // The request's head, up to its blank line (a GET has no body).
                let (mut buf, mut head) = ([0u8; 1024], Vec::new());
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(answer.as_bytes());
            }
        });
        port
    }

    #[tokio::test]
    async fn a_published_set_is_read_keeping_the_keys_keygate_uses() {
        let key = ProofKey::es256();
        let set = serde_json::json!({"keys": [
            key.public_jwk_with_kid("sig"),
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "k": "c2VjcmV0"},
        ]});
        let port = serve(200, set.to_string());
        let keys = Guarded::new(true)
            .fetch(&format!("http://127.0.0.1:{port}/jwks"))
            .await
            .unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kid"], "sig");
    }

    #[tokio::test]
    async fn refusals_name_why_and_never_reach_a_private_address() {
        let ok = serde_json::json!({"keys": []}).to_string();
        let port = serve(200, ok);
        // Outside local mode loopback is not called, by name or by address, nor plain http.
        let blocked = "not one keygate calls";
        for (uri, why) in [
            // A name that resolves to loopback: refused by the guarded resolver.
            (format!("https://localhost:{port}/jwks"), blocked),
            (format!("https://127.0.0.1:{port}/jwks"), blocked),
            (format!("http://127.0.0.1:{port}/jwks"), "https"),
            (
                "https://169.254.169.254/latest/meta-data".to_owned(),
                blocked,
            ),
            ("https://10.0.0.1/jwks".to_owned(), blocked),
        ] {
            let e = Guarded::new(false).fetch(&uri).await.unwrap_err();
            assert!(e.0.contains(why), "{uri}: {e}");
        }
        let not_found = serve(404, "{}".into());
        let e = Guarded::new(true)
            .fetch(&format!("http://127.0.0.1:{not_found}/"))
            .await
            .unwrap_err();
        assert!(e.0.contains("200"), "{e}");
        let junk = serve(200, "not json".into());
        let e = Guarded::new(true)
            .fetch(&format!("http://127.0.0.1:{junk}/"))
            .await
            .unwrap_err();
        assert!(e.0.contains("JSON"), "{e}");
        let big = serve(
            200,
            format!("{{\"keys\":[],\"x\":\"{}\"}}", "a".repeat(MAX_BODY)),
        );
        let e = Guarded::new(true)
            .fetch(&format!("http://127.0.0.1:{big}/"))
            .await
            .unwrap_err();
        assert!(e.0.contains("too large"), "{e}");
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_a_private_address_is_refused_before_connecting() {
        let pinned = |ip: &str| {
            Guarded::with_resolver(
                false,
                Arc::new(ssrf::PinnedResolver {
                    local_mode: false,
                    names: vec![("jwks.client.test".into(), ip.parse().unwrap())],
                }),
            )
        };
        for ip in ["10.0.0.7", "169.254.169.254", "127.0.0.1", "fd00:ec2::254"] {
            let e = pinned(ip)
                .fetch("https://jwks.client.test/jwks.json")
                .await
                .unwrap_err();
            assert!(e.0.contains("not one keygate calls"), "{ip}: {e}");
        }
        // A name not pinned does not resolve: the resolver was asked, and nothing was called.
        let e = pinned("10.0.0.7")
            .fetch("https://other.client.test/jwks.json")
            .await
            .unwrap_err();
        assert!(e.0.contains("could not be reached"), "{e}");
    }

    #[tokio::test]
    async fn a_host_that_never_answers_holds_a_fetch_two_seconds_at_most() {
        assert!(CONNECT_TIMEOUT <= Duration::from_secs(1) && TIMEOUT <= Duration::from_secs(2));
        // Accepts the connection (the kernel's backlog) and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let started = std::time::Instant::now();
        let e = Guarded::new(true)
            .fetch(&format!("http://127.0.0.1:{port}/jwks"))
            .await
            .unwrap_err();
        let took = started.elapsed();
        drop(listener);
        assert!(e.0.contains("in time"), "{e}");
        // The fetch gave up by its own timeout (the constants above say how soon); the bound only
        // tells a timeout from a hang, with room for a loaded machine.
        assert!(took < Duration::from_secs(9), "{took:?}");
    }
}
