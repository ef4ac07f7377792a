//! Helpers for the end-to-end tests: a local API server started in process on `127.0.0.1:0`,
//! on in-memory adapters or on the local stack, and a small JSON client.

pub mod browser;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use keygate_core::kernel::clock::{Clock, ManualClock};
use keygate_core::kernel::config::Config;
use keygate_core::ports::services::Queues;
use keygate_core::testing::dpop::ProofKey;
use keygate_core::Services;
use keygate_local::Running;
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, ClientSecret, RedirectUrl, TokenUrl};
use serde_json::{json, Value};

/// Runs each named `async fn(Backend)` once per backend, as `<name>::in_memory` and
/// `<name>::on_dynamodb_local`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn in_memory() {
                super::$name($crate::Backend::Memory).await;
            }
            #[tokio::test]
            async fn on_dynamodb_local() {
                super::$name($crate::Backend::Stack).await;
            }
        }
    )*};
}

pub struct Server {
    pub backend: Backend,
    /// The in-memory table, when the server runs on one.
    memory: Option<Arc<keygate_core::ports::store::MemoryTable>>,
    pub running: Running,
    /// Requests from this server's own loopback address ([`Server::source`]).
    pub http: reqwest::Client,
    /// The loopback address `http` sends from: each server its own, so the per-source lockout
    /// counters of tests sharing the stack's table never add up.
    pub source: IpAddr,
    pub clock: ManualClock,
}

/// A loopback address of its own (`127.x.y.z`; the whole /8 is loopback on Linux).
pub fn fresh_loopback() -> IpAddr {
    let n = keygate_core::kernel::crypto::Secret::generate();
    let b = n.expose().as_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 1 + b[0] % 250, b[1], 1 + b[2] % 250))
}

/// An HTTP client that does not follow redirects, sending from `source`.
pub fn client_from(source: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(source)
        .build()
        .expect("client")
}

/// Which adapters the server runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Memory,
    Stack,
}

impl Server {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_, _| {}).await
    }

    /// [`Server::start`], with the services and queues changed by `tweak` before the server
    /// starts (a queue of its own, a read cache…).
    pub async fn start_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Services, &mut Queues),
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let clock = ManualClock::starting_now();
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let config = Config::local(base);
        let mut memory = None;
        let services: Services = match backend {
            Backend::Memory => {
                let mut s = Services::in_memory(config, shared).await;
                let table = Arc::new(keygate_core::ports::store::MemoryTable::new());
                s.table = table.clone();
                memory = Some(table);
                s
            }
            Backend::Stack => {
                keygate_aws::testing::Stack::get()
                    .services(config, shared)
                    .await
            }
        };
        let mut queues = match backend {
            Backend::Memory => Queues::in_memory(),
            Backend::Stack => keygate_aws::testing::Stack::get().queues().await,
        };
        let mut services = services;
        tweak(&mut services, &mut queues);
        let running = keygate_local::serve(listener, services, queues).expect("serve");
        let source = fresh_loopback();
        Self {
            backend,
            memory,
            running,
            http: client_from(source),
            source,
            clock,
        }
    }

    pub fn services(&self) -> &Services {
        &self.running.services
    }

    pub fn queues(&self) -> &Queues {
        &self.running.queues
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.base_url(), path)
    }

    /// Sends a request and returns status and JSON body (`Value::Null` when not JSON).
    pub async fn call(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `POST /_local/accounts` → (accountId, ownerUserId, apiKey).
    pub async fn create_account(&self, name: &str, email: &str) -> (String, String, String) {
        let (status, v) = self
            .call(
                self.http
                    .post(self.url("/_local/accounts"))
                    .json(&serde_json::json!({"name": name, "ownerEmail": email})),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        (
            v["accountId"].as_str().expect("accountId").to_owned(),
            v["ownerUserId"].as_str().expect("ownerUserId").to_owned(),
            v["apiKey"].as_str().expect("apiKey").to_owned(),
        )
    }

    /// A request with `Authorization: Basic <api_key>` (when given) and a JSON body (when given).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        api_key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.api_from(&self.http, method, path, api_key, body).await
    }

    /// [`Server::api`] through another client (another source address).
    pub async fn api_from(
        &self,
        http: &reqwest::Client,
        method: &str,
        path: &str,
        api_key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = http.request(method, self.url(path));
        if let Some(k) = api_key {
            req = req.header("authorization", format!("Basic {k}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.call(req).await
    }

    /// Every item of the backing table as text (a "dump": tests look for leaked secrets in it).
    pub async fn dump_table(&self) -> String {
        match &self.memory {
            Some(table) => table.dump().iter().map(|i| format!("{i:?}\n")).collect(),
            None => {
                let stack = keygate_aws::testing::Stack::get();
                let client = stack.dynamodb().await;
                let mut out = String::new();
                for table in ["KEYGATE_TABLE", "KEYGATE_VOLATILE_TABLE"] {
                    out.push_str(&scan(&client, stack.var(table)).await);
                }
                out
            }
        }
    }

    pub async fn whoami(&self, api_key: &str) -> (u16, Value) {
        self.call(
            self.http
                .get(self.url("/api/whoami"))
                .header("authorization", format!("Basic {api_key}")),
        )
        .await
    }
}

/// The `oauth2` crate's basic client with an authorization and a token endpoint set, as the
/// end-to-end tests build it.
pub type OAuthClient = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// An OAUTH2 account with one confidential client; returns (owner key, client id, secret).
pub async fn oauth_account(s: &Server, extra: Value) -> (String, String, String) {
    let (_, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&owner_key),
        Some(json!({"method": "OAUTH2"})),
    )
    .await;
    let mut body = json!({"name": "Portal", "scopes": ["Basic", "ISign"], "redirectUris": ["https://portal.example/cb"]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, c) = s
        .api("POST", "/api/oauth2/clients", Some(&owner_key), Some(body))
        .await;
    assert_eq!(status, 201, "{c}");
    (
        owner_key,
        c["clientId"].as_str().unwrap().to_owned(),
        c["clientSecret"].as_str().unwrap_or_default().to_owned(),
    )
}

/// An OAUTH2 account with one client that authenticates with `key` (`private_key_jwt`, its
/// public key registered inline), `extra` merged into the creation; returns (owner key, client
/// id).
pub async fn key_account(s: &Server, key: &ProofKey, extra: Value) -> (String, String) {
    let mut body = json!({
        "tokenEndpointAuthMethod": "private_key_jwt",
        "jwks": {"keys": [key.public_jwk()]},
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (owner_key, id, secret) = oauth_account(s, body).await;
    assert!(secret.is_empty(), "a client with keys has no secret");
    (owner_key, id)
}

/// The issuer identifier of `s`: what a client assertion names as its `aud`.
pub fn issuer(s: &Server) -> String {
    s.services().config.issuer.clone()
}

/// How a test's client authenticates to an OAuth route.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// `Authorization: Basic` with this secret.
    Secret(&'a str),
    /// A fresh client assertion (`private_key_jwt`) signed with this key, `aud` the issuer.
    Key(&'a ProofKey),
    /// Nothing (a public client names itself with `client_id` in the form).
    Public,
}

impl<'a> From<Option<&'a str>> for Auth<'a> {
    fn from(secret: Option<&'a str>) -> Self {
        secret.map_or(Auth::Public, Auth::Secret)
    }
}

impl<'a> From<&'a str> for Auth<'a> {
    fn from(secret: &'a str) -> Self {
        Auth::Secret(secret)
    }
}

impl<'a> From<&'a String> for Auth<'a> {
    fn from(secret: &'a String) -> Self {
        Auth::Secret(secret)
    }
}

impl<'a> From<&'a ProofKey> for Auth<'a> {
    fn from(key: &'a ProofKey) -> Self {
        Auth::Key(key)
    }
}

impl Auth<'_> {
    /// `req` carrying the form `form` of client `id`, authenticated this way.
    pub fn apply(
        self,
        s: &Server,
        id: &str,
        req: reqwest::RequestBuilder,
        form: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        match self {
            Auth::Secret(secret) => req.basic_auth(id, Some(secret)).form(form),
            Auth::Public => req.form(form),
            Auth::Key(key) => {
                let assertion = key.assertion(id, &issuer(s), s.clock.now_for_tests(), None);
                let mut fields: Vec<(&str, &str)> = form.to_vec();
                fields.push((
                    "client_assertion_type",
                    keygate_core::identity::assertion::ASSERTION_TYPE,
                ));
                fields.push(("client_assertion", &assertion));
                req.form(&fields)
            }
        }
    }
}

pub fn oauth_client(s: &Server, id: &str, secret: Option<&str>) -> OAuthClient {
    let mut c = BasicClient::new(ClientId::new(id.to_owned()))
        .set_auth_uri(AuthUrl::new(s.url("/api/oauth2/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(s.url("/api/oauth2/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new("https://portal.example/cb".into()).unwrap());
    if let Some(sec) = secret {
        c = c.set_client_secret(ClientSecret::new(sec.to_owned()));
    }
    c
}

pub fn http_client() -> oauth2::reqwest::Client {
    oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs the owner in through `/auth` and returns the session cookie header value.
pub async fn sign_in(s: &Server, owner_key: &str) -> String {
    let (status, minted) = s
        .api(
            "POST",
            "/api/authenticationTokens/user",
            Some(owner_key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{minted}");
    let value = minted["value"].as_str().unwrap();
    let resp = s
        .http
        .get(s.url("/auth"))
        .query(&[
            ("authenticationToken", value),
            ("target", "/api/oauth2/clients"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

/// Loads the consent page and submits it; returns the redirect `Location`.
pub async fn consent(s: &Server, authorize_url: &str, cookie: &str, decision: &str) -> url::Url {
    let fields = consent_form(s, authorize_url, cookie).await;
    decide(s, cookie, fields, decision).await
}

/// Loads the consent page of `authorize_url`: the fields of its form.
pub async fn consent_form(s: &Server, authorize_url: &str, cookie: &str) -> Vec<(String, String)> {
    let page = s
        .http
        .get(authorize_url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<li>Basic</li>"), "scopes listed");
    let mut fields: Vec<(String, String)> = Vec::new();
    for input in html.split("<input ").skip(1) {
        let attr = |name: &str| {
            input
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(|v| {
                    v.replace("&amp;", "&")
                        .replace("&quot;", "\"")
                        .replace("&#39;", "'")
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                })
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            fields.push((n, v));
        }
    }
    fields
}

/// Submits a consent form's `fields` with `decision`; returns the redirect `Location`.
pub async fn decide(
    s: &Server,
    cookie: &str,
    mut fields: Vec<(String, String)>,
    decision: &str,
) -> url::Url {
    fields.push(("decision".into(), decision.into()));
    let resp = s
        .http
        .post(s.url("/api/oauth2/authorize"))
        .header("cookie", cookie)
        .form(&fields)
        .send()
        .await
        .unwrap();
    // FAPI 2.0 §5.3.2.2: the answer to the form's POST is a 303 (never a 307 re-posting it).
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap()
}

pub fn param(u: &url::Url, name: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `POST /api/oauth2/token` with `form`, the client authenticated by Basic when a secret is given.
pub async fn token_request(
    s: &Server,
    http: &reqwest::Client,
    id: &str,
    secret: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = http.post(s.url("/api/oauth2/token")).form(form);
    if let Some(secret) = secret {
        req = req.basic_auth(id, Some(secret));
    }
    s.call(req).await
}

/// A client-credentials token request of the client `id` (`client_secret_basic`).
pub async fn client_credentials(s: &Server, id: &str, secret: &str) -> (u16, Value) {
    token_request(
        s,
        &s.http,
        id,
        Some(secret),
        &[("grant_type", "client_credentials")],
    )
    .await
}

/// A signed request's `X-CUSTOM-SIGNATURE`, computed as an integrator would (not with keygate's
/// code): base64(HMAC-SHA256(secret, key + "\n" + date + "\n" + nonce)).
pub fn signature(secret: &str, key: &str, date: &str, nonce: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{key}\n{date}\n{nonce}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Approves a code request of `id` (redirect `https://portal.example/cb`) with the session
/// `cookie`: the code.
pub async fn approved_code(s: &Server, cookie: &str, id: &str, scope: &str) -> String {
    let url = reqwest::Url::parse_with_params(
        &s.url("/api/oauth2/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", "https://portal.example/cb"),
            ("scope", scope),
            ("state", "st"),
        ],
    )
    .unwrap();
    let back = consent(s, url.as_str(), cookie, "approve").await;
    param(&back, "code").expect("a code")
}

/// A client app of `key`'s user, named CRM: (id, secret).
pub async fn client_app(s: &Server, key: &str) -> (String, String) {
    let (status, app) = s
        .api(
            "POST",
            "/api/clientApps",
            Some(key),
            Some(json!({"name": "CRM"})),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    (
        app["clientId"].as_str().unwrap().to_owned(),
        app["secret"].as_str().unwrap().to_owned(),
    )
}

/// A client app's API token (`POST /apitoken/clientApp/accessToken`), as `Bearer …`.
pub async fn app_bearer(s: &Server, id: &str, secret: &str) -> String {
    let (status, tok) = s
        .api(
            "POST",
            "/apitoken/clientApp/accessToken",
            None,
            Some(json!({"clientId": id, "secret": secret, "type": "OWNER"})),
        )
        .await;
    assert_eq!(status, 200, "{tok}");
    format!("Bearer {}", tok["accessToken"].as_str().unwrap())
}

/// Every item of one table as text.
async fn scan(client: &aws_sdk_dynamodb::Client, table: &str) -> String {
    let mut out = String::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            out.push_str(&format!("{item:?}\n"));
        }
        match page.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
    }
    out
}
