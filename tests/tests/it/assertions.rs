//! Client authentication with keys (`private_key_jwt`, RFC 7523; docs/FAPI.md): registration
//! with inline keys or a `jwksUri`, assertions at the token, pushed-request, revocation and
//! introspection endpoints, and every attack on assertions refused — a wrong key, `aud` the
//! token endpoint, expired, too far ahead, a replayed `jti`, `none` or HS256 over the public
//! key, `iss` ≠ `sub`, an unknown client, a `jwksUri` on a private address — each counted by the
//! lockout like a wrong secret, and each answered with the same generic `invalid_client` (the
//! reason, which only the log sees, is read here through the same check in process). A
//! `jwksUri` is fetched at registration and refused unless usable; one that hangs costs an
//! instance one fetch per backoff, counted for the source. On both backends.
//!
//! Assertions are made as a client makes them (`ProofKey::assertion`: jsonwebtoken's signature
//! over claims written here), never with keygate's own checking code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keygate_core::identity::assertion::ASSERTION_TYPE;
use keygate_core::identity::lockout::{self, Attempt, Source};
use keygate_core::ports::jwks::RemoteJwks;
use keygate_core::testing::dpop::{assertion_claims, ProofKey};
use keygate_e2e::{
    client_from, fresh_loopback, issuer, key_account, oauth_account, on_both_backends, Auth, Server,
};
use keygate_http::jwks::Guarded;
use keygate_http::ssrf::PinnedResolver;
use serde_json::{json, Value};

on_both_backends!(
    a_client_with_keys_authenticates_at_every_endpoint,
    every_attack_on_an_assertion_is_refused,
    bad_assertions_count_for_the_lockout,
    published_keys_are_cached_and_fetched_again_once_on_rotation,
    a_jwks_uri_on_a_private_address_is_never_fetched,
    a_jwks_uri_whose_name_resolves_to_a_private_address_is_refused,
    a_jwks_uri_is_fetched_at_registration_and_refused_unless_usable,
    a_put_of_the_same_jwks_uri_fetches_the_keys_again,
    a_hanging_jwks_uri_costs_one_fetch_per_backoff_counted_for_the_source,
    a_key_client_naming_itself_only_is_refused,
    changing_the_keys_ends_the_tokens_of_the_old_ones,
    registration_takes_public_keys_only,
    the_console_registers_a_jwks_or_a_jwks_url,
);

const TOKEN: &str = "/api/oauth2/token";
const CC: [(&str, &str); 2] = [("grant_type", "client_credentials"), ("scope", "Basic")];

/// `POST path` of `form` with a client assertion `assertion`, from `http`: status and body.
async fn with_assertion(
    s: &Server,
    http: &reqwest::Client,
    path: &str,
    assertion: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut fields = form.to_vec();
    fields.push(("client_assertion_type", ASSERTION_TYPE));
    fields.push(("client_assertion", assertion));
    s.call(http.post(s.url(path)).form(&fields)).await
}

/// `401 invalid_client`, saying nothing but that.
fn invalid_client((status, v): (u16, Value), what: &str) {
    assert_eq!(
        (status, v["error"].as_str(), v["error_description"].as_str()),
        (
            401,
            Some("invalid_client"),
            Some("client authentication failed")
        ),
        "{what}: {v}"
    );
}

/// Why `assertion` is refused: the reason code the log gets (never the caller), from the check
/// the token endpoint runs, on the server's own services, from an address of its own.
async fn reason_of(s: &Server, assertion: &str) -> &'static str {
    let services = s.services();
    let e = keygate_core::identity::client_auth::authenticate_assertion(
        &keygate_core::ports::Ports::of(services).await,
        keygate_http::jwks::remote(services),
        assertion,
        &issuer(s),
        Source::new(fresh_loopback()),
    )
    .await
    .expect_err("refused");
    e.reason
}

async fn a_client_with_keys_authenticates_at_every_endpoint(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    for key in [
        ProofKey::es256(),
        ProofKey::ps256(),
        ProofKey::ed25519(),
        ProofKey::ed25519_fully_specified(),
    ] {
        let (owner_key, id) = key_account(&s, &key, json!({})).await;
        let (status, c) = s
            .api(
                "GET",
                &format!("/api/oauth2/clients/{id}"),
                Some(&owner_key),
                None,
            )
            .await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(c["tokenEndpointAuthMethod"], "private_key_jwt");
        assert!(c.get("clientSecret").is_none(), "{c}");

        // The token endpoint: a Bearer token for the client.
        let auth = Auth::Key(&key);
        let req = auth.apply(&s, &id, s.http.post(s.url(TOKEN)), &CC);
        let (status, tok) = s.call(req).await;
        assert_eq!(status, 200, "{}: {tok}", key.alg());
        let access = tok["access_token"].as_str().unwrap().to_owned();
        let me = s
            .call(s.http.get(s.url("/api/whoami")).bearer_auth(&access))
            .await;
        assert_eq!((me.0, me.1["clientId"].as_str()), (200, Some(id.as_str())));

        // Introspection and revocation.
        let req = auth.apply(
            &s,
            &id,
            s.http.post(s.url("/api/oauth2/introspect")),
            &[("token", &access)],
        );
        let (status, seen) = s.call(req).await;
        assert_eq!((status, &seen["active"]), (200, &json!(true)), "{seen}");
        let req = auth.apply(
            &s,
            &id,
            s.http.post(s.url("/api/oauth2/revoke")),
            &[("token", &access)],
        );
        assert_eq!(s.call(req).await.0, 200);
        let me = s
            .call(s.http.get(s.url("/api/whoami")).bearer_auth(&access))
            .await;
        assert_eq!(me.0, 401, "revoked");

        // A pushed authorization request.
        let req = auth.apply(
            &s,
            &id,
            s.http.post(s.url("/api/oauth2/par")),
            &[
                ("response_type", "code"),
                ("redirect_uri", "https://portal.example/cb"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ],
        );
        let (status, v) = s.call(req).await;
        assert_eq!(status, 201, "{v}");
    }
}

async fn every_attack_on_an_assertion_is_refused(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let key = ProofKey::es256();
    let (_, id) = key_account(&s, &key, json!({})).await;
    let (_, secret_client, secret) = oauth_account(&s, json!({})).await;
    let iss = issuer(&s);
    let now = s.clock.now_for_tests();
    let claims = |name: &str, value: Value| {
        let mut c = assertion_claims(&id, &iss, now);
        c[name] = value;
        c
    };
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let good = assertion_claims(&id, &iss, now);
    // HS256 keyed with the client's public key, as registered: the classic key confusion.
    let hs256 = {
        let input = format!("{}.{}", b64(&json!({"alg": "HS256"})), b64(&good));
        let mac_key =
            jsonwebtoken::EncodingKey::from_secret(key.public_jwk().to_string().as_bytes())
                .unwrap();
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &mac_key, jsonwebtoken::Algorithm::HS256)
                .unwrap();
        format!("{input}.{sig}")
    };
    let reused = key.assertion(&id, &iss, now, None);
    let attacks: Vec<(&str, String, &str)> = vec![
        (
            "another key",
            ProofKey::es256().assertion(&id, &iss, now, None),
            "client_assertion_signature",
        ),
        (
            "aud the token endpoint",
            key.assertion(&id, &s.url(TOKEN), now, None),
            "client_assertion_claims",
        ),
        (
            "aud an array",
            key.assertion_with(&claims("aud", json!([iss])), None),
            "client_assertion_claims",
        ),
        (
            "expired",
            key.assertion_with(&claims("exp", json!(now - 1)), None),
            "client_assertion_claims",
        ),
        (
            "exp too far ahead",
            key.assertion_with(&claims("exp", json!(now + 301)), None),
            "client_assertion_claims",
        ),
        (
            "iat 11 s ahead",
            key.assertion_with(&claims("iat", json!(now + 11)), None),
            "client_assertion_claims",
        ),
        (
            "nbf 11 s ahead",
            key.assertion_with(&claims("nbf", json!(now + 11)), None),
            "client_assertion_claims",
        ),
        (
            "no jti",
            key.assertion_with(
                &{
                    let mut c = good.clone();
                    c.as_object_mut().unwrap().remove("jti");
                    c
                },
                None,
            ),
            "client_assertion_claims",
        ),
        // Refused by the algorithm allow-list, before any key is looked at.
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good)),
            "client_assertion_alg",
        ),
        ("HS256 with the public key", hs256, "client_assertion_alg"),
        (
            "iss another client",
            key.assertion_with(&claims("iss", json!(secret_client)), None),
            "client_assertion_claims",
        ),
        (
            "an unknown client",
            key.assertion("oc_aaaaaaaaaaaaaaaa", &iss, now, None),
            "client_unknown",
        ),
        (
            "a client with a secret",
            key.assertion(&secret_client, &iss, now, None),
            "client_auth_method",
        ),
        (
            "not a JWT",
            "not.a.jwt".to_owned(),
            "client_assertion_malformed",
        ),
    ];
    // Each from its own address, so the lockout (its own test) never answers first. The caller
    // is told the same for every one; the log is told why.
    for (what, assertion, reason) in &attacks {
        let http = client_from(fresh_loopback());
        invalid_client(with_assertion(&s, &http, TOKEN, assertion, &CC).await, what);
        assert_eq!(reason_of(&s, assertion).await, *reason, "{what}");
    }

    // Used once: the same assertion again is refused, at any endpoint.
    let (status, v) = with_assertion(&s, &s.http, TOKEN, &reused, &CC).await;
    assert_eq!(status, 200, "{v}");
    // Refused after its signature verified: the holder of the key is told why.
    let replayed = |(status, v): (u16, Value), what: &str| {
        assert_eq!(
            (status, v["error"].as_str()),
            (401, Some("invalid_client")),
            "{what}: {v}"
        );
        let said = v["error_description"].as_str().unwrap_or_default();
        assert!(said.contains("already used"), "{what}: {v}");
    };
    replayed(
        with_assertion(&s, &client_from(fresh_loopback()), TOKEN, &reused, &CC).await,
        "a replayed jti",
    );
    replayed(
        with_assertion(
            &s,
            &client_from(fresh_loopback()),
            "/api/oauth2/introspect",
            &reused,
            &[("token", "x")],
        )
        .await,
        "a replayed jti at introspection",
    );
    // The edges that pass: iat and nbf 10 s ahead, exp 5 minutes on.
    let edge = json!({"iat": now + 10, "nbf": now + 10, "exp": now + 300});
    let mut c = good.clone();
    c.as_object_mut()
        .unwrap()
        .extend(edge.as_object().unwrap().clone());
    c["jti"] = json!("edge-1");
    let (status, v) = with_assertion(&s, &s.http, TOKEN, &key.assertion_with(&c, None), &CC).await;
    assert_eq!(status, 200, "{v}");

    // Ambiguous or incomplete: invalid_request, never a guess.
    let fresh = || key.assertion(&id, &iss, s.clock.now_for_tests(), None);
    let one = fresh();
    let (status, v) = s
        .call(
            s.http
                .post(s.url(TOKEN))
                .basic_auth(&secret_client, Some(&secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", one.as_str()),
                ]),
        )
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let two = fresh();
    for form in [
        vec![("client_assertion", two.as_str())],
        vec![("client_assertion_type", ASSERTION_TYPE)],
        vec![
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", two.as_str()),
        ],
        vec![
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", two.as_str()),
            ("client_id", secret_client.as_str()),
        ],
    ] {
        let mut form = form;
        form.push(("grant_type", "client_credentials"));
        let (status, v) = s.call(s.http.post(s.url(TOKEN)).form(&form)).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (400, Some("invalid_request")),
            "{form:?}: {v}"
        );
    }
    // None of those burnt the assertion: it still authenticates once.
    let (status, v) = with_assertion(&s, &s.http, TOKEN, &two, &CC).await;
    assert_eq!(status, 200, "{v}");
    // A client with keys has no secret: Basic with anything is refused.
    let (status, v) = s
        .call(
            s.http
                .post(s.url(TOKEN))
                .basic_auth(&id, Some("anything"))
                .form(&CC),
        )
        .await;
    invalid_client((status, v), "Basic for a client with keys");
}

async fn bad_assertions_count_for_the_lockout(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let key = ProofKey::es256();
    let (_, id) = key_account(&s, &key, json!({})).await;
    let iss = issuer(&s);
    let attacker = client_from(fresh_loopback());
    for _ in 0..5 {
        let forged = ProofKey::es256().assertion(&id, &iss, s.clock.now_for_tests(), None);
        invalid_client(
            with_assertion(&s, &attacker, TOKEN, &forged, &CC).await,
            "forged",
        );
    }
    // The pair is locked: even a good assertion from there waits.
    let good = key.assertion(&id, &iss, s.clock.now_for_tests(), None);
    let (status, v) = with_assertion(&s, &attacker, TOKEN, &good, &CC).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (429, Some("temporarily_unavailable")),
        "{v}"
    );
    // The client itself, from its own address, is not locked out.
    let (status, v) = with_assertion(&s, &s.http, TOKEN, &good, &CC).await;
    assert_eq!(status, 200, "{v}");
}

/// A JWK Set served on loopback that the test can change, counting the fetches; or, once told
/// to hang, a host that takes every request and never answers.
#[derive(Clone, Default)]
struct Published {
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    hangs: Arc<std::sync::atomic::AtomicBool>,
}

impl Published {
    async fn serve(&self) -> String {
        let state = self.clone();
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let state = state.clone();
                async move {
                    state.fetches.fetch_add(1, Ordering::SeqCst);
                    if state.hangs.load(Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    axum::Json(state.keys.lock().unwrap().clone())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn publish(&self, keys: &[Value]) {
        *self.keys.lock().unwrap() = json!({ "keys": keys });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn hang(&self) {
        self.hangs.store(true, Ordering::SeqCst);
    }
}

async fn published_keys_are_cached_and_fetched_again_once_on_rotation(
    backend: keygate_e2e::Backend,
) {
    let s = Server::start(backend).await;
    let (old, new) = (ProofKey::es256(), ProofKey::ed25519_fully_specified());
    let published = Published::default();
    published.publish(&[old.public_jwk_with_kid("old")]);
    let uri = published.serve().await;
    let (owner_key, id, secret) = oauth_account(
        &s,
        json!({"tokenEndpointAuthMethod": "private_key_jwt", "jwksUri": uri}),
    )
    .await;
    assert!(secret.is_empty());
    assert_eq!(published.fetches(), 1, "fetched once at registration");
    let (_, c) = s
        .api(
            "GET",
            &format!("/api/oauth2/clients/{id}"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(c["jwksUri"], uri.as_str());
    let iss = issuer(&s);
    // Each from an address of its own: the refused ones here count for the lockout too.
    let token = |key: &ProofKey, kid: &str| {
        let assertion = key.assertion(&id, &iss, s.clock.now_for_tests(), Some(kid));
        let s = &s;
        async move {
            let http = client_from(fresh_loopback());
            with_assertion(s, &http, TOKEN, &assertion, &CC).await
        }
    };

    assert_eq!(token(&old, "old").await.0, 200);
    assert_eq!(token(&old, "old").await.0, 200);
    assert_eq!(published.fetches(), 2, "cached");

    // The client rotates: a key the cached set lacks is fetched for — once per 30 s, however
    // many unknown kids arrive.
    published.publish(&[new.public_jwk_with_kid("new")]);
    s.clock.advance(31);
    assert_eq!(token(&new, "new").await.0, 200, "fetched again");
    assert_eq!(published.fetches(), 3);
    for n in 0..3 {
        let made_up = ProofKey::es256();
        invalid_client(
            token(&made_up, &format!("made-up-{n}")).await,
            "unknown kid",
        );
    }
    assert_eq!(published.fetches(), 3, "inside the cooldown, no fetch");
    // The old key is gone from the set the client publishes.
    s.clock.advance(31);
    invalid_client(token(&old, "old").await, "a retired key");
    assert_eq!(published.fetches(), 4);
    // After five minutes the set is fetched again anyway.
    s.clock.advance(300);
    assert_eq!(token(&new, "new").await.0, 200);
    assert_eq!(published.fetches(), 5);
}

async fn a_jwks_uri_on_a_private_address_is_never_fetched(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (owner_key, _, _) = oauth_account(&s, json!({})).await;
    // Refused at registration: an address rather than a name, plain http, credentials.
    for uri in [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/jwks.json",
        "https://[fd00:ec2::254]/jwks.json",
        "http://client.example/jwks.json",
        "https://user:pass@client.example/jwks.json",
    ] {
        let (status, v) = s
            .api(
                "POST",
                "/api/oauth2/clients",
                Some(&owner_key),
                Some(json!({"name": "Bad", "scopes": ["Basic"], "jwksUri": uri})),
            )
            .await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (400, Some("jwks_uri_invalid")),
            "{uri}: {v}"
        );
    }
    // A record that names one anyway (written before the rule, or straight into the table) is
    // refused at the fetch: the guard checks every address before a byte is sent.
    let key = ProofKey::es256();
    let (_, id) = key_account(&s, &key, json!({})).await;
    let table = &*s.services().table;
    let (mut client, rev) = keygate_core::clients::get(table, &id)
        .await
        .unwrap()
        .unwrap();
    let keys = keygate_core::clients::ClientKeys::new(keygate_core::clients::KeySource::JwksUri(
        "https://169.254.169.254/latest/meta-data/".into(),
    ));
    client.set_keys(keys, s.clock.now_for_tests());
    keygate_core::clients::save(table, &client, rev, vec![])
        .await
        .unwrap();
    let assertion = key.assertion(&id, &issuer(&s), s.clock.now_for_tests(), None);
    // The caller is told nothing of the client's jwksUri; the log is.
    invalid_client(
        with_assertion(&s, &s.http, TOKEN, &assertion, &CC).await,
        "metadata address",
    );
    let again = key.assertion(&id, &issuer(&s), s.clock.now_for_tests(), None);
    assert_eq!(reason_of(&s, &again).await, "client_jwks_unavailable");
}

/// A server whose published-key fetcher resolves `names` as pinned (the SSRF guard checking
/// each address as it checks what DNS answers), everything else as the local server does.
async fn with_pinned_names(backend: keygate_e2e::Backend, names: &[(&str, &str)]) -> Server {
    let names: Vec<_> = names
        .iter()
        .map(|(n, ip)| ((*n).to_owned(), ip.parse().unwrap()))
        .collect();
    Server::start_with(backend, move |services, _| {
        let resolver = PinnedResolver {
            local_mode: true,
            names,
        };
        let fetcher = Guarded::with_resolver(true, Arc::new(resolver));
        services.jwks = Some(Arc::new(RemoteJwks::new(fetcher)));
    })
    .await
}

async fn a_jwks_uri_whose_name_resolves_to_a_private_address_is_refused(
    backend: keygate_e2e::Backend,
) {
    let private = "https://jwks.internal.test/jwks.json";
    let s = with_pinned_names(
        backend,
        &[
            ("jwks.internal.test", "10.0.0.7"),
            ("jwks.metadata.test", "169.254.169.254"),
        ],
    )
    .await;
    let (owner_key, _, _) = oauth_account(&s, json!({})).await;
    // A DNS name passes the URI's rules; the address it resolves to is refused at the fetch
    // registration makes, before a byte is sent.
    for uri in [private, "https://jwks.metadata.test/.well-known/jwks.json"] {
        let (status, v) = s
            .api(
                "POST",
                "/api/oauth2/clients",
                Some(&owner_key),
                Some(json!({"name": "Inside", "scopes": ["Basic"], "jwksUri": uri})),
            )
            .await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (400, Some("jwks_uri_unusable")),
            "{uri}: {v}"
        );
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("not one keygate calls"),
            "{v}"
        );
    }
    // A record naming it anyway (the name resolved elsewhere when it was registered: DNS
    // rebinding) is refused at the assertion: the caller is told nothing, the log why.
    let key = ProofKey::es256();
    let (_, id) = key_account(&s, &key, json!({})).await;
    let table = &*s.services().table;
    let (mut client, rev) = keygate_core::clients::get(table, &id)
        .await
        .unwrap()
        .unwrap();
    let keys = keygate_core::clients::ClientKeys::new(keygate_core::clients::KeySource::JwksUri(
        private.into(),
    ));
    client.set_keys(keys, s.clock.now_for_tests());
    keygate_core::clients::save(table, &client, rev, vec![])
        .await
        .unwrap();
    let assertion = key.assertion(&id, &issuer(&s), s.clock.now_for_tests(), None);
    invalid_client(
        with_assertion(&s, &s.http, TOKEN, &assertion, &CC).await,
        "a name on a private address",
    );
    let again = key.assertion(&id, &issuer(&s), s.clock.now_for_tests(), None);
    assert_eq!(reason_of(&s, &again).await, "client_jwks_unavailable");
}

async fn a_jwks_uri_is_fetched_at_registration_and_refused_unless_usable(
    backend: keygate_e2e::Backend,
) {
    let s = Server::start(backend).await;
    let (owner_key, _, _) = oauth_account(&s, json!({})).await;
    let create = |uri: String| {
        let body = json!({"name": "Published", "scopes": ["Basic"], "jwksUri": uri});
        let (s, owner_key) = (&s, &owner_key);
        async move {
            s.api("POST", "/api/oauth2/clients", Some(owner_key), Some(body))
                .await
        }
    };
    let unusable = |(status, v): (u16, Value), what: &str, why: &str| {
        assert_eq!(
            (status, v["reason"].as_str()),
            (400, Some("jwks_uri_unusable")),
            "{what}: {v}"
        );
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{what}: {v}");
    };
    // Nothing usable in the set: empty, or only keys keygate does not verify with.
    let published = Published::default();
    let uri = published.serve().await;
    published.publish(&[]);
    unusable(create(uri.clone()).await, "an empty set", "no key");
    published.publish(&[
        json!({"kty": "oct", "k": "c2VjcmV0"}),
        json!({"kty": "EC", "crv": "P-384", "x": "AAAA", "y": "AAAA"}),
    ]);
    unusable(create(uri.clone()).await, "no usable key", "no key");
    // Not a key set, not found, nobody listening, never answering.
    let not_found = uri.replace("/jwks.json", "/elsewhere.json");
    unusable(create(not_found).await, "a 404", "200");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}/jwks.json")
    };
    unusable(
        create(closed).await,
        "nobody listening",
        "could not be reached",
    );
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hangs = format!("http://{}/jwks.json", silent.local_addr().unwrap());
    unusable(create(hangs).await, "never answering", "in time");
    drop(silent);
    // Usable: made; and a PUT to an unusable one changes nothing.
    let key = ProofKey::es256();
    published.publish(&[key.public_jwk()]);
    let (status, c) = create(uri.clone()).await;
    assert_eq!(status, 201, "{c}");
    let id = c["clientId"].as_str().unwrap().to_owned();
    published.publish(&[]);
    let (status, v) = s
        .api(
            "PUT",
            &format!("/api/oauth2/clients/{id}"),
            Some(&owner_key),
            Some(json!({"jwksUri": uri})),
        )
        .await;
    unusable((status, v), "a PUT to an empty set", "no key");
    let (_, after) = s
        .api(
            "GET",
            &format!("/api/oauth2/clients/{id}"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(after["jwksUri"], c["jwksUri"], "{after}");
    published.publish(&[key.public_jwk()]);
    let req = Auth::Key(&key).apply(&s, &id, s.http.post(s.url(TOKEN)), &CC);
    assert_eq!(s.call(req).await.0, 200);
}

async fn a_put_of_the_same_jwks_uri_fetches_the_keys_again(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (a, b) = (ProofKey::es256(), ProofKey::es256());
    let published = Published::default();
    published.publish(&[a.public_jwk_with_kid("a"), b.public_jwk_with_kid("b")]);
    let uri = published.serve().await;
    let (owner_key, id, _) = oauth_account(
        &s,
        json!({"tokenEndpointAuthMethod": "private_key_jwt", "jwksUri": uri}),
    )
    .await;
    let iss = issuer(&s);
    let token = |key: &ProofKey, kid: &str| {
        let assertion = key.assertion(&id, &iss, s.clock.now_for_tests(), Some(kid));
        let s = &s;
        async move {
            let http = client_from(fresh_loopback());
            with_assertion(s, &http, TOKEN, &assertion, &CC).await
        }
    };
    assert_eq!(token(&a, "a").await.0, 200, "key a, cached now");
    // The client removes key a from its set and registers its keys again, at the same URI: the
    // new registration is fetched afresh — at once, no clock moved — and key a stops.
    published.publish(&[b.public_jwk_with_kid("b")]);
    let fetched = published.fetches();
    let (status, c) = s
        .api(
            "PUT",
            &format!("/api/oauth2/clients/{id}"),
            Some(&owner_key),
            Some(json!({"jwksUri": uri})),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(published.fetches(), fetched + 1, "fetched at the PUT");
    invalid_client(token(&a, "a").await, "the removed key, after the PUT");
    assert_eq!(published.fetches(), fetched + 2, "fetched for the new keys");
    assert_eq!(token(&b, "b").await.0, 200);
    assert_eq!(published.fetches(), fetched + 2, "and cached");
}

async fn a_hanging_jwks_uri_costs_one_fetch_per_backoff_counted_for_the_source(
    backend: keygate_e2e::Backend,
) {
    let s = Server::start(backend).await;
    // At the start of a lockout window, so the counts read below are all in one.
    let now = s.clock.now_for_tests();
    let window = lockout::POLICY.window_seconds;
    s.clock.set(now - now.rem_euclid(window) + window);
    let key = ProofKey::es256();
    let published = Published::default();
    published.publish(&[key.public_jwk()]);
    let uri = published.serve().await;
    let (_, id, _) = oauth_account(
        &s,
        json!({"tokenEndpointAuthMethod": "private_key_jwt", "jwksUri": uri}),
    )
    .await;
    // Its host hangs from now on: each fetch waits out the timeout.
    published.hang();
    let fetched = published.fetches();
    let source = fresh_loopback();
    let from = client_from(source);
    let iss = issuer(&s);
    let attempt = |http: reqwest::Client| {
        let assertion = key.assertion(&id, &iss, s.clock.now_for_tests(), None);
        let s = &s;
        async move { with_assertion(s, &http, TOKEN, &assertion, &CC).await }
    };
    let counted = || async {
        let now = s.clock.now_for_tests();
        lockout::failures(
            &*s.services().table,
            Attempt::new(&id, Source::new(source)),
            now,
        )
        .await
        .unwrap()
    };
    // The first request makes keygate fetch: refused (generic), counted for its source.
    invalid_client(attempt(from.clone()).await, "a hanging jwksUri");
    assert_eq!(published.fetches(), fetched + 1);
    assert_eq!(counted().await, (1, Some(0)), "the source, not the pair");
    // Within the backoff the failure is remembered: no fetch, nothing waited for, nothing
    // counted, whoever asks.
    for _ in 0..3 {
        invalid_client(attempt(from.clone()).await, "remembered");
        invalid_client(
            attempt(client_from(fresh_loopback())).await,
            "remembered, elsewhere",
        );
    }
    assert_eq!(published.fetches(), fetched + 1);
    assert_eq!(counted().await, (1, Some(0)));
    // After it, one more fetch, counted again.
    s.clock.advance(keygate_core::ports::jwks::FAILURE_BACKOFF);
    invalid_client(attempt(from.clone()).await, "after the backoff");
    assert_eq!(published.fetches(), fetched + 2);
    assert_eq!(counted().await, (2, Some(0)));
}

async fn a_key_client_naming_itself_only_is_refused(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let key = ProofKey::es256();
    let (_, id) = key_account(&s, &key, json!({})).await;
    // The public clients' way (client_id alone) on every route that takes public clients.
    let unknown = "x".repeat(43);
    for (path, form) in [
        (
            TOKEN,
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", unknown.as_str()),
            ],
        ),
        (
            TOKEN,
            vec![
                ("grant_type", "authorization_code"),
                ("code", unknown.as_str()),
                ("redirect_uri", "https://portal.example/cb"),
                ("code_verifier", unknown.as_str()),
            ],
        ),
        ("/api/oauth2/revoke", vec![("token", unknown.as_str())]),
        (
            "/api/oauth2/par",
            vec![
                ("response_type", "code"),
                ("redirect_uri", "https://portal.example/cb"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ],
        ),
    ] {
        let mut form = form;
        form.push(("client_id", id.as_str()));
        let what = format!("{path} {form:?}");
        invalid_client(s.call(s.http.post(s.url(path)).form(&form)).await, &what);
    }
    // Not counted (nothing was presented): the client's own assertion still works from here.
    let req = Auth::Key(&key).apply(&s, &id, s.http.post(s.url(TOKEN)), &CC);
    assert_eq!(s.call(req).await.0, 200);
}

async fn changing_the_keys_ends_the_tokens_of_the_old_ones(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (a, b) = (ProofKey::es256(), ProofKey::ps256());
    let (owner_key, id) = key_account(&s, &a, json!({})).await;
    let req = Auth::Key(&a).apply(&s, &id, s.http.post(s.url(TOKEN)), &CC);
    let (status, tok) = s.call(req).await;
    assert_eq!(status, 200, "{tok}");
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let whoami = || s.call(s.http.get(s.url("/api/whoami")).bearer_auth(&access));
    assert_eq!(whoami().await.0, 200);

    let (status, c) = s
        .api(
            "PUT",
            &format!("/api/oauth2/clients/{id}"),
            Some(&owner_key),
            Some(json!({"jwks": {"keys": [b.public_jwk()]}})),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(whoami().await.0, 401, "the old keys' token stops");
    let req = Auth::Key(&a).apply(&s, &id, s.http.post(s.url(TOKEN)), &CC);
    invalid_client(s.call(req).await, "the old key");
    let req = Auth::Key(&b).apply(&s, &id, s.http.post(s.url(TOKEN)), &CC);
    assert_eq!(s.call(req).await.0, 200);
}

async fn registration_takes_public_keys_only(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (owner_key, _, _) = oauth_account(&s, json!({})).await;
    let key = ProofKey::es256();
    let mut private = key.public_jwk();
    private["d"] = json!("c2VjcmV0");
    let create = |extra: Value| {
        let mut body = json!({"name": "Keys", "scopes": ["Basic"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (s, owner_key) = (&s, &owner_key);
        async move {
            s.api("POST", "/api/oauth2/clients", Some(owner_key), Some(body))
                .await
        }
    };
    for (extra, reason) in [
        (json!({"jwks": {"keys": [private]}}), "jwks_invalid"),
        (
            json!({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "jwks_invalid",
        ),
        (
            json!({"jwks": {"keys": vec![key.public_jwk(); 6]}}),
            "jwks_invalid",
        ),
        (json!({"jwks": {"keys": []}}), "jwks_invalid"),
        (
            json!({"jwks": {"keys": [key.public_jwk()]}, "jwksUri": "https://client.example/jwks"}),
            "jwks_conflict",
        ),
        (
            json!({"tokenEndpointAuthMethod": "private_key_jwt"}),
            "jwks_missing",
        ),
        (
            json!({"tokenEndpointAuthMethod": "client_secret_basic", "jwks": {"keys": [key.public_jwk()]}}),
            "auth_method_conflict",
        ),
        (
            json!({"public": true, "redirectUris": ["https://portal.example/cb"], "jwks": {"keys": [key.public_jwk()]}}),
            "profile_conflict",
        ),
    ] {
        let (status, v) = create(extra.clone()).await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (400, Some(reason)),
            "{extra}: {v}"
        );
    }
    let (status, v) = create(json!({"jwks": {"keys": [key.public_jwk_with_kid("k1")]}})).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["tokenEndpointAuthMethod"], "private_key_jwt");
    assert!(v.get("clientSecret").is_none(), "{v}");
    assert!(v["jwks"]["keys"][0].get("d").is_none());
}

/// The console's OAuth client form (`/admin/api-access/oauth-clients`): a JWK Set pasted as JSON,
/// or the URL the client publishes it at; a malformed one is refused with a message, nothing made.
async fn the_console_registers_a_jwks_or_a_jwks_url(backend: keygate_e2e::Backend) {
    let s = Server::start(backend).await;
    let (owner_key, _, _) = oauth_account(&s, json!({})).await;
    let cookie = keygate_e2e::sign_in(&s, &owner_key).await;
    let ring = s.services().keys.ring().await;
    let csrf =
        keygate_core::identity::csrf::token(ring.peppers(), cookie.split_once('=').unwrap().1);
    let key = ProofKey::ed25519_fully_specified();
    let jwks = json!({"keys": [key.public_jwk()]}).to_string();
    let published = Published::default();
    published.publish(&[ProofKey::es256().public_jwk()]);
    let uri = published.serve().await;
    let post = |fields: Vec<(&'static str, String)>| {
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("lang", "en".to_owned()),
            ("scopes", "Basic".to_owned()),
        ];
        form.extend(fields);
        let req = s
            .http
            .post(s.url("/admin/api-access/oauth-clients"))
            .header("cookie", &cookie)
            .form(&form);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let clients = || async {
        let (status, v) = s
            .api("GET", "/api/oauth2/clients", Some(&owner_key), None)
            .await;
        assert_eq!(status, 200, "{v}");
        v["results"].as_array().unwrap().clone()
    };
    let before = clients().await.len();
    assert_eq!(
        post(vec![("name", "Pasted".into()), ("jwks", jwks)]).await,
        303
    );
    assert_eq!(
        post(vec![("name", "Published".into()), ("jwksUri", uri.clone())]).await,
        303
    );
    assert_eq!(
        post(vec![
            ("name", "Unreachable".into()),
            ("jwksUri", "https://client.example/jwks.json".into())
        ])
        .await,
        303,
        "refused (fetched at registration: nothing there) with a message on the page"
    );
    assert_eq!(
        post(vec![
            ("name", "Broken".into()),
            ("jwks", "{not json".into())
        ])
        .await,
        303,
        "refused with a message on the page"
    );
    let all = clients().await;
    assert_eq!(all.len(), before + 2, "{all:?}");
    let named = |n: &str| all.iter().find(|c| c["name"] == n).cloned().unwrap();
    let pasted = named("Pasted");
    assert_eq!(pasted["tokenEndpointAuthMethod"], "private_key_jwt");
    assert_eq!(pasted["jwks"]["keys"][0]["x"], key.public_jwk()["x"]);
    let registered = named("Published");
    assert_eq!(registered["jwksUri"], uri.as_str());
    // The pasted key authenticates the client it made.
    let id = pasted["clientId"].as_str().unwrap();
    let req = Auth::Key(&key).apply(&s, id, s.http.post(s.url(TOKEN)), &CC);
    let (status, v) = s.call(req).await;
    assert_eq!(status, 200, "{v}");
}
