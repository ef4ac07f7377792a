//! A Lambda function started without its configuration exits at cold start with one line naming
//! what is missing (the runtime's init error), not a panic.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn missing_table_is_one_clear_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_keygate-token"))
        .env_clear()
        .env("AWS_LAMBDA_FUNCTION_NAME", "keygate-token")
        .output()
        .expect("the function binary runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("KEYGATE_TABLE"), "{err}");
    assert!(!err.contains("panicked"));
}
