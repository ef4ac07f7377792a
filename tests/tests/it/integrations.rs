//! What an integration mints authentication tokens with (docs/CREDENTIALS.md): the API
//! key of a manager, a client app's API token (accounts on `API_KEY`), or a client-credentials
//! OAuth token (accounts on `OAUTH2`) — never a delegated token, a session or a signed request;
//! and no token reaches the credential-management routes. On both backends.

use keygate_e2e::{
    app_bearer, approved_code, client_app, oauth_account, on_both_backends, sign_in, signature,
    token_request, Backend, Server,
};
use serde_json::{json, Value};

on_both_backends!(
    client_app_tokens_mint_authentication_tokens,
    client_credentials_tokens_mint_authentication_tokens,
);

/// `POST path` with `Authorization: <authorization>` and an optional JSON body.
async fn post(s: &Server, path: &str, authorization: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = s
        .http
        .post(s.url(path))
        .header("authorization", authorization);
    if let Some(b) = body {
        req = req.json(&b);
    }
    s.call(req).await
}

/// Opens `/auth` with a user token and asks `whoami` who the session is.
async fn session_of(s: &Server, token: &str) -> Value {
    let resp = s
        .http
        .get(s.url("/auth"))
        .query(&[("authenticationToken", token), ("target", "/dashboard")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, me) = s
        .call(s.http.get(s.url("/api/whoami")).header("cookie", cookie))
        .await;
    assert_eq!(status, 200, "{me}");
    me
}

async fn client_app_token(s: &Server, key: &str) -> String {
    let (id, secret) = client_app(s, key).await;
    app_bearer(s, &id, &secret).await
}

async fn client_app_tokens_mint_authentication_tokens(b: Backend) {
    let s = Server::start(b).await;
    let (account, owner_id, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let bearer = client_app_token(&s, &owner_key).await;

    // Every kind of authentication token, as OneSpan's guide mints them with a client app.
    let (status, user) = post(&s, "/api/authenticationTokens/user", &bearer, None).await;
    assert_eq!(status, 200, "{user}");
    let me = session_of(&s, user["value"].as_str().unwrap()).await;
    assert_eq!(
        (me["subjectType"].as_str(), me["subjectId"].as_str()),
        (Some("owner"), Some(owner_id.as_str())),
        "the app speaks for the owner who made it: {me}"
    );
    for (path, body) in [
        (
            "/api/authenticationTokens/sender",
            json!({"packageId": "pkg1"}),
        ),
        (
            "/api/authenticationTokens/signer/multiUse",
            json!({"packageId": "pkg1", "signerId": "signer1"}),
        ),
        (
            "/api/authenticationTokens/signer/singleUse",
            json!({"packageId": "pkg1", "signerId": "signer1"}),
        ),
    ] {
        let (status, v) = post(&s, path, &bearer, Some(body)).await;
        assert_eq!(status, 200, "{path}: {v}");
        assert!(v["value"].as_str().is_some_and(|v| !v.is_empty()));
    }

    // No credential mints credentials: the token is refused on every management route.
    for (method, path) in [
        ("POST", "/api/clientApps"),
        ("GET", "/api/clientApps"),
        ("GET", "/api/account/apiKey"),
        ("GET", "/api/callback"),
        ("GET", "/api/oauth2/clients"),
    ] {
        let (status, err) = s
            .call(
                s.http
                    .request(method.parse().unwrap(), s.url(path))
                    .header("authorization", &bearer)
                    .json(&json!({"name": "more"})),
            )
            .await;
        assert_eq!(
            (status, err["reason"].as_str()),
            (403, Some("management_needs_api_key")),
            "{method} {path}"
        );
    }

    // A manager's app acts as that manager: it mints that user's session, not the owner's, and
    // stops when the user loses API_ACCESS.
    let (status, added) = s
        .call(
            s.http
                .post(s.url(&format!("/_local/accounts/{account}/users")))
                .json(&json!({"email": "dev@acme.test", "permissions": ["API_ACCESS"]})),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let settings = |on: bool| json!({"rolesAndPermissions": on});
    let (status, _) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            Some(&owner_key),
            Some(settings(true)),
        )
        .await;
    assert_eq!(status, 200);
    let dev_bearer = client_app_token(&s, added["apiKey"].as_str().unwrap()).await;
    let (status, dev) = post(&s, "/api/authenticationTokens/user", &dev_bearer, None).await;
    assert_eq!(status, 200, "{dev}");
    let me = session_of(&s, dev["value"].as_str().unwrap()).await;
    assert_eq!(me["subjectId"], added["userId"], "{me}");
    let (status, err) = post(
        &s,
        "/api/authenticationTokens/user",
        &dev_bearer,
        Some(json!({"userId": owner_id})),
    )
    .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("owner_token_forbidden"))
    );
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&owner_key),
        Some(settings(false)),
    )
    .await;
    let (status, err) = post(&s, "/api/authenticationTokens/user", &dev_bearer, None).await;
    assert_eq!(
        status, 401,
        "the app's token stops with its creator's access: {err}"
    );

    // On an OAUTH2 account, a client app's token is of the other method.
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&owner_key),
        Some(json!({"method": "OAUTH2"})),
    )
    .await;
    let (status, err) = post(&s, "/api/authenticationTokens/user", &bearer, None).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (401, Some("auth_method_refused")),
        "{err}"
    );
    // The owner's API key still mints under either method.
    let (status, _) = post(
        &s,
        "/api/authenticationTokens/user",
        &format!("Basic {owner_key}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

async fn client_credentials_tokens_mint_authentication_tokens(b: Backend) {
    let s = Server::start(b).await;
    let (owner_key, id, secret) = oauth_account(&s, json!({"domain": "app.example.com"})).await;
    let (status, cc) = token_request(
        &s,
        &s.http,
        &id,
        Some(&secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{cc}");
    let bearer = format!("Bearer {}", cc["access_token"].as_str().unwrap());
    let (_, me) = s
        .call(
            s.http
                .get(s.url("/api/whoami"))
                .header("authorization", &bearer),
        )
        .await;
    let account =
        keygate_core::kernel::ids::AccountId::parse(me["accountId"].as_str().unwrap()).unwrap();
    let owner_id = keygate_core::accounts::get_account(&*s.services().table, &account)
        .await
        .unwrap()
        .unwrap()
        .owner_user_id
        .to_string();

    let (status, user) = post(&s, "/api/authenticationTokens/user", &bearer, None).await;
    assert_eq!(status, 200, "{user}");
    let me = session_of(&s, user["value"].as_str().unwrap()).await;
    assert_eq!(
        me["subjectId"], owner_id,
        "the client acts as its creator: {me}"
    );
    let (status, signer) = post(
        &s,
        "/api/authenticationTokens/signer/singleUse",
        &bearer,
        Some(json!({"packageId": "pkg1", "signerId": "signer1"})),
    )
    .await;
    assert_eq!(status, 200, "{signer}");

    // Not with the client's token on the management routes.
    let (status, err) = post(
        &s,
        "/api/oauth2/clients",
        &bearer,
        Some(
            json!({"name": "more", "scopes": ["Basic"], "redirectUris": ["https://x.example/cb"]}),
        ),
    )
    .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("management_needs_api_key"))
    );

    // Not with a token a user delegated to the client (authorization code).
    let cookie = sign_in(&s, &owner_key).await;
    let code = approved_code(&s, &cookie, &id, "Basic").await;
    let (status, delegated) = token_request(
        &s,
        &s.http,
        &id,
        Some(&secret),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://portal.example/cb"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{delegated}");
    let delegated = format!("Bearer {}", delegated["access_token"].as_str().unwrap());
    assert_eq!(
        s.call(
            s.http
                .get(s.url("/api/whoami"))
                .header("authorization", &delegated)
        )
        .await
        .0,
        200,
        "the delegated token works on the platform"
    );
    let (status, err) = post(&s, "/api/authenticationTokens/user", &delegated, None).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("delegated_token_refused")),
        "{err}"
    );

    // Not with a session, nor with a signed request.
    let (status, err) = s
        .call(
            s.http
                .post(s.url("/api/authenticationTokens/user"))
                .header("cookie", &cookie),
        )
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("session_cannot_mint"))
    );
    let date = s.clock.now_for_tests().to_string();
    let (status, err) = s
        .call(
            s.http
                .post(s.url("/api/authenticationTokens/user"))
                .header("x-custom-api-key", &id)
                .header("x-custom-date", &date)
                .header("x-custom-nonce", "mint-1")
                .header(
                    "x-custom-signature",
                    signature(&secret, &id, &date, "mint-1"),
                )
                .header("referer", "https://app.example.com/page")
                .header("authorization", &bearer),
        )
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("signed_request_cannot_mint")),
        "{err}"
    );

    // A client-credentials token of an API_KEY account's client is of the other method.
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&owner_key),
        Some(json!({"method": "API_KEY"})),
    )
    .await;
    let (status, err) = post(&s, "/api/authenticationTokens/user", &bearer, None).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (401, Some("auth_method_refused")),
        "{err}"
    );
}
