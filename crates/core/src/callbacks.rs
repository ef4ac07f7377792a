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

pub fn endpoint_key(account: &AccountId, id: &EndpointId) -> Key {
    Key::new(format!("ACC#{account}"), format!("EP#{id}"))
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
                oauth: None,
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

    /// How deliveries authenticate now.
    pub fn auth_type(&self) -> AuthType {
        match (&self.oauth, &self.key) {
            (Some(_), _) => AuthType::OAuth2,
            (None, Some(_)) => AuthType::Basic,
            (None, None) => AuthType::None,
        }
    }

    /// Applies `change`: the key or the OAuth client is sealed under this endpoint; the other
    /// is cleared. Refused (`400 client_secret_missing`) when it keeps an OAuth secret for
    /// another client id or authorization server.
    pub fn authenticate_with(&mut self, peppers: &Peppers, change: AuthChange) -> ApiResult<()> {
        match change {
            AuthChange::None => {
                self.key = None;
                self.oauth = None;
            }
            AuthChange::Basic(key) => {
                self.set_key(peppers, Some(&key));
                self.oauth = None;
            }
            AuthChange::OAuth2 {
                client_id,
                client_secret,
                authorization_server_url,
                scope,
            } => {
                let sealed = match client_secret {
                    Some(secret) => peppers.seal(&oauth_secret_aad(&self.id), &secret),
                    None => self
                        .oauth
                        .as_ref()
                        .filter(|c| {
                            c.client_id == client_id
                                && c.authorization_server_url == authorization_server_url
                        })
                        .map(|c| c.client_secret.clone())
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                "client_secret_missing",
                                "authentication.clientSecret is required for a new client id or \
                                 authorization server URL",
                            )
                        })?,
                };
                self.key = None;
                self.oauth = Some(OAuth2Credentials {
                    client_id,
                    client_secret: sealed,
                    authorization_server_url,
                    scope,
                });
            }
        }
        Ok(())
    }

    /// The OAuth client's secret in clear, to ask for a token.
    pub fn open_oauth_secret(&self, peppers: &Peppers) -> Option<Secret> {
        let c = self.oauth.as_ref()?;
        peppers.open(&oauth_secret_aad(&self.id), &c.client_secret)
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
    https_url(raw, local_mode, "callback_url_invalid", "the callback URL")
}

/// [`validate_url`] for the URL `what` names, refused with `reason`.
fn https_url(
    raw: &str,
    local_mode: bool,
    reason: &'static str,
    what: &'static str,
) -> ApiResult<String> {
    let bad = |msg: &str| ApiError::bad_request(reason, format!("{what} {msg}"));
    if raw.len() > 2048 {
        return Err(bad("is longer than 2048 characters"));
    }
    // The parser would silently drop these; what is stored must be what was meant.
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("must not contain whitespace or control characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("is not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("has no host")),
    };
    match url.scheme() {
        "https" => Ok(url.to_string()),
        "http" if local_mode && loopback => Ok(url.to_string()),
        _ => Err(bad("must be https")),
    }
}

/// Checks the parts of an OAuth 2.0 callback authentication: a client id and secret of 1–512
/// printable ASCII characters (the secret may be left out to keep the current one), an https
/// authorization server URL ([`validate_url`]'s rules), and a scope of RFC 6749 scope tokens,
/// stored with single spaces (`None` when empty).
pub fn validate_oauth(
    client_id: Option<&str>,
    client_secret: Option<&str>,
    authorization_server_url: Option<&str>,
    scope: Option<&str>,
    local_mode: bool,
) -> ApiResult<AuthChange> {
    let visible = |field: &'static str, v: &str| {
        // VSCHAR = %x20-7E (RFC 6749 Appendix A): spaces are allowed, and form-urlencoded
        // before Basic's base64 when sent.
        if v.is_empty() || v.len() > 512 || !v.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
            return Err(ApiError::bad_request(
                "oauth_credentials_invalid",
                format!("authentication.{field} must be 1-512 printable ASCII characters"),
            ));
        }
        Ok(v.to_owned())
    };
    fn required<'v>(field: &'static str, v: Option<&'v str>) -> ApiResult<&'v str> {
        v.ok_or_else(|| {
            ApiError::bad_request(
                "oauth_field_missing",
                format!("authentication.{field} is required for OAUTH2"),
            )
        })
    }
    let client_id = visible("clientId", required("clientId", client_id)?)?;
    let client_secret = client_secret
        .map(|s| visible("clientSecret", s))
        .transpose()?;
    let authorization_server_url = https_url(
        required("authorizationServerUrl", authorization_server_url)?,
        local_mode,
        "authorization_server_url_invalid",
        "the authorization server URL",
    )?;
    let scope = match scope {
        None => None,
        Some(raw) => {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3)
            let token_char =
                |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
            let tokens: Vec<&str> = raw.split(' ').filter(|t| !t.is_empty()).collect();
            if raw.len() > 1024 || !tokens.iter().all(|t| t.bytes().all(token_char)) {
                return Err(ApiError::bad_request(
                    "scope_invalid",
                    "authentication.scope is space-separated RFC 6749 scope tokens, at most 1024 characters",
                ));
            }
            (!tokens.is_empty()).then(|| tokens.join(" "))
        }
    };
    Ok(AuthChange::OAuth2 {
        client_id,
        client_secret,
        authorization_server_url,
        scope,
    })
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
    crate::store::delete_live(table, &endpoint_key(account, id), 0).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Pepper;

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
