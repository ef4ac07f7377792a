//! Event-notification endpoints (DESIGN.md "Event notifications").
//!
//! The OneSpan callback (`/api/callback`: url, key, events) is the account's *primary* endpoint;
//! `/api/callback/endpoints` adds more. Each endpoint has its own event filter and its own
//! Standard Webhooks signing secrets (`whsec_…`), sealed in the table; after a rotation every
//! unexpired secret signs, so receivers roll over without a gap.
//!
//! Layout: `ACC#<account>/EP#<endpoint>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::crypto::{Peppers, Sealed, Secret};
use crate::error::{ApiError, ApiResult};
use crate::events::is_event_type;
use crate::ids::{AccountId, EndpointId};
use crate::store::{Condition, Item, Key, StoreError, Table, WriteOp};

/// Longest grace period of a signing-secret rotation.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;
/// Default grace period of a signing-secret rotation.
pub const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;
/// Most endpoints an account may have (primary included).
pub const MAX_ENDPOINTS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningSecret {
    pub sealed: Sealed,
    pub created_at: UnixSeconds,
    /// Stops signing at this time (set by a rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixSeconds>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disabled {
    pub at: UnixSeconds,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: EndpointId,
    pub account_id: AccountId,
    /// The OneSpan `/api/callback` endpoint.
    pub primary: bool,
    pub url: String,
    /// The callback key, sent as `Authorization: Basic <key>`; sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Sealed>,
    pub events: Vec<String>,
    /// Newest first.
    pub secrets: Vec<SigningSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<Disabled>,
    /// Start of the current run of failed deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<UnixSeconds>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

pub fn endpoint_key(account: &AccountId, id: &EndpointId) -> Key {
    Key::new(format!("ACC#{account}"), format!("EP#{id}"))
}

fn key_aad(id: &EndpointId) -> String {
    format!("callback-key:{id}")
}

fn secret_aad(id: &EndpointId) -> String {
    format!("whsec:{id}")
}

/// A new Standard Webhooks secret: `whsec_` + base64 of 24 random bytes.
pub fn new_signing_secret(
    peppers: &Peppers,
    id: &EndpointId,
    now: UnixSeconds,
) -> (SigningSecret, Secret) {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let plain = Secret::new(format!("whsec_{}", STANDARD.encode(bytes)));
    (
        SigningSecret {
            sealed: peppers.seal(&secret_aad(id), plain.expose()),
            created_at: now,
            expires_at: None,
        },
        plain,
    )
}

impl Endpoint {
    /// A new endpoint with one signing secret; returns the secret's plaintext too.
    pub fn new(
        peppers: &Peppers,
        account_id: AccountId,
        primary: bool,
        url: String,
        key: Option<&str>,
        events: Vec<String>,
        now: UnixSeconds,
    ) -> (Self, Secret) {
        let id = EndpointId::generate();
        let (secret, plain) = new_signing_secret(peppers, &id, now);
        let key = key.map(|k| peppers.seal(&key_aad(&id), k));
        (
            Self {
                id,
                account_id,
                primary,
                url,
                key,
                events,
                secrets: vec![secret],
                disabled: None,
                failing_since: None,
                created_at: now,
                updated_at: now,
            },
            plain,
        )
    }

    pub fn set_key(&mut self, peppers: &Peppers, key: Option<&str>) {
        self.key = key.map(|k| peppers.seal(&key_aad(&self.id), k));
    }

    /// The callback key in clear, to send.
    pub fn open_key(&self, peppers: &Peppers) -> Option<Secret> {
        self.key
            .as_ref()
            .and_then(|k| peppers.open(&key_aad(&self.id), k))
    }

    /// Every secret that signs at `now`, newest first.
    pub fn active_secrets(&self, peppers: &Peppers, now: UnixSeconds) -> Vec<Secret> {
        self.secrets
            .iter()
            .filter(|s| s.expires_at.is_none_or(|e| e > now))
            .filter_map(|s| peppers.open(&secret_aad(&self.id), &s.sealed))
            .collect()
    }

    /// The newest secret in clear (shown to the owner).
    pub fn current_secret(&self, peppers: &Peppers) -> Option<Secret> {
        self.secrets
            .first()
            .and_then(|s| peppers.open(&secret_aad(&self.id), &s.sealed))
    }

    /// Rotation: a new secret signs from now on; the others keep signing for `grace` seconds
    /// (never longer than they already would), and expired ones are dropped.
    pub fn rotate_secret(&mut self, peppers: &Peppers, grace: i64, now: UnixSeconds) -> Secret {
        let until = now + grace.clamp(0, MAX_GRACE_SECONDS);
        for s in &mut self.secrets {
            s.expires_at = Some(s.expires_at.map_or(until, |e| e.min(until)));
        }
        self.secrets
            .retain(|s| s.expires_at.is_none_or(|e| e > now));
        let (fresh, plain) = new_signing_secret(peppers, &self.id, now);
        self.secrets.insert(0, fresh);
        self.updated_at = now;
        plain
    }

    /// Receives this event type, and is not disabled.
    pub fn wants(&self, event: &str) -> bool {
        self.disabled.is_none() && self.events.iter().any(|e| e == event)
    }
}

/// Checks an event filter: known names only, no duplicates kept.
pub fn validate_events(events: &[String]) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if !is_event_type(e) {
            return Err(ApiError::bad_request(
                "event_unknown",
                format!("'{}' is not an event type", crate::ids::printable(e)),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// Checks a callback URL: absolute `https`, no credentials in it, at most 2048 characters; in
/// local mode `http` to a loopback host is allowed too. (Where it resolves to is checked again
/// at delivery, against the resolved addresses.)
pub fn validate_url(raw: &str, local_mode: bool) -> ApiResult<String> {
    let bad = |msg: &'static str| ApiError::bad_request("callback_url_invalid", msg);
    if raw.len() > 2048 {
        return Err(bad("the callback URL is longer than 2048 characters"));
    }
    // The parser would silently drop these; what is stored must be what was meant.
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad(
            "the callback URL must not contain whitespace or control characters",
        ));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("the callback URL is not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "the callback URL must not carry credentials: use the key",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("the callback URL must not have a fragment"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("the callback URL has no host")),
    };
    match url.scheme() {
        "https" => Ok(url.to_string()),
        "http" if local_mode && loopback => Ok(url.to_string()),
        _ => Err(bad("the callback URL must be https")),
    }
}

/// Validates a callback key (sent as `Basic <key>`): 1–512 visible ASCII characters.
pub fn validate_key(key: &str) -> ApiResult<()> {
    if key.is_empty() || key.len() > 512 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "callback_key_invalid",
            "the callback key must be 1-512 visible ASCII characters",
        ));
    }
    Ok(())
}

pub async fn list(
    table: &dyn Table,
    account: &AccountId,
) -> Result<Vec<(Endpoint, u64)>, StoreError> {
    table
        .query(&format!("ACC#{account}"), "EP#", MAX_ENDPOINTS + 1)
        .await?
        .into_iter()
        .map(|i| Ok((i.decode()?, i.rev)))
        .collect()
}

pub async fn get(
    table: &dyn Table,
    account: &AccountId,
    id: &EndpointId,
) -> Result<Option<(Endpoint, u64)>, StoreError> {
    match table.get(&endpoint_key(account, id)).await? {
        Some(i) => Ok(Some((i.decode()?, i.rev))),
        None => Ok(None),
    }
}

/// The account's endpoints that receive `event`.
pub async fn subscribed(
    table: &dyn Table,
    account: &AccountId,
    event: &str,
) -> Result<Vec<Endpoint>, StoreError> {
    Ok(list(table, account)
        .await?
        .into_iter()
        .map(|(e, _)| e)
        .filter(|e| e.wants(event))
        .collect())
}

/// Writes an endpoint: a new one (`rev` `None`) must not exist; an update must still be at `rev`
/// (else [`StoreError::ConditionFailed`]: someone changed it meanwhile).
pub async fn save(
    table: &dyn Table,
    endpoint: &Endpoint,
    rev: Option<u64>,
) -> Result<(), StoreError> {
    table.transact(vec![endpoint.write(rev)?]).await
}

impl Endpoint {
    /// The write of this record: new (`rev` `None`, must not exist) or an update that must still
    /// be at `rev` (else [`StoreError::ConditionFailed`]: someone changed it meanwhile).
    pub fn write(&self, rev: Option<u64>) -> Result<WriteOp, StoreError> {
        let mut item = Item::new(endpoint_key(&self.account_id, &self.id), self)?;
        let cond = match rev {
            None => Condition::NotExists,
            Some(r) => {
                item.rev = r + 1;
                Condition::Revision(r)
            }
        };
        Ok(WriteOp::Put(item, cond))
    }
}

pub async fn delete(
    table: &dyn Table,
    account: &AccountId,
    id: &EndpointId,
) -> Result<bool, StoreError> {
    match table
        .delete(&endpoint_key(account, id), Condition::Live { now: 0 })
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Pepper;

    fn peppers() -> Peppers {
        Peppers::new(vec![Pepper::generate("p1")])
    }

    #[test]
    fn rotation_keeps_old_secret_for_the_grace_period_only() {
        let p = peppers();
        let (mut ep, first) = Endpoint::new(
            &p,
            AccountId::generate(),
            true,
            "https://x.test/h".into(),
            None,
            vec![],
            100,
        );
        let second = ep.rotate_secret(&p, 50, 200);
        let active: Vec<String> = ep
            .active_secrets(&p, 220)
            .iter()
            .map(|s| s.expose().to_owned())
            .collect();
        assert_eq!(active, [second.expose(), first.expose()]);
        assert_eq!(ep.active_secrets(&p, 250).len(), 1);
        assert!(second.expose().starts_with("whsec_"));
        // Rotating again with a longer grace never extends the first secret's life.
        let _third = ep.rotate_secret(&p, 1000, 240);
        assert!(ep
            .secrets
            .iter()
            .all(|s| s.expires_at.is_none() || s.expires_at <= Some(1240)));
        assert_eq!(
            ep.secrets
                .iter()
                .filter(|s| s.expires_at == Some(250))
                .count(),
            1
        );
    }

    #[test]
    fn grace_is_clamped_to_seven_days() {
        let p = peppers();
        let (mut ep, _) = Endpoint::new(
            &p,
            AccountId::generate(),
            true,
            "https://x.test/h".into(),
            None,
            vec![],
            0,
        );
        ep.rotate_secret(&p, 10 * MAX_GRACE_SECONDS, 0);
        assert_eq!(ep.secrets[1].expires_at, Some(MAX_GRACE_SECONDS));
    }

    #[test]
    fn key_is_sealed_and_opens() {
        let p = peppers();
        let (ep, _) = Endpoint::new(
            &p,
            AccountId::generate(),
            true,
            "https://x.test/h".into(),
            Some("k3y"),
            vec![],
            0,
        );
        assert!(!serde_json::to_string(&ep).unwrap().contains("k3y"));
        assert_eq!(ep.open_key(&p).unwrap().expose(), "k3y");
    }

    #[test]
    fn urls_must_be_https_except_loopback_in_local_mode() {
        assert!(validate_url("https://example.com/hook", false).is_ok());
        assert!(validate_url("http://example.com/hook", false).is_err());
        assert!(validate_url("http://127.0.0.1:8080/hook", false).is_err());
        assert!(validate_url("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(validate_url("http://example.com/hook", true).is_err());
        assert!(validate_url("https://u:p@example.com/", false).is_err());
        assert!(validate_url("/relative", false).is_err());
        assert!(validate_url("ftp://example.com/", false).is_err());
        for bad in [
            "https://example.com/ho\nok",
            "https://example.com/\r",
            " https://example.com/",
            "https://exa\0mple.com/",
        ] {
            assert!(validate_url(bad, true).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn events_must_be_known() {
        assert_eq!(
            validate_events(&["PACKAGE_CREATE".into(), "PACKAGE_CREATE".into()]).unwrap(),
            ["PACKAGE_CREATE"]
        );
        assert!(validate_events(&["package_create".into()]).is_err());
    }

    #[test]
    fn disabled_endpoints_want_nothing() {
        let p = peppers();
        let (mut ep, _) = Endpoint::new(
            &p,
            AccountId::generate(),
            false,
            "https://x.test/h".into(),
            None,
            vec!["PACKAGE_CREATE".into()],
            0,
        );
        assert!(ep.wants("PACKAGE_CREATE") && !ep.wants("PACKAGE_DELETE"));
        ep.disabled = Some(Disabled {
            at: 1,
            reason: "410 Gone".into(),
        });
        assert!(!ep.wants("PACKAGE_CREATE"));
    }
}
