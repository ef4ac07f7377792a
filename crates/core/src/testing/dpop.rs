//! DPoP proofs as a client builds them (RFC 9449 §4.2), for the tests and benchmarks: a fresh
//! ES256 or Ed25519 key (aws-lc-rs), its public JWK, and proofs signed with jsonwebtoken.

use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// A client's proof-of-possession key.
pub struct ProofKey {
    key: EncodingKey,
    alg: Algorithm,
    jwk: Jwk,
}

impl ProofKey {
    /// A new P-256 key (ES256).
    pub fn es256() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .expect("a P-256 key");
        Self::from_der(EncodingKey::from_ec_der(pkcs8.as_ref()), Algorithm::ES256)
    }

    /// A new Ed25519 key (EdDSA).
    pub fn ed25519() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 =
            aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8v1(&rng).expect("an Ed25519 key");
        Self::from_der(EncodingKey::from_ed_der(pkcs8.as_ref()), Algorithm::EdDSA)
    }

    fn from_der(key: EncodingKey, alg: Algorithm) -> Self {
        let jwk = Jwk::from_encoding_key(&key, alg).expect("a public JWK");
        Self { key, alg, jwk }
    }

    /// The public key as a JWK (what the proof's header carries).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::to_value(&self.jwk).expect("a JWK serialises")
    }

    /// Its RFC 7638 thumbprint: what a bound token's `cnf.jkt` holds.
    pub fn jkt(&self) -> String {
        self.jwk
            .thumbprint(ThumbprintHash::SHA256)
            .expect("a thumbprint")
    }

    /// A proof for `method` `url` at `iat`, with `ath` for `access_token` when given, and a
    /// fresh `jti`.
    pub fn proof(&self, method: &str, url: &str, iat: i64, access_token: Option<&str>) -> String {
        self.sign("dpop+jwt", &Self::claims(method, url, iat, access_token))
    }

    /// The same, carrying the server nonce `nonce`.
    pub fn proof_with_nonce(
        &self,
        method: &str,
        url: &str,
        iat: i64,
        access_token: Option<&str>,
        nonce: &str,
    ) -> String {
        let mut claims = Self::claims(method, url, iat, access_token);
        claims["nonce"] = serde_json::json!(nonce);
        self.sign("dpop+jwt", &claims)
    }

    fn claims(method: &str, url: &str, iat: i64, access_token: Option<&str>) -> serde_json::Value {
        let mut claims = serde_json::json!({
            "jti": format!("j{}", crate::kernel::ids::random_suffix()),
            "htm": method,
            "htu": url,
            "iat": iat,
        });
        if let Some(t) = access_token {
            claims["ath"] = serde_json::json!(crate::oauth::dpop::ath(t));
        }
        claims
    }

    /// A proof with another `typ` (to show it is refused).
    pub fn proof_with_typ(&self, typ: &str, method: &str, url: &str, iat: i64) -> String {
        self.sign(typ, &Self::claims(method, url, iat, None))
    }

    /// Signs any claims as a proof of this key.
    pub fn sign(&self, typ: &str, claims: &serde_json::Value) -> String {
        self.sign_with_jwk(typ, claims, self.jwk.clone())
    }

    /// Signs `claims` with this key, `jwk` in the header.
    fn sign_with_jwk(&self, typ: &str, claims: &serde_json::Value, jwk: Jwk) -> String {
        let mut header = Header::new(self.alg);
        header.typ = Some(typ.to_owned());
        header.jwk = Some(jwk);
        jsonwebtoken::encode(&header, claims, &self.key).expect("a proof signs")
    }

    /// A proof for `method` `url` at `iat` whose header carries `jwk` instead of this key's.
    pub fn proof_under(&self, jwk: serde_json::Value, method: &str, url: &str, iat: i64) -> String {
        let jwk = serde_json::from_value(jwk).expect("a JWK");
        self.sign_with_jwk("dpop+jwt", &Self::claims(method, url, iat, None), jwk)
    }
}
