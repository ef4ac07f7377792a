//! Client assertions (`private_key_jwt`, RFC 7523 §2.2 and §3, as FAPI 2.0 final and RFC
//! 7523bis profile them): a JWT an OAuth client signs with one of its registered keys to
//! authenticate at the token, pushed-request, revocation and introspection endpoints.
//!
//! What an assertion must be, checked here in this order (the lockout and the records around it
//! are [`crate::identity::client_auth::authenticate_assertion`]'s):
//! 1. [`read`]: a compact JWS of at most 8 KiB whose claims name the client (`sub`, a string);
//! 2. [`Unverified::check`] (pure): header `alg` ES256, PS256, EdDSA or Ed25519 (never `none`,
//!    never a MAC), no `crit`, a `typ` (if any) of `JWT` or `client-authentication+jwt` (so a
//!    DPoP proof or an access token is never taken for one); claims `iss` = `sub` = the client
//!    id, `aud` the issuer identifier **as a string** (an array, or the token endpoint's URL, is
//!    refused: FAPI 2.0 §5.3.2.1 and RFC 7523bis close the audience-injection attack that way),
//!    `exp` in the future and at most [`MAX_LIFETIME`] ahead, `iat` (and `nbf` when present) at
//!    most [`MAX_AHEAD`] ahead, a `jti` of 1–128 visible characters;
//! 3. [`Unverified::verify`]: the signature, under the key its `kid` names, or every key of the
//!    client's set that fits the `alg` when it names none (a key's own `alg`, if any, must be
//!    the header's);
//! 4. [`claim`]: the `jti`, claimed for the client with the at-most-once conditional put nonces
//!    use, until the assertion expires — last, so only an assertion that passed everything
//!    else can use one up, and none is ever accepted twice.
//!
//! The key, its type and the signature check are jsonwebtoken's (`Jwk`, `DecodingKey::from_jwk`,
//! `crypto::verify`), the token read by [`crate::oauth::jws`]. Written here, because no crate
//! checks them: the audience rule above (jsonwebtoken's accepts an array holding the value),
//! the times against keygate's clock rather than the system's, the lifetime bound, the `typ`
//! rule, and the `jti` claim, which needs the table.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::kernel::clock::UnixSeconds;
pub use crate::kernel::clock::MAX_AHEAD;
use crate::kernel::error::ApiResult;
use crate::oauth::jws::{Alg, Compact};
use crate::ports::store::{Condition, Item, Key, StoreError, Table};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The algorithms accepted (and advertised as `*_endpoint_auth_signing_alg_values_supported`).
pub const ALGS: &[&str] = &["ES256", "PS256", "EdDSA", "Ed25519"];
/// Longest an assertion may be valid for, from now: its `exp` at most this far ahead.
pub const MAX_LIFETIME: i64 = 300;
/// Longest assertion read (an RSA-signed one is about 700 bytes).
const MAX_ASSERTION: usize = 8192;
/// Longest `jti`.
const MAX_JTI: usize = 128;

/// Why an assertion is refused: its reason code and a sentence, both for the log only. Every
/// refusal is `401 invalid_client` with the same generic message: until its signature verifies,
/// the caller has proven nothing, and is told nothing about the client or its keys
/// ([`crate::identity::client_auth::authenticate_assertion`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// `client_assertion_alg`, `client_assertion_header`, `client_assertion_claims` or
    /// `client_assertion_signature`.
    pub reason: &'static str,
    pub why: &'static str,
}

impl Refused {
    /// The header's `alg` is not one of [`ALGS`].
    const fn alg(why: &'static str) -> Self {
        Self {
            reason: "client_assertion_alg",
            why,
        }
    }
    /// Another header rule (`crit`, `typ`).
    const fn header(why: &'static str) -> Self {
        Self {
            reason: "client_assertion_header",
            why,
        }
    }
    /// A claim rule.
    const fn claims(why: &'static str) -> Self {
        Self {
            reason: "client_assertion_claims",
            why,
        }
    }
    /// The signature.
    const fn signature(why: &'static str) -> Self {
        Self {
            reason: "client_assertion_signature",
            why,
        }
    }
}

/// The claims as they came (so each check can say what is wrong).
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<Value>,
    sub: String,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    nbf: Option<Value>,
    #[serde(default)]
    jti: Option<Value>,
}

/// An assertion read, not yet checked: whom it says it is from.
#[derive(Debug)]
pub struct Unverified<'a> {
    token: Compact<'a>,
    claims: Claims,
}

/// Reads an assertion: a compact JWS whose claims carry a `sub`. `None` when it is not even
/// that (no client can be named: refused as malformed).
pub fn read(assertion: &str) -> Option<Unverified<'_>> {
    let token = Compact::parse(assertion, MAX_ASSERTION)?;
    let claims: Claims = token.claims()?;
    Some(Unverified { token, claims })
}

/// A whole number of seconds (a NumericDate keygate accepts).
fn seconds(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64)
}

/// An assertion that passed [`Unverified::check`] and [`Unverified::verify`]: its `jti` still to
/// be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub client_id: String,
    pub jti: String,
    pub exp: UnixSeconds,
}

/// What [`Unverified::verify`] found among the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Verified(Verified),
    /// No key of the set is the one the header names (its `kid`, or one that fits its `alg`):
    /// a published set may have changed, and is worth fetching again once.
    NoSuchKey,
    /// A key was found and the signature does not verify under it.
    Refused(Refused),
}

impl Unverified<'_> {
    /// The client it names (`sub`), unverified.
    pub fn client_id(&self) -> &str {
        &self.claims.sub
    }

    /// The header and the claims, for the issuer `issuer` at `now` (pure): the algorithm to
    /// verify the signature with.
    pub fn check(&self, issuer: &str, now: UnixSeconds) -> Result<Alg, Refused> {
        let alg = self.token.alg().ok_or(Refused::alg(
            "the client assertion's alg must be ES256, PS256, EdDSA or Ed25519",
        ))?;
        if self.token.header.contains_key("crit") {
            return Err(Refused::header(
                "the client assertion's header has crit members",
            ));
        }
        match self.token.header.get("typ") {
            None => {}
            Some(Value::String(t))
                if t.eq_ignore_ascii_case("JWT")
                    || t.eq_ignore_ascii_case("client-authentication+jwt") => {}
            Some(_) => {
                return Err(Refused::header(
                    "the client assertion's typ must be JWT or client-authentication+jwt",
                ))
            }
        }
        let c = &self.claims;
        if c.iss.as_ref().and_then(Value::as_str) != Some(c.sub.as_str()) {
            return Err(Refused::claims(
                "the client assertion's iss and sub must both be the client id",
            ));
        }
        match &c.aud {
            Some(Value::String(a)) if a == issuer => {}
            _ => {
                return Err(Refused::claims(
                    "the client assertion's aud must be the issuer identifier, as a string",
                ))
            }
        }
        let exp =
            seconds(c.exp.as_ref()).ok_or(Refused::claims("the client assertion has no exp"))?;
        if exp <= now {
            return Err(Refused::claims("the client assertion has expired"));
        }
        if exp > now + MAX_LIFETIME {
            return Err(Refused::claims(
                "the client assertion's exp is more than 5 minutes ahead",
            ));
        }
        let iat =
            seconds(c.iat.as_ref()).ok_or(Refused::claims("the client assertion has no iat"))?;
        if iat > now + MAX_AHEAD {
            return Err(Refused::claims(
                "the client assertion's iat is in the future",
            ));
        }
        match &c.nbf {
            None => {}
            Some(v) => match v.as_i64() {
                Some(nbf) if nbf <= now + MAX_AHEAD => {}
                Some(_) => {
                    return Err(Refused::claims(
                        "the client assertion is not valid yet (nbf)",
                    ))
                }
                None => {
                    return Err(Refused::claims(
                        "the client assertion's nbf is not a number",
                    ))
                }
            },
        }
        match c.jti.as_ref().and_then(Value::as_str) {
            Some(j)
                if !j.is_empty()
                    && j.len() <= MAX_JTI
                    && j.bytes().all(|b| b.is_ascii_graphic()) => {}
            _ => {
                return Err(Refused::claims(
                    "the client assertion needs a jti of 1-128 visible characters",
                ))
            }
        }
        Ok(alg)
    }

    /// The signature under `keys` (the client's set, normalised JWKs), for `alg` (from
    /// [`Unverified::check`]).
    pub fn verify(&self, alg: Alg, keys: &[Value]) -> KeyCheck {
        let kid = self.token.header_str("kid");
        let candidates: Vec<Jwk> = keys
            .iter()
            .filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid)
            .filter(|k| match k.get("alg").and_then(Value::as_str) {
                None => true,
                Some(a) => Alg::parse(a).is_some_and(|a| a.same_signature(alg)),
            })
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .filter(|k| alg.fits(k))
            .collect();
        if candidates.is_empty() {
            return KeyCheck::NoSuchKey;
        }
        let good = candidates
            .iter()
            .any(|jwk| DecodingKey::from_jwk(jwk).is_ok_and(|key| self.token.verifies(alg, &key)));
        if !good {
            return KeyCheck::Refused(Refused::signature(
                "the client assertion's signature does not verify",
            ));
        }
        let c = &self.claims;
        match (
            c.jti.as_ref().and_then(Value::as_str),
            seconds(c.exp.as_ref()),
        ) {
            (Some(jti), Some(exp)) => KeyCheck::Verified(Verified {
                client_id: c.sub.clone(),
                jti: jti.to_owned(),
                exp,
            }),
            _ => KeyCheck::Refused(Refused::signature("the client assertion is incomplete")),
        }
    }
}

fn jti_key(v: &Verified) -> Key {
    let jti = URL_SAFE_NO_PAD.encode(Sha256::digest(v.jti.as_bytes()));
    Key::new(format!("ASSERTJTI#{}#{jti}", v.client_id), "ASSERTJTI")
}

/// Claims a verified assertion's `jti` for its client.
///
/// **At most once**: of any number of requests with one assertion, concurrent or not, exactly
/// one claims it (a conditional put); every other gets `false`. The claim lives until the
/// assertion expires (after which [`Unverified::check`] refuses it anyway).
pub async fn claim(table: &dyn Table, v: &Verified, now: UnixSeconds) -> ApiResult<bool> {
    let item = Item::new(jti_key(v), &v.exp)?.with_ttl(v.exp.max(now) + 1);
    match table.put(item, Condition::Vacant { now }).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::dpop::{assertion_claims, ProofKey};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const ISS: &str = "https://kg.test";
    const ID: &str = "oc_client";

    fn checked(token: &str) -> Result<Alg, Refused> {
        read(token)
            .ok_or(Refused::claims("unreadable"))?
            .check(ISS, NOW)
    }

    fn verified(token: &str, keys: &[Value]) -> KeyCheck {
        let u = read(token).unwrap();
        let alg = u.check(ISS, NOW).unwrap();
        u.verify(alg, keys)
    }

    #[test]
    fn a_good_assertion_of_each_algorithm_verifies() {
        for key in [
            ProofKey::es256(),
            ProofKey::ed25519(),
            ProofKey::ed25519_fully_specified(),
            ProofKey::ps256(),
        ] {
            let token = key.assertion(ID, ISS, NOW, None);
            let KeyCheck::Verified(v) = verified(&token, &[key.public_jwk()]) else {
                panic!("{} verifies", key.alg());
            };
            assert_eq!((v.client_id.as_str(), v.exp), (ID, NOW + 60));
        }
    }

    #[test]
    fn every_claim_rule_refuses_its_breach() {
        let key = ProofKey::es256();
        let with = |name: &str, value: Value| {
            let mut c = assertion_claims(ID, ISS, NOW);
            c[name] = value;
            key.assertion_with(&c, None)
        };
        let without = |name: &str| {
            let mut c = assertion_claims(ID, ISS, NOW);
            c.as_object_mut().unwrap().remove(name);
            key.assertion_with(&c, None)
        };
        let cases = [
            (with("aud", json!(format!("{ISS}/api/oauth2/token"))), "aud"),
            (with("aud", json!([ISS])), "aud"),
            (with("aud", json!("https://other.test")), "aud"),
            (without("aud"), "aud"),
            (with("iss", json!("oc_other")), "iss"),
            (without("iss"), "iss"),
            (with("exp", json!(NOW)), "expired"),
            (with("exp", json!(NOW - 1)), "expired"),
            (with("exp", json!(NOW + MAX_LIFETIME + 1)), "5 minutes"),
            (with("exp", json!("soon")), "exp"),
            (without("exp"), "exp"),
            (with("iat", json!(NOW + MAX_AHEAD + 1)), "iat"),
            (without("iat"), "iat"),
            (with("nbf", json!(NOW + MAX_AHEAD + 1)), "nbf"),
            (without("jti"), "jti"),
            (with("jti", json!("")), "jti"),
            (with("jti", json!("x".repeat(129))), "jti"),
            (with("jti", json!(42)), "jti"),
        ];
        for (token, word) in cases {
            let e = checked(&token).unwrap_err();
            assert!(e.why.contains(word), "{word}: {}", e.why);
            assert_eq!(e.reason, "client_assertion_claims");
        }
        // The edges that pass: 10 s ahead, exp exactly 5 minutes on.
        assert!(checked(&with("iat", json!(NOW + MAX_AHEAD))).is_ok());
        assert!(checked(&with("nbf", json!(NOW + MAX_AHEAD))).is_ok());
        assert!(checked(&with("exp", json!(NOW + MAX_LIFETIME))).is_ok());
        assert!(checked(&without("nbf")).is_ok());
    }

    #[test]
    fn headers_other_than_a_signature_of_ours_are_refused() {
        let key = ProofKey::es256();
        let claims = assertion_claims(ID, ISS, NOW);
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims));
        for (header, word, reason) in [
            (json!({"alg": "HS256"}), "alg", "client_assertion_alg"),
            (json!({"alg": "RS256"}), "alg", "client_assertion_alg"),
            (
                json!({"alg": "ES256", "typ": "dpop+jwt"}),
                "typ",
                "client_assertion_header",
            ),
            (
                json!({"alg": "ES256", "typ": "at+jwt"}),
                "typ",
                "client_assertion_header",
            ),
            (
                json!({"alg": "ES256", "crit": ["exp"]}),
                "crit",
                "client_assertion_header",
            ),
        ] {
            let e = checked(&key.sign_header(&header, &claims)).unwrap_err();
            assert!(e.why.contains(word), "{header}: {}", e.why);
            assert_eq!(e.reason, reason, "{header}");
        }
        assert_eq!(checked(&none).unwrap_err().reason, "client_assertion_alg");
        for typ in ["JWT", "client-authentication+jwt"] {
            let ok = key.sign_header(&json!({"alg": "ES256", "typ": typ}), &claims);
            assert!(checked(&ok).is_ok(), "{typ}");
        }
        for junk in ["", "a.b", "x.y.z", &"a".repeat(9000)] {
            assert!(read(junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn keys_are_chosen_by_kid_and_alg_and_a_forgery_fails() {
        let (a, b) = (ProofKey::es256(), ProofKey::es256());
        let set = [a.public_jwk_with_kid("a"), b.public_jwk_with_kid("b")];
        // kid named: that key; no kid: each key is tried.
        let by_kid = a.assertion(ID, ISS, NOW, Some("a"));
        assert!(matches!(verified(&by_kid, &set), KeyCheck::Verified(_)));
        let no_kid = b.assertion(ID, ISS, NOW, None);
        assert!(matches!(verified(&no_kid, &set), KeyCheck::Verified(_)));
        // The kid of another key: that key does not verify it.
        let lying = a.assertion(ID, ISS, NOW, Some("b"));
        assert!(matches!(verified(&lying, &set), KeyCheck::Refused(_)));
        // An unknown kid, or no key of the alg's type: worth a fresh copy of a published set.
        let unknown = a.assertion(ID, ISS, NOW, Some("c"));
        assert_eq!(verified(&unknown, &set), KeyCheck::NoSuchKey);
        let ed = ProofKey::ed25519().assertion(ID, ISS, NOW, None);
        assert_eq!(verified(&ed, &set), KeyCheck::NoSuchKey);
        // Signed by a key the client does not have.
        let stranger = ProofKey::es256().assertion(ID, ISS, NOW, None);
        assert!(matches!(verified(&stranger, &set), KeyCheck::Refused(_)));
        // A key registered for PS256 is not used for ES256.
        let mut pinned = a.public_jwk();
        pinned["alg"] = json!("PS256");
        assert_eq!(
            verified(&a.assertion(ID, ISS, NOW, None), &[pinned]),
            KeyCheck::NoSuchKey
        );
        // HS256 "signed" with the public key's bytes: refused before any key is looked at.
        let jwk_bytes = a.public_jwk().to_string();
        let hs = {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256"}).to_string());
            let body = URL_SAFE_NO_PAD.encode(assertion_claims(ID, ISS, NOW).to_string());
            let key = jsonwebtoken::EncodingKey::from_secret(jwk_bytes.as_bytes()).unwrap();
            let sig = jsonwebtoken::crypto::sign(
                format!("{header}.{body}").as_bytes(),
                &key,
                jsonwebtoken::Algorithm::HS256,
            )
            .unwrap();
            format!("{header}.{body}.{sig}")
        };
        assert_eq!(checked(&hs).unwrap_err().reason, "client_assertion_alg");
    }

    #[test]
    fn an_assertion_never_debug_prints_itself() {
        let token = ProofKey::es256().assertion(ID, ISS, NOW, None);
        let shown = format!("{:?}", read(&token).unwrap());
        let signature = token.rsplit('.').next().unwrap();
        assert!(!shown.contains(signature), "{shown}");
        assert!(shown.contains("ES256"), "the header is shown: {shown}");
    }

    #[tokio::test]
    async fn a_jti_is_claimed_once_per_client() {
        let table = crate::ports::store::memory::MemoryTable::new();
        let v = Verified {
            client_id: ID.into(),
            jti: "j1".into(),
            exp: NOW + 60,
        };
        assert!(claim(&table, &v, NOW).await.unwrap());
        assert!(!claim(&table, &v, NOW + 30).await.unwrap());
        let other = Verified {
            client_id: "oc_other".into(),
            ..v.clone()
        };
        assert!(claim(&table, &other, NOW).await.unwrap());
        let key = jti_key(&v);
        assert!(key.pk.starts_with("ASSERTJTI#"));
        assert_eq!(
            crate::ports::store::placement::placement(&key.pk),
            crate::ports::store::placement::Placement::Volatile
        );
    }
}
