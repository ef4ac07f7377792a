//! Review findings on authorization, each reproduced against the local server as a client would
//! meet it, on the in-memory backend and on DynamoDB Local:
//! - a public client's DPoP-bound access token is revoked only with a proof of its key, as its
//!   refresh token is;
//! - masked values show at most a quarter of the secret (an 8-character callback key, 2);
//! - a foreign `kg_session` cookie (tossed by a sibling host, or stale) never fails a request;
//! - a malformed `Authorization` header is `401` with `WWW-Authenticate` on every route that
//!   authenticates, never `400` or `5xx`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_core::testing::dpop::ProofKey;
use keygate_e2e::{consent, oauth_account, oauth_client, on_both_backends, param, sign_in, Server};
use keygate_http::routes::{Access, Route};
use keygate_http::Dialect;
use oauth2::{CsrfToken, PkceCodeChallenge, Scope};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

on_both_backends!(
    public_dpop_access_tokens_are_revoked_only_with_their_key,
    a_short_callback_key_shows_a_quarter_at_most,
    a_foreign_session_cookie_never_fails_a_request,
    over_https_only_the_host_cookie_is_a_session,
    a_malformed_authorization_is_401_on_every_route,
);

const REVOKE: &str = "/api/oauth2/revoke";

/// An answer's status, headers and JSON body (`null` when not JSON).
async fn read(resp: reqwest::Response) -> (u16, HeaderMap, Value) {
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let body = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
    (status, headers, body)
}

/// A public client's `POST` of `form` to `path`, with a DPoP proof header when given.
async fn post_with_proof(
    s: &Server,
    path: &str,
    proof: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, HeaderMap, Value) {
    let mut req = s.http.post(s.url(path)).form(form);
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    read(req.send().await.unwrap()).await
}

/// `GET /api/whoami` with `Authorization: DPoP <token>` and a fresh proof of `key`: the status.
async fn whoami_with(s: &Server, key: &ProofKey, token: &str) -> u16 {
    let url = s.url("/api/whoami");
    let proof = key.proof("GET", &url, s.clock.now_for_tests(), Some(token));
    let resp = s
        .http
        .get(url)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

/// Finding 3: the access token of a public client, bound to its DPoP key, could be revoked by
/// anyone holding it (a public client authenticates with its id alone), while its refresh token
/// already needed a proof of the key. Now both need the proof; the answer is the refresh case's.
async fn public_dpop_access_tokens_are_revoked_only_with_their_key(b: keygate_e2e::Backend) {
    let s = Server::start(b).await;
    let (owner_key, id, _) = oauth_account(&s, json!({"public": true})).await;
    let cookie = sign_in(&s, &owner_key).await;
    let key = ProofKey::es256();
    let client = oauth_client(&s, &id, None);
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("Basic".into()))
        .set_pkce_challenge(pkce)
        .url();
    let back = consent(&s, url.as_str(), &cookie, "approve").await;
    let code = param(&back, "code").unwrap();
    let proof = key.proof(
        "POST",
        &s.url("/api/oauth2/token"),
        s.clock.now_for_tests(),
        None,
    );
    let (status, _, tok) = post_with_proof(
        &s,
        "/api/oauth2/token",
        Some(&proof),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", &code),
            ("redirect_uri", "https://portal.example/cb"),
            ("code_verifier", verifier.secret()),
        ],
    )
    .await;
    assert_eq!(
        (status, tok["token_type"].as_str()),
        (200, Some("DPoP")),
        "{tok}"
    );
    let access = tok["access_token"].as_str().unwrap().to_owned();
    assert_eq!(whoami_with(&s, &key, &access).await, 200);

    // A thief holding the access token, without the key (or with a key of its own), cannot
    // revoke it: the refresh token's answer, and the token still works.
    let revoke_url = s.url(REVOKE);
    for hint in [None, Some("access_token")] {
        let mut form = vec![("client_id", id.as_str()), ("token", access.as_str())];
        form.extend(hint.map(|h| ("token_type_hint", h)));
        let thief = ProofKey::es256().proof("POST", &revoke_url, s.clock.now_for_tests(), None);
        for proof in [None, Some(thief.as_str())] {
            let (status, _, v) = post_with_proof(&s, REVOKE, proof, &form).await;
            assert_eq!(
                (status, v["error"].as_str()),
                (400, Some("invalid_dpop_proof")),
                "{v}"
            );
        }
    }
    assert_eq!(whoami_with(&s, &key, &access).await, 200, "still live");

    // The key's holder revokes it with a proof (and gets a fresh nonce): it stops at once.
    let proof = key.proof("POST", &revoke_url, s.clock.now_for_tests(), None);
    let form = [("client_id", id.as_str()), ("token", access.as_str())];
    let (status, headers, v) = post_with_proof(&s, REVOKE, Some(&proof), &form).await;
    assert_eq!(status, 200, "{v}");
    assert!(headers.contains_key("dpop-nonce"), "a fresh nonce");
    assert_eq!(whoami_with(&s, &key, &access).await, 401, "revoked");
}

/// Finding 4: masks showed the last 4 characters whatever the length, so half of an
/// 8-character callback key was visible to any manager. Now at most a quarter, at most 4.
async fn a_short_callback_key_shows_a_quarter_at_most(b: keygate_e2e::Backend) {
    let s = Server::start(b).await;
    let (account, _, owner) = s.create_account("Acme", "owner@acme.test").await;
    let (status, v) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            Some(&owner),
            Some(json!({"rolesAndPermissions": true})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, u) = s
        .api(
            "POST",
            &format!("/_local/accounts/{account}/users"),
            None,
            Some(json!({"email": "dev@acme.test", "permissions": ["API_ACCESS"]})),
        )
        .await;
    assert_eq!(status, 201, "{u}");
    let manager = u["apiKey"].as_str().unwrap().to_owned();

    let key = "k8-chars";
    let (status, v) = s
        .api(
            "PUT",
            "/api/callback",
            Some(&owner),
            Some(json!({"url": "https://hooks.example/cb", "key": key, "events": []})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, seen) = s.api("GET", "/api/callback", Some(&manager), None).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["key"], "****rs", "2 of 8 characters: {seen}");
    let (_, own) = s.api("GET", "/api/callback", Some(&owner), None).await;
    assert_eq!(own["key"], key, "the owner sees it whole");

    // The manager's GET-modify-PUT with the masked key keeps the key.
    let body = json!({"url": seen["url"], "key": seen["key"], "events": ["PACKAGE_CREATE"]});
    let (status, v) = s
        .api("PUT", "/api/callback", Some(&manager), Some(body))
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, own) = s.api("GET", "/api/callback", Some(&owner), None).await;
    assert_eq!(own["key"], key);

    // The OAuth client secret of deliveries, masked to everyone: 8 characters show 2 too.
    let auth = json!({
        "type": "OAUTH2",
        "clientId": "kg-events",
        "clientSecret": "s3cr3t-8",
        "authorizationServerUrl": "https://auth.example.com/token",
    });
    let (status, v) = s
        .api(
            "PUT",
            "/api/callback",
            Some(&owner),
            Some(json!({"url": "https://hooks.example/cb", "events": [], "authentication": auth})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["authentication"]["clientSecret"], "****-8", "{v}");
}

/// The value of the console page's `<meta name="csrf-token" content="…">`.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the page's CSRF token")
        .to_owned()
}

/// Finding 6: a second `kg_session` (junk a sibling host tossed in, next to the real one) made
/// every cookie-carrying request `400 cookie_repeated`, and junk next to an API key `400
/// credentials_ambiguous`. Over the local server's plain http the plain name is kept, and the
/// junk is ignored: the console, its management calls and `whoami` all work.
async fn a_foreign_session_cookie_never_fails_a_request(b: keygate_e2e::Backend) {
    let s = Server::start(b).await;
    let (_, _, owner) = s.create_account("Acme", "owner@acme.test").await;
    let real = sign_in(&s, &owner).await;
    assert!(
        real.starts_with("kg_session="),
        "plain http keeps the plain name: {real}"
    );
    let get = |path: &str, cookies: &[String]| {
        let mut req = s.http.get(s.url(path));
        for c in cookies {
            req = req.header("cookie", c);
        }
        req
    };
    for cookies in [
        vec![format!("kg_session=garbage; {real}")],
        vec![format!("{real}; kg_session=garbage")],
        vec!["kg_session=garbage".to_owned(), real.clone()],
        vec![format!("kg_session=; other=1; {real}; kg_session=%00")],
    ] {
        let page = get("/admin/api-access", &cookies).send().await.unwrap();
        assert_eq!(page.status(), 200, "{cookies:?}");
        let csrf = csrf_of(&page.text().await.unwrap());
        let (status, v) = s.call(get("/api/whoami", &cookies)).await;
        assert_eq!(
            (status, v["authMethod"].as_str()),
            (200, Some("SESSION")),
            "{v}"
        );
        let (status, v) = s
            .call(get("/api/clientApps", &cookies).header("x-csrf-token", &csrf))
            .await;
        assert_eq!(status, 200, "{cookies:?}: {v}");
    }
    // Junk next to an API key is no second credential.
    let (status, v) = s
        .call(
            get("/api/clientApps", &["kg_session=garbage".to_owned()])
                .header("authorization", format!("Basic {owner}")),
        )
        .await;
    assert_eq!(status, 200, "{v}");
}

/// Finding 6, where keygate is served over https (an https issuer; the local server then tells
/// the handlers so in `X-Forwarded-Proto`, as API Gateway does): the session cookie is
/// `__Host-kg_session` (`Secure`, `Path=/`, no `Domain`), and a plain `kg_session` — what a
/// sibling host can toss in, even a live session of the attacker's own, to fix the victim's
/// session — is never read: not instead of the victim's, not next to an API key.
async fn over_https_only_the_host_cookie_is_a_session(b: keygate_e2e::Backend) {
    let s = Server::start_with(b, |services, _| {
        let mut config = (*services.config).clone();
        config.issuer = "https://keygate.example".into();
        services.config = std::sync::Arc::new(config);
    })
    .await;
    let (_, _, owner) = s.create_account("Acme", "owner@acme.test").await;
    let (_, _, attacker) = s.create_account("Evil", "owner@evil.test").await;
    let victim = sign_in(&s, &owner).await;
    let tossed = sign_in(&s, &attacker).await;
    for (cookie, name) in [(&victim, "victim"), (&tossed, "attacker")] {
        assert!(cookie.starts_with("__Host-kg_session="), "{name}: {cookie}");
    }
    // The set cookie itself: the prefix's attributes.
    let (status, minted) = s
        .api("POST", "/api/authenticationTokens/user", Some(&owner), None)
        .await;
    assert_eq!(status, 200, "{minted}");
    let resp = s
        .http
        .get(s.url("/auth"))
        .query(&[
            ("authenticationToken", minted["value"].as_str().unwrap()),
            ("target", "/admin/api-access"),
        ])
        .send()
        .await
        .unwrap();
    let set = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("; Secure")
            && set.contains("; Path=/;")
            && !set.to_ascii_lowercase().contains("domain"),
        "{set}"
    );

    // The attacker's live session, tossed in as `kg_session` beside the victim's.
    let attacker_value = tossed.trim_start_matches("__Host-kg_session=");
    let plain = format!("kg_session={attacker_value}");
    let whoami = |cookie: String| {
        let s = &s;
        async move {
            s.call(s.http.get(s.url("/api/whoami")).header("cookie", cookie))
                .await
        }
    };
    let (_, me) = whoami(victim.clone()).await;
    let victim_id = me["accountId"].clone();
    for cookie in [format!("{plain}; {victim}"), format!("{victim}; {plain}")] {
        let (status, v) = whoami(cookie.clone()).await;
        assert_eq!(
            (status, &v["accountId"]),
            (200, &victim_id),
            "{cookie}: {v}"
        );
    }
    let (status, v) = whoami(plain.clone()).await;
    assert_eq!(status, 401, "a tossed kg_session alone is no session: {v}");
    let page = s
        .http
        .get(s.url("/admin/api-access"))
        .header("cookie", &plain)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        401,
        "the console's sign-in page, not the attacker's console"
    );
    let (status, v) = s
        .call(
            s.http
                .get(s.url("/api/clientApps"))
                .header("cookie", &plain)
                .header("authorization", format!("Basic {owner}")),
        )
        .await;
    assert_eq!(status, 200, "no second credential: {v}");
}

/// Every `Authorization` form that is not a credential: nothing after the scheme, garbage, an
/// unknown scheme, no scheme, 10 KB values, bytes that are not UTF-8.
fn malformed_authorizations() -> Vec<(String, HeaderValue)> {
    let mut forms: Vec<String> = [
        "",
        "Basic",
        "Basic   ",
        "Basic !!!garbage!!!",
        "Bearer",
        "DPoP",
        "Digest username=\"kg\", realm=\"kg\"",
        "Negotiate YIIBhwYGKwYBBQUC",
        "garbage",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    forms.push(format!("Basic {}", STANDARD.encode("no-colon-here")));
    forms.push(format!("Basic {}", "A".repeat(10 * 1024)));
    forms.push(format!("Bearer {}", "a".repeat(10 * 1024)));
    forms.push("X".repeat(10 * 1024));
    let mut out: Vec<(String, HeaderValue)> = forms
        .into_iter()
        .map(|f| {
            let shown = f.chars().take(40).collect::<String>();
            let v = HeaderValue::from_str(&f).unwrap();
            (format!("{shown:?} ({} bytes)", f.len()), v)
        })
        .collect();
    out.push((
        "non-UTF-8 Basic".into(),
        HeaderValue::from_bytes(b"Basic \xff\xfe\xfd").unwrap(),
    ));
    out.push((
        "non-UTF-8".into(),
        HeaderValue::from_bytes(b"\xc3\x28 \xa0\xa1").unwrap(),
    ));
    out
}

/// Why a route takes no `Authorization` credential, or `None` when it authenticates one: read
/// from the access each route declares in its registry.
fn takes_no_authorization(route: &Route) -> Option<&'static str> {
    match route.access {
        Access::Public => {
            Some("public: discovery, JWKS, the event catalog, /auth, /access, assets")
        }
        Access::Consent | Access::Console(_) => Some("browser pages: the session cookie"),
        // The client-app exchange: id and secret in the JSON body, never in a header.
        Access::Client if route.dialect != Dialect::OAuth => {
            Some("the client's secret in the body")
        }
        Access::Client | Access::Platform | Access::Api(_) => None,
    }
}

/// A body that gets the route as far as its credential check: the OAuth routes check a form
/// first, the JSON routes authenticate before reading theirs.
fn body_for(route: &Route) -> Option<&'static str> {
    match route.path {
        "/api/oauth2/token" => Some("grant_type=client_credentials"),
        "/api/oauth2/revoke" | "/api/oauth2/introspect" => Some("token=some-token"),
        "/api/oauth2/par" => {
            Some("response_type=code&redirect_uri=https%3A%2F%2Fportal.example%2Fcb")
        }
        _ => None,
    }
}

/// Finding 7: a malformed `Authorization` header was `400` (`authorization_malformed`,
/// `authorization_scheme`, `header_not_ascii`) on the routes that authenticate with the shared
/// code, and `401` without `WWW-Authenticate` where the key lookup refused it. RFC 7235 and
/// docs/CREDENTIALS.md: `401` naming the schemes the route takes. Every route of the three functions'
/// registries that authenticates is sent every form.
async fn a_malformed_authorization_is_401_on_every_route(b: keygate_e2e::Backend) {
    let s = Server::start(b).await;
    let forms = malformed_authorizations();
    let mut checked = 0;
    let registries: [&[Route]; 3] = [
        keygate_token::ROUTES,
        keygate_auth_tokens::ROUTES,
        keygate_client_apps::ROUTES,
    ];
    for route in registries.iter().flat_map(|r| r.iter()) {
        if takes_no_authorization(route).is_some() {
            continue;
        }
        checked += 1;
        let path = route
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
        for (shown, value) in &forms {
            let mut req = s
                .http
                .request(method.clone(), s.url(&path))
                .header("authorization", value.clone());
            if let Some(body) = body_for(route) {
                req = req
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body);
            }
            let (status, headers, v) = read(req.send().await.unwrap()).await;
            let at = format!("{route:?} with {shown}");
            assert_eq!(status, 401, "{at}: {v}");
            let challenge = headers
                .get("www-authenticate")
                .and_then(|c| c.to_str().ok())
                .unwrap_or_default();
            assert!(challenge.contains("Basic"), "{at}: challenge {challenge:?}");
            match route.dialect {
                Dialect::OAuth => assert_eq!(v["error"], "invalid_client", "{at}: {v}"),
                _ => {
                    assert_eq!(v["code"], 401, "{at}: {v}");
                    // The shared authenticator names every scheme it takes.
                    for scheme in ["Bearer", "DPoP"] {
                        assert!(challenge.contains(scheme), "{at}: {challenge:?}");
                    }
                }
            }
        }
    }
    assert!(
        checked >= 30,
        "the registries' authenticating routes: {checked}"
    );
}
