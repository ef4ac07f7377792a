//! Logs and metrics never carry a secret. Every issued secret value — API keys, client
//! secrets, tokens, sessions, signatures, callback keys, signing secrets — is driven through
//! successful and failing requests, and none appears in the captured log or metric output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_e2e::{Backend, Server};
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn hmac_b64(key: &str, msg: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(msg.as_bytes());
    STANDARD.encode(m.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    let capture = Capture::default();
    let filter = tracing_subscriber::EnvFilter::new(
        "info,keygate=trace,keygate_token=trace,keygate_client_apps=trace,keygate_auth_tokens=trace,keygate_verify=trace,keygate_webhooks=trace,keygate_local=trace",
    );
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(filter)
        .with_writer(capture.clone())
        .init();
    let metrics = capture.clone();
    keygate_core::kernel::metrics::set_sink(move |line| {
        let mut m = metrics.clone();
        let _ = writeln!(m, "{line}");
    });

    let s = Server::start(Backend::Memory).await;
    let mut secrets: Vec<String> = Vec::new();
    let (account, _, key) = s.create_account("Acme", "owner@acme.test").await;
    secrets.push(key.clone());
    let k = Some(key.as_str());

    // Client app, its token, a rotation; wrong secrets too.
    let (_, app) = s
        .api("POST", "/api/clientApps", k, Some(json!({"name": "CRM"})))
        .await;
    let app_id = app["clientId"].as_str().unwrap().to_owned();
    let app_secret = app["secret"].as_str().unwrap().to_owned();
    secrets.push(app_secret.clone());
    let (_, tok) = s
        .api(
            "POST",
            "/apitoken/clientApp/accessToken",
            None,
            Some(json!({"clientId": app_id, "secret": app_secret})),
        )
        .await;
    let api_token = tok["accessToken"].as_str().unwrap().to_owned();
    secrets.push(api_token.clone());
    assert_eq!(
        s.call(s.http.get(s.url("/api/whoami")).bearer_auth(&api_token))
            .await
            .0,
        200
    );
    s.api(
        "POST",
        "/apitoken/clientApp/accessToken",
        None,
        Some(json!({"clientId": app_id, "secret": "wrong-secret-value-123"})),
    )
    .await;
    let (_, rotated) = s
        .api("POST", &format!("/api/clientApps/{app_id}/rotate"), k, None)
        .await;
    secrets.push(rotated["secret"].as_str().unwrap().to_owned());

    // Authentication tokens and the session they open.
    let (_, minted) = s
        .api("POST", "/api/authenticationTokens/user", k, None)
        .await;
    let auth_token = minted["value"].as_str().unwrap().to_owned();
    secrets.push(auth_token.clone());
    let resp = s
        .http
        .get(s.url("/auth"))
        .query(&[
            ("authenticationToken", auth_token.as_str()),
            ("target", "/x"),
        ])
        .send()
        .await
        .unwrap();
    let session = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("kg_session=")
        .to_owned();
    secrets.push(session.clone());
    // Reusing it fails (and is logged as a refusal).
    s.http
        .get(s.url("/auth"))
        .query(&[
            ("authenticationToken", auth_token.as_str()),
            ("target", "/x"),
        ])
        .send()
        .await
        .unwrap();

    // Callback key and signing secret.
    let (_, cb) = s
        .api("PUT", "/api/callback", k, Some(json!({"url": "https://hooks.example/cb", "key": "callback-key-s3cret", "events": ["PACKAGE_CREATE"]})))
        .await;
    secrets.push("callback-key-s3cret".into());
    secrets.push(cb["signingSecret"].as_str().unwrap().to_owned());

    // OAuth: client credentials, a signed request, a wrong secret, a replayed nonce.
    s.api(
        "PUT",
        "/api/account/authSettings",
        k,
        Some(json!({"method": "OAUTH2"})),
    )
    .await;
    let (_, oc) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            k,
            Some(json!({"name": "P", "scopes": ["Basic"], "domain": "app.example.com"})),
        )
        .await;
    let oc_id = oc["clientId"].as_str().unwrap().to_owned();
    let oc_secret = oc["clientSecret"].as_str().unwrap().to_owned();
    secrets.push(oc_secret.clone());
    let (_, t) = s
        .call(
            s.http
                .post(s.url("/api/oauth2/token"))
                .basic_auth(&oc_id, Some(&oc_secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    let bearer = t["access_token"].as_str().unwrap().to_owned();
    secrets.push(bearer.clone());
    s.call(
        s.http
            .post(s.url("/api/oauth2/token"))
            .basic_auth(&oc_id, Some("wrong-oauth-secret-456"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let date = s.clock.now_for_tests().to_string();
    let sig = hmac_b64(&oc_secret, &format!("{oc_id}\n{date}\nnonce-1"));
    secrets.push(sig.clone());
    for _ in 0..2 {
        s.call(
            s.http
                .get(s.url("/api/whoami"))
                .header("x-custom-api-key", &oc_id)
                .header("x-custom-date", &date)
                .header("x-custom-nonce", "nonce-1")
                .header("x-custom-signature", &sig)
                .header("referer", "https://app.example.com/")
                .bearer_auth(&bearer),
        )
        .await;
    }
    // A regenerated API key.
    let (_, fresh) = s
        .api("POST", "/api/account/apiKey/regenerate", k, None)
        .await;
    secrets.push(fresh["apiKey"].as_str().unwrap().to_owned());
    s.whoami(&key).await;

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("\"reason\""),
        "refusals are logged with their reason"
    );
    assert!(text.contains(&account), "the account id is logged");
    assert!(text.contains("TokensIssued"), "metrics are emitted");
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !text.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..6.min(secret.len())]
        );
    }
    // The wrong secrets a caller sent are not logged either.
    assert!(!text.contains("wrong-secret-value-123") && !text.contains("wrong-oauth-secret-456"));
}
