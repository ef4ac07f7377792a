//! The `jsonwebtoken` crypto provider: its own `aws_lc_rs` backend, with one change written here
//! because no option of the crate does it — ES256 signers are built once per key, not once per
//! signature.
//!
//! The crate's default signer parses the PKCS#8 document (and checks the key pair, a scalar
//! multiplication) on every `encode`, which about doubles the cost of issuing a token. Here the
//! parsed `EcdsaKeyPair` of each key is kept, by its DER, for the life of the process (a process
//! holds a handful of keys: the current one and those a rotation retired). Verification and every
//! other algorithm are the crate's own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};

struct Es256(Arc<EcdsaKeyPair>);

impl Signer<Vec<u8>> for Es256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        self.0
            .sign(&SystemRandom::new(), msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(signature::Error::from_source)
    }
}

impl JwtSigner for Es256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

/// Parsed ES256 key pairs, by PKCS#8 DER.
fn pairs() -> &'static Mutex<HashMap<Vec<u8>, Arc<EcdsaKeyPair>>> {
    static PAIRS: OnceLock<Mutex<HashMap<Vec<u8>, Arc<EcdsaKeyPair>>>> = OnceLock::new();
    PAIRS.get_or_init(Mutex::default)
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    if *alg != Algorithm::ES256 {
        return (default().signer_factory)(alg, key);
    }
    let mut pairs = pairs().lock().unwrap_or_else(|e| e.into_inner());
    let pair = match pairs.get(key.as_bytes()) {
        Some(p) => p.clone(),
        None => {
            let p = Arc::new(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.as_bytes())
                    .map_err(|_| Error::from(ErrorKind::InvalidEcdsaKey))?,
            );
            pairs.insert(key.as_bytes().to_vec(), p.clone());
            p
        }
    };
    Ok(Box::new(Es256(pair)))
}

fn default() -> &'static CryptoProvider {
    &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
}

/// Installs the provider as the process default (once; a later call is a no-op).
pub fn install() {
    static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();
    let provider = PROVIDER.get_or_init(|| CryptoProvider {
        signer_factory: signer,
        ..default().clone()
    });
    let _ = provider.install_default();
}
