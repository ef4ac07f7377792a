//! How callbacks are stored: the table keys and the reads and writes (one transaction per change).

use super::*;

pub fn endpoint_key(account: &AccountId, id: &EndpointId) -> Key {
    Key::new(format!("ACC#{account}"), format!("EP#{id}"))
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
                rate_limit: None,
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

    /// The endpoint's name in the API: [`PRIMARY`] for the primary callback, else its id.
    pub fn api_id(&self) -> &str {
        if self.primary {
            PRIMARY
        } else {
            self.id.as_str()
        }
    }

    /// Whether `name` (an endpoint's API name or id) names this endpoint.
    pub fn is_named(&self, name: &str) -> bool {
        name == self.id.as_str() || (self.primary && name == PRIMARY)
    }
}

/// The endpoint of the account an API name (`primary`, or an `ep_…` id) names.
pub async fn named(
    table: &dyn Table,
    account: &AccountId,
    name: &str,
) -> Result<Option<(Endpoint, u64)>, StoreError> {
    if name == PRIMARY {
        return Ok(list(table, account)
            .await?
            .into_iter()
            .find(|(e, _)| e.primary));
    }
    match EndpointId::parse(name) {
        Ok(id) => get(table, account, &id).await,
        Err(_) => Ok(None),
    }
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

pub async fn delete(
    table: &dyn Table,
    account: &AccountId,
    id: &EndpointId,
) -> Result<bool, StoreError> {
    crate::ports::store::delete_live(table, &endpoint_key(account, id), 0).await
}
