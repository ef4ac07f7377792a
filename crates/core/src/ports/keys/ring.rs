//! The keys in force, parsed once per load: ES256 JWTs signed and verified through
//! `jsonwebtoken` (on its `aws_lc_rs` backend, see [`super::provider`]), the JWK set, and the
//! peppers.
//!
//! Verification pins the algorithm to ES256 and the header's `typ` to `at+jwt`, finds the key by
//! `kid` (a retired key verifies until its deadline), and has `jsonwebtoken` check the signature,
//! `iss` and `aud`. Times (`exp`, `nbf`, `iat`, with [`LEEWAY`]) are checked by [`check_times`]
//! against the injected `now` rather than by `jsonwebtoken`, which reads the system clock: every
//! policy of keygate takes `now` as an argument so that tests can move time.

use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{KeyDocument, KeyError, Malformed, PepperDoc};
use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{decode_key32, Pepper, Peppers};

/// Allowed clock difference on `exp`/`nbf`/`iat`, seconds.
pub const LEEWAY: i64 = 30;
/// Longest token accepted, bytes.
const MAX_TOKEN: usize = 8 * 1024;
/// The `typ` of access and API tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// One ES256 key.
pub struct EcKey {
    pub kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
    created_at: UnixSeconds,
    retired_at: Option<UnixSeconds>,
    verify_until: Option<UnixSeconds>,
    not_before: Option<UnixSeconds>,
}

impl EcKey {
    fn verifies_at(&self, now: UnixSeconds) -> bool {
        self.verify_until.is_none_or(|v| v > now)
    }
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

/// What a token must say besides its signature.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// The `iss` (and `aud`: keygate's tokens are for keygate) it must carry.
    pub issuer: Option<&'a str>,
}

fn key_of(kid: &str, private_key: &str) -> Result<EcKey, Malformed> {
    let bytes = decode_key32(private_key).ok_or_else(|| Malformed::PrivateKey(kid.to_owned()))?;
    let signing =
        SigningKey::from_bytes(&bytes.into()).map_err(|_| Malformed::PrivateKey(kid.to_owned()))?;
    let der = signing
        .to_pkcs8_der()
        .map_err(|_| Malformed::PrivateKey(kid.to_owned()))?;
    let point = signing.verifying_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(Malformed::PrivateKey(kid.to_owned()));
    };
    use base64::Engine;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let (x, y) = (b64(x), b64(y));
    let decoding = DecodingKey::from_ec_components(&x, &y)
        .map_err(|_| Malformed::PrivateKey(kid.to_owned()))?;
    let jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::ES256),
            key_id: Some(kid.to_owned()),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
            key_type: EllipticCurveKeyType::EC,
            curve: EllipticCurve::P256,
            x,
            y,
        }),
    };
    Ok(EcKey {
        kid: kid.to_owned(),
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        decoding,
        jwk,
        created_at: 0,
        retired_at: None,
        verify_until: None,
        not_before: None,
    })
}

impl KeyRing {
    pub fn from_document(doc: &KeyDocument) -> Result<Self, KeyError> {
        super::provider::install();
        let mut keys = Vec::new();
        for k in &doc.signing_keys {
            if k.alg != "ES256" {
                return Err(Malformed::Algorithm(k.kid.clone()).into());
            }
            let mut key = key_of(&k.kid, &k.private_key)?;
            key.created_at = k.created_at;
            key.retired_at = k.retired_at;
            key.verify_until = k.verify_until;
            key.not_before = k.not_before;
            keys.push(key);
        }
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        let mut peppers = Vec::new();
        let mut docs: Vec<&PepperDoc> = doc.peppers.iter().collect();
        docs.sort_by_key(|p| std::cmp::Reverse(p.created_at));
        for p in docs {
            let id_ok = (1..=32).contains(&p.id.len())
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                return Err(Malformed::PepperId(p.id.clone()).into());
            }
            let key = decode_key32(&p.key).ok_or_else(|| Malformed::Pepper(p.id.clone()))?;
            peppers.push(Pepper::new(p.id.clone(), key));
        }
        if keys.is_empty() {
            return Err(Malformed::NoSigningKey.into());
        }
        if peppers.is_empty() {
            return Err(Malformed::NoPepper.into());
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
                && k.verifies_at(now)
        })
    }

    fn verifier(&self, kid: &str, now: UnixSeconds) -> Option<&EcKey> {
        self.keys
            .iter()
            .find(|k| k.kid == kid && k.verifies_at(now))
    }

    /// Signs `claims` as an `at+jwt` with the current key.
    pub fn sign_jwt<C: Serialize>(&self, claims: &C, now: UnixSeconds) -> Result<String, KeyError> {
        let key = self.current(now).ok_or(KeyError::NoCurrentKey)?;
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(KeyError::Signing)
    }

    /// Checks a token's form, `alg` ES256, `typ` `at+jwt`, a known `kid`, signature, and
    /// `iss`/`aud` when expected, and returns its claims. Times are the caller's, with
    /// [`check_times`] and the same `now`.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        expect: Expect<'_>,
        now: UnixSeconds,
    ) -> Result<T, JwtError> {
        if token.len() > MAX_TOKEN {
            return Err(JwtError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_refusal(token))?;
        if header.alg != Algorithm::ES256 {
            return Err(JwtError::Algorithm);
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(JwtError::Malformed);
        }
        let kid = header.kid.as_deref().ok_or(JwtError::UnknownKey)?;
        let key = self.verifier(kid, now).ok_or(JwtError::UnknownKey)?;
        let mut v = Validation::new(Algorithm::ES256);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.required_spec_claims.clear();
        match expect.issuer {
            Some(iss) => {
                v.set_issuer(&[iss]);
                v.set_audience(&[iss]);
                v.set_required_spec_claims(&["exp", "iss", "aud"]);
            }
            None => v.validate_aud = false,
        }
        jsonwebtoken::decode::<T>(token, &key.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::Json(_) => JwtError::Claims,
                _ => JwtError::from(e),
            })
    }

    /// [`KeyRing::verify`] without issuer or time expectations: the signature and header only.
    pub fn verify_jwt(&self, token: &str, now: UnixSeconds) -> Result<serde_json::Value, JwtError> {
        self.verify(token, Expect::default(), now)
    }

    /// The public keys that can still verify, as a JWK Set (RFC 7517).
    pub fn jwks(&self, now: UnixSeconds) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|k| k.verifies_at(now))
                .map(|k| k.jwk.clone())
                .collect(),
        }
    }
}

/// Why a header `jsonwebtoken` cannot read is refused: an `alg` it does not know (`none`, a
/// made-up one) is an algorithm refusal, anything else a malformed token.
fn header_refusal(token: &str) -> JwtError {
    use base64::Engine;
    let alg = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("alg").and_then(|a| a.as_str()).map(str::to_owned));
    match alg {
        Some(a) if a != "ES256" => JwtError::Algorithm,
        _ => JwtError::Malformed,
    }
}

/// The time checks of a token (pure): expired once `exp + LEEWAY <= now`; not valid yet while
/// `nbf` or `iat` is more than [`LEEWAY`] ahead.
pub fn check_times(
    exp: UnixSeconds,
    nbf: UnixSeconds,
    iat: UnixSeconds,
    now: UnixSeconds,
) -> Result<(), JwtError> {
    if exp + LEEWAY <= now {
        return Err(JwtError::Expired);
    }
    if nbf - LEEWAY > now || iat - LEEWAY > now {
        return Err(JwtError::NotYetValid);
    }
    Ok(())
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
    #[error("another issuer")]
    Issuer,
    #[error("another audience")]
    Audience,
    #[error("claims missing or malformed")]
    Claims,
    #[error("expired")]
    Expired,
    #[error("not valid yet")]
    NotYetValid,
}

impl From<jsonwebtoken::errors::Error> for JwtError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => JwtError::Signature,
            K::InvalidAlgorithm | K::InvalidAlgorithmName | K::UnsupportedAlgorithm => {
                JwtError::Algorithm
            }
            K::InvalidIssuer => JwtError::Issuer,
            K::InvalidAudience => JwtError::Audience,
            K::MissingRequiredClaim(_) | K::InvalidClaimFormat(_) => JwtError::Claims,
            K::ExpiredSignature => JwtError::Expired,
            K::ImmatureSignature => JwtError::NotYetValid,
            _ => JwtError::Malformed,
        }
    }
}

impl JwtError {
    /// Stable reason code.
    pub fn reason(self) -> &'static str {
        match self {
            JwtError::Malformed => "jwt_malformed",
            JwtError::Algorithm => "jwt_alg_refused",
            JwtError::UnknownKey => "jwt_unknown_kid",
            JwtError::Signature => "jwt_bad_signature",
            JwtError::Issuer => "jwt_issuer",
            JwtError::Audience => "jwt_audience",
            JwtError::Claims => "jwt_claims",
            JwtError::Expired => "jwt_expired",
            JwtError::NotYetValid => "jwt_not_yet_valid",
        }
    }
}
