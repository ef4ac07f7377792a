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
//! wrong secret does. Only the client's own published keys being out of reach (its `jwksUri`
//! does not answer) is refused without counting: that is not the presenter's failure.

use crate::clients::{self, Client, ClientKind, KeySource};
use crate::identity::assertion::{self, KeyCheck};
use crate::identity::lockout::{self, Attempt, Source};
use crate::kernel::error::{ApiError, ApiResult};
use crate::ports::jwks::RemoteJwks;
use crate::ports::Ports;

/// A client that proved itself.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client: Client,
    /// The id of the secret it used, or of its keys (`None` for a public OAuth client).
    pub secret_id: Option<String>,
}

/// Why authentication failed: the reason code, for the caller's own error dialect. Every one is
/// a `401` (`invalid_client` on the OAuth routes).
fn refused(reason: &'static str) -> ApiError {
    ApiError::unauthorized(reason, "client authentication failed")
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

/// Checks a client assertion (`private_key_jwt`, [`crate::identity::assertion`]) for the issuer
/// `issuer` (its `aud`), with lockout: the client is the assertion's `sub`; its keys are its
/// registered `jwks`, or those published at its `jwksUri` (through `remote`, fetched again once
/// when the assertion names a key the cached set lacks); the `jti` is claimed last.
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
    let fail = |reason: &'static str, msg: &'static str| async move {
        lockout::record_failure(table, attempt, now).await?;
        Err::<Authenticated, ApiError>(ApiError::unauthorized(reason, msg))
    };
    let generic = "client authentication failed";
    let client = match clients::get(table, id).await? {
        Some((c, _)) if c.kind == ClientKind::OAuth => c,
        _ => return fail("client_unknown", generic).await,
    };
    let Some(keys) = client.keys().cloned() else {
        return fail("client_auth_method", generic).await;
    };
    let alg = match unverified.check(issuer, now) {
        Ok(alg) => alg,
        Err(assertion::Refused(why)) => return fail("client_assertion_invalid", why).await,
    };
    let mut check = match &keys.source {
        KeySource::Jwks(set) => unverified.verify(alg, set),
        KeySource::JwksUri(uri) => match remote.keys(uri, now, false).await {
            Ok(set) => unverified.verify(alg, &set),
            Err(e) => return Err(unavailable(e)),
        },
    };
    let missing = matches!(check, KeyCheck::NoSuchKey);
    if let (true, KeySource::JwksUri(uri)) = (missing, &keys.source) {
        // The client may have rotated its keys since the copy in hand: fetched again, once.
        check = match remote.keys(uri, now, true).await {
            Ok(set) => unverified.verify(alg, &set),
            Err(e) => return Err(unavailable(e)),
        };
    }
    let verified = match check {
        KeyCheck::Verified(v) => v,
        KeyCheck::NoSuchKey => {
            return fail(
                "client_assertion_key",
                "the client assertion is signed with none of the client's keys",
            )
            .await
        }
        KeyCheck::Refused(assertion::Refused(why)) => {
            return fail("client_assertion_signature", why).await
        }
    };
    if !assertion::claim(table, &verified, now).await? {
        return fail(
            "client_assertion_replayed",
            "the client assertion was already used (its jti)",
        )
        .await;
    }
    Ok(Authenticated {
        secret_id: Some(keys.id.clone()),
        client,
    })
}

/// The client's published keys could not be had: `401 invalid_client`, saying so, not counted.
fn unavailable(e: crate::ports::jwks::FetchError) -> ApiError {
    ApiError::unauthorized(
        "client_jwks_unavailable",
        format!("the client's keys could not be fetched from its jwksUri: {e}"),
    )
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

        // Another client whose host is down: refused each time, never counted for the lockout.
        let down = client_with(
            &services,
            KeySource::JwksUri("https://down.example/".into()),
        )
        .await;
        let key = ProofKey::es256();
        let remote_down = RemoteJwks::new(Published::default());
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
                (e.status().as_u16(), e.reason),
                (401, "client_jwks_unavailable")
            );
        }
        lockout::check(ports.table, Attempt::new(&down.id, source), now)
            .await
            .expect("not locked: an unreachable jwksUri is not the presenter's failure");
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
        assert_eq!(e.reason, "client_auth_method");
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
