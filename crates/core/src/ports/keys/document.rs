//! The key document kept in Secrets Manager, and the pure rotation policies on it.
//!
//! `{"signingKeys":[{"kid","alg":"ES256","privateKey":<b64url scalar>,"createdAt",`
//! `"retiredAt"?,"verifyUntil"?,"notBefore"?}],"peppers":[{"id","key":<b64url 32 bytes>,"createdAt"}]}`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};

use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::Pepper;

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
        p.id = format!("{}-{}", p.id, &crate::kernel::ids::random_suffix()[..4]);
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
        kid: format!("k{now}-{}", &crate::kernel::ids::random_suffix()[..6]),
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
