//! Beyond the seeds: the FAPI 2.0 profile end to end — `iss` on every authorization response
//! (RFC 9207), pushed authorization requests (RFC 9126), DPoP-bound tokens (RFC 9449) and the
//! `fapi2` client profile — with the attacks each is there to stop, on both backends.
//!
//! The plain flows run through the `oauth2` crate; DPoP proofs and client assertions are built as
//! a client builds them (`keygate_core::testing::dpop::ProofKey`: a fresh P-256 or Ed25519 key,
//! signed with jsonwebtoken). A `fapi2` client authenticates with `private_key_jwt` (its public
//! key registered inline); the attacks on assertions are `assertions.rs`'s.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keygate_core::testing::dpop::ProofKey;
use keygate_e2e::{
    consent, http_client, key_account, oauth_account, oauth_client, on_both_backends, param,
    sign_in, token_request, Auth, Server,
};
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, Scope, TokenResponse};
use serde_json::{json, Value};

on_both_backends!(
    every_authorization_response_names_the_issuer,
    pushed_requests_are_single_use_and_expire,
    fapi2_refuses_what_it_cannot_be,
    fapi2_code_flow_binds_every_token_to_the_key,
    bound_tokens_refuse_every_forged_proof,
    token_endpoint_proofs_are_checked_and_single_use,
    public_refresh_tokens_are_bound_to_the_key,
    a_bound_token_mints_authentication_tokens_with_its_proof,
    server_nonces_pin_proofs_to_the_present,
    codes_bound_to_a_key_are_redeemed_with_it,
);

const REDIRECT: &str = "https://portal.example/cb";
const PAR: &str = "/api/oauth2/par";
const TOKEN: &str = "/api/oauth2/token";
const REVOKE: &str = "/api/oauth2/revoke";
/// A resource's challenge for a token refused as such (RFC 9449 §7.1, RFC 6750 §3.1).
const TOKEN_CHALLENGE: &str = "DPoP error=\"invalid_token\", algs=\"ES256 EdDSA Ed25519\"";

/// An OAuth route's refusal: `status` with `{"error": error}`.
fn oauth_refusal((status, v): (u16, Value), want: u16, error: &str) {
    assert_eq!((status, v["error"].as_str()), (want, Some(error)), "{v}");
}

/// A platform route's refusal: `status` with `{"reason": reason}`.
fn refusal((status, v): (u16, Value), want: u16, reason: &str) {
    assert_eq!((status, v["reason"].as_str()), (want, Some(reason)), "{v}");
}

fn authorize_url(s: &Server, params: &[(&str, &str)]) -> String {
    reqwest::Url::parse_with_params(&s.url("/api/oauth2/authorize"), params)
        .unwrap()
        .to_string()
}

/// `POST /api/oauth2/par` with `form`, the client authenticated as `auth` says.
async fn push<'a>(
    s: &Server,
    id: &str,
    auth: impl Into<Auth<'a>>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let (status, _, v) = post_with_proof(s, PAR, id, auth, None, form).await;
    (status, v)
}

/// Pushes a code request with PKCE for `id`: its `request_uri`.
async fn pushed<'a>(s: &Server, id: &str, auth: impl Into<Auth<'a>>, challenge: &str) -> String {
    let (status, v) = push(
        s,
        id,
        auth,
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "Basic"),
            ("state", "pushed-state"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{v}");
    v["request_uri"].as_str().unwrap().to_owned()
}

/// `GET url` in the signed-in browser of `cookie`.
async fn browse(s: &Server, cookie: &str, url: impl reqwest::IntoUrl) -> reqwest::Response {
    s.http
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// `/authorize` with `request_uri` of `id` is an error page (never a redirect): it is unknown,
/// used, late or another client's.
async fn gone(s: &Server, cookie: &str, id: &str, request_uri: &str) {
    let resp = browse(
        s,
        cookie,
        authorize_url(s, &[("client_id", id), ("request_uri", request_uri)]),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

/// The redirect `resp` sends the browser back to the client with.
fn sent_back(resp: reqwest::Response) -> url::Url {
    assert_eq!(resp.status(), 302);
    url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap()
}

/// A token request with a DPoP proof header (when given).
async fn token_with_proof<'a>(
    s: &Server,
    id: &str,
    auth: impl Into<Auth<'a>>,
    proof: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let (status, _, v) = post_with_proof(s, TOKEN, id, auth, proof, form).await;
    (status, v)
}

/// A client's `POST` of `form` to `path`, authenticated as `auth` says (Basic with a secret, a
/// fresh client assertion with a key, nothing for a public client), with a DPoP proof header
/// when given: status, headers, body.
async fn post_with_proof<'a>(
    s: &Server,
    path: &str,
    id: &str,
    auth: impl Into<Auth<'a>>,
    proof: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = auth.into().apply(s, id, s.http.post(s.url(path)), form);
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    read(req.send().await.unwrap()).await
}

/// An answer's status, headers and JSON body (`null` when not JSON).
async fn read(resp: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let body = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
    (status, headers, body)
}

/// A header's value, `""` when absent.
fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A public client's refresh request for `token`.
fn refresh_form<'a>(id: &'a str, token: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("grant_type", "refresh_token"),
        ("client_id", id),
        ("refresh_token", token),
    ]
}

/// A public client's token request refused for want of its key's proof.
async fn needs_the_key(s: &Server, id: &str, proof: Option<&str>, form: &[(&str, &str)]) {
    oauth_refusal(
        token_with_proof(s, id, None, proof, form).await,
        400,
        "invalid_dpop_proof",
    );
}

fn token_url(s: &Server) -> String {
    s.url("/api/oauth2/token")
}

/// `GET /api/whoami` with `Authorization: <scheme> <token>` and a proof (when given): status,
/// the `WWW-Authenticate` header, the body.
async fn whoami(
    s: &Server,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> (u16, String, Value) {
    let (status, headers, body) = whoami_answer(s, scheme, token, proof).await;
    (status, header(&headers, "www-authenticate"), body)
}

/// The same, with the answer's headers.
async fn whoami_answer(
    s: &Server,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = s
        .http
        .get(s.url("/api/whoami"))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    read(req.send().await.unwrap()).await
}

async fn introspect<'a>(s: &Server, id: &str, auth: impl Into<Auth<'a>>, token: &str) -> Value {
    let req = s.http.post(s.url("/api/oauth2/introspect"));
    let (status, v) = s
        .call(auth.into().apply(s, id, req, &[("token", token)]))
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

/// `GET /api/oauth2/clients/{id}` as the owner.
async fn client_record(s: &Server, owner_key: &str, id: &str) -> Value {
    let path = format!("/api/oauth2/clients/{id}");
    let (status, c) = s.api("GET", &path, Some(owner_key), None).await;
    assert_eq!(status, 200, "{c}");
    c
}

/// A `fapi2` client of a fresh OAUTH2 account, authenticating with its own P-256 key: (owner
/// key, client id, the client's key).
async fn fapi2_account(s: &Server) -> (String, String, ProofKey) {
    let key = ProofKey::es256();
    let (owner_key, id) = key_account(s, &key, json!({"profile": "fapi2"})).await;
    (owner_key, id, key)
}

/// The code of an approved pushed request of `id`.
async fn pushed_code(s: &Server, cookie: &str, id: &str, request_uri: &str) -> url::Url {
    let url = authorize_url(s, &[("client_id", id), ("request_uri", request_uri)]);
    consent(s, &url, cookie, "approve").await
}

async fn every_authorization_response_names_the_issuer(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (status, meta) = s
        .call(s.http.get(s.url("/.well-known/oauth-authorization-server")))
        .await;
    assert_eq!(status, 200);
    let issuer = meta["issuer"].as_str().unwrap().to_owned();
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        format!("{issuer}/api/oauth2/par")
    );
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "Ed25519"])
    );
    // private_key_jwt at every client-authenticated endpoint, with the same algorithms.
    let algs = json!(["ES256", "PS256", "EdDSA", "Ed25519"]);
    for endpoint in ["token", "revocation", "introspection"] {
        let methods = &meta[format!("{endpoint}_endpoint_auth_methods_supported")];
        assert!(
            methods
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{endpoint}: {methods}"
        );
        assert_eq!(
            meta[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
            algs,
            "{endpoint}"
        );
    }

    let (owner_key, id, _) = oauth_account(&s, json!({"implicit": true})).await;
    let cookie = sign_in(&s, &owner_key).await;
    let request = |response_type: &str, scope: &str| {
        authorize_url(
            &s,
            &[
                ("response_type", response_type),
                ("client_id", &id),
                ("redirect_uri", REDIRECT),
                ("scope", scope),
                ("state", "st"),
            ],
        )
    };

    let approved = consent(&s, &request("code", "Basic"), &cookie, "approve").await;
    assert!(param(&approved, "code").is_some());
    assert_eq!(param(&approved, "iss").as_deref(), Some(issuer.as_str()));

    let denied = consent(&s, &request("code", "Basic"), &cookie, "deny").await;
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&denied, "iss").as_deref(), Some(issuer.as_str()));

    // An error sent back before any consent (a scope the client may not have).
    let error = sent_back(browse(&s, &cookie, request("code", "NotAScope")).await);
    assert_eq!(param(&error, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(param(&error, "iss").as_deref(), Some(issuer.as_str()));

    // The implicit flow answers in the fragment: `iss` is there too.
    let back = consent(&s, &request("token", "Basic"), &cookie, "approve").await;
    let fragment: Vec<(String, String)> =
        url::form_urlencoded::parse(back.fragment().unwrap().as_bytes())
            .into_owned()
            .collect();
    assert!(fragment.iter().any(|(k, _)| k == "access_token"));
    assert!(fragment.iter().any(|(k, v)| k == "iss" && v == &issuer));
}

async fn pushed_requests_are_single_use_and_expire(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (owner_key, id, secret) = oauth_account(&s, json!({})).await;
    let cookie = sign_in(&s, &owner_key).await;
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let challenge = pkce.as_str().to_owned();
    let good = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "Basic"),
        ("state", "pushed-state"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    // Only the client itself may push, and only what /authorize would take.
    oauth_refusal(push(&s, &id, None, &good).await, 401, "invalid_client");
    oauth_refusal(
        push(&s, &id, Some("not-the-secret"), &good).await,
        401,
        "invalid_client",
    );
    // Each: the good request with one parameter changed or added, and the error it gets.
    let changed: [(&str, &str, &str); 4] = [
        ("scope", "NotAScope", "invalid_scope"),
        ("redirect_uri", "https://evil.example/cb", "invalid_request"),
        (
            "request_uri",
            "urn:ietf:params:oauth:request_uri:x",
            "invalid_request",
        ),
        ("client_id", "oc_not_this_one", "invalid_request"),
    ];
    for (name, value, error) in changed {
        let mut form: Vec<(&str, &str)> =
            good.iter().filter(|(k, _)| *k != name).copied().collect();
        form.push((name, value));
        oauth_refusal(
            push(&s, &id, Some(secret.as_str()), &form).await,
            400,
            error,
        );
    }

    // Pushed: a reference, valid a minute at most, never cached.
    let resp = s
        .http
        .post(s.url("/api/oauth2/par"))
        .basic_auth(&id, Some(secret.as_str()))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: Value = resp.json().await.unwrap();
    let request_uri = v["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let expires_in = v["expires_in"].as_i64().unwrap();
    assert!((1..=60).contains(&expires_in), "{v}");

    // The browser carries only client_id and request_uri; the code comes back with the pushed
    // state, and the oauth2 crate exchanges it with the PKCE verifier.
    let back = pushed_code(&s, &cookie, &id, &request_uri).await;
    assert_eq!(param(&back, "state").as_deref(), Some("pushed-state"));
    let code = param(&back, "code").unwrap();
    let client = oauth_client(&s, &id, Some(secret.as_str()));
    let tok = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .expect("code of a pushed request");
    assert_eq!(
        tok.scopes()
            .map(|s| s.iter().map(|x| x.to_string()).collect::<Vec<_>>()),
        Some(vec!["Basic".to_owned()])
    );

    // Used once: a second use is a page, never a redirect.
    gone(&s, &cookie, &id, &request_uri).await;

    // The minute is for the client to send the browser: a person reading the consent page
    // has the form's lifetime to decide, and the reference is still used once.
    let slow = pushed(&s, &id, &secret, &challenge).await;
    let url = authorize_url(&s, &[("client_id", &id), ("request_uri", &slow)]);
    let form = keygate_e2e::consent_form(&s, &url, &cookie).await;
    s.clock.advance(120);
    let back = keygate_e2e::decide(&s, &cookie, form, "approve").await;
    assert!(param(&back, "code").is_some(), "{back}");
    gone(&s, &cookie, &id, &slow).await;

    // Late: a minute and a second after the push, the reference is gone.
    let late = pushed(&s, &id, &secret, &challenge).await;
    s.clock.advance(61);
    gone(&s, &cookie, &id, &late).await;

    // Another client's reference, named with this client's id, is not found.
    let (_, other, other_secret) = oauth_account(&s, json!({})).await;
    let theirs = pushed(&s, &other, &other_secret, &challenge).await;
    gone(&s, &cookie, &id, &theirs).await;

    // A denial uses the reference up as well.
    let denied_uri = pushed(&s, &id, &secret, &challenge).await;
    let url = authorize_url(&s, &[("client_id", &id), ("request_uri", &denied_uri)]);
    let denied = consent(&s, &url, &cookie, "deny").await;
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    gone(&s, &cookie, &id, &denied_uri).await;

    // So does a refusal at the decision: the client lost the scope while the page was open; the
    // scope given back, the reference does not come back with it.
    let refused_uri = pushed(&s, &id, &secret, &challenge).await;
    let url = authorize_url(&s, &[("client_id", &id), ("request_uri", &refused_uri)]);
    let form = keygate_e2e::consent_form(&s, &url, &cookie).await;
    let path = format!("/api/oauth2/clients/{id}");
    let scopes = |list: &[&str]| Some(json!({ "scopes": list }));
    let (status, _) = s
        .api("PUT", &path, Some(&owner_key), scopes(&["ISign"]))
        .await;
    assert_eq!(status, 200);
    let refused = keygate_e2e::decide(&s, &cookie, form, "approve").await;
    assert_eq!(param(&refused, "error").as_deref(), Some("invalid_scope"));
    let (status, _) = s
        .api("PUT", &path, Some(&owner_key), scopes(&["Basic", "ISign"]))
        .await;
    assert_eq!(status, 200);
    gone(&s, &cookie, &id, &refused_uri).await;

    // A client that requires pushed requests gets a plain one sent back as an error.
    let (status, _) = s
        .api(
            "PUT",
            &format!("/api/oauth2/clients/{id}"),
            Some(&owner_key),
            Some(json!({"requirePushedAuthorizationRequests": true})),
        )
        .await;
    assert_eq!(status, 200);
    let plain = authorize_url(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let error = sent_back(browse(&s, &cookie, &plain).await);
    assert_eq!(param(&error, "error").as_deref(), Some("invalid_request"));
    let fresh = pushed(&s, &id, &secret, &challenge).await;
    let back = pushed_code(&s, &cookie, &id, &fresh).await;
    assert!(param(&back, "code").is_some());
}

async fn fapi2_refuses_what_it_cannot_be(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (owner_key, id, key) = fapi2_account(&s).await;
    let request = [
        ("response_type", "code"),
        ("scope", "Basic"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    // FAPI 2.0 §5.3.2.2: the pushed request names its redirect URI, even the only one.
    oauth_refusal(push(&s, &id, &key, &request).await, 400, "invalid_request");
    let c = client_record(&s, &owner_key, &id).await;
    assert_eq!(c["profile"], "fapi2");
    assert_eq!(c["requirePushedAuthorizationRequests"], true);
    assert_eq!(c["tokenEndpointAuthMethod"], "private_key_jwt");
    assert_eq!(c["jwks"]["keys"][0]["x"], key.public_jwk()["x"]);
    assert!(c.get("clientSecret").is_none(), "{c}");

    // FAPI 2.0 §5.3.2.1: private_key_jwt only. It has no secret: Basic or a body secret with
    // anything is refused, at PAR and at the token endpoint; /rotate has nothing to rotate.
    let mut with_redirect = vec![("redirect_uri", REDIRECT)];
    with_redirect.extend(request);
    oauth_refusal(
        push(&s, &id, Some("anything"), &with_redirect).await,
        401,
        "invalid_client",
    );
    let unknown = "x".repeat(43);
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", id.as_str()),
        ("client_secret", "anything"),
        ("refresh_token", unknown.as_str()),
    ];
    oauth_refusal(
        token_with_proof(&s, &id, None, None, &refresh).await,
        401,
        "invalid_client",
    );
    refusal(
        s.api(
            "POST",
            &format!("/api/oauth2/clients/{id}/rotate"),
            Some(&owner_key),
            Some(json!({})),
        )
        .await,
        400,
        "client_has_no_secret",
    );

    let base = json!({"name": "Bank", "scopes": ["Basic"], "redirectUris": [REDIRECT], "profile": "fapi2"});
    let jwks = json!({"keys": [key.public_jwk()]});
    // Each refused for its own rule: the reason, and the rule the message names.
    for (extra, why) in [
        (json!({"public": true, "jwks": jwks}), "cannot be public"),
        (json!({"implicit": true, "jwks": jwks}), "implicit flow"),
        // No keys: a fapi2 client cannot be made with a secret.
        (json!({}), "private_key_jwt"),
        (
            json!({"tokenEndpointAuthMethod": "client_secret_basic"}),
            "private_key_jwt",
        ),
    ] {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, v) = s
            .api("POST", "/api/oauth2/clients", Some(&owner_key), Some(body))
            .await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (400, Some("profile_conflict")),
            "{extra}: {v}"
        );
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{extra}: {v}");
    }
    refusal(
        s.api(
            "PUT",
            &format!("/api/oauth2/clients/{id}"),
            Some(&owner_key),
            Some(json!({"implicit": true})),
        )
        .await,
        400,
        "profile_conflict",
    );
    let (status, v) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&owner_key),
            Some(json!({"name": "Bank", "scopes": ["Basic"], "redirectUris": [REDIRECT], "profile": "fapi2", "jwks": jwks.clone(), "tokenEndpointAuthMethod": "private_key_jwt"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&owner_key),
            Some(json!({"name": "Bank", "scopes": ["Basic"], "redirectUris": [REDIRECT], "profile": "fapi3", "jwks": jwks})),
        )
        .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (400, Some("body_malformed")),
        "{v}"
    );

    // A standard client with a secret moves to fapi2 only with keys; then its secret is gone
    // and the key authenticates it (an Ed25519 key, its assertions naming alg Ed25519).
    let (plain_owner, plain, plain_secret) = oauth_account(&s, json!({})).await;
    let path = format!("/api/oauth2/clients/{plain}");
    refusal(
        s.api(
            "PUT",
            &path,
            Some(&plain_owner),
            Some(json!({"profile": "fapi2"})),
        )
        .await,
        400,
        "profile_conflict",
    );
    let plain_key = ProofKey::ed25519_fully_specified();
    let keys = json!({"profile": "fapi2", "jwks": {"keys": [plain_key.public_jwk()]}});
    let (status, c) = s.api("PUT", &path, Some(&plain_owner), Some(keys)).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["tokenEndpointAuthMethod"], "private_key_jwt");
    let cc = [("grant_type", "client_credentials"), ("scope", "Basic")];
    oauth_refusal(
        token_request(&s, &s.http, &plain, Some(plain_secret.as_str()), &cc).await,
        401,
        "invalid_client",
    );
    let proof = ProofKey::es256().proof("POST", &token_url(&s), s.clock.now_for_tests(), None);
    let (status, v) = token_with_proof(&s, &plain, &plain_key, Some(&proof), &cc).await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (200, Some("DPoP")),
        "{v}"
    );
}

async fn fapi2_code_flow_binds_every_token_to_the_key(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (owner_key, id, ck) = fapi2_account(&s).await;
    let cookie = sign_in(&s, &owner_key).await;
    let key = ProofKey::es256();
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();

    // Not pushed: sent back as an error; pushed without PKCE: refused.
    let error = sent_back(
        browse(
            &s,
            &cookie,
            authorize_url(
                &s,
                &[
                    ("response_type", "code"),
                    ("client_id", &id),
                    ("redirect_uri", REDIRECT),
                    ("code_challenge", pkce.as_str()),
                    ("code_challenge_method", "S256"),
                ],
            ),
        )
        .await,
    );
    assert_eq!(param(&error, "error").as_deref(), Some("invalid_request"));
    oauth_refusal(
        push(
            &s,
            &id,
            &ck,
            &[("response_type", "code"), ("redirect_uri", REDIRECT)],
        )
        .await,
        400,
        "invalid_request",
    );

    let request_uri = pushed(&s, &id, &ck, pkce.as_str()).await;
    let back = pushed_code(&s, &cookie, &id, &request_uri).await;
    let code = param(&back, "code").unwrap();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.secret().as_str()),
    ];

    // Without a proof the exchange is refused, and the code is not burnt by it.
    oauth_refusal(
        token_with_proof(&s, &id, &ck, None, &exchange).await,
        400,
        "invalid_dpop_proof",
    );
    let now = s.clock.now_for_tests();
    let proof = key.proof("POST", &token_url(&s), now, None);
    let (status, tok) = token_with_proof(&s, &id, &ck, Some(&proof), &exchange).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["token_type"], "DPoP");
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let refresh = tok["refresh_token"].as_str().unwrap().to_owned();
    let seen = introspect(&s, &id, &ck, &access).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["token_type"], "DPoP");
    assert_eq!(seen["cnf"]["jkt"], key.jkt());

    // Sent as a bearer token it is worth nothing; with its proof it is the owner's.
    let (status, challenge, v) = whoami(&s, "Bearer", &access, None).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (401, Some("dpop_bound_token")),
        "{v}"
    );
    assert_eq!(challenge, TOKEN_CHALLENGE, "RFC 9449 §7.1");
    let proof = key.proof("GET", &s.url("/api/whoami"), now, Some(&access));
    let (status, _, me) = whoami(&s, "DPoP", &access, Some(&proof)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["authMethod"], "DPOP");
    assert_eq!(me["clientId"], id);

    // Refresh: a proof each time, the same refresh token back (no rotation), a bound token.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    oauth_refusal(
        token_with_proof(&s, &id, &ck, None, &form).await,
        400,
        "invalid_dpop_proof",
    );
    for _ in 0..2 {
        let proof = key.proof("POST", &token_url(&s), now, None);
        let (status, r) = token_with_proof(&s, &id, &ck, Some(&proof), &form).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["refresh_token"], refresh.as_str());
        assert_eq!(r["token_type"], "DPoP");
        let fresh = r["access_token"].as_str().unwrap();
        let proof = key.proof("GET", &s.url("/api/whoami"), now, Some(fresh));
        assert_eq!(whoami(&s, "DPoP", fresh, Some(&proof)).await.0, 200);
    }

    // Client credentials too: a proof or nothing.
    let cc = [("grant_type", "client_credentials"), ("scope", "Basic")];
    oauth_refusal(
        token_with_proof(&s, &id, &ck, None, &cc).await,
        400,
        "invalid_dpop_proof",
    );
    let proof = ProofKey::ed25519();
    let p = proof.proof("POST", &token_url(&s), now, None);
    let (status, v) = token_with_proof(&s, &id, &ck, Some(&p), &cc).await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (200, Some("DPoP")),
        "{v}"
    );
    let seen = introspect(&s, &id, &ck, v["access_token"].as_str().unwrap()).await;
    assert_eq!(seen["cnf"]["jkt"], proof.jkt());
}

/// A client-credentials DPoP token of a client, with its key.
async fn bound_token<'a>(
    s: &Server,
    id: &str,
    auth: impl Into<Auth<'a>>,
    key: &ProofKey,
) -> String {
    let proof = key.proof("POST", &token_url(s), s.clock.now_for_tests(), None);
    let (status, v) = token_with_proof(
        s,
        id,
        auth,
        Some(&proof),
        &[("grant_type", "client_credentials"), ("scope", "Basic")],
    )
    .await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (200, Some("DPoP")),
        "{v}"
    );
    v["access_token"].as_str().unwrap().to_owned()
}

/// A JWS with `alg: none` over `claims`, the key's JWK in the header.
fn unsigned(key: &ProofKey, claims: &Value) -> String {
    let header = json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.public_jwk()});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

async fn bound_tokens_refuse_every_forged_proof(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (_, id, secret) = oauth_account(&s, json!({})).await;
    let key = ProofKey::es256();
    let token = bound_token(&s, &id, Some(secret.as_str()), &key).await;
    let url = s.url("/api/whoami");
    let now = s.clock.now_for_tests();
    let refused = |(status, challenge, v): (u16, String, Value), what: &str| {
        assert_eq!(status, 401, "{what}: {v}");
        assert_eq!(v["reason"], "dpop_proof_invalid", "{what}: {v}");
        assert_eq!(
            challenge, "DPoP error=\"invalid_dpop_proof\", algs=\"ES256 EdDSA Ed25519\"",
            "{what}"
        );
    };

    // The genuine request works once; the same proof again is a replay.
    let proof = key.proof("GET", &url, now, Some(&token));
    assert_eq!(whoami(&s, "DPoP", &token, Some(&proof)).await.0, 200);
    refused(
        whoami(&s, "DPoP", &token, Some(&proof)).await,
        "replayed proof",
    );

    let cases: Vec<(&str, String)> = vec![
        ("another method", key.proof("POST", &url, now, Some(&token))),
        (
            "another URL",
            key.proof("GET", &s.url("/api/account"), now, Some(&token)),
        ),
        (
            "a stale iat",
            key.proof("GET", &url, now - 300, Some(&token)),
        ),
        (
            "an iat ahead",
            key.proof("GET", &url, now + 300, Some(&token)),
        ),
        ("no ath", key.proof("GET", &url, now, None)),
        (
            "the ath of another token",
            key.proof("GET", &url, now, Some("another.token.value")),
        ),
        (
            "another key",
            ProofKey::es256().proof("GET", &url, now, Some(&token)),
        ),
        (
            "alg none",
            unsigned(
                &key,
                &json!({"jti": "none-1", "htm": "GET", "htu": url, "iat": now, "ath": keygate_core::oauth::dpop::ath(&token)}),
            ),
        ),
        ("another typ", key.proof_with_typ("JWT", "GET", &url, now)),
        ("not a JWT", "garbage".to_owned()),
    ];
    for (what, proof) in &cases {
        refused(whoami(&s, "DPoP", &token, Some(proof)).await, what);
    }
    let (status, challenge, v) = whoami(&s, "DPoP", &token, None).await;
    assert_eq!(status, 401, "no proof: {v}");
    assert!(
        challenge.starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{challenge}"
    );
    let (status, _, v) = whoami(&s, "Bearer", &token, None).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (401, Some("dpop_bound_token"))
    );

    // A bearer token sent as DPoP is not bound: refused, whatever the proof.
    let (status, plain) = token_request(
        &s,
        &s.http,
        &id,
        Some(secret.as_str()),
        &[("grant_type", "client_credentials"), ("scope", "Basic")],
    )
    .await;
    assert_eq!(
        (status, plain["token_type"].as_str()),
        (200, Some("Bearer"))
    );
    let plain = plain["access_token"].as_str().unwrap();
    let proof = key.proof("GET", &url, now, Some(plain));
    let (status, challenge, v) = whoami(&s, "DPoP", plain, Some(&proof)).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (401, Some("token_not_bound")),
        "{v}"
    );
    assert_eq!(challenge, TOKEN_CHALLENGE);

    // Inside the window, a later genuine proof still works: only the forged ones failed.
    s.clock.advance(30);
    let proof = key.proof("GET", &url, s.clock.now_for_tests(), Some(&token));
    assert_eq!(whoami(&s, "DPoP", &token, Some(&proof)).await.0, 200);

    // Revoked (RFC 7009), it is refused with a good proof, as `invalid_token`.
    let (status, _) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/revoke"))
                .basic_auth(&id, Some(secret.as_str()))
                .form(&[("token", token.as_str())]),
        )
        .await;
    assert_eq!(status, 200);
    let proof = key.proof("GET", &url, s.clock.now_for_tests(), Some(&token));
    let (status, challenge, v) = whoami(&s, "DPoP", &token, Some(&proof)).await;
    assert_eq!(status, 401, "{v}");
    assert_eq!(challenge, TOKEN_CHALLENGE);
}

async fn token_endpoint_proofs_are_checked_and_single_use(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (_, id, secret) = oauth_account(&s, json!({})).await;
    let key = ProofKey::ed25519();
    let now = s.clock.now_for_tests();
    let cc = [("grant_type", "client_credentials"), ("scope", "Basic")];
    let bad = |(status, v): (u16, Value), what: &str| {
        assert_eq!(
            (status, v["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{what}: {v}"
        );
    };

    let proof = key.proof("POST", &token_url(&s), now, None);
    let (status, v) = token_with_proof(&s, &id, Some(secret.as_str()), Some(&proof), &cc).await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (200, Some("DPoP")),
        "{v}"
    );
    bad(
        token_with_proof(&s, &id, Some(secret.as_str()), Some(&proof), &cc).await,
        "replayed",
    );
    let cases = [
        ("GET", key.proof("GET", &token_url(&s), now, None)),
        (
            "another URL",
            key.proof("POST", &s.url("/api/oauth2/par"), now, None),
        ),
        ("stale", key.proof("POST", &token_url(&s), now - 120, None)),
        (
            "alg none",
            unsigned(
                &key,
                &json!({"jti": "n", "htm": "POST", "htu": token_url(&s), "iat": now}),
            ),
        ),
        (
            "typ JWT",
            key.proof_with_typ("JWT", "POST", &token_url(&s), now),
        ),
    ];
    for (what, proof) in &cases {
        bad(
            token_with_proof(&s, &id, Some(secret.as_str()), Some(proof), &cc).await,
            what,
        );
    }
    // Two proofs in one request are ambiguous.
    let (a, b) = (
        key.proof("POST", &token_url(&s), now, None),
        key.proof("POST", &token_url(&s), now, None),
    );
    let (status, v) = s
        .call(
            s.http
                .post(token_url(&s))
                .basic_auth(&id, Some(secret.as_str()))
                .header("dpop", a)
                .header("dpop", b)
                .form(&cc),
        )
        .await;
    bad((status, v), "two proofs");
}

async fn public_refresh_tokens_are_bound_to_the_key(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
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
    let now = s.clock.now_for_tests();
    let proof = key.proof("POST", &token_url(&s), now, None);
    let (status, tok) = token_with_proof(
        &s,
        &id,
        None,
        Some(&proof),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.secret()),
        ],
    )
    .await;
    assert_eq!(
        (status, tok["token_type"].as_str()),
        (200, Some("DPoP")),
        "{tok}"
    );
    let refresh = tok["refresh_token"].as_str().unwrap().to_owned();
    let form = refresh_form(&id, &refresh);

    // A thief with the refresh token but not the key gets nothing, and burns nothing.
    needs_the_key(&s, &id, None, &form).await;
    let thief = ProofKey::es256().proof("POST", &token_url(&s), now, None);
    needs_the_key(&s, &id, Some(&thief), &form).await;

    // The key's holder refreshes (rotated: a standard client), and the next one is bound too.
    let proof = key.proof("POST", &token_url(&s), now, None);
    let (status, r) = token_with_proof(&s, &id, None, Some(&proof), &form).await;
    assert_eq!(status, 200, "{r}");
    let next = r["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, refresh);
    // The thief replays the rotated token: inside the retry window it does not get the
    // holder's answer (the bound successor)…
    let replay = refresh_form(&id, &refresh);
    needs_the_key(&s, &id, None, &replay).await;
    let form = refresh_form(&id, &next);
    s.clock.advance(11);
    // …and after it, it cannot revoke the holder's grant either (the holder refreshes below).
    let thief = ProofKey::es256().proof("POST", &token_url(&s), s.clock.now_for_tests(), None);
    for proof in [None, Some(thief.as_str())] {
        needs_the_key(&s, &id, proof, &replay).await;
    }
    needs_the_key(&s, &id, None, &form).await;
    let proof = key.proof("POST", &token_url(&s), s.clock.now_for_tests(), None);
    let (status, r) = token_with_proof(&s, &id, None, Some(&proof), &form).await;
    assert_eq!(status, 200, "{r}");

    // Without a proof at the exchange, a public client's tokens are plain bearer tokens.
    let client = oauth_client(&s, &id, None);
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(pkce)
        .url();
    let back = consent(&s, url.as_str(), &cookie, "approve").await;
    let tok = client
        .exchange_code(AuthorizationCode::new(param(&back, "code").unwrap()))
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .expect("a plain exchange");
    assert_eq!(
        format!("{:?}", tok.token_type()).to_lowercase(),
        "bearer",
        "not bound"
    );
    // Refreshed later with a proof, such a token hands on a successor bound to that key.
    let plain = tok.refresh_token().unwrap().secret().clone();
    let form = refresh_form(&id, &plain);
    let proof = key.proof("POST", &token_url(&s), s.clock.now_for_tests(), None);
    let (status, r) = token_with_proof(&s, &id, None, Some(&proof), &form).await;
    assert_eq!(
        (status, r["token_type"].as_str()),
        (200, Some("DPoP")),
        "{r}"
    );
    let bound = r["refresh_token"].as_str().unwrap();
    let form = refresh_form(&id, bound);
    needs_the_key(&s, &id, None, &form).await;

    // Introspected by a confidential client of the account, it names the key it needs.
    let (status, c) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&owner_key),
            Some(json!({"name": "Back office", "scopes": ["Basic"]})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let (rs, rs_secret) = (
        c["clientId"].as_str().unwrap(),
        c["clientSecret"].as_str().unwrap(),
    );
    let seen = introspect(&s, rs, rs_secret, bound).await;
    assert_eq!(
        seen["cnf"]["jkt"].as_str(),
        Some(key.jkt().as_str()),
        "{seen}"
    );

    // Nor can a thief without the key revoke it: revocation takes a proof of the key too.
    let revoke = [("client_id", id.as_str()), ("token", bound)];
    let revoke_url = s.url(REVOKE);
    let thief = ProofKey::es256().proof("POST", &revoke_url, s.clock.now_for_tests(), None);
    for proof in [None, Some(thief.as_str())] {
        let (status, _, v) = post_with_proof(&s, REVOKE, &id, None, proof, &revoke).await;
        oauth_refusal((status, v), 400, "invalid_dpop_proof");
    }
    assert_eq!(introspect(&s, rs, rs_secret, bound).await["active"], true);
    let proof = key.proof("POST", &revoke_url, s.clock.now_for_tests(), None);
    let (status, headers, v) = post_with_proof(&s, REVOKE, &id, None, Some(&proof), &revoke).await;
    assert_eq!(status, 200, "{v}");
    assert!(!header(&headers, "dpop-nonce").is_empty(), "a fresh nonce");
    assert_eq!(introspect(&s, rs, rs_secret, bound).await["active"], false);
}

async fn a_bound_token_mints_authentication_tokens_with_its_proof(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (_, id, client_key) = fapi2_account(&s).await;
    let key = ProofKey::es256();
    let token = bound_token(&s, &id, &client_key, &key).await;
    let path = "/api/authenticationTokens/user";
    let now = s.clock.now_for_tests();
    let proof = key.proof("POST", &s.url(path), now, Some(&token));
    let (status, v) = s
        .call(
            s.http
                .post(s.url(path))
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", &proof),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["value"].as_str().is_some_and(|t| !t.is_empty()), "{v}");

    // As a bearer token, or with a proof for whoami, the same token mints nothing.
    refusal(
        s.call(s.http.post(s.url(path)).bearer_auth(&token)).await,
        401,
        "dpop_bound_token",
    );
    let elsewhere = key.proof("GET", &s.url("/api/whoami"), now, Some(&token));
    refusal(
        s.call(
            s.http
                .post(s.url(path))
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", &elsewhere),
        )
        .await,
        401,
        "dpop_proof_invalid",
    );
}

/// A token request refused for its proof's nonce (`400 use_dpop_nonce`): the nonce it hands out.
async fn use_nonce(
    s: &Server,
    id: &str,
    secret: &str,
    proof: &str,
    form: &[(&str, &str)],
) -> String {
    let (status, headers, v) = post_with_proof(s, TOKEN, id, Some(secret), Some(proof), form).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{v}"
    );
    let nonce = header(&headers, "dpop-nonce");
    assert!(
        !nonce.is_empty(),
        "the nonce to retry with comes with the refusal"
    );
    nonce
}

/// RFC 9449 §8–9: every token answer to a request with a proof hands out a fresh server nonce; a
/// client with `requireDpopNonce` must use one (so its proofs cannot be made ahead of time, even
/// with a clock set forward), and a stale or forged nonce is refused at the token endpoint and
/// at a resource alike — each time with the nonce to retry with.
async fn server_nonces_pin_proofs_to_the_present(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (owner_key, id, secret) = oauth_account(&s, json!({"requireDpopNonce": true})).await;
    let c = client_record(&s, &owner_key, &id).await;
    assert_eq!(c["requireDpopNonce"], true, "{c}");
    let key = ProofKey::es256();
    let form = [("grant_type", "client_credentials"), ("scope", "Basic")];
    let url = token_url(&s);
    let now = s.clock.now_for_tests();
    let nonce_of = |headers: &reqwest::header::HeaderMap| {
        let n = header(headers, "dpop-nonce");
        assert!(!n.is_empty(), "a fresh nonce comes with the answer");
        n
    };

    // Without a nonce: use_dpop_nonce, and the nonce to retry with.
    let proof = key.proof("POST", &url, now, None);
    let nonce = use_nonce(&s, &id, &secret, &proof, &form).await;
    // The retry with it is bound, and hands on a nonce for the next request.
    let proof = key.proof_with_nonce("POST", &url, now, None, &nonce);
    let (status, headers, tok) =
        post_with_proof(&s, TOKEN, &id, Some(secret.as_str()), Some(&proof), &form).await;
    assert_eq!(
        (status, tok["token_type"].as_str()),
        (200, Some("DPoP")),
        "{tok}"
    );
    nonce_of(&headers);
    let access = tok["access_token"].as_str().unwrap().to_owned();

    // Forged nonces are refused: this step's with another MAC, an old step's, made up.
    let (step, mac) = nonce.split_once('.').unwrap();
    let (pepper, digest) = mac.split_once('$').unwrap();
    let other_mac = format!(
        "{step}.{pepper}${}",
        digest.chars().rev().collect::<String>()
    );
    let old_step = format!("{}.{mac}", step.parse::<i64>().unwrap() - 5);
    for forged in [other_mac.as_str(), old_step.as_str(), "not-a-nonce"] {
        let proof = key.proof_with_nonce("POST", &url, now, None, forged);
        use_nonce(&s, &id, &secret, &proof, &form).await;
    }

    // At a resource a nonce is not required, but one carried must be current.
    let whoami_url = s.url("/api/whoami");
    let proof = key.proof_with_nonce("GET", &whoami_url, now, Some(&access), &nonce);
    let (status, _, me) = whoami_answer(&s, "DPoP", &access, Some(&proof)).await;
    assert_eq!(status, 200, "{me}");

    // Two minutes on, the nonce is stale: refused at both, each with a fresh one.
    s.clock.advance(2 * 60 + 1);
    let later = s.clock.now_for_tests();
    let proof = key.proof_with_nonce("POST", &url, later, None, &nonce);
    let fresh = use_nonce(&s, &id, &secret, &proof, &form).await;
    assert_ne!(fresh, nonce);
    let proof = key.proof_with_nonce("GET", &whoami_url, later, Some(&access), &nonce);
    let (status, headers, v) = whoami_answer(&s, "DPoP", &access, Some(&proof)).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (401, Some("use_dpop_nonce")),
        "{v}"
    );
    assert_eq!(
        header(&headers, "www-authenticate"),
        "DPoP error=\"use_dpop_nonce\", algs=\"ES256 EdDSA Ed25519\""
    );
    let retry = nonce_of(&headers);
    let proof = key.proof_with_nonce("GET", &whoami_url, later, Some(&access), &retry);
    assert_eq!(whoami(&s, "DPoP", &access, Some(&proof)).await.0, 200);

    // A client without the setting needs none, and is handed one all the same.
    let (_, plain, plain_secret) = oauth_account(&s, json!({})).await;
    let proof = key.proof("POST", &url, later, None);
    let (status, headers, v) = post_with_proof(
        &s,
        TOKEN,
        &plain,
        Some(plain_secret.as_str()),
        Some(&proof),
        &form,
    )
    .await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (200, Some("DPoP")),
        "{v}"
    );
    nonce_of(&headers);
    // Without a proof, no nonce is handed out.
    let (status, headers, _) =
        post_with_proof(&s, TOKEN, &plain, Some(plain_secret.as_str()), None, &form).await;
    assert_eq!(
        (status, header(&headers, "dpop-nonce")),
        (200, String::new())
    );
}

/// RFC 9449 §10: a code bound to a DPoP key — by `dpop_jkt` on the authorization request, or by
/// the proof its push came with — is redeemed only with a proof of that key; a wrong or missing
/// proof burns nothing. A code injected into another session's exchange is worthless without it.
async fn codes_bound_to_a_key_are_redeemed_with_it(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (owner_key, id, secret) = oauth_account(&s, json!({})).await;
    let cookie = sign_in(&s, &owner_key).await;
    let key = ProofKey::es256();
    let jkt = key.jkt();
    let now = s.clock.now_for_tests();
    // Redeems `code` (PKCE `verifier`): refused without a proof and with another key's, then
    // bound to the key.
    let redeem = |code: String, verifier: String| {
        let (s, id, secret, key) = (&s, &id, &secret, &key);
        async move {
            let exchange = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.as_str()),
            ];
            let thief = ProofKey::es256().proof("POST", &token_url(s), now, None);
            for proof in [None, Some(thief.as_str())] {
                oauth_refusal(
                    token_with_proof(s, id, Some(secret.as_str()), proof, &exchange).await,
                    400,
                    "invalid_grant",
                );
            }
            let proof = key.proof("POST", &token_url(s), now, None);
            let (status, tok) =
                token_with_proof(s, id, Some(secret.as_str()), Some(&proof), &exchange).await;
            assert_eq!(
                (status, tok["token_type"].as_str()),
                (200, Some("DPoP")),
                "{tok}"
            );
        }
    };

    // dpop_jkt on a plain authorization request.
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "Basic"),
        ("code_challenge", pkce.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let bad = [params.clone(), vec![("dpop_jkt", "not-a-thumbprint")]].concat();
    let error = sent_back(browse(&s, &cookie, authorize_url(&s, &bad)).await);
    assert_eq!(param(&error, "error").as_deref(), Some("invalid_request"));
    params.push(("dpop_jkt", &jkt));
    let back = consent(&s, &authorize_url(&s, &params), &cookie, "approve").await;
    redeem(param(&back, "code").unwrap(), verifier.secret().clone()).await;

    // A push with a proof binds the code to the proof's key, and hands out a nonce.
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let form = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "Basic"),
        ("code_challenge", pkce.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let par_url = s.url("/api/oauth2/par");
    let proof = key.proof("POST", &par_url, now, None);
    let (status, headers, v) =
        post_with_proof(&s, PAR, &id, Some(secret.as_str()), Some(&proof), &form).await;
    assert_eq!(status, 201, "{v}");
    assert!(!header(&headers, "dpop-nonce").is_empty());
    let back = pushed_code(&s, &cookie, &id, v["request_uri"].as_str().unwrap()).await;
    redeem(param(&back, "code").unwrap(), verifier.secret().clone()).await;

    // Refused pushes: a proof for another URL, a dpop_jkt of another key, a malformed one.
    let token_proof = key.proof("POST", &token_url(&s), now, None);
    let other = ProofKey::es256().jkt();
    let with_jkt = |j: &'static str| [form.to_vec(), vec![("dpop_jkt", j)]].concat();
    let cases = [
        (Some(token_proof), form.to_vec(), "invalid_dpop_proof"),
        (
            Some(key.proof("POST", &par_url, now, None)),
            [form.to_vec(), vec![("dpop_jkt", other.as_str())]].concat(),
            "invalid_dpop_proof",
        ),
        (None, with_jkt("not-a-thumbprint"), "invalid_request"),
    ];
    for (proof, form, error) in cases {
        let (status, _, v) =
            post_with_proof(&s, PAR, &id, Some(secret.as_str()), proof.as_deref(), &form).await;
        assert_eq!((status, v["error"].as_str()), (400, Some(error)), "{v}");
    }

    // An implicit request has no code to bind: a proof on its push is refused, not kept.
    let (_, implicit, implicit_secret) = oauth_account(&s, json!({"implicit": true})).await;
    let token_flow = [("response_type", "token"), ("redirect_uri", REDIRECT)];
    let proof = key.proof("POST", &par_url, now, None);
    let (status, _, v) = post_with_proof(
        &s,
        PAR,
        &implicit,
        Some(implicit_secret.as_str()),
        Some(&proof),
        &token_flow,
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let (status, _, v) = post_with_proof(
        &s,
        PAR,
        &implicit,
        Some(implicit_secret.as_str()),
        None,
        &token_flow,
    )
    .await;
    assert_eq!(status, 201, "{v}");
}
