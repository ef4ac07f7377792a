//! What every AWS adapter shares: the SDK configuration, loaded once per cold start with explicit
//! timeouts and retries, and the classification of SDK errors into [`Fault`]s. Only adapters use
//! this module; the domain sees [`keygate_core::kernel::fault`] alone.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use keygate_core::kernel::fault::{Fault, Service, ServiceError};

/// Time to open a connection to a service endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Time one attempt of a call may take (every keygate call is small: an item, a page, a message).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1200);
/// Time a call may take with its retries: well inside the shortest Lambda timeout (10 s), so an
/// outage is answered `503` by the function rather than a timeout by API Gateway.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(3500);
/// Attempts per call (the first and two retries, standard mode: jittered exponential backoff,
/// throttling and transient errors only).
pub const MAX_ATTEMPTS: u32 = 3;

/// The timeouts every client gets.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The retry policy every client gets.
pub fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(500))
}

/// The AWS SDK configuration (region, credentials, `AWS_ENDPOINT_URL_*`), with the timeouts and
/// retries above: loaded once per cold start and shared by the DynamoDB, SQS and Secrets Manager
/// clients.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts())
        .retry_config(retries())
        .load()
        .await
}

const THROTTLED: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "KmsThrottled",
];
const DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "ExpiredToken",
    "MissingAuthenticationTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
];
const INVALID: &[&str] = &[
    "ValidationException",
    "ValidationError",
    "ResourceNotFoundException",
    "SerializationException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "InvalidParameterValue",
    "InvalidParameterException",
    "InvalidRequestException",
    "ItemCollectionSizeLimitExceededException",
];
const UNAVAILABLE: &[&str] = &[
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// Classifies an SDK error: a timeout or a connection that failed is an outage; a service error
/// by its code, else by its HTTP status (`429` throttled, `5xx` unavailable).
pub fn classify<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Fault {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Fault::Unavailable
        }
        SdkError::ConstructionFailure(_) => Fault::Invalid,
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or_default();
            let status = ctx.raw().status().as_u16();
            classify_code(code, status)
        }
        _ => Fault::Other,
    }
}

/// The pure half of [`classify`].
pub fn classify_code(code: &str, status: u16) -> Fault {
    if THROTTLED.contains(&code) {
        Fault::Throttled
    } else if DENIED.contains(&code) {
        Fault::AccessDenied
    } else if INVALID.contains(&code) {
        Fault::Invalid
    } else if UNAVAILABLE.contains(&code) || (500..600).contains(&status) {
        Fault::Unavailable
    } else if status == 429 {
        Fault::Throttled
    } else {
        Fault::Other
    }
}

/// An SDK error as a [`ServiceError`], the SDK error kept as its source.
pub fn service_error<E>(
    service: Service,
    op: &'static str,
    resource: &str,
    e: SdkError<E, HttpResponse>,
) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let fault = classify(&e);
    ServiceError::new(service, op, resource, fault, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_classified() {
        assert_eq!(
            classify_code("ProvisionedThroughputExceededException", 400),
            Fault::Throttled
        );
        assert_eq!(classify_code("ThrottlingException", 400), Fault::Throttled);
        assert_eq!(
            classify_code("AccessDeniedException", 400),
            Fault::AccessDenied
        );
        assert_eq!(classify_code("ValidationException", 400), Fault::Invalid);
        assert_eq!(
            classify_code("InternalServerError", 500),
            Fault::Unavailable
        );
        assert_eq!(classify_code("", 503), Fault::Unavailable);
        assert_eq!(classify_code("", 429), Fault::Throttled);
        assert_eq!(classify_code("Whatever", 400), Fault::Other);
        assert!(Fault::Throttled.is_transient() && Fault::Unavailable.is_transient());
        assert!(!Fault::AccessDenied.is_transient() && !Fault::Invalid.is_transient());
    }

    #[test]
    fn every_call_is_bounded_well_inside_the_lambda_timeout() {
        let t = timeouts();
        assert_eq!(t.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(t.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(t.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert!(OPERATION_TIMEOUT < Duration::from_secs(5));
        assert_eq!(retries().max_attempts(), MAX_ATTEMPTS);
    }
}
