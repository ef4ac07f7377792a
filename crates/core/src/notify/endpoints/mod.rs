//! Event-notification endpoints (docs/EVENTS.md).
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

use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{Peppers, Sealed, Secret};
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::ids::{AccountId, EndpointId};
use crate::notify::events::is_event_type;
use crate::ports::store::{Condition, Item, Key, StoreError, Table, WriteOp};

mod records;
mod rules;

pub use records::*;
pub use rules::*;

/// Longest grace period of a signing-secret rotation.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;
/// Default grace period of a signing-secret rotation.
pub const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;
/// Most endpoints an account may have (primary included).
pub const MAX_ENDPOINTS: usize = 20;
/// The API's name of the primary (OneSpan) callback, wherever an endpoint is named
/// (`endpointId` of messages, resend, recover, operational events).
pub const PRIMARY: &str = "primary";
/// The highest `rateLimit` accepted (deliveries per second).
pub const MAX_RATE_LIMIT: u32 = 100_000;

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
    /// OAuth 2.0 authentication of deliveries (a Bearer token from the integrator's server);
    /// never set together with `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuth2Credentials>,
    pub events: Vec<String>,
    /// Newest first.
    pub secrets: Vec<SigningSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<Disabled>,
    /// Start of the current run of failed deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<UnixSeconds>,
    /// Most deliveries per second (`rateLimit`): those beyond wait their turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

/// How deliveries to an endpoint authenticate (OneSpan's `authentication.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthType {
    None,
    /// `Authorization: Basic <callback key>`.
    Basic,
    /// `Authorization: Bearer <token>`, the token obtained by the client credentials grant.
    #[serde(rename = "OAUTH2")]
    OAuth2,
}

/// The integrator's OAuth 2.0 client that deliveries authenticate with: keygate asks
/// `authorization_server_url` for a token by the client credentials grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2Credentials {
    pub client_id: String,
    /// Sealed; write-only (shown masked).
    pub client_secret: Sealed,
    pub authorization_server_url: String,
    /// Space-separated scopes to ask for, normalised; `None` asks for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A change of how deliveries authenticate, as a request asks for it (already validated).
/// `Debug` prints `***` for the callback key and the OAuth client secret.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthChange {
    None,
    Basic(String),
    OAuth2 {
        client_id: String,
        /// `None`: keep the current secret — allowed only when the client id and the
        /// authorization server URL stay the same, so a kept secret never goes somewhere new.
        client_secret: Option<String>,
        authorization_server_url: String,
        scope: Option<String>,
    },
}

impl std::fmt::Debug for AuthChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthChange::None => f.write_str("None"),
            AuthChange::Basic(_) => f.write_str("Basic(***)"),
            AuthChange::OAuth2 {
                client_id,
                client_secret,
                authorization_server_url,
                scope,
            } => f
                .debug_struct("OAuth2")
                .field("client_id", client_id)
                .field("client_secret", &client_secret.as_ref().map(|_| "***"))
                .field("authorization_server_url", authorization_server_url)
                .field("scope", scope)
                .finish(),
        }
    }
}

fn key_aad(id: &EndpointId) -> String {
    format!("callback-key:{id}")
}

fn oauth_secret_aad(id: &EndpointId) -> String {
    format!("callback-oauth-secret:{id}")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::crypto::Pepper;

    #[test]
    fn auth_changes_never_debug_print_their_secrets() {
        for change in [
            AuthChange::Basic("cb-k3y-value".into()),
            AuthChange::OAuth2 {
                client_id: "kg-events".into(),
                client_secret: Some("cb-k3y-value".into()),
                authorization_server_url: "https://auth.example.com/token".into(),
                scope: None,
            },
        ] {
            let shown = format!("{change:?} {change:#?}");
            assert!(
                !shown.contains("cb-k3y-value") && shown.contains("***"),
                "{shown}"
            );
        }
        let kept = format!(
            "{:?}",
            AuthChange::OAuth2 {
                client_id: "kg-events".into(),
                client_secret: None,
                authorization_server_url: "https://auth.example.com/token".into(),
                scope: Some("events.write".into()),
            }
        );
        assert!(
            kept.contains("kg-events") && kept.contains("events.write"),
            "{kept}"
        );
    }

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
