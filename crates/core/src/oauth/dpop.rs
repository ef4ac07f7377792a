//! DPoP (RFC 9449): proof that the caller holds the private key a token is bound to.
//!
//! A proof is a JWT the client signs for one request: header `typ: dpop+jwt`, `alg` ES256,
//! EdDSA or Ed25519 (RFC 9864's fully-specified name for EdDSA on Ed25519, which current clients
//! send), and the public key itself as `jwk`; claims `jti` (single use), `htm` (the method),
//! `htu` (the URL, without query or fragment), `iat`, and on resource requests `ath` (the
//! SHA-256 of the access token). [`check`] is pure — format, signature, claims — and returns
//! the key's RFC 7638 thumbprint (`jkt`), which tokens carry as `cnf.jkt`; [`claim`] then claims
//! the `jti` with the same at-most-once conditional put as signed requests' nonces, last, so
//! only an otherwise valid proof can burn one and no replay ever passes.
//!
//! The key, its thumbprint and the signature check are jsonwebtoken's (its `Jwk`,
//! `DecodingKey::from_jwk`, `crypto::verify`, `Jwk::thumbprint`); the token is read by
//! [`crate::oauth::jws`], which says why it does not go through `jsonwebtoken::decode` (the
//! `Ed25519` name, keygate's clock). What is written here is the profile RFC 9449 §4.3 asks for,
//! which no crate checks.
//!
//! Server nonces (RFC 9449 §8–9, [`nonce`]) are stateless: the step of time they were made in and
//! its keyed hash under the pepper, valid in that [`NONCE_STEP`] and the next. The token endpoint
//! (and the pushed authorization request endpoint) hands a fresh one (`DPoP-Nonce`) to every
//! request that comes with a proof; a proof carrying a `nonce` must carry a current one of ours,
//! and an OAuth client with `requireDpopNonce` must send one — so its proofs cannot be made ahead
//! of time, whatever its clock says (`use_dpop_nonce` otherwise, with the nonce to retry with).
//! Resource requests check a nonce when a proof carries one but do not require it: the `verify`
//! authorizer cannot hand one out (API Gateway answers its refusals), so there the `iat` window
//! and the single-use `jti` bound replays.
//!
//! Codes can be bound to a key too (RFC 9449 §10: `dpop_jkt`, or a pushed request's proof; see
//! `oauth::codes`). Not here: binding of client-app API tokens (OneSpan's flow has no place for
//! a proof). A proof's `jwk` may carry `alg`/`kid`/`use` beside the key; only private members
//! are refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{ct_eq, Peppers, Secret, SecretHash};
use crate::kernel::error::{ApiError, ApiResult, OAuthError};
use crate::oauth::jws::{self, Alg, Compact};
use crate::ports::store::{Condition, Item, Key, StoreError, Table};

/// The request header that carries the proof.
pub const HEADER: &str = "dpop";
/// The proof algorithms accepted (and advertised as `dpop_signing_alg_values_supported`).
pub const ALGS: &[&str] = &["ES256", "EdDSA", "Ed25519"];
/// A proof is accepted this many seconds after its `iat`…
pub const MAX_AGE: i64 = 60;
/// …and this many seconds before it (the client's clock running ahead; FAPI 2.0 §5.3.2.1 asks
/// for JWTs with an `iat` or `nbf` up to 10 seconds in the future).
pub const MAX_AHEAD: i64 = crate::kernel::clock::MAX_AHEAD;
/// Longest proof read (a P-256 proof is about 600 bytes).
const MAX_PROOF: usize = 4096;
/// Longest `jti`.
const MAX_JTI: usize = 128;
/// The `WWW-Authenticate` challenge of a resource request refused for its DPoP proof (RFC 9449
/// §7.1: missing, malformed, replayed, for another request or another key).
pub const CHALLENGE: &str = "DPoP error=\"invalid_dpop_proof\", algs=\"ES256 EdDSA Ed25519\"";
/// The challenge of a resource request refused for its token (RFC 6750 §3.1 `invalid_token`:
/// expired, revoked, forged, or a DPoP-bound one sent as `Bearer`).
pub const TOKEN_CHALLENGE: &str = "DPoP error=\"invalid_token\", algs=\"ES256 EdDSA Ed25519\"";

/// The challenge of a resource request whose proof lacks a current server nonce (RFC 9449 §9).
pub const NONCE_CHALLENGE: &str = "DPoP error=\"use_dpop_nonce\", algs=\"ES256 EdDSA Ed25519\"";
/// The response header that carries a fresh server nonce.
pub const NONCE_HEADER: &str = "dpop-nonce";
/// Server nonces change every this many seconds; one is accepted in its step and the next.
pub const NONCE_STEP: i64 = 60;
const NONCE_DOMAIN: &str = "dpop-nonce";
/// Longest `nonce` claim read.
const MAX_NONCE: usize = 128;

/// A fresh server nonce at `now`: `<step>.<keyed hash of the step>` (nothing stored).
pub fn nonce(peppers: &Peppers, now: UnixSeconds) -> String {
    let step = now.div_euclid(NONCE_STEP);
    let mac = peppers.hash(NONCE_DOMAIN, &Secret::new(step.to_string()));
    format!("{step}.{}", mac.0)
}

/// Whether `nonce` is one of ours, made in the current step or the one before (under any pepper
/// in force; the hash compared in constant time).
pub fn nonce_ok(peppers: &Peppers, nonce: &str, now: UnixSeconds) -> bool {
    let Some((step, mac)) = nonce.split_once('.') else {
        return false;
    };
    let Ok(step) = step.parse::<i64>() else {
        return false;
    };
    let current = now.div_euclid(NONCE_STEP);
    (current - 1..=current).contains(&step)
        && peppers.verify(NONCE_DOMAIN, &SecretHash(mac.to_owned()), &step.to_string())
}

/// The nonce rule for a checked proof: a `nonce` it carries must be current and ours; `required`
/// (an OAuth client with `requireDpopNonce`, at the token endpoint) makes one mandatory.
pub fn nonce_fits(p: &Proof, peppers: &Peppers, required: bool, now: UnixSeconds) -> bool {
    match &p.nonce {
        Some(n) => nonce_ok(peppers, n, now),
        None => !required,
    }
}

/// RFC 9449 §8: `400 {"error":"use_dpop_nonce"}` with a fresh `DPoP-Nonce` to retry with.
pub fn use_nonce_at_token_endpoint(peppers: &Peppers, now: UnixSeconds) -> ApiError {
    ApiError::oauth(
        OAuthError::UseDpopNonce,
        "the DPoP proof must carry a current server nonce: retry with this answer's DPoP-Nonce",
    )
    .with_dpop_nonce(nonce(peppers, now))
}

/// RFC 9449 §9: `401`, `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a fresh `DPoP-Nonce`.
pub fn use_nonce_at_resource(peppers: &Peppers, now: UnixSeconds) -> ApiError {
    ApiError::unauthorized(
        "use_dpop_nonce",
        "the DPoP proof's nonce is not a current server nonce: retry with this answer's DPoP-Nonce",
    )
    .with_challenge(NONCE_CHALLENGE)
    .with_dpop_nonce(nonce(peppers, now))
}

/// Why a proof is refused: a client-safe message. Mapped to the token endpoint's
/// `invalid_dpop_proof` ([`Refused::at_token_endpoint`]) or a resource's `401`
/// ([`Refused::at_resource`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

impl Refused {
    /// RFC 9449 §5: `400 {"error":"invalid_dpop_proof"}`.
    pub fn at_token_endpoint(self) -> ApiError {
        ApiError::oauth(OAuthError::InvalidDpopProof, self.0)
    }
    /// RFC 9449 §7.1: `401` with `WWW-Authenticate: DPoP`.
    pub fn at_resource(self) -> ApiError {
        ApiError::unauthorized("dpop_proof_invalid", self.0).with_challenge(CHALLENGE)
    }
}

/// What the proof must be for. `Debug` prints the access token as `***`.
#[derive(Clone, Copy)]
pub struct Expected<'a> {
    /// `htm`: the request's method.
    pub method: &'a str,
    /// `htu`: the public URL (the issuer's origin plus the path), see [`htu`].
    pub url: &'a str,
    /// The access token presented with it (`ath` required); `None` at the token endpoint.
    pub access_token: Option<&'a str>,
}

impl std::fmt::Debug for Expected<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expected")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("access_token", &self.access_token.map(|_| "***"))
            .finish()
    }
}

/// A checked proof: the key's thumbprint and the `jti` still to be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 thumbprint (SHA-256, base64url) of the proof's public key.
    pub jkt: String,
    pub jti: String,
    pub iat: UnixSeconds,
    /// The server nonce it carries, checked by [`nonce_fits`].
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// The public URL a proof names for `path` under `issuer` (the issuer's origin plus the path).
pub fn htu(issuer: &str, path: &str) -> String {
    format!("{}{path}", issuer.trim_end_matches('/'))
}

/// `ath`: base64url(SHA-256(access token)).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// A URL compared as RFC 9449 §4.3 asks: without query and fragment, scheme and host in lower
/// case, default ports dropped (what `url` normalises to).
fn normal_url(u: &str) -> Option<String> {
    let mut parsed = url::Url::parse(u).ok()?;
    parsed.set_query(None);
    parsed.set_fragment(None);
    Some(parsed.to_string())
}

/// The header's `jwk`, checked to be a public key of `alg`'s type (no private member: RFC 9449
/// §4.3).
fn public_key(proof: &Compact<'_>, alg: Alg) -> Result<Jwk, Refused> {
    let jwk = proof
        .header
        .get("jwk")
        .and_then(|j| j.as_object())
        .ok_or(Refused("the DPoP proof carries no jwk header"))?;
    if jws::has_private_members(jwk) {
        return Err(Refused("the DPoP proof's jwk must be a public key"));
    }
    let jwk: Jwk = serde_json::from_value(serde_json::Value::Object(jwk.clone()))
        .map_err(|_| Refused("the DPoP proof's jwk is not a key"))?;
    if !alg.fits(&jwk) {
        return Err(Refused("the DPoP proof's jwk does not fit its alg"));
    }
    Ok(jwk)
}

/// Whether `s` has the shape of an RFC 7638 SHA-256 thumbprint (43 base64url characters).
pub fn is_thumbprint(s: &str) -> bool {
    s.len() == 43 && jws::b64url(s, 64)
}

/// Checks a proof for `expected` at `now` (pure): its form, `typ`, `alg` (ES256, EdDSA or
/// Ed25519, never `none` or a MAC), a public `jwk` that verifies its signature, `htm`, `htu`,
/// `iat` within [`MAX_AGE`] / [`MAX_AHEAD`], a `jti`, and `ath` when an access token comes with
/// it.
pub fn check(proof: &str, expected: &Expected<'_>, now: UnixSeconds) -> Result<Proof, Refused> {
    let proof = Compact::parse(proof, MAX_PROOF).ok_or(Refused("the DPoP proof is not a JWT"))?;
    if proof.header_str("typ") != Some("dpop+jwt") {
        return Err(Refused("the DPoP proof's typ must be dpop+jwt"));
    }
    let alg = match proof.alg() {
        Some(a @ (Alg::Es256 | Alg::EdDsa | Alg::Ed25519)) => a,
        _ => {
            return Err(Refused(
                "the DPoP proof's alg must be ES256, EdDSA or Ed25519",
            ))
        }
    };
    let jwk = public_key(&proof, alg)?;
    let key =
        DecodingKey::from_jwk(&jwk).map_err(|_| Refused("the DPoP proof's jwk is not a key"))?;
    if !proof.verifies(alg, &key) {
        return Err(Refused("the DPoP proof's signature does not verify"));
    }
    let claims: ProofClaims = proof
        .claims()
        .ok_or(Refused("the DPoP proof's claims are malformed"))?;
    if claims.jti.is_empty()
        || claims.jti.len() > MAX_JTI
        || !claims.jti.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Refused("the DPoP proof's jti is malformed"));
    }
    if claims.htm != expected.method {
        return Err(Refused("the DPoP proof is for another method"));
    }
    match (normal_url(&claims.htu), normal_url(expected.url)) {
        (Some(a), Some(b)) if a == b => {}
        _ => return Err(Refused("the DPoP proof is for another URL")),
    }
    if claims.iat < now - MAX_AGE || claims.iat > now + MAX_AHEAD {
        return Err(Refused("the DPoP proof's iat is too old or in the future"));
    }
    if let Some(token) = expected.access_token {
        let given = claims
            .ath
            .ok_or(Refused("the DPoP proof has no ath for its access token"))?;
        if !ct_eq(given.as_bytes(), ath(token).as_bytes()) {
            return Err(Refused("the DPoP proof's ath is for another access token"));
        }
    }
    if claims
        .nonce
        .as_ref()
        .is_some_and(|n| n.is_empty() || n.len() > MAX_NONCE)
    {
        return Err(Refused("the DPoP proof's nonce is malformed"));
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| Refused("the DPoP proof's jwk is not a key"))?;
    Ok(Proof {
        jkt,
        jti: claims.jti,
        iat: claims.iat,
        nonce: claims.nonce,
    })
}

fn jti_key(p: &Proof) -> Key {
    let jti = URL_SAFE_NO_PAD.encode(Sha256::digest(p.jti.as_bytes()));
    Key::new(format!("DPOPJTI#{}#{jti}", p.jkt), "DPOPJTI")
}

/// Claims a checked proof's `jti` for its key.
///
/// **At most once**: of any number of requests with one proof, concurrent or not, exactly one
/// claims it (a conditional put); every other gets `Refused("… already used")`. The claim lives
/// as long as [`check`] could still accept the proof.
pub async fn claim(table: &dyn Table, p: &Proof, now: UnixSeconds) -> ApiResult<Claim> {
    let item = Item::new(jti_key(p), &p.iat)?.with_ttl(p.iat.max(now) + MAX_AGE + MAX_AHEAD);
    match table.put(item, Condition::Vacant { now }).await {
        Ok(()) => Ok(Claim::Claimed),
        Err(StoreError::ConditionFailed) => Ok(Claim::AlreadyUsed),
        Err(e) => Err(e.into()),
    }
}

/// What [`claim`] did with a proof's `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This request claimed it.
    Claimed,
    /// Another request had: the proof is replayed.
    AlreadyUsed,
}

impl Claim {
    /// `Ok` when claimed; a replayed proof's refusal otherwise.
    pub fn refused(self) -> Result<(), Refused> {
        match self {
            Claim::Claimed => Ok(()),
            Claim::AlreadyUsed => Err(Refused("the DPoP proof was already used")),
        }
    }
}

/// The request's one proof header, if any (a repeated one is refused).
pub fn presented(headers: &http::HeaderMap) -> Result<Option<&str>, Refused> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Refused("send one DPoP header"));
    }
    first
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| Refused("the DPoP header is not visible ASCII"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::dpop::ProofKey;

    const NOW: i64 = 1_800_000_000;
    const URL: &str = "https://kg.test/api/oauth2/token";

    #[test]
    fn expected_never_debug_prints_the_access_token() {
        let e = Expected {
            method: "GET",
            url: URL,
            access_token: Some("acc3ss-t0ken-value"),
        };
        let shown = format!("{e:?}");
        assert!(!shown.contains("acc3ss-t0ken-value"), "{shown}");
        assert!(shown.contains("***") && shown.contains(URL), "{shown}");
    }

    fn expected() -> Expected<'static> {
        Expected {
            method: "POST",
            url: URL,
            access_token: None,
        }
    }

    #[test]
    fn a_good_proof_of_either_algorithm_passes_with_its_thumbprint() {
        // Ed25519 by both its names: `EdDSA` (RFC 8037) and `Ed25519` (RFC 9864).
        for key in [
            ProofKey::es256(),
            ProofKey::ed25519(),
            ProofKey::ed25519_fully_specified(),
        ] {
            let p = check(&key.proof("POST", URL, NOW, None), &expected(), NOW).unwrap();
            assert_eq!(p.jkt, key.jkt());
            assert_eq!(p.iat, NOW);
        }
    }

    #[test]
    fn server_nonces_are_ours_and_current() {
        use crate::kernel::crypto::Pepper;
        let peppers = Peppers::new(vec![Pepper::generate("p1")]);
        let n = nonce(&peppers, NOW);
        assert!(nonce_ok(&peppers, &n, NOW));
        assert!(
            nonce_ok(&peppers, &n, NOW + NONCE_STEP),
            "valid in the next step"
        );
        let step_end = (NOW.div_euclid(NONCE_STEP) + 2) * NONCE_STEP;
        assert!(
            !nonce_ok(&peppers, &n, step_end),
            "two steps later it is stale"
        );
        assert!(
            !nonce_ok(&peppers, &nonce(&peppers, NOW + 3600), NOW),
            "not from the future"
        );
        // Forged: another deployment's pepper, another step under our hash, junk.
        let other = Peppers::new(vec![Pepper::generate("p1")]);
        assert!(!nonce_ok(&peppers, &nonce(&other, NOW), NOW));
        let (_, mac) = n.split_once('.').unwrap();
        let shifted = format!("{}.{mac}", NOW.div_euclid(NONCE_STEP) - 1);
        assert!(!nonce_ok(&peppers, &shifted, NOW));
        for junk in ["", ".", "x.y", "123", &format!("{}.", NOW / NONCE_STEP)] {
            assert!(!nonce_ok(&peppers, junk, NOW), "{junk:?}");
        }
        // A rotated-in pepper still accepts the nonces the previous one made.
        let rotated = Peppers::new(vec![Pepper::generate("p2"), peppers.current().clone()]);
        assert!(nonce_ok(&rotated, &n, NOW));
        // The rule: a carried nonce must be good; `required` makes one mandatory.
        let key = ProofKey::es256();
        let with = check(
            &key.proof_with_nonce("POST", URL, NOW, None, &n),
            &expected(),
            NOW,
        )
        .unwrap();
        let without = check(&key.proof("POST", URL, NOW, None), &expected(), NOW).unwrap();
        let stale = check(
            &key.proof_with_nonce("POST", URL, NOW, None, &nonce(&other, NOW)),
            &expected(),
            NOW,
        )
        .unwrap();
        assert!(nonce_fits(&with, &peppers, true, NOW));
        assert!(nonce_fits(&without, &peppers, false, NOW));
        assert!(!nonce_fits(&without, &peppers, true, NOW));
        assert!(!nonce_fits(&stale, &peppers, false, NOW));
        let e = use_nonce_at_token_endpoint(&peppers, NOW);
        assert_eq!(e.reason, "use_dpop_nonce");
        assert!(nonce_ok(&peppers, e.dpop_nonce.as_deref().unwrap(), NOW));
    }

    #[test]
    fn the_rfc_7638_thumbprint_is_computed() {
        // RFC 7638 §3.1's example is RSA; this is the same computation over an EC key, checked
        // against a thumbprint computed independently (sha256 of the canonical members).
        let key = ProofKey::es256();
        let jwk = key.public_jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        assert_eq!(key.jkt(), URL_SAFE_NO_PAD.encode(Sha256::digest(canonical)));
    }

    #[test]
    fn proofs_for_another_method_url_time_or_token_are_refused() {
        let key = ProofKey::es256();
        let cases = [
            (key.proof("GET", URL, NOW, None), "method"),
            (
                key.proof("POST", "https://kg.test/api/oauth2/other", NOW, None),
                "URL",
            ),
            (
                key.proof("POST", "https://evil.test/api/oauth2/token", NOW, None),
                "URL",
            ),
            (key.proof("POST", URL, NOW - MAX_AGE - 1, None), "iat"),
            (key.proof("POST", URL, NOW + MAX_AHEAD + 1, None), "iat"),
        ];
        for (proof, word) in cases {
            let e = check(&proof, &expected(), NOW).unwrap_err();
            assert!(e.0.contains(word), "{word}: {}", e.0);
        }
        // The query and fragment are not part of htu.
        let with_query = key.proof("POST", &format!("{URL}?x=1#f"), NOW, None);
        assert!(check(&with_query, &expected(), NOW).is_ok());
        // ath: required with an access token, and for that token.
        let resource = Expected {
            method: "GET",
            url: "https://kg.test/api/whoami",
            access_token: Some("tok"),
        };
        let none = key.proof("GET", resource.url, NOW, None);
        assert!(check(&none, &resource, NOW).unwrap_err().0.contains("ath"));
        let other = key.proof("GET", resource.url, NOW, Some("other"));
        assert!(check(&other, &resource, NOW).unwrap_err().0.contains("ath"));
        let good = key.proof("GET", resource.url, NOW, Some("tok"));
        assert!(check(&good, &resource, NOW).is_ok());
    }

    #[test]
    fn forged_and_malformed_proofs_are_refused() {
        let key = ProofKey::es256();
        let other = ProofKey::es256();
        let good = key.proof("POST", URL, NOW, None);
        let (head, rest) = good.split_once('.').unwrap();
        let (body, _) = rest.split_once('.').unwrap();
        let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        // Signed by another key than its jwk.
        let swapped = {
            let forged = other.proof("POST", URL, NOW, None);
            let sig = forged.rsplit('.').next().unwrap();
            format!("{head}.{body}.{sig}")
        };
        // alg none, with an empty signature.
        let none = format!(
            "{}.{body}.",
            b64(serde_json::json!({"typ":"dpop+jwt","alg":"none","jwk":key.public_jwk()}))
        );
        // HS256 over the public key's bytes: a MAC is never accepted.
        let hs = format!(
            "{}.{body}.AAAA",
            b64(serde_json::json!({"typ":"dpop+jwt","alg":"HS256","jwk":key.public_jwk()}))
        );
        // A private key in the header.
        let mut private = key.public_jwk();
        private["d"] = serde_json::json!("AAAA");
        let with_d = format!(
            "{}.{body}.AAAA",
            b64(serde_json::json!({"typ":"dpop+jwt","alg":"ES256","jwk":private}))
        );
        let wrong_typ = key.proof_with_typ("JWT", "POST", URL, NOW);
        for bad in [
            swapped,
            none,
            hs,
            with_d,
            wrong_typ,
            "a.b".into(),
            "x".repeat(5000),
            String::new(),
        ] {
            assert!(check(&bad, &expected(), NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_has_one_encoding_and_so_one_thumbprint() {
        // The same P-256 point with one byte of x moved into y: `0x04 || x || y` is unchanged,
        // so the signature verifies, but the thumbprint differs. Refused: coordinates are
        // exactly 32 bytes (RFC 7518 §6.2.1.2), as an Ed25519 key is (RFC 8037 §2).
        let key = ProofKey::es256();
        let jwk = key.public_jwk();
        let coord = |m: &str| URL_SAFE_NO_PAD.decode(jwk[m].as_str().unwrap()).unwrap();
        let (x, y) = (coord("x"), coord("y"));
        let mut moved = y;
        moved.insert(0, x[31]);
        let mut split = jwk.clone();
        split["x"] = serde_json::json!(URL_SAFE_NO_PAD.encode(&x[..31]));
        split["y"] = serde_json::json!(URL_SAFE_NO_PAD.encode(&moved));
        let e = check(&key.proof_under(split, "POST", URL, NOW), &expected(), NOW).unwrap_err();
        assert!(e.0.contains("jwk"), "{}", e.0);
        // A padded or short Ed25519 key is refused too; the canonical one passes.
        let ed = ProofKey::ed25519();
        let ed_jwk = ed.public_jwk();
        let ed_x = URL_SAFE_NO_PAD
            .decode(ed_jwk["x"].as_str().unwrap())
            .unwrap();
        for bad in [
            URL_SAFE_NO_PAD.encode([&ed_x[..], &[0]].concat()),
            URL_SAFE_NO_PAD.encode(&ed_x[..31]),
            format!("{}=", ed_jwk["x"].as_str().unwrap()),
        ] {
            let mut j = ed_jwk.clone();
            j["x"] = serde_json::json!(bad);
            assert!(check(&ed.proof_under(j, "POST", URL, NOW), &expected(), NOW).is_err());
        }
        assert!(check(&ed.proof_under(ed_jwk, "POST", URL, NOW), &expected(), NOW).is_ok());
    }

    #[tokio::test]
    async fn a_jti_is_claimed_once_per_key() {
        let table = crate::ports::store::memory::MemoryTable::new();
        let key = ProofKey::es256();
        let proof = key.proof("POST", URL, NOW, None);
        let p = check(&proof, &expected(), NOW).unwrap();
        assert_eq!(claim(&table, &p, NOW).await.unwrap(), Claim::Claimed);
        assert_eq!(
            claim(&table, &p, NOW + 1).await.unwrap(),
            Claim::AlreadyUsed
        );
        // The same jti under another key is another proof.
        let q = Proof {
            jkt: ProofKey::es256().jkt(),
            ..p
        };
        assert_eq!(claim(&table, &q, NOW).await.unwrap(), Claim::Claimed);
    }

    #[test]
    fn the_proof_header_is_read_once() {
        let mut h = http::HeaderMap::new();
        assert_eq!(presented(&h), Ok(None));
        h.append(HEADER, "a.b.c".parse().unwrap());
        assert_eq!(presented(&h), Ok(Some("a.b.c")));
        h.append(HEADER, "d.e.f".parse().unwrap());
        assert!(presented(&h).is_err());
    }
}
