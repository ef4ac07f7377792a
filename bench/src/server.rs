//! The local API server, embedded default, started in this process on `127.0.0.1:0`, and the
//! fixtures and requests the load and call-count phases send it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use keygate::clock::SystemClock;
use keygate::config::Config;
use keygate::store::Table;
use keygate::Services;
use keygate_local::Running;
use serde_json::{json, Value};
use sha2::Sha256;

/// A running server and a keep-alive client for it.
pub struct Server {
    pub running: Running,
    pub http: reqwest::Client,
}

/// Accounts and credentials the flows use.
pub struct Fixture {
    /// An OAuth client of that account on `app.example.com`.
    pub client_id: String,
    pub client_secret: String,
    /// Owner API key of an `API_KEY` account (mints authentication tokens).
    pub api_key: String,
}

/// A keep-alive HTTP/1.1 client for loopback: no proxy, no redirects followed.
pub fn client(pool: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        .http1_only()
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

impl Server {
    /// The embedded default (in-memory adapters, generated keys, system clock) on `table`.
    pub async fn start(table: Arc<dyn Table>, pool: usize) -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let config = Config::local(format!("http://{addr}"));
        let mut services = Services::in_memory(config, Arc::new(SystemClock)).await;
        services.table = table;
        let running =
            keygate_local::serve(listener, services).map_err(|e| format!("serve: {e}"))?;
        Ok(Self {
            running,
            http: client(pool)?,
        })
    }

    pub fn services(&self) -> &Services {
        &self.running.services
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    /// Sends and expects `status`; returns the JSON body (`Null` when not JSON).
    pub async fn expect(&self, req: reqwest::RequestBuilder, status: u16) -> Result<Value, String> {
        let resp = req.send().await.map_err(|e| format!("request: {e}"))?;
        let got = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| format!("body: {e}"))?;
        if got != status {
            return Err(format!("expected {status}, got {got}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `POST /_local/accounts` → the owner's API key.
    async fn account(&self, name: &str, email: &str) -> Result<String, String> {
        let v = self
            .expect(
                self.http
                    .post(self.url("/_local/accounts"))
                    .json(&json!({"name": name, "ownerEmail": email})),
                201,
            )
            .await?;
        field(&v, "apiKey")
    }

    /// An `OAUTH2` account with a client on `app.example.com`, and an `API_KEY` account.
    pub async fn fixture(&self) -> Result<Fixture, String> {
        let oauth_owner_key = self.account("Bench OAuth", "oauth@bench.test").await?;
        self.expect(
            self.http
                .put(self.url("/api/account/authSettings"))
                .header("authorization", format!("Basic {oauth_owner_key}"))
                .json(&json!({"method": "OAUTH2"})),
            200,
        )
        .await?;
        let resp = self
            .http
            .post(self.url("/api/oauth2/clients"))
            .header("authorization", format!("Basic {oauth_owner_key}"))
            .json(&json!({"name": "Bench", "scopes": ["Basic"], "domain": "app.example.com"}))
            .send()
            .await
            .map_err(|e| format!("create OAuth client: {e}"))?;
        let status = resp.status();
        let c: Value = resp
            .json()
            .await
            .map_err(|e| format!("create OAuth client: {e}"))?;
        if !status.is_success() {
            return Err(format!("create OAuth client: {status} {c}"));
        }
        let api_key = self.account("Bench Keys", "keys@bench.test").await?;
        Ok(Fixture {
            client_id: field(&c, "clientId")?,
            client_secret: field(&c, "clientSecret")?,
            api_key,
        })
    }

    // --- the requests --------------------------------------------------------------------------

    /// `POST /api/oauth2/token`, client credentials in `Authorization: Basic` (→ 200).
    pub fn token_request(&self, f: &Fixture) -> reqwest::RequestBuilder {
        // Ids and secrets are base64url, so the RFC 6749 form-encoding step changes nothing.
        self.http
            .post(self.url("/api/oauth2/token"))
            .basic_auth(&f.client_id, Some(&f.client_secret))
            .form(&[("grant_type", "client_credentials")])
    }

    /// A client-credentials access token.
    pub async fn access_token(&self, f: &Fixture) -> Result<String, String> {
        let v = self.expect(self.token_request(f), 200).await?;
        field(&v, "access_token")
    }

    /// `GET /api/whoami` as a signed request with a fresh nonce (→ 200).
    pub fn signed_request(&self, f: &Fixture, bearer: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.get(self.url("/api/whoami"));
        for (k, v) in signed_headers(f, bearer) {
            req = req.header(k, v);
        }
        req
    }

    /// `GET /api/whoami` with a Bearer token (→ 200).
    pub fn bearer_request(&self, bearer: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url("/api/whoami"))
            .header("authorization", format!("Bearer {bearer}"))
    }

    /// `GET /api/whoami` with an API key (→ 200).
    pub fn api_key_request(&self, key: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url("/api/whoami"))
            .header("authorization", format!("Basic {key}"))
    }

    /// `POST /api/authenticationTokens/signer/singleUse` (→ 200 `{"value"}`).
    pub fn mint_request(&self, f: &Fixture) -> reqwest::RequestBuilder {
        self.http
            .post(self.url("/api/authenticationTokens/signer/singleUse"))
            .header("authorization", format!("Basic {}", f.api_key))
            .json(&json!({"packageId": "pkg-bench", "signerId": "signer@bench.test"}))
    }

    /// Mints a single-use signer token.
    pub async fn mint(&self, f: &Fixture) -> Result<String, String> {
        let v = self.expect(self.mint_request(f), 200).await?;
        field(&v, "value")
    }

    /// `GET /access?sessionToken=…` (→ 302 and a session cookie).
    pub fn redeem_request(&self, token: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url("/access"))
            .query(&[("sessionToken", token)])
    }

    /// `GET /.well-known/jwks.json` (→ 200).
    pub fn jwks_request(&self) -> reqwest::RequestBuilder {
        self.http.get(self.url("/.well-known/jwks.json"))
    }
}

fn field(v: &Value, name: &str) -> Result<String, String> {
    v[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no '{name}' in {v}"))
}

/// Nonces: unique for the life of the process, short of the 32-character limit.
static NONCE: AtomicU64 = AtomicU64::new(0);

/// The four `X-CUSTOM-*` headers, the Bearer token and the Referer of a signed request, as a
/// client computes them from the spec: base64(HMAC-SHA256(secret, id "\n" date "\n" nonce)).
pub fn signed_headers(f: &Fixture, bearer: &str) -> [(&'static str, String); 6] {
    let date = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string();
    let nonce = format!(
        "kgb{:x}n{}",
        std::process::id(),
        NONCE.fetch_add(1, Ordering::Relaxed)
    );
    let mut mac =
        Hmac::<Sha256>::new_from_slice(f.client_secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{}\n{date}\n{nonce}", f.client_id).as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    [
        ("x-custom-api-key", f.client_id.clone()),
        ("x-custom-date", date),
        ("x-custom-nonce", nonce),
        ("x-custom-signature", signature),
        ("authorization", format!("Bearer {bearer}")),
        ("referer", "https://app.example.com/".to_owned()),
    ]
}
