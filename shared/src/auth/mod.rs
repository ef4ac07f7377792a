//! Who is calling: the one piece of code `verify` and every HTTP handler share.
//!
//! [`credentials::extract`] turns headers into one [`credentials::Presented`] credential (or a
//! `400` for anything ambiguous); [`Authenticator::authenticate`] checks it and yields a
//! [`Principal`].

pub mod credentials;
pub mod principal;

use http::HeaderMap;

use crate::accounts::{self, AuthMethod};
use crate::error::{ApiError, ApiResult};
use crate::services::Services;

pub use credentials::Presented;
pub use principal::{CredentialKind, Principal, SubjectType};

/// Checks credentials against the store and keys of `services`.
pub struct Authenticator<'a> {
    services: &'a Services,
}

impl<'a> Authenticator<'a> {
    pub fn new(services: &'a Services) -> Self {
        Self { services }
    }

    /// Authenticates a request from its headers alone.
    pub async fn authenticate(&self, headers: &HeaderMap) -> ApiResult<Principal> {
        match credentials::extract(headers)? {
            Presented::None => Err(ApiError::unauthorized(
                "credential_missing",
                "no credential: send 'Authorization: Basic <api key>' or a Bearer token",
            )),
            Presented::ApiKey(key) => self.api_key(&key).await,
            Presented::Bearer(_) | Presented::Session(_) | Presented::Signed(_) => {
                Err(ApiError::unauthorized(
                    "credential_kind_unsupported",
                    "this credential kind is not accepted here yet",
                ))
            }
        }
    }

    async fn api_key(&self, key: &str) -> ApiResult<Principal> {
        if !crate::crypto::looks_like_secret(key) {
            return Err(ApiError::unauthorized(
                "api_key_unknown",
                "the API key is not valid",
            ));
        }
        let ring = self.services.keys.ring().await;
        let Some((account, user)) =
            accounts::find_by_api_key(&*self.services.table, ring.peppers(), key).await?
        else {
            return Err(ApiError::unauthorized(
                "api_key_unknown",
                "the API key is not valid",
            ));
        };
        Ok(Principal {
            account_id: account.id,
            subject_type: if user.owner {
                SubjectType::Owner
            } else {
                SubjectType::User
            },
            subject_id: user.id.to_string(),
            client_id: None,
            scopes: vec![],
            package_id: None,
            signer_id: None,
            auth_method: CredentialKind::ApiKey,
            account_method: account.settings.method,
        })
    }
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
    if !matches!(
        principal.subject_type,
        SubjectType::Owner | SubjectType::User
    ) {
        return Err(forbidden());
    }
    let table = &*services.table;
    let account = accounts::get_account(table, &principal.account_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("account_unknown", "the account no longer exists"))?;
    let user_id = crate::ids::UserId::parse(&principal.subject_id).map_err(|_| forbidden())?;
    let user = accounts::get_user(table, &account.id, &user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("user_unknown", "the user no longer exists"))?;
    if !user.may_manage(&account.settings) {
        return Err(forbidden());
    }
    Ok(Manager {
        principal,
        account,
        user,
    })
}

/// Authenticates a request's headers and requires a manager (see [`require_manager`]).
pub async fn manager(services: &Services, headers: &HeaderMap) -> ApiResult<Manager> {
    let principal = Authenticator::new(services).authenticate(headers).await?;
    require_manager(services, principal).await
}
