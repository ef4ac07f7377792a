//! The one check of a client id and secret, with lockout: used by the client-app token exchange
//! (`/apitoken/clientApp/accessToken`) and by every OAuth 2.0 route that authenticates a client.
//!
//! Order, so that nobody can be locked out by someone else and junk costs nothing:
//! 1. the id's shape (`app_…` / `oc_…`): a malformed id never reaches the table; with a secret
//!    it counts as a failure of its source only;
//! 2. the lock of the source and of the (client, source) pair (`429`);
//! 3. the record, then the secret in constant time against every live secret. A wrong secret, or
//!    an unknown client named with a secret, counts one failure for the pair and the source; a
//!    request that carries no secret is refused without counting.
//!
//! [`authenticate_assertion`] is the same check for `private_key_jwt` (RFC 7523): the client it
//! names is the assertion's `sub`, and a bad assertion — malformed, for an unknown client or one
//! with a secret, with a wrong claim, signed by another key, replayed — counts exactly as a
//! wrong secret does. The client's published keys being out of reach (its `jwksUri` does not
//! answer) counts for the source alone, and only when this request made keygate fetch them:
//! a fetch costs keygate up to its timeout, so whoever keeps causing fetches of sets that do
//! not answer is locked out as a guesser would be, while a remembered failure costs nothing and
//! counts nothing (and the pair, the client's own address among them, is not counted).
//!
//! Every refusal of an assertion says the same to the caller — `invalid_client`, "client
//! authentication failed" — until its signature has verified: whether the client exists, has
//! keys, publishes them at a URI that answers, or which claim is wrong is no business of
//! someone who has not proven the key. The reason code (and the detail) is logged. Only a
//! replay, refused after the signature verified, says so.

use crate::clients::{self, Client, ClientKind, KeySource};
use crate::identity::assertion::{self, KeyCheck};
use crate::identity::lockout::{self, Attempt, Source};
use crate::kernel::error::{ApiError, ApiResult};
use crate::ports::jwks::{RemoteJwks, SetId, Unavailable};
use crate::ports::Ports;

/// A client that proved itself.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client: Client,
    /// The id of the secret it used, or of its keys (`None` for a public OAuth client).
    pub secret_id: Option<String>,
}

/// Why authentication failed: the reason code, for the caller's own error dialect (the OAuth
/// routes send none of it) and the log. Every one is a `401` (`invalid_client` on the OAuth
/// routes) with the same message.
fn refused(reason: &'static str) -> ApiError {
    ApiError::unauthorized(reason, GENERIC)
}

/// Checks `secret` for the client `id` of `kind`. For OAuth clients, a public client presents
/// no secret (`public_allowed` says whether the route takes public clients at all).
pub async fn authenticate(
    ports: &Ports<'_>,
    kind: ClientKind,
    id: &str,
    secret: Option<&str>,
    public_allowed: bool,
    source: Source,
) -> ApiResult<Authenticated> {
    let now = ports.now;
    let table = ports.table;
    if !kind.id_well_formed(id) {
        let anonymous = Attempt::anonymous(source);
        lockout::check(table, anonymous, now).await?;
        if secret.is_some() {
            lockout::record_failure(table, anonymous, now).await?;
        }
        return Err(refused("client_unknown"));
    }
    let attempt = Attempt::new(id, source);
    lockout::check(table, attempt, now).await?;
    let fail = |reason: &'static str| async move {
        if secret.is_some() {
            lockout::record_failure(table, attempt, now).await?;
        }
        Err::<Authenticated, ApiError>(refused(reason))
    };
    let client = match clients::get(table, id).await? {
        Some((c, _)) if c.kind == kind => c,
        _ => return fail("client_unknown").await,
    };
    if secret.is_some() && client.keys().is_some() {
        // It has no secret: whatever was presented as one is wrong.
        return fail("client_auth_method").await;
    }
    let public = client.oauth.as_ref().is_some_and(|o| o.public);
    let secret_id = match (public, secret) {
        (true, None) if public_allowed => None,
        (true, None) => return fail("client_public").await,
        (true, Some(_)) => return fail("client_public_with_secret").await,
        (false, None) => return fail("client_secret_missing").await,
        (false, Some(secret)) => match client.check_secret(ports.peppers(), secret, now) {
            Some(found) => Some(found.id.clone()),
            None => return fail("client_secret_wrong").await,
        },
    };
    Ok(Authenticated { client, secret_id })
}

/// What every refused assertion tells its caller.
pub const GENERIC: &str = "client authentication failed";

/// Checks a client assertion (`private_key_jwt`, [`crate::identity::assertion`]) for the issuer
/// `issuer` (its `aud`), with lockout: the client is the assertion's `sub`; its keys are its
/// registered `jwks`, or those published at its `jwksUri` (through `remote`, fetched again once
/// when the assertion names a key the cached set lacks); the `jti` is claimed last. Every
/// refusal before the signature verifies is the same `401` ([`GENERIC`]); its reason is logged.
pub async fn authenticate_assertion(
    ports: &Ports<'_>,
    remote: &RemoteJwks,
    assertion: &str,
    issuer: &str,
    source: Source,
) -> ApiResult<Authenticated> {
    let (now, table) = (ports.now, ports.table);
    let named =
        assertion::read(assertion).filter(|a| ClientKind::OAuth.id_well_formed(a.client_id()));
    let Some(unverified) = named else {
        let anonymous = Attempt::anonymous(source);
        lockout::check(table, anonymous, now).await?;
        lockout::record_failure(table, anonymous, now).await?;
        return Err(refused("client_assertion_malformed"));
    };
    let id = unverified.client_id();
    let attempt = Attempt::new(id, source);
    lockout::check(table, attempt, now).await?;
    let fail = |reason: &'static str, detail: &'static str| async move {
        tracing::info!(client = id, reason, detail, "client assertion refused");
        lockout::record_failure(table, attempt, now).await?;
        Err::<Authenticated, ApiError>(refused(reason))
    };
    let client = match clients::get(table, id).await? {
        Some((c, _)) if c.kind == ClientKind::OAuth => c,
        _ => return fail("client_unknown", "no such OAuth client").await,
    };
    let Some(keys) = client.keys().cloned() else {
        return fail("client_auth_method", "the client has a secret, not keys").await;
    };
    let alg = match unverified.check(issuer, now) {
        Ok(alg) => alg,
        Err(why) => return fail(why.reason, why.why).await,
    };
    // The client's keys: inline, or published (the cached copy, then once afresh when the
    // assertion names a key the copy lacks).
    let mut check = match &keys.source {
        KeySource::Jwks(set) => unverified.verify(alg, set),
        KeySource::JwksUri(uri) => {
            let set = SetId {
                registration: &keys.id,
                uri,
            };
            match remote.keys(set, now, false).await {
                Ok(published) => unverified.verify(alg, &published),
                Err(e) => return unavailable(ports, id, source, e).await,
            }
        }
    };
    if let (KeyCheck::NoSuchKey, KeySource::JwksUri(uri)) = (&check, &keys.source) {
        // The client may have rotated its keys since the copy in hand: fetched again, once.
        let set = SetId {
            registration: &keys.id,
            uri,
        };
        check = match remote.keys(set, now, true).await {
            Ok(published) => unverified.verify(alg, &published),
            Err(e) => return unavailable(ports, id, source, e).await,
        };
    }
    let verified = match check {
        KeyCheck::Verified(v) => v,
        KeyCheck::NoSuchKey => {
            return fail(
                "client_assertion_key",
                "signed with none of the client's keys",
            )
            .await
        }
        KeyCheck::Refused(why) => return fail(why.reason, why.why).await,
    };
    // The signature verified: the caller holds the key, and may be told what is wrong.
    if !assertion::claim(table, &verified, now).await? {
        lockout::record_failure(table, attempt, now).await?;
        return Err(ApiError::unauthorized(
            "client_assertion_replayed",
            "the client assertion was already used (its jti)",
        ));
    }
    Ok(Authenticated {
        secret_id: Some(keys.id.clone()),
        client,
    })
}

/// The client's published keys could not be had: `401`, the generic message. When this request
/// made keygate fetch (and wait up to the timeout), one failure is counted for its source — not
/// for the pair: the client's own address is not locked out of a client whose host is down.
async fn unavailable(
    ports: &Ports<'_>,
    id: &str,
    source: Source,
    e: Unavailable,
) -> ApiResult<Authenticated> {
    tracing::info!(
        client = id,
        reason = "client_jwks_unavailable",
        detail = e.error.0,
        fetched = e.fetched,
        "client assertion refused"
    );
    if e.fetched {
        lockout::record_failure(ports.table, Attempt::anonymous(source), ports.now).await?;
    }
    Err(refused("client_jwks_unavailable"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::clients::{ClientKeys, OAuthSettings};
    use crate::kernel::ids::AccountId;
    use crate::ports::jwks::{FetchError, FetchJwks};
    use crate::testing::dpop::ProofKey;

    /// A published key set the test changes, counting fetches; empty: the host is down.
    #[derive(Clone, Default)]
    struct Published {
        keys: Arc<Mutex<Vec<serde_json::Value>>>,
        fetches: Arc<AtomicUsize>,
    }

    #[async_trait::async_trait]
    impl FetchJwks for Published {
        async fn fetch(&self, _: &str) -> Result<Vec<serde_json::Value>, FetchError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let keys = self.keys.lock().unwrap().clone();
            if keys.is_empty() {
                Err(FetchError("down"))
            } else {
                Ok(keys)
            }
        }
    }

    async fn client_with(services: &crate::Services, source: KeySource) -> Client {
        let ring = services.keys.ring().await;
        let (client, secret) = Client::new_oauth(
            ring.peppers(),
            AccountId::generate(),
            "keys".into(),
            OAuthSettings {
                scopes: vec!["Basic".into()],
                keys: Some(ClientKeys::new(source)),
                ..Default::default()
            },
            services.now(),
        );
        assert!(secret.is_none());
        services
            .table
            .transact(vec![client.write(None).unwrap()])
            .await
            .unwrap();
        client
    }

    #[tokio::test]
    async fn a_rotated_published_key_is_fetched_once_and_a_down_host_counts_nothing() {
        let services = crate::testing::memory_services().await;
        let ports = Ports::of(&services).await;
        let issuer = services.config.issuer.clone();
        let published = Published::default();
        let remote = RemoteJwks::new(published.clone());
        let uri = "https://client.example/jwks.json";
        let client = client_with(&services, KeySource::JwksUri(uri.into())).await;
        let (old, new) = (ProofKey::es256(), ProofKey::ed25519());
        *published.keys.lock().unwrap() = vec![old.public_jwk_with_kid("old")];
        let source = Source::parse(Some("10.9.8.7"));
        let now = ports.now;
        let try_with = |key: &ProofKey, kid: &str| {
            let assertion = key.assertion(&client.id, &issuer, now, Some(kid));
            let (ports, remote, issuer) = (&ports, &remote, &issuer);
            async move { authenticate_assertion(ports, remote, &assertion, issuer, source).await }
        };
        let ok = try_with(&old, "old").await.unwrap();
        assert_eq!(
            ok.secret_id.as_deref(),
            client.keys().map(|k| k.id.as_str())
        );
        // Rotated at the client: the new kid is missing from the copy in hand, so one fetch —
        // but the cooldown has not passed, so it is refused (and counted) for now.
        *published.keys.lock().unwrap() = vec![new.public_jwk_with_kid("new")];
        let e = try_with(&new, "new").await.unwrap_err();
        assert_eq!(e.reason, "client_assertion_key");
        assert_eq!(published.fetches.load(Ordering::SeqCst), 1);
        let later = Ports {
            now: now + crate::ports::jwks::COOLDOWN,
            ..ports.clone()
        };
        let assertion = new.assertion(&client.id, &issuer, later.now, Some("new"));
        authenticate_assertion(&later, &remote, &assertion, &issuer, source)
            .await
            .unwrap();
        assert_eq!(published.fetches.load(Ordering::SeqCst), 2);

        // Another client whose host is down (or hangs): refused each time; counted for the
        // source each time this instance fetched, which the backoff makes rare; never for the
        // pair, so the client's own address is not locked out of it.
        let down = client_with(
            &services,
            KeySource::JwksUri("https://down.example/".into()),
        )
        .await;
        let key = ProofKey::es256();
        let hanging = Published::default();
        let remote_down = RemoteJwks::new(hanging.clone());
        for i in 0..8 {
            let at = Ports {
                now: now + i * crate::ports::jwks::COOLDOWN,
                ..ports.clone()
            };
            let assertion = key.assertion(&down.id, &issuer, at.now, None);
            let e = authenticate_assertion(&at, &remote_down, &assertion, &issuer, source)
                .await
                .unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.reason, e.message.as_ref()),
                (401, "client_jwks_unavailable", GENERIC)
            );
        }
        // Fetched at 0, 60 (after 60 s) and 180 (after 120 s) of the eight tries over 210 s.
        assert_eq!(hanging.fetches.load(Ordering::SeqCst), 3);
        let (by_source, by_pair) =
            lockout::failures(ports.table, Attempt::new(&down.id, source), now)
                .await
                .unwrap();
        // The source's earlier refusal (the rotated key above) and one per fetch.
        assert_eq!((by_source, by_pair), (1 + 3, Some(0)));
    }

    #[tokio::test]
    async fn a_caller_who_has_not_proven_the_key_learns_nothing_but_the_reason_is_kept() {
        let services = crate::testing::memory_services().await;
        let ports = Ports::of(&services).await;
        let issuer = services.config.issuer.clone();
        let now = ports.now;
        let (_, secret_client, _) = crate::testing::oauth_client_token(&services, None).await;
        let key = ProofKey::es256();
        let inline = client_with(&services, KeySource::Jwks(vec![key.public_jwk()])).await;
        let published = client_with(
            &services,
            KeySource::JwksUri("https://down.example/".into()),
        )
        .await;
        let remote = RemoteJwks::new(Published::default());
        let b64 = |v: &serde_json::Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let claims = crate::testing::dpop::assertion_claims(&inline.id, &issuer, now);
        let mut late = claims.clone();
        late["exp"] = serde_json::json!(now + 3600);
        let cases = [
            ("not a JWT".to_owned(), "client_assertion_malformed"),
            (
                key.assertion("oc_aaaaaaaaaaaaaaaa", &issuer, now, None),
                "client_unknown",
            ),
            (
                key.assertion(&secret_client.id, &issuer, now, None),
                "client_auth_method",
            ),
            (
                format!(
                    "{}.{}.",
                    b64(&serde_json::json!({"alg": "none"})),
                    b64(&claims)
                ),
                "client_assertion_alg",
            ),
            (
                key.sign_header(
                    &serde_json::json!({"alg": "ES256", "typ": "dpop+jwt"}),
                    &claims,
                ),
                "client_assertion_header",
            ),
            (key.assertion_with(&late, None), "client_assertion_claims"),
            (
                key.assertion(&inline.id, &issuer, now, Some("other")),
                "client_assertion_key",
            ),
            (
                ProofKey::es256().assertion(&inline.id, &issuer, now, None),
                "client_assertion_signature",
            ),
            (
                key.assertion(&published.id, &issuer, now, None),
                "client_jwks_unavailable",
            ),
        ];
        for (n, (assertion, reason)) in cases.iter().enumerate() {
            let source = Source::parse(Some(&format!("10.9.7.{n}")));
            let e = authenticate_assertion(&ports, &remote, assertion, &issuer, source)
                .await
                .unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.reason, e.message.as_ref()),
                (401, *reason, GENERIC)
            );
        }
        // Once the key is proven, a replay is named as such.
        let good = key.assertion(&inline.id, &issuer, now, None);
        let source = Source::parse(Some("10.9.7.99"));
        authenticate_assertion(&ports, &remote, &good, &issuer, source)
            .await
            .unwrap();
        let e = authenticate_assertion(&ports, &remote, &good, &issuer, source)
            .await
            .unwrap_err();
        assert_eq!(e.reason, "client_assertion_replayed");
        assert!(e.message.contains("already used"), "{}", e.message);
        // A key client naming itself without anything (the public clients' way) is refused as
        // any confidential client is, and not counted.
        for public_allowed in [true, false] {
            let e = authenticate(
                &ports,
                ClientKind::OAuth,
                &inline.id,
                None,
                public_allowed,
                source,
            )
            .await
            .unwrap_err();
            assert_eq!(
                (e.reason, e.message.as_ref()),
                ("client_secret_missing", GENERIC)
            );
        }
    }

    #[tokio::test]
    async fn a_secret_client_refuses_assertions_and_a_key_client_refuses_secrets() {
        let services = crate::testing::memory_services().await;
        let ports = Ports::of(&services).await;
        let issuer = services.config.issuer.clone();
        let (_, secret_client, _) = crate::testing::oauth_client_token(&services, None).await;
        let key = ProofKey::es256();
        let remote = RemoteJwks::new(crate::ports::jwks::NoFetch);
        let source = Source::parse(Some("10.9.8.6"));
        let assertion = key.assertion(&secret_client.id, &issuer, ports.now, None);
        let e = authenticate_assertion(&ports, &remote, &assertion, &issuer, source)
            .await
            .unwrap_err();
        assert_eq!(
            (e.reason, e.message.as_ref()),
            ("client_auth_method", GENERIC)
        );
        let keyed = client_with(&services, KeySource::Jwks(vec![key.public_jwk()])).await;
        let e = authenticate(
            &ports,
            ClientKind::OAuth,
            &keyed.id,
            Some("a-guess"),
            false,
            source,
        )
        .await
        .unwrap_err();
        assert_eq!(e.reason, "client_auth_method");
        // Both counted: four more failures lock the pair.
        for _ in 0..4 {
            let forged = ProofKey::es256().assertion(&keyed.id, &issuer, ports.now, None);
            authenticate_assertion(&ports, &remote, &forged, &issuer, source)
                .await
                .unwrap_err();
        }
        let good = key.assertion(&keyed.id, &issuer, ports.now, None);
        let e = authenticate_assertion(&ports, &remote, &good, &issuer, source)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 429);
    }
}
