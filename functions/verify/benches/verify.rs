//! Per-request cost of verifying each credential kind in process (in-memory store): median and
//! p99 of N runs, and store calls per request. `cargo bench -p keygate-verify`.
//!
//! Targets: HMAC check < 5 µs, JWT check < 100 µs, ≤ 1 store call per request; a DPoP-bound
//! token adds one proof check (one more signature verify, ≈ 50 µs) and the write of its `jti`.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderValue};
use keygate_core::accounts;
use keygate_core::clients::{Client, OAuthSettings};
use keygate_core::identity::Authenticator;
use keygate_core::kernel::clock::ManualClock;
use keygate_core::kernel::config::Config;
use keygate_core::oauth::dpop::{self, Expected};
use keygate_core::oauth::tokens::{self, Claims, Confirmation, TokenKind};
use keygate_core::ports::store::MemoryTable;
use keygate_core::testing::dpop::ProofKey;
use keygate_core::Services;

const N: usize = 20_000;

fn stats(mut v: Vec<u128>) -> (f64, f64) {
    v.sort_unstable();
    let median = v[v.len() / 2] as f64 / 1000.0;
    let p99 = v[v.len() * 99 / 100] as f64 / 1000.0;
    (median, p99)
}

fn report(name: &str, times: Vec<u128>, calls: f64) {
    let (m, p) = stats(times);
    println!("| {name:<34} | {m:>9.2} | {p:>9.2} | {calls:>5.2} |");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let mut s = Services::in_memory(Config::local("https://api.example.com"), clock.clone()).await;
    let table = Arc::new(MemoryTable::new());
    // As deployed: the read cache (2 s) in front of the table; store calls are counted behind it.
    s.table = Arc::new(keygate_core::ports::store::CachedTable::new(
        table.clone(),
        std::time::Duration::from_secs(2),
    ));
    let ring = s.keys.ring().await;
    let now = s.now();

    let created = accounts::create_account(
        &*s.table,
        ring.peppers(),
        &s.config,
        "Bench",
        "b@bench.test",
        now,
    )
    .await
    .unwrap();
    let api_key = created.api_key.expose().to_owned();
    let (client, secret) = Client::new_oauth(
        ring.peppers(),
        created.account.id.clone(),
        "bench".into(),
        OAuthSettings {
            redirect_uris: vec![],
            scopes: vec!["Basic".into()],
            domain: Some("app.example.com".into()),
            public: false,
            implicit: false,
            ..Default::default()
        },
        now,
    );
    let secret = secret.unwrap();
    s.table
        .transact(vec![client.write(None).unwrap()])
        .await
        .unwrap();
    let claims = Claims {
        iss: "https://api.example.com".into(),
        sub: client.id.clone(),
        aud: "https://api.example.com".into(),
        exp: now + 300,
        iat: now,
        nbf: now,
        jti: tokens::new_jti(),
        client_id: client.id.clone(),
        scope: "Basic".into(),
        acc: created.account.id.clone(),
        kind: TokenKind::Oauth,
        sub_type: keygate_core::identity::SubjectType::Client,
        sid: Some(client.secrets[0].id.clone()),
        fam: None,
        cnf: None,
        crt: None,
    };
    let jwt = ring.sign_jwt(&claims, now).unwrap();
    let key = ProofKey::es256();
    let bound = Claims {
        jti: tokens::new_jti(),
        cnf: Some(Confirmation { jkt: key.jkt() }),
        ..claims.clone()
    };
    let bound = ring.sign_jwt(&bound, now).unwrap();
    let auth = Authenticator::new(&s);

    println!("keygate verify benchmark: {N} runs each, in process, in-memory store");
    println!();
    println!("| operation                          | median µs |   p99 µs | store calls/req |");
    println!("|---|---:|---:|---:|");

    // Pure HMAC-SHA256 signature check (the signed-request signature alone).
    let msg = format!("{}\n{now}\nnonce", client.id);
    let expected =
        keygate_core::kernel::crypto::hmac_sha256_b64(secret.expose().as_bytes(), msg.as_bytes());
    let mut t = Vec::with_capacity(N);
    for _ in 0..N {
        let start = Instant::now();
        let got = keygate_core::kernel::crypto::hmac_sha256_b64(
            secret.expose().as_bytes(),
            msg.as_bytes(),
        );
        let ok = keygate_core::kernel::crypto::ct_eq(got.as_bytes(), expected.as_bytes());
        t.push(start.elapsed().as_nanos());
        assert!(ok);
    }
    report("HMAC check (signature only)", t, 0.0);

    // Pure JWT check: signature, profile, times.
    let mut t = Vec::with_capacity(N);
    for _ in 0..N {
        let start = Instant::now();
        let c = tokens::decode(&ring, &jwt, "https://api.example.com", now).unwrap();
        t.push(start.elapsed().as_nanos());
        assert_eq!(c.client_id, client.id);
    }
    report("JWT check (no store)", t, 0.0);

    // Full requests through the authenticator.
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Basic {api_key}")).unwrap(),
    );
    let before = table.calls();
    let mut t = Vec::with_capacity(N);
    for _ in 0..N {
        let start = Instant::now();
        auth.authenticate(&h).await.unwrap();
        t.push(start.elapsed().as_nanos());
    }
    report(
        "API key (Basic)",
        t,
        (table.calls() - before) as f64 / N as f64,
    );

    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {jwt}")).unwrap(),
    );
    let before = table.calls();
    let mut t = Vec::with_capacity(N);
    for _ in 0..N {
        let start = Instant::now();
        auth.authenticate(&h).await.unwrap();
        t.push(start.elapsed().as_nanos());
    }
    report(
        "Bearer JWT (+ revocation read)",
        t,
        (table.calls() - before) as f64 / N as f64,
    );

    // DPoP (RFC 9449): proofs for `GET /api/whoami` built beforehand, as a client would; each
    // used once.
    let url = "https://api.example.com/api/whoami";
    let proofs: Vec<String> = (0..N)
        .map(|_| key.proof("GET", url, now, Some(&bound)))
        .collect();
    let expected = Expected {
        method: "GET",
        url,
        access_token: Some(&bound),
    };
    let mut t = Vec::with_capacity(N);
    for p in &proofs {
        let start = Instant::now();
        let checked = dpop::check(p, &expected, now);
        t.push(start.elapsed().as_nanos());
        assert!(checked.is_ok());
    }
    report("DPoP proof check (no store)", t, 0.0);

    let proofs: Vec<String> = (0..N)
        .map(|_| key.proof("GET", url, now, Some(&bound)))
        .collect();
    let dpop_auth = Authenticator::new(&s).at("GET", "/api/whoami");
    let before = table.calls();
    let mut t = Vec::with_capacity(N);
    for p in &proofs {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("DPoP {bound}")).unwrap(),
        );
        h.insert("dpop", HeaderValue::from_str(p).unwrap());
        let start = Instant::now();
        dpop_auth.authenticate(&h).await.unwrap();
        t.push(start.elapsed().as_nanos());
    }
    report(
        "DPoP JWT + proof (+ jti write)",
        t,
        (table.calls() - before) as f64 / N as f64,
    );

    let before = table.calls();
    let mut t = Vec::with_capacity(N);
    for i in 0..N {
        let nonce = format!("n{i}");
        let date = now.to_string();
        let sig = STANDARD.encode(hmac_raw(
            secret.expose().as_bytes(),
            format!("{}\n{date}\n{nonce}", client.id).as_bytes(),
        ));
        let mut h = HeaderMap::new();
        h.insert(
            "x-custom-api-key",
            HeaderValue::from_str(&client.id).unwrap(),
        );
        h.insert("x-custom-date", HeaderValue::from_str(&date).unwrap());
        h.insert("x-custom-nonce", HeaderValue::from_str(&nonce).unwrap());
        h.insert("x-custom-signature", HeaderValue::from_str(&sig).unwrap());
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {jwt}")).unwrap(),
        );
        h.insert(
            "referer",
            HeaderValue::from_static("https://app.example.com/x"),
        );
        let start = Instant::now();
        auth.authenticate(&h).await.unwrap();
        t.push(start.elapsed().as_nanos());
    }
    report(
        "Signed request (full)",
        t,
        (table.calls() - before) as f64 / N as f64,
    );
}

fn hmac_raw(key: &[u8], msg: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}
