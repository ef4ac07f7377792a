//! Who is calling: the one piece of code `verify` and every HTTP handler share; and, for the
//! routes that need more than the platform, whether they may (`keygate_http::auth::authorize`, which asks the one
//! policy of [`crate::identity::policy`]).
//!
//! [`credentials::extract`] turns headers into one [`credentials::Presented`] credential (or a
//! `400` for anything ambiguous); [`Authenticator::authenticate`] checks it and yields a
//! [`Principal`]. A DPoP-bound token (RFC 9449) is honoured only as `Authorization: DPoP` with a
//! proof for the request's method and URL ([`Authenticator::at`]); sent as `Bearer` it is refused.

pub mod assertion;
pub mod chain;
pub mod client_auth;
pub mod credentials;
pub mod csrf;
pub mod lockout;
pub mod policy;
pub mod principal;
pub mod signed;

use http::HeaderMap;

use crate::accounts::{self, AuthMethod};
use crate::clients::ClientKind;
use crate::identity::chain::{Chain, Root};
use crate::identity::lockout::Source;
use crate::identity::policy::{Action, Kind, Standing};
use crate::identity::principal::Origin;
use crate::kernel::error::{ApiError, ApiResult};
use crate::ports::services::Services;

pub use crate::identity::principal::{CredentialKind, Principal, SubjectType};
pub use credentials::Presented;

/// Checks credentials against the store and keys of `services`.
pub struct Authenticator<'a> {
    services: &'a Services,
    source: Source,
    target: Option<Target<'a>>,
}

/// The request a credential is presented to: what a DPoP proof must name (`htm`, and `htu` as
/// the issuer's origin plus this path).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub method: &'a str,
    pub path: &'a str,
}

impl<'a> Authenticator<'a> {
    pub fn new(services: &'a Services) -> Self {
        Self {
            services,
            source: Source::UNKNOWN,
            target: None,
        }
    }

    /// The request's method and path, for DPoP proofs (without them a DPoP token is refused).
    pub fn at(mut self, method: &'a str, path: &'a str) -> Self {
        self.target = Some(Target { method, path });
        self
    }

    /// Where the request comes from (lockout of signed requests counts per source).
    pub fn from_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// Authenticates a request from its headers alone.
    pub async fn authenticate(&self, headers: &HeaderMap) -> ApiResult<Principal> {
        let p = self.credential(headers).await?;
        crate::kernel::request_log::record_account(p.account_id.as_str());
        Ok(p)
    }

    async fn credential(&self, headers: &HeaderMap) -> ApiResult<Principal> {
        match credentials::extract(headers)? {
            Presented::None => Err(ApiError::unauthorized(
                "credential_missing",
                "no credential: send 'Authorization: Basic <api key>' or a Bearer token",
            )),
            Presented::ApiKey(key) => self.api_key(&key).await,
            Presented::Bearer(token) => self.bearer(&token, headers).await,
            Presented::Dpop(token) => self.dpop(&token, headers).await,
            Presented::Session(token) => {
                crate::authtokens::authenticate_session(
                    &crate::authtokens::Ports::of(self.services).await,
                    &token,
                )
                .await
            }
            Presented::Signed(h) => {
                signed::verify(
                    &crate::ports::Ports::of(self.services).await,
                    &self.services.config.issuer_for(headers),
                    self.services.config.clock_skew,
                    &h,
                    self.source,
                )
                .await
            }
        }
    }

    /// For the platform's routes (the `verify` authorizer): also refuses a credential of the
    /// method the account does not use (docs/CREDENTIALS.md), judged against the account's
    /// **current** method for every credential — API keys through their index entry (rewritten
    /// with the account), tokens and signed requests through the account read with their
    /// client — so a token minted before a switch is refused from the next request on.
    pub async fn authenticate_for_platform(&self, headers: &HeaderMap) -> ApiResult<Principal> {
        let p = self.authenticate(headers).await?;
        let (used, name) = match p.auth_method {
            CredentialKind::ApiKey => (AuthMethod::ApiKey, "API key"),
            CredentialKind::ApiToken => (AuthMethod::ApiKey, "client app"),
            CredentialKind::OAuth2 | CredentialKind::Dpop | CredentialKind::SignedRequest => {
                (AuthMethod::OAuth2, "OAuth 2.0")
            }
            CredentialKind::Session => return Ok(p),
        };
        if used != p.account_method {
            return Err(method_refused(p.account_method, name));
        }
        Ok(p)
    }

    /// A client-app API token or an OAuth access token: signature, profile, times, issuer and
    /// audience, then one batched read (client, revocations, account, user; see
    /// [`crate::oauth::tokens::verify`]).
    /// A DPoP-bound token sent as `Bearer` is refused before any read (RFC 9449 §7.1: it is
    /// worth nothing without its key).
    async fn bearer(&self, token: &str, headers: &HeaderMap) -> ApiResult<Principal> {
        let s = self.services;
        let ring = s.keys.ring().await;
        let issuer = s.config.issuer_for(headers);
        let now = s.now();
        let claims = crate::oauth::tokens::decode(&ring, token, &issuer, now)?;
        if claims.cnf.is_some() {
            return Err(bound_as_bearer());
        }
        let verified = crate::oauth::tokens::check_records(&*s.table, claims, now).await?;
        Ok(verified.principal())
    }

    /// `Authorization: DPoP <token>` and its proof (RFC 9449 §7): the token as for `Bearer`,
    /// bound (`cnf.jkt`) to the proof's key; the proof for this request's method and URL, with
    /// `ath` for this token; its `jti` claimed last, once the rest holds.
    async fn dpop(&self, token: &str, headers: &HeaderMap) -> ApiResult<Principal> {
        use crate::oauth::dpop::{self, Expected, Refused};
        let Some(target) = self.target else {
            return Err(Refused("DPoP tokens are not taken here").at_resource());
        };
        let proof = dpop::presented(headers)
            .map_err(Refused::at_resource)?
            .ok_or_else(|| Refused("a DPoP token comes with a DPoP proof header").at_resource())?;
        let s = self.services;
        let ring = s.keys.ring().await;
        let issuer = s.config.issuer_for(headers);
        let now = s.now();
        let claims = crate::oauth::tokens::decode(&ring, token, &issuer, now)
            .map_err(|e| e.with_challenge(dpop::TOKEN_CHALLENGE))?;
        let Some(jkt) = claims.jkt().map(str::to_owned) else {
            return Err(ApiError::unauthorized(
                "token_not_bound",
                "this token is not DPoP-bound: send it as Bearer",
            )
            .with_challenge(dpop::TOKEN_CHALLENGE));
        };
        let url = dpop::htu(&issuer, target.path);
        let expected = Expected {
            method: target.method,
            url: &url,
            access_token: Some(token),
        };
        let checked = dpop::check(proof, &expected, now).map_err(Refused::at_resource)?;
        if checked.jkt != jkt {
            return Err(
                Refused("the DPoP proof is signed by another key than the token's").at_resource(),
            );
        }
        // A nonce is checked when the proof carries one, never required here (see `dpop`).
        if !dpop::nonce_fits(&checked, ring.peppers(), false, now) {
            return Err(dpop::use_nonce_at_resource(ring.peppers(), now));
        }
        // Revoked, or its client gone: `invalid_token` (an outage stays a 503 without one).
        let verified = crate::oauth::tokens::check_records(&*s.table, claims, now)
            .await
            .map_err(|e| match e.kind {
                crate::kernel::error::Kind::Unauthorized => e.with_challenge(dpop::TOKEN_CHALLENGE),
                _ => e,
            })?;
        dpop::claim(&*s.table, &checked, now)
            .await?
            .refused()
            .map_err(Refused::at_resource)?;
        let mut p = verified.principal();
        p.auth_method = CredentialKind::Dpop;
        Ok(p)
    }

    /// An API key: one read of its index entry, which carries the account's method.
    async fn api_key(&self, key: &str) -> ApiResult<Principal> {
        let unknown = || ApiError::unauthorized("api_key_unknown", "the API key is not valid");
        if !crate::kernel::crypto::looks_like_secret(key) {
            return Err(unknown());
        }
        let ring = self.services.keys.ring().await;
        let (idx, hash) = accounts::index_by_api_key(&*self.services.table, ring.peppers(), key)
            .await?
            .ok_or_else(unknown)?;
        let origin = Origin {
            chain: Some(Chain::from(Root::ApiKey {
                user_id: idx.user_id.clone(),
                key: hash,
            })),
            ..Origin::of(Kind::ApiKey { owner: idx.owner })
        };
        Ok(Principal {
            account_id: idx.account_id,
            subject_type: if idx.owner {
                SubjectType::Owner
            } else {
                SubjectType::User
            },
            subject_id: idx.user_id.to_string(),
            client_id: None,
            scopes: vec![],
            package_id: None,
            signer_id: None,
            auth_method: CredentialKind::ApiKey,
            account_method: idx.account_method,
            session_fields: None,
            minted_by: None,
            origin: Some(origin),
        })
    }
}

/// A DPoP-bound token presented as `Bearer` (or to sign a request): `401` with the DPoP challenge.
pub fn bound_as_bearer() -> ApiError {
    ApiError::unauthorized(
        "dpop_bound_token",
        "this token is DPoP-bound: send it as Authorization: DPoP with a proof",
    )
    .with_challenge(crate::oauth::dpop::TOKEN_CHALLENGE)
}

/// The account's authentication method refuses this credential (docs/CREDENTIALS.md).
pub fn method_refused(account_method: AuthMethod, presented: &str) -> ApiError {
    ApiError::unauthorized(
        "auth_method_refused",
        format!(
            "this account uses {} for its integrations: {presented} credentials are refused",
            account_method.as_str()
        ),
    )
}

/// A caller allowed more than the platform, loaded: the account, the acting user, where it
/// stands, and the chain what it mints records.
#[derive(Debug, Clone)]
pub struct Manager {
    pub principal: Principal,
    pub account: accounts::Account,
    /// The acting user: the API key's or the session's user, or the user an integration's
    /// client acts as (its creator; the owner for clients made before creators were kept).
    pub user: accounts::User,
    /// What [`policy::decide`] allowed.
    pub standing: Standing,
    /// The provenance of what this caller mints (attenuation: it never outlives, nor outlasts
    /// the revocation of, this caller).
    pub chain: Chain,
}

impl Manager {
    /// Whether the policy allows this caller `action` too (an action narrower than its route,
    /// such as revealing the API key on a route any manager may read).
    pub fn may(&self, action: Action) -> bool {
        policy::decide(&self.standing, action).is_ok()
    }
}

/// Authorization for a principal already authenticated (the HTTP layer's `auth::authorize`
/// authenticates a request, then calls this) (`csrf`: a session's request proved it
/// comes from the console). Reads the account and the acting user — the facts the policy needs —
/// and builds the chain what the caller mints records.
pub async fn authorize_principal(
    table: &dyn crate::ports::store::Table,
    principal: Principal,
    action: Action,
    csrf: bool,
) -> ApiResult<Manager> {
    let Some(origin) = principal.origin.clone() else {
        return Err(ApiError::forbidden(
            "not_manager",
            "only the account owner, or a user with the API_ACCESS permission, may do this",
        ));
    };
    // What an integration mints is judged against the account's current method first.
    if action == Action::Mint {
        match principal.auth_method {
            CredentialKind::ApiToken if principal.account_method != AuthMethod::ApiKey => {
                return Err(method_refused(principal.account_method, "client app"));
            }
            CredentialKind::OAuth2 | CredentialKind::Dpop
                if principal.account_method != AuthMethod::OAuth2 =>
            {
                return Err(method_refused(principal.account_method, "OAuth 2.0"));
            }
            _ => {}
        }
    }
    // Refused whatever the records say: no read.
    policy::decide(
        &Standing {
            kind: origin.kind,
            may_manage: true,
            csrf,
        },
        action,
    )?;
    let account = accounts::get_account(table, &principal.account_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("account_unknown", "the account no longer exists"))?;
    let no_user = || ApiError::forbidden("not_manager", "the credential speaks for no user");
    let (user_id, root) = match origin.kind {
        Kind::Integration => {
            let client_id = principal.client_id.clone().unwrap_or_default();
            let (kind, user_id) = if principal.auth_method == CredentialKind::ApiToken {
                let id = crate::kernel::ids::UserId::parse(&principal.subject_id)
                    .map_err(|_| no_user())?;
                (ClientKind::App, id)
            } else {
                let client = crate::clients::get(table, &client_id)
                    .await?
                    .map(|(c, _)| c)
                    .filter(|c| c.account_id == principal.account_id)
                    .ok_or_else(|| {
                        ApiError::unauthorized(
                            "client_unknown",
                            "the token's client no longer exists",
                        )
                    })?;
                let creator = client
                    .created_by
                    .unwrap_or_else(|| account.owner_user_id.clone());
                (ClientKind::OAuth, creator)
            };
            let root = Root::Client {
                client_id,
                kind,
                sid: origin.sid.clone(),
                user_id: user_id.clone(),
            };
            (user_id, Chain::from(root))
        }
        _ => {
            let id =
                crate::kernel::ids::UserId::parse(&principal.subject_id).map_err(|_| no_user())?;
            let chain = origin.chain.clone().ok_or_else(no_user)?;
            let chain = match origin.session.clone() {
                Some((hash, expires_at)) if action == Action::Mint => {
                    chain.through(hash, expires_at)?
                }
                _ => chain,
            };
            (id, chain)
        }
    };
    let user = accounts::get_user(table, &account.id, &user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("user_unknown", "the user no longer exists"))?;
    let is_session = origin.session.is_some();
    let standing = Standing {
        kind: origin.kind,
        may_manage: user.may_manage(&account.settings) && (!is_session || origin.acts_for_itself),
        csrf,
    };
    policy::decide(&standing, action)?;
    Ok(Manager {
        principal,
        account,
        user,
        standing,
        chain: root,
    })
}
