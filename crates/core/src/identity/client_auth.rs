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

use crate::clients::{self, Client, ClientKind};
use crate::identity::lockout::{self, Attempt, Source};
use crate::kernel::error::{ApiError, ApiResult};
use crate::ports::Ports;

/// A client that proved itself.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client: Client,
    /// The id of the secret it used (`None` for a public OAuth client).
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
