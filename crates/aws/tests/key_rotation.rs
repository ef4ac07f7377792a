//! Signing-key and pepper rotation against moto's Secrets Manager, with an injected clock:
//! tokens of key A verify after the rotation to B, new tokens carry B's kid, the JWKS shows both,
//! and A disappears once every token it signed has expired.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use keygate_aws::testing::Stack;
use keygate_aws::SecretsManagerKeySource;
use keygate_core::ports::keys::{self, KeyDocument, KeySource, Keys, MAX_TOKEN_LIFETIME};

fn kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let v: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn signing_keys_rotate_without_downtime() {
    let stack = Stack::get();
    let sm = stack.secrets_manager().await;
    let name = format!(
        "keygate/rotation-{}",
        keygate_core::kernel::ids::AccountId::generate()
    );
    let t0 = 1_800_000_000;
    let doc = KeyDocument::generate(t0);
    let a = doc.signing_keys[0].kid.clone();
    sm.create_secret()
        .name(&name)
        .secret_string(serde_json::to_string(&doc).unwrap())
        .send()
        .await
        .unwrap();
    let source: Arc<dyn KeySource> = Arc::new(SecretsManagerKeySource::new(sm, &name));
    // A cache of zero: every read goes back to Secrets Manager, as an instance past its TTL would.
    let keys = Keys::load(source.clone(), Duration::ZERO).await.unwrap();

    let token_a = keys
        .ring()
        .await
        .sign_jwt(&serde_json::json!({"sub": "x"}), t0)
        .unwrap();
    assert_eq!(kid(&token_a), a);

    // Rotate (as `keygate-admin rotate-signing-key --activate-in 0` does) and store.
    let mut doc = source.load().await.unwrap();
    let b = keys::rotate_signing_key(&mut doc, t0 + 60, 0);
    source.store(&doc).await.unwrap();

    let ring = keys.ring().await;
    let t1 = t0 + 61;
    assert!(
        ring.verify_jwt(&token_a, t1).is_ok(),
        "A's tokens still verify"
    );
    let token_b = ring.sign_jwt(&serde_json::json!({"sub": "y"}), t1).unwrap();
    assert_eq!(kid(&token_b), b, "new tokens carry B's kid");
    let kids: Vec<String> = ring
        .jwks(t1)
        .keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&a) && kids.contains(&b));

    // Once every token A could have signed has expired, A is gone.
    let t2 = t0 + 60 + MAX_TOKEN_LIFETIME;
    assert!(ring.verify_jwt(&token_a, t2).is_err());
    let kids = ring.jwks(t2).keys;
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].common.key_id.as_deref(), Some(b.as_str()));
    assert!(ring.verify_jwt(&token_b, t2 - 1).is_ok());
}

#[tokio::test]
async fn pepper_rotation_keeps_issued_secrets_valid() {
    let stack = Stack::get();
    let sm = stack.secrets_manager().await;
    let name = format!(
        "keygate/pepper-{}",
        keygate_core::kernel::ids::AccountId::generate()
    );
    let doc = KeyDocument::generate(1_800_000_000);
    sm.create_secret()
        .name(&name)
        .secret_string(serde_json::to_string(&doc).unwrap())
        .send()
        .await
        .unwrap();
    let source: Arc<dyn KeySource> = Arc::new(SecretsManagerKeySource::new(sm, &name));
    let keys = Keys::load(source.clone(), Duration::ZERO).await.unwrap();

    let table = stack.table().await;
    let config = keygate_core::kernel::config::Config::local("http://127.0.0.1:3000");
    let before = keygate_core::accounts::create_account(
        &table,
        keys.ring().await.peppers(),
        &config,
        "Acme",
        "o@acme.test",
        1_800_000_000,
    )
    .await
    .unwrap();

    let mut doc = source.load().await.unwrap();
    let id = keys::rotate_pepper(&mut doc, 1_800_000_100);
    source.store(&doc).await.unwrap();
    let ring = keys.ring().await;
    assert_eq!(ring.peppers().current().id, id);

    let found =
        keygate_core::accounts::find_by_api_key(&table, ring.peppers(), before.api_key.expose())
            .await
            .unwrap();
    assert!(
        found.is_some(),
        "a key hashed under the old pepper still authenticates"
    );
    let after = keygate_core::accounts::create_account(
        &table,
        ring.peppers(),
        &config,
        "Beta",
        "b@beta.test",
        1_800_000_200,
    )
    .await
    .unwrap();
    assert!(
        after.owner.api_key_hash.0.starts_with(&format!("{id}$")),
        "new secrets use the new pepper"
    );
}
