//! The table contract against DynamoDB Local, over HTTP with the real AWS SDK.

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use keygate_aws::testing::Stack;
use keygate_core::ports::store::contract;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_table_meets_the_contract() {
    let table = Stack::get().table().await;
    let ns = format!(
        "contract-{}",
        keygate_core::kernel::ids::AccountId::generate()
    );
    contract::run_all(Arc::new(table), &ns).await;
}

#[tokio::test]
async fn a_wrong_table_name_fails_the_probe_with_its_name() {
    let stack = Stack::get();
    let table = keygate_aws::DynamoDbTable::new(stack.dynamodb().await, "no-such-table");
    let err = table.probe().await.unwrap_err().to_string();
    assert!(err.contains("no-such-table"), "{err}");
}
