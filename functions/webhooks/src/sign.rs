//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): `v1,<base64 HMAC-SHA256>`
//! of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded part of the
//! endpoint's `whsec_…` secret. After a rotation every active secret signs, space-separated, so a
//! receiver holding either secret verifies (svix-webhooks `worker.rs` `sign_msg`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_core::kernel::crypto::{hmac_sha256_b64, Secret};

/// The `v1,…` signature of one message under one `whsec_` secret; `None` if the secret is not
/// valid base64 (a corrupt record: it signs nothing rather than something unverifiable).
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD.decode(encoded).ok().filter(|k| !k.is_empty())?;
    let prefix = format!("{msg_id}.{timestamp}.");
    let mut signed = Vec::with_capacity(prefix.len() + body.len());
    signed.extend_from_slice(prefix.as_bytes());
    signed.extend_from_slice(body);
    Some(format!("v1,{}", hmac_sha256_b64(&key, &signed)))
}

/// The `webhook-signature` header: one `v1,…` per usable secret, newest first, space-separated;
/// `None` when no secret can sign.
pub fn signature_header(
    secrets: &[Secret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    let sigs: Vec<String> = secrets
        .iter()
        .filter_map(|s| sign(s.expose(), msg_id, timestamp, body))
        .collect();
    (!sigs.is_empty()).then(|| sigs.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors of the Standard Webhooks reference libraries (svix `webhooks` tests).
    #[test]
    fn reference_vectors() {
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            )
            .as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(
            sign(
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            )
            .as_deref(),
            Some("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
        );
    }

    #[test]
    fn every_usable_secret_signs_newest_first() {
        let new = Secret::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
        let old = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let broken = Secret::new("whsec_not base64!");
        let h = signature_header(&[new, broken, old], "m", 1, b"{}").unwrap();
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            sign("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "m", 1, b"{}").unwrap()
        );
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_eq!(
            signature_header(&[Secret::new("whsec_")], "m", 1, b"{}"),
            None
        );
        assert_eq!(signature_header(&[], "m", 1, b"{}"), None);
    }
}
