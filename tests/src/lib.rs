//! Helpers for the end-to-end tests: a local API server started in process on `127.0.0.1:0`,
//! on in-memory adapters or on the local stack, and a small JSON client.

use std::sync::Arc;

use keygate::clock::{Clock, ManualClock};
use keygate::config::Config;
use keygate::Services;
use keygate_local::Running;
use serde_json::Value;

pub struct Server {
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let clock = ManualClock::starting_now();
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let config = Config::local(base);
        let services: Services = match backend {
            Backend::Memory => Services::in_memory(config, shared).await,
            Backend::Stack => keygate::testing::Stack::get().services(config, shared).await,
        };
        let running = keygate_local::serve(listener, services).expect("serve");
        Self {
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

    pub async fn whoami(&self, api_key: &str) -> (u16, Value) {
        self.call(
            self.http
                .get(self.url("/api/whoami"))
                .header("authorization", format!("Basic {api_key}")),
        )
        .await
    }
}
