//! Shared set-up of the token benches: the in-process handler over the in-memory store, with an
//! `OAUTH2` account and one confidential OAuth client, as a Lambda instance would see them, a
//! DPoP key of that client's (RFC 9449) for the bound issue, and a second client that
//! authenticates with a key of its own (`private_key_jwt`, RFC 7523, its key inline).

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_core::accounts::{self, AuthMethod, AuthSettings};
use keygate_core::clients::{Client, ClientKeys, KeySource, OAuthSettings};
use keygate_core::kernel::clock::ManualClock;
use keygate_core::kernel::config::Config;
use keygate_core::ports::keys::KeyRing;
use keygate_core::testing::dpop::ProofKey;
use keygate_core::Services;
use lambda_http::{Body, Request};

pub struct Bench {
    pub services: Services,
    pub ring: Arc<KeyRing>,
    /// `Basic base64(urlencode(id):urlencode(secret))`.
    pub authorization: String,
    /// The client's DPoP key (P-256).
    pub key: ProofKey,
    /// The client with keys, and its P-256 key (`kid` `bench`).
    pub key_client: String,
    pub client_key: ProofKey,
}

/// The token endpoint's public URL, as a proof's `htu` names it.
const TOKEN_URL: &str = "http://127.0.0.1:3000/api/oauth2/token";

pub async fn setup() -> Bench {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let s = Services::in_memory(Config::local("http://127.0.0.1:3000"), clock).await;
    let ring = s.keys.ring().await;
    let now = s.now();
    let created = accounts::create_account(
        &*s.table,
        ring.peppers(),
        &s.config,
        "Bench",
        "bench@bench.test",
        now,
    )
    .await
    .expect("account");
    let settings = AuthSettings {
        method: AuthMethod::OAuth2,
        ..created.account.settings.clone()
    };
    accounts::update_settings(&*s.table, &created.account.id, settings, vec![])
        .await
        .expect("switch to OAUTH2");
    let (client, secret) = Client::new_oauth(
        ring.peppers(),
        created.account.id.clone(),
        "bench".into(),
        OAuthSettings {
            redirect_uris: vec![],
            scopes: vec!["Basic".into(), "ISign".into()],
            domain: None,
            public: false,
            implicit: false,
            ..Default::default()
        },
        now,
    );
    let secret = secret.expect("a confidential client has a secret");
    s.table
        .transact(vec![client.write(None).expect("client item")])
        .await
        .expect("store the client");
    // A client with keys instead of a secret (private_key_jwt).
    let client_key = ProofKey::es256();
    let (key_client, none) = Client::new_oauth(
        ring.peppers(),
        created.account.id.clone(),
        "bench keys".into(),
        OAuthSettings {
            scopes: vec!["Basic".into(), "ISign".into()],
            keys: Some(ClientKeys::new(KeySource::Jwks(vec![
                client_key.public_jwk_with_kid("bench")
            ]))),
            ..Default::default()
        },
        now,
    );
    assert!(none.is_none(), "a client with keys has no secret");
    s.table
        .transact(vec![key_client.write(None).expect("client item")])
        .await
        .expect("store the client with keys");
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let authorization = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(&client.id), enc(secret.expose())))
    );
    Bench {
        services: s,
        ring,
        authorization,
        key: ProofKey::es256(),
        key_client: key_client.id,
        client_key,
    }
}

impl Bench {
    /// `POST /api/oauth2/token` with `grant_type=client_credentials`.
    pub fn token_request(&self) -> Request {
        http::Request::builder()
            .method("POST")
            .uri("/api/oauth2/token")
            .header(http::header::AUTHORIZATION, &self.authorization)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Body::Text(
                "grant_type=client_credentials&scope=ISign".into(),
            ))
            .expect("request")
    }

    /// The same request with a fresh DPoP proof (new `jti`): the answer is a DPoP-bound token.
    pub fn dpop_token_request(&self) -> Request {
        let proof = self.key.proof("POST", TOKEN_URL, self.services.now(), None);
        let mut req = self.token_request();
        req.headers_mut().insert(
            "dpop",
            http::HeaderValue::from_str(&proof).expect("a proof is a header value"),
        );
        req
    }

    /// `POST /api/oauth2/token` with `grant_type=client_credentials`, the client authenticated by
    /// a fresh client assertion (a new `jti` each, signed ES256 as a client signs it, outside the
    /// timing): the check of its claims, the signature, the `jti` claimed in the store.
    pub fn assertion_token_request(&self) -> Request {
        let assertion = self.client_key.assertion(
            &self.key_client,
            &self.services.config.issuer,
            self.services.now(),
            Some("bench"),
        );
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", "ISign")
            .append_pair(
                "client_assertion_type",
                keygate_core::identity::assertion::ASSERTION_TYPE,
            )
            .append_pair("client_assertion", &assertion)
            .finish();
        http::Request::builder()
            .method("POST")
            .uri("/api/oauth2/token")
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Body::Text(body))
            .expect("request")
    }

    /// One client-credentials issue through the handler; panics unless it is a `200`.
    pub async fn issue(&self) -> String {
        let resp = keygate_token::handle(&self.services, self.token_request())
            .await
            .expect("handler");
        assert_eq!(resp.status(), 200, "{:?}", resp.body());
        match resp.body() {
            Body::Text(t) => t.clone(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    /// An access token to verify.
    pub async fn access_token(&self) -> String {
        let body: serde_json::Value = serde_json::from_str(&self.issue().await).expect("JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// The full bearer check: signature, claims, and the one read of the client's record.
    pub async fn verify(&self, token: &str) {
        keygate_core::oauth::tokens::verify(
            &*self.services.table,
            &self.ring,
            token,
            &self.services.config.issuer,
            self.services.now(),
        )
        .await
        .expect("a valid token");
    }
}
