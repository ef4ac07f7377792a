//! Median and p99 per operation of the token function, which criterion's
//! means do not give: N timed runs each, in process over the in-memory store.
//! `cargo bench -p keygate-token --bench token_percentiles`.
//!
//! Targets: client-credentials issue < 200 µs (DPoP-bound and assertion-authenticated too), JWT
//! verify < 100 µs.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

const N: usize = 20_000;
const WARM_UP: usize = 1_000;

/// (median, p99) of the samples, in microseconds.
fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort_unstable();
    let at = |q: f64| {
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[i].as_secs_f64() * 1e6
    };
    (at(0.50), at(0.99))
}

fn report(name: &str, samples: Vec<Duration>, target_us: f64) {
    let (median, p99) = percentiles(samples);
    let verdict = if p99 < target_us {
        "within target"
    } else if median < target_us {
        "median within target, p99 over"
    } else {
        "OVER TARGET"
    };
    println!(
        "{name:<26} median {median:>8.1} µs   p99 {p99:>8.1} µs   target < {target_us:.0} µs: {verdict}"
    );
}

/// `n` issues through the handler, each request made by `request` before its clock starts.
async fn timed_issues(
    bench: &common::Bench,
    n: usize,
    request: fn(&common::Bench) -> lambda_http::Request,
) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let req = request(bench);
        let start = Instant::now();
        let resp = keygate_token::handle(&bench.services, req).await;
        times.push(start.elapsed());
        assert_eq!(resp.expect("handler").status(), 200);
    }
    times
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // `cargo test --benches` runs bench targets once as tests; keep that quick.
    let n = if std::env::args().any(|a| a == "--bench") {
        N
    } else {
        100
    };
    let bench = common::setup().await;

    for _ in 0..WARM_UP.min(n) {
        bench.issue().await;
    }
    let issue = timed_issues(&bench, n, common::Bench::token_request).await;
    // DPoP-bound: the proof (built before the clock starts, as a client would) checked, its `jti`
    // claimed, the token bound to the key.
    let bound = timed_issues(&bench, n, common::Bench::dpop_token_request).await;
    // private_key_jwt: the assertion (signed before the clock starts) checked, its `jti` claimed.
    let asserted = timed_issues(&bench, n, common::Bench::assertion_token_request).await;

    let token = bench.access_token().await;
    for _ in 0..WARM_UP.min(n) {
        bench.verify(&token).await;
    }
    let mut verify = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        bench.verify(std::hint::black_box(&token)).await;
        verify.push(start.elapsed());
    }

    // Where verify's time goes: the ES256 signature and claims alone, without the client read.
    let now = bench.services.now();
    let mut signature = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let claims = bench.ring.verify_jwt(std::hint::black_box(&token), now);
        signature.push(start.elapsed());
        assert!(claims.is_ok());
    }

    println!("token function, in process, in-memory store, {n} runs each:");
    report("client_credentials_issue", issue, 200.0);
    report("dpop_bound_issue", bound, 200.0);
    report("assertion_issue", asserted, 200.0);
    report("jwt_verify", verify, 100.0);
    report("  of which ES256 + claims", signature, 100.0);
}
