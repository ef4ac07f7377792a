//! Criterion bench of the token function: the in-process handler over the
//! in-memory store. `cargo bench -p keygate-token --bench token`.
//!
//! - `client_credentials_issue`: `POST /api/oauth2/token` through `keygate_token::handle`
//!   (client authentication, account method, lockout check, ES256 signing, JSON).
//! - `dpop_bound_issue`: the same with a DPoP proof (RFC 9449): one more ES256 verify, the proof's
//!   `jti` claimed in the store, a token bound with `cnf.jkt`.
//! - `assertion_issue`: the client authenticated by a client assertion (`private_key_jwt`, RFC
//!   7523) instead of a secret: its claims checked, one ES256 verify, its `jti` claimed.
//! - `jwt_verify`: `keygate_core::oauth::tokens::verify` (signature, claims, one read of the client).
//!
//! Criterion reports means with confidence intervals; the median and p99 the issue asks for come
//! from the `token_percentiles` bench beside this one. Targets: issue < 200 µs, verify < 100 µs.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

fn token(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bench = rt.block_on(common::setup());
    let token = rt.block_on(bench.access_token());

    // One issue through the handler per iteration, its request built outside the timing.
    let mut issue = |name: &str, request: &dyn Fn() -> lambda_http::Request| {
        c.bench_function(name, |b| {
            b.iter_batched(
                request,
                |req| {
                    let resp = rt
                        .block_on(keygate_token::handle(&bench.services, req))
                        .expect("handler");
                    assert_eq!(resp.status(), 200);
                    resp
                },
                BatchSize::SmallInput,
            )
        });
    };
    issue("client_credentials_issue", &|| bench.token_request());
    issue("dpop_bound_issue", &|| bench.dpop_token_request());
    issue("assertion_issue", &|| bench.assertion_token_request());
    c.bench_function("jwt_verify", |b| {
        b.iter(|| rt.block_on(bench.verify(std::hint::black_box(&token))))
    });
}

criterion_group!(benches, token);
criterion_main!(benches);
