//! The local API server, embedded default, started in this process on `127.0.0.1:0`, and the
//! fixtures and requests the load and call-count phases send it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use keygate_core::kernel::clock::SystemClock;
use keygate_core::kernel::config::Config;
use keygate_core::ports::store::{CachedTable, Table};
use keygate_core::Services;
use keygate_local::Running;
use serde_json::json;
use sha2::Sha256;

use crate::client::{query_value, Conn, Req};

/// A running server.
pub struct Server {
    pub running: Running,
}

/// Accounts and credentials the flows use.
pub struct Fixture {
    /// An OAuth client of an `OAUTH2` account, registered on `app.example.com`.
    pub client_id: String,
    pub client_secret: String,
    /// Owner API key of an `API_KEY` account (mints authentication tokens).
    pub api_key: String,
}

impl Server {
    /// The embedded default (in-memory adapters, generated keys, system clock) on `table`,
    /// behind the read cache as `Services` builds it (`read_cache`), or without it.
    pub async fn start(table: Arc<dyn Table>, read_cache: bool) -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut config = Config::local(format!("http://{addr}"));
        if !read_cache {
            config.read_cache = Duration::ZERO;
        }
        let ttl = config.read_cache;
        let mut services = Services::in_memory(config, Arc::new(SystemClock)).await;
        services.table = if ttl.is_zero() {
            table
        } else {
            Arc::new(CachedTable::new(table, ttl))
        };
        let running = keygate_local::serve(
            listener,
            services,
            keygate_core::ports::services::Queues::in_memory(),
        )
        .map_err(|e| format!("serve: {e}"))?;
        Ok(Self { running })
    }

    pub fn services(&self) -> &Services {
        &self.running.services
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// A new keep-alive connection to the server.
    pub async fn conn(&self) -> Result<Conn, String> {
        Conn::open(self.addr()).await
    }

    /// An `OAUTH2` account with a client on `app.example.com`, and an `API_KEY` account.
    pub async fn fixture(&self) -> Result<Fixture, String> {
        fixture(self.addr()).await
    }
}

/// [`Server::fixture`] on a server at `addr` (in this process or not).
pub async fn fixture(addr: SocketAddr) -> Result<Fixture, String> {
    let mut c = Conn::open(addr).await?;
    let oauth_owner_key = account(&mut c, "Bench OAuth", "oauth@bench.test").await?;
    c.expect(
        Req::put("/api/account/authSettings")
            .header("authorization", format!("Basic {oauth_owner_key}"))
            .json(&json!({"method": "OAUTH2"})),
        200,
    )
    .await
    .map_err(|e| format!("switch to OAUTH2: {e}"))?;
    let body = c
        .expect(
            Req::post("/api/oauth2/clients")
                .header("authorization", format!("Basic {oauth_owner_key}"))
                .json(&json!({"name": "Bench", "scopes": ["Basic"], "domain": "app.example.com"})),
            201,
        )
        .await
        .map_err(|e| format!("create OAuth client: {e}"))?;
    let client: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("create OAuth client: {e}"))?;
    let field = |name: &str| {
        client[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("create OAuth client: no '{name}' in {client}"))
    };
    Ok(Fixture {
        client_id: field("clientId")?,
        client_secret: field("clientSecret")?,
        api_key: account(&mut c, "Bench Keys", "keys@bench.test").await?,
    })
}

/// `POST /_local/accounts` → the owner's API key.
async fn account(c: &mut Conn, name: &str, email: &str) -> Result<String, String> {
    c.expect_field(
        Req::post("/_local/accounts").json(&json!({"name": name, "ownerEmail": email})),
        201,
        "apiKey",
    )
    .await
    .map_err(|e| format!("create account: {e}"))
}

// --- the requests --------------------------------------------------------------------------------

/// `POST /api/oauth2/token`, client credentials in `Authorization: Basic` (→ 200).
pub fn token_request(f: &Fixture) -> Req {
    // Ids and secrets are base64url, so the RFC 6749 form-encoding step changes nothing.
    let basic = STANDARD.encode(format!("{}:{}", f.client_id, f.client_secret));
    Req::post("/api/oauth2/token")
        .header("authorization", format!("Basic {basic}"))
        .form("grant_type=client_credentials")
}

/// A DPoP-bound client-credentials access token of `key` (the proof names the server's own
/// token URL, `base` being its origin).
pub async fn dpop_token(
    c: &mut Conn,
    f: &Fixture,
    base: &str,
    key: &keygate_core::testing::dpop::ProofKey,
) -> Result<String, String> {
    let now = unix_now();
    let proof = key.proof("POST", &format!("{base}/api/oauth2/token"), now, None);
    c.expect_field(token_request(f).header("dpop", proof), 200, "access_token")
        .await
}

/// `GET /api/whoami` with a DPoP-bound token and a fresh proof (→ 200).
pub fn dpop_request(base: &str, key: &keygate_core::testing::dpop::ProofKey, token: &str) -> Req {
    let proof = key.proof(
        "GET",
        &format!("{base}/api/whoami"),
        unix_now(),
        Some(token),
    );
    Req::get("/api/whoami")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A client-credentials access token.
pub async fn access_token(c: &mut Conn, f: &Fixture) -> Result<String, String> {
    c.expect_field(token_request(f), 200, "access_token").await
}

/// `GET /api/whoami` as a signed request with a fresh nonce (→ 200).
pub fn signed_request(f: &Fixture, bearer: &str) -> Req {
    signed_headers(f, bearer)
        .into_iter()
        .fold(Req::get("/api/whoami"), |r, (k, v)| r.header(k, v))
}

/// `GET /api/whoami` with a Bearer token (→ 200).
pub fn bearer_request(bearer: &str) -> Req {
    Req::get("/api/whoami").header("authorization", format!("Bearer {bearer}"))
}

/// `GET /api/whoami` with an API key (→ 200).
pub fn api_key_request(key: &str) -> Req {
    Req::get("/api/whoami").header("authorization", format!("Basic {key}"))
}

/// `POST /api/authenticationTokens/signer/singleUse` (→ 200 `{"value"}`).
pub fn mint_request(f: &Fixture) -> Req {
    Req::post("/api/authenticationTokens/signer/singleUse")
        .header("authorization", format!("Basic {}", f.api_key))
        .json(&json!({"packageId": "pkg-bench", "signerId": "signer@bench.test"}))
}

/// Mints a single-use signer token.
pub async fn mint(c: &mut Conn, f: &Fixture) -> Result<String, String> {
    c.expect_field(mint_request(f), 200, "value").await
}

/// `GET /access?sessionToken=…` (→ 302 and a session cookie).
pub fn redeem_request(token: &str) -> Req {
    Req::get(format!("/access?sessionToken={}", query_value(token)))
}

/// `GET /.well-known/jwks.json` (→ 200).
pub fn jwks_request() -> Req {
    Req::get("/.well-known/jwks.json")
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
