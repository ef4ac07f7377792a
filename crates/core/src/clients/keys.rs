//! An OAuth client's public keys, for `private_key_jwt` (RFC 7523; docs/FAPI.md "Client
//! authentication with keys"): registered inline (`jwks`, at most [`MAX_KEYS`]) or by a
//! `jwksUri` keygate fetches through the SSRF guard. A client with keys has no secret.
//!
//! What is stored is normalised: each key reduced to the public members of its type (`EC`: `crv`,
//! `x`, `y`; `OKP`: `crv`, `x`; `RSA`: `n`, `e`; and `kty`, `kid`, `alg`, `use`), each a string,
//! checked to be a key keygate can verify an assertion with (P-256, RSA of at least 2048 bits
//! with an odd `e` ≥ 3, Ed25519; [`crate::oauth::jws::Alg::fits`]), never a private or symmetric
//! one. Each registration has an id of its own ([`ClientKeys::id`]) that
//! tokens carry as `sid`, as they carry a secret's: changing the keys stops the tokens obtained
//! with the previous ones at the next request, as rotating a secret without grace does.

use jsonwebtoken::jwk::Jwk;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::kernel::error::{ApiError, ApiResult};
use crate::oauth::jws::{self, Alg};

/// Most keys an inline `jwks` may hold.
pub const MAX_KEYS: usize = 5;
/// Longest `kid`.
const MAX_KID: usize = 128;
/// The members every kept key may have besides its type's.
const COMMON: &[&str] = &["kty", "kid", "alg", "use"];

/// The public members of a key of type `kty`, `None` for a type keygate does not verify with.
fn members_of(kty: &str) -> Option<&'static [&'static str]> {
    match kty {
        "EC" => Some(&["crv", "x", "y"]),
        "OKP" => Some(&["crv", "x"]),
        "RSA" => Some(&["n", "e"]),
        _ => None,
    }
}
/// The algorithms a registered key may name in its `alg`.
const KEY_ALGS: &[Alg] = &[Alg::Es256, Alg::Ps256, Alg::EdDsa, Alg::Ed25519];

/// Where an OAuth client's public keys are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeySource {
    /// Registered inline: each a public JWK, normalised ([`validate_jwks`]).
    Jwks(Vec<Value>),
    /// Published by the client: fetched (SSRF-guarded), cached for minutes, fetched again once
    /// on an unknown `kid` ([`crate::ports::jwks::RemoteJwks`]).
    JwksUri(String),
}

/// A client's registered keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientKeys {
    /// This registration's id: the `sid` of the tokens obtained with these keys, so a change of
    /// keys ends them.
    pub id: String,
    pub source: KeySource,
}

impl ClientKeys {
    /// A new registration of `source`, with a fresh id.
    pub fn new(source: KeySource) -> Self {
        Self {
            id: format!("k{}", &crate::kernel::ids::random_suffix()[..8]),
            source,
        }
    }

    /// The inline keys, or the URI they are published at.
    pub fn inline(&self) -> Option<&[Value]> {
        match &self.source {
            KeySource::Jwks(keys) => Some(keys),
            KeySource::JwksUri(_) => None,
        }
    }

    pub fn jwks_uri(&self) -> Option<&str> {
        match &self.source {
            KeySource::JwksUri(u) => Some(u),
            KeySource::Jwks(_) => None,
        }
    }
}

fn invalid(msg: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::bad_request("jwks_invalid", msg)
}

/// Checks one public JWK as registered (or as published at a `jwksUri`): a JSON object without
/// private members, of a type keygate verifies (P-256, RSA ≥ 2048 bits with an odd `e` ≥ 3,
/// Ed25519), every member kept a string, `use` (if any) `sig`, `alg` (if any) one of ES256,
/// PS256, EdDSA, Ed25519 that fits the key, `kid` (if any) 1–128 visible characters. Returns it
/// reduced to the public members of its `kty` (an EC key's stray `n` is dropped, not kept).
pub fn normalise_key(key: &Value) -> Result<Value, &'static str> {
    let obj = key.as_object().ok_or("each key must be a JSON object")?;
    if jws::has_private_members(obj) {
        return Err("a key must be public: private or symmetric key members are refused");
    }
    let own = obj
        .get("kty")
        .and_then(Value::as_str)
        .and_then(members_of)
        .ok_or("each key must be a JWK (kty EC, RSA or OKP with its members)")?;
    let mut kept = Map::new();
    for name in own.iter().chain(COMMON) {
        match obj.get(*name) {
            None => {}
            Some(Value::String(v)) => {
                kept.insert((*name).to_owned(), Value::String(v.clone()));
            }
            Some(_) => return Err("a key's members must be strings"),
        }
    }
    let jwk: Jwk = serde_json::from_value(Value::Object(kept.clone()))
        .map_err(|_| "each key must be a JWK (kty EC, RSA or OKP with its members)")?;
    if !KEY_ALGS.iter().any(|a| a.fits(&jwk)) {
        return Err(
            "each key must be P-256 (32-byte coordinates), RSA of at least 2048 bits with an odd exponent of at least 3, or Ed25519",
        );
    }
    match kept.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err("a key's use must be sig"),
    }
    match kept.get("alg") {
        None => {}
        Some(Value::String(a)) => match Alg::parse(a) {
            Some(alg) if alg.fits(&jwk) => {}
            _ => return Err("a key's alg must be ES256, PS256, EdDSA or Ed25519, and fit the key"),
        },
        Some(_) => return Err("a key's alg must be a string"),
    }
    match kept.get("kid") {
        None => {}
        Some(Value::String(k))
            if !k.is_empty() && k.len() <= MAX_KID && k.bytes().all(|b| b.is_ascii_graphic()) => {}
        Some(_) => return Err("a key's kid must be 1-128 visible ASCII characters"),
    }
    Ok(Value::Object(kept))
}

/// Checks an inline JWK Set (`{"keys": [...]}`): 1 to [`MAX_KEYS`] keys, each
/// [`normalise_key`]'s, no `kid` twice. Returns the keys, normalised.
pub fn validate_jwks(set: &Value) -> ApiResult<Vec<Value>> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .filter(|_| set.as_object().is_some_and(|o| o.len() == 1))
        .ok_or_else(|| invalid("jwks must be a JWK Set: {\"keys\": [...]}"))?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(invalid(format!("jwks must hold 1 to {MAX_KEYS} keys")));
    }
    let mut out: Vec<Value> = Vec::with_capacity(keys.len());
    for k in keys {
        let key = normalise_key(k).map_err(invalid)?;
        if let Some(kid) = key.get("kid") {
            if out.iter().any(|o| o.get("kid") == Some(kid)) {
                return Err(invalid("two keys have the same kid"));
            }
        }
        out.push(key);
    }
    Ok(out)
}

/// Checks a `jwksUri`: absolute `https`, a DNS name (no IP literal: the addresses it resolves to
/// are checked at every fetch), no credentials or fragment, at most 2048 characters; in local
/// mode `http` to a loopback host is allowed too.
pub fn validate_jwks_uri(raw: &str, local_mode: bool) -> ApiResult<String> {
    let checked = crate::kernel::urls::https_url(raw, local_mode, "jwks_uri_invalid", "jwksUri")?;
    let url = url::Url::parse(&checked)
        .map_err(|_| ApiError::bad_request("jwks_uri_invalid", "jwksUri is not an absolute URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    let literal = !matches!(url.host(), Some(url::Host::Domain(_)));
    if literal && !(local_mode && loopback) {
        return Err(ApiError::bad_request(
            "jwks_uri_invalid",
            "jwksUri must name its host by a DNS name (an address is not one keygate fetches from)",
        ));
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::dpop::ProofKey;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    #[test]
    fn public_keys_of_the_three_types_are_kept_normalised() {
        let mut es = ProofKey::es256().public_jwk();
        es["kid"] = json!("k1");
        es["x5c"] = json!(["MII..."]);
        let ed = ProofKey::ed25519().public_jwk();
        let rsa = ProofKey::ps256().public_jwk();
        let keys = validate_jwks(&json!({"keys": [es, ed, rsa]})).unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0]["kid"], "k1");
        assert!(keys[0].get("x5c").is_none(), "unknown members are dropped");
    }

    #[test]
    fn private_weak_odd_and_too_many_keys_are_refused() {
        let es = ProofKey::es256().public_jwk();
        let mut private = es.clone();
        private["d"] = json!("AAAA");
        let hmac = json!({"kty": "oct", "k": "c2VjcmV0"});
        let p384 = json!({"kty": "EC", "crv": "P-384", "x": es["x"], "y": es["y"]});
        let small_rsa = json!({"kty": "RSA", "n": "AQAB".repeat(40), "e": "AQAB"});
        let mut enc = es.clone();
        enc["use"] = json!("enc");
        let mut hs = es.clone();
        hs["alg"] = json!("HS256");
        let mut wrong_alg = es.clone();
        wrong_alg["alg"] = json!("EdDSA");
        let mut twin = es.clone();
        twin["kid"] = json!("same");
        for bad in [
            json!({"keys": []}),
            json!({"keys": [private]}),
            json!({"keys": [hmac]}),
            json!({"keys": [p384]}),
            json!({"keys": [small_rsa]}),
            json!({"keys": [enc]}),
            json!({"keys": [hs]}),
            json!({"keys": [wrong_alg]}),
            json!({"keys": [twin.clone(), twin]}),
            json!({"keys": vec![es.clone(); 6]}),
            json!([es.clone()]),
            json!({"keys": [es.clone()], "extra": 1}),
            json!({"keys": ["not a key"]}),
        ] {
            let e = validate_jwks(&bad).unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.reason),
                (400, "jwks_invalid"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_key_keeps_the_members_of_its_type_only_each_a_string() {
        let es = ProofKey::es256().public_jwk();
        let rsa = ProofKey::ps256().public_jwk();
        let ed = ProofKey::ed25519().public_jwk();
        // Another type's members are dropped, whatever they hold.
        let mut mixed = es.clone();
        mixed["n"] = rsa["n"].clone();
        mixed["e"] = json!(3);
        let kept = normalise_key(&mixed).unwrap();
        assert_eq!(kept, es, "{kept}");
        let mut mixed = rsa.clone();
        mixed["x"] = es["x"].clone();
        mixed["crv"] = json!("P-256");
        assert_eq!(normalise_key(&mixed).unwrap(), rsa);
        let mut mixed = ed.clone();
        mixed["y"] = es["y"].clone();
        assert_eq!(normalise_key(&mixed).unwrap(), ed);
        // The type's own members, and kid/alg/use, must be strings.
        for (base, member, value) in [
            (&es, "crv", json!(["P-256"])),
            (&es, "x", json!(1)),
            (&rsa, "e", json!(65537)),
            (&ed, "x", json!(null)),
            (&es, "kid", json!(7)),
            (&es, "use", json!(["sig"])),
            (&es, "alg", json!({"name": "ES256"})),
            (&es, "kty", json!(["EC"])),
        ] {
            let mut bad = base.clone();
            bad[member] = value;
            assert!(normalise_key(&bad).is_err(), "{bad}");
        }
        // RSA: the exponent odd and at least 3, the modulus 2048 bits counted exactly.
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut n = URL_SAFE_NO_PAD.decode(rsa["n"].as_str().unwrap()).unwrap();
        for (e, ok) in [
            (vec![1, 0, 1], true),
            (vec![3], true),
            (vec![1], false),
            (vec![2], false),
        ] {
            let mut key = rsa.clone();
            key["e"] = json!(b64(&e));
            assert_eq!(normalise_key(&key).is_ok(), ok, "e = {e:?}");
        }
        n[0] &= 0x7f; // 2047 bits, in 256 octets
        let mut short = rsa.clone();
        short["n"] = json!(b64(&n));
        assert!(normalise_key(&short).is_err());
    }

    #[test]
    fn jwks_uris_are_https_dns_names() {
        assert!(validate_jwks_uri("https://client.example/jwks.json", false).is_ok());
        assert!(validate_jwks_uri("http://127.0.0.1:8080/jwks", true).is_ok());
        assert!(validate_jwks_uri("http://localhost:8080/jwks", true).is_ok());
        for (bad, local) in [
            ("http://client.example/jwks", false),
            ("http://client.example/jwks", true),
            ("http://127.0.0.1:8080/jwks", false),
            ("https://10.0.0.1/jwks", true),
            ("https://169.254.169.254/latest/meta-data", true),
            ("https://[fd00:ec2::254]/", true),
            ("https://8.8.8.8/jwks", false),
            ("https://u:p@client.example/jwks", false),
            ("https://client.example/jwks#f", false),
            ("https://client.example/jwks\n", false),
            ("client.example/jwks", false),
        ] {
            let e = validate_jwks_uri(bad, local).unwrap_err();
            assert_eq!(e.reason, "jwks_uri_invalid", "{bad}");
        }
    }
}
