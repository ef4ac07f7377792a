//! The request-facing half of authentication and authorization: who a Lambda request comes
//! from (its source address, method and path, for lockout and DPoP), the policy's answer for a
//! route's declared action ([`authorize`]), and the authorized caller a handler finds in its
//! request ([`caller`]). The decisions themselves are `keygate_core`'s (`auth`, `policy`).

use keygate_core::identity::policy::Action;
use keygate_core::identity::{
    authorize_principal, credentials, csrf, Authenticator, CredentialKind, Manager,
};
use keygate_core::{ApiError, ApiResult, Services};
use lambda_http::Request;

/// An authenticator for a Lambda request: its source address, method and path.
pub fn authenticator<'a>(services: &'a Services, req: &'a Request) -> Authenticator<'a> {
    Authenticator::new(services)
        .from_source(crate::source(req))
        .at(req.method().as_str(), req.uri().path())
}

/// The manager the dispatcher authorized for this request's route (see
/// [`crate::routes::Access::Api`]).
pub fn caller(req: &Request) -> ApiResult<&Manager> {
    req.extensions()
        .get::<Manager>()
        .ok_or_else(|| ApiError::internal(Unauthorized))
}

/// A handler that needs an authorized caller ran on a route that declares none.
#[derive(Debug, thiserror::Error)]
#[error("route served without its authorization")]
struct Unauthorized;

/// Authenticates a request and asks the policy whether it may take `action` (a route's declared
/// access, [`crate::routes::Access::Api`]): `401` without a valid credential, `403` with the
/// policy's reason otherwise. A session's API call proves it comes from the console with its
/// CSRF token in [`csrf::CSRF_HEADER`] (a wrong one is `403 csrf_invalid`).
pub async fn authorize(services: &Services, req: &Request, action: Action) -> ApiResult<Manager> {
    let principal = authenticator(services, req)
        .authenticate(req.headers())
        .await?;
    let csrf =
        principal.auth_method == CredentialKind::Session && csrf_header(services, req).await?;
    authorize_principal(&*services.table, principal, action, csrf).await
}

/// Whether a session's request carries its CSRF token in the header: absent `false`, this
/// session's `true`, another `403 csrf_invalid`.
async fn csrf_header(services: &Services, req: &Request) -> ApiResult<bool> {
    let Some(presented) = req.headers().get(csrf::CSRF_HEADER) else {
        return Ok(false);
    };
    let presented = presented.to_str().unwrap_or_default();
    let session = credentials::session_cookie_value(req.headers()).unwrap_or_default();
    let ring = services.keys.ring().await;
    if csrf::verify(ring.peppers(), &session, presented) {
        Ok(true)
    } else {
        Err(ApiError::forbidden(
            "csrf_invalid",
            "the CSRF token is not this session's",
        ))
    }
}
