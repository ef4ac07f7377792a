//! Pushed authorization requests (RFC 9126): the client posts its authorization request to the
//! token function, which checks it exactly as `/authorize` would and keeps it for [`PAR_TTL`]
//! seconds under the keyed hash of a random `request_uri`; `/authorize` then takes `client_id` +
//! `request_uri` only.
//!
//! A `request_uri` is bound to its client, expires, and is consumed by the decision it leads to
//! (a code or a refusal): [`consume`] is the at-most-once step. Showing the consent page again
//! (a reload, a sign-in round trip) only reads it. The first time its consent page is shown, it
//! is [`hold`]-ed for the consent form's own lifetime: the minute bounds how long a client may
//! take to send the browser to `/authorize`, not how long a person may read the page.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{looks_like_secret, Peppers, Secret};
use crate::ports::store::{Condition, Item, Key, StoreError, Table};

/// How long a pushed request may be used (RFC 9126 §2.2 suggests 5 to 600 s; FAPI 2.0 asks for
/// at most 600; keygate keeps it to a minute).
pub const PAR_TTL: i64 = 60;
/// The `request_uri` prefix (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
const PAR_DOMAIN: &str = "oauth-par";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pushed<T> {
    client_id: String,
    params: T,
    /// Set once [`hold`] extended its life for a consent page.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    held: bool,
}

fn par_key(hash: &str) -> Key {
    Key::new(format!("PAR#{hash}"), "PAR")
}

/// A pushed request found by its `request_uri`: its parameters, and the handle to consume it.
#[derive(Debug, Clone)]
pub struct Found<T> {
    pub params: T,
    /// The stored item, as read: [`hold`] rewrites it conditioned on its revision.
    item: Item,
    held: bool,
}

/// Keeps the checked authorization request `params` of `client_id`; returns its `request_uri`.
pub async fn push<T: Serialize>(
    table: &dyn Table,
    peppers: &Peppers,
    client_id: &str,
    params: &T,
    now: UnixSeconds,
) -> Result<String, StoreError> {
    let secret = Secret::generate();
    let hash = peppers.hash(PAR_DOMAIN, &secret);
    let pushed = Pushed {
        client_id: client_id.to_owned(),
        params,
        held: false,
    };
    let item = Item::new(par_key(&hash.0), &pushed)?.with_ttl(now + PAR_TTL);
    table.put(item, Condition::NotExists).await?;
    Ok(format!("{REQUEST_URI_PREFIX}{}", secret.expose()))
}

/// The live pushed request `request_uri` of `client_id`; `None` when it is unknown, expired,
/// used, or another client's.
pub async fn find<T: DeserializeOwned>(
    table: &dyn Table,
    peppers: &Peppers,
    request_uri: &str,
    client_id: &str,
    now: UnixSeconds,
) -> Result<Option<Found<T>>, StoreError> {
    let Some(secret) = request_uri.strip_prefix(REQUEST_URI_PREFIX) else {
        return Ok(None);
    };
    if !looks_like_secret(secret) {
        return Ok(None);
    }
    for h in peppers.lookup_hashes(PAR_DOMAIN, secret) {
        if let Some(item) = table.get(&par_key(&h.0)).await?.filter(|i| i.is_live(now)) {
            let pushed: Pushed<T> = item.decode()?;
            if pushed.client_id != client_id {
                return Ok(None);
            }
            return Ok(Some(Found {
                params: pushed.params,
                held: pushed.held,
                item,
            }));
        }
    }
    Ok(None)
}

/// Consumes a pushed request found by [`find`].
///
/// **At most once**: of any number of consumptions of one `request_uri`, concurrent or not,
/// exactly one returns `true` (a delete conditioned on the record being live); the others, and
/// any after it expired, `false`.
pub async fn consume<T>(
    table: &dyn Table,
    found: &Found<T>,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    crate::ports::store::delete_live(table, &found.item.key, now).await
}

/// Keeps a pushed request found by [`find`] live until `until` (the consent form's expiry),
/// once: the first time its consent page is shown, so that a person reading the page does not
/// outlive a one-minute `request_uri`. It stays single use. `false` when it expired or was
/// consumed since it was read; `true`, writing nothing, when it had been held already — by an
/// earlier page, or a racing one (two tabs, a prefetch).
pub async fn hold<T>(
    table: &dyn Table,
    found: &Found<T>,
    until: UnixSeconds,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    if found.held {
        return Ok(true);
    }
    if !found.item.is_live(now) {
        return Ok(false);
    }
    let mut data = (*found.item.data).clone();
    if let Some(fields) = data.as_object_mut() {
        fields.insert("held".into(), serde_json::Value::Bool(true));
    }
    let held = Item {
        ttl: Some(until.max(found.item.ttl.unwrap_or(until))),
        rev: found.item.rev + 1,
        data: std::sync::Arc::new(data),
        ..found.item.clone()
    };
    match table.put(held, Condition::Revision(found.item.rev)).await {
        Ok(()) => Ok(true),
        // Changed since it was read: held by a racing page (still live), or consumed.
        Err(StoreError::ConditionFailed) => Ok(table
            .get(&found.item.key)
            .await?
            .filter(|i| i.is_live(now))
            .is_some_and(|i| i.data.get("held") == Some(&serde_json::Value::Bool(true)))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::crypto::Pepper;
    use crate::ports::store::MemoryTable;

    #[tokio::test]
    async fn a_pushed_request_is_its_clients_until_used_or_expired() {
        let table = MemoryTable::new();
        let peppers = Peppers::new(vec![Pepper::generate("p1")]);
        let uri = push(&table, &peppers, "oc_a", &"params", 100)
            .await
            .unwrap();
        assert!(uri.starts_with(REQUEST_URI_PREFIX));
        let other: Option<Found<String>> = find(&table, &peppers, &uri, "oc_b", 100).await.unwrap();
        assert!(other.is_none(), "bound to its client");
        let late: Option<Found<String>> = find(&table, &peppers, &uri, "oc_a", 100 + PAR_TTL + 1)
            .await
            .unwrap();
        assert!(late.is_none(), "expired");
        let found: Found<String> = find(&table, &peppers, &uri, "oc_a", 130)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.params, "params");
        assert!(consume(&table, &found, 130).await.unwrap());
        assert!(!consume(&table, &found, 131).await.unwrap(), "used once");
        let gone: Option<Found<String>> = find(&table, &peppers, &uri, "oc_a", 131).await.unwrap();
        assert!(gone.is_none());
        let uri = push(&table, &peppers, "oc_a", &"params", 100)
            .await
            .unwrap();
        let found: Found<String> = find(&table, &peppers, &uri, "oc_a", 150)
            .await
            .unwrap()
            .unwrap();
        assert!(hold(&table, &found, 150 + 600, 150).await.unwrap());
        let held: Found<String> = find(&table, &peppers, &uri, "oc_a", 100 + PAR_TTL + 500)
            .await
            .unwrap()
            .expect("held past its minute");
        assert!(hold(&table, &held, 2_000, 600).await.unwrap(), "held once");
        assert!(
            find::<String>(&table, &peppers, &uri, "oc_a", 150 + 601)
                .await
                .unwrap()
                .is_none(),
            "a second hold does not extend it"
        );
        assert!(consume(&table, &held, 700).await.unwrap());
        assert!(
            !hold(&table, &found, 800, 700).await.unwrap(),
            "consumed: gone"
        );
        assert!(find::<String>(&table, &peppers, &uri, "oc_a", 701)
            .await
            .unwrap()
            .is_none());
        for junk in ["", "urn:ietf:params:oauth:request_uri:", "https://x.test/r"] {
            let none: Option<Found<String>> =
                find(&table, &peppers, junk, "oc_a", 130).await.unwrap();
            assert!(none.is_none());
        }
    }
}
