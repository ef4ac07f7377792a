//! Random headers thrown at the verifier: it never panics, never answers 5xx, and never accepts
//! a request that carries no valid credential.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use keygate_core::identity::Authenticator;
use keygate_core::kernel::clock::ManualClock;
use keygate_core::kernel::config::Config;
use keygate_core::Services;
use proptest::prelude::*;

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "authorization",
        "cookie",
        "x-custom-api-key",
        "x-custom-date",
        "x-custom-nonce",
        "x-custom-signature",
        "referer",
        "host",
        "x-other",
    ])
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,80}",
        "Basic [A-Za-z0-9_=+/-]{0,60}",
        "Bearer [A-Za-z0-9_-]{0,30}\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,40}",
        "kg_session=[A-Za-z0-9_-]{0,50}",
        "[0-9]{0,14}",
        "https?://[a-z.]{0,20}/[ -~]{0,10}",
    ]
}

fn headers() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    prop::collection::vec((name(), value()), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_headers_are_refused_cleanly(pairs in headers()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let services = services().await;
            let mut h = HeaderMap::new();
            for (n, v) in &pairs {
                if let Ok(v) = HeaderValue::from_str(v) {
                    h.append(HeaderName::from_static(n), v);
                }
            }
            let result = Authenticator::new(&services).authenticate(&h).await;
            match result {
                Ok(p) => panic!("accepted without a valid credential: {p:?} for {pairs:?}"),
                Err(e) => assert!(matches!(e.status().as_u16(), 400 | 401 | 429), "{} for {pairs:?}", e.status()),
            }
        });
    }
}

async fn services() -> Services {
    let s = Services::in_memory(
        Config::local("http://127.0.0.1:3000"),
        Arc::new(ManualClock::new(1_800_000_000)),
    )
    .await;
    let ring = s.keys.ring().await;
    // A real account exists, so lookups run against real data.
    keygate_core::accounts::create_account(
        &*s.table,
        ring.peppers(),
        &s.config,
        "Acme",
        "o@acme.test",
        s.now(),
    )
    .await
    .unwrap();
    s
}
