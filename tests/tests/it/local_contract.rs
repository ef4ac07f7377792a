//! docs/LOCAL.md: the operator routes and `GET /api/whoami`, as outside tests drive them,
//! on the embedded default and on the local stack.

use std::time::Duration;

use keygate_e2e::{Backend, Server};

async fn operator_routes_and_whoami(backend: Backend) {
    let s = Server::start(backend).await;
    let (account, owner, key) = s.create_account("Acme", "owner@acme.test").await;
    assert!(account.starts_with("acc_") && owner.starts_with("usr_"));

    let (status, me) = s.whoami(&key).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["accountId"], account);
    assert_eq!(me["subjectId"], owner);
    assert_eq!(me["subjectType"], "owner");
    assert_eq!(me["authMethod"], "API_KEY");

    let (status, user) = s
        .call(
            s.http
                .post(s.url(&format!("/_local/accounts/{account}/users")))
                .json(
                    &serde_json::json!({"email": "dev@acme.test", "permissions": ["API_ACCESS"]}),
                ),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let (status, me) = s.whoami(user["apiKey"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(me["subjectType"], "user");
    assert_eq!(me["subjectId"], user["userId"]);

    // A key that is not one, and no key at all: 401 with the platform's error body.
    let (status, err) = s.whoami(&"A".repeat(43)).await;
    assert_eq!(status, 401);
    assert_eq!(err["messageKey"], "error.unauthorised");
    let (status, _) = s.call(s.http.get(s.url("/api/whoami"))).await;
    assert_eq!(status, 401);

    // Bad operator input: 400/404/409 with JSON, nothing created.
    let (status, _) = s
        .call(
            s.http
                .post(s.url("/_local/accounts"))
                .json(&serde_json::json!({"name": "", "ownerEmail": "x@y.co"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = s
        .call(s.http.post(s.url("/_local/accounts")).body("{not json"))
        .await;
    assert_eq!(status, 400);
    let (status, _) = s
        .call(
            s.http
                .post(s.url("/_local/accounts/acc_aaaaaaaaaaaaaaaa/users"))
                .json(&serde_json::json!({"email": "a@b.co"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .call(
            s.http
                .post(s.url(&format!("/_local/accounts/{account}/users")))
                .json(&serde_json::json!({"email": "DEV@acme.test"})),
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_routes_and_whoami_in_memory() {
    operator_routes_and_whoami(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_routes_and_whoami_on_the_stack() {
    operator_routes_and_whoami(Backend::Stack).await;
}

async fn events_reach_the_webhooks_handler(backend: Backend) {
    let s = Server::start(backend).await;
    let (account, _, _) = s.create_account("Acme", "owner@acme.test").await;
    let good = serde_json::json!({
        "id": "evt_1", "accountId": account, "name": "PACKAGE_CREATE", "packageId": "pkg1",
        "documentId": null, "sessionUser": "u", "message": null, "createdDate": "2026-11-26T10:00:00Z"
    });
    let (status, _) = s
        .call(s.http.post(s.url("/_local/events")).json(&good))
        .await;
    assert_eq!(status, 202);
    let (status, _) = s
        .call(
            s.http
                .post(s.url("/_local/events"))
                .body(r#"{"id":"x","name":"NOPE"}"#),
        )
        .await;
    assert_eq!(status, 202, "enqueued as a producer's message would be");

    // The in-process event source feeds the handler; the poison message reaches the DLQ.
    let dead = loop {
        let got = s
            .queues()
            .dead_letters
            .receive(10, Duration::from_secs(2))
            .await
            .unwrap();
        if !got.is_empty() {
            break got;
        }
    };
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attributes["reason"], "malformed");
    assert!(dead[0].body.contains("NOPE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_webhooks_handler_in_memory() {
    tokio::time::timeout(
        Duration::from_secs(30),
        events_reach_the_webhooks_handler(Backend::Memory),
    )
    .await
    .expect("the poison message reaches the DLQ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_webhooks_handler_on_the_stack() {
    tokio::time::timeout(
        Duration::from_secs(60),
        events_reach_the_webhooks_handler(Backend::Stack),
    )
    .await
    .expect("the poison message reaches the DLQ");
}

#[tokio::test]
async fn jwks_and_unknown_routes() {
    let s = Server::start(Backend::Memory).await;
    let (status, jwks) = s.call(s.http.get(s.url("/.well-known/jwks.json"))).await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    let (status, err) = s.call(s.http.get(s.url("/nope"))).await;
    assert_eq!(status, 404);
    assert_eq!(err["code"], 404);
}
