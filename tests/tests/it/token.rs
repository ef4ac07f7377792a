//! The token function end to end — client-app API tokens, the OAuth 2.0 grants driven
//! by the `oauth2` crate (a real client library), the consent page, refresh rotation and reuse,
//! revocation and introspection — on the in-memory backend and on DynamoDB Local + moto.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_e2e::{
    consent, http_client, oauth_account, oauth_client, param, sign_in, Backend, Server,
};
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, RefreshToken, Scope, TokenResponse};
use serde_json::{json, Value};

struct Owner {
    key: String,
}

async fn owner(s: &Server) -> Owner {
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    Owner { key }
}

async fn bearer_whoami(s: &Server, token: &str) -> (u16, Value) {
    s.call(s.http.get(s.url("/api/whoami")).bearer_auth(token))
        .await
}

async fn exchange(s: &Server, id: &str, secret: &str) -> (u16, Value) {
    s.api(
        "POST",
        "/apitoken/clientApp/accessToken",
        None,
        Some(json!({"clientId": id, "secret": secret, "type": "OWNER"})),
    )
    .await
}

async fn client_app_tokens(backend: Backend) {
    let s = Server::start(backend).await;
    let o = owner(&s).await;
    let (_, app) = s
        .api(
            "POST",
            "/api/clientApps",
            Some(&o.key),
            Some(json!({"name": "CRM"})),
        )
        .await;
    let id = app["clientId"].as_str().unwrap().to_owned();
    let secret = app["secret"].as_str().unwrap().to_owned();

    let (status, tok) = exchange(&s, &id, &secret).await;
    assert_eq!(status, 200, "{tok}");
    let token = tok["accessToken"].as_str().unwrap().to_owned();
    assert!(tok["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(tok["expiresIn"], 1800);
    let (status, me) = bearer_whoami(&s, &token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["authMethod"], "API_TOKEN");
    assert_eq!(me["subjectType"], "owner");
    assert_eq!(me["clientId"], id);

    // An API token does not reach the management routes: the API key is their root credential.
    let (status, _) = s
        .call(s.http.get(s.url("/api/clientApps")).bearer_auth(&token))
        .await;
    assert_eq!(status, 403);

    // Rotation with a grace period: the old secret (and its tokens) work inside it, not after.
    let (_, rotated) = s
        .api(
            "POST",
            &format!("/api/clientApps/{id}/rotate"),
            Some(&o.key),
            Some(json!({"gracePeriodSeconds": 120})),
        )
        .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        exchange(&s, &id, &secret).await.0,
        200,
        "old secret inside the grace period"
    );
    s.clock.advance(121);
    assert_eq!(
        exchange(&s, &id, &secret).await.0,
        401,
        "old secret after the grace period"
    );
    let (status, err) = bearer_whoami(&s, &token).await;
    assert_eq!(status, 401, "a token of a rotated-out secret: {err}");
    let (status, fresh) = exchange(&s, &id, &new_secret).await;
    assert_eq!(status, 200);
    let fresh = fresh["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(bearer_whoami(&s, &fresh).await.0, 200);

    // Expiry, with the injected clock.
    s.clock.advance(1800 + 31);
    assert_eq!(bearer_whoami(&s, &fresh).await.0, 401, "expired");
    let (_, again) = exchange(&s, &id, &new_secret).await;
    let live = again["accessToken"].as_str().unwrap().to_owned();

    // Revocation kills live tokens from the next request on.
    assert_eq!(bearer_whoami(&s, &live).await.0, 200);
    assert_eq!(
        s.api(
            "DELETE",
            &format!("/api/clientApps/{id}"),
            Some(&o.key),
            None
        )
        .await
        .0,
        204
    );
    let (status, err) = bearer_whoami(&s, &live).await;
    assert_eq!(status, 401);
    assert_eq!(err["reason"], "client_revoked");

    // Bad input.
    for body in [
        json!({"clientId": id}),
        json!({"clientId": id, "secret": "x", "type": "SENDER"}),
        json!({"clientId": 1, "secret": "x"}),
    ] {
        let (status, _) = s
            .api(
                "POST",
                "/apitoken/clientApp/accessToken",
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 400, "{body}");
    }
}

#[tokio::test]
async fn client_app_tokens_in_memory() {
    client_app_tokens(Backend::Memory).await;
}

#[tokio::test]
async fn client_app_tokens_on_the_stack() {
    client_app_tokens(Backend::Stack).await;
}

async fn lockout_and_method(backend: Backend) {
    let s = Server::start(backend).await;
    let o = owner(&s).await;
    let (_, app) = s
        .api(
            "POST",
            "/api/clientApps",
            Some(&o.key),
            Some(json!({"name": "CRM"})),
        )
        .await;
    let id = app["clientId"].as_str().unwrap().to_owned();
    let secret = app["secret"].as_str().unwrap().to_owned();
    for _ in 0..5 {
        assert_eq!(exchange(&s, &id, "wrong-secret").await.0, 401);
    }
    let resp = s
        .http
        .post(s.url("/apitoken/clientApp/accessToken"))
        .json(&json!({"clientId": id, "secret": secret, "type": "OWNER"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429, "locked even with the right secret");
    let retry: i64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry));
    s.clock.advance(retry);
    assert_eq!(
        exchange(&s, &id, &secret).await.0,
        200,
        "unlocked after Retry-After"
    );

    // The account switches to OAuth 2.0: client apps are refused with a 401 that names it.
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&o.key),
        Some(json!({"method": "OAUTH2"})),
    )
    .await;
    let (status, err) = exchange(&s, &id, &secret).await;
    assert_eq!(status, 401);
    assert!(err["message"].as_str().unwrap().contains("OAUTH2"), "{err}");
}

#[tokio::test]
async fn lockout_and_method_in_memory() {
    lockout_and_method(Backend::Memory).await;
}

#[tokio::test]
async fn lockout_and_method_on_the_stack() {
    lockout_and_method(Backend::Stack).await;
}

async fn client_credentials(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, id, secret) = oauth_account(&s, json!({})).await;
    let http = http_client();

    let tok = oauth_client(&s, &id, Some(&secret))
        .exchange_client_credentials()
        .add_scope(Scope::new("ISign".into()))
        .request_async(&http)
        .await
        .expect("client credentials through the oauth2 crate");
    assert_eq!(tok.expires_in().unwrap().as_secs(), 300, "5-minute default");
    assert_eq!(tok.scopes().unwrap()[0].as_str(), "ISign");
    let (status, me) = bearer_whoami(&s, tok.access_token().secret()).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["subjectType"], "client");
    assert_eq!(me["authMethod"], "OAUTH2");
    assert_eq!(me["scopes"], json!(["ISign"]));

    // The token is an RFC 9068 JWT.
    let parts: Vec<&str> = tok.access_token().secret().split('.').collect();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    for c in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
    ] {
        assert!(claims.get(c).is_some(), "claim {c}");
    }

    // Scopes are case-sensitive and a subset of the client's.
    let err = oauth_client(&s, &id, Some(&secret))
        .exchange_client_credentials()
        .add_scope(Scope::new("isign".into()))
        .request_async(&http)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invalid_scope"), "{err:?}");

    // Credentials in the body are refused.
    let (status, err) = s
        .call(s.http.post(s.url("/api/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ]))
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_request");

    // A wrong secret: 401 invalid_client with WWW-Authenticate; five lock the client.
    for i in 0..5 {
        let resp = s
            .http
            .post(s.url("/api/oauth2/token"))
            .basic_auth(&id, Some("wrong"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "attempt {i}");
        assert!(resp.headers().contains_key("www-authenticate"));
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    let resp = s
        .http
        .post(s.url("/api/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn client_credentials_in_memory() {
    client_credentials(Backend::Memory).await;
}

#[tokio::test]
async fn client_credentials_on_the_stack() {
    client_credentials(Backend::Stack).await;
}

async fn authorization_code_flow(backend: Backend) {
    let s = Server::start(backend).await;
    let (owner_key, id, secret) = oauth_account(&s, json!({})).await;
    let http = http_client();
    let client = oauth_client(&s, &id, Some(&secret));
    let cookie = sign_in(&s, &owner_key).await;

    // No session: an error page, never a redirect.
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("Basic".into()))
        .set_pkce_challenge(pkce)
        .url();
    let resp = s.http.get(auth_url.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("location").is_none());

    // Approve: a code, bound to PKCE, exchanged by the oauth2 crate.
    let back = consent(&s, auth_url.as_str(), &cookie, "approve").await;
    assert_eq!(back.host_str(), Some("portal.example"));
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(state.secret().as_str())
    );
    let code = param(&back, "code").unwrap();
    let tok = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let access = tok.access_token().secret().clone();
    let refresh = tok.refresh_token().unwrap().secret().clone();
    let (status, me) = bearer_whoami(&s, &access).await;
    assert_eq!(status, 200);
    assert_eq!(me["subjectType"], "owner");
    assert_eq!(me["scopes"], json!(["Basic"]));

    // Refresh rotates; a retry inside the grace window gets the same answer.
    let r1 = client
        .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
        .request_async(&http)
        .await
        .expect("refresh");
    let r1_again = client
        .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
        .request_async(&http)
        .await
        .expect("retried refresh inside the grace window");
    assert_eq!(
        r1.refresh_token().unwrap().secret(),
        r1_again.refresh_token().unwrap().secret()
    );
    assert_ne!(r1.refresh_token().unwrap().secret(), &refresh);

    // After the window, reusing the old refresh token revokes the whole family.
    s.clock.advance(11);
    assert!(client
        .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
        .request_async(&http)
        .await
        .is_err());
    assert_eq!(
        bearer_whoami(&s, r1.access_token().secret()).await.0,
        401,
        "family revoked"
    );
    assert_eq!(bearer_whoami(&s, &access).await.0, 401, "family revoked");
    assert!(client
        .exchange_refresh_token(r1.refresh_token().unwrap())
        .request_async(&http)
        .await
        .is_err());

    // A code works once; its second use fails and revokes what the first issued.
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(pkce)
        .url();
    let back = consent(&s, auth_url.as_str(), &cookie, "approve").await;
    let code = param(&back, "code").unwrap();
    let verifier_secret = verifier.secret().clone();
    let first = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let second = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(oauth2::PkceCodeVerifier::new(verifier_secret))
        .request_async(&http)
        .await;
    assert!(format!("{:?}", second.unwrap_err()).contains("invalid_grant"));
    assert_eq!(
        bearer_whoami(&s, first.access_token().secret()).await.0,
        401
    );

    // A wrong PKCE verifier is refused.
    let (pkce, _) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(pkce)
        .url();
    let back = consent(&s, auth_url.as_str(), &cookie, "approve").await;
    let (_, wrong) = PkceCodeChallenge::new_random_sha256();
    let err = client
        .exchange_code(AuthorizationCode::new(param(&back, "code").unwrap()))
        .set_pkce_verifier(wrong)
        .request_async(&http)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invalid_grant"));

    // Deny: access_denied with the state.
    let (auth_url, state) = client.authorize_url(CsrfToken::new_random).url();
    let back = consent(&s, auth_url.as_str(), &cookie, "deny").await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(state.secret().as_str())
    );

    // An unregistered redirect URI or unknown client: an error page, never a redirect.
    for q in [
        format!("response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"),
        "response_type=code&client_id=oc_aaaaaaaaaaaaaaaa".to_owned(),
    ] {
        let resp = s
            .http
            .get(s.url(&format!("/api/oauth2/authorize?{q}")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{q}");
        assert!(resp.headers().get("location").is_none());
    }
    // A forged consent POST (no CSRF token) is refused.
    let resp = s
        .http
        .post(s.url("/api/oauth2/authorize"))
        .header("cookie", &cookie)
        .form(&[
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn authorization_code_flow_in_memory() {
    authorization_code_flow(Backend::Memory).await;
}

#[tokio::test]
async fn authorization_code_flow_on_the_stack() {
    authorization_code_flow(Backend::Stack).await;
}

async fn implicit_revoke_introspect(backend: Backend) {
    let s = Server::start(backend).await;
    let (owner_key, id, secret) = oauth_account(&s, json!({})).await;
    let cookie = sign_in(&s, &owner_key).await;
    let implicit_url = s.url(&format!(
        "/api/oauth2/authorize?response_type=token&client_id={id}&state=xyz"
    ));
    // Off unless the client turns it on: the error goes to the (registered) redirect URI.
    let resp = s
        .http
        .get(&implicit_url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert!(resp.headers()["location"]
        .to_str()
        .unwrap()
        .contains("error=unauthorized_client"));
    s.api(
        "PUT",
        &format!("/api/oauth2/clients/{id}"),
        Some(&owner_key),
        Some(json!({"implicit": true})),
    )
    .await;
    let back = consent(&s, &implicit_url, &cookie, "approve").await;
    let frag: Vec<(String, String)> =
        url::form_urlencoded::parse(back.fragment().unwrap().as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| frag.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("state").as_deref(), Some("xyz"));
    assert!(
        get("refresh_token").is_none(),
        "the implicit flow never yields a refresh token"
    );
    let implicit_token = get("access_token").unwrap();
    assert_eq!(bearer_whoami(&s, &implicit_token).await.0, 200);

    // Introspection (confidential client of the same account).
    let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    let (status, info) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/introspect"))
                .header("authorization", &basic)
                .form(&[("token", implicit_token.as_str())]),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], id);

    // Revocation (RFC 7009): the token dies at once; unknown tokens still get 200.
    let (status, _) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/revoke"))
                .header("authorization", &basic)
                .form(&[("token", implicit_token.as_str())]),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(bearer_whoami(&s, &implicit_token).await.0, 401);
    let (_, info) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/introspect"))
                .header("authorization", &basic)
                .form(&[("token", implicit_token.as_str())]),
        )
        .await;
    assert_eq!(info["active"], false);
    let (status, _) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/revoke"))
                .header("authorization", &basic)
                .form(&[("token", "not-a-token")]),
        )
        .await;
    assert_eq!(status, 200);

    // Discovery and JWKS.
    let (_, meta) = s
        .call(s.http.get(s.url("/.well-known/oauth-authorization-server")))
        .await;
    assert_eq!(meta["issuer"], s.running.base_url());
    let (_, jwks) = s.call(s.http.get(s.url("/.well-known/jwks.json"))).await;
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn implicit_revoke_introspect_in_memory() {
    implicit_revoke_introspect(Backend::Memory).await;
}

#[tokio::test]
async fn implicit_revoke_introspect_on_the_stack() {
    implicit_revoke_introspect(Backend::Stack).await;
}

#[tokio::test]
async fn public_clients_need_pkce() {
    let s = Server::start(Backend::Memory).await;
    let (owner_key, id, _) = oauth_account(&s, json!({"public": true})).await;
    let cookie = sign_in(&s, &owner_key).await;
    let resp = s
        .http
        .get(s.url(&format!(
            "/api/oauth2/authorize?response_type=code&client_id={id}"
        )))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert!(resp.headers()["location"]
        .to_str()
        .unwrap()
        .contains("error=invalid_request"));

    let client = oauth_client(&s, &id, None);
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(pkce)
        .url();
    let back = consent(&s, auth_url.as_str(), &cookie, "approve").await;
    let tok = client
        .exchange_code(AuthorizationCode::new(param(&back, "code").unwrap()))
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .expect("public client exchange with PKCE");
    assert_eq!(bearer_whoami(&s, tok.access_token().secret()).await.0, 200);
}

/// Secured Signing's token requests as its guide writes them: `client_id` and `client_secret` in
/// the body of the authorization-code and refresh grants (`client_secret_post`); never both
/// methods at once, never on the client-credentials grant; wrong body secrets lock out exactly as
/// wrong Basic ones do.
async fn body_credentials_as_secured_signing_sends_them(backend: Backend) {
    let s = Server::start(backend).await;
    let (owner_key, id, secret) = oauth_account(&s, json!({})).await;
    let (_, meta) = s
        .call(s.http.get(s.url("/.well-known/oauth-authorization-server")))
        .await;
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    let cookie = sign_in(&s, &owner_key).await;
    let token = |form: Vec<(&'static str, String)>| {
        let req = s.http.post(s.url("/api/oauth2/token")).form(&form);
        s.call(req)
    };

    // The guide's authorization-code request, field for field.
    let code = keygate_e2e::approved_code(&s, &cookie, &id, "Basic").await;
    let (status, tok) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("client_id", id.clone()),
        ("client_secret", secret.clone()),
        ("redirect_uri", "https://portal.example/cb".into()),
    ])
    .await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(
        bearer_whoami(&s, tok["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    // The guide's refresh request.
    let (status, refreshed) = token(vec![
        ("grant_type", "refresh_token".into()),
        (
            "refresh_token",
            tok["refresh_token"].as_str().unwrap().into(),
        ),
        ("client_id", id.clone()),
        ("client_secret", secret.clone()),
    ])
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], tok["refresh_token"], "rotated");

    // Both methods in one request; a body secret without its client id; body credentials on
    // the client-credentials grant: invalid_request, and nothing consumed.
    let code = keygate_e2e::approved_code(&s, &cookie, &id, "Basic").await;
    let both = s
        .http
        .post(s.url("/api/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("redirect_uri", "https://portal.example/cb"),
        ]);
    let (status, err) = s.call(both).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, err) = token(vec![
        ("grant_type", "refresh_token".into()),
        (
            "refresh_token",
            refreshed["refresh_token"].as_str().unwrap().into(),
        ),
        ("client_secret", secret.clone()),
    ])
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, err) = token(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", id.clone()),
        ("client_secret", secret.clone()),
    ])
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // The code refused above was not consumed: it still redeems, with body credentials.
    let (status, tok) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("client_id", id.clone()),
        ("client_secret", secret.clone()),
        ("redirect_uri", "https://portal.example/cb".into()),
    ])
    .await;
    assert_eq!(status, 200, "{tok}");

    // Five wrong body secrets from one source lock that source out of the client, as five wrong
    // Basic secrets do; another source with the right secret is not refused.
    let attacker = keygate_e2e::client_from(keygate_e2e::fresh_loopback());
    let wrong = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "x"),
        ("client_id", id.as_str()),
        ("client_secret", "not-the-secret"),
    ];
    for i in 0..5 {
        let (status, err) = s
            .call(attacker.post(s.url("/api/oauth2/token")).form(&wrong))
            .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (401, Some("invalid_client")),
            "attempt {i}"
        );
    }
    let right = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tok["refresh_token"].as_str().unwrap()),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, _) = s
        .call(attacker.post(s.url("/api/oauth2/token")).form(&right))
        .await;
    assert_eq!(status, 429, "the failing source is locked");
    let (status, ok) = s
        .call(s.http.post(s.url("/api/oauth2/token")).form(&right))
        .await;
    assert_eq!(status, 200, "the client's own source is not: {ok}");
}

#[tokio::test]
async fn body_credentials_as_secured_signing_sends_them_in_memory() {
    body_credentials_as_secured_signing_sends_them(Backend::Memory).await;
}

#[tokio::test]
async fn body_credentials_as_secured_signing_sends_them_on_the_stack() {
    body_credentials_as_secured_signing_sends_them(Backend::Stack).await;
}
