//! DPoP proofs (RFC 9449 §4.2) and client assertions (RFC 7523) as a client builds them, for the
//! tests and benchmarks: a fresh ES256, Ed25519 or PS256 key (aws-lc-rs), its public JWK, and
//! JWTs signed with jsonwebtoken (`crypto::sign`, so the header can name `Ed25519`, which
//! jsonwebtoken's `Header` cannot).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

/// A client's key: for DPoP proofs, or for `private_key_jwt` assertions.
pub struct ProofKey {
    key: EncodingKey,
    alg: Algorithm,
    /// The `alg` its JWTs' headers name (`EdDSA` or `Ed25519` for the same signature).
    name: &'static str,
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
        Self::from_der(
            EncodingKey::from_ec_der(pkcs8.as_ref()),
            Algorithm::ES256,
            "ES256",
        )
    }

    /// A new Ed25519 key, its JWTs naming `alg: EdDSA` (RFC 8037).
    pub fn ed25519() -> Self {
        Self::ed25519_named("EdDSA")
    }

    /// A new Ed25519 key, its JWTs naming `alg: Ed25519` (RFC 9864's fully-specified name, as
    /// current clients send it).
    pub fn ed25519_fully_specified() -> Self {
        Self::ed25519_named("Ed25519")
    }

    fn ed25519_named(name: &'static str) -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 =
            aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8v1(&rng).expect("an Ed25519 key");
        Self::from_der(
            EncodingKey::from_ed_der(pkcs8.as_ref()),
            Algorithm::EdDSA,
            name,
        )
    }

    /// A new RSA key of 2048 bits (PS256; client assertions only).
    pub fn ps256() -> Self {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("an RSA key");
        let pkcs8 = pair.as_der().expect("its PKCS#8");
        let pkcs1 = pkcs1_of(pkcs8.as_ref());
        Self::from_der(EncodingKey::from_rsa_der(&pkcs1), Algorithm::PS256, "PS256")
    }

    fn from_der(key: EncodingKey, alg: Algorithm, name: &'static str) -> Self {
        let jwk = Jwk::from_encoding_key(&key, alg).expect("a public JWK");
        Self {
            key,
            alg,
            name,
            jwk,
        }
    }

    /// The `alg` its JWTs name.
    pub fn alg(&self) -> &'static str {
        self.name
    }

    /// The public key as a JWK (what the proof's header carries, what a client registers).
    pub fn public_jwk(&self) -> Value {
        serde_json::to_value(&self.jwk).expect("a JWK serialises")
    }

    /// The public JWK with a `kid`.
    pub fn public_jwk_with_kid(&self, kid: &str) -> Value {
        let mut jwk = self.public_jwk();
        jwk["kid"] = json!(kid);
        jwk
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
        claims["nonce"] = json!(nonce);
        self.sign("dpop+jwt", &claims)
    }

    fn claims(method: &str, url: &str, iat: i64, access_token: Option<&str>) -> Value {
        let mut claims = json!({
            "jti": format!("j{}", crate::kernel::ids::random_suffix()),
            "htm": method,
            "htu": url,
            "iat": iat,
        });
        if let Some(t) = access_token {
            claims["ath"] = json!(crate::oauth::dpop::ath(t));
        }
        claims
    }

    /// A proof with another `typ` (to show it is refused).
    pub fn proof_with_typ(&self, typ: &str, method: &str, url: &str, iat: i64) -> String {
        self.sign(typ, &Self::claims(method, url, iat, None))
    }

    /// Signs any claims as a proof of this key.
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        self.sign_with_jwk(typ, claims, self.public_jwk())
    }

    /// Signs `claims` with this key, `jwk` in the header.
    fn sign_with_jwk(&self, typ: &str, claims: &Value, jwk: Value) -> String {
        self.sign_header(&json!({"typ": typ, "alg": self.name, "jwk": jwk}), claims)
    }

    /// Signs `claims` under exactly `header` (its `alg` whatever the caller says: tests show
    /// what a lying header gets).
    pub fn sign_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &self.key, self.alg).expect("a JWT signs");
        format!("{input}.{sig}")
    }

    /// A proof for `method` `url` at `iat` whose header carries `jwk` instead of this key's.
    pub fn proof_under(&self, jwk: Value, method: &str, url: &str, iat: i64) -> String {
        self.sign_with_jwk("dpop+jwt", &Self::claims(method, url, iat, None), jwk)
    }

    /// A client assertion (RFC 7523 §3) of `client_id` for the audience `aud` at `now`, as
    /// oauth4webapi makes one: `iss` = `sub` = the client, `exp` a minute on, `iat` = `nbf` =
    /// now, a fresh `jti`; `kid` in the header when given.
    pub fn assertion(&self, client_id: &str, aud: &str, now: i64, kid: Option<&str>) -> String {
        self.assertion_with(&assertion_claims(client_id, aud, now), kid)
    }

    /// A client assertion with exactly these claims.
    pub fn assertion_with(&self, claims: &Value, kid: Option<&str>) -> String {
        let mut header = json!({"alg": self.name});
        if let Some(k) = kid {
            header["kid"] = json!(k);
        }
        self.sign_header(&header, claims)
    }
}

/// The claims of a good client assertion of `client_id` for `aud` at `now` (change one to show
/// it refused).
pub fn assertion_claims(client_id: &str, aud: &str, now: i64) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "exp": now + 60,
        "iat": now,
        "nbf": now,
        "jti": format!("a{}", crate::kernel::ids::random_suffix()),
    })
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (what jsonwebtoken's RSA
/// `EncodingKey` takes): the octet string after the version and the algorithm.
fn pkcs1_of(pkcs8: &[u8]) -> Vec<u8> {
    /// One DER element: (tag, contents, what follows).
    fn element(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (b[0], b[1] as usize);
        let (len, head) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            let len = b[2..2 + n]
                .iter()
                .fold(0usize, |l, x| (l << 8) | *x as usize);
            (len, 2 + n)
        };
        (tag, &b[head..head + len], &b[head + len..])
    }
    let (_, info, _) = element(pkcs8);
    let (_, _, rest) = element(info); // version
    let (_, _, rest) = element(rest); // algorithm
    let (tag, key, _) = element(rest);
    assert_eq!(tag, 0x04, "PKCS#8 private key octet string");
    key.to_vec()
}
