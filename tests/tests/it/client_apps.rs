//! Every client-apps route on the in-memory backend and on DynamoDB Local.

use keygate_e2e::{Backend, Server};
use serde_json::{json, Value};

struct Account {
    id: String,
    key: String,
}

async fn account(s: &Server) -> Account {
    let (id, _, key) = s.create_account("Acme", "owner@acme.test").await;
    Account { id, key }
}

async fn user(s: &Server, a: &Account, email: &str, perms: &[&str]) -> String {
    let (status, v) = s
        .api(
            "POST",
            &format!("/_local/accounts/{}/users", a.id),
            None,
            Some(json!({"email": email, "permissions": perms})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    v["apiKey"].as_str().unwrap().to_owned()
}

async fn client_apps(backend: Backend) {
    let s = Server::start(backend).await;
    let a = account(&s).await;
    let k = Some(a.key.as_str());

    let (status, created) = s
        .api(
            "POST",
            "/api/clientApps",
            k,
            Some(json!({"name": "CRM sync"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["clientId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("app_"));
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "CRM sync");
    assert!(created["createdAt"].is_i64());

    let (status, one) = s
        .api("GET", &format!("/api/clientApps/{id}"), k, None)
        .await;
    assert_eq!(status, 200);
    assert!(one.get("secret").is_none(), "the secret is shown once");
    let (_, list) = s.api("GET", "/api/clientApps", k, None).await;
    assert_eq!(list["count"], 1);

    // Rotation with a grace period: a new secret, the old one's end date reported.
    let (status, rotated) = s
        .api(
            "POST",
            &format!("/api/clientApps/{id}/rotate"),
            k,
            Some(json!({"gracePeriodSeconds": 3600})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["secret"], secret);
    let now = s.clock.now_for_tests();
    assert_eq!(rotated["previousSecretExpiresAt"], now + 3600);
    let (status, _) = s
        .api(
            "POST",
            &format!("/api/clientApps/{id}/rotate"),
            k,
            Some(json!({"gracePeriodSeconds": 8 * 24 * 3600})),
        )
        .await;
    assert_eq!(status, 400, "grace above 7 days");

    // Secrets never stored in clear.
    let dump = s.dump_table().await;
    for secret in [&secret, rotated["secret"].as_str().unwrap(), &a.key] {
        assert!(!dump.contains(secret), "a secret is in the table dump");
    }

    // Another account sees a 404 for this id, never a leak.
    let (_, _, other_key) = s.create_account("Other", "o@other.test").await;
    let (status, _) = s
        .api(
            "GET",
            &format!("/api/clientApps/{id}"),
            Some(&other_key),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .api(
            "DELETE",
            &format!("/api/clientApps/{id}"),
            Some(&other_key),
            None,
        )
        .await;
    assert_eq!(status, 404);

    let (status, _) = s
        .api("DELETE", &format!("/api/clientApps/{id}"), k, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = s
        .api("GET", &format!("/api/clientApps/{id}"), k, None)
        .await;
    assert_eq!(status, 404);
    let (_, list) = s.api("GET", "/api/clientApps", k, None).await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn client_apps_in_memory() {
    client_apps(Backend::Memory).await;
}

#[tokio::test]
async fn client_apps_on_dynamodb_local() {
    client_apps(Backend::Stack).await;
}

async fn bad_input_changes_nothing(backend: Backend) {
    let s = Server::start(backend).await;
    let a = account(&s).await;
    let k = Some(a.key.as_str());
    // Other tests share the stack's table: count this account's items only.
    let mine = |dump: String| dump.lines().filter(|l| l.contains(&a.id)).count();
    let before = mine(s.dump_table().await);
    let long = "x".repeat(201);
    for body in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": long}),
        json!({"name": "ok", "extra": 1}),
        json!({"nom": "ok"}),
        json!(["name"]),
    ] {
        let (status, err) = s
            .api("POST", "/api/clientApps", k, Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} → {err}");
        assert_eq!(err["messageKey"], "error.validation");
    }
    let (status, _) = s
        .call(
            s.http
                .post(s.url("/api/clientApps"))
                .header("authorization", format!("Basic {}", a.key))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(status, 400);
    // A JSON route takes JSON only: the same valid body as text, a form or XML is a 415.
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let (status, err) = s
            .call(
                s.http
                    .post(s.url("/api/clientApps"))
                    .header("authorization", format!("Basic {}", a.key))
                    .header("content-type", ct)
                    .body(r#"{"name":"CRM"}"#),
            )
            .await;
        assert_eq!(status, 415, "{ct}: {err}");
        assert_eq!(err["reason"], "content_type_unsupported");
    }
    let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(70 * 1024));
    let (status, _) = s
        .call(
            s.http
                .post(s.url("/api/clientApps"))
                .header("authorization", format!("Basic {}", a.key))
                .header("content-type", "application/json")
                .body(big),
        )
        .await;
    assert_eq!(status, 413);

    for body in [
        json!({"name": "x", "scopes": ["basic"]}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["Basic"], "redirectUris": ["http://app.example/cb"]}),
        json!({"name": "x", "scopes": ["Basic"], "redirectUris": ["https://app.example/cb#frag"]}),
        json!({"name": "x", "scopes": ["Basic"], "domain": "not a domain"}),
        json!({"name": "x", "scopes": ["Basic"], "public": true}),
    ] {
        let (status, err) = s
            .api("POST", "/api/oauth2/clients", k, Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} → {err}");
    }
    for body in [
        json!({"url": "http://example.com/hook", "events": []}),
        json!({"url": "https://example.com/hook", "events": ["PACKAGE_NOPE"]}),
        json!({"url": "https://example.com/hook", "events": ["package_create"]}),
        json!({"url": "not a url", "events": []}),
        json!({"url": "https://example.com/hook", "key": "has space", "events": []}),
    ] {
        let (status, err) = s.api("PUT", "/api/callback", k, Some(body.clone())).await;
        assert_eq!(status, 400, "{body} → {err}");
    }
    for body in [
        json!({"apiTokenTtlSeconds": 5}),
        json!({"method": "BASIC"}),
        json!({"oauthTokenTtlSeconds": 999_999}),
    ] {
        let (status, _) = s
            .api("PUT", "/api/account/authSettings", k, Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}");
    }
    let (status, _) = s
        .api("GET", "/api/account/apiKey?reveal=maybe", k, None)
        .await;
    assert_eq!(status, 400);
    for path in [
        "/api/clientApps/app_aaaaaaaaaaaaaaaa",
        "/api/clientApps/nonsense",
        "/api/oauth2/clients/oc_aaaaaaaaaaaaaaaa",
        "/api/callback/endpoints/ep_aaaaaaaaaaaaaaaa",
    ] {
        let (status, _) = s.api("GET", path, k, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let after = mine(s.dump_table().await);
    assert_eq!(before, after, "refused requests wrote nothing");
}

#[tokio::test]
async fn bad_input_changes_nothing_in_memory() {
    bad_input_changes_nothing(Backend::Memory).await;
}

#[tokio::test]
async fn bad_input_changes_nothing_on_dynamodb_local() {
    bad_input_changes_nothing(Backend::Stack).await;
}

async fn who_may_manage(backend: Backend) {
    let s = Server::start(backend).await;
    let a = account(&s).await;
    let dev = user(&s, &a, "dev@acme.test", &["API_ACCESS"]).await;
    let plain = user(&s, &a, "plain@acme.test", &[]).await;

    // Roles and permissions off: only the owner manages.
    for key in [&dev, &plain] {
        let (status, err) = s.api("GET", "/api/clientApps", Some(key), None).await;
        assert_eq!(status, 403, "{err}");
    }
    let (status, _) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            Some(&dev),
            Some(json!({"rolesAndPermissions": true})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, settings) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            Some(&a.key),
            Some(json!({"rolesAndPermissions": true})),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["rolesAndPermissions"], true);
    assert_eq!(settings["method"], "API_KEY");

    // On: the API_ACCESS user manages, the plain user still may not.
    let (status, created) = s
        .api(
            "POST",
            "/api/clientApps",
            Some(&dev),
            Some(json!({"name": "by dev"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, _) = s.api("GET", "/api/clientApps", Some(&plain), None).await;
    assert_eq!(status, 403);

    // The API key: masked for everyone, revealed to the owner only.
    let (_, masked) = s
        .api("GET", "/api/account/apiKey", Some(&a.key), None)
        .await;
    assert_eq!(
        masked["apiKey"],
        format!("****{}", &a.key[a.key.len() - 4..])
    );
    let (_, revealed) = s
        .api("GET", "/api/account/apiKey?reveal=true", Some(&a.key), None)
        .await;
    assert_eq!(revealed["apiKey"], a.key);
    let (status, _) = s
        .api("GET", "/api/account/apiKey?reveal=true", Some(&dev), None)
        .await;
    assert_eq!(status, 403);

    // Regenerate: the new key works once shown, the old one never again.
    let (status, fresh) = s
        .api("POST", "/api/account/apiKey/regenerate", Some(&a.key), None)
        .await;
    assert_eq!(status, 200);
    let fresh = fresh["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(s.whoami(&a.key).await.0, 401);
    assert_eq!(s.whoami(&fresh).await.0, 200);

    // Method switch is recorded; the owner's key still manages under OAUTH2.
    let (status, settings) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            Some(&fresh),
            Some(json!({"method": "OAUTH2", "oauthTokenTtlSeconds": 600})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(settings["method"], "OAUTH2");
    assert_eq!(settings["oauthTokenTtlSeconds"], 600);
    let (status, _) = s
        .api("GET", "/api/oauth2/clients", Some(&fresh), None)
        .await;
    assert_eq!(status, 200);
    let (_, got) = s
        .api("GET", "/api/account/authSettings", Some(&fresh), None)
        .await;
    assert_eq!(got, settings);

    // Every change left an audit record, and none holds a secret.
    let audit = keygate_core::kernel::audit::list(
        &*s.services().table,
        &keygate_core::kernel::ids::AccountId::parse(&a.id).unwrap(),
        100,
    )
    .await
    .unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    for expected in [
        "authSettings.update",
        "clientApp.create",
        "apiKey.regenerate",
    ] {
        assert!(actions.contains(&expected), "{actions:?}");
    }
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains(&fresh) && !text.contains(&a.key));
}

#[tokio::test]
async fn who_may_manage_in_memory() {
    who_may_manage(Backend::Memory).await;
}

#[tokio::test]
async fn who_may_manage_on_dynamodb_local() {
    who_may_manage(Backend::Stack).await;
}

async fn oauth_clients(backend: Backend) {
    let s = Server::start(backend).await;
    let a = account(&s).await;
    let k = Some(a.key.as_str());
    let (status, c) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            k,
            Some(json!({"name": "Portal", "scopes": ["Basic", "ISign"], "redirectUris": ["https://portal.example/cb", "http://localhost:8080/cb"], "domain": "portal.example"})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["clientId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("oc_"));
    let secret = c["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(c["scopes"], json!(["Basic", "ISign"]));
    assert_eq!(c["public"], false);
    assert_eq!(c["implicit"], false);

    let (status, public) = s
        .api("POST", "/api/oauth2/clients", k, Some(json!({"name": "SPA", "scopes": ["Basic"], "redirectUris": ["https://spa.example/cb"], "public": true})))
        .await;
    assert_eq!(status, 201);
    assert!(public.get("clientSecret").is_none());
    let pid = public["clientId"].as_str().unwrap();
    let (status, _) = s
        .api(
            "POST",
            &format!("/api/oauth2/clients/{pid}/rotate"),
            k,
            None,
        )
        .await;
    assert_eq!(status, 409, "no secret to rotate");

    let (status, updated) = s
        .api(
            "PUT",
            &format!("/api/oauth2/clients/{id}"),
            k,
            Some(json!({"scopes": ["WeSign"], "domain": null, "implicit": true})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["scopes"], json!(["WeSign"]));
    assert_eq!(updated["domain"], Value::Null);
    assert_eq!(updated["implicit"], true);
    assert_eq!(updated["redirectUris"].as_array().unwrap().len(), 2);

    let (status, rotated) = s
        .api("POST", &format!("/api/oauth2/clients/{id}/rotate"), k, None)
        .await;
    assert_eq!(status, 200);
    assert_ne!(rotated["clientSecret"], secret);
    let (_, list) = s.api("GET", "/api/oauth2/clients", k, None).await;
    assert_eq!(list["count"], 2);
    let dump = s.dump_table().await;
    assert!(!dump.contains(&secret) && !dump.contains(rotated["clientSecret"].as_str().unwrap()));
    // An OAuth client id is not a client app, and the reverse.
    let (status, _) = s
        .api("GET", &format!("/api/clientApps/{id}"), k, None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .api("DELETE", &format!("/api/oauth2/clients/{id}"), k, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = s
        .api("GET", &format!("/api/oauth2/clients/{id}"), k, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn oauth_clients_in_memory() {
    oauth_clients(Backend::Memory).await;
}

#[tokio::test]
async fn oauth_clients_on_dynamodb_local() {
    oauth_clients(Backend::Stack).await;
}

async fn callbacks(backend: Backend) {
    let s = Server::start(backend).await;
    let a = account(&s).await;
    let k = Some(a.key.as_str());

    let (status, empty) = s.api("GET", "/api/callback", k, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        empty,
        json!({"url": null, "key": null, "events": [], "authentication": {"type": "NONE"}, "signingSecret": null})
    );

    let (status, cb) = s
        .api("PUT", "/api/callback", k, Some(json!({"url": "https://hooks.example/cb", "key": "s3cret-key", "events": ["PACKAGE_CREATE", "DOCUMENT_SIGNED"]})))
        .await;
    assert_eq!(status, 200, "{cb}");
    assert_eq!(cb["url"], "https://hooks.example/cb");
    assert_eq!(cb["key"], "s3cret-key");
    assert_eq!(
        cb["authentication"],
        json!({"type": "BASIC"}),
        "a key alone means BASIC"
    );
    let first = cb["signingSecret"].as_str().unwrap().to_owned();
    assert!(first.starts_with("whsec_"));
    let (_, again) = s.api("GET", "/api/callback", k, None).await;
    assert_eq!(again["signingSecret"], first);
    assert_eq!(
        again["events"],
        json!(["PACKAGE_CREATE", "DOCUMENT_SIGNED"])
    );

    // Loopback is allowed in local mode (the local server's own tests deliver there).
    let (status, _) = s
        .api(
            "PUT",
            "/api/callback",
            k,
            Some(json!({"url": "http://127.0.0.1:9/cb", "events": []})),
        )
        .await;
    assert_eq!(status, 200);

    let (status, rotated) = s
        .api(
            "POST",
            "/api/callback/secret/rotate",
            k,
            Some(json!({"gracePeriodSeconds": 60})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["signingSecret"], first);
    assert_eq!(
        rotated["previousSecretExpiresAt"],
        s.clock.now_for_tests() + 60
    );
    let (status, _) = s
        .api(
            "POST",
            "/api/callback/secret/rotate",
            k,
            Some(json!({"gracePeriodSeconds": 8 * 86400})),
        )
        .await;
    assert_eq!(status, 400);

    // Extra endpoints with their own filters and secrets.
    let (status, ep) = s
        .api(
            "POST",
            "/api/callback/endpoints",
            k,
            Some(json!({"url": "https://other.example/hook", "events": ["PACKAGE_COMPLETE"]})),
        )
        .await;
    assert_eq!(status, 201, "{ep}");
    let eid = ep["id"].as_str().unwrap().to_owned();
    assert_ne!(ep["signingSecret"], rotated["signingSecret"]);
    let (_, list) = s.api("GET", "/api/callback/endpoints", k, None).await;
    assert_eq!(
        list["count"], 1,
        "the primary callback is not listed among the extra endpoints"
    );
    let (status, upd) = s
        .api("PUT", &format!("/api/callback/endpoints/{eid}"), k, Some(json!({"url": "https://other.example/v2", "events": ["PACKAGE_COMPLETE", "PACKAGE_DECLINE"]})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(upd["url"], "https://other.example/v2");
    let (status, _) = s
        .api(
            "POST",
            &format!("/api/callback/endpoints/{eid}/secret/rotate"),
            k,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .api("DELETE", &format!("/api/callback/endpoints/{eid}"), k, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = s
        .api("GET", &format!("/api/callback/endpoints/{eid}"), k, None)
        .await;
    assert_eq!(status, 404);

    // A manager who is not the owner sees the key masked and no secret.
    let dev = user(&s, &a, "dev@acme.test", &["API_ACCESS"]).await;
    s.api(
        "PUT",
        "/api/account/authSettings",
        k,
        Some(json!({"rolesAndPermissions": true})),
    )
    .await;
    s.api(
        "PUT",
        "/api/callback",
        k,
        Some(json!({"url": "https://hooks.example/cb", "key": "s3cret-key", "events": []})),
    )
    .await;
    let (_, seen) = s.api("GET", "/api/callback", Some(&dev), None).await;
    assert_eq!(seen["signingSecret"], Value::Null);
    assert_eq!(seen["key"], "****ey", "a quarter of 10 characters");
    let (status, _) = s
        .api("POST", "/api/callback/secret/rotate", Some(&dev), None)
        .await;
    assert_eq!(status, 403);

    let dump = s.dump_table().await;
    assert!(
        !dump.contains("s3cret-key") && !dump.contains(&first),
        "callback key and secrets are sealed"
    );

    let (status, _) = s.api("DELETE", "/api/callback", k, None).await;
    assert_eq!(status, 204);
    let (_, reverted) = s.api("GET", "/api/callback", k, None).await;
    assert_eq!(reverted["url"], Value::Null);
}

#[tokio::test]
async fn callbacks_in_memory() {
    callbacks(Backend::Memory).await;
}

#[tokio::test]
async fn callbacks_on_dynamodb_local() {
    callbacks(Backend::Stack).await;
}

#[tokio::test]
async fn delivery_attempts_are_listed_per_event_and_account() {
    let s = Server::start(Backend::Memory).await;
    let a = account(&s).await;
    let k = Some(a.key.as_str());
    let account_id = keygate_core::kernel::ids::AccountId::parse(&a.id).unwrap();
    let ep = keygate_core::kernel::ids::EndpointId::generate();
    for n in 1..=2 {
        let attempt = keygate_core::notify::attempts::Attempt {
            event_id: "evt_1".into(),
            event_name: "PACKAGE_CREATE".into(),
            endpoint_id: ep.clone(),
            attempt: n,
            status: keygate_core::notify::attempts::AttemptStatus::Failed,
            response_code: Some(503),
            error_class: Some(keygate_core::notify::attempts::ErrorClass::HttpStatus),
            latency_ms: 12,
            at: s.clock.now_for_tests() + i64::from(n),
            round: None,
            last: false,
        };
        keygate_core::notify::attempts::record(&*s.services().table, &account_id, &attempt)
            .await
            .unwrap();
    }
    let (status, list) = s
        .api("GET", "/api/callback/attempts?eventId=evt_1", k, None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["count"], 2);
    assert_eq!(list["results"][0]["responseCode"], 503);
    assert_eq!(list["results"][1]["attempt"], 2);
    // Another account sees none of them; bad input is a 400.
    let (_, _, other) = s.create_account("Other", "o@other.test").await;
    let (_, none) = s
        .api(
            "GET",
            "/api/callback/attempts?eventId=evt_1",
            Some(&other),
            None,
        )
        .await;
    assert_eq!(none["count"], 0);
    assert_eq!(s.api("GET", "/api/callback/attempts", k, None).await.0, 400);
    assert_eq!(
        s.api("GET", "/api/callback/attempts?eventId=", k, None)
            .await
            .0,
        400
    );
}

/// The event catalog is public, lists every type an endpoint can subscribe to with its origin and
/// its English and French wording, and filters by origin; the settings show the token endpoint
/// integrators configure, read-only.
async fn catalog_and_authorization_server(backend: Backend) {
    let s = Server::start(backend).await;
    let resp = s
        .http
        .get(s.url("/api/callback/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["cache-control"].to_str().unwrap(),
        "public, max-age=3600"
    );
    let all: Value = resp.json().await.unwrap();
    let events = all["events"].as_array().unwrap();
    assert_eq!(
        events.len(),
        27,
        "the 24 platform events and 3 operational ones: {all}"
    );
    let created = events
        .iter()
        .find(|e| e["name"] == "PACKAGE_CREATE")
        .unwrap();
    assert_eq!(created["origin"], "ACCOUNT");
    assert_eq!(created["label"]["en"], "Transaction created");
    assert_eq!(created["label"]["fr"], "Transaction créée");
    let mut by_origin = 0;
    for origin in ["ACCOUNT", "PARTICIPANT", "OPERATIONAL"] {
        let (status, some) = s
            .call(
                s.http
                    .get(s.url(&format!("/api/callback/events?origin={origin}"))),
            )
            .await;
        assert_eq!(status, 200);
        let some = some["events"].as_array().unwrap().clone();
        assert!(some.iter().all(|e| e["origin"] == origin), "{some:?}");
        by_origin += some.len();
    }
    assert_eq!(by_origin, 27);
    let disabled = events
        .iter()
        .find(|e| e["name"] == "CALLBACK_ENDPOINT_DISABLED")
        .unwrap();
    assert_eq!(disabled["origin"], "OPERATIONAL");
    assert!(disabled["label"]["fr"]
        .as_str()
        .unwrap()
        .contains("désactivé"));
    let (status, err) = s
        .call(s.http.get(s.url("/api/callback/events?origin=account")))
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (400, Some("origin_unknown"))
    );

    // Every catalogued type is one an endpoint may subscribe to.
    let a = account(&s).await;
    let k = Some(a.key.as_str());
    let names: Vec<Value> = events.iter().map(|e| e["name"].clone()).collect();
    let (status, v) = s
        .api(
            "PUT",
            "/api/callback",
            k,
            Some(json!({"url": "https://example.com/hook", "events": names})),
        )
        .await;
    assert_eq!(status, 200, "{v}");

    // The token endpoint, as the discovery document names it; sent back unchanged it is
    // accepted (a GET-modify-PUT), changed it is refused.
    let (_, meta) = s
        .call(s.http.get(s.url("/.well-known/oauth-authorization-server")))
        .await;
    let (status, settings) = s.api("GET", "/api/account/authSettings", k, None).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["authorizationServerUrl"], meta["token_endpoint"]);
    let mut back = settings.clone();
    back["authTokenTtlSeconds"] = json!(600);
    let (status, updated) = s
        .api("PUT", "/api/account/authSettings", k, Some(back))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["authTokenTtlSeconds"], 600);
    assert_eq!(updated["authorizationServerUrl"], meta["token_endpoint"]);
    let (status, err) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            k,
            Some(json!({"authorizationServerUrl": "https://evil.example/token"})),
        )
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (400, Some("read_only_field"))
    );
}

#[tokio::test]
async fn catalog_and_authorization_server_in_memory() {
    catalog_and_authorization_server(Backend::Memory).await;
}

#[tokio::test]
async fn catalog_and_authorization_server_on_dynamodb_local() {
    catalog_and_authorization_server(Backend::Stack).await;
}
