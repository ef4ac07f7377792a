//! Keys from moto's Secrets Manager: the stack's secret loads, and a stored document reads back.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use keygate_aws::testing::Stack;
use keygate_aws::SecretsManagerKeySource;
use keygate_core::ports::keys::{KeyDocument, KeySource, Keys};

#[tokio::test]
async fn the_stack_secret_signs_and_verifies() {
    let stack = Stack::get();
    let src = Arc::new(SecretsManagerKeySource::new(
        stack.secrets_manager().await,
        stack.var("KEYGATE_SECRET_ID"),
    ));
    let keys = Keys::load(src, Duration::from_secs(60))
        .await
        .expect("loads");
    let ring = keys.ring().await;
    let now = 1_800_000_000;
    let t = ring
        .sign_jwt(&serde_json::json!({"sub": "x"}), now)
        .unwrap();
    assert_eq!(ring.verify_jwt(&t, now).unwrap()["sub"], "x");
}

#[tokio::test]
async fn a_stored_document_is_read_back_and_a_missing_secret_is_named() {
    let stack = Stack::get();
    let sm = stack.secrets_manager().await;
    let name = format!(
        "keygate/test-{}",
        keygate_core::kernel::ids::AccountId::generate()
    );
    sm.create_secret()
        .name(&name)
        .secret_string("{}")
        .send()
        .await
        .unwrap();
    let src = SecretsManagerKeySource::new(sm.clone(), &name);
    assert!(src.load().await.is_err(), "an empty document is refused");
    let doc = KeyDocument::generate(1_800_000_000);
    src.store(&doc).await.unwrap();
    assert_eq!(
        src.load().await.unwrap().signing_keys[0].kid,
        doc.signing_keys[0].kid
    );

    let missing = SecretsManagerKeySource::new(sm, "keygate/does-not-exist");
    let err = missing.load().await.unwrap_err().to_string();
    assert!(err.contains("keygate/does-not-exist"), "{err}");
}
