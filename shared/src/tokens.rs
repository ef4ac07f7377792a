//! Bearer tokens: ES256 JWTs in the RFC 9068 profile (`typ: at+jwt`; `iss`, `sub`, `aud`, `exp`,
//! `iat`, `jti`, `client_id`, `scope`), plus keygate's own claims. Checking one costs a signature
//! check and **one** table read — the client's record, which also carries the revocations — so a
//! revoked client, a rotated-out secret or a revoked token fails from the next request on.

use serde::{Deserialize, Serialize};

use crate::accounts::AuthMethod;
use crate::auth::{CredentialKind, Principal, SubjectType};
use crate::clients::{self, Client, ClientKind};
use crate::clock::UnixSeconds;
use crate::error::{ApiError, ApiResult};
use crate::ids::AccountId;
use crate::keys::KeyRing;
use crate::store::Table;

/// Allowed clock difference on `exp`/`nbf`/`iat`.
pub const LEEWAY: i64 = 30;

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
}

impl Claims {
    pub fn principal(&self) -> Principal {
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
            account_method: match self.kind {
                TokenKind::Api => AuthMethod::ApiKey,
                TokenKind::Oauth => AuthMethod::OAuth2,
            },
        }
    }
}

/// A new token id.
pub fn new_jti() -> String {
    format!("t{}", crate::ids::random_suffix())
}

/// Checks a JWT's signature, profile, issuer, audience and times (pure; no store access).
pub fn decode(ring: &KeyRing, token: &str, issuer: &str, now: UnixSeconds) -> ApiResult<Claims> {
    let raw = ring
        .verify_jwt(token, now)
        .map_err(|e| ApiError::unauthorized(e.reason(), "the bearer token is not valid"))?;
    let claims: Claims = serde_json::from_value(raw)
        .map_err(|_| ApiError::unauthorized("jwt_claims", "the bearer token is not valid"))?;
    if claims.iss != issuer {
        return Err(ApiError::unauthorized(
            "jwt_issuer",
            "the bearer token is from another issuer",
        ));
    }
    if claims.aud != issuer {
        return Err(ApiError::unauthorized(
            "jwt_audience",
            "the bearer token is for another audience",
        ));
    }
    if claims.exp + LEEWAY <= now {
        return Err(ApiError::unauthorized(
            "jwt_expired",
            "the bearer token has expired",
        ));
    }
    if claims.nbf - LEEWAY > now || claims.iat - LEEWAY > now {
        return Err(ApiError::unauthorized(
            "jwt_not_yet_valid",
            "the bearer token is not valid yet",
        ));
    }
    Ok(claims)
}

/// Whether `client` still honours tokens with these claims: it belongs to the account, is of the
/// token's kind, the secret it was obtained with is live, and neither the token nor its family
/// was revoked. Pure.
pub fn still_honoured(
    client: &Client,
    claims: &Claims,
    now: UnixSeconds,
) -> Result<(), &'static str> {
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
    if client.is_revoked(&claims.jti, now)
        || claims
            .fam
            .as_deref()
            .is_some_and(|f| client.is_revoked(f, now))
    {
        return Err("token_revoked");
    }
    Ok(())
}

/// Checks a bearer token completely: [`decode`], then one read of the client's record.
pub async fn verify(
    table: &dyn Table,
    ring: &KeyRing,
    token: &str,
    issuer: &str,
    now: UnixSeconds,
) -> ApiResult<Claims> {
    let claims = decode(ring, token, issuer, now)?;
    let Some((client, _)) = clients::get(table, &claims.client_id).await? else {
        return Err(ApiError::unauthorized(
            "client_revoked",
            "the client of this token no longer exists",
        ));
    };
    still_honoured(&client, &claims, now)
        .map_err(|reason| ApiError::unauthorized(reason, "the bearer token is no longer valid"))?;
    Ok(claims)
}
