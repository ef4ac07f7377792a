//! Hardening: each way an outsider or a lesser user could turn keygate against its users,
//! reproduced as the attacker would do it (HTTP against the local server only) and now refused —
//! on the in-memory backend and on DynamoDB Local. SECURITY.md is the threat model these pin.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_e2e::{
    approved_code, client_app, client_from, consent, fresh_loopback, oauth_account,
    on_both_backends, sign_in, signature, token_request, Backend, Server,
};
use serde_json::{json, Value};

on_both_backends!(
    auth_redirects_judge_the_normalised_url,
    nobody_locks_out_a_client_app_of_someone_else,
    nobody_locks_out_an_oauth_client_of_someone_else,
    wrong_signatures_lock_the_sender_not_the_signer,
    one_source_failing_on_many_ids_is_locked,
    revocations_hold_however_many_follow,
    a_client_app_speaks_for_its_creator,
    tokens_follow_the_accounts_current_method,
    stored_uris_are_normal_and_never_panic_authorize,
    malformed_ids_never_reach_the_store,
    racing_exchanges_and_rotations_never_fail_the_server,
    refresh_narrows_to_the_clients_current_scopes,
    callback_destination_is_the_owners,
    a_wrong_caller_cannot_burn_a_code,
    implicit_tokens_stop_with_their_secret,
    per_kind_lists_and_limits_hold,
    form_routes_take_forms_only,
);

async fn mint_user_token(s: &Server, key: &str) -> String {
    let (status, minted) = s
        .api("POST", "/api/authenticationTokens/user", Some(key), None)
        .await;
    assert_eq!(status, 200, "{minted}");
    minted["value"].as_str().unwrap().to_owned()
}

async fn auth_redirects_judge_the_normalised_url(b: Backend) {
    let s = Server::start(b).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    // Each of these normalises (dot segments removed, as the browser will) to `//evil.test/x`,
    // a network-path reference to another host.
    for target in [
        "/.//evil.test/x",
        "/..//evil.test/x",
        "/%2e//evil.test/x",
        "/%2E%2E//evil.test/x",
        "/a/..//evil.test/x",
        "/a/b/../..//evil.test/x",
        "/\\evil.test/x",
        "/\t/evil.test/x",
        "/x\n",
    ] {
        let token = mint_user_token(&s, &key).await;
        let resp = s
            .http
            .get(s.url("/auth"))
            .query(&[("authenticationToken", token.as_str()), ("target", target)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{target:?}");
        assert!(resp.headers().get("location").is_none(), "{target:?}");
        // The refused target did not use the single-use token up.
        let resp = s
            .http
            .get(s.url("/auth"))
            .query(&[
                ("authenticationToken", token.as_str()),
                ("target", "/a/./b/../dashboard"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        assert_eq!(resp.headers()["location"], "/a/dashboard");
    }
}

async fn exchange_from(s: &Server, http: &reqwest::Client, id: &str, secret: &str) -> (u16, Value) {
    s.api_from(
        http,
        "POST",
        "/apitoken/clientApp/accessToken",
        None,
        Some(json!({"clientId": id, "secret": secret, "type": "OWNER"})),
    )
    .await
}

async fn nobody_locks_out_a_client_app_of_someone_else(b: Backend) {
    let s = Server::start(b).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    let (id, secret) = client_app(&s, &key).await;
    let attacker = client_from(fresh_loopback());
    let owner = client_from(fresh_loopback());
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(exchange_from(&s, &attacker, &id, "wrong-secret").await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    // The owner of the app, from elsewhere, is not locked out.
    let (status, tok) = exchange_from(&s, &owner, &id, &secret).await;
    assert_eq!(status, 200, "{tok}");
    // The attacker's own source stays locked for this credential, even with the right secret.
    assert_eq!(exchange_from(&s, &attacker, &id, &secret).await.0, 429);
    // A request without a secret is not a failure: no number of them locks anyone.
    for _ in 0..8 {
        assert_eq!(exchange_from(&s, &owner, &id, "").await.0, 401);
    }
    assert_eq!(exchange_from(&s, &owner, &id, &secret).await.0, 200);
}

async fn nobody_locks_out_an_oauth_client_of_someone_else(b: Backend) {
    let s = Server::start(b).await;
    let (_, id, secret) = oauth_account(&s, json!({})).await;
    let attacker = client_from(fresh_loopback());
    let owner = client_from(fresh_loopback());
    let cc = [("grant_type", "client_credentials")];
    // Naming the client in authorize URLs and body-only requests is no failure.
    for _ in 0..6 {
        let page = attacker
            .get(s.url("/api/oauth2/authorize"))
            .query(&[("response_type", "code"), ("client_id", id.as_str())])
            .send()
            .await
            .unwrap();
        assert!(page.status().is_client_error());
        let (status, _) = token_request(
            &s,
            &attacker,
            &id,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", id.as_str()),
                ("code", "x"),
            ],
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, _) = token_request(&s, &attacker, &id, Some(&secret), &cc).await;
    assert_eq!(
        status, 200,
        "requests without a secret did not lock anything"
    );
    for _ in 0..5 {
        let (status, err) = token_request(&s, &attacker, &id, Some("wrong"), &cc).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }
    let (status, err) = token_request(&s, &attacker, &id, Some(&secret), &cc).await;
    assert_eq!(status, 429, "{err}");
    let (status, tok) = token_request(&s, &owner, &id, Some(&secret), &cc).await;
    assert_eq!(status, 200, "the client's owner is not locked out: {tok}");
}

async fn signed_whoami(
    s: &Server,
    http: &reqwest::Client,
    (id, secret, bearer): (&str, &str, &str),
    nonce: &str,
    forged: bool,
) -> (u16, Value) {
    let date = s.clock.now_for_tests().to_string();
    let sig = if forged {
        signature("not-the-secret", id, &date, nonce)
    } else {
        signature(secret, id, &date, nonce)
    };
    s.call(
        http.get(s.url("/api/whoami"))
            .header("x-custom-api-key", id)
            .header("x-custom-date", &date)
            .header("x-custom-nonce", nonce)
            .header("x-custom-signature", sig)
            .header("referer", "https://app.example.com/page")
            .bearer_auth(bearer),
    )
    .await
}

async fn wrong_signatures_lock_the_sender_not_the_signer(b: Backend) {
    let s = Server::start(b).await;
    let (_, id, secret) = oauth_account(&s, json!({"domain": "app.example.com"})).await;
    let (_, tok) = token_request(
        &s,
        &s.http,
        &id,
        Some(&secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let bearer = tok["access_token"].as_str().unwrap().to_owned();
    let creds = (id.as_str(), secret.as_str(), bearer.as_str());
    let attacker = client_from(fresh_loopback());
    let owner = client_from(fresh_loopback());
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(
            signed_whoami(&s, &attacker, creds, &format!("a{i}"), true)
                .await
                .0,
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    let (status, me) = signed_whoami(&s, &owner, creds, "o1", false).await;
    assert_eq!(status, 200, "the signer is not locked out: {me}");
    assert_eq!(me["authMethod"], "SIGNED_REQUEST");
}

async fn one_source_failing_on_many_ids_is_locked(b: Backend) {
    let s = Server::start(b).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    let (id, secret) = client_app(&s, &key).await;
    let stuffer = client_from(fresh_loopback());
    for i in 0..50 {
        // Well-formed ids of apps that do not exist, each tried once.
        const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
        let guess = format!(
            "app_{}{}{}",
            "a".repeat(14),
            B32[i / 32] as char,
            B32[i % 32] as char
        );
        assert!(exchange_from(&s, &stuffer, &guess, "guess").await.0 >= 401);
    }
    assert_eq!(exchange_from(&s, &stuffer, &id, &secret).await.0, 429);
    assert_eq!(exchange_from(&s, &s.http, &id, &secret).await.0, 200);
}

/// Signs the owner in, approves a code request for `id` and exchanges it (Basic auth): the
/// access and refresh tokens.
async fn code_grant(s: &Server, owner_key: &str, id: &str, secret: &str, scope: &str) -> Value {
    let cookie = sign_in(s, owner_key).await;
    let code = approved_code(s, &cookie, id, scope).await;
    let (status, tok) = token_request(
        s,
        &s.http,
        id,
        Some(secret),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://portal.example/cb"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tok}");
    tok
}

async fn bearer_whoami(s: &Server, token: &str) -> (u16, Value) {
    s.call(s.http.get(s.url("/api/whoami")).bearer_auth(token))
        .await
}

async fn revoke(s: &Server, id: &str, secret: &str, token: &str) {
    let (status, body) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/revoke"))
                .basic_auth(id, Some(secret))
                .form(&[("token", token)]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn revocations_hold_however_many_follow(b: Backend) {
    let s = Server::start(b).await;
    let (key, id, secret) = oauth_account(&s, json!({})).await;
    let (_, cc) = token_request(
        &s,
        &s.http,
        &id,
        Some(&secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let access = cc["access_token"].as_str().unwrap().to_owned();
    let grant = code_grant(&s, &key, &id, &secret, "Basic").await;
    let family_access = grant["access_token"].as_str().unwrap().to_owned();
    let refresh = grant["refresh_token"].as_str().unwrap().to_owned();
    revoke(&s, &id, &secret, &access).await;
    revoke(&s, &id, &secret, &refresh).await;
    // 2,000 later revocations on the same client (through the same domain call the revoke
    // route makes), each lasting longer than the ones above: a bounded list would keep these
    // and forget the first two.
    let table = s.services().table.clone();
    let now = s.clock.now_for_tests();
    let until = now + 3600;
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..20 {
        let (table, id) = (table.clone(), id.clone());
        tasks.spawn(async move {
            for i in 0..100 {
                keygate_core::clients::revoke(
                    &*table,
                    &id,
                    &format!("t-later-{chunk}-{i}"),
                    until,
                    now,
                )
                .await
                .expect("revoke");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let (status, err) = bearer_whoami(&s, &access).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (401, Some("token_revoked"))
    );
    let (status, err) = bearer_whoami(&s, &family_access).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (401, Some("token_revoked"))
    );
    let (status, err) = token_request(
        &s,
        &s.http,
        &id,
        Some(&secret),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

async fn add_manager(s: &Server, account: &str, owner_key: &str, email: &str) -> (String, String) {
    let (status, u) = s
        .call(
            s.http
                .post(s.url(&format!("/_local/accounts/{account}/users")))
                .json(&json!({"email": email, "permissions": ["API_ACCESS"]})),
        )
        .await;
    assert_eq!(status, 201, "{u}");
    let (status, v) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            Some(owner_key),
            Some(json!({"rolesAndPermissions": true})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    (
        u["userId"].as_str().unwrap().to_owned(),
        u["apiKey"].as_str().unwrap().to_owned(),
    )
}

async fn a_client_app_speaks_for_its_creator(b: Backend) {
    let s = Server::start(b).await;
    let (account, owner_id, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let (user_id, user_key) = add_manager(&s, &account, &owner_key, "dev@acme.test").await;
    let (id, secret) = client_app(&s, &user_key).await;
    let (_, tok) = exchange_from(&s, &s.http, &id, &secret).await;
    let token = tok["accessToken"].as_str().unwrap().to_owned();
    let (status, me) = bearer_whoami(&s, &token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["subjectType"], "user");
    assert_eq!(me["subjectId"], user_id.as_str());
    // The owner's own app speaks as the owner.
    let (oid, osecret) = client_app(&s, &owner_key).await;
    let (_, otok) = exchange_from(&s, &s.http, &oid, &osecret).await;
    let (_, ome) = bearer_whoami(&s, otok["accessToken"].as_str().unwrap()).await;
    assert_eq!(
        (ome["subjectType"].as_str(), ome["subjectId"].as_str()),
        (Some("owner"), Some(owner_id.as_str()))
    );
    // The user loses the right to manage (roles turned off): the app's tokens stop at once.
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&owner_key),
        Some(json!({"rolesAndPermissions": false})),
    )
    .await;
    let (status, err) = bearer_whoami(&s, &token).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (401, Some("creator_lost_access"))
    );
    let (status, err) = exchange_from(&s, &s.http, &id, &secret).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("creator_lost_access"))
    );
    // Minting of owner tokens stays forbidden to the user (the check the old subject defeated).
    assert_eq!(
        bearer_whoami(&s, otok["accessToken"].as_str().unwrap())
            .await
            .0,
        200
    );
}

async fn tokens_follow_the_accounts_current_method(b: Backend) {
    let s = Server::start(b).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    let (id, secret) = client_app(&s, &key).await;
    let (_, tok) = exchange_from(&s, &s.http, &id, &secret).await;
    let api_token = tok["accessToken"].as_str().unwrap().to_owned();
    let (status, me) = bearer_whoami(&s, &api_token).await;
    assert_eq!(
        (status, me["accountMethod"].as_str()),
        (200, Some("API_KEY"))
    );
    let switch = |method: &'static str| {
        let key = key.clone();
        let s = &s;
        async move {
            let (status, v) = s
                .api(
                    "PUT",
                    "/api/account/authSettings",
                    Some(&key),
                    Some(json!({ "method": method })),
                )
                .await;
            assert_eq!(status, 200, "{v}");
        }
    };
    switch("OAUTH2").await;
    let (status, err) = bearer_whoami(&s, &api_token).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (401, Some("auth_method_refused"))
    );
    // An OAuth token, minted under OAUTH2, says so — and stops when the account switches back.
    let (_, c) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&key),
            Some(json!({"name": "Portal", "scopes": ["Basic"]})),
        )
        .await;
    let (oid, osecret) = (
        c["clientId"].as_str().unwrap(),
        c["clientSecret"].as_str().unwrap(),
    );
    let (_, cc) = token_request(
        &s,
        &s.http,
        oid,
        Some(osecret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let oauth_token = cc["access_token"].as_str().unwrap().to_owned();
    let (status, me) = bearer_whoami(&s, &oauth_token).await;
    assert_eq!(
        (status, me["accountMethod"].as_str()),
        (200, Some("OAUTH2"))
    );
    switch("API_KEY").await;
    let (status, err) = bearer_whoami(&s, &oauth_token).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (401, Some("auth_method_refused"))
    );
}

async fn stored_uris_are_normal_and_never_panic_authorize(b: Backend) {
    let s = Server::start(b).await;
    let (key, id, _) = oauth_account(&s, json!({})).await;
    for bad in [
        "https://portal.example/cb\n",
        "https://portal.example/c\rb",
        "https://portal.example/cb\u{0}",
        "https://portal.example/cb\nSet-Cookie: x=1",
        " https://portal.example/cb",
        "https://portal.example",
    ] {
        let (status, err) = s
            .api(
                "POST",
                "/api/oauth2/clients",
                Some(&key),
                Some(json!({"name": "x", "scopes": ["Basic"], "redirectUris": [bad]})),
            )
            .await;
        assert_eq!(status, 400, "{bad:?}: {err}");
        let (status, _) = s
            .api(
                "PUT",
                &format!("/api/oauth2/clients/{id}"),
                Some(&key),
                Some(json!({"redirectUris": [bad]})),
            )
            .await;
        assert_eq!(status, 400, "{bad:?}");
        // authorize with such a redirect_uri is a page, not a dropped connection.
        let resp = s
            .http
            .get(s.url("/api/oauth2/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", &id),
                ("redirect_uri", bad),
            ])
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(resp.status(), 400, "{bad:?}");
    }
    for domain in ["com", " app.example.com", "app.example.com\n", "a..b"] {
        let (status, _) = s
            .api(
                "PUT",
                &format!("/api/oauth2/clients/{id}"),
                Some(&key),
                Some(json!({ "domain": domain })),
            )
            .await;
        assert_eq!(status, 400, "{domain:?}");
    }
    for url in [
        "https://hooks.example/x\n",
        "https://hooks.example/\rx",
        " https://hooks.example/",
    ] {
        let (status, _) = s
            .api(
                "PUT",
                "/api/callback",
                Some(&key),
                Some(json!({ "url": url })),
            )
            .await;
        assert_eq!(status, 400, "{url:?}");
    }
    // What is registered is served back exactly.
    let (_, c) = s
        .api(
            "GET",
            &format!("/api/oauth2/clients/{id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(c["redirectUris"], json!(["https://portal.example/cb"]));
}

async fn malformed_ids_never_reach_the_store(b: Backend) {
    let s = Server::start(b).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    let long = "a".repeat(3000);
    for (method, path) in [
        ("GET", format!("/api/clientApps/{long}")),
        ("GET", format!("/api/clientApps/app_{long}")),
        ("DELETE", format!("/api/clientApps/app_{long}")),
        ("POST", format!("/api/clientApps/app_{long}/rotate")),
        ("GET", format!("/api/oauth2/clients/oc_{long}")),
        ("PUT", format!("/api/oauth2/clients/oc_{long}")),
        ("GET", "/api/clientApps/app_AAAAAAAAAAAAAAAA".to_owned()),
        ("GET", format!("/api/callback/endpoints/ep_{long}")),
    ] {
        let body = (method == "PUT").then(|| json!({"name": "x"}));
        let (status, err) = s.api(method, &path, Some(&key), body).await;
        assert_eq!(status, 404, "{method} {}: {err}", &path[..40]);
    }
    let (status, _) = exchange_from(&s, &s.http, &format!("app_{long}"), "x").await;
    assert_eq!(status, 401);
    let (status, err) = token_request(
        &s,
        &s.http,
        &format!("oc_{long}"),
        Some("x"),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _) = s
        .call(
            s.http
                .get(s.url("/api/whoami"))
                .header("x-custom-api-key", format!("oc_{long}"))
                .header("x-custom-date", s.clock.now_for_tests().to_string())
                .header("x-custom-nonce", "n")
                .header("x-custom-signature", STANDARD.encode([0u8; 32]))
                .header("referer", "https://app.example.com/")
                .bearer_auth("x.y.z"),
        )
        .await;
    assert_eq!(status, 400);
    let resp = s
        .http
        .get(s.url("/api/oauth2/authorize"))
        .query(&[("response_type", "code"), ("client_id", long.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

async fn racing_exchanges_and_rotations_never_fail_the_server(b: Backend) {
    let s = Server::start(b).await;
    let (key, id, secret) = oauth_account(&s, json!({})).await;
    let cookie = sign_in(&s, &key).await;
    let code = approved_code(&s, &cookie, &id, "Basic").await;
    let race = |form: Vec<(String, String)>| {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (req, form) = (
                s.http
                    .post(s.url("/api/oauth2/token"))
                    .basic_auth(&id, Some(&secret)),
                form.clone(),
            );
            set.spawn(async move {
                let resp = req.form(&form).send().await.unwrap();
                let status = resp.status().as_u16();
                (status, resp.json::<Value>().await.unwrap_or(Value::Null))
            });
        }
        set
    };
    let mut set = race(vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), code),
        ("redirect_uri".into(), "https://portal.example/cb".into()),
    ]);
    let mut granted = Vec::new();
    while let Some(r) = set.join_next().await {
        let (status, body) = r.unwrap();
        match status {
            200 => granted.push(body),
            400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
            other => panic!("racing code exchanges: {other} {body}"),
        }
    }
    assert_eq!(granted.len(), 1, "exactly one exchange wins the code");
    let grant = code_grant(&s, &key, &id, &secret, "Basic").await;
    let refresh = grant["refresh_token"].as_str().unwrap().to_owned();
    let mut set = race(vec![
        ("grant_type".into(), "refresh_token".into()),
        ("refresh_token".into(), refresh),
    ]);
    let mut rotated = Vec::new();
    while let Some(r) = set.join_next().await {
        let (status, body) = r.unwrap();
        match status {
            200 => rotated.push(body["refresh_token"].as_str().unwrap().to_owned()),
            400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
            other => panic!("racing refreshes: {other} {body}"),
        }
    }
    rotated.dedup();
    assert!(
        rotated.len() <= 1,
        "every winner of the race got the same answer: {rotated:?}"
    );
}

async fn refresh_narrows_to_the_clients_current_scopes(b: Backend) {
    let s = Server::start(b).await;
    let (key, id, secret) = oauth_account(&s, json!({})).await;
    let grant = code_grant(&s, &key, &id, &secret, "Basic ISign").await;
    assert_eq!(grant["scope"], "Basic ISign");
    let (status, _) = s
        .api(
            "PUT",
            &format!("/api/oauth2/clients/{id}"),
            Some(&key),
            Some(json!({"scopes": ["Basic"]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, tok) = token_request(
        &s,
        &s.http,
        &id,
        Some(&secret),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", grant["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["scope"], "Basic");
    let (_, me) = bearer_whoami(&s, tok["access_token"].as_str().unwrap()).await;
    assert_eq!(me["scopes"], json!(["Basic"]));
}

async fn callback_destination_is_the_owners(b: Backend) {
    let s = Server::start(b).await;
    let (account, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let (_, user_key) = add_manager(&s, &account, &owner_key, "dev@acme.test").await;
    let put = |key: &str, body: Value| {
        let key = key.to_owned();
        let s = &s;
        async move { s.api("PUT", "/api/callback", Some(&key), Some(body)).await }
    };
    let (status, err) = put(&user_key, json!({"url": "https://attacker.example/hook"})).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("callback_owner_only"))
    );
    let (status, _) = put(
        &owner_key,
        json!({"url": "https://hooks.acme.example/in", "key": "owner-key-1", "events": ["PACKAGE_CREATE"]}),
    )
    .await;
    assert_eq!(status, 200);
    // The manager may change which events are sent: GET, modify, PUT back (key shown masked).
    let (_, seen) = s.api("GET", "/api/callback", Some(&user_key), None).await;
    assert_ne!(seen["key"], "owner-key-1");
    let mut edited = seen.clone();
    edited["events"] = json!(["PACKAGE_CREATE", "PACKAGE_COMPLETE"]);
    let body = json!({"url": edited["url"], "key": edited["key"], "events": edited["events"]});
    let (status, v) = put(&user_key, body).await;
    assert_eq!(status, 200, "{v}");
    for body in [
        json!({"url": "https://attacker.example/hook", "events": ["PACKAGE_CREATE"]}),
        json!({"url": "https://hooks.acme.example/in", "key": "attacker-key"}),
    ] {
        let (status, err) = put(&user_key, body).await;
        assert_eq!(
            (status, err["reason"].as_str()),
            (403, Some("callback_owner_only"))
        );
    }
    let (status, _) = s
        .api(
            "POST",
            "/api/callback/endpoints",
            Some(&user_key),
            Some(json!({"url": "https://attacker.example/hook"})),
        )
        .await;
    assert_eq!(status, 403);
    let (_, now) = s.api("GET", "/api/callback", Some(&owner_key), None).await;
    assert_eq!(now["url"], "https://hooks.acme.example/in");
    assert_eq!(now["key"], "owner-key-1");
    assert_eq!(now["events"], json!(["PACKAGE_CREATE", "PACKAGE_COMPLETE"]));
}

async fn a_wrong_caller_cannot_burn_a_code(b: Backend) {
    let s = Server::start(b).await;
    let (key, id, secret) = oauth_account(&s, json!({})).await;
    let (_, other) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&key),
            Some(json!({"name": "Other", "scopes": ["Basic"], "redirectUris": ["https://portal.example/cb"]})),
        )
        .await;
    let (other_id, other_secret) = (
        other["clientId"].as_str().unwrap(),
        other["clientSecret"].as_str().unwrap(),
    );
    let cookie = sign_in(&s, &key).await;
    let code = approved_code(&s, &cookie, &id, "Basic").await;
    let exchange = |cid: &str, csecret: &str, redirect: &str| {
        let (cid, csecret, redirect, code) = (
            cid.to_owned(),
            csecret.to_owned(),
            redirect.to_owned(),
            code.clone(),
        );
        let s = &s;
        async move {
            token_request(
                s,
                &s.http,
                &cid,
                Some(&csecret),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &redirect),
                ],
            )
            .await
        }
    };
    let (status, err) = exchange(other_id, other_secret, "https://portal.example/cb").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, err) = exchange(&id, &secret, "https://portal.example/other").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, tok) = exchange(&id, &secret, "https://portal.example/cb").await;
    assert_eq!(
        status, 200,
        "the code still works for its own client: {tok}"
    );
}

async fn implicit_tokens_stop_with_their_secret(b: Backend) {
    let s = Server::start(b).await;
    let (key, id, _) = oauth_account(&s, json!({"implicit": true})).await;
    let cookie = sign_in(&s, &key).await;
    let url = reqwest::Url::parse_with_params(
        &s.url("/api/oauth2/authorize"),
        &[
            ("response_type", "token"),
            ("client_id", id.as_str()),
            ("scope", "Basic"),
        ],
    )
    .unwrap();
    let back = consent(&s, url.as_str(), &cookie, "approve").await;
    let fragment: Vec<(String, String)> =
        url::form_urlencoded::parse(back.fragment().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let token = &fragment
        .iter()
        .find(|(k, _)| k == "access_token")
        .unwrap()
        .1;
    assert_eq!(bearer_whoami(&s, token).await.0, 200);
    let (status, _) = s
        .api(
            "POST",
            &format!("/api/oauth2/clients/{id}/rotate"),
            Some(&key),
            Some(json!({"gracePeriodSeconds": 0})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, err) = bearer_whoami(&s, token).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (401, Some("secret_rotated_out"))
    );
}

async fn per_kind_lists_and_limits_hold(b: Backend) {
    let s = Server::start(b).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    let (status, oc) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&key),
            Some(json!({"name": "Portal", "scopes": ["Basic"]})),
        )
        .await;
    assert_eq!(status, 201, "{oc}");
    for _ in 0..97 {
        client_app(&s, &key).await;
    }
    // The last three places, raced for by ten creates: exactly three win.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let req = s
            .http
            .post(s.url("/api/clientApps"))
            .header("authorization", format!("Basic {key}"))
            .json(&json!({ "name": format!("racer {i}") }));
        set.spawn(async move { req.send().await.unwrap().status().as_u16() });
    }
    let mut statuses = Vec::new();
    while let Some(r) = set.join_next().await {
        statuses.push(r.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 201, 409, 409, 409, 409, 409, 409, 409]);
    let (_, apps) = s.api("GET", "/api/clientApps", Some(&key), None).await;
    assert_eq!(apps["count"], 100);
    // A hundred client apps hide no OAuth client, and do not use up the OAuth clients' places.
    let (_, ocs) = s.api("GET", "/api/oauth2/clients", Some(&key), None).await;
    assert_eq!(ocs["count"], 1, "{ocs}");
    assert_eq!(ocs["results"][0]["clientId"], oc["clientId"]);
    let (status, _) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&key),
            Some(json!({"name": "Second", "scopes": ["Basic"]})),
        )
        .await;
    assert_eq!(status, 201);
    // Deleting frees a place.
    let first = apps["results"][0]["clientId"].as_str().unwrap();
    assert_eq!(
        s.api(
            "DELETE",
            &format!("/api/clientApps/{first}"),
            Some(&key),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        s.api(
            "POST",
            "/api/clientApps",
            Some(&key),
            Some(json!({"name": "again"}))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        s.api(
            "POST",
            "/api/clientApps",
            Some(&key),
            Some(json!({"name": "over"}))
        )
        .await
        .0,
        409
    );
}

async fn form_routes_take_forms_only(b: Backend) {
    let s = Server::start(b).await;
    let (_, id, secret) = oauth_account(&s, json!({})).await;
    let (status, err) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/token"))
                .basic_auth(&id, Some(&secret))
                .json(&json!({"grant_type": "client_credentials"})),
        )
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (415, Some("invalid_request"))
    );
    let (status, _) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/token"))
                .basic_auth(&id, Some(&secret))
                .header("content-type", "text/plain")
                .body("grant_type=client_credentials"),
        )
        .await;
    assert_eq!(status, 415);
}
