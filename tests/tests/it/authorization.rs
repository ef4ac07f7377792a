//! Authorization as one model (docs/CREDENTIALS.md), driven from outside through the public API:
//! - **the table**: every route of every registry × every principal kind, allowed or refused as
//!   DESIGN's table says — generated from the registries, so a route added without its access
//!   (or with one this test does not know) fails here;
//! - **attenuation**: a lesser manager cannot take over the owner's clients; a session an
//!   integration's token opened reaches the platform only;
//! - **revocation flows down**: regenerating a key, deleting a client, rotating its secret out,
//!   losing `API_ACCESS`, switching the account's method and signing out each stop what was
//!   derived from them at the next request.

use keygate_e2e::{
    app_bearer, approved_code, client_app, oauth_account, on_both_backends, sign_in, signature,
    token_request, Backend, Server,
};
use keygate_http::routes::{Access, Action, Route};
use serde_json::{json, Value};

on_both_backends!(
    a_manager_cannot_take_over_the_owners_clients,
    an_integration_session_reaches_the_platform_only,
    a_client_credentials_session_reaches_the_platform_only,
    revocation_flows_down_from_an_api_key,
    revocation_flows_down_from_a_client,
    client_credentials_tokens_stop_with_their_creator,
    sign_out_ends_what_a_session_minted,
    a_session_minted_for_another_user_reaches_the_platform_only,
    regeneration_and_sign_out_from_any_session,
    the_table_on_a_slice_of_routes,
);

/// The whole table, on the in-memory backend (every route × every kind).
#[tokio::test]
async fn the_table_on_every_route() {
    table(Backend::Memory, |_| true).await;
}

/// A representative slice on DynamoDB Local too: one route per access of each function.
async fn the_table_on_a_slice_of_routes(b: Backend) {
    let mut seen = std::collections::HashSet::new();
    table(b, move |r: &Route| seen.insert(format!("{:?}", r.access))).await;
}

// ------------------------------------------------------------------------------------ helpers

/// The cookie a `/auth` redirect sets (`name=value`).
fn set_cookie(resp: &reqwest::Response) -> String {
    resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Opens `/auth` with an authentication token: the session cookie.
async fn open_session(s: &Server, token: &str) -> String {
    let resp = s
        .http
        .get(s.url("/auth"))
        .query(&[
            ("authenticationToken", token),
            ("target", "/admin/api-access"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    set_cookie(&resp)
}

/// `POST path` with an `Authorization` header value and a JSON body: (status, body).
async fn post_as(s: &Server, path: &str, authorization: &str, body: Value) -> (u16, Value) {
    s.call(
        s.http
            .post(s.url(path))
            .header("authorization", authorization)
            .json(&body),
    )
    .await
}

/// Mints a user authentication token with `authorization` (`{}` body: for the caller itself).
async fn user_token(s: &Server, authorization: &str) -> String {
    let (status, v) = post_as(
        s,
        "/api/authenticationTokens/user",
        authorization,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["value"].as_str().unwrap().to_owned()
}

/// The CSRF token of a session cookie, as the console prints it for that session (computed
/// here with the server's peppers, which is the strongest an attacker could hold).
async fn csrf_of(s: &Server, cookie: &str) -> String {
    let value = cookie.split_once('=').unwrap().1;
    let ring = s.services().keys.ring().await;
    keygate_core::identity::csrf::token(ring.peppers(), value)
}

/// `PUT /api/account/authSettings` by the owner, which succeeds.
async fn set_settings(s: &Server, owner_key: &str, body: Value) {
    let (status, v) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            Some(owner_key),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{v}");
}

/// `whoami` refuses the session with `401` and `reason`.
async fn session_refused(s: &Server, cookie: &str, reason: &str) {
    let (status, v) = whoami_session(s, cookie).await;
    assert_eq!((status, v["reason"].as_str()), (401, Some(reason)), "{v}");
}

/// `whoami` with a session cookie.
async fn whoami_session(s: &Server, cookie: &str) -> (u16, Value) {
    s.call(s.http.get(s.url("/api/whoami")).header("cookie", cookie))
        .await
}

/// A management call with a session cookie and its CSRF header.
async fn manage_with_session(
    s: &Server,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let csrf = csrf_of(s, cookie).await;
    let mut req = s
        .http
        .request(method.parse().unwrap(), s.url(path))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf);
    if let Some(b) = body {
        req = req.json(&b);
    }
    s.call(req).await
}

/// Roles on, and a user with `API_ACCESS`: its API key.
async fn manager_user(s: &Server, account: &str, owner_key: &str, email: &str) -> (String, String) {
    set_settings(s, owner_key, json!({"rolesAndPermissions": true})).await;
    let (status, v) = s
        .call(
            s.http
                .post(s.url(&format!("/_local/accounts/{account}/users")))
                .json(&json!({"email": email, "permissions": ["API_ACCESS"]})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    (
        v["userId"].as_str().unwrap().to_owned(),
        v["apiKey"].as_str().unwrap().to_owned(),
    )
}

// ------------------------------------------------------------------------- finding 1: clients

/// Roles on, an `API_ACCESS` manager: rotating the owner's client app or OAuth client, asking it
/// for new credentials or changing its settings is refused (it would hand them a secret that
/// speaks as the owner); their own clients are theirs to change; any manager may revoke any.
async fn a_manager_cannot_take_over_the_owners_clients(b: Backend) {
    let s = Server::start(b).await;
    let (account, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let (_, manager_key) = manager_user(&s, &account, &owner_key, "dev@acme.test").await;

    // Client apps.
    let (owners_app, _) = client_app(&s, &owner_key).await;
    let (status, v) = s
        .api(
            "POST",
            &format!("/api/clientApps/{owners_app}/rotate"),
            Some(&manager_key),
            Some(json!({"gracePeriodSeconds": 86400})),
        )
        .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (403, Some("client_not_yours")),
        "{v}"
    );
    assert!(v.get("secret").is_none());
    let (mine, _) = client_app(&s, &manager_key).await;
    let (status, v) = s
        .api(
            "POST",
            &format!("/api/clientApps/{mine}/rotate"),
            Some(&manager_key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // The owner may rotate anyone's; the new secret still speaks for its creator.
    let (status, v) = s
        .api(
            "POST",
            &format!("/api/clientApps/{mine}/rotate"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let bearer = app_bearer(&s, &mine, v["secret"].as_str().unwrap()).await;
    let (status, me) = s
        .call(
            s.http
                .get(s.url("/api/whoami"))
                .header("authorization", &bearer),
        )
        .await;
    assert_eq!(
        (status, me["subjectType"].as_str()),
        (200, Some("user")),
        "{me}"
    );

    // Any manager may revoke (delete) the owner's app, audited.
    let (status, v) = s
        .api(
            "DELETE",
            &format!("/api/clientApps/{owners_app}"),
            Some(&manager_key),
            None,
        )
        .await;
    assert_eq!(status, 204, "{v}");
    assert!(s.dump_table().await.contains("clientApp.revoke"));

    // OAuth clients, on an OAUTH2 account.
    set_settings(&s, &owner_key, json!({"method": "OAUTH2"})).await;
    let (status, c) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&owner_key),
            Some(json!({"name": "Portal", "scopes": ["Basic"], "redirectUris": ["https://portal.example/cb"]})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["clientId"].as_str().unwrap();
    for (method, path, body) in [
        (
            "POST",
            format!("/api/oauth2/clients/{id}/rotate"),
            json!({"gracePeriodSeconds": 86400}),
        ),
        (
            "PUT",
            format!("/api/oauth2/clients/{id}"),
            json!({"implicit": true, "redirectUris": ["https://attacker.example/cb"]}),
        ),
    ] {
        let (status, v) = s.api(method, &path, Some(&manager_key), Some(body)).await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (403, Some("client_not_yours")),
            "{path} {v}"
        );
    }
    let (status, v) = s
        .api(
            "GET",
            &format!("/api/oauth2/clients/{id}"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["implicit"], false, "{v}");
    assert_eq!(
        v["redirectUris"],
        json!(["https://portal.example/cb"]),
        "{v}"
    );
    let (status, _) = s
        .api(
            "DELETE",
            &format!("/api/oauth2/clients/{id}"),
            Some(&manager_key),
            None,
        )
        .await;
    assert_eq!(status, 204);
}

// ------------------------------------------------------------- finding 2: integration sessions

/// What an integration session may not do, and that it reaches the platform.
async fn platform_only(s: &Server, cookie: &str, minted_by: &str) {
    let (status, me) = whoami_session(s, cookie).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["mintedBy"], minted_by, "{me}");
    // No console: a 403 page that says why.
    let page = s
        .http
        .get(s.url("/admin/api-access"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    assert_eq!(page.headers()["x-keygate-reason"], "integration_session");
    assert!(page.text().await.unwrap().contains("integration"));
    // No management, even with the session's CSRF token.
    for (method, path, body) in [
        ("GET", "/api/account/apiKey?reveal=true", None),
        ("POST", "/api/account/apiKey/regenerate", None),
        ("POST", "/api/clientApps", Some(json!({"name": "Backdoor"}))),
        ("GET", "/api/clientApps", None),
    ] {
        let (status, v) = manage_with_session(s, method, path, cookie, body).await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (403, Some("integration_session")),
            "{path} {v}"
        );
    }
    // No minting of its successor.
    let (status, v) = manage_with_session(
        s,
        "POST",
        "/api/authenticationTokens/user",
        cookie,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (403, Some("integration_session_cannot_mint")),
        "{v}"
    );
}

async fn an_integration_session_reaches_the_platform_only(b: Backend) {
    let s = Server::start(b).await;
    let (_, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let (id, secret) = client_app(&s, &owner_key).await;
    let bearer = app_bearer(&s, &id, &secret).await;
    let cookie = open_session(&s, &user_token(&s, &bearer).await).await;
    platform_only(&s, &cookie, "CLIENT_APP").await;
    // And it stops with its app.
    let (status, _) = s
        .api(
            "DELETE",
            &format!("/api/clientApps/{id}"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(status, 204);
    session_refused(&s, &cookie, "client_revoked").await;
}

async fn a_client_credentials_session_reaches_the_platform_only(b: Backend) {
    let s = Server::start(b).await;
    let (owner_key, id, secret) = oauth_account(&s, json!({})).await;
    let (status, tok) = token_request(
        &s,
        &s.http,
        &id,
        Some(&secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{tok}");
    let bearer = format!("Bearer {}", tok["access_token"].as_str().unwrap());
    let cookie = open_session(&s, &user_token(&s, &bearer).await).await;
    platform_only(&s, &cookie, "OAUTH2").await;
    // It stops when the account switches method back.
    set_settings(&s, &owner_key, json!({"method": "API_KEY"})).await;
    session_refused(&s, &cookie, "auth_method_refused").await;
}

// ------------------------------------------------------------------ revocation flows down

/// Regenerating an API key ends the console sessions and the unredeemed tokens it minted; a
/// user who loses `API_ACCESS` loses what their key minted (the key itself keeps the platform).
async fn revocation_flows_down_from_an_api_key(b: Backend) {
    let s = Server::start(b).await;
    let (account, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let basic = format!("Basic {owner_key}");
    let cookie = open_session(&s, &user_token(&s, &basic).await).await;
    let unredeemed = user_token(&s, &basic).await;
    let (status, v) = post_as(
        &s,
        "/api/authenticationTokens/signer/multiUse",
        &basic,
        json!({"packageId": "pkg1", "signerId": "s@x.test"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let signer = v["value"].as_str().unwrap().to_owned();
    let (status, _) = whoami_session(&s, &cookie).await;
    assert_eq!(status, 200);

    let (status, v) = s
        .api(
            "POST",
            "/api/account/apiKey/regenerate",
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let owner_key = v["apiKey"].as_str().unwrap().to_owned();
    session_refused(&s, &cookie, "api_key_regenerated").await;
    let resp = s
        .http
        .get(s.url("/auth"))
        .query(&[
            ("authenticationToken", unredeemed.as_str()),
            ("target", "/admin/api-access"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("set-cookie").is_none());
    let resp = s
        .http
        .get(s.url("/access"))
        .query(&[("sessionToken", signer.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A manager's console session: the console while it may manage, the platform after.
    let (_, manager_key) = manager_user(&s, &account, &owner_key, "dev@acme.test").await;
    let cookie = open_session(&s, &user_token(&s, &format!("Basic {manager_key}")).await).await;
    let (status, _) = manage_with_session(&s, "GET", "/api/clientApps", &cookie, None).await;
    assert_eq!(status, 200);
    set_settings(&s, &owner_key, json!({"rolesAndPermissions": false})).await;
    let (status, v) = manage_with_session(&s, "GET", "/api/clientApps", &cookie, None).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (401, Some("source_lost_access")),
        "{v}"
    );
    session_refused(&s, &cookie, "source_lost_access").await;
}

/// A manager may mint a user token for another (non-owner) user, but the session it opens acts
/// for no one else: the platform as that user, never the console, management, minting or
/// consent. The owner's key may open another user's console session (it could do all of it).
async fn a_session_minted_for_another_user_reaches_the_platform_only(b: Backend) {
    let s = Server::start(b).await;
    let (account, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let (_, a_key) = manager_user(&s, &account, &owner_key, "a@acme.test").await;
    let (c_id, c_key) = manager_user(&s, &account, &owner_key, "c@acme.test").await;
    let (c_app, _) = client_app(&s, &c_key).await;
    let (status, v) = post_as(
        &s,
        "/api/authenticationTokens/user",
        &format!("Basic {a_key}"),
        json!({"userId": c_id}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let cookie = open_session(&s, v["value"].as_str().unwrap()).await;
    let (status, me) = whoami_session(&s, &cookie).await;
    assert_eq!(
        (status, me["subjectId"].as_str()),
        (200, Some(c_id.as_str())),
        "{me}"
    );
    for (method, path, body) in [
        ("POST", format!("/api/clientApps/{c_app}/rotate"), None),
        (
            "POST",
            "/api/clientApps".to_owned(),
            Some(json!({"name": "As C"})),
        ),
        (
            "POST",
            "/api/authenticationTokens/user".to_owned(),
            Some(json!({})),
        ),
    ] {
        let (status, v) = manage_with_session(&s, method, &path, &cookie, body).await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (403, Some("not_manager")),
            "{path} {v}"
        );
    }
    let page = s
        .http
        .get(s.url("/admin/api-access"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    // The owner's key minting for C: C's console session manages as C.
    let (status, v) = post_as(
        &s,
        "/api/authenticationTokens/user",
        &format!("Basic {owner_key}"),
        json!({"userId": c_id}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let cookie = open_session(&s, v["value"].as_str().unwrap()).await;
    let (status, v) = manage_with_session(&s, "GET", "/api/clientApps", &cookie, None).await;
    assert_eq!(status, 200, "{v}");
}

/// Regenerating the key from a session minted through another session would lose the new key
/// with the session: refused, nothing changed. Any session, a signer's too, may sign out.
async fn regeneration_and_sign_out_from_any_session(b: Backend) {
    let s = Server::start(b).await;
    let (_, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let console = sign_in(&s, &owner_key).await;
    let (status, v) = manage_with_session(
        &s,
        "POST",
        "/api/authenticationTokens/user",
        &console,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let child = open_session(&s, v["value"].as_str().unwrap()).await;
    let (status, v) =
        manage_with_session(&s, "POST", "/api/account/apiKey/regenerate", &child, None).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (409, Some("regenerate_from_own_session")),
        "{v}"
    );
    let (status, _) = s.whoami(&owner_key).await;
    assert_eq!(status, 200, "the key is unchanged");
    // From the session the key opened itself: the session goes on with the new key.
    let (status, v) =
        manage_with_session(&s, "POST", "/api/account/apiKey/regenerate", &console, None).await;
    assert_eq!(status, 200, "{v}");
    let new_key = v["apiKey"].as_str().unwrap().to_owned();
    let (status, _) = whoami_session(&s, &console).await;
    assert_eq!(status, 200);
    session_refused(&s, &child, "api_key_regenerated").await;

    // A signer's session signs out.
    let (status, v) = post_as(
        &s,
        "/api/authenticationTokens/signer/multiUse",
        &format!("Basic {new_key}"),
        json!({"packageId": "pkg1", "signerId": "s@x.test"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let resp = s
        .http
        .get(s.url("/access"))
        .query(&[("sessionToken", v["value"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    let signer = set_cookie(&resp);
    let csrf = csrf_of(&s, &signer).await;
    let resp = s
        .http
        .post(s.url("/admin/sign-out"))
        .header("cookie", &signer)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let (status, _) = whoami_session(&s, &signer).await;
    assert_eq!(status, 401);
}

/// Rotating an app's secret out (no grace) ends the sessions its tokens' minted tokens opened;
/// the creator losing `API_ACCESS` too.
async fn revocation_flows_down_from_a_client(b: Backend) {
    let s = Server::start(b).await;
    let (account, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let (id, secret) = client_app(&s, &owner_key).await;
    let bearer = app_bearer(&s, &id, &secret).await;
    let cookie = open_session(&s, &user_token(&s, &bearer).await).await;
    let (status, _) = s
        .api(
            "POST",
            &format!("/api/clientApps/{id}/rotate"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    session_refused(&s, &cookie, "secret_rotated_out").await;

    // A manager's app: its sessions stop when roles go off.
    let (_, manager_key) = manager_user(&s, &account, &owner_key, "dev@acme.test").await;
    let (id, secret) = client_app(&s, &manager_key).await;
    let bearer = app_bearer(&s, &id, &secret).await;
    let cookie = open_session(&s, &user_token(&s, &bearer).await).await;
    let (status, _) = whoami_session(&s, &cookie).await;
    assert_eq!(status, 200);
    set_settings(&s, &owner_key, json!({"rolesAndPermissions": false})).await;
    session_refused(&s, &cookie, "creator_lost_access").await;
}

/// A client-credentials token speaks for its client and mints as its creator: it stops when
/// the creator may no longer manage (roles turned off for a non-owner), on the platform too.
async fn client_credentials_tokens_stop_with_their_creator(b: Backend) {
    let s = Server::start(b).await;
    let (account, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let (_, manager_key) = manager_user(&s, &account, &owner_key, "dev@acme.test").await;
    set_settings(&s, &owner_key, json!({"method": "OAUTH2"})).await;
    let (status, c) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&manager_key),
            Some(json!({"name": "Sync", "scopes": ["Basic"], "redirectUris": ["https://portal.example/cb"]})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let (id, secret) = (
        c["clientId"].as_str().unwrap(),
        c["clientSecret"].as_str().unwrap(),
    );
    let (status, tok) = token_request(
        &s,
        &s.http,
        id,
        Some(secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{tok}");
    let bearer = format!("Bearer {}", tok["access_token"].as_str().unwrap());
    let whoami = || {
        s.call(
            s.http
                .get(s.url("/api/whoami"))
                .header("authorization", &bearer),
        )
    };
    let (status, me) = whoami().await;
    assert_eq!(
        (status, me["subjectType"].as_str()),
        (200, Some("client")),
        "{me}"
    );
    set_settings(&s, &owner_key, json!({"rolesAndPermissions": false})).await;
    let (status, v) = whoami().await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (401, Some("creator_lost_access")),
        "{v}"
    );
}

/// A console session mints (with its CSRF header) only what expires with it, and signing out
/// ends every session minted through it.
async fn sign_out_ends_what_a_session_minted(b: Backend) {
    let s = Server::start(b).await;
    let (_, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let console = sign_in(&s, &owner_key).await;
    let (status, v) = manage_with_session(
        &s,
        "POST",
        "/api/authenticationTokens/sender",
        &console,
        Some(json!({"packageId": "pkg1"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let child = open_session(&s, v["value"].as_str().unwrap()).await;
    let (status, me) = whoami_session(&s, &child).await;
    assert_eq!(
        (status, me["subjectType"].as_str()),
        (200, Some("sender")),
        "{me}"
    );
    // Without the CSRF header a session mints nothing.
    let (status, v) = s
        .call(
            s.http
                .post(s.url("/api/authenticationTokens/user"))
                .header("cookie", &console)
                .json(&json!({})),
        )
        .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (403, Some("session_cannot_mint")),
        "{v}"
    );

    let csrf = csrf_of(&s, &console).await;
    let resp = s
        .http
        .post(s.url("/admin/sign-out"))
        .header("cookie", &console)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success() || resp.status().is_redirection(),
        "{}",
        resp.status()
    );
    let (status, _) = whoami_session(&s, &console).await;
    assert_eq!(status, 401);
    session_refused(&s, &child, "session_ended").await;
}

// --------------------------------------------------------------------------------- the table

/// The principal kinds of DESIGN's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    OwnerKey,
    UserKey,
    Integration,
    Delegated,
    SignedRequest,
    OwnerConsole,
    UserConsole,
    IntegrationSession,
    PackageSession,
}

const EVERYONE: [Who; 9] = [
    Who::OwnerKey,
    Who::UserKey,
    Who::Integration,
    Who::Delegated,
    Who::SignedRequest,
    Who::OwnerConsole,
    Who::UserConsole,
    Who::IntegrationSession,
    Who::PackageSession,
];

impl Who {
    fn session(self) -> bool {
        matches!(
            self,
            Who::OwnerConsole | Who::UserConsole | Who::IntegrationSession | Who::PackageSession
        )
    }
}

/// DESIGN's table, written out for this test: whether `who` may call a route of `access` (the
/// user holds `API_ACCESS` with roles on); `None` where the route takes no principal of that
/// kind (public routes, the client's own authentication, the consent page without a session).
fn expected(access: Access, who: Who) -> Option<bool> {
    use Who::*;
    Some(match access {
        Access::Public | Access::Client => return None,
        Access::Platform => true,
        Access::Consent if !who.session() => return None,
        Access::Consent => matches!(who, OwnerConsole | UserConsole),
        Access::Api(Action::Platform) => true,
        Access::Api(Action::Mint) => {
            matches!(
                who,
                OwnerKey | UserKey | Integration | OwnerConsole | UserConsole
            )
        }
        Access::Api(Action::Manage) => {
            matches!(who, OwnerKey | UserKey | OwnerConsole | UserConsole)
        }
        Access::Api(Action::Owner) => matches!(who, OwnerKey | OwnerConsole),
        Access::Console(Action::Platform) => who.session(),
        Access::Console(Action::Manage | Action::Mint) => matches!(who, OwnerConsole | UserConsole),
        Access::Console(Action::Owner) => who == OwnerConsole,
    })
}

/// The refusals the policy gives (a `403` with another reason is a rule of the route's own,
/// such as `client_not_yours`, not the table's).
const POLICY_REASONS: &[&str] = &[
    "not_manager",
    "owner_only",
    "csrf_missing",
    "management_needs_api_key",
    "integration_session",
    "integration_session_cannot_mint",
    "delegated_token_refused",
    "signed_request_cannot_mint",
    "session_cannot_mint",
];

/// One account with a principal of `who` and the objects routes name: how to call as `who`.
struct World {
    /// `Authorization` header value, or a session cookie.
    authorization: Option<String>,
    cookie: Option<String>,
    headers: Vec<(String, String)>,
    client_app: String,
    oauth_client: String,
    endpoint: String,
}

async fn world(s: &Server, who: Who) -> World {
    let (account, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let (_, user_key) = manager_user(s, &account, &owner_key, "dev@acme.test").await;
    let (app, app_secret) = client_app(s, &owner_key).await;
    let (status, ep) = s
        .api(
            "POST",
            "/api/callback/endpoints",
            Some(&owner_key),
            Some(json!({"url": "https://hooks.example/in", "events": ["PACKAGE_CREATE"]})),
        )
        .await;
    assert_eq!(status, 201, "{ep}");
    let endpoint = ep["id"].as_str().unwrap().to_owned();
    let (status, oc) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&owner_key),
            Some(json!({"name": "Portal", "scopes": ["Basic"], "redirectUris": ["https://portal.example/cb"], "domain": "portal.example"})),
        )
        .await;
    assert_eq!(status, 201, "{oc}");
    let oauth_client = oc["clientId"].as_str().unwrap().to_owned();
    let oauth_secret = oc["clientSecret"].as_str().unwrap().to_owned();
    let mut w = World {
        authorization: None,
        cookie: None,
        headers: vec![],
        client_app: app.clone(),
        oauth_client: oauth_client.clone(),
        endpoint,
    };
    let session = |token: String| async move { open_session(s, &token).await };
    match who {
        Who::OwnerKey => w.authorization = Some(format!("Basic {owner_key}")),
        Who::UserKey => w.authorization = Some(format!("Basic {user_key}")),
        Who::Integration => w.authorization = Some(app_bearer(s, &app, &app_secret).await),
        Who::OwnerConsole => {
            w.cookie = Some(session(user_token(s, &format!("Basic {owner_key}")).await).await)
        }
        Who::UserConsole => {
            w.cookie = Some(session(user_token(s, &format!("Basic {user_key}")).await).await)
        }
        Who::IntegrationSession => {
            let bearer = app_bearer(s, &app, &app_secret).await;
            w.cookie = Some(session(user_token(s, &bearer).await).await)
        }
        Who::PackageSession => {
            let (status, v) = post_as(
                s,
                "/api/authenticationTokens/sender",
                &format!("Basic {owner_key}"),
                json!({"packageId": "pkg1"}),
            )
            .await;
            assert_eq!(status, 200, "{v}");
            w.cookie = Some(session(v["value"].as_str().unwrap().to_owned()).await)
        }
        Who::Delegated | Who::SignedRequest => {
            // Delegated tokens and signed requests are OAuth 2.0 credentials: the account
            // switches method (its management stays the API key's).
            set_settings(s, &owner_key, json!({"method": "OAUTH2"})).await;
            let console = sign_in(s, &owner_key).await;
            let code = approved_code(s, &console, &oauth_client, "Basic").await;
            let (status, tok) = token_request(
                s,
                &s.http,
                &oauth_client,
                Some(&oauth_secret),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", "https://portal.example/cb"),
                ],
            )
            .await;
            assert_eq!(status, 200, "{tok}");
            let access = tok["access_token"].as_str().unwrap().to_owned();
            w.authorization = Some(format!("Bearer {access}"));
            if who == Who::SignedRequest {
                let date = s.services().now().to_string();
                let nonce =
                    keygate_core::kernel::crypto::Secret::generate().expose()[..24].to_owned();
                let sig = signature(&oauth_secret, &oauth_client, &date, &nonce);
                w.headers = vec![
                    ("x-custom-api-key".into(), oauth_client.clone()),
                    ("x-custom-date".into(), date),
                    ("x-custom-nonce".into(), nonce),
                    ("x-custom-signature".into(), sig),
                    ("referer".into(), "https://portal.example/".into()),
                ];
            }
        }
    }
    if let Some(c) = &w.cookie {
        w.headers.push(("x-csrf-token".into(), csrf_of(s, c).await));
    }
    w
}

/// Calls `route` as the world's principal: (status, reason).
async fn call_as(s: &Server, route: &Route, w: &World) -> (u16, Option<String>) {
    let path = route
        .path
        .replace(
            "{clientId}",
            if route.path.contains("oauth2") {
                &w.oauth_client
            } else {
                &w.client_app
            },
        )
        .replace("{endpointId}", &w.endpoint)
        .replace("{id}", "msg_unknown");
    let path = if route.access == Access::Consent {
        format!(
            "{path}?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fportal.example%2Fcb&scope=Basic&state=st",
            w.oauth_client
        )
    } else {
        path
    };
    let mut req = s.http.request(route.method.parse().unwrap(), s.url(&path));
    if let Some(a) = &w.authorization {
        req = req.header("authorization", a);
    }
    if let Some(c) = &w.cookie {
        req = req.header("cookie", c);
    }
    for (k, v) in &w.headers {
        req = req.header(k, v);
    }
    req = match (route.access, route.method) {
        (Access::Console(_), _) => {
            let csrf = w
                .headers
                .iter()
                .find(|(k, _)| k == "x-csrf-token")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            req.form(&[("csrf", csrf.as_str()), ("name", "X")])
        }
        (_, "POST" | "PUT") => req.json(&json!({})),
        _ => req,
    };
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let header_reason = resp
        .headers()
        .get("x-keygate-reason")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value =
        serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    let reason = body["reason"]
        .as_str()
        .map(str::to_owned)
        .or(header_reason)
        .or_else(|| body["error"].as_str().map(str::to_owned));
    (status, reason)
}

/// Every route of every registry (those `pick` keeps) × every principal kind.
async fn table(b: Backend, mut pick: impl FnMut(&Route) -> bool) {
    let registries: [&[Route]; 3] = [
        keygate_token::ROUTES,
        keygate_auth_tokens::ROUTES,
        keygate_client_apps::ROUTES,
    ];
    let s = Server::start(b).await;
    let mut checked = 0;
    for route in registries.into_iter().flatten() {
        // The consent form's POST carries a form only a consent page hands out: its page (the
        // GET) is the route whose access is checked.
        if !pick(route) || (route.access == Access::Consent && route.method == "POST") {
            continue;
        }
        for who in EVERYONE {
            let Some(allowed) = expected(route.access, who) else {
                continue;
            };
            let w = world(&s, who).await;
            let (status, reason) = call_as(&s, route, &w).await;
            let policy_refusal = status == 401
                || (status == 403
                    && reason
                        .as_deref()
                        .is_none_or(|r| POLICY_REASONS.contains(&r)));
            assert!(status < 500, "{route:?} as {who:?}: {status} {reason:?}");
            if allowed {
                assert!(
                    !policy_refusal,
                    "{route:?} as {who:?} should be allowed: {status} {reason:?}"
                );
            } else {
                assert!(
                    policy_refusal,
                    "{route:?} as {who:?} should be refused: {status} {reason:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}
