//! Signed JWTs that clients make (compact JWS): DPoP proofs ([`crate::oauth::dpop`]) and client
//! assertions ([`crate::identity::assertion`]). The parts both read the same way: the header and
//! claims parsed here, the signature checked by jsonwebtoken.
//!
//! The signature check is jsonwebtoken's (`jsonwebtoken::crypto::verify`, with the key from
//! `DecodingKey::from_jwk`); three things are written here because no crate checks them the way
//! these profiles ask:
//! - **the algorithm names**: jsonwebtoken 12's `Algorithm` has no `Ed25519` (the fully-specified
//!   name of RFC 9864, which current clients — oauth4webapi among them — send for Ed25519
//!   keys), so its `decode` and `decode_header` refuse such a token before any check. Here the
//!   header's `alg` is one of [`Alg`], and `Ed25519` is verified as the EdDSA signature it is;
//! - **the time**: jsonwebtoken's validation reads the system clock, while keygate's time is the
//!   `now` its ports lend (a manual clock in tests), so `iat`, `nbf` and `exp` are compared here;
//! - **the key's type and encoding**: which key fits which algorithm ([`Alg::fits`]): P-256 for
//!   ES256 with 32-byte coordinates (one key, one thumbprint), RSA of at least 2048 bits for
//!   PS256 (FAPI 2.0 §5.4.1), Ed25519 for EdDSA.
//!
//! Never accepted: `none`, any MAC (`HS256` over a public key is the classic confusion), RSA
//! PKCS#1 v1.5 (FAPI 2.0 §5.4.1 allows PS256, ES256 and EdDSA with Ed25519 only).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::DecodingKey;
use serde::de::DeserializeOwned;

/// A signature algorithm a client may sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSASSA-PSS with SHA-256 (client assertions only: a DPoP proof's key is EC or OKP).
    Ps256,
    /// EdDSA, by its RFC 8037 name: with keygate, always on Ed25519.
    EdDsa,
    /// Ed25519 by its fully-specified RFC 9864 name: the same signature as `EdDSA` on Ed25519.
    Ed25519,
}

impl Alg {
    /// The algorithm a header names, if it is one of these (`none`, MACs and the rest: `None`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Alg::Es256),
            "PS256" => Some(Alg::Ps256),
            "EdDSA" => Some(Alg::EdDsa),
            "Ed25519" => Some(Alg::Ed25519),
            _ => None,
        }
    }

    /// Its JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Ps256 => "PS256",
            Alg::EdDsa => "EdDSA",
            Alg::Ed25519 => "Ed25519",
        }
    }

    /// The signature jsonwebtoken computes for it.
    fn signature(self) -> jsonwebtoken::Algorithm {
        match self {
            Alg::Es256 => jsonwebtoken::Algorithm::ES256,
            Alg::Ps256 => jsonwebtoken::Algorithm::PS256,
            Alg::EdDsa | Alg::Ed25519 => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    /// Whether two names mean the same signature (`EdDSA` on Ed25519 and `Ed25519`).
    pub fn same_signature(self, other: Alg) -> bool {
        self.signature() == other.signature()
    }

    /// Whether `jwk` is a public key of this algorithm's type in its one encoding: P-256 with
    /// 32-byte coordinates for ES256, RSA of at least [`MIN_RSA_BITS`] bits (odd `e` ≥ 3) for PS256, an Ed25519 key
    /// of 32 bytes for EdDSA. (A private member is the caller's to refuse: see
    /// [`has_private_members`].)
    pub fn fits(self, jwk: &Jwk) -> bool {
        match (&jwk.algorithm, self) {
            (AlgorithmParameters::EllipticCurve(p), Alg::Es256) => {
                p.curve == EllipticCurve::P256 && coordinate(&p.x) && coordinate(&p.y)
            }
            (AlgorithmParameters::OctetKeyPair(p), Alg::EdDsa | Alg::Ed25519) => {
                p.curve == EllipticCurve::Ed25519 && coordinate(&p.x)
            }
            (AlgorithmParameters::RSA(p), Alg::Ps256) => {
                rsa_modulus_ok(&p.n) && rsa_exponent_ok(&p.e)
            }
            _ => false,
        }
    }
}

/// The shortest RSA modulus accepted, in bits (FAPI 2.0 §5.4.1).
pub const MIN_RSA_BITS: usize = 2048;
/// The longest RSA modulus accepted, in bits (what the verifier takes).
const MAX_RSA_BITS: usize = 8192;

/// How many bits the big-endian unsigned integer `b` takes (leading zero octets ignored).
fn bit_length(b: &[u8]) -> usize {
    match b.iter().position(|x| *x != 0) {
        None => 0,
        Some(i) => (b.len() - i - 1) * 8 + (8 - b[i].leading_zeros() as usize),
    }
}

/// An RSA modulus of [`MIN_RSA_BITS`] to 8192 bits, counted exactly (a 2047-bit modulus is 256
/// octets too, and is refused), and odd (as every RSA modulus is).
fn rsa_modulus_ok(n: &str) -> bool {
    b64url(n, 2 * MAX_RSA_BITS / 8)
        && URL_SAFE_NO_PAD.decode(n).is_ok_and(|b| {
            (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bit_length(&b))
                && b.last().is_some_and(|l| l & 1 == 1)
        })
}

/// An RSA public exponent: odd and at least 3 (65537, `AQAB`, is what keys use), at most 32
/// bits, in its minimal encoding (no leading zero octet).
fn rsa_exponent_ok(e: &str) -> bool {
    b64url(e, 8)
        && URL_SAFE_NO_PAD.decode(e).is_ok_and(|b| {
            let bits = bit_length(&b);
            b.first().is_some_and(|f| *f != 0)
                && (2..=32).contains(&bits)
                && b.last().is_some_and(|l| l & 1 == 1)
        })
}

/// Members of a private or symmetric key: a public JWK never carries one.
pub const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

/// Whether a JWK (as JSON) carries private or symmetric key material.
pub fn has_private_members(jwk: &serde_json::Map<String, serde_json::Value>) -> bool {
    PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m))
}

/// Whether `s` is a full 32-byte key member in canonical base64url (RFC 7518 §6.2.1.2 and RFC
/// 8037 §2: P-256 coordinates and Ed25519 keys are exactly 32 bytes). A shorter `x` with the
/// difference moved into `y` would verify under the same key yet give it another thumbprint.
pub fn coordinate(s: &str) -> bool {
    s.len() == 43 && URL_SAFE_NO_PAD.decode(s).is_ok_and(|b| b.len() == 32)
}

/// Whether `s` is non-empty base64url of at most `max` characters.
pub fn b64url(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A compact JWS split into its parts, its header parsed (nothing checked yet). `Debug` shows the
/// header only: the token itself is a credential until it is used up.
pub struct Compact<'a> {
    /// The protected header, as JSON.
    pub header: serde_json::Map<String, serde_json::Value>,
    /// `base64url(header) . base64url(claims)`: what the signature covers.
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl std::fmt::Debug for Compact<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compact")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<'a> Compact<'a> {
    /// Splits `token` (at most `max` bytes) into three base64url parts and parses its header:
    /// `None` for anything else (two parts, five, padding, a header that is not a JSON object).
    pub fn parse(token: &'a str, max: usize) -> Option<Self> {
        if token.len() > max {
            return None;
        }
        let mut parts = token.split('.');
        let (head, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header = match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).ok()?).ok()? {
            serde_json::Value::Object(m) => m,
            _ => return None,
        };
        Some(Self {
            header,
            signing_input: &token[..head.len() + 1 + payload.len()],
            payload,
            signature,
        })
    }

    /// A header member as text.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(|v| v.as_str())
    }

    /// The header's `alg`, if it is one of [`Alg`].
    pub fn alg(&self) -> Option<Alg> {
        self.header_str("alg").and_then(Alg::parse)
    }

    /// The claims, parsed as `T` (unverified until [`Compact::verifies`] says so).
    pub fn claims<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(self.payload).ok()?).ok()
    }

    /// Whether the signature verifies under `key` with `alg` (jsonwebtoken's check).
    pub fn verifies(&self, alg: Alg, key: &DecodingKey) -> bool {
        !self.signature.is_empty()
            && jsonwebtoken::crypto::verify(
                self.signature,
                self.signing_input.as_bytes(),
                key,
                alg.signature(),
            )
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::dpop::ProofKey;

    #[test]
    fn only_the_four_names_are_algorithms() {
        for ok in ["ES256", "PS256", "EdDSA", "Ed25519"] {
            assert_eq!(Alg::parse(ok).map(Alg::name), Some(ok));
        }
        for bad in ["none", "HS256", "RS256", "ES384", "es256", "", "EDDSA"] {
            assert!(Alg::parse(bad).is_none(), "{bad}");
        }
        assert!(Alg::EdDsa.same_signature(Alg::Ed25519));
        assert!(!Alg::Es256.same_signature(Alg::Ps256));
    }

    #[test]
    fn a_signed_token_verifies_under_its_key_only() {
        let key = ProofKey::es256();
        let token = key.sign("JWT", &serde_json::json!({"a": 1}));
        let c = Compact::parse(&token, 4096).unwrap();
        assert_eq!(c.alg(), Some(Alg::Es256));
        let jwk: Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        assert!(Alg::Es256.fits(&jwk) && !Alg::EdDsa.fits(&jwk) && !Alg::Ps256.fits(&jwk));
        assert!(c.verifies(Alg::Es256, &DecodingKey::from_jwk(&jwk).unwrap()));
        let other: Jwk = serde_json::from_value(ProofKey::es256().public_jwk()).unwrap();
        assert!(!c.verifies(Alg::Es256, &DecodingKey::from_jwk(&other).unwrap()));
        assert_eq!(
            c.claims::<serde_json::Value>().unwrap(),
            serde_json::json!({"a": 1})
        );
    }

    /// An RSA public JWK with modulus `n` and exponent `e` (raw octets).
    fn rsa(n: &[u8], e: &[u8]) -> Jwk {
        serde_json::from_value(serde_json::json!({
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(n),
            "e": URL_SAFE_NO_PAD.encode(e),
        }))
        .unwrap()
    }

    #[test]
    fn rsa_keys_are_measured_in_bits_and_their_exponent_checked() {
        let real: Jwk = serde_json::from_value(ProofKey::ps256().public_jwk()).unwrap();
        assert!(Alg::Ps256.fits(&real));
        let modulus = |top: u8, len: usize| {
            let mut n = vec![0xa5; len];
            n[0] = top;
            n[len - 1] |= 1;
            n
        };
        let e65537 = [1, 0, 1];
        // 2048 bits exactly, and a leading zero octet (some encoders add one) before it.
        assert!(Alg::Ps256.fits(&rsa(&modulus(0x80, 256), &e65537)));
        let mut padded = vec![0];
        padded.extend(modulus(0x80, 256));
        assert!(Alg::Ps256.fits(&rsa(&padded, &e65537)));
        assert!(Alg::Ps256.fits(&rsa(&modulus(0x80, 256), &[3])));
        for (what, n, e) in [
            // 256 octets, but 2047 and 2041 bits.
            ("2047 bits", modulus(0x7f, 256), e65537.to_vec()),
            ("2041 bits", modulus(0x01, 256), e65537.to_vec()),
            ("2040 bits", modulus(0xff, 255), e65537.to_vec()),
            (
                "an even modulus",
                {
                    let mut n = modulus(0x80, 256);
                    n[255] &= 0xfe;
                    n
                },
                e65537.to_vec(),
            ),
            ("e = 1", modulus(0x80, 256), vec![1]),
            ("e even", modulus(0x80, 256), vec![1, 0, 0]),
            ("e zero", modulus(0x80, 256), vec![0]),
            (
                "e with a leading zero",
                modulus(0x80, 256),
                vec![0, 1, 0, 1],
            ),
            ("e of 33 bits", modulus(0x80, 256), vec![1, 0, 0, 0, 1]),
        ] {
            assert!(!Alg::Ps256.fits(&rsa(&n, &e)), "{what}");
        }
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        let b = |v: &str| URL_SAFE_NO_PAD.encode(v);
        for bad in [
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            format!("{}.{}.", b("[1]"), b("{}")),
            format!("{}.{}.x", b("not json"), b("{}")),
            format!("{}=.{}.x", b(r#"{"alg":"ES256"}"#), b("{}")),
        ] {
            assert!(Compact::parse(&bad, 4096).is_none(), "{bad}");
        }
        let long = format!("{}.{}.x", b(r#"{"alg":"ES256"}"#), "a".repeat(5000));
        assert!(Compact::parse(&long, 4096).is_none());
    }
}
