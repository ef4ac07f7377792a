//! The `webhooks` function: takes event messages off SQS and settles each one.
//!
//! A message that can never succeed (malformed, unknown event, unknown account) goes to the
//! dead-letter queue at once with its reason and is acknowledged; a message that could not be
//! settled (the store or the DLQ unavailable) is reported in `batchItemFailures`, so SQS
//! redelivers it alone and never the rest of the batch.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use keygate::events::{self, EventMessage, Poison};
use keygate::Services;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Settled: nothing more to do for it.
    Done,
    /// Sent to the DLQ with this reason code.
    DeadLettered(&'static str),
    /// Not settled: SQS must deliver it again.
    Retry(String),
}

pub async fn handle_batch(services: &Services, event: SqsEvent) -> SqsBatchResponse {
    let mut resp = SqsBatchResponse::default();
    for record in &event.records {
        let outcome = handle_message(services, record).await;
        let id = record.message_id.clone().unwrap_or_default();
        match &outcome {
            Outcome::Done => tracing::info!(message_id = %id, "settled"),
            Outcome::DeadLettered(reason) => tracing::warn!(message_id = %id, reason, "dead-lettered"),
            Outcome::Retry(why) => tracing::warn!(message_id = %id, why, "will retry"),
        }
        if let Outcome::Retry(_) = outcome {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            resp.batch_item_failures.push(failure);
        }
    }
    resp
}

pub async fn handle_message(services: &Services, record: &SqsMessage) -> Outcome {
    let body = record.body.as_deref().unwrap_or("");
    let message = match check(services, body).await {
        Ok(m) => m,
        Err(Err(why)) => return Outcome::Retry(why),
        Err(Ok(poison)) => return dead_letter(services, body, &poison).await,
    };
    tracing::info!(event_id = %message.id, account = %message.account_id, name = %message.name, "event accepted");
    Outcome::Done
}

/// `Ok(message)`, or `Err(Ok(poison))` for a message that can never succeed, or `Err(Err(why))`
/// when it could not be checked now.
async fn check(services: &Services, body: &str) -> Result<EventMessage, Result<Poison, String>> {
    let m = events::parse(body).map_err(Ok)?;
    match keygate::accounts::get_account(&*services.table, &m.account_id).await {
        Ok(Some(_)) => Ok(m),
        Ok(None) => Err(Ok(Poison::UnknownAccount(m.account_id.to_string()))),
        Err(e) => Err(Err(e.to_string())),
    }
}

async fn dead_letter(services: &Services, body: &str, poison: &Poison) -> Outcome {
    let detail = poison.to_string();
    match services
        .dlq
        .send(body, &[("reason", poison.code()), ("detail", &detail)])
        .await
    {
        Ok(_) => Outcome::DeadLettered(poison.code()),
        Err(e) => Outcome::Retry(format!("dead-letter queue: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate::clock::ManualClock;
    use keygate::config::Config;
    use std::sync::Arc;
    use std::time::Duration;

    async fn services() -> Services {
        Services::in_memory(Config::local("http://127.0.0.1:3000"), Arc::new(ManualClock::new(1_800_000_000))).await
    }

    fn sample() -> SqsEvent {
        serde_json::from_str(include_str!("../../../events/webhooks.json")).expect("sample SQS event")
    }

    #[tokio::test]
    async fn messages_of_a_known_account_are_settled() {
        let s = services().await;
        let ring = s.keys.ring().await;
        let acc = keygate::accounts::create_account(&*s.table, ring.peppers(), &s.config, "Acme", "o@acme.test", s.now())
            .await
            .unwrap();
        let mut event = sample();
        let body = event.records[0].body.clone().unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["accountId"] = acc.account.id.to_string().into();
        event.records[0].body = Some(v.to_string());
        let resp = handle_batch(&s, event).await;
        assert!(resp.batch_item_failures.is_empty());
        assert!(s.dlq.receive(10, Duration::ZERO).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn poison_goes_to_the_dlq_with_its_reason_and_is_not_retried() {
        let s = services().await;
        let mut event = sample();
        let mut bad = event.records[0].clone();
        bad.message_id = Some("bad".into());
        bad.body = Some("{not json".into());
        event.records.push(bad);
        // The sample's account does not exist here either.
        let resp = handle_batch(&s, event).await;
        assert!(resp.batch_item_failures.is_empty());
        let dead = s.dlq.receive(10, Duration::ZERO).await.unwrap();
        let mut reasons: Vec<&str> = dead.iter().map(|m| m.attributes["reason"].as_str()).collect();
        reasons.sort_unstable();
        assert_eq!(reasons, ["malformed", "unknown_account"]);
    }
}
