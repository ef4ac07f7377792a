//! docs/SCALE.md, "No request-rate key", counted: each busy flow run from one account against a
//! server whose table is metered under the instance's read cache
//! (`keygate_core::ports::store::meter`), so what is counted is what DynamoDB would serve. The
//! figure that decides throttling is the **hottest partition key's** operations per request
//! (index partitions counted as keys): DynamoDB serves 3,000 reads and 1,000 writes per second
//! per key, so a flow with 1 hottest-key read per request throttles one integrator at 3,000
//! requests/s, and one with 0.05 at 60,000. These are counts, not timings: steady state is a
//! credential this instance has seen, as in a warm Lambda. The bench driver reports the same
//! figures (bench/RESULTS.md).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use keygate_core::ports::store::meter::{KeyMeter, Tally};
use keygate_core::ports::store::{CachedTable, MemoryTable};
use keygate_e2e::{client_credentials, oauth_account, signature, Backend, Server};
use serde_json::json;

/// Requests per flow after the warm-up.
const N: usize = 100;

/// A server on a metered in-memory table behind a read cache that outlives the test.
async fn metered() -> (Server, Arc<KeyMeter>) {
    let meter = Arc::new(KeyMeter::new(Arc::new(MemoryTable::new())));
    let m = meter.clone();
    let s = Server::start_with(Backend::Memory, move |services, _| {
        services.table = Arc::new(CachedTable::new(m, Duration::from_secs(3600)));
    })
    .await;
    (s, meter)
}

/// Per request: all reads, all writes, and the hottest key's reads and writes (with its name).
#[derive(Debug)]
struct Figures {
    reads: f64,
    writes: f64,
    hottest_reads: f64,
    hottest_writes: f64,
    tally: Tally,
}

/// Runs `one` once unrecorded (the credential's first use on this instance), then [`N`] times.
async fn measure<F, Fut>(meter: &KeyMeter, mut one: F) -> Figures
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    one(0).await;
    meter.take();
    for i in 1..=N {
        one(i).await;
    }
    let tally = meter.take();
    let per = |x: u64| x as f64 / N as f64;
    Figures {
        reads: per(tally.total.reads),
        writes: per(tally.total.writes),
        hottest_reads: per(tally.hottest_read().map_or(0, |(_, n)| n)),
        hottest_writes: per(tally.hottest_write().map_or(0, |(_, n)| n)),
        tally,
    }
}

fn check(flow: &str, f: &Figures, max_hottest: f64) {
    eprintln!(
        "{flow}: {:.2} reads, {:.2} writes per request; hottest key {:.2} reads ({:?}), {:.2} writes ({:?})",
        f.reads,
        f.writes,
        f.hottest_reads,
        f.tally.hottest_read(),
        f.hottest_writes,
        f.tally.hottest_write()
    );
    assert!(
        f.hottest_reads <= max_hottest && f.hottest_writes <= max_hottest,
        "{flow}: the hottest key takes more than {max_hottest} operations per request: {f:?}"
    );
}

#[tokio::test]
async fn verified_requests_touch_no_key_at_request_rate() {
    let (s, meter) = metered().await;
    // An API key.
    let (_, _, api_key) = s.create_account("Hot", "hot@scale.test").await;
    let f = measure(&meter, |_| async {
        assert_eq!(s.whoami(&api_key).await.0, 200);
    })
    .await;
    check("API key", &f, 0.05);

    // A Bearer token, and signed requests with it.
    let (_, id, secret) = oauth_account(&s, json!({"domain": "app.example.com"})).await;
    let (status, tok) = client_credentials(&s, &id, &secret).await;
    assert_eq!(status, 200, "{tok}");
    let bearer = tok["access_token"].as_str().unwrap().to_owned();
    let f = measure(&meter, |_| async {
        let req = s
            .http
            .get(s.url("/api/whoami"))
            .header("authorization", format!("Bearer {bearer}"));
        assert_eq!(s.call(req).await.0, 200);
    })
    .await;
    check("Bearer", &f, 0.05);

    let date = s.clock.now_for_tests().to_string();
    let srv = &s;
    let f = measure(&meter, |i| {
        let nonce = format!("scale-{i}");
        let req = srv
            .http
            .get(srv.url("/api/whoami"))
            .header("authorization", format!("Bearer {bearer}"))
            .header("x-custom-api-key", &id)
            .header("x-custom-date", &date)
            .header("x-custom-nonce", &nonce)
            .header("x-custom-signature", signature(&secret, &id, &date, &nonce))
            .header("referer", "https://app.example.com/");
        async move {
            let (status, body) = srv.call(req).await;
            assert_eq!(status, 200, "{body}");
        }
    })
    .await;
    // One nonce written per request, each on its own key.
    check("signed request", &f, 0.05);

    // DPoP-bound requests: one proof each, its `jti` claimed on a key of its own.
    let key = keygate_core::testing::dpop::ProofKey::es256();
    let now = s.clock.now_for_tests();
    let token_url = s.url("/api/oauth2/token");
    let req = s
        .http
        .post(&token_url)
        .basic_auth(&id, Some(&secret))
        .header("dpop", key.proof("POST", &token_url, now, None))
        .form(&[("grant_type", "client_credentials"), ("scope", "Basic")]);
    let (status, tok) = s.call(req).await;
    assert_eq!(
        (status, tok["token_type"].as_str()),
        (200, Some("DPoP")),
        "{tok}"
    );
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let whoami = s.url("/api/whoami");
    let f = measure(&meter, |_| {
        let req = srv
            .http
            .get(&whoami)
            .header("authorization", format!("DPoP {access}"))
            .header("dpop", key.proof("GET", &whoami, now, Some(&access)));
        async move {
            let (status, body) = srv.call(req).await;
            assert_eq!(status, 200, "{body}");
        }
    })
    .await;
    check("DPoP-bound request", &f, 0.05);

    // Client-credentials tokens of one client.
    let f = measure(&meter, |_| async {
        let (status, tok) = client_credentials(&s, &id, &secret).await;
        assert_eq!(status, 200, "{tok}");
    })
    .await;
    check("client-credentials token", &f, 0.05);
}

#[tokio::test]
async fn minting_and_redeeming_authentication_tokens_spreads_its_writes() {
    let (s, meter) = metered().await;
    let (_, _, api_key) = s.create_account("Hot", "hot@scale.test").await;
    let f = measure(&meter, |_| async {
        let (status, minted) = s
            .api(
                "POST",
                "/api/authenticationTokens/signer/singleUse",
                Some(&api_key),
                Some(json!({"packageId": "pkg-scale", "signerId": "signer@scale.test"})),
            )
            .await;
        assert_eq!(status, 200, "{minted}");
        let token = minted["value"].as_str().unwrap();
        let req = s
            .http
            .get(s.url("/access"))
            .query(&[("sessionToken", token)]);
        let status = s.call(req).await.0;
        assert!((300..400).contains(&status), "{status}");
    })
    .await;
    check("auth-token mint + redeem", &f, 0.5);
}
