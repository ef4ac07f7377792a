//! HMAC-signed requests (Secured Signing): `X-CUSTOM-API-KEY` (an OAuth client id),
//! `X-CUSTOM-DATE` (unix seconds), `X-CUSTOM-NONCE` (1–32 visible characters, never reused),
//! `X-CUSTOM-SIGNATURE` = base64(HMAC-SHA256(client secret, key + "\n" + date + "\n" + nonce)),
//! with a `Bearer` token of the same client and a `Referer` on the client's registered domain.
//!
//! Cheap checks run first; the nonce is claimed last, with a conditional put, only for a request
//! that is otherwise valid — so junk cannot burn nonces, and a replay never passes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::clients::ClientKind;
use crate::identity::credentials::SignedHeaders;
use crate::identity::lockout::{self, Attempt, Source};
use crate::identity::{CredentialKind, Principal};
use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{ct_eq, hmac_sha256_b64};
use crate::kernel::error::{ApiError, ApiResult};
use crate::ports::store::{Condition, Item, Key, StoreError};
use crate::ports::Ports;

/// Longest nonce.
pub const MAX_NONCE: usize = 32;

/// The parts of a signed request that need no lookup, checked. `Debug` shows the key id, date,
/// nonce and Referer host (all travel in clear), never the signature or the Bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Checked<'a> {
    pub key: &'a str,
    pub date: UnixSeconds,
    pub nonce: &'a str,
    pub signature: [u8; 32],
    pub bearer: &'a str,
    pub referer_host: String,
}

impl std::fmt::Debug for Checked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("key", &self.key)
            .field("date", &self.date)
            .field("nonce", &self.nonce)
            .field("signature", &"***")
            .field("bearer", &"***")
            .field("referer_host", &self.referer_host)
            .finish()
    }
}

/// The string that is signed.
pub fn signing_string(key: &str, date: &str, nonce: &str) -> String {
    format!("{key}\n{date}\n{nonce}")
}

/// Format, clock window, nonce shape, signature encoding, Bearer and Referer presence (pure).
/// Long because it is the protocol's checks in the order they are cheapest to make, each with
/// its own refusal; split, the order (which keeps junk from reaching the store) would be harder
/// to see.
pub fn check<'a>(h: &'a SignedHeaders, now: UnixSeconds, skew: i64) -> ApiResult<Checked<'a>> {
    let bad = |reason: &'static str, msg: &'static str| ApiError::bad_request(reason, msg);
    if !ClientKind::OAuth.id_well_formed(&h.api_key) {
        return Err(bad(
            "signed_key_malformed",
            "X-CUSTOM-API-KEY is not a client id",
        ));
    }
    // Unix seconds: digits only, at most 10 (a date in milliseconds is refused, not guessed at).
    if h.date.is_empty() || h.date.len() > 10 || !h.date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "signed_date_malformed",
            "X-CUSTOM-DATE must be unix time in seconds",
        ));
    }
    let date: i64 = h.date.parse().map_err(|_| {
        bad(
            "signed_date_malformed",
            "X-CUSTOM-DATE must be unix time in seconds",
        )
    })?;
    if (date - now).abs() > skew {
        return Err(ApiError::unauthorized(
            "signed_date_skew",
            "X-CUSTOM-DATE is outside the allowed clock window",
        ));
    }
    if h.nonce.is_empty()
        || h.nonce.len() > MAX_NONCE
        || !h.nonce.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad(
            "nonce_malformed",
            "X-CUSTOM-NONCE must be 1-32 visible ASCII characters",
        ));
    }
    // Strict base64 of exactly 32 bytes: truncated, padded-wrong or non-canonical input fails.
    let sig = STANDARD
        .decode(h.signature.as_bytes())
        .ok()
        .filter(|v| v.len() == 32 && STANDARD.encode(v) == h.signature)
        .ok_or_else(|| {
            bad(
                "signature_malformed",
                "X-CUSTOM-SIGNATURE must be the base64 of an HMAC-SHA256",
            )
        })?;
    let mut signature = [0u8; 32];
    signature.copy_from_slice(&sig);
    let bearer = h.bearer.as_deref().ok_or_else(|| {
        ApiError::unauthorized(
            "signed_bearer_missing",
            "a signed request needs the client's Bearer token",
        )
    })?;
    let referer = h.referer.as_deref().ok_or_else(|| {
        ApiError::unauthorized(
            "referer_missing",
            "a signed request needs a Referer on the registered domain",
        )
    })?;
    let referer_host = url::Url::parse(referer)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|x| x.trim_end_matches('.').to_ascii_lowercase())
        })
        .ok_or_else(|| ApiError::unauthorized("referer_invalid", "the Referer is not a URL"))?;
    Ok(Checked {
        key: &h.api_key,
        date,
        nonce: &h.nonce,
        signature,
        bearer,
        referer_host,
    })
}

/// The Referer's host is the registered domain or one of its subdomains.
pub fn referer_matches(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

fn nonce_key(client: &str, nonce: &str) -> Key {
    Key::new(format!("NONCE#{client}#{nonce}"), "NONCE")
}

/// Until when a claimed nonce must be kept: as long as its request could still pass the clock
/// check (`|date - now| <= skew`), i.e. until `date + skew` — and never less than `now + skew`.
/// Pure.
pub fn nonce_expiry(date: UnixSeconds, now: UnixSeconds, skew: i64) -> UnixSeconds {
    date.max(now) + skew
}

/// Verifies a signed request completely. Wrong signatures count towards the lockout of the
/// (client, source) pair and of the source, never of the client as such.
/// One sequence, in the order that matters: nothing is counted or claimed before the request is
/// otherwise valid, and the nonce is claimed last.
///
/// `issuer` is the issuer the request was made to (its Bearer token's `iss`), `skew` the clock
/// skew the date may show.
pub async fn verify(
    ports: &Ports<'_>,
    issuer: &str,
    skew: i64,
    h: &SignedHeaders,
    source: Source,
) -> ApiResult<Principal> {
    let now = ports.now;
    let c = check(h, now, skew)?;
    let claims = crate::oauth::tokens::decode(&ports.ring, c.bearer, issuer, now)?;
    if claims.cnf.is_some() {
        return Err(crate::identity::bound_as_bearer());
    }
    if claims.client_id != c.key {
        return Err(ApiError::unauthorized(
            "signed_bearer_mismatch",
            "the Bearer token is not the signing client's",
        ));
    }
    let attempt = Attempt::new(c.key, source);
    lockout::check(ports.table, attempt, now).await?;
    let verified = crate::oauth::tokens::check_records(ports.table, claims, now).await?;
    let client = &verified.client;
    let message = signing_string(c.key, &h.date, c.nonce);
    let expected = STANDARD.encode(c.signature);
    // Every live secret signs (rotation overlap); a rotated-out one does not.
    let matched =
        client
            .open_secrets(ports.peppers(), now)
            .iter()
            .fold(false, |ok, (_, secret)| {
                ok | ct_eq(
                    hmac_sha256_b64(secret.expose().as_bytes(), message.as_bytes()).as_bytes(),
                    expected.as_bytes(),
                )
            });
    if !matched {
        lockout::record_failure(ports.table, attempt, now).await?;
        return Err(ApiError::unauthorized(
            "signature_invalid",
            "the request signature does not verify",
        ));
    }
    let domain = client.oauth.as_ref().and_then(|o| o.domain.clone());
    match domain {
        Some(d) if referer_matches(&c.referer_host, &d) => {}
        Some(_) => {
            return Err(ApiError::unauthorized(
                "referer_foreign",
                "the Referer is not on the client's registered domain",
            ))
        }
        None => {
            return Err(ApiError::unauthorized(
                "domain_unregistered",
                "the client has no registered domain for signed requests",
            ))
        }
    }
    // Claimed last, once: a conditional put that only one request can win; it lives as long as
    // the date check could still accept the request.
    let item =
        Item::new(nonce_key(c.key, c.nonce), &c.date)?.with_ttl(nonce_expiry(c.date, now, skew));
    match ports.table.put(item, Condition::Vacant { now }).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::unauthorized(
                "nonce_replayed",
                "this nonce was already used",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let mut p = verified.principal();
    p.auth_method = CredentialKind::SignedRequest;
    p.origin = Some(crate::identity::principal::Origin::of(
        crate::identity::policy::Kind::SignedRequest,
    ));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn headers(date: &str, nonce: &str, sig: &str) -> SignedHeaders {
        SignedHeaders {
            api_key: "oc_abcdefghijklmnop".into(),
            date: date.into(),
            nonce: nonce.into(),
            signature: sig.into(),
            bearer: Some("t".into()),
            referer: Some("https://app.example.com/page".into()),
        }
    }

    fn sig() -> String {
        STANDARD.encode([7u8; 32])
    }

    #[test]
    fn a_well_formed_request_passes_the_pure_checks() {
        let h = headers(&NOW.to_string(), "n-1", &sig());
        let c = check(&h, NOW, 300).unwrap();
        assert_eq!(c.referer_host, "app.example.com");
    }

    #[test]
    fn checked_never_debug_prints_the_token_or_signature() {
        let mut h = headers(&NOW.to_string(), "n-1", &sig());
        h.bearer = Some("b3arer-t0ken-value".into());
        let c = check(&h, NOW, 300).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("b3arer-t0ken-value"), "{shown}");
        // The signature's bytes ([7; 32]) are not listed either.
        assert!(!shown.contains("7, 7"), "{shown}");
        assert!(shown.contains("***") && shown.contains("n-1"), "{shown}");
    }

    #[test]
    fn malformed_parts_are_refused_with_their_reason() {
        let cases = [
            (
                headers(&(NOW * 1000).to_string(), "n", &sig()),
                "signed_date_malformed",
            ),
            (
                headers(&(NOW + 301).to_string(), "n", &sig()),
                "signed_date_skew",
            ),
            (
                headers(&(NOW - 301).to_string(), "n", &sig()),
                "signed_date_skew",
            ),
            (headers("17e8", "n", &sig()), "signed_date_malformed"),
            (
                headers(&NOW.to_string(), &"n".repeat(33), &sig()),
                "nonce_malformed",
            ),
            (headers(&NOW.to_string(), "a\tb", &sig()), "nonce_malformed"),
            (headers(&NOW.to_string(), "", &sig()), "nonce_malformed"),
            (
                headers(&NOW.to_string(), "n", &sig()[..40]),
                "signature_malformed",
            ),
            (
                headers(&NOW.to_string(), "n", &format!("{}==", &sig()[..43])),
                "signature_malformed",
            ),
            (
                headers(&NOW.to_string(), "n", &STANDARD.encode([1u8; 31])),
                "signature_malformed",
            ),
        ];
        for (h, reason) in cases {
            assert_eq!(check(&h, NOW, 300).unwrap_err().reason, reason, "{h:?}");
        }
        let mut h = headers(&NOW.to_string(), "n", &sig());
        h.referer = None;
        assert_eq!(check(&h, NOW, 300).unwrap_err().reason, "referer_missing");
        let mut h = headers(&NOW.to_string(), "n", &sig());
        h.bearer = None;
        assert_eq!(
            check(&h, NOW, 300).unwrap_err().reason,
            "signed_bearer_missing"
        );
    }

    #[test]
    fn referers_match_the_domain_and_its_subdomains_only() {
        assert!(referer_matches("app.example.com", "app.example.com"));
        assert!(referer_matches("eu.app.example.com", "app.example.com"));
        assert!(!referer_matches("evilapp.example.com", "app.example.com"));
        assert!(!referer_matches(
            "app.example.com.evil.test",
            "app.example.com"
        ));
    }

    #[test]
    fn a_nonce_lives_as_long_as_its_request_could_pass() {
        // A client clock 250 s ahead: accepted until date + skew, so kept until then.
        assert_eq!(nonce_expiry(NOW + 250, NOW, 300), NOW + 550);
        assert_eq!(nonce_expiry(NOW - 250, NOW, 300), NOW + 300);
    }

    /// The replay an expiry of `now + skew + 60` let through: a request dated 250 s ahead,
    /// replayed 400 s later — its nonce forgotten at +360, its date still within the window.
    #[tokio::test]
    async fn a_request_from_a_fast_clock_cannot_be_replayed() {
        use crate::accounts::{self, AuthMethod};
        use crate::clients::{Client, OAuthSettings};
        use crate::oauth::tokens::{Claims, TokenKind};
        use std::sync::Arc;

        let clock = crate::kernel::clock::ManualClock::new(NOW);
        let config = crate::kernel::config::Config::local("http://127.0.0.1:3000");
        let s =
            crate::ports::services::Services::in_memory(config.clone(), Arc::new(clock.clone()))
                .await;
        let ring = s.keys.ring().await;
        let table = &*s.table;
        let acc = accounts::create_account(table, ring.peppers(), &config, "A", "o@a.test", NOW)
            .await
            .unwrap();
        let mut settings = acc.account.settings.clone();
        settings.method = AuthMethod::OAuth2;
        accounts::update_settings(table, &acc.account.id, settings, vec![])
            .await
            .unwrap();
        let oauth = OAuthSettings {
            redirect_uris: vec![],
            scopes: vec!["Basic".into()],
            domain: Some("app.example.com".into()),
            public: false,
            implicit: false,
            ..Default::default()
        };
        let (client, secret) = Client::new_oauth(
            ring.peppers(),
            acc.account.id.clone(),
            "c".into(),
            oauth,
            NOW,
        );
        crate::clients::create(table, &client, vec![])
            .await
            .unwrap();
        let claims = Claims {
            iss: config.issuer.clone(),
            sub: client.id.clone(),
            aud: config.issuer.clone(),
            exp: NOW + 3600,
            iat: NOW,
            nbf: NOW,
            jti: crate::oauth::tokens::new_jti(),
            client_id: client.id.clone(),
            scope: "Basic".into(),
            acc: acc.account.id.clone(),
            kind: TokenKind::Oauth,
            sub_type: crate::identity::SubjectType::Client,
            sid: client.current_secret_id(NOW).map(str::to_owned),
            fam: None,
            cnf: None,
            crt: None,
        };
        let bearer = ring.sign_jwt(&claims, NOW).unwrap();
        let date = (NOW + 250).to_string();
        let message = signing_string(&client.id, &date, "n1");
        let h = SignedHeaders {
            api_key: client.id.clone(),
            date,
            nonce: "n1".into(),
            signature: hmac_sha256_b64(secret.unwrap().expose().as_bytes(), message.as_bytes()),
            bearer: Some(bearer),
            referer: Some("https://app.example.com/".into()),
        };
        let skew = config.clock_skew;
        verify(
            &Ports::of(&s).await,
            &config.issuer,
            skew,
            &h,
            Source::UNKNOWN,
        )
        .await
        .expect("first use");
        clock.advance(400);
        let e = verify(
            &Ports::of(&s).await,
            &config.issuer,
            skew,
            &h,
            Source::UNKNOWN,
        )
        .await
        .unwrap_err();
        assert_eq!(e.reason, "nonce_replayed");
    }

    #[test]
    fn the_signing_string_is_key_date_nonce() {
        assert_eq!(signing_string("k", "1", "n"), "k\n1\nn");
    }
}
