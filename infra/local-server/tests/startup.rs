//! Bad configuration stops the server at start with one clear line naming the problem — never a
//! panic backtrace, never a failure on the first request.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn run(envs: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate-local"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the server binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line, got: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    lines[0]
}

#[test]
fn a_table_without_a_secret_names_the_missing_variable() {
    let (code, err) = run(&[("KEYGATE_TABLE", "keygate-local")]);
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("KEYGATE_SECRET_ID"), "{err}");
}

#[test]
fn an_unreachable_endpoint_is_named() {
    let (code, err) = run(&[
        ("KEYGATE_TABLE", "keygate-local"),
        ("KEYGATE_SECRET_ID", "keygate/keys"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
        ("AWS_MAX_ATTEMPTS", "1"),
    ]);
    assert_eq!(code, 1);
    let line = one_line(&err);
    assert!(line.contains("keygate/keys"), "{line}");
}

#[test]
fn a_bad_listen_address_is_named() {
    let (code, err) = run(&[("KEYGATE_LISTEN", "not-an-address")]);
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("KEYGATE_LISTEN"), "{err}");
}

#[test]
fn an_out_of_bounds_lifetime_is_named() {
    let (code, err) = run(&[("KEYGATE_OAUTH_TOKEN_TTL", "5")]);
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("KEYGATE_OAUTH_TOKEN_TTL"), "{err}");
}
