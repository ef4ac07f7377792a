//! Signing keys and peppers from Secrets Manager: ES256 JWTs (RFC 9068 `at+jwt`) through
//! `jsonwebtoken`, the JWKS, and the peppers that key stored-secret hashes.
//!
//! - [`document`]: the secret's JSON document and the pure rotation policies;
//! - [`ring`]: the keys in force, parsed once per load (sign, verify, JWKS, peppers);
//! - [`source`]: the port the document comes from, and its in-memory twin;
//! - `keygate_aws::secrets_manager`: the Secrets Manager adapter;
//! - [`provider`]: `jsonwebtoken`'s `aws_lc_rs` backend with signers kept per key;
//! - [`Keys`] (here): the ring in force, re-read at most every TTL.
//!
//! The newest key that is not retired signs; every key whose `verifyUntil` has not passed still
//! verifies and is published in the JWKS. The newest pepper hashes new secrets; every pepper
//! still checks old hashes.

pub mod document;
pub mod provider;
pub mod ring;
pub mod source;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, RwLock};

use crate::kernel::clock::UnixSeconds;

pub use document::{
    new_pepper_doc, new_signing_key_doc, rotate_pepper, rotate_signing_key, KeyDocument, PepperDoc,
    SigningKeyDoc, MAX_TOKEN_LIFETIME,
};
pub use ring::{check_times, EcKey, Expect, JwtError, KeyRing, LEEWAY};
pub use source::{KeySource, MemoryKeySource};

/// Why keys could not be loaded, stored or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Secrets Manager failed the call (classified: see [`crate::kernel::fault`]).
    #[error(transparent)]
    Service(#[from] crate::kernel::fault::ServiceError),
    #[error("key document: {0}")]
    Malformed(#[from] Malformed),
    #[error("no signing key is current")]
    NoCurrentKey,
    #[error("signing failed: {0}")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

/// What is wrong with a key document.
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    #[error("not JSON of the expected shape: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the secret has no SecretString")]
    NoSecretString,
    #[error("key {0}: alg is not ES256")]
    Algorithm(String),
    #[error("key {0}: privateKey is not a P-256 scalar (32 base64url bytes)")]
    PrivateKey(String),
    #[error("pepper {0}: key is not 32 base64url bytes")]
    Pepper(String),
    /// Ids travel inside stored hashes (`<id>$<mac>`) and DPoP nonces: a short token of
    /// letters, digits, `-` and `_`.
    #[error("pepper id {0:?}: not 1 to 32 of A-Z a-z 0-9 - _")]
    PepperId(String),
    #[error("no signing key")]
    NoSigningKey,
    #[error("no pepper")]
    NoPepper,
}

/// The key ring, loaded once at cold start and re-read at most every `ttl`, so a rotation reaches
/// every instance within `ttl` without a redeploy. A failed re-read keeps the ring in force.
pub struct Keys {
    source: Arc<dyn KeySource>,
    ttl: Duration,
    ring: RwLock<(Arc<KeyRing>, Instant)>,
    refreshing: Mutex<()>,
}

impl Keys {
    pub async fn load(source: Arc<dyn KeySource>, ttl: Duration) -> Result<Self, KeyError> {
        let ring = Arc::new(KeyRing::from_document(&source.load().await?)?);
        Ok(Self {
            source,
            ttl,
            ring: RwLock::new((ring, Instant::now())),
            refreshing: Mutex::new(()),
        })
    }

    /// In-memory keys, freshly generated.
    pub async fn generated(now: UnixSeconds) -> Self {
        let src = Arc::new(MemoryKeySource::new(KeyDocument::generate(now)));
        Self::load(src, Duration::from_secs(300))
            .await
            .expect("a generated document is valid")
    }

    pub fn source(&self) -> &Arc<dyn KeySource> {
        &self.source
    }

    /// The ring in force (re-read first if older than the TTL).
    pub async fn ring(&self) -> Arc<KeyRing> {
        {
            let guard = self.ring.read().await;
            if guard.1.elapsed() < self.ttl {
                return guard.0.clone();
            }
        }
        self.refresh().await
    }

    /// Re-reads the source now (one refresher at a time; others get the ring in force).
    pub async fn refresh(&self) -> Arc<KeyRing> {
        let Ok(_one) = self.refreshing.try_lock() else {
            return self.ring.read().await.0.clone();
        };
        match self
            .source
            .load()
            .await
            .and_then(|d| KeyRing::from_document(&d))
        {
            Ok(ring) => {
                let ring = Arc::new(ring);
                *self.ring.write().await = (ring.clone(), Instant::now());
                ring
            }
            Err(e) => {
                tracing::warn!(error = %e, "key refresh failed; keeping the keys in force");
                let mut guard = self.ring.write().await;
                guard.1 = Instant::now();
                guard.0.clone()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    const NOW: i64 = 1_800_000_000;

    fn ring() -> KeyRing {
        KeyRing::from_document(&KeyDocument::generate(NOW)).unwrap()
    }

    #[test]
    fn pepper_ids_are_short_plain_tokens() {
        for bad in ["", "p$1", "p 1", "p.1", &"p".repeat(33)] {
            let mut doc = KeyDocument::generate(NOW);
            doc.peppers[0].id = bad.to_owned();
            assert!(KeyRing::from_document(&doc).is_err(), "{bad:?}");
        }
        let mut doc = KeyDocument::generate(NOW);
        doc.peppers[0].id = "p1800000000_a-B".into();
        assert!(KeyRing::from_document(&doc).is_ok());
    }

    #[test]
    fn key_documents_never_debug_key_material() {
        let doc = KeyDocument::generate(NOW);
        let shown = format!("{doc:?}");
        assert!(!shown.contains(&doc.signing_keys[0].private_key), "{shown}");
        assert!(!shown.contains(&doc.peppers[0].key), "{shown}");
        assert!(shown.contains(&doc.signing_keys[0].kid) && shown.contains("***"));
    }

    #[test]
    fn signed_tokens_verify_and_tampering_fails() {
        let r = ring();
        let t = r.sign_jwt(&serde_json::json!({"sub": "x"}), NOW).unwrap();
        assert_eq!(r.verify_jwt(&t, NOW).unwrap()["sub"], "x");
        let mut tampered = t.clone();
        tampered.insert(tampered.find('.').unwrap() + 2, 'A');
        assert!(r.verify_jwt(&tampered, NOW).is_err());
        assert_eq!(ring().verify_jwt(&t, NOW), Err(JwtError::UnknownKey));
    }

    #[test]
    fn alg_none_and_hs256_are_refused() {
        let r = ring();
        let t = r.sign_jwt(&serde_json::json!({"sub": "x"}), NOW).unwrap();
        let rest = &t[t.find('.').unwrap()..];
        for alg in ["none", "HS256"] {
            let h = URL_SAFE_NO_PAD.encode(format!(
                r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{}"}}"#,
                r.current(NOW).unwrap().kid
            ));
            assert_eq!(
                r.verify_jwt(&format!("{h}{rest}"), NOW),
                Err(JwtError::Algorithm)
            );
        }
    }

    #[test]
    fn rotated_out_key_verifies_until_its_deadline() {
        let mut doc = KeyDocument::generate(NOW);
        let old = KeyRing::from_document(&doc).unwrap();
        let token = old.sign_jwt(&serde_json::json!({}), NOW).unwrap();
        doc.signing_keys[0].retired_at = Some(NOW + 10);
        doc.signing_keys[0].verify_until = Some(NOW + 100);
        doc.signing_keys.push(new_signing_key_doc(NOW + 10));
        let r = KeyRing::from_document(&doc).unwrap();
        assert!(r.verify_jwt(&token, NOW + 50).is_ok());
        assert_eq!(r.jwks(NOW + 50).keys.len(), 2);
        assert_eq!(r.verify_jwt(&token, NOW + 100), Err(JwtError::UnknownKey));
        assert_eq!(r.jwks(NOW + 100).keys.len(), 1);
        assert_ne!(r.current(NOW + 50).unwrap().kid, doc.signing_keys[0].kid);
    }

    #[test]
    fn staged_rotation_publishes_first_then_signs() {
        let mut doc = KeyDocument::generate(NOW);
        let old_kid = doc.signing_keys[0].kid.clone();
        let new_kid = rotate_signing_key(&mut doc, NOW + 100, 600);
        let r = KeyRing::from_document(&doc).unwrap();
        assert_eq!(
            r.current(NOW + 101).unwrap().kid,
            old_kid,
            "old key signs until activation"
        );
        assert_eq!(r.jwks(NOW + 101).keys.len(), 2, "new key published first");
        assert_eq!(r.current(NOW + 700).unwrap().kid, new_kid);
        let old_token = r.sign_jwt(&serde_json::json!({}), NOW + 699).unwrap();
        assert!(r
            .verify_jwt(&old_token, NOW + 700 + MAX_TOKEN_LIFETIME - 1)
            .is_ok());
        assert!(r
            .verify_jwt(&old_token, NOW + 700 + MAX_TOKEN_LIFETIME)
            .is_err());
        // The next rotation drops keys that no longer verify anything.
        rotate_signing_key(&mut doc, NOW + 700 + MAX_TOKEN_LIFETIME, 0);
        assert!(doc.signing_keys.iter().all(|k| k.kid != old_kid));
    }

    #[test]
    fn pepper_rotation_keeps_old_hashes_valid() {
        let mut doc = KeyDocument::generate(NOW);
        let before = KeyRing::from_document(&doc).unwrap();
        let secret = crate::kernel::crypto::Secret::generate();
        let hash = before.peppers().hash("apikey", &secret);
        let id = rotate_pepper(&mut doc, NOW + 10);
        let after = KeyRing::from_document(&doc).unwrap();
        assert_eq!(after.peppers().current().id, id);
        assert!(after.peppers().verify("apikey", &hash, secret.expose()));
    }

    #[test]
    fn jwks_has_p256_coordinates() {
        let j = serde_json::to_value(ring().jwks(NOW)).unwrap();
        let k = &j["keys"][0];
        assert_eq!(k["crv"], "P-256");
        assert_eq!(k["alg"], "ES256");
        assert_eq!(k["use"], "sig");
        assert!(k["kid"].is_string());
        assert_eq!(k["kty"], "EC");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(k["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn malformed_documents_are_refused() {
        let mut doc = KeyDocument::generate(NOW);
        doc.peppers.clear();
        assert!(KeyRing::from_document(&doc).is_err());
        let mut doc = KeyDocument::generate(NOW);
        doc.signing_keys[0].private_key = "short".into();
        assert!(KeyRing::from_document(&doc).is_err());
    }
}
