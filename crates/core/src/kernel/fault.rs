//! Failures of the backing services (DynamoDB, SQS, Secrets Manager), typed and classified by the
//! adapters, so the domain and the HTTP mapping can tell an outage (`503` + `Retry-After`, retry
//! later) from a bug (`500`) without knowing any AWS type. The SDK's own error is kept as the
//! `source`, for the logs.

use std::error::Error;

/// Which backing service failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    Sqs,
    SecretsManager,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::DynamoDb => "DynamoDB",
            Service::Sqs => "SQS",
            Service::SecretsManager => "Secrets Manager",
        }
    }

    /// The reason code of an outage of this service (`dynamodb_unavailable`, …).
    pub fn outage_reason(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb_unavailable",
            Service::Sqs => "sqs_unavailable",
            Service::SecretsManager => "secrets_manager_unavailable",
        }
    }
}

/// What kind of failure, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service is throttling (capacity, request rate): retry later.
    Throttled,
    /// The service could not be reached or did not answer in time (connect, timeout, 5xx): retry
    /// later.
    Unavailable,
    /// The function's role may not make this call: a deployment error.
    AccessDenied,
    /// The service refused the request as malformed, or the resource does not exist: a bug or a
    /// wrong configuration.
    Invalid,
    /// Anything else the service said.
    Other,
}

impl Fault {
    /// A fault that passes by itself: answered `503` with `Retry-After`, never `500`.
    pub fn is_transient(self) -> bool {
        matches!(self, Fault::Throttled | Fault::Unavailable)
    }
}

/// One failed call to a backing service. Its `Display` is one line naming the service, the
/// call, the resource and every cause (what a cold start prints when a probe fails).
#[derive(Debug, thiserror::Error)]
pub struct ServiceError {
    pub service: Service,
    /// The operation (`GetItem`, `SendMessage`, …).
    pub op: &'static str,
    /// The table, queue URL or secret id.
    pub resource: String,
    pub fault: Fault,
    /// The SDK's error, or what the adapter refused.
    #[source]
    pub source: Box<dyn Error + Send + Sync>,
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} on '{}' ({:?})",
            self.service.as_str(),
            self.op,
            self.resource,
            self.fault
        )?;
        let mut cause: Option<&(dyn Error + 'static)> = Some(&*self.source);
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl ServiceError {
    pub fn new(
        service: Service,
        op: &'static str,
        resource: impl Into<String>,
        fault: Fault,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self {
            service,
            op,
            resource: resource.into(),
            fault,
            source: source.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.fault.is_transient()
    }
}

/// Seconds a client is asked to wait (`Retry-After`) during an outage or throttling.
pub const RETRY_AFTER_SECONDS: u64 = 2;
