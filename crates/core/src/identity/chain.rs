//! Provenance: what a derived credential came from (docs/CREDENTIALS.md: "the chain is
//! recorded on what is derived"), stored on authentication tokens and the sessions they open,
//! and checked again on every use of them ([`check`]) — so **revocation flows down**: when the
//! credential at the root stops (API key regenerated, client deleted, its secret rotated out, its
//! creator no longer allowed to manage, the account switched method) or a session it was minted
//! through ends, everything derived from it stops at the next request.
//!
//! ```text
//!  API key ──mint──▶ user token ──/auth──▶ console session ──mint (CSRF)──▶ token ──▶ session …
//!     │                                          (manages as the key's user may)
//!     └─regenerated: all of it stops
//!  client secret ──▶ API / client-credentials token ──mint──▶ user token ──/auth──▶ integration
//!     │                                                                           session
//!     └─client deleted, secret rotated out, creator lost API_ACCESS, method switched: all stop
//! ```
//!
//! A chain is read in one batch: the root's user (and client), and every session it went
//! through. It is at most [`MAX_DEPTH`] sessions deep.

use serde::{Deserialize, Serialize};

use crate::accounts::{self, Account, AuthMethod, User};
use crate::clients::{self, Client, ClientKind};
use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::SecretHash;
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::ids::UserId;
use crate::ports::store::{Key, Table};

/// Most console sessions a chain may go through (a session minting the token of its next one).
pub const MAX_DEPTH: usize = 4;

/// The credential a chain starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "by",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum Root {
    /// An API key: its user, and the keyed hash the key had (a regenerated key has another).
    ApiKey { user_id: UserId, key: SecretHash },
    /// An integration: a client app's API token or a client-credentials OAuth token — the
    /// client, the secret the token was obtained with, and the user the client acts as.
    Client {
        client_id: String,
        kind: ClientKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sid: Option<String>,
        user_id: UserId,
    },
}

impl Root {
    /// The user the root credential acts as.
    pub fn user_id(&self) -> &UserId {
        match self {
            Root::ApiKey { user_id, .. } | Root::Client { user_id, .. } => user_id,
        }
    }
}

/// What a derived credential came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chain {
    pub root: Root,
    /// The console sessions it was minted through, oldest first (keyed hashes of their values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SecretHash>,
    /// Nothing derived through a session outlives it: the earliest expiry along the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<UnixSeconds>,
}

impl Chain {
    pub fn from(root: Root) -> Self {
        Self {
            root,
            sessions: vec![],
            not_after: None,
        }
    }

    /// The chain of what a session (with this chain, the keyed hash `session`, expiring at
    /// `expires_at`) mints: this one, through that session. `403` past [`MAX_DEPTH`].
    pub fn through(&self, session: SecretHash, expires_at: UnixSeconds) -> ApiResult<Chain> {
        if self.sessions.len() >= MAX_DEPTH {
            return Err(ApiError::forbidden(
                "chain_too_long",
                "this session was itself minted through too many sessions to mint another",
            ));
        }
        let mut next = self.clone();
        next.sessions.push(session);
        next.not_after = Some(self.not_after.map_or(expires_at, |n| n.min(expires_at)));
        Ok(next)
    }

    /// `at`, moved earlier to the chain's end if it would outlive it.
    pub fn clamp(&self, at: UnixSeconds) -> UnixSeconds {
        self.not_after.map_or(at, |n| n.min(at))
    }

    /// Started by an integration (its sessions reach the platform only).
    pub fn from_integration(&self) -> bool {
        matches!(self.root, Root::Client { .. })
    }
}

/// What [`check`] found: the chain holds, and its root's user as it is now.
#[derive(Debug, Clone)]
pub struct Held {
    pub root_user: User,
}

fn stopped(reason: &'static str, message: &'static str) -> ApiError {
    ApiError::unauthorized(reason, message)
}

/// Checks that every link of `chain` still holds in `account`, in one batched read; `401` with
/// the reason of the first broken link: `api_key_regenerated`, `client_revoked`,
/// `secret_rotated_out`, `creator_lost_access`, `source_lost_access`, `auth_method_refused`,
/// `user_unknown`, `session_ended`. `session_key` names a session's record (the sessions module owns them).
pub async fn check(
    table: &dyn Table,
    account: &Account,
    chain: &Chain,
    session_key: fn(&SecretHash) -> Key,
    now: UnixSeconds,
) -> ApiResult<Held> {
    let mut keys = vec![accounts::user_key(&account.id, chain.root.user_id())];
    if let Root::Client { client_id, .. } = &chain.root {
        keys.push(clients::client_key(client_id));
    }
    keys.extend(chain.sessions.iter().map(session_key));
    let mut found = table.get_many(&keys).await?.into_iter();
    let user: User = found
        .next()
        .flatten()
        .map(|i| i.decode())
        .transpose()?
        .ok_or_else(|| {
            stopped(
                "user_unknown",
                "the user this was minted for no longer exists",
            )
        })?;
    match &chain.root {
        Root::ApiKey { key, .. } => {
            if user.api_key_hash != *key {
                return Err(stopped(
                    "api_key_regenerated",
                    "the API key this was minted with has been regenerated",
                ));
            }
            // Only a key that could manage minted anything: when its user loses the right
            // (`API_ACCESS` removed, roles turned off), what it minted stops too.
            if !user.may_manage(&account.settings) {
                return Err(stopped(
                    "source_lost_access",
                    "the user whose API key minted this may no longer manage the account",
                ));
            }
        }
        Root::Client { kind, sid, .. } => {
            let client: Option<Client> = found.next().flatten().map(|i| i.decode()).transpose()?;
            let Some(client) = client.filter(|c| c.account_id == account.id && c.kind == *kind)
            else {
                return Err(stopped(
                    "client_revoked",
                    "the client this was minted with no longer exists",
                ));
            };
            if sid
                .as_deref()
                .is_some_and(|sid| !client.secret_live(sid, now))
            {
                return Err(stopped(
                    "secret_rotated_out",
                    "the client secret this was minted with has been rotated out",
                ));
            }
            let method = match kind {
                ClientKind::App => AuthMethod::ApiKey,
                ClientKind::OAuth => AuthMethod::OAuth2,
            };
            if account.settings.method != method {
                return Err(stopped(
                    "auth_method_refused",
                    "the account no longer uses the method of the client this was minted with",
                ));
            }
            if !user.may_manage(&account.settings) {
                return Err(stopped(
                    "creator_lost_access",
                    "the user the client acts as may no longer manage the account",
                ));
            }
        }
    }
    for session in found {
        if !session.is_some_and(|s| s.is_live(now)) {
            return Err(stopped(
                "session_ended",
                "the session this was minted through has ended",
            ));
        }
    }
    Ok(Held { root_user: user })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Chain {
        Chain::from(Root::ApiKey {
            user_id: UserId::generate(),
            key: SecretHash("p1$k".into()),
        })
    }

    #[test]
    fn what_a_session_mints_never_outlives_it() {
        let c = root();
        assert_eq!(c.clamp(500), 500);
        let one = c.through(SecretHash("p1$a".into()), 300).unwrap();
        assert_eq!(one.clamp(500), 300);
        assert_eq!(one.clamp(200), 200);
        // A later session minted through an earlier one keeps the earlier end.
        let two = one.through(SecretHash("p1$b".into()), 400).unwrap();
        assert_eq!(two.not_after, Some(300));
        assert_eq!(two.sessions.len(), 2);
        assert!(!two.from_integration());
    }

    #[test]
    fn chains_are_bounded() {
        let mut c = root();
        for i in 0..MAX_DEPTH {
            c = c.through(SecretHash(format!("p1${i}")), 1000).unwrap();
        }
        let e = c.through(SecretHash("p1$x".into()), 1000).unwrap_err();
        assert_eq!(e.reason, "chain_too_long");
    }
}
