//! A deployment with `template.yaml`'s defaults, configured exactly as Lambda configures the
//! functions: the environment of `Globals.Function.Environment.Variables` with every parameter at
//! its `Default` (resources by placeholder names) and `AWS_LAMBDA_FUNCTION_NAME` set. It starts,
//! and its signing links answer a clear page instead of a redirect to nowhere.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use keygate_core::kernel::config::Config;
use keygate_e2e::{Backend, Server};
use serde_json::json;
use serde_yaml_ng::Value;

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    untag(v)
        .as_mapping()
        .and_then(|m| m.get(key))
        .map(untag)
        .unwrap_or_else(|| panic!("template.yaml has no {key}"))
}

/// The functions' environment with the template's defaults, as CloudFormation resolves it.
fn lambda_environment() -> HashMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let template: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let params = get(&template, "Parameters");
    let vars = get(
        get(get(get(&template, "Globals"), "Function"), "Environment"),
        "Variables",
    );
    let mut env: HashMap<String, String> = untag(vars)
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().unwrap().to_owned();
            let value = match v {
                // `!Ref Parameter` → its default; `!Ref Resource` → the resource's name.
                Value::Tagged(t) if t.tag == "!Ref" => {
                    let target = t.value.as_str().unwrap();
                    match untag(params).as_mapping().unwrap().get(target) {
                        Some(p) => match get(p, "Default") {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string(),
                            other => panic!("{target}: default {other:?}"),
                        },
                        None => format!("keygate-{target}"),
                    }
                }
                Value::String(s) => s.clone(),
                other => panic!("{name}: {other:?} is neither a string nor a !Ref"),
            };
            (name, value)
        })
        .collect();
    env.insert(
        "AWS_LAMBDA_FUNCTION_NAME".into(),
        "keygate-AuthTokens".into(),
    );
    env
}

#[test]
fn the_default_deployment_configures() {
    let env = lambda_environment();
    assert_eq!(env["KEYGATE_SIGNING_URL"], "", "the template's default");
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("the defaults configure");
    assert!(!config.local_mode);
    assert_eq!(config.issuer, "", "taken from each request");
    assert_eq!(config.signing_url, "", "no ceremony is configured");
}

async fn signing_links_say_no_ceremony_is_configured(backend: Backend) {
    let env = lambda_environment();
    let lambda = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let s = Server::start_with(backend, |services, _| {
        let mut config = (*services.config).clone();
        config.issuer = lambda.issuer.clone();
        config.signing_url = lambda.signing_url.clone();
        config.redirect_allowlist = lambda.redirect_allowlist.clone();
        config.local_mode = lambda.local_mode;
        services.config = Arc::new(config);
    })
    .await;
    let (_, _, key) = s.create_account("Acme", "owner@acme.test").await;
    for path in ["signer/multiUse", "signer/singleUse"] {
        let (status, minted) = s
            .api(
                "POST",
                &format!("/api/authenticationTokens/{path}"),
                Some(&key),
                Some(json!({"packageId": "pkg1", "signerId": "signer@example.com"})),
            )
            .await;
        assert_eq!(status, 200, "{minted}");
        let token = minted["value"].as_str().unwrap();
        // Twice: the page never consumes the link (a single-use one works once a ceremony is
        // configured), and never redirects.
        for _ in 0..2 {
            let resp = s
                .http
                .get(s.url("/access"))
                .query(&[("sessionToken", token)])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 503, "{path}");
            let h = resp.headers();
            assert!(h.get("location").is_none(), "never a Location");
            assert!(h.get("set-cookie").is_none(), "no session");
            assert_eq!(h["retry-after"], "300");
            assert_eq!(h["x-keygate-reason"], "signing_ceremony_unconfigured");
            assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
            let page = resp.text().await.unwrap();
            assert!(page.contains("no signing ceremony configured"), "{page}");
        }
    }
}

#[tokio::test]
async fn signing_links_say_no_ceremony_is_configured_in_memory() {
    signing_links_say_no_ceremony_is_configured(Backend::Memory).await;
}

#[tokio::test]
async fn signing_links_say_no_ceremony_is_configured_on_dynamodb_local() {
    signing_links_say_no_ceremony_is_configured(Backend::Stack).await;
}
