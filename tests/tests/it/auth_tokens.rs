//! Authentication tokens and their sessions, through the local API server, on the
//! in-memory adapters and on the local stack (DynamoDB Local): each kind, reuse, expiry (the
//! server's manual clock, no sleeps), the race, the redirect allowlist and every bad input.

use keygate_core::authtokens;
use keygate_core::identity::SubjectType;
use keygate_e2e::{Backend, Server};
use serde_json::{json, Value};

const USER: &str = "/api/authenticationTokens/user";
const SENDER: &str = "/api/authenticationTokens/sender";
const MULTI: &str = "/api/authenticationTokens/signer/multiUse";
const SINGLE: &str = "/api/authenticationTokens/signer/singleUse";

/// What a browser route answered.
#[derive(Debug)]
struct Opened {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    reason: Option<String>,
    content_type: String,
    body: String,
}

impl Opened {
    /// The session cookie's value.
    fn session(&self) -> String {
        let c = self.set_cookie.as_deref().expect("a session cookie");
        c.strip_prefix("kg_session=")
            .and_then(|c| c.split(';').next())
            .expect("kg_session=<value>; …")
            .to_owned()
    }
    fn refused(&self, status: u16, reason: &str) {
        assert_eq!(
            (self.status, self.reason.as_deref()),
            (status, Some(reason)),
            "{self:?}"
        );
        assert!(self.content_type.starts_with("text/html"), "{self:?}");
        assert!(self.location.is_none(), "never a redirect: {self:?}");
        assert!(self.set_cookie.is_none(), "no session: {self:?}");
    }
}

async fn mint(s: &Server, key: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = s
        .http
        .post(s.url(path))
        .header("authorization", format!("Basic {key}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    s.call(req).await
}

async fn mint_ok(s: &Server, key: &str, path: &str, body: Option<Value>) -> String {
    let (status, v) = mint(s, key, path, body).await;
    assert_eq!(status, 200, "{v}");
    v["value"].as_str().expect("value").to_owned()
}

async fn open_with(http: &reqwest::Client, url: String, query: &[(&str, &str)]) -> Opened {
    let resp = http
        .get(url)
        .query(query)
        .send()
        .await
        .expect("request reaches the server");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let opened = Opened {
        status: resp.status().as_u16(),
        location: header("location"),
        set_cookie: header("set-cookie"),
        reason: header("x-keygate-reason"),
        content_type: header("content-type").unwrap_or_default(),
        body: String::new(),
    };
    Opened {
        body: resp.text().await.unwrap_or_default(),
        ..opened
    }
}

async fn auth(s: &Server, token: &str, target: &str) -> Opened {
    open_with(
        &s.http,
        s.url("/auth"),
        &[("authenticationToken", token), ("target", target)],
    )
    .await
}

async fn access(s: &Server, token: &str) -> Opened {
    open_with(&s.http, s.url("/access"), &[("sessionToken", token)]).await
}

/// Adds a user through the operator route: (userId, apiKey).
async fn add_user(s: &Server, account: &str, email: &str) -> (String, String) {
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

/// Turns roles and permissions on for an account, straight in the store (the settings route is
/// another function's).
async fn roles_on(s: &Server, account: &str) {
    let table = &*s.services().table;
    let id = keygate_core::kernel::ids::AccountId::parse(account).unwrap();
    let mut acc = keygate_core::accounts::get_account(table, &id)
        .await
        .unwrap()
        .unwrap();
    acc.settings.roles_and_permissions = true;
    let item =
        keygate_core::ports::store::Item::new(keygate_core::accounts::account_key(&id), &acc)
            .unwrap();
    table
        .put(item, keygate_core::ports::store::Condition::Always)
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------

async fn each_kind_opens_a_session_of_its_scope(backend: Backend) {
    let s = Server::start(backend).await;
    let (account, owner, key) = s.create_account("Acme", "owner@acme.test").await;

    // User token → /auth → the owner's session.
    let token = mint_ok(&s, &key, USER, None).await;
    let opened = auth(&s, &token, "/a/dashboard").await;
    assert_eq!(opened.status, 302, "{opened:?}");
    assert_eq!(opened.location.as_deref(), Some("/a/dashboard"));
    let cookie = opened.set_cookie.clone().unwrap();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1800"] {
        assert!(
            cookie.split("; ").any(|p| p == part),
            "{cookie} lacks {part}"
        );
    }
    // Local mode on plain http: no `Secure` (Config::local_mode); the unit tests show it set.
    assert!(!cookie.contains("Secure"));
    let p = authtokens::authenticate_session(
        &authtokens::Ports::of(s.services()).await,
        &opened.session(),
    )
    .await
    .unwrap();
    assert_eq!(p.account_id.as_str(), account);
    assert_eq!(
        (p.subject_type, p.subject_id.as_str()),
        (SubjectType::Owner, owner.as_str())
    );
    assert_eq!(
        (p.package_id.as_deref(), p.signer_id.as_deref()),
        (None, None)
    );
    assert_eq!(serde_json::to_value(p.auth_method).unwrap(), "SESSION");

    // A user named in the body → that user's session.
    let (dev, _) = add_user(&s, &account, "dev@acme.test").await;
    let token = mint_ok(&s, &key, USER, Some(json!({"userId": dev}))).await;
    let opened = auth(&s, &token, "/a/dashboard").await;
    let p = authtokens::authenticate_session(
        &authtokens::Ports::of(s.services()).await,
        &opened.session(),
    )
    .await
    .unwrap();
    assert_eq!(
        (p.subject_type, p.subject_id.as_str()),
        (SubjectType::User, dev.as_str())
    );

    // Sender token → /auth (allowlisted absolute target) → a sender of that package only.
    let pkg = "5vjLRY5MWrDJ6MzRAEyCKOy5IH0=";
    let (status, v) = mint(&s, &key, SENDER, Some(json!({"packageId": pkg}))).await;
    assert_eq!(status, 200);
    assert_eq!(v.as_object().unwrap().len(), 1, "OneSpan's shape: {v}");
    let target = s.url(&format!("/a/transaction/{pkg}"));
    let opened = auth(&s, v["value"].as_str().unwrap(), &target).await;
    assert_eq!(opened.status, 302);
    assert_eq!(opened.location.as_deref(), Some(target.as_str()));
    let p = authtokens::authenticate_session(
        &authtokens::Ports::of(s.services()).await,
        &opened.session(),
    )
    .await
    .unwrap();
    assert_eq!(p.subject_type, SubjectType::Sender);
    assert_eq!(p.subject_id, owner);
    assert_eq!(p.package_id.as_deref(), Some(pkg));

    // Multi-use signer token → /access → the signing ceremony of the package.
    let signer = "8b734331-bc5b-4843-9784-d4ece4b7dc22";
    let (status, v) = mint(
        &s,
        &key,
        MULTI,
        Some(json!({"packageId": pkg, "signerId": signer})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["packageId"], pkg);
    assert_eq!(v["signerId"], signer);
    let opened = access(&s, v["value"].as_str().unwrap()).await;
    assert_eq!(opened.status, 302);
    assert_eq!(
        opened.location.as_deref(),
        Some(
            s.url("/signing?packageId=5vjLRY5MWrDJ6MzRAEyCKOy5IH0%3D")
                .as_str()
        )
    );
    let p = authtokens::authenticate_session(
        &authtokens::Ports::of(s.services()).await,
        &opened.session(),
    )
    .await
    .unwrap();
    assert_eq!(p.subject_type, SubjectType::Signer);
    assert_eq!(
        (p.package_id.as_deref(), p.signer_id.as_deref()),
        (Some(pkg), Some(signer))
    );

    // Single-use signer token (signer by email, with session fields) → /access.
    let email = "cd9lbzvjgblygdncdz3x@esignlive.com";
    let fields = json!({"locale": "fr", "returnUrl": "https://app.example.com/done"});
    let (status, v) = mint(
        &s,
        &key,
        SINGLE,
        Some(json!({"packageId": "s-wy6PFASBlAKfnLJjcbzoaMyTg=", "signerId": email, "sessionFields": fields})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["sessionFields"], fields);
    assert_eq!(v["signerId"], email);
    let opened = access(&s, v["value"].as_str().unwrap()).await;
    assert_eq!(opened.status, 302);
    let session = authtokens::get_session(
        &authtokens::Ports::of(s.services()).await,
        &opened.session(),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(session.session_fields()).unwrap(),
        fields
    );
    let p = authtokens::authenticate_session(
        &authtokens::Ports::of(s.services()).await,
        &opened.session(),
    )
    .await
    .unwrap();
    assert_eq!(
        (p.subject_type, p.subject_id.as_str()),
        (SubjectType::Signer, email)
    );
    // The session carries them to the platform: `whoami` shows them as an object, and the
    // authorizer's answer to API Gateway passes them on as a JSON string in its context.
    let cookie = format!("kg_session={}", opened.session());
    let (status, me) = s
        .call(s.http.get(s.url("/api/whoami")).header("cookie", &cookie))
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["sessionFields"], fields, "{me}");
    let mut event: aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request =
        serde_json::from_str(include_str!("../../../events/verify.json")).unwrap();
    event.headers.clear();
    // Deployed, API Gateway is https: the browser sends the `__Host-` cookie.
    event.cookies = vec![format!("__Host-kg_session={}", opened.session())];
    let answer = keygate_verify::authorize(s.services(), event).await;
    assert!(answer.is_authorized);
    let passed = answer.context["sessionFields"]
        .as_str()
        .expect("a string, as every API Gateway flavour passes context values on");
    assert_eq!(serde_json::from_str::<Value>(passed).unwrap(), fields);

    // Without sessionFields the answer says null.
    let (_, v) = mint(
        &s,
        &key,
        SINGLE,
        Some(json!({"packageId": "p", "signerId": "s"})),
    )
    .await;
    assert!(v.as_object().unwrap().contains_key("sessionFields") && v["sessionFields"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_opens_a_session_of_its_scope_in_memory() {
    each_kind_opens_a_session_of_its_scope(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_opens_a_session_of_its_scope_on_the_stack() {
    each_kind_opens_a_session_of_its_scope(Backend::Stack).await;
}

// ---------------------------------------------------------------------------------------------

async fn single_use_tokens_work_once_multi_use_again(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;

    for (path, body) in [(USER, None), (SENDER, Some(json!({"packageId": "p1"})))] {
        let token = mint_ok(&s, &key, path, body).await;
        assert_eq!(auth(&s, &token, "/a").await.status, 302);
        auth(&s, &token, "/a").await.refused(401, "token_used");
    }
    let single = mint_ok(
        &s,
        &key,
        SINGLE,
        Some(json!({"packageId": "p", "signerId": "s"})),
    )
    .await;
    assert_eq!(access(&s, &single).await.status, 302);
    access(&s, &single).await.refused(401, "token_used");

    let multi = mint_ok(
        &s,
        &key,
        MULTI,
        Some(json!({"packageId": "p", "signerId": "s"})),
    )
    .await;
    let mut sessions = std::collections::HashSet::new();
    for _ in 0..3 {
        let opened = access(&s, &multi).await;
        assert_eq!(opened.status, 302);
        sessions.insert(opened.session());
    }
    assert_eq!(
        sessions.len(),
        3,
        "each redemption opens a session of its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_tokens_work_once_multi_use_again_in_memory() {
    single_use_tokens_work_once_multi_use_again(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_tokens_work_once_multi_use_again_on_the_stack() {
    single_use_tokens_work_once_multi_use_again(Backend::Stack).await;
}

// ---------------------------------------------------------------------------------------------

async fn tokens_and_sessions_expire(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    let multi = mint_ok(
        &s,
        &key,
        MULTI,
        Some(json!({"packageId": "p", "signerId": "s"})),
    )
    .await;
    let user = mint_ok(&s, &key, USER, None).await;
    let single = mint_ok(
        &s,
        &key,
        SINGLE,
        Some(json!({"packageId": "p", "signerId": "s"})),
    )
    .await;

    s.clock.advance(1799);
    let late = access(&s, &multi).await;
    assert_eq!(late.status, 302, "still alive one second before the end");
    s.clock.advance(1);
    access(&s, &multi).await.refused(401, "token_expired");
    auth(&s, &user, "/a").await.refused(401, "token_expired");
    access(&s, &single).await.refused(401, "token_expired");

    // The session opened at +1799 s lives its own 30 minutes from then.
    let session = late.session();
    s.clock.advance(1798);
    assert!(
        authtokens::authenticate_session(&authtokens::Ports::of(s.services()).await, &session)
            .await
            .is_ok()
    );
    s.clock.advance(1);
    let e = authtokens::authenticate_session(&authtokens::Ports::of(s.services()).await, &session)
        .await
        .unwrap_err();
    assert_eq!((e.status().as_u16(), e.reason), (401, "session_expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_sessions_expire_in_memory() {
    tokens_and_sessions_expire(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_sessions_expire_on_the_stack() {
    tokens_and_sessions_expire(Backend::Stack).await;
}

// ---------------------------------------------------------------------------------------------

/// 32 browsers open one single-use link at once: exactly one gets a session.
async fn racing_redemptions_open_exactly_one_session(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    for (path, body) in [
        (USER, None),
        (SINGLE, Some(json!({"packageId": "p", "signerId": "s"}))),
    ] {
        let token = mint_ok(&s, &key, path, body).await;
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let http = s.http.clone();
                let token = token.clone();
                let (url, param) = if path == USER {
                    (s.url("/auth"), "authenticationToken")
                } else {
                    (s.url("/access"), "sessionToken")
                };
                tokio::spawn(async move {
                    open_with(&http, url, &[(param, token.as_str()), ("target", "/a")]).await
                })
            })
            .collect();
        let mut sessions = Vec::new();
        for task in tasks {
            let opened = task.await.expect("task");
            if opened.status == 302 {
                sessions.push(opened.session());
            } else {
                assert_eq!(opened.status, 401, "{opened:?}");
                assert!(opened.location.is_none() && opened.set_cookie.is_none());
            }
        }
        assert_eq!(sessions.len(), 1, "{path}: exactly one session");
        assert!(authtokens::authenticate_session(
            &authtokens::Ports::of(s.services()).await,
            &sessions[0]
        )
        .await
        .is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_redemptions_open_exactly_one_session_in_memory() {
    racing_redemptions_open_exactly_one_session(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_redemptions_open_exactly_one_session_on_the_stack() {
    racing_redemptions_open_exactly_one_session(Backend::Stack).await;
}

// ---------------------------------------------------------------------------------------------

async fn redirects_stay_on_the_allowlist(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    let token = mint_ok(&s, &key, USER, None).await;
    for target in [
        "https://evil.test",
        "https://evil.test/a/dashboard",
        "//evil.test",
        "/\\evil.test",
        "javascript:alert(document.cookie)",
        "a/relative",
        "http://127.0.0.1:1/",
    ] {
        let opened = auth(&s, &token, target).await;
        opened.refused(400, "target_not_allowed");
        assert!(opened.body.contains("<!doctype html>"), "a plain page");
    }
    // Refused targets did not use the token up; an allowlisted origin is fine.
    let target = s.url("/oauth/consent?x=1");
    let opened = auth(&s, &token, &target).await;
    assert_eq!(opened.status, 302);
    assert_eq!(opened.location.as_deref(), Some(target.as_str()));

    let token = mint_ok(&s, &key, USER, None).await;
    let opened = auth(&s, &token, "/a/dashboard?tab=2").await;
    assert_eq!(opened.location.as_deref(), Some("/a/dashboard?tab=2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_stay_on_the_allowlist_in_memory() {
    redirects_stay_on_the_allowlist(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_stay_on_the_allowlist_on_the_stack() {
    redirects_stay_on_the_allowlist(Backend::Stack).await;
}

// ---------------------------------------------------------------------------------------------

async fn bad_input_is_a_clear_4xx(backend: Backend) {
    let s = Server::start(backend).await;
    let (account, owner, key) = s.create_account("Acme", "owner@acme.test").await;

    // Minting: JSON 4xx with a stable reason.
    let many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = [
        (SENDER, None, 400, "body_missing"),
        (SENDER, Some(json!({})), 400, "package_id_missing"),
        (
            SENDER,
            Some(json!({"packageId": ""})),
            400,
            "package_id_missing",
        ),
        (
            SENDER,
            Some(json!({"packageId": "has space"})),
            400,
            "package_id_malformed",
        ),
        (
            SENDER,
            Some(json!({"packageId": "p".repeat(129)})),
            400,
            "package_id_malformed",
        ),
        (
            SENDER,
            Some(json!({"packageId": 42})),
            400,
            "body_malformed",
        ),
        (
            SENDER,
            Some(json!({"packageId": "p", "signerId": "s"})),
            400,
            "body_malformed",
        ),
        (
            MULTI,
            Some(json!({"packageId": "p"})),
            400,
            "signer_id_missing",
        ),
        (
            MULTI,
            Some(json!({"signerId": "s"})),
            400,
            "package_id_missing",
        ),
        (
            MULTI,
            Some(json!({"packageId": "p", "signerId": "tab\there"})),
            400,
            "signer_id_malformed",
        ),
        (
            SINGLE,
            Some(json!({"packageId": "p", "signerId": "s", "sessionFields": many})),
            413,
            "session_fields_too_large",
        ),
        (
            SINGLE,
            Some(
                json!({"packageId": "p", "signerId": "s", "sessionFields": {"k": "v".repeat(513)}}),
            ),
            413,
            "session_fields_too_large",
        ),
        (
            SINGLE,
            Some(
                json!({"packageId": "p", "signerId": "s", "sessionFields": {"k".repeat(65): "v"}}),
            ),
            413,
            "session_fields_too_large",
        ),
        (
            SINGLE,
            Some(json!({"packageId": "p", "signerId": "s", "sessionFields": {"k": {"deep": "x"}}})),
            400,
            "body_malformed",
        ),
        (
            SINGLE,
            Some(json!({"packageId": "p", "signerId": "s", "sessionFields": ["x"]})),
            400,
            "body_malformed",
        ),
        (
            USER,
            Some(json!({"userId": "not-an-id"})),
            400,
            "id_malformed",
        ),
        (
            USER,
            Some(json!({"userId": "usr_aaaaaaaaaaaaaaaa"})),
            404,
            "user_unknown",
        ),
    ];
    for (path, body, status, reason) in cases {
        let (got, v) = mint(&s, &key, path, body.clone()).await;
        assert_eq!(
            (got, v["reason"].as_str()),
            (status, Some(reason)),
            "{path} {body:?}: {v}"
        );
        assert_eq!(v["code"], status);
        assert!(v["messageKey"].is_string());
    }

    // Callers: none, an unknown key, a user who may not manage, another account.
    let (status, v) = s.call(s.http.post(s.url(USER))).await;
    assert_eq!(
        (status, v["messageKey"].as_str()),
        (401, Some("error.unauthorised"))
    );
    let (status, _) = mint(&s, &"A".repeat(43), USER, None).await;
    assert_eq!(status, 401);
    let (dev, dev_key) = add_user(&s, &account, "dev@acme.test").await;
    for path in [USER, SENDER, MULTI, SINGLE] {
        let (status, v) = mint(
            &s,
            &dev_key,
            path,
            Some(json!({"packageId": "p", "signerId": "s"})),
        )
        .await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (403, Some("not_manager")),
            "{path}"
        );
    }
    let (other, _, other_key) = s.create_account("Other", "owner@other.test").await;
    let (status, v) = mint(&s, &other_key, USER, Some(json!({"userId": owner}))).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (404, Some("user_unknown")),
        "{v}"
    );
    let (status, _) = mint(&s, &other_key, USER, Some(json!({"userId": dev}))).await;
    assert_eq!(status, 404);
    // Its own tokens open sessions of its own account only.
    let token = mint_ok(&s, &other_key, USER, None).await;
    let p = authtokens::authenticate_session(
        &authtokens::Ports::of(s.services()).await,
        &auth(&s, &token, "/").await.session(),
    )
    .await
    .unwrap();
    assert_eq!(p.account_id.as_str(), other);

    // With roles and permissions on, the API_ACCESS user manages — but gets no owner token.
    roles_on(&s, &account).await;
    let (status, v) = mint(&s, &dev_key, USER, Some(json!({"userId": owner}))).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (403, Some("owner_token_forbidden"))
    );
    let token = mint_ok(&s, &dev_key, USER, None).await;
    let p = authtokens::authenticate_session(
        &authtokens::Ports::of(s.services()).await,
        &auth(&s, &token, "/").await.session(),
    )
    .await
    .unwrap();
    assert_eq!(
        (p.subject_type, p.subject_id.as_str()),
        (SubjectType::User, dev.as_str())
    );
    mint_ok(&s, &dev_key, SENDER, Some(json!({"packageId": "p"}))).await;

    // Redemption: HTML 4xx, never a redirect.
    let good = mint_ok(&s, &key, USER, None).await;
    let mut tampered = good.clone();
    let last = if tampered.ends_with('A') { "B" } else { "A" };
    tampered.replace_range(42.., last);
    open_with(&s.http, s.url("/auth"), &[("target", "/")])
        .await
        .refused(400, "token_missing");
    open_with(
        &s.http,
        s.url("/auth"),
        &[("authenticationToken", good.as_str())],
    )
    .await
    .refused(400, "target_missing");
    auth(&s, &tampered, "/").await.refused(401, "token_unknown");
    auth(
        &s,
        keygate_core::kernel::crypto::Secret::generate().expose(),
        "/",
    )
    .await
    .refused(401, "token_unknown");
    auth(&s, "not-a-token", "/")
        .await
        .refused(400, "token_malformed");
    access(&s, &tampered).await.refused(401, "token_unknown");
    access(&s, &good).await.refused(400, "token_wrong_route");
    open_with(&s.http, s.url("/access"), &[])
        .await
        .refused(400, "token_missing");
    let signer = mint_ok(
        &s,
        &key,
        SINGLE,
        Some(json!({"packageId": "p", "signerId": "s"})),
    )
    .await;
    auth(&s, &signer, "/")
        .await
        .refused(400, "token_wrong_route");
    // None of those refusals used a token up.
    assert_eq!(auth(&s, &good, "/").await.status, 302);
    assert_eq!(access(&s, &signer).await.status, 302);

    // Sessions that are not.
    for bad in ["", "x", &"A".repeat(43)] {
        let e = authtokens::authenticate_session(&authtokens::Ports::of(s.services()).await, bad)
            .await
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (401, "session_unknown"));
    }
    let (status, _) = s.call(s.http.post(s.url("/auth"))).await;
    assert_eq!(status, 405, "the route takes GET only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_in_memory() {
    bad_input_is_a_clear_4xx(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_on_the_stack() {
    bad_input_is_a_clear_4xx(Backend::Stack).await;
}
