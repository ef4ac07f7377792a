//! The one error type a client can see, and its one mapping to HTTP.
//!
//! Expected failures become `Ok(Response)` with a 4xx (see `keygate_http::error_response`);
//! `lambda_http` turns an `Err` into a bare 5xx, so internal faults are also answered here,
//! opaquely, after being logged with their cause.

use std::borrow::Cow;

use http::StatusCode;

/// What kind of failure, which fixes the HTTP status and the `messageKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    Internal,
    /// A backing service is down or throttling: `503` with `Retry-After`.
    Unavailable,
}

impl Kind {
    pub fn status(self) -> StatusCode {
        match self {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// OneSpan-style message key.
    pub fn message_key(self) -> &'static str {
        match self {
            Kind::BadRequest => "error.validation",
            Kind::Unauthorized => "error.unauthorised",
            Kind::Forbidden => "error.forbidden",
            Kind::NotFound => "error.notFound",
            Kind::Conflict => "error.conflict",
            Kind::PayloadTooLarge => "error.tooLarge",
            Kind::UnsupportedMediaType => "error.unsupportedMediaType",
            Kind::TooManyRequests => "error.tooManyRequests",
            Kind::Internal => "error.internal",
            Kind::Unavailable => "error.unavailable",
        }
    }
}

/// The error codes of the OAuth routes (RFC 6749 §4.1.2.1 and §5.2, RFC 7009 §2.2.1): a closed
/// set, so no code is ever made up or sliced out of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    UnsupportedTokenType,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 9449 §5: the DPoP proof is missing where required, or not valid.
    InvalidDpopProof,
    /// RFC 9449 §8: the DPoP proof must carry the server's current nonce (sent as `DPoP-Nonce`).
    UseDpopNonce,
}

impl OAuthError {
    /// Every code (the spec's `OAuthError` enum must list each: `tests/tests/it/routes_agree.rs`).
    pub const ALL: [OAuthError; 13] = [
        OAuthError::InvalidRequest,
        OAuthError::InvalidClient,
        OAuthError::InvalidGrant,
        OAuthError::UnauthorizedClient,
        OAuthError::UnsupportedGrantType,
        OAuthError::InvalidScope,
        OAuthError::AccessDenied,
        OAuthError::UnsupportedResponseType,
        OAuthError::UnsupportedTokenType,
        OAuthError::ServerError,
        OAuthError::TemporarilyUnavailable,
        OAuthError::InvalidDpopProof,
        OAuthError::UseDpopNonce,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope => "invalid_scope",
            OAuthError::AccessDenied => "access_denied",
            OAuthError::UnsupportedResponseType => "unsupported_response_type",
            OAuthError::UnsupportedTokenType => "unsupported_token_type",
            OAuthError::ServerError => "server_error",
            OAuthError::TemporarilyUnavailable => "temporarily_unavailable",
            OAuthError::InvalidDpopProof => "invalid_dpop_proof",
            OAuthError::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The kind (and so the platform status) of an error with this code.
    fn kind(self) -> Kind {
        match self {
            OAuthError::InvalidClient => Kind::Unauthorized,
            OAuthError::AccessDenied | OAuthError::UnauthorizedClient => Kind::Forbidden,
            OAuthError::ServerError => Kind::Internal,
            OAuthError::TemporarilyUnavailable => Kind::Unavailable,
            _ => Kind::BadRequest,
        }
    }
}

/// A failure with a client-safe message and a stable reason code for logs and bodies.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?} ({reason}): {message}")]
pub struct ApiError {
    pub kind: Kind,
    /// Stable, machine-readable code (`api_key_unknown`, `body_malformed`, …). Never holds a secret.
    pub reason: &'static str,
    pub message: Cow<'static, str>,
    /// Seconds, for `429` answers.
    pub retry_after: Option<u64>,
    /// The cause of an internal error or an outage: logged, never sent.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Where an internal error or an outage was raised (`#[track_caller]`), for the log.
    pub at: Option<&'static std::panic::Location<'static>>,
    /// The OAuth error code, when the failure is one of the OAuth protocol's.
    pub oauth: Option<OAuthError>,
    /// A `401`'s `WWW-Authenticate` challenge, when it is not the default (DPoP's).
    pub challenge: Option<&'static str>,
    /// RFC 9449 §8–9: a fresh server nonce for the client's next DPoP proof (`DPoP-Nonce`).
    /// (Boxed: the error stays small enough to pass by value.)
    pub dpop_nonce: Option<Box<str>>,
}

impl ApiError {
    pub fn new(kind: Kind, reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            reason,
            message: message.into(),
            retry_after: None,
            source: None,
            at: None,
            oauth: None,
            challenge: None,
            dpop_nonce: None,
        }
    }
    /// With this server nonce as `DPoP-Nonce` on the answer.
    pub fn with_dpop_nonce(mut self, nonce: String) -> Self {
        self.dpop_nonce = Some(nonce.into_boxed_str());
        self
    }
    /// With this `WWW-Authenticate` challenge on its `401`.
    pub fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }
    /// An OAuth protocol error: `reason` is the code itself (`invalid_grant`, …).
    pub fn oauth(code: OAuthError, message: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::new(code.kind(), code.as_str(), message);
        e.oauth = Some(code);
        e
    }
    pub fn bad_request(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::BadRequest, reason, message)
    }
    pub fn unauthorized(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Unauthorized, reason, message)
    }
    pub fn forbidden(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Forbidden, reason, message)
    }
    pub fn not_found(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::NotFound, reason, message)
    }
    pub fn conflict(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Conflict, reason, message)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            Kind::PayloadTooLarge,
            "body_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }
    /// `415`: the body is not of the media type the route takes.
    pub fn media_type(expected: &'static str) -> Self {
        Self::new(
            Kind::UnsupportedMediaType,
            "content_type_unsupported",
            format!("the request body must be sent as Content-Type: {expected}"),
        )
    }
    pub fn locked(reason: &'static str, retry_after: u64) -> Self {
        let mut e = Self::new(
            Kind::TooManyRequests,
            reason,
            "too many failed attempts: try again later",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }
    /// An internal fault: the message sent is generic; `source` and the caller's location are
    /// logged.
    #[track_caller]
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            kind: Kind::Internal,
            reason: "internal",
            message: Cow::Borrowed("an internal error occurred"),
            retry_after: None,
            source: Some(Box::new(source)),
            at: Some(std::panic::Location::caller()),
            oauth: None,
            challenge: None,
            dpop_nonce: None,
        }
    }
    /// A backing service is down or throttling (`503`, `Retry-After`): `source` and the caller's
    /// location are logged; the client is told to retry.
    #[track_caller]
    pub fn unavailable(
        service: crate::kernel::fault::Service,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind: Kind::Unavailable,
            reason: service.outage_reason(),
            message: Cow::Owned(format!(
                "{} is unavailable: try again shortly",
                service.as_str()
            )),
            retry_after: Some(crate::kernel::fault::RETRY_AFTER_SECONDS),
            source: Some(Box::new(source)),
            at: Some(std::panic::Location::caller()),
            oauth: None,
            challenge: None,
            dpop_nonce: None,
        }
    }
    /// A feature this deployment has not been configured for (`503`, `Retry-After` of five
    /// minutes: an operator's fix, not the client's): logged and counted like an outage, so the
    /// operator's alarm sees it.
    pub fn unconfigured(reason: &'static str, message: &'static str) -> Self {
        let mut e = Self::new(Kind::Unavailable, reason, message);
        e.retry_after = Some(UNCONFIGURED_RETRY_AFTER_SECONDS);
        e
    }
    /// Whether this is an outage of a backing service rather than a refusal.
    pub fn is_outage(&self) -> bool {
        self.kind == Kind::Unavailable
    }
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The `Retry-After` of [`ApiError::unconfigured`].
pub const UNCONFIGURED_RETRY_AFTER_SECONDS: u64 = 300;

/// A store failure: an outage or throttling is a `503`, anything else (a corrupt item, a refused
/// call, an unexpected failed condition) an internal error.
impl From<crate::ports::store::StoreError> for ApiError {
    #[track_caller]
    fn from(e: crate::ports::store::StoreError) -> Self {
        if e.is_transient() {
            ApiError::unavailable(crate::kernel::fault::Service::DynamoDb, e)
        } else {
            ApiError::internal(e)
        }
    }
}

impl From<crate::ports::queue::QueueError> for ApiError {
    #[track_caller]
    fn from(e: crate::ports::queue::QueueError) -> Self {
        if e.is_transient() {
            ApiError::unavailable(crate::kernel::fault::Service::Sqs, e)
        } else {
            ApiError::internal(e)
        }
    }
}

/// A conditional write that lost a race becomes `409 concurrent_change` with `message`; any
/// other store failure is internal.
pub fn conflict_on_race<T>(
    result: Result<T, crate::ports::store::StoreError>,
    message: &'static str,
) -> ApiResult<T> {
    match result {
        Ok(v) => Ok(v),
        Err(crate::ports::store::StoreError::ConditionFailed) => {
            Err(ApiError::conflict("concurrent_change", message))
        }
        Err(e) => Err(e.into()),
    }
}

/// The OAuth error code of any failure on an OAuth route: its own, or one by its kind.
pub fn oauth_error_code(e: &ApiError) -> OAuthError {
    e.oauth.unwrap_or(match e.kind {
        Kind::Unauthorized => OAuthError::InvalidClient,
        Kind::Forbidden => OAuthError::UnauthorizedClient,
        Kind::Internal => OAuthError::ServerError,
        Kind::TooManyRequests | Kind::Unavailable => OAuthError::TemporarilyUnavailable,
        _ => OAuthError::InvalidRequest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status() {
        assert_eq!(Kind::BadRequest.status(), 400);
        assert_eq!(Kind::Unauthorized.status(), 401);
        assert_eq!(Kind::Forbidden.status(), 403);
        assert_eq!(Kind::NotFound.status(), 404);
        assert_eq!(Kind::Conflict.status(), 409);
        assert_eq!(Kind::PayloadTooLarge.status(), 413);
        assert_eq!(Kind::UnsupportedMediaType.status(), 415);
        assert_eq!(Kind::TooManyRequests.status(), 429);
        assert_eq!(Kind::Internal.status(), 500);
        assert_eq!(Kind::Unavailable.status(), 503);
    }

    #[test]
    fn all_holds_every_oauth_code_once() {
        // Exhaustive: a new code must be given a place here, and then in `ALL`.
        fn place(e: OAuthError) -> usize {
            match e {
                OAuthError::InvalidRequest => 0,
                OAuthError::InvalidClient => 1,
                OAuthError::InvalidGrant => 2,
                OAuthError::UnauthorizedClient => 3,
                OAuthError::UnsupportedGrantType => 4,
                OAuthError::InvalidScope => 5,
                OAuthError::AccessDenied => 6,
                OAuthError::UnsupportedResponseType => 7,
                OAuthError::UnsupportedTokenType => 8,
                OAuthError::ServerError => 9,
                OAuthError::TemporarilyUnavailable => 10,
                OAuthError::InvalidDpopProof => 11,
                OAuthError::UseDpopNonce => 12,
            }
        }
        for (i, e) in OAuthError::ALL.iter().enumerate() {
            assert_eq!(place(*e), i, "{e:?}");
        }
    }

    #[test]
    fn oauth_codes_are_their_own_or_by_kind() {
        let e = ApiError::oauth(OAuthError::InvalidGrant, "x");
        assert_eq!(
            (oauth_error_code(&e), e.status().as_u16()),
            (OAuthError::InvalidGrant, 400)
        );
        assert_eq!(e.reason, "invalid_grant");
        let e = ApiError::unauthorized("client_secret_wrong", "x");
        assert_eq!(oauth_error_code(&e), OAuthError::InvalidClient);
        assert_eq!(
            ApiError::oauth(OAuthError::InvalidClient, "x").status(),
            401
        );
    }

    #[test]
    fn locked_never_says_retry_after_zero() {
        assert_eq!(ApiError::locked("locked", 0).retry_after, Some(1));
    }
}
