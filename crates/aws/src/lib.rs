//! keygate's AWS adapters: the DynamoDB [`Table`](keygate_core::ports::store::Table), the SQS
//! [`Queue`](keygate_core::ports::queue::Queue) and the Secrets Manager
//! [`KeySource`](keygate_core::ports::keys::KeySource), the SDK configuration with its timeouts,
//! retries and error classification ([`sdk`]), the cold start that builds them from the
//! environment ([`start`]), and — behind the `testing` feature — the local stack (DynamoDB
//! Local, moto) as tests reach it. Nothing here decides anything: the domain is `keygate_core`.

pub mod dynamo;
pub mod sdk;
pub mod secrets_manager;
pub mod sqs;
pub mod start;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use dynamo::DynamoDbTable;
pub use secrets_manager::SecretsManagerKeySource;
pub use sqs::SqsQueue;
pub use start::{
    load_sdk_config, or_exit, queues_from_config, services_from_config, services_from_env,
    StartError,
};

/// The DynamoDB tables of a deployment as one [`Table`](keygate_core::ports::store::Table): the
/// credential records in `table`, the short-lived items in `volatile`
/// ([`keygate_core::ports::store::placement`]); without `volatile`, everything in `table`.
pub fn tables(
    client: aws_sdk_dynamodb::Client,
    table: String,
    volatile: Option<String>,
) -> std::sync::Arc<dyn keygate_core::ports::store::Table> {
    std::sync::Arc::new(DynamoDbTable::new(client, table).with_volatile(volatile))
}
