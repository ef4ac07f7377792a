//! Interop with a certified client: panva's `oauth4webapi` (OpenID Certified for FAPI 2.0),
//! unchanged, at the version pinned in `infra/local/common.sh` (installed by
//! `infra/interop/install.sh`, which `infra/test.sh` runs), drives keygate from Node:
//! `private_key_jwt` client credentials (token, introspection, revocation), and the whole
//! `fapi2` flow — a pushed request with a DPoP proof and the server's nonce, the code with PKCE,
//! DPoP-bound tokens, a refresh — with ES256 and with Ed25519 keys
//! (`infra/interop/oauth4webapi.mjs`). The consent page needs a signed-in browser: the script
//! asks for it on stdout and this test answers with the redirect the consent form leads to
//! (`keygate_e2e::consent`, as the other end-to-end tests get a code).
//!
//! The server runs on the system clock: the library stamps its assertions and proofs with its
//! own.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use keygate_e2e::{consent, issuer, on_both_backends, sign_in, Server};
use serde_json::{json, Value};

on_both_backends!(oauth4webapi_authenticates_with_keys_and_runs_the_fapi2_flow);

/// The library's entry point in the cache `infra/interop/install.sh` installs into.
fn library() -> PathBuf {
    let cache = std::env::var_os("KEYGATE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache"));
    cache.join("interop/node_modules/oauth4webapi/build/index.js")
}

/// The Node process, ended if the test fails before it exits.
struct Script(Child);

impl Drop for Script {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

async fn oauth4webapi_authenticates_with_keys_and_runs_the_fapi2_flow(
    backend: keygate_e2e::Backend,
) {
    let lib = library();
    assert!(
        lib.exists(),
        "{} is missing: run `bash infra/interop/install.sh` (installs the pinned oauth4webapi) \
         before this test",
        lib.display()
    );
    let s = Server::start_with(backend, |services, _| {
        services.clock = Arc::new(keygate_core::kernel::clock::SystemClock);
    })
    .await;
    let (_, _, owner_key) = s.create_account("Interop", "owner@interop.test").await;
    let (status, v) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            Some(&owner_key),
            Some(json!({"method": "OAUTH2"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let cookie = sign_in(&s, &owner_key).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/interop/oauth4webapi.mjs");
    let mut child = Script(
        Command::new("node")
            .arg(&script)
            .env("OAUTH4WEBAPI", &lib)
            .env("KEYGATE_ISSUER", issuer(&s))
            .env("KEYGATE_API_KEY", &owner_key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs (Node 20 or later)"),
    );
    let mut stdin = child.0.stdin.take().expect("stdin");
    let stdout = child.0.stdout.take().expect("stdout");
    let mut stderr = child.0.stderr.take().expect("stderr");
    // The script's lines, read off the runtime's threads.
    let (lines, mut next) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut result = None;
    let mut consents = 0;
    while let Some(line) = tokio::time::timeout(Duration::from_secs(180), next.recv())
        .await
        .expect("the script says something within 3 minutes")
    {
        let msg: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        if let Some(url) = msg["authorize"].as_str() {
            // The person at the consent page approves; the browser is sent back to the client.
            let back = consent(&s, url, &cookie, "approve").await;
            let answer = json!({ "callback": back.as_str() });
            writeln!(stdin, "{answer}").expect("answer the script");
            stdin.flush().expect("flush");
            consents += 1;
        } else if msg["ok"] == true {
            result = Some(msg);
        }
    }
    let status = child.0.wait().expect("the script ends");
    let errors = errors.join().unwrap_or_default();
    assert!(
        status.success(),
        "oauth4webapi against keygate failed ({status}):\n{errors}"
    );
    let result = result.expect("the script's result line");
    assert_eq!(consents, 2, "one fapi2 flow per algorithm");
    for alg in ["ES256", "Ed25519"] {
        let r = &result["results"][alg];
        assert!(
            r["clientCredentials"]
                .as_str()
                .is_some_and(|id| id.starts_with("oc_")),
            "{result}"
        );
        let fapi2 = r["fapi2"].as_str().expect("the fapi2 client");
        let (status, c) = s
            .api(
                "GET",
                &format!("/api/oauth2/clients/{fapi2}"),
                Some(&owner_key),
                None,
            )
            .await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(
            (c["profile"].as_str(), c["tokenEndpointAuthMethod"].as_str()),
            (Some("fapi2"), Some("private_key_jwt"))
        );
    }
}
