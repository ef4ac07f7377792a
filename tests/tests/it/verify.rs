//! The shared authentication behind the `verify` authorizer, through `GET /api/whoami`
//! (which sits behind it): every credential kind and every bad input, on memory and on
//! DynamoDB Local.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac_sha256::sign;
use keygate_e2e::{Backend, Server};
use serde_json::{json, Value};

mod hmac_sha256 {
    //! The signature a client computes, written here from the spec (not keygate's code).
    use sha2::{Digest, Sha256};

    pub fn sign(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut inner = Sha256::new();
        inner.update(k.iter().map(|b| b ^ 0x36).collect::<Vec<u8>>());
        inner.update(msg);
        let mut outer = Sha256::new();
        outer.update(k.iter().map(|b| b ^ 0x5c).collect::<Vec<u8>>());
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

struct Signed {
    id: String,
    secret: String,
    bearer: String,
}

/// An OAUTH2 account with a client on `app.example.com`, and a token of it.
async fn signing_client(s: &Server) -> (String, Signed) {
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&key),
        Some(json!({"method": "OAUTH2"})),
    )
    .await;
    let (_, c) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&key),
            Some(json!({"name": "Signer", "scopes": ["Basic"], "domain": "app.example.com"})),
        )
        .await;
    let id = c["clientId"].as_str().unwrap().to_owned();
    let secret = c["clientSecret"].as_str().unwrap().to_owned();
    let bearer = client_token(s, &id, &secret).await;
    (key, Signed { id, secret, bearer })
}

async fn client_token(s: &Server, id: &str, secret: &str) -> String {
    let (status, t) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    t["access_token"].as_str().unwrap().to_owned()
}

fn signature(secret: &str, key: &str, date: &str, nonce: &str) -> String {
    STANDARD.encode(sign(
        secret.as_bytes(),
        format!("{key}\n{date}\n{nonce}").as_bytes(),
    ))
}

fn signed_request(
    s: &Server,
    c: &Signed,
    date: &str,
    nonce: &str,
    sig: &str,
    referer: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut r = s
        .http
        .get(s.url("/api/whoami"))
        .header("x-custom-api-key", &c.id)
        .header("x-custom-date", date)
        .header("x-custom-nonce", nonce)
        .header("x-custom-signature", sig)
        .bearer_auth(&c.bearer);
    if let Some(referer) = referer {
        r = r.header("referer", referer);
    }
    r
}

async fn every_credential_kind(backend: Backend) {
    let s = Server::start(backend).await;
    // API key (an API_KEY account).
    let (_, _, key) = s.create_account("Keys", "keys@acme.test").await;
    let (status, me) = s.whoami(&key).await;
    assert_eq!((status, me["authMethod"].as_str()), (200, Some("API_KEY")));
    // Client-app API token.
    let (_, app) = s
        .api(
            "POST",
            "/api/clientApps",
            Some(&key),
            Some(json!({"name": "a"})),
        )
        .await;
    let (_, tok) = s
        .api(
            "POST",
            "/apitoken/clientApp/accessToken",
            None,
            Some(json!({"clientId": app["clientId"], "secret": app["secret"], "type": "OWNER"})),
        )
        .await;
    let (status, me) = s
        .call(
            s.http
                .get(s.url("/api/whoami"))
                .bearer_auth(tok["accessToken"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        (status, me["authMethod"].as_str()),
        (200, Some("API_TOKEN"))
    );
    // Session cookie.
    let (_, minted) = s
        .api(
            "POST",
            "/api/authenticationTokens/signer/multiUse",
            Some(&key),
            Some(json!({"packageId": "pkg-1", "signerId": "s@x.test"})),
        )
        .await;
    let resp = s
        .http
        .get(s.url("/access"))
        .query(&[("sessionToken", minted["value"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, me) = s
        .call(s.http.get(s.url("/api/whoami")).header("cookie", &cookie))
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["authMethod"], "SESSION");
    assert_eq!(me["subjectType"], "signer");
    assert_eq!(me["packageId"], "pkg-1");

    // OAuth access token and signed request (an OAUTH2 account).
    let (oauth_owner_key, c) = signing_client(&s).await;
    let (status, me) = s
        .call(s.http.get(s.url("/api/whoami")).bearer_auth(&c.bearer))
        .await;
    assert_eq!((status, me["authMethod"].as_str()), (200, Some("OAUTH2")));
    let now = s.clock.now_for_tests().to_string();
    let sig = signature(&c.secret, &c.id, &now, "nonce-1");
    let (status, me) = s
        .call(signed_request(
            &s,
            &c,
            &now,
            "nonce-1",
            &sig,
            Some("https://app.example.com/page"),
        ))
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["authMethod"], "SIGNED_REQUEST");
    assert_eq!(me["clientId"], c.id);

    // The account's method is enforced: the OAUTH2 account's own API key is refused here,
    // with a message that names the method (it still manages the account).
    let (status, err) = s.whoami(&oauth_owner_key).await;
    assert_eq!(status, 401);
    assert!(err["message"].as_str().unwrap().contains("OAUTH2"), "{err}");
    assert_eq!(
        s.api("GET", "/api/oauth2/clients", Some(&oauth_owner_key), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn every_credential_kind_in_memory() {
    every_credential_kind(Backend::Memory).await;
}

#[tokio::test]
async fn every_credential_kind_on_dynamodb_local() {
    every_credential_kind(Backend::Stack).await;
}

fn forge_jwt(header: Value, claims: Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

async fn bad_inputs(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, c) = signing_client(&s).await;
    let now = s.clock.now_for_tests();
    let date = now.to_string();
    let good_ref = Some("https://app.example.com/");
    let expect = |status: u16, reason: &str, got: (u16, Value)| {
        assert_eq!(got.0, status, "{reason}: {}", got.1);
        assert_eq!(got.1["reason"], reason, "{}", got.1);
    };

    // Signatures: truncated, padded wrong, of a wrong secret.
    let sig = signature(&c.secret, &c.id, &date, "n1");
    expect(
        400,
        "signature_malformed",
        s.call(signed_request(&s, &c, &date, "n1", &sig[..20], good_ref))
            .await,
    );
    expect(
        400,
        "signature_malformed",
        s.call(signed_request(
            &s,
            &c,
            &date,
            "n1",
            &format!("{}==", &sig[..43]),
            good_ref,
        ))
        .await,
    );
    expect(
        401,
        "signature_invalid",
        s.call(signed_request(
            &s,
            &c,
            &date,
            "n1",
            &signature("wrong", &c.id, &date, "n1"),
            good_ref,
        ))
        .await,
    );
    // Dates: milliseconds, far future, past the window.
    let ms = (now * 1000).to_string();
    expect(
        400,
        "signed_date_malformed",
        s.call(signed_request(
            &s,
            &c,
            &ms,
            "n2",
            &signature(&c.secret, &c.id, &ms, "n2"),
            good_ref,
        ))
        .await,
    );
    let future = (now + 3600).to_string();
    expect(
        401,
        "signed_date_skew",
        s.call(signed_request(
            &s,
            &c,
            &future,
            "n3",
            &signature(&c.secret, &c.id, &future, "n3"),
            good_ref,
        ))
        .await,
    );
    // Nonces: 33 characters, control characters.
    let long = "n".repeat(33);
    expect(
        400,
        "nonce_malformed",
        s.call(signed_request(
            &s,
            &c,
            &date,
            &long,
            &signature(&c.secret, &c.id, &date, &long),
            good_ref,
        ))
        .await,
    );
    let (status, _) = s
        .call(signed_request(&s, &c, &date, "a\tb", &sig, good_ref))
        .await;
    assert_eq!(status, 400, "a tab in the nonce");
    // Referer: missing, foreign, look-alike.
    let sig4 = signature(&c.secret, &c.id, &date, "n4");
    expect(
        401,
        "referer_missing",
        s.call(signed_request(&s, &c, &date, "n4", &sig4, None))
            .await,
    );
    expect(
        401,
        "referer_foreign",
        s.call(signed_request(
            &s,
            &c,
            &date,
            "n4",
            &sig4,
            Some("https://evil.test/"),
        ))
        .await,
    );
    expect(
        401,
        "referer_foreign",
        s.call(signed_request(
            &s,
            &c,
            &date,
            "n4",
            &sig4,
            Some("https://app.example.com.evil.test/"),
        ))
        .await,
    );
    // A replayed nonce: the first use passes, the second is refused.
    assert_eq!(
        s.call(signed_request(&s, &c, &date, "n4", &sig4, good_ref))
            .await
            .0,
        200
    );
    expect(
        401,
        "nonce_replayed",
        s.call(signed_request(&s, &c, &date, "n4", &sig4, good_ref))
            .await,
    );
    // Repeated headers.
    let (status, err) = s
        .call(signed_request(&s, &c, &date, "n5", &sig4, good_ref).header("x-custom-nonce", "n6"))
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (400, Some("header_repeated"))
    );
    let (status, _) = s
        .call(
            s.http
                .get(s.url("/api/whoami"))
                .header("authorization", "Basic a")
                .header("authorization", "Basic b"),
        )
        .await;
    assert_eq!(status, 400);

    // JWTs: alg none, HS256 keyed with our public key, another issuer, tampered payload.
    let parts: Vec<String> = c.bearer.split('.').map(str::to_owned).collect();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    let none = forge_jwt(
        json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}),
        claims.clone(),
        b"",
    );
    let (_, jwks) = s.call(s.http.get(s.url("/.well-known/jwks.json"))).await;
    let hs = forge_jwt(
        json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}),
        claims.clone(),
        &sign(jwks["keys"][0].to_string().as_bytes(), b"x"),
    );
    for (token, reason) in [(none, "jwt_alg_refused"), (hs, "jwt_alg_refused")] {
        let got = s
            .call(s.http.get(s.url("/api/whoami")).bearer_auth(&token))
            .await;
        expect(401, reason, got);
    }
    let mut other = claims.clone();
    other["iss"] = json!("https://evil.example");
    other["aud"] = json!("https://evil.example");
    let ring = s.services().keys.ring().await;
    let foreign = ring.sign_jwt(&other, now).unwrap();
    expect(
        401,
        "jwt_issuer",
        s.call(s.http.get(s.url("/api/whoami")).bearer_auth(&foreign))
            .await,
    );
    let mut tampered = claims.clone();
    tampered["scope"] = json!("Basic ISign WeSign");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered.to_string()),
        parts[2]
    );
    expect(
        401,
        "jwt_bad_signature",
        s.call(s.http.get(s.url("/api/whoami")).bearer_auth(&forged))
            .await,
    );
    expect(
        401,
        "jwt_malformed",
        s.call(s.http.get(s.url("/api/whoami")).bearer_auth("a.b"))
            .await,
    );
}

#[tokio::test]
async fn bad_inputs_in_memory() {
    bad_inputs(Backend::Memory).await;
}

#[tokio::test]
async fn bad_inputs_on_dynamodb_local() {
    bad_inputs(Backend::Stack).await;
}

#[tokio::test]
async fn rotated_out_secrets_stop_signing() {
    let s = Server::start(Backend::Memory).await;
    let (key, c) = signing_client(&s).await;
    let (_, rotated) = s
        .api(
            "POST",
            &format!("/api/oauth2/clients/{}/rotate", c.id),
            Some(&key),
            Some(json!({"gracePeriodSeconds": 60})),
        )
        .await;
    let new_secret = rotated["clientSecret"].as_str().unwrap().to_owned();
    let fresh = Signed {
        id: c.id.clone(),
        secret: new_secret.clone(),
        bearer: client_token(&s, &c.id, &new_secret).await,
    };
    let date = s.clock.now_for_tests().to_string();
    let old_sig = signature(&c.secret, &c.id, &date, "r1");
    assert_eq!(
        s.call(signed_request(
            &s,
            &fresh,
            &date,
            "r1",
            &old_sig,
            Some("https://app.example.com/")
        ))
        .await
        .0,
        200,
        "old secret inside the grace period"
    );
    s.clock.advance(61);
    let date = s.clock.now_for_tests().to_string();
    let old_sig = signature(&c.secret, &c.id, &date, "r2");
    let (status, err) = s
        .call(signed_request(
            &s,
            &fresh,
            &date,
            "r2",
            &old_sig,
            Some("https://app.example.com/"),
        ))
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (401, Some("signature_invalid"))
    );
    let new_sig = signature(&new_secret, &c.id, &date, "r3");
    assert_eq!(
        s.call(signed_request(
            &s,
            &fresh,
            &date,
            "r3",
            &new_sig,
            Some("https://app.example.com/")
        ))
        .await
        .0,
        200
    );
}

async fn one_of_many_identical_signed_requests(backend: Backend) {
    let s = std::sync::Arc::new(Server::start(backend).await);
    let (_, c) = signing_client(&s).await;
    let c = std::sync::Arc::new(c);
    let date = s.clock.now_for_tests().to_string();
    let sig = signature(&c.secret, &c.id, &date, "race");
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (s, c, date, sig) = (s.clone(), c.clone(), date.clone(), sig.clone());
            tokio::spawn(async move {
                s.call(signed_request(
                    &s,
                    &c,
                    &date,
                    "race",
                    &sig,
                    Some("https://app.example.com/"),
                ))
                .await
                .0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|x| **x == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|x| *x == 200 || *x == 401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_many_identical_signed_requests_in_memory() {
    one_of_many_identical_signed_requests(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_many_identical_signed_requests_on_dynamodb_local() {
    one_of_many_identical_signed_requests(Backend::Stack).await;
}
