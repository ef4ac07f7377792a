//! Secrets: generation, keyed hashing under a versioned pepper, constant-time comparison.
//!
//! Every secret keygate issues (API keys, client secrets, tokens) is 256 random bits in
//! base64url, so it is stored as HMAC-SHA256 under a pepper from Secrets Manager, not as a slow
//! password hash: a dump of the table alone lets nobody authenticate, and a check costs
//! microseconds. Hashes carry the pepper's id, so a new pepper does not invalidate secrets
//! already issued.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A secret value. `Debug` never prints it; reading it takes an explicit call.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// 256 random bits, base64url without padding (43 characters).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// For masked display: `****` and the last characters ([`mask`]).
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// How many trailing characters of a secret of `len` characters a masked display may show: a
/// quarter of it at most (rounded down), and never more than 4 (docs/CREDENTIALS.md) —
/// so a 43-character key shows 4, an 8-character callback key 2, a 3-character one none.
pub fn visible_tail(len: usize) -> usize {
    (len / 4).min(4)
}

/// A secret as masked values show it: `****` and its last [`visible_tail`] characters
/// (`****abcd` for a generated secret). The prefix is fixed, so the mask does not tell the
/// secret's length either.
pub fn mask(secret: &str) -> String {
    let len = secret.chars().count();
    let tail: String = secret.chars().skip(len - visible_tail(len)).collect();
    format!("****{tail}")
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A secret's shape as keygate issues it: 43 base64url characters. Checked before any lookup so
/// junk never reaches the store.
pub fn looks_like_secret(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One pepper: an HMAC key from Secrets Manager, named by its id.
///
/// The keyed hash runs on aws-lc (the crypto library the signatures already use) from a key
/// prepared once: its inner and outer pads are hashed when the pepper loads, not at every check,
/// and the SHA-256 is aws-lc's assembly, not a portable one — a client-credentials token checks
/// one secret, and this was a tenth of its CPU outside the signature.
///
/// The sealing key ([`Peppers::seal`]) is derived from it once too: every webhook delivery opens
/// its endpoint's signing secret.
#[derive(Clone)]
pub struct Pepper {
    pub id: String,
    key: [u8; 32],
    prepared: aws_lc_rs::hmac::Key,
    sealing: aes_gcm::Key<aes_gcm::Aes256Gcm>,
}

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pepper({}, ***)", self.id)
    }
}

impl Pepper {
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        let prepared = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
        // HMAC(pepper, "keygate seal v1"): the AES-256-GCM key of sealed values.
        let derived = aws_lc_rs::hmac::sign(&prepared, b"keygate seal v1");
        let mut sealing = aes_gcm::Key::<aes_gcm::Aes256Gcm>::default();
        sealing.copy_from_slice(derived.as_ref());
        Self {
            id: id.into(),
            key,
            prepared,
            sealing,
        }
    }
    pub fn generate(id: impl Into<String>) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::new(id, key)
    }
    pub fn key_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key)
    }
    /// HMAC-SHA256(key, domain ‖ 0x00 ‖ secret), base64url.
    fn mac(&self, domain: &str, secret: &str) -> String {
        let mut mac = aws_lc_rs::hmac::Context::with_key(&self.prepared);
        mac.update(domain.as_bytes());
        mac.update(b"\0");
        mac.update(secret.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.sign())
    }
}

/// Every pepper that can still check a hash; the first is the current one, used for new hashes.
#[derive(Clone, Debug)]
pub struct Peppers(Vec<Pepper>);

/// A stored keyed hash: `<pepper id>$<base64url HMAC>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretHash(pub String);

impl Peppers {
    /// `peppers[0]` is current. Panics on an empty list: configuration refuses that earlier.
    pub fn new(peppers: Vec<Pepper>) -> Self {
        assert!(!peppers.is_empty(), "at least one pepper");
        Self(peppers)
    }
    pub fn current(&self) -> &Pepper {
        &self.0[0]
    }
    /// Hash a secret for storage. `domain` separates kinds (`apikey`, `client`, `token`), so a
    /// hash of one kind never matches a lookup of another.
    pub fn hash(&self, domain: &str, secret: &Secret) -> SecretHash {
        let p = self.current();
        SecretHash(format!("{}${}", p.id, p.mac(domain, secret.expose())))
    }
    /// The lookup keys a presented secret could be stored under, current pepper first. A lookup
    /// by keyed hash needs no separate comparison, but [`Peppers::verify`] is still cheap.
    pub fn lookup_hashes(&self, domain: &str, presented: &str) -> Vec<SecretHash> {
        self.0
            .iter()
            .map(|p| SecretHash(format!("{}${}", p.id, p.mac(domain, presented))))
            .collect()
    }
    /// Constant-time check of a presented secret against a stored hash.
    pub fn verify(&self, domain: &str, stored: &SecretHash, presented: &str) -> bool {
        let Some((id, _)) = stored.0.split_once('$') else {
            return false;
        };
        let Some(p) = self.0.iter().find(|p| p.id == id) else {
            return false;
        };
        let expected = format!("{}${}", p.id, p.mac(domain, presented));
        ct_eq(expected.as_bytes(), stored.0.as_bytes())
    }
}

/// A secret the server must use itself (a callback key, a webhook signing secret, an OAuth
/// client's secret for signed requests), encrypted with AES-256-GCM under a key derived from the
/// pepper: `<pepper id>$<base64url(nonce ‖ ciphertext)>`. The associated data binds it to its
/// record, so a sealed value copied onto another record does not open.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(***)")
    }
}

impl Peppers {
    /// Encrypts `plaintext` for the record named by `aad` (e.g. `"whsec:ep_…"`).
    pub fn seal(&self, aad: &str, plaintext: &str) -> Sealed {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let p = self.current();
        let cipher = aes_gcm::Aes256Gcm::new(&p.sealing);
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Sealed(format!("{}${}", p.id, URL_SAFE_NO_PAD.encode(out)))
    }

    /// Decrypts a sealed value; `None` if the pepper is gone, the data altered or `aad` differs.
    pub fn open(&self, aad: &str, sealed: &Sealed) -> Option<Secret> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let (id, b64) = sealed.0.split_once('$')?;
        let p = self.0.iter().find(|p| p.id == id)?;
        let raw = URL_SAFE_NO_PAD.decode(b64).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let cipher = aes_gcm::Aes256Gcm::new(&p.sealing);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let pt = cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(pt).ok().map(Secret)
    }
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// base64 (standard alphabet) HMAC-SHA256, as signed requests carry it.
pub fn hmac_sha256_b64(key: &[u8], message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Decode a base64url (no padding) 32-byte key, as the key secret stores them.
pub fn decode_key32(s: &str) -> Option<[u8; 32]> {
    let v = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
    v.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peppers() -> Peppers {
        Peppers::new(vec![Pepper::generate("p2"), Pepper::generate("p1")])
    }

    #[test]
    fn secrets_are_256_bit_base64url() {
        let s = Secret::generate();
        assert!(looks_like_secret(s.expose()));
        assert_ne!(s, Secret::generate());
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn masked_shows_at_most_a_quarter_and_four() {
        assert_eq!(Secret::new("abcdefgh").masked(), "****gh");
        assert_eq!(Secret::new("abc").masked(), "****");
        assert_eq!(Secret::new("").masked(), "****");
        assert_eq!(Secret::new("abcdefghijklmnop").masked(), "****mnop");
        let s = Secret::generate();
        assert_eq!(s.masked(), format!("****{}", &s.expose()[39..]));
        // Characters, not bytes: a multi-byte secret is never cut inside a character.
        assert_eq!(mask("ééééééé\u{1F511}"), "****é\u{1F511}");
    }

    /// The rule for every length a secret could have (0..=64), over distinct characters so the
    /// tail shown can be told apart: the mask is `****` and a suffix of the secret of at most a
    /// quarter of its length and at most 4 characters — as much as the rule allows.
    #[test]
    fn masks_never_show_more_than_a_quarter_or_four() {
        let alphabet: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
        for len in 0..=64usize {
            let secret: String = (0..len).map(|i| alphabet[i % alphabet.len()]).collect();
            let shown = mask(&secret);
            let tail = shown.strip_prefix("****").expect("a fixed prefix");
            let n = tail.chars().count();
            assert!(n * 4 <= len && n <= 4, "len {len}: {shown}");
            assert_eq!(n, (len / 4).min(4), "len {len}: as much as the rule allows");
            assert!(secret.ends_with(tail), "len {len}: the secret's own tail");
            assert_eq!(Secret::new(secret.clone()).masked(), shown);
        }
    }

    #[test]
    fn hash_verifies_and_is_domain_separated() {
        let p = peppers();
        let s = Secret::generate();
        let h = p.hash("apikey", &s);
        assert!(h.0.starts_with("p2$"));
        assert!(!h.0.contains(s.expose()));
        assert!(p.verify("apikey", &h, s.expose()));
        assert!(!p.verify("client", &h, s.expose()));
        assert!(!p.verify("apikey", &h, Secret::generate().expose()));
    }

    #[test]
    fn old_pepper_hashes_still_verify_after_rotation() {
        let old = Pepper::generate("p1");
        let before = Peppers::new(vec![old.clone()]);
        let s = Secret::generate();
        let h = before.hash("apikey", &s);
        let after = Peppers::new(vec![Pepper::generate("p2"), old]);
        assert!(after.verify("apikey", &h, s.expose()));
        assert!(after.lookup_hashes("apikey", s.expose()).contains(&h));
        assert!(after.hash("apikey", &s).0.starts_with("p2$"));
    }

    #[test]
    fn unknown_pepper_or_garbage_hash_fails_closed() {
        let p = peppers();
        assert!(!p.verify("apikey", &SecretHash("p9$abc".into()), "x"));
        assert!(!p.verify("apikey", &SecretHash("nodollar".into()), "x"));
    }

    #[test]
    fn sealed_values_open_only_for_their_record() {
        let p = peppers();
        let sealed = p.seal("whsec:ep_1", "whsec_abc");
        assert!(!sealed.0.contains("whsec_abc"));
        assert_eq!(p.open("whsec:ep_1", &sealed).unwrap().expose(), "whsec_abc");
        assert!(p.open("whsec:ep_2", &sealed).is_none());
        let mut tampered = sealed.0.clone();
        tampered.pop();
        tampered.push('A');
        assert!(p.open("whsec:ep_1", &Sealed(tampered)).is_none() || sealed.0.ends_with('A'));
        let other = Peppers::new(vec![Pepper::generate("p2")]);
        assert!(other.open("whsec:ep_1", &sealed).is_none());
    }

    #[test]
    fn stored_hashes_are_hmac_sha256_of_domain_nul_secret() {
        // Hashes already stored were made with the `hmac` crate; the prepared aws-lc key must
        // give the same bytes, or every issued secret would stop verifying.
        let key = [7u8; 32];
        let peppers = Peppers::new(vec![Pepper::new("p1", key)]);
        let secret = Secret::generate();
        let mut mac = HmacSha256::new_from_slice(&key).unwrap();
        mac.update(b"client\0");
        mac.update(secret.expose().as_bytes());
        let expected = format!("p1${}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        assert_eq!(peppers.hash("client", &secret).0, expected);
        assert!(peppers.verify("client", &SecretHash(expected), secret.expose()));
    }

    #[test]
    fn the_sealing_key_is_still_hmac_of_the_seal_label() {
        // Values already sealed were sealed under HMAC-SHA256(pepper, "keygate seal v1") made
        // with the `hmac` crate at each call; the key derived once must be the same bytes.
        let key = [9u8; 32];
        let mut mac = HmacSha256::new_from_slice(&key).unwrap();
        mac.update(b"keygate seal v1");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(&Pepper::new("p1", key).sealing[..], &expected[..]);
    }

    #[test]
    fn hmac_matches_a_known_vector() {
        // RFC 4231 test case 2.
        let got = hmac_sha256_b64(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(got, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    }
}
