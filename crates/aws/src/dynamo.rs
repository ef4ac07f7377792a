//! DynamoDB adapter of [`Table`]. Items are `pk`, `sk`, optional `gsi1pk`/`gsi1sk`, optional
//! `ttl` (DynamoDB TTL), `rev`, and the domain value as a JSON string in `data`. Every SDK error is
//! mapped here: a failed condition (or a collision with a concurrent transaction) becomes
//! [`StoreError::ConditionFailed`], the rest a classified [`StoreError::Service`] whose source is
//! the SDK's error (timeouts, throttling and 5xx are transient: `503`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

use keygate_core::kernel::clock::UnixSeconds;
use keygate_core::kernel::fault::Service;
use keygate_core::ports::store::placement::{placement, Placement};
use keygate_core::ports::store::{Condition, Item, Key, SkRange, StoreError, Table, WriteOp};

type Attrs = HashMap<String, AttributeValue>;

pub struct DynamoDbTable {
    client: Client,
    table: String,
    /// The short-lived items' table, when the deployment has one (docs/SCALE.md).
    volatile: Option<String>,
    calls: AtomicU64,
}

impl DynamoDbTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            volatile: None,
            calls: AtomicU64::new(0),
        }
    }

    /// Puts the short-lived, high-volume item families
    /// ([`keygate_core::ports::store::placement`]) in `volatile`, the rest in the main table.
    /// One transaction may write both: DynamoDB's transactions span tables of one account and
    /// region, so placing an item never weakens an at-most-once guarantee.
    pub fn with_volatile(mut self, volatile: Option<String>) -> Self {
        self.volatile = volatile;
        self
    }

    /// The table items of partition (or index partition) `pk` live in.
    fn name(&self, pk: &str) -> &str {
        match (&self.volatile, placement(pk)) {
            (Some(v), Placement::Volatile) => v,
            _ => &self.table,
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Requests made so far (benchmarks count store calls per request with it).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Checks at start that the table exists and answers: a wrong name or an unreachable
    /// endpoint is one clear line, not a failure on the first request.
    pub async fn probe(&self) -> Result<(), StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| unavailable("DescribeTable", &self.table, e))
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key_attrs(k: &Key) -> Attrs {
    HashMap::from([("pk".to_owned(), s(&k.pk)), ("sk".to_owned(), s(&k.sk))])
}

fn encode(item: &Item) -> Attrs {
    let mut m = key_attrs(&item.key);
    if let Some((p, q)) = &item.gsi1 {
        m.insert("gsi1pk".into(), s(p));
        m.insert("gsi1sk".into(), s(q));
    }
    if let Some(t) = item.ttl {
        m.insert("ttl".into(), n(t));
    }
    m.insert("rev".into(), n(item.rev));
    m.insert("data".into(), s(item.data.to_string()));
    m
}

fn get_s<'a>(m: &'a Attrs, name: &str) -> Option<&'a str> {
    m.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n<T: std::str::FromStr>(m: &Attrs, name: &str) -> Option<T> {
    m.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn decode(m: &Attrs) -> Result<Item, StoreError> {
    let pk = get_s(m, "pk").unwrap_or_default().to_owned();
    let sk = get_s(m, "sk").unwrap_or_default().to_owned();
    let key = Key::new(pk.clone(), sk.clone());
    let raw = get_s(m, "data").ok_or_else(|| StoreError::corrupt(&key, "no data attribute"))?;
    let data = serde_json::from_str(raw)
        .map(std::sync::Arc::new)
        .map_err(|e| StoreError::corrupt(&key, e))?;
    let gsi1 = match (get_s(m, "gsi1pk"), get_s(m, "gsi1sk")) {
        (Some(p), Some(q)) => Some((p.to_owned(), q.to_owned())),
        _ => None,
    };
    Ok(Item {
        key: Key::new(pk.clone(), sk.clone()),
        gsi1,
        ttl: get_n(m, "ttl"),
        rev: get_n(m, "rev").unwrap_or(0),
        data,
    })
}

/// A condition as DynamoDB expression parts.
struct Expr {
    text: Option<&'static str>,
    names: HashMap<String, String>,
    values: Attrs,
}

fn expr(cond: Condition) -> Expr {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let text = match cond {
        Condition::Always => None,
        Condition::NotExists => Some("attribute_not_exists(pk)"),
        Condition::Live { now } => {
            names.insert("#ttl".into(), "ttl".into());
            values.insert(":now".into(), n(now));
            Some("attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl > :now)")
        }
        Condition::Vacant { now } => {
            names.insert("#ttl".into(), "ttl".into());
            values.insert(":now".into(), n(now));
            Some("attribute_not_exists(pk) OR #ttl <= :now")
        }
        Condition::Revision(r) => {
            names.insert("#rev".into(), "rev".into());
            values.insert(":rev".into(), n(r));
            Some("#rev = :rev")
        }
    };
    Expr {
        text,
        names,
        values,
    }
}

fn opt<T>(m: HashMap<String, T>) -> Option<HashMap<String, T>> {
    (!m.is_empty()).then_some(m)
}

/// A request builder (`PutItem`, `DeleteItem`, or a transaction's `Put`/`Delete`) with the
/// condition `$cond`: the expression and its names and values.
macro_rules! conditioned {
    ($builder:expr, $cond:expr) => {{
        let e = expr($cond);
        $builder
            .set_condition_expression(e.text.map(str::to_owned))
            .set_expression_attribute_names(opt(e.names))
            .set_expression_attribute_values(opt(e.values))
    }};
}

/// Whether a `PutItem` or `DeleteItem` error is a lost race: its condition failed, or it met a
/// concurrent transaction on the item.
macro_rules! lost_race {
    ($err:expr) => {
        $err.as_service_error().is_some_and(|s| {
            s.is_conditional_check_failed_exception() || s.is_transaction_conflict_exception()
        })
    };
}

/// A failed call as a classified [`StoreError::Service`].
fn unavailable<E>(op: &'static str, table: &str, e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    StoreError::Service(crate::sdk::service_error(Service::DynamoDb, op, table, e))
}

fn build_err(_: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Refused("a DynamoDB request could not be built")
}

/// Whether a cancelled transaction lost a race: a failed condition, or a collision with another
/// transaction on the same item (`TransactionConflict`). Either way nothing was written and the
/// caller's conflict handling (invalid_grant and reuse detection, a `409`, a retry) applies — not
/// a 500.
fn lost_race(reasons: &[aws_sdk_dynamodb::types::CancellationReason]) -> bool {
    reasons.iter().any(|r| {
        matches!(
            r.code(),
            Some("ConditionalCheckFailed" | "TransactionConflict")
        )
    })
}

#[async_trait]
impl Table for DynamoDbTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.get_with(key, true).await
    }

    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.get_with(key, false).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.get_many_with(keys, true).await
    }

    async fn get_many_eventually(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.get_many_with(keys, false).await
    }

    async fn put(&self, item: Item, cond: Condition) -> Result<(), StoreError> {
        self.count();
        let put = self
            .client
            .put_item()
            .table_name(self.name(&item.key.pk))
            .set_item(Some(encode(&item)));
        let res = conditioned!(put, cond).send().await;
        match res {
            Ok(_) => Ok(()),
            Err(err) if lost_race!(err) => Err(StoreError::ConditionFailed),
            Err(err) => Err(unavailable("PutItem", self.name(&item.key.pk), err)),
        }
    }

    async fn delete(&self, key: &Key, cond: Condition) -> Result<Option<Item>, StoreError> {
        self.count();
        let delete = self
            .client
            .delete_item()
            .table_name(self.name(&key.pk))
            .set_key(Some(key_attrs(key)))
            .return_values(ReturnValue::AllOld);
        let res = conditioned!(delete, cond).send().await;
        match res {
            Ok(out) => out
                .attributes()
                .filter(|a| !a.is_empty())
                .map(decode)
                .transpose(),
            Err(err) if lost_race!(err) => Err(StoreError::ConditionFailed),
            Err(err) => Err(unavailable("DeleteItem", self.name(&key.pk), err)),
        }
    }

    /// One arm per kind of write, then the cancellation's classification.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.count();
        let mut items = Vec::with_capacity(ops.len());
        for op in ops {
            let w = match op {
                WriteOp::Put(item, cond) => {
                    let put = Put::builder()
                        .table_name(self.name(&item.key.pk))
                        .set_item(Some(encode(&item)));
                    let put = conditioned!(put, cond).build().map_err(build_err)?;
                    TransactWriteItem::builder().put(put).build()
                }
                WriteOp::Delete(key, cond) => {
                    let del = Delete::builder()
                        .table_name(self.name(&key.pk))
                        .set_key(Some(key_attrs(&key)));
                    let del = conditioned!(del, cond).build().map_err(build_err)?;
                    TransactWriteItem::builder().delete(del).build()
                }
                WriteOp::Check(key, cond) => {
                    let e = expr(cond);
                    let check = ConditionCheck::builder()
                        .table_name(self.name(&key.pk))
                        .set_key(Some(key_attrs(&key)))
                        .condition_expression(
                            e.text
                                .unwrap_or("attribute_exists(pk) OR attribute_not_exists(pk)"),
                        )
                        .set_expression_attribute_names(opt(e.names))
                        .set_expression_attribute_values(opt(e.values))
                        .build()
                        .map_err(build_err)?;
                    TransactWriteItem::builder().condition_check(check).build()
                }
            };
            items.push(w);
        }
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(err) => {
                let failed_condition = err
                    .as_service_error()
                    .and_then(|s| match s {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                        _ => None,
                    })
                    .is_some_and(|c| lost_race(c.cancellation_reasons()));
                if failed_condition {
                    Err(StoreError::ConditionFailed)
                } else {
                    Err(unavailable("TransactWriteItems", &self.table, err))
                }
            }
        }
    }

    async fn increment(&self, key: &Key, by: i64, ttl: UnixSeconds) -> Result<i64, StoreError> {
        self.count();
        let out = self
            .client
            .update_item()
            .table_name(self.name(&key.pk))
            .set_key(Some(key_attrs(key)))
            .update_expression("ADD #n :by SET #ttl = if_not_exists(#ttl, :ttl)")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":by", n(by))
            .expression_attribute_values(":ttl", n(ttl))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| unavailable("UpdateItem", self.name(&key.pk), e))?;
        out.attributes()
            .and_then(|a| get_n(a, "n"))
            .ok_or_else(|| StoreError::corrupt(key, "counter without n"))
    }

    async fn counter(&self, key: &Key) -> Result<i64, StoreError> {
        self.count();
        let out = self
            .client
            .get_item()
            .table_name(self.name(&key.pk))
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", self.name(&key.pk), e))?;
        Ok(out.item().and_then(|m| get_n(m, "n")).unwrap_or(0))
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let (condition, values) = partition_condition(pk, sk_prefix);
        self.paginate("Query", self.name(pk), None, condition, values, limit)
            .await
    }

    async fn query_eventually(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let (condition, values) = partition_condition(pk, sk_prefix);
        self.paginate_with(
            "Query",
            self.name(pk),
            None,
            condition,
            values,
            limit,
            Direction {
                consistent: false,
                forward: true,
            },
        )
        .await
    }

    async fn query_gsi1(&self, gsi1pk: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        let values = HashMap::from([(":g".to_owned(), s(gsi1pk))]);
        self.paginate(
            "Query(gsi1)",
            self.name(gsi1pk),
            Some("gsi1"),
            "gsi1pk = :g",
            values,
            limit,
        )
        .await
    }

    async fn query_gsi1_range(
        &self,
        gsi1pk: &str,
        range: SkRange<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        if let (Some(f), Some(t)) = (range.from, range.to) {
            if f > t {
                // An empty range (DynamoDB refuses BETWEEN with its ends reversed).
                return Ok(Vec::new());
            }
        }
        let (condition, values) = range_condition(gsi1pk, range);
        let table = self.name(gsi1pk);
        self.paginate_with(
            "Query(gsi1)",
            table,
            Some("gsi1"),
            condition,
            values,
            limit,
            Direction {
                consistent: false,
                forward: !range.descending,
            },
        )
        .await
    }
}

/// The key condition of a ranged index query (both ends inclusive, as [`SkRange`] says).
fn range_condition(gsi1pk: &str, range: SkRange<'_>) -> (&'static str, Attrs) {
    let mut values = HashMap::from([(":g".to_owned(), s(gsi1pk))]);
    if let Some(f) = range.from {
        values.insert(":from".to_owned(), s(f));
    }
    if let Some(t) = range.to {
        values.insert(":to".to_owned(), s(t));
    }
    let condition = match (range.from, range.to) {
        (Some(_), Some(_)) => "gsi1pk = :g AND gsi1sk BETWEEN :from AND :to",
        (Some(_), None) => "gsi1pk = :g AND gsi1sk >= :from",
        (None, Some(_)) => "gsi1pk = :g AND gsi1sk <= :to",
        (None, None) => "gsi1pk = :g",
    };
    (condition, values)
}

/// How a query reads: strongly or eventually consistent, ascending or descending.
#[derive(Clone, Copy)]
struct Direction {
    consistent: bool,
    forward: bool,
}

/// The key condition of a partition query: an empty prefix is the whole partition (DynamoDB
/// refuses `begins_with` on an empty string).
fn partition_condition(pk: &str, sk_prefix: &str) -> (&'static str, Attrs) {
    let mut values = HashMap::from([(":pk".to_owned(), s(pk))]);
    let condition = if sk_prefix.is_empty() {
        "pk = :pk"
    } else {
        values.insert(":prefix".to_owned(), s(sk_prefix));
        "pk = :pk AND begins_with(sk, :prefix)"
    };
    (condition, values)
}

impl DynamoDbTable {
    async fn get_with(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        self.count();
        let out = self
            .client
            .get_item()
            .table_name(self.name(&key.pk))
            .set_key(Some(key_attrs(key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", self.name(&key.pk), e))?;
        out.item().map(decode).transpose()
    }

    async fn get_many_with(
        &self,
        keys: &[Key],
        consistent: bool,
    ) -> Result<Vec<Option<Item>>, StoreError> {
        if keys.len() > keygate_core::ports::store::MAX_BATCH_GET {
            return Err(StoreError::Refused("BatchGetItem takes at most 100 keys"));
        }
        // BatchGetItem refuses a key named twice: ask for each once, answer in `keys` order.
        let mut unique: Vec<&Key> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        let mut found: HashMap<Key, Item> = HashMap::new();
        // One request for both tables: the keys grouped by the table they live in.
        let mut pending: HashMap<String, Vec<Attrs>> = HashMap::new();
        for k in &unique {
            pending
                .entry(self.name(&k.pk).to_owned())
                .or_default()
                .push(key_attrs(k));
        }
        // Unprocessed keys (throttling, size) are asked again; a few rounds, then unavailable.
        for _ in 0..4 {
            if pending.is_empty() {
                break;
            }
            self.count();
            let mut request = self.client.batch_get_item();
            for (table, keys) in std::mem::take(&mut pending) {
                let items = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(consistent)
                    .build()
                    .map_err(build_err)?;
                request = request.request_items(table, items);
            }
            let out = request
                .send()
                .await
                .map_err(|e| unavailable("BatchGetItem", &self.table, e))?;
            for m in out
                .responses()
                .into_iter()
                .flat_map(|r| r.values())
                .flatten()
            {
                let item = decode(m)?;
                found.insert(item.key.clone(), item);
            }
            for (table, left) in out.unprocessed_keys().into_iter().flatten() {
                if !left.keys().is_empty() {
                    pending.insert(table.clone(), left.keys().to_vec());
                }
            }
        }
        if !pending.is_empty() {
            return Err(StoreError::Service(
                keygate_core::kernel::fault::ServiceError::new(
                    Service::DynamoDb,
                    "BatchGetItem",
                    &self.table,
                    keygate_core::kernel::fault::Fault::Throttled,
                    "keys left unprocessed after 4 rounds",
                ),
            ));
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    /// Runs a query page by page until `limit` items (or the end). Table queries are strongly
    /// consistent; index queries cannot be.
    async fn paginate(
        &self,
        op: &'static str,
        table: &str,
        index: Option<&str>,
        condition: &str,
        values: Attrs,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let how = Direction {
            consistent: index.is_none(),
            forward: true,
        };
        self.paginate_with(op, table, index, condition, values, limit, how)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn paginate_with(
        &self,
        op: &'static str,
        table: &str,
        index: Option<&str>,
        condition: &str,
        values: Attrs,
        limit: usize,
        how: Direction,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Attrs> = None;
        loop {
            self.count();
            let out = self
                .client
                .query()
                .table_name(table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(how.consistent)
                .scan_index_forward(how.forward)
                .limit(
                    i32::try_from(limit.saturating_sub(found.len()))
                        .unwrap_or(i32::MAX)
                        .max(1),
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable(op, table, e))?;
            for m in out.items() {
                found.push(decode(m)?);
            }
            match out.last_evaluated_key() {
                Some(k) if found.len() < limit => start = Some(k.clone()),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::CancellationReason;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes
            .iter()
            .map(|c| CancellationReason::builder().code(*c).build())
            .collect()
    }

    #[test]
    fn conflicts_and_failed_conditions_are_lost_races() {
        assert!(lost_race(&reasons(&["None", "ConditionalCheckFailed"])));
        assert!(lost_race(&reasons(&["TransactionConflict", "None"])));
        assert!(!lost_race(&reasons(&["None", "ThrottlingError"])));
        assert!(!lost_race(&reasons(&["ValidationError"])));
        assert!(!lost_race(&[]));
    }
}
