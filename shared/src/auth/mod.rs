//! Who is calling: the one piece of code `verify` and every HTTP handler share.
//!
//! [`credentials::extract`] turns headers into one [`credentials::Presented`] credential (or a
//! `400` for anything ambiguous); [`Authenticator::authenticate`] checks it and yields a
//! [`Principal`]. A DPoP-bound token (RFC 9449) is honoured only as `Authorization: DPoP` with a
//! proof for the request's method and URL ([`Authenticator::at`]); sent as `Bearer` it is refused.

pub mod credentials;
pub mod csrf;
pub mod signed;

use http::HeaderMap;

use crate::accounts::{self, AuthMethod};
use crate::error::{ApiError, ApiResult};
use crate::lockout::Source;
use crate::services::Services;

pub use crate::principal::{CredentialKind, Principal, SubjectType};
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

    /// Source, method and path of a Lambda request.
    pub fn for_request(services: &'a Services, req: &'a lambda_http::Request) -> Self {
        Self::new(services)
            .from_source(crate::http::source(req))
            .at(req.method().as_str(), req.uri().path())
    }

    /// Where the request comes from (lockout of signed requests counts per source).
    pub fn from_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// Authenticates a request from its headers alone.
    pub async fn authenticate(&self, headers: &HeaderMap) -> ApiResult<Principal> {
        let p = self.credential(headers).await?;
        crate::telemetry::record_account(p.account_id.as_str());
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
                crate::authtokens::authenticate_session(self.services, &token).await
            }
            Presented::Signed(h) => signed::verify(self.services, &h, headers, self.source).await,
        }
    }

    /// For the platform's routes (the `verify` authorizer): also refuses a credential of the
    /// method the account does not use (DESIGN.md "Credentials"), judged against the account's
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
    /// [`crate::tokens::verify`]).
    /// A DPoP-bound token sent as `Bearer` is refused before any read (RFC 9449 §7.1: it is
    /// worth nothing without its key).
    async fn bearer(&self, token: &str, headers: &HeaderMap) -> ApiResult<Principal> {
        let s = self.services;
        let ring = s.keys.ring().await;
        let issuer = s.config.issuer_for(headers);
        let now = s.now();
        let claims = crate::tokens::decode(&ring, token, &issuer, now)?;
        if claims.cnf.is_some() {
            return Err(bound_as_bearer());
        }
        let verified = crate::tokens::check_records(&*s.table, claims, now).await?;
        Ok(verified.principal())
    }

    /// `Authorization: DPoP <token>` and its proof (RFC 9449 §7): the token as for `Bearer`,
    /// bound (`cnf.jkt`) to the proof's key; the proof for this request's method and URL, with
    /// `ath` for this token; its `jti` claimed last, once the rest holds.
    async fn dpop(&self, token: &str, headers: &HeaderMap) -> ApiResult<Principal> {
        use crate::dpop::{self, Expected, Refused};
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
        let claims = crate::tokens::decode(&ring, token, &issuer, now)
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
        let verified = crate::tokens::check_records(&*s.table, claims, now)
            .await
            .map_err(|e| match e.kind {
                crate::error::Kind::Unauthorized => e.with_challenge(dpop::TOKEN_CHALLENGE),
                _ => e,
            })?;
        dpop::claim(&*s.table, &checked, now)
            .await?
            .map_err(Refused::at_resource)?;
        let mut p = verified.principal();
        p.auth_method = CredentialKind::Dpop;
        Ok(p)
    }

    /// An API key: one read of its index entry, which carries the account's method.
    async fn api_key(&self, key: &str) -> ApiResult<Principal> {
        let unknown = || ApiError::unauthorized("api_key_unknown", "the API key is not valid");
        if !crate::crypto::looks_like_secret(key) {
            return Err(unknown());
        }
        let ring = self.services.keys.ring().await;
        let idx = accounts::index_by_api_key(&*self.services.table, ring.peppers(), key)
            .await?
            .ok_or_else(unknown)?;
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
        })
    }
}

/// A DPoP-bound token presented as `Bearer` (or to sign a request): `401` with the DPoP challenge.
pub fn bound_as_bearer() -> ApiError {
    ApiError::unauthorized(
        "dpop_bound_token",
        "this token is DPoP-bound: send it as Authorization: DPoP with a proof",
    )
    .with_challenge(crate::dpop::TOKEN_CHALLENGE)
}

/// The account's authentication method refuses this credential (DESIGN.md "Credentials").
pub fn method_refused(account_method: AuthMethod, presented: &str) -> ApiError {
    ApiError::unauthorized(
        "auth_method_refused",
        format!(
            "this account uses {} for its integrations: {presented} credentials are refused",
            account_method.as_str()
        ),
    )
}

/// The caller of a management route, loaded: the account and, for users, the user.
#[derive(Debug, Clone)]
pub struct Manager {
    pub principal: Principal,
    pub account: accounts::Account,
    /// The acting user (the owner for owner credentials).
    pub user: accounts::User,
}

/// Management routes (`/api/account/*`, `/api/clientApps*`, `/api/oauth2/clients*`,
/// `/api/callback*`, `/api/authenticationTokens/*`) need the account owner, or — with roles and
/// permissions on — a user whose role grants `API_ACCESS` (DESIGN.md "Functions"). Others get 403.
pub async fn require_manager(services: &Services, principal: Principal) -> ApiResult<Manager> {
    let forbidden = || {
        ApiError::forbidden(
            "not_manager",
            "only the account owner, or a user with the API_ACCESS permission, may do this",
        )
    };
    // The API key is the root credential of management (DESIGN.md "Credentials"): a token minted
    // from a client app or an OAuth client must not mint more credentials.
    if principal.auth_method != CredentialKind::ApiKey {
        return Err(ApiError::forbidden(
            "management_needs_api_key",
            "management routes take the API key of the owner or of a user with API_ACCESS",
        ));
    }
    if !matches!(
        principal.subject_type,
        SubjectType::Owner | SubjectType::User
    ) {
        return Err(forbidden());
    }
    let user_id = crate::ids::UserId::parse(&principal.subject_id).map_err(|_| forbidden())?;
    acting_as(services, principal, |_| Ok(user_id)).await
}

/// The account and the acting user (named by `user_of` once the account is read), who must
/// still be allowed to manage.
async fn acting_as(
    services: &Services,
    principal: Principal,
    user_of: impl FnOnce(&accounts::Account) -> ApiResult<crate::ids::UserId>,
) -> ApiResult<Manager> {
    let table = &*services.table;
    let account = accounts::get_account(table, &principal.account_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("account_unknown", "the account no longer exists"))?;
    let user_id = user_of(&account)?;
    let user = accounts::get_user(table, &account.id, &user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("user_unknown", "the user no longer exists"))?;
    if !user.may_manage(&account.settings) {
        return Err(ApiError::forbidden(
            "not_manager",
            "only the account owner, or a user with the API_ACCESS permission, may do this",
        ));
    }
    Ok(Manager {
        principal,
        account,
        user,
    })
}

/// The integration routes (`POST /api/authenticationTokens/*`, DESIGN.md "Who may call what"):
/// a manager's API key as on the management routes, or what integrations use on the platform —
/// a client app's API token (account method `API_KEY`; it acts as the user who created the app)
/// or an OAuth access token obtained by client credentials (method `OAUTH2`; it acts as the user
/// who created the OAuth client, the owner for clients made before creators were kept). Either
/// acting user must still be allowed to manage. A delegated token (code, implicit or refresh
/// grant: it speaks for a user who consented to a client, not for the integration), a session
/// without the console's CSRF header (`session_cannot_mint`: a session that minted its next
/// session would never end) and a signed request are refused with `403`; a credential of the account's other method with the
/// platform's `401 auth_method_refused`.
pub async fn integration(services: &Services, req: &lambda_http::Request) -> ApiResult<Manager> {
    let principal = Authenticator::for_request(services, req)
        .authenticate(req.headers())
        .await?;
    match principal.auth_method {
        CredentialKind::ApiKey => require_manager(services, principal).await,
        CredentialKind::ApiToken => {
            if principal.account_method != AuthMethod::ApiKey {
                return Err(method_refused(principal.account_method, "client app"));
            }
            let user_id = crate::ids::UserId::parse(&principal.subject_id)
                .map_err(|_| ApiError::forbidden("not_manager", "the token speaks for no user"))?;
            acting_as(services, principal, |_| Ok(user_id)).await
        }
        CredentialKind::OAuth2 | CredentialKind::Dpop => {
            if principal.account_method != AuthMethod::OAuth2 {
                return Err(method_refused(principal.account_method, "OAuth 2.0"));
            }
            if principal.subject_type != SubjectType::Client {
                return Err(ApiError::forbidden(
                    "delegated_token_refused",
                    "authentication tokens are minted with a client-credentials token, not one a user delegated",
                ));
            }
            let client_id = principal.client_id.clone().unwrap_or_default();
            let client = crate::clients::get(&*services.table, &client_id)
                .await?
                .map(|(c, _)| c)
                .filter(|c| c.account_id == principal.account_id)
                .ok_or_else(|| {
                    ApiError::unauthorized("client_unknown", "the token's client no longer exists")
                })?;
            acting_as(services, principal, |account| {
                Ok(client
                    .created_by
                    .clone()
                    .unwrap_or_else(|| account.owner_user_id.clone()))
            })
            .await
        }
        // The console's session with its CSRF header; any other session may not mint (one
        // that minted its next session would never end).
        CredentialKind::Session if req.headers().contains_key(csrf::CSRF_HEADER) => {
            console_session(services, req, principal).await
        }
        CredentialKind::Session => Err(ApiError::forbidden(
            "session_cannot_mint",
            "authentication tokens are minted with the account's API credentials, not a session",
        )),
        CredentialKind::SignedRequest => Err(ApiError::forbidden(
            "signed_request_cannot_mint",
            "authentication tokens are minted with an API key, a client app's token or a client-credentials token",
        )),
    }
}

/// Authenticates a request and requires a manager: an API key ([`require_manager`]), or a
/// console session of a user who may manage, with its CSRF token in [`csrf::CSRF_HEADER`]
/// ([`console_session`]).
pub async fn manager(services: &Services, req: &lambda_http::Request) -> ApiResult<Manager> {
    let principal = Authenticator::for_request(services, req)
        .authenticate(req.headers())
        .await?;
    if principal.auth_method == CredentialKind::Session {
        return console_session(services, req, principal).await;
    }
    require_manager(services, principal).await
}

/// A console session's management call: the session must be a user's (opened with a user
/// authentication token: the owner, or a user who may manage), and the request must carry the
/// session's CSRF token in [`csrf::CSRF_HEADER`] — without it `403 csrf_missing` (a form
/// another site makes a browser submit carries the cookie, never the header), a wrong one `403
/// csrf_invalid`.
async fn console_session(
    services: &Services,
    req: &lambda_http::Request,
    principal: Principal,
) -> ApiResult<Manager> {
    let presented = req
        .headers()
        .get(csrf::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::forbidden(
                "csrf_missing",
                "a console session's calls carry its CSRF token in the X-CSRF-Token header",
            )
        })?;
    let session = credentials::session_cookie_value(req.headers()).unwrap_or_default();
    let ring = services.keys.ring().await;
    if !csrf::verify(ring.peppers(), &session, presented) {
        return Err(ApiError::forbidden(
            "csrf_invalid",
            "the CSRF token is not this session's",
        ));
    }
    session_manager(services, principal).await
}

/// The manager a user session stands for (the console's own pages check their CSRF token in
/// the form): a sender's or signer's session is `403 not_manager`, a user who may no longer
/// manage too — checked on every request.
pub async fn session_manager(services: &Services, principal: Principal) -> ApiResult<Manager> {
    if !matches!(
        principal.subject_type,
        SubjectType::Owner | SubjectType::User
    ) {
        return Err(ApiError::forbidden(
            "not_manager",
            "only the account owner, or a user with the API_ACCESS permission, may do this",
        ));
    }
    let user_id = crate::ids::UserId::parse(&principal.subject_id)
        .map_err(|_| ApiError::forbidden("not_manager", "the session speaks for no user"))?;
    acting_as(services, principal, |_| Ok(user_id)).await
}
