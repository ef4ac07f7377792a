//! Helpers for the end-to-end tests: a local API server started in process on `127.0.0.1:0`,
//! on in-memory adapters or on the local stack, and a small JSON client.

use std::sync::Arc;

use keygate::clock::{Clock, ManualClock};
use keygate::config::Config;
use keygate::Services;
use keygate_local::Running;
use serde_json::Value;

pub struct Server {
    pub backend: Backend,
    /// The in-memory table, when the server runs on one.
    memory: Option<Arc<keygate::store::MemoryTable>>,
    pub running: Running,
    pub http: reqwest::Client,
    pub clock: ManualClock,
}

/// Which adapters the server runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Memory,
    Stack,
}

impl Server {
    pub async fn start(backend: Backend) -> Self {
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
                let table = Arc::new(keygate::store::MemoryTable::new());
                s.table = table.clone();
                memory = Some(table);
                s
            }
            Backend::Stack => {
                keygate::testing::Stack::get()
                    .services(config, shared)
                    .await
            }
        };
        let running = keygate_local::serve(listener, services).expect("serve");
        Self {
            backend,
            memory,
            running,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            clock,
        }
    }

    pub fn services(&self) -> &Services {
        &self.running.services
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
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
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
                let stack = keygate::testing::Stack::get();
                let client = stack.dynamodb().await;
                let mut out = String::new();
                let mut start = None;
                loop {
                    let page = client
                        .scan()
                        .table_name(stack.var("KEYGATE_TABLE"))
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
