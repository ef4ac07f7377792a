//! The `auth-tokens` function: OneSpan-style authentication tokens and the sessions they open
//! (docs/CREDENTIALS.md; the domain is `keygate_core::authtokens`).
//!
//! - [`mint`]: `POST /api/authenticationTokens/{user,sender,signer/multiUse,signer/singleUse}`,
//!   for a manager of the account; errors are the platform's JSON body.
//! - [`browser`]: `GET /auth` and `GET /access`, which a browser follows: they set the session
//!   cookie and redirect; errors are a plain HTML page, never a redirect.

/// The DynamoDB actions this function's code makes: it authenticates managers (one batch per bearer
/// token, a nonce per signed request, failure counters), mints tokens, consumes single-use ones
/// in a transaction (a conditional delete, the tombstone and the session). Mirrored by its IAM statement in
/// `template.yaml` (`AuthTokensFunction`), which the routes test compares with this list.
pub const DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:TransactWriteItems",
];

pub mod browser;
pub mod mint;

use keygate_core::Services;
use keygate_http::handler;
use keygate_http::routes::{route, Access, Action, Function, Route};
use keygate_http::Dialect::{Html, Platform};
use lambda_http::{Body, Request, Response};

/// The function's routes (see `keygate_http::routes`).
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route("POST", "/api/authenticationTokens/user", Access::Api(Action::Mint), Platform, handler!(mint::user, request)),
    route("POST", "/api/authenticationTokens/sender", Access::Api(Action::Mint), Platform, handler!(mint::sender, request)),
    route("POST", "/api/authenticationTokens/signer/multiUse", Access::Api(Action::Mint), Platform, handler!(mint::signer_multi_use, request)),
    route("POST", "/api/authenticationTokens/signer/singleUse", Access::Api(Action::Mint), Platform, handler!(mint::signer_single_use, request)),
    route("GET", "/auth", Access::Public, Html, handler!(browser::auth, request)),
    route("GET", "/access", Access::Public, Html, handler!(browser::access, request)),
];

pub const FUNCTION: Function = Function {
    name: "auth-tokens",
    resource: "AuthTokensFunction",
    routes: ROUTES,
};

/// Serves one request. Every expected failure is a 4xx answer; `Err` never leaves here.
pub async fn handle(
    services: &Services,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(keygate_http::routes::dispatch(&FUNCTION, services, req).await)
}

#[cfg(test)]
pub(crate) mod testing {
    //! A handler-level fixture: in-memory services whose table the test can dump.

    use std::sync::Arc;

    use keygate_core::accounts;
    use keygate_core::kernel::clock::ManualClock;
    use keygate_core::kernel::config::Config;
    use keygate_core::ports::store::MemoryTable;
    use keygate_core::Services;
    use lambda_http::{Body, Request, Response};

    pub const T0: i64 = 1_800_000_000;

    pub struct Fixture {
        pub services: Services,
        pub table: Arc<MemoryTable>,
        pub clock: ManualClock,
        pub account: accounts::Account,
        pub api_key: String,
    }

    pub async fn fixture(config: Config) -> Fixture {
        let clock = ManualClock::new(T0);
        let mut services = Services::in_memory(config.clone(), Arc::new(clock.clone())).await;
        let table = Arc::new(MemoryTable::new());
        services.table = table.clone();
        let ring = services.keys.ring().await;
        let new = accounts::create_account(
            &*table,
            ring.peppers(),
            &config,
            "Acme",
            "owner@acme.test",
            T0,
        )
        .await
        .expect("account");
        Fixture {
            services,
            table,
            clock,
            account: new.account,
            api_key: new.api_key.expose().to_owned(),
        }
    }

    impl Fixture {
        pub async fn call(&self, req: Request) -> Response<Body> {
            crate::handle(&self.services, req).await.expect("never Err")
        }

        pub fn post(&self, path: &str, body: &str) -> Request {
            lambda_http::http::Request::builder()
                .method("POST")
                .uri(path)
                .header("authorization", format!("Basic {}", self.api_key))
                .header("content-type", "application/json")
                .body(Body::Text(body.to_owned()))
                .expect("request")
        }

        pub fn get(&self, path_and_query: &str) -> Request {
            lambda_http::http::Request::builder()
                .method("GET")
                .uri(path_and_query)
                .body(Body::Empty)
                .expect("request")
        }
    }

    pub fn text(resp: &Response<Body>) -> String {
        match resp.body() {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    pub fn json(resp: &Response<Body>) -> serde_json::Value {
        serde_json::from_str(&text(resp)).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use keygate_core::kernel::config::Config;

    #[tokio::test]
    async fn unknown_paths_are_404_and_other_methods_405() {
        let f = fixture(Config::local("http://127.0.0.1:3000")).await;
        for (req, status, reason) in [
            (
                f.get("/api/authenticationTokens/user"),
                405,
                "method_not_allowed",
            ),
            (f.post("/auth", ""), 405, "method_not_allowed"),
            (f.get("/nope"), 404, "route_unknown"),
            (f.get("/auth/"), 404, "route_unknown"),
        ] {
            let r = f.call(req).await;
            assert_eq!(r.status(), status);
            assert_eq!(json(&r)["reason"], reason);
        }
    }

    /// The sample API Gateway event of `events/` (if present) reaches its route: its fake API
    /// key is refused with the platform's JSON body, not a 404 or a 5xx.
    #[tokio::test]
    async fn sample_event_is_served() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/auth-tokens.json");
        let Ok(sample) = std::fs::read_to_string(path) else {
            eprintln!("events/auth-tokens.json not there yet: skipped");
            return;
        };
        let req = lambda_http::request::from_str(&sample).expect("a valid API Gateway event");
        let f = fixture(Config::local("http://127.0.0.1:3000")).await;
        let before = f.table.dump().len();
        let r = f.call(req).await;
        assert!(r.status().is_client_error(), "{}", r.status());
        assert_ne!(json(&r)["reason"], "route_unknown");
        assert_eq!(f.table.dump().len(), before);
    }
}
