//! Signing keys and peppers from Secrets Manager: ES256 JWTs (RFC 9068 `at+jwt`), the JWKS, and
//! the peppers that key stored-secret hashes.
//!
//! The secret is one JSON document:
//! `{"signingKeys":[{"kid","alg":"ES256","privateKey":<b64url scalar>,"createdAt",`
//! `"retiredAt"?,"verifyUntil"?}],"peppers":[{"id","key":<b64url 32 bytes>,"createdAt"}]}`.
//! The newest key that is not retired signs; every key whose `verifyUntil` has not passed still
//! verifies and is published in the JWKS. The newest pepper hashes new secrets; every pepper
//! still checks old hashes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use crate::clock::UnixSeconds;
use crate::crypto::{decode_key32, Pepper, Peppers};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key secret unavailable: {0}")]
    Unavailable(String),
    #[error("key secret is malformed: {0}")]
    Malformed(String),
}

/// The secret's JSON document. `Debug` never shows key material (see [`SigningKeyDoc`],
/// [`PepperDoc`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyDocument {
    pub signing_keys: Vec<SigningKeyDoc>,
    pub peppers: Vec<PepperDoc>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyDoc {
    pub kid: String,
    #[serde(default = "es256")]
    pub alg: String,
    pub private_key: String,
    pub created_at: UnixSeconds,
    /// No longer signs from this time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<UnixSeconds>,
    /// No longer verifies (nor appears in the JWKS) from this time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_until: Option<UnixSeconds>,
    /// Signs only from this time on: published in the JWKS first, so relying parties that cache
    /// the set know the key before they see a token signed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<UnixSeconds>,
}

/// The longest any token can live (the bound of the account lifetime settings), plus leeway:
/// a retired key keeps verifying this long after it stops signing.
pub const MAX_TOKEN_LIFETIME: i64 = 86_400 + 60;

/// Pure rotation policy: a new signing key becomes current at `now + activate_after`; every key
/// still signing stops then and keeps verifying until the last token it could have signed has
/// expired; keys past that are dropped. Returns the new key's id.
pub fn rotate_signing_key(doc: &mut KeyDocument, now: UnixSeconds, activate_after: i64) -> String {
    let start = now + activate_after.max(0);
    doc.signing_keys
        .retain(|k| k.verify_until.is_none_or(|v| v > now));
    for k in &mut doc.signing_keys {
        let retire = k.retired_at.map_or(start, |r| r.min(start));
        k.retired_at = Some(retire);
        k.verify_until = Some(retire + MAX_TOKEN_LIFETIME);
    }
    let mut fresh = new_signing_key_doc(now);
    fresh.not_before = Some(start);
    let kid = fresh.kid.clone();
    doc.signing_keys.push(fresh);
    kid
}

/// Pure pepper rotation: a new pepper hashes new secrets from now on; every older one keeps
/// checking the hashes made with it (hashes carry their pepper's id). Returns the new id.
pub fn rotate_pepper(doc: &mut KeyDocument, now: UnixSeconds) -> String {
    let mut p = new_pepper_doc(now);
    if doc.peppers.iter().any(|x| x.id == p.id) {
        p.id = format!("{}-{}", p.id, &crate::ids::random_suffix()[..4]);
    }
    let id = p.id.clone();
    doc.peppers.push(p);
    id
}

fn es256() -> String {
    "ES256".to_owned()
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PepperDoc {
    pub id: String,
    pub key: String,
    pub created_at: UnixSeconds,
}

impl std::fmt::Debug for PepperDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PepperDoc")
            .field("id", &self.id)
            .field("key", &"***")
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl std::fmt::Debug for SigningKeyDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyDoc")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_key", &"***")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("verify_until", &self.verify_until)
            .field("not_before", &self.not_before)
            .finish()
    }
}

impl KeyDocument {
    /// A fresh document with one signing key and one pepper.
    pub fn generate(now: UnixSeconds) -> Self {
        Self {
            signing_keys: vec![new_signing_key_doc(now)],
            peppers: vec![new_pepper_doc(now)],
        }
    }
}

pub fn new_signing_key_doc(now: UnixSeconds) -> SigningKeyDoc {
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    SigningKeyDoc {
        kid: format!("k{now}-{}", &crate::ids::random_suffix()[..6]),
        alg: es256(),
        private_key: URL_SAFE_NO_PAD.encode(key.to_bytes()),
        created_at: now,
        retired_at: None,
        verify_until: None,
        not_before: None,
    }
}

pub fn new_pepper_doc(now: UnixSeconds) -> PepperDoc {
    let p = Pepper::generate(format!("p{now}"));
    PepperDoc {
        id: p.id.clone(),
        key: p.key_b64(),
        created_at: now,
    }
}

/// One ES256 key.
pub struct EcKey {
    pub kid: String,
    verifying: VerifyingKey,
    /// aws-lc's key pair (signing) and the SEC1 uncompressed public point (verifying).
    pair: aws_lc_rs::signature::EcdsaKeyPair,
    public: Vec<u8>,
    created_at: UnixSeconds,
    retired_at: Option<UnixSeconds>,
    verify_until: Option<UnixSeconds>,
    not_before: Option<UnixSeconds>,
}

/// The keys in force, parsed once per load.
pub struct KeyRing {
    keys: Vec<EcKey>,
    peppers: Peppers,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        write!(f, "KeyRing(kids={kids:?}, peppers=***)")
    }
}

impl KeyRing {
    pub fn from_document(doc: &KeyDocument) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for k in &doc.signing_keys {
            if k.alg != "ES256" {
                return Err(KeyError::Malformed(format!(
                    "key {}: alg {} is not ES256",
                    k.kid, k.alg
                )));
            }
            let bytes = decode_key32(&k.private_key).ok_or_else(|| {
                KeyError::Malformed(format!(
                    "key {}: privateKey is not 32 base64url bytes",
                    k.kid
                ))
            })?;
            let signing = SigningKey::from_bytes(&bytes.into())
                .map_err(|_| KeyError::Malformed(format!("key {}: not a P-256 scalar", k.kid)))?;
            let verifying = *signing.verifying_key();
            let public = verifying.to_encoded_point(false).as_bytes().to_vec();
            let pair = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &bytes,
                &public,
            )
            .map_err(|_| KeyError::Malformed(format!("key {}: not a P-256 key pair", k.kid)))?;
            keys.push(EcKey {
                kid: k.kid.clone(),
                verifying,
                pair,
                public,
                created_at: k.created_at,
                retired_at: k.retired_at,
                verify_until: k.verify_until,
                not_before: k.not_before,
            });
        }
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        let mut peppers = Vec::new();
        let mut docs: Vec<&PepperDoc> = doc.peppers.iter().collect();
        docs.sort_by_key(|p| std::cmp::Reverse(p.created_at));
        for p in docs {
            let key = decode_key32(&p.key).ok_or_else(|| {
                KeyError::Malformed(format!("pepper {}: key is not 32 base64url bytes", p.id))
            })?;
            peppers.push(Pepper::new(p.id.clone(), key));
        }
        if keys.is_empty() {
            return Err(KeyError::Malformed("no signing key".into()));
        }
        if peppers.is_empty() {
            return Err(KeyError::Malformed("no pepper".into()));
        }
        Ok(Self {
            keys,
            peppers: Peppers::new(peppers),
        })
    }

    pub fn peppers(&self) -> &Peppers {
        &self.peppers
    }

    /// The key that signs at `now`: the newest one that has started and is not retired.
    pub fn current(&self, now: UnixSeconds) -> Option<&EcKey> {
        self.keys.iter().find(|k| {
            k.not_before.is_none_or(|n| n <= now)
                && k.retired_at.is_none_or(|r| r > now)
                && k.verify_until.is_none_or(|v| v > now)
        })
    }

    fn verifier(&self, kid: &str, now: UnixSeconds) -> Option<&EcKey> {
        self.keys
            .iter()
            .find(|k| k.kid == kid && k.verify_until.is_none_or(|v| v > now))
    }

    /// Signs `claims` as an `at+jwt`.
    pub fn sign_jwt<C: Serialize>(&self, claims: &C, now: UnixSeconds) -> Result<String, KeyError> {
        let key = self
            .current(now)
            .ok_or_else(|| KeyError::Malformed("no signing key is current".into()))?;
        let header = serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid});
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Malformed(e.to_string()))?;
        let mut out = URL_SAFE_NO_PAD.encode(header.to_string());
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let sig = key
            .pair
            .sign(&aws_lc_rs::rand::SystemRandom::new(), out.as_bytes())
            .map_err(|_| KeyError::Malformed("ES256 signing failed".into()))?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(sig.as_ref()));
        Ok(out)
    }

    /// Checks a JWT's form, header and signature, and returns its claims. Time, issuer and
    /// audience are the caller's to check. Only `ES256` with a known `kid` is accepted, so
    /// `alg: none` and HS256-with-our-public-key confusion fail here.
    pub fn verify_jwt(&self, token: &str, now: UnixSeconds) -> Result<serde_json::Value, JwtError> {
        if token.len() > 8 * 1024 {
            return Err(JwtError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: serde_json::Value = decode_json(h)?;
        if header.get("alg").and_then(|v| v.as_str()) != Some("ES256") {
            return Err(JwtError::Algorithm);
        }
        if header.get("typ").and_then(|v| v.as_str()) != Some("at+jwt") {
            return Err(JwtError::Malformed);
        }
        let kid = header
            .get("kid")
            .and_then(|v| v.as_str())
            .ok_or(JwtError::UnknownKey)?;
        let key = self.verifier(kid, now).ok_or(JwtError::UnknownKey)?;
        let sig_bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
        if sig_bytes.len() != 64 {
            return Err(JwtError::Signature);
        }
        let signed = &token[..h.len() + 1 + p.len()];
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            &key.public,
        )
        .verify(signed.as_bytes(), &sig_bytes)
        .map_err(|_| JwtError::Signature)?;
        decode_json(p)
    }

    /// The public keys that can still verify, as a JWK Set (RFC 7517).
    pub fn jwks(&self, now: UnixSeconds) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .filter(|k| k.verify_until.is_none_or(|v| v > now))
            .map(|k| {
                let point = k.verifying.to_encoded_point(false);
                serde_json::json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "alg": "ES256",
                    "use": "sig",
                    "kid": k.kid,
                    "x": URL_SAFE_NO_PAD.encode(point.x().expect("uncompressed point has x")),
                    "y": URL_SAFE_NO_PAD.encode(point.y().expect("uncompressed point has y")),
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

fn decode_json(part: &str) -> Result<serde_json::Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
    if !v.is_object() {
        return Err(JwtError::Malformed);
    }
    Ok(v)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
}

impl JwtError {
    /// Stable reason code.
    pub fn reason(self) -> &'static str {
        match self {
            JwtError::Malformed => "jwt_malformed",
            JwtError::Algorithm => "jwt_alg_refused",
            JwtError::UnknownKey => "jwt_unknown_kid",
            JwtError::Signature => "jwt_bad_signature",
        }
    }
}

/// Where the key document comes from.
#[async_trait]
pub trait KeySource: Send + Sync + 'static {
    async fn load(&self) -> Result<KeyDocument, KeyError>;
    /// Replaces the document (rotation by the admin command).
    async fn store(&self, doc: &KeyDocument) -> Result<(), KeyError>;
}

/// An in-memory key document: the embedded default and tests.
pub struct MemoryKeySource(std::sync::Mutex<KeyDocument>);

impl MemoryKeySource {
    pub fn new(doc: KeyDocument) -> Self {
        Self(std::sync::Mutex::new(doc))
    }
}

#[async_trait]
impl KeySource for MemoryKeySource {
    async fn load(&self) -> Result<KeyDocument, KeyError> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
    async fn store(&self, doc: &KeyDocument) -> Result<(), KeyError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = doc.clone();
        Ok(())
    }
}

/// Secrets Manager adapter.
pub struct SecretsManagerKeySource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerKeySource {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }
}

#[async_trait]
impl KeySource for SecretsManagerKeySource {
    async fn load(&self) -> Result<KeyDocument, KeyError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                KeyError::Unavailable(format!(
                    "secret '{}': {}",
                    self.secret_id,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ))
            })?;
        let text = out.secret_string().ok_or_else(|| {
            KeyError::Malformed(format!("secret '{}' has no SecretString", self.secret_id))
        })?;
        serde_json::from_str(text)
            .map_err(|e| KeyError::Malformed(format!("secret '{}': {e}", self.secret_id)))
    }

    async fn store(&self, doc: &KeyDocument) -> Result<(), KeyError> {
        let text = serde_json::to_string(doc).map_err(|e| KeyError::Malformed(e.to_string()))?;
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(text)
            .send()
            .await
            .map_err(|e| {
                KeyError::Unavailable(format!(
                    "secret '{}': {}",
                    self.secret_id,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ))
            })?;
        Ok(())
    }
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

    const NOW: i64 = 1_800_000_000;

    fn ring() -> KeyRing {
        KeyRing::from_document(&KeyDocument::generate(NOW)).unwrap()
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
                r.keys[0].kid
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
        assert_eq!(r.jwks(NOW + 50)["keys"].as_array().unwrap().len(), 2);
        assert_eq!(r.verify_jwt(&token, NOW + 100), Err(JwtError::UnknownKey));
        assert_eq!(r.jwks(NOW + 100)["keys"].as_array().unwrap().len(), 1);
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
        assert_eq!(
            r.jwks(NOW + 101)["keys"].as_array().unwrap().len(),
            2,
            "new key published first"
        );
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
        let secret = crate::crypto::Secret::generate();
        let hash = before.peppers().hash("apikey", &secret);
        let id = rotate_pepper(&mut doc, NOW + 10);
        let after = KeyRing::from_document(&doc).unwrap();
        assert_eq!(after.peppers().current().id, id);
        assert!(after.peppers().verify("apikey", &hash, secret.expose()));
    }

    #[test]
    fn jwks_has_p256_coordinates() {
        let j = ring().jwks(NOW);
        let k = &j["keys"][0];
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
