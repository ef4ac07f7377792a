//! Bearer tokens: ES256 JWTs in the RFC 9068 profile (`typ: at+jwt`; `iss`, `sub`, `aud`, `exp`,
//! `iat`, `jti`, `client_id`, `scope`), plus keygate's own claims. Checking one costs a signature
//! check and **one** batched table read — the client's record, the token's and its family's
//! revocations, the account (its current authentication method) and, for a user's token, the
//! user (still there, still allowed) — so a revoked client, a rotated-out secret, a revoked
//! token, a switch of method or a user's lost permission fails from the next request on (within
//! the read cache's seconds for another instance's change).

use serde::{Deserialize, Serialize};

use crate::accounts::{self, Account, User};
use crate::clients::{self, Client, ClientKind};
use crate::identity::policy::Kind;
use crate::identity::principal::{CredentialKind, Origin, Principal, SubjectType};
use crate::kernel::clock::UnixSeconds;
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::ids::{AccountId, UserId};
use crate::ports::keys::{check_times, Expect, JwtError, KeyRing};
use crate::ports::store::{Item, Table};

/// Allowed clock difference on `exp`/`nbf`/`iat`.
pub use crate::ports::keys::LEEWAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A client app's API token.
    Api,
    /// An OAuth 2.0 access token.
    Oauth,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: UnixSeconds,
    pub iat: UnixSeconds,
    pub nbf: UnixSeconds,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    /// The account.
    pub acc: AccountId,
    pub kind: TokenKind,
    /// What `sub` is.
    pub sub_type: SubjectType,
    /// The client secret this token was obtained with (refused once that secret is rotated out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The grant family (authorization code and its refresh tokens), revoked as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
    /// The key a DPoP-bound token is bound to (RFC 9449 §6: `cnf.jkt`): presented only as
    /// `Authorization: DPoP` with a proof of that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// A client-credentials token: the user its client acts as (its creator), who must still
    /// be allowed to manage for the token to be honoured (revocation flows down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crt: Option<UserId>,
}

/// RFC 7800 confirmation: the JWK SHA-256 thumbprint of the key a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl Claims {
    /// The thumbprint of the key this token is bound to, if it is DPoP-bound.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().map(|c| c.jkt.as_str())
    }
}

impl Claims {
    /// The caller this token proves, with the account's **current** authentication method (not
    /// the one the token was minted under: a switch refuses old tokens at the platform routes).
    pub fn principal(&self, account: &Account) -> Principal {
        Principal {
            account_id: self.acc.clone(),
            subject_type: self.sub_type,
            subject_id: self.sub.clone(),
            client_id: Some(self.client_id.clone()),
            scopes: self.scope.split_whitespace().map(str::to_owned).collect(),
            package_id: None,
            signer_id: None,
            auth_method: match self.kind {
                TokenKind::Api => CredentialKind::ApiToken,
                TokenKind::Oauth => CredentialKind::OAuth2,
            },
            account_method: account.settings.method,
            session_fields: None,
            minted_by: None,
            origin: Some(Origin {
                sid: self.sid.clone(),
                ..Origin::of(self.policy_kind())
            }),
        }
    }

    /// Its row of the authorization table: a client app's API token and a client-credentials
    /// token (subject: the client) are integrations; a token a user delegated is not.
    pub fn policy_kind(&self) -> Kind {
        match (self.kind, self.sub_type) {
            (TokenKind::Api, _) | (TokenKind::Oauth, SubjectType::Client) => Kind::Integration,
            (TokenKind::Oauth, _) => Kind::Delegated,
        }
    }

    /// The user this token speaks for, when its subject is one (an owner or a user), or the
    /// user a client-credentials token's client acts as.
    fn subject_user(&self) -> Option<UserId> {
        match self.sub_type {
            SubjectType::Owner | SubjectType::User => UserId::parse(&self.sub).ok(),
            _ => self.crt.clone(),
        }
    }
}

/// A new token id.
pub fn new_jti() -> String {
    format!("t{}", crate::kernel::ids::random_suffix())
}

/// What a token is minted for: the one builder of keygate's access tokens and client-app API
/// tokens.
#[derive(Debug, Clone)]
pub struct Mint<'a> {
    pub issuer: &'a str,
    pub account: &'a AccountId,
    pub subject: &'a str,
    pub subject_type: SubjectType,
    pub client_id: &'a str,
    pub kind: TokenKind,
    pub scope: &'a str,
    pub ttl: i64,
    /// The client secret it is obtained with (a rotation with no grace stops it).
    pub sid: Option<String>,
    /// The grant family (code and refresh grants).
    pub fam: Option<String>,
    /// The grant, for the `TokensIssued` metric and the log (`client_credentials`, …).
    pub grant: &'static str,
    /// The DPoP key thumbprint the token is bound to (`cnf.jkt`), if a proof came with it.
    pub jkt: Option<&'a str>,
    /// A client-credentials token: the user its client acts as (`crt`).
    pub creator: Option<&'a UserId>,
}

impl Mint<'_> {
    /// The claims, issued at `now`, with a new `jti`.
    pub fn claims(&self, now: UnixSeconds) -> Claims {
        Claims {
            iss: self.issuer.to_owned(),
            sub: self.subject.to_owned(),
            aud: self.issuer.to_owned(),
            exp: now + self.ttl,
            iat: now,
            nbf: now,
            jti: new_jti(),
            client_id: self.client_id.to_owned(),
            scope: self.scope.to_owned(),
            acc: self.account.clone(),
            kind: self.kind,
            sub_type: self.subject_type,
            sid: self.sid.clone(),
            fam: self.fam.clone(),
            cnf: self.jkt.map(|jkt| Confirmation {
                jkt: jkt.to_owned(),
            }),
            crt: self.creator.cloned(),
        }
    }
}

/// Mints a token: its claims, signed with the current key; counted (`TokensIssued`) and recorded
/// on the request's log line (client and grant; never the token).
pub fn mint(ring: &KeyRing, m: &Mint<'_>, now: UnixSeconds) -> ApiResult<(String, Claims)> {
    let claims = m.claims(now);
    let jwt = ring.sign_jwt(&claims, now).map_err(ApiError::internal)?;
    crate::kernel::metrics::token_issued(m.grant);
    crate::kernel::request_log::record_issued(&claims.client_id, m.grant);
    Ok((jwt, claims))
}

/// Checks a JWT's signature, profile, issuer, audience and times (pure; no store access).
pub fn decode(ring: &KeyRing, token: &str, issuer: &str, now: UnixSeconds) -> ApiResult<Claims> {
    let refused = |e: JwtError| {
        let message = match e {
            JwtError::Issuer => "the bearer token is from another issuer",
            JwtError::Audience => "the bearer token is for another audience",
            JwtError::Expired => "the bearer token has expired",
            JwtError::NotYetValid => "the bearer token is not valid yet",
            _ => "the bearer token is not valid",
        };
        ApiError::unauthorized(e.reason(), message)
    };
    let expect = Expect {
        issuer: Some(issuer),
    };
    let claims: Claims = ring.verify(token, expect, now).map_err(refused)?;
    check_times(claims.exp, claims.nbf, claims.iat, now).map_err(refused)?;
    Ok(claims)
}

/// What a token's check read, in one batch.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Claims,
    pub client: Client,
    pub account: Account,
}

impl Verified {
    pub fn principal(&self) -> Principal {
        self.claims.principal(&self.account)
    }
}

/// The records a token's check reads; see [`still_honoured`].
pub struct Records<'a> {
    pub client: &'a Client,
    pub account: Option<&'a Account>,
    /// The subject user, when the token's subject is one (`None`: gone, or not a user).
    pub user: Option<&'a User>,
    /// The token's `jti` is revoked.
    pub token_revoked: bool,
    /// The token's grant family is revoked.
    pub family_revoked: bool,
}

/// Whether a token with these claims is still honoured: its client belongs to the account and is
/// of the token's kind, the secret it was obtained with is live, neither the token nor its family
/// is revoked, the account is there, and a token speaking for a user still has that user — who,
/// for a client app's API token, must still be allowed to manage (`API_ACCESS` with roles on, or
/// the owner). Pure.
pub fn still_honoured(
    r: &Records<'_>,
    claims: &Claims,
    now: UnixSeconds,
) -> Result<(), &'static str> {
    let client = r.client;
    if client.account_id != claims.acc {
        return Err("client_unknown");
    }
    let kind_ok = matches!(
        (client.kind, claims.kind),
        (ClientKind::App, TokenKind::Api) | (ClientKind::OAuth, TokenKind::Oauth)
    );
    if !kind_ok {
        return Err("token_kind");
    }
    if let Some(sid) = &claims.sid {
        if !client.secret_live(sid, now) {
            return Err("secret_rotated_out");
        }
    }
    if r.token_revoked || r.family_revoked {
        return Err("token_revoked");
    }
    let Some(account) = r.account else {
        return Err("account_unknown");
    };
    if claims.subject_user().is_some() {
        let Some(user) = r.user else {
            return Err("user_unknown");
        };
        let acts_as_creator = claims.kind == TokenKind::Api || claims.crt.is_some();
        if acts_as_creator && !user.may_manage(&account.settings) {
            return Err("creator_lost_access");
        }
    }
    Ok(())
}

/// Checks a bearer token completely: [`decode`], then one batched read of the records
/// [`still_honoured`] needs.
pub async fn verify(
    table: &dyn Table,
    ring: &KeyRing,
    token: &str,
    issuer: &str,
    now: UnixSeconds,
) -> ApiResult<Verified> {
    check_records(table, decode(ring, token, issuer, now)?, now).await
}

/// The store half of [`verify`], for claims already decoded: one batched read.
pub async fn check_records(
    table: &dyn Table,
    claims: Claims,
    now: UnixSeconds,
) -> ApiResult<Verified> {
    let user = claims.subject_user();
    // The credential records, through the instance cache: no per-token key in steady state.
    let mut keys = vec![
        clients::client_key(&claims.client_id),
        accounts::account_key(&claims.acc),
    ];
    if let Some(u) = &user {
        keys.push(accounts::user_key(&claims.acc, u));
    }
    let mut found = table.get_many(&keys).await?.into_iter();
    let mut next = || found.next().flatten();
    let client_item = next();
    let account_item = next();
    let user_item = if user.is_some() { next() } else { None };
    let Some(client) = client_item.map(|i| i.decode::<Client>()).transpose()? else {
        return Err(ApiError::unauthorized(
            "client_revoked",
            "the client of this token no longer exists",
        ));
    };
    let account: Option<Account> = account_item.map(|i| i.decode()).transpose()?;
    let user: Option<User> = user_item.map(|i| i.decode()).transpose()?;
    // Revocations are read only for a token issued before the client's last one.
    let (token_revoked, family_revoked) = if client.may_be_revoked(claims.iat) {
        let mut keys = vec![clients::revocation_key(&claims.client_id, &claims.jti)];
        if let Some(f) = &claims.fam {
            keys.push(clients::revocation_key(&claims.client_id, f));
        }
        let live = |i: &Option<Item>| i.as_ref().is_some_and(|i| i.is_live(now));
        let found = table.get_many(&keys).await?;
        (live(&found[0]), found.get(1).is_some_and(live))
    } else {
        (false, false)
    };
    let records = Records {
        client: &client,
        account: account.as_ref(),
        user: user.as_ref(),
        token_revoked,
        family_revoked,
    };
    still_honoured(&records, &claims, now)
        .map_err(|reason| ApiError::unauthorized(reason, "the bearer token is no longer valid"))?;
    let account = account
        .ok_or_else(|| ApiError::unauthorized("account_unknown", "the account no longer exists"))?;
    Ok(Verified {
        claims,
        client,
        account,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ports::store::MemoryTable;

    /// docs/SCALE.md: revocations are read only for a token issued before the client's last
    /// revocation — none at all in the steady state of a client that does not revoke.
    #[tokio::test]
    async fn revocations_are_read_only_for_tokens_older_than_the_watermark() {
        let mut s = crate::testing::memory_services().await;
        let table = Arc::new(MemoryTable::new());
        s.table = table.clone();
        let (_, client, jwt) = crate::testing::oauth_client_token(&s, None).await;
        let (ring, now) = (s.keys.ring().await, s.now());
        let claims = decode(&ring, &jwt, &s.config.issuer, now).unwrap();
        let calls = table.calls();
        check_records(&*s.table, claims.clone(), now).await.unwrap();
        assert_eq!(table.calls() - calls, 1, "client, account: one batch");

        // Another token of the client is revoked: this one, issued before, is checked against
        // the revocations (a second read) and still honoured.
        clients::revoke(&*s.table, &client.id, "another-jti", now + 300, now)
            .await
            .unwrap();
        let calls = table.calls();
        check_records(&*s.table, claims.clone(), now).await.unwrap();
        assert_eq!(table.calls() - calls, 2);

        // This one is revoked: refused.
        clients::revoke(&*s.table, &client.id, &claims.jti, now + 300, now)
            .await
            .unwrap();
        let e = check_records(&*s.table, claims.clone(), now)
            .await
            .unwrap_err();
        assert_eq!(e.reason, "token_revoked");

        // A token issued after the watermark (and its clock margin) skips the revocations.
        let later = Claims {
            iat: now + clients::REVOCATION_CLOCK_MARGIN + 1,
            jti: new_jti(),
            ..claims
        };
        let calls = table.calls();
        check_records(&*s.table, later, now + 10).await.unwrap();
        assert_eq!(table.calls() - calls, 1);
    }
}
