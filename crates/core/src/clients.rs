//! Client apps (OneSpan) and OAuth 2.0 clients: named credentials of an account.
//!
//! One record per client at `CLIENT#<id>/CLIENT`, so the token routes find it by client id alone
//! with one read; listed per account and kind through `gsi1` (`ACC#<account>#APPS`,
//! `ACC#<account>#OAUTH`), each kind in its own partition so one kind can never crowd the other
//! out of a list. How many of each kind an account has is a counter item (`ACC#<account>` /
//! `CLIENTS#<kind>`) changed in the same transaction as the record, at its revision, so the
//! per-kind limit holds under concurrent creates.
//!
//! A secret is kept as a keyed hash; an OAuth client's secret is also sealed, since signed
//! requests need it as an HMAC key. Rotation keeps the previous secret for a grace period;
//! deletion is revocation: every token of the client fails from the next request on, because
//! verification reads this record.
//!
//! Revocations of single tokens and grant families are items of their own in the client's
//! partition (`CLIENT#<id>/REVOKED#<jti or family>`), each living (`ttl`) until what it revokes
//! has expired: none is ever dropped to make room. A bearer token's check reads the record and
//! its two possible revocations in one batch.

use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::crypto::{ct_eq, Peppers, Sealed, Secret, SecretHash};
use crate::error::{ApiError, ApiResult};
use crate::ids::{AccountId, ClientAppId, OAuthClientId, UserId};
use crate::store::{Condition, Item, Key, StoreError, Table, WriteOp};

pub const CLIENT_SECRET_DOMAIN: &str = "client";
/// The OAuth 2.0 scopes, case-sensitive (Secured Signing's list).
pub const SCOPES: [&str; 6] = [
    "Basic",
    "ISign",
    "WeSign",
    "SmartTag",
    "FormDirect",
    "FormFiller",
];
/// Longest grace period of a secret rotation.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;
/// Most clients of one kind (client apps, or OAuth clients) an account may have.
pub const MAX_CLIENTS: usize = 100;
const MAX_REDIRECT_URIS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientKind {
    App,
    #[serde(rename = "OAUTH2")]
    OAuth,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecret {
    /// Short id, carried by tokens (`sid`) so a rotated-out secret's tokens can be refused.
    pub id: String,
    pub hash: SecretHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
    pub created_at: UnixSeconds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixSeconds>,
}

impl ClientSecret {
    pub fn is_live(&self, now: UnixSeconds) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

/// An OAuth client's security profile (docs/FAPI.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// RFC 6749 with PKCE for public clients, refresh rotation, DPoP when the client sends a
    /// proof.
    #[default]
    Standard,
    /// The FAPI 2.0 Security Profile: pushed authorization requests, PKCE S256, DPoP-bound
    /// tokens, no refresh rotation (the binding replaces it), no implicit flow, confidential
    /// clients only.
    Fapi2,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Standard => "standard",
            Profile::Fapi2 => "fapi2",
        }
    }
}

/// OAuth-only settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthSettings {
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// No secret; PKCE required.
    pub public: bool,
    /// The implicit grant (`response_type=token`) is off unless turned on.
    pub implicit: bool,
    /// `standard` on records made before profiles.
    #[serde(default)]
    pub profile: Profile,
    /// Authorization requests must be pushed (RFC 9126); always so under `fapi2`.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Every DPoP proof at the token and pushed-request endpoints must carry a current server
    /// nonce (RFC 9449 §8).
    #[serde(default)]
    pub require_dpop_nonce: bool,
}

impl OAuthSettings {
    pub fn fapi2(&self) -> bool {
        self.profile == Profile::Fapi2
    }
    /// Whether `/authorize` takes only a pushed request.
    pub fn requires_par(&self) -> bool {
        self.fapi2() || self.require_pushed_authorization_requests
    }
    /// Whether every token request must carry a DPoP proof.
    pub fn requires_dpop(&self) -> bool {
        self.fapi2()
    }
    /// Whether a refresh returns a new refresh token (rotation), or the same one (`fapi2`: the
    /// key binding replaces rotation).
    pub fn rotates_refresh(&self) -> bool {
        !self.fapi2()
    }
    /// The combinations refused at creation and on change: a `fapi2` client is confidential,
    /// without the implicit flow.
    pub fn profile_conflict(&self) -> Option<&'static str> {
        match (self.fapi2(), self.public, self.implicit) {
            (true, true, _) => Some("a fapi2 client is confidential: it cannot be public"),
            (true, _, true) => Some("a fapi2 client cannot use the implicit flow"),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub id: String,
    pub kind: ClientKind,
    pub account_id: AccountId,
    pub name: String,
    /// Newest first; empty for public OAuth clients.
    pub secrets: Vec<ClientSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthSettings>,
    /// The user who created it: a client app speaks for that user (docs/CREDENTIALS.md), and its tokens stop when the user may no longer manage; an OAuth client's
    /// client-credentials tokens act as that user when they mint authentication tokens. `None`
    /// on records made before creators were kept: they speak for the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserId>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

impl ClientKind {
    /// Whether `id` has the shape of this kind's ids (`app_…`, `oc_…` with their fixed alphabet
    /// and length): checked before any store call, so a malformed or oversized id never reaches
    /// the table.
    pub fn id_well_formed(self, id: &str) -> bool {
        match self {
            ClientKind::App => ClientAppId::parse(id).is_ok(),
            ClientKind::OAuth => OAuthClientId::parse(id).is_ok(),
        }
    }

    fn tag(self) -> &'static str {
        match self {
            ClientKind::App => "APPS",
            ClientKind::OAuth => "OAUTH",
        }
    }
}

/// A revocation: a token id (`jti`) or a grant family, until everything it covers has expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    pub until: UnixSeconds,
}

pub fn client_key(id: &str) -> Key {
    Key::new(format!("CLIENT#{id}"), "CLIENT")
}

/// Where the revocation of `id` (a `jti` or a family) of a client lives.
pub fn revocation_key(client_id: &str, id: &str) -> Key {
    Key::new(format!("CLIENT#{client_id}"), format!("REVOKED#{id}"))
}

fn list_pk(account: &AccountId, kind: ClientKind) -> String {
    format!("ACC#{account}#{}", kind.tag())
}

fn count_key(account: &AccountId, kind: ClientKind) -> Key {
    Key::new(format!("ACC#{account}"), format!("CLIENTS#{}", kind.tag()))
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct ClientCount {
    n: usize,
}

fn sealed_aad(id: &str) -> String {
    format!("client-secret:{id}")
}

fn new_secret(
    peppers: &Peppers,
    client_id: &str,
    seal: bool,
    now: UnixSeconds,
) -> (ClientSecret, Secret) {
    let plain = Secret::generate();
    (
        ClientSecret {
            id: crate::ids::random_suffix()[..8].to_owned(),
            hash: peppers.hash(CLIENT_SECRET_DOMAIN, &plain),
            sealed: seal.then(|| peppers.seal(&sealed_aad(client_id), plain.expose())),
            created_at: now,
            expires_at: None,
        },
        plain,
    )
}

impl Client {
    /// A new client app with its first secret (returned in clear, once), speaking for
    /// `created_by`.
    pub fn new_app(
        peppers: &Peppers,
        account_id: AccountId,
        created_by: UserId,
        name: String,
        now: UnixSeconds,
    ) -> (Self, Secret) {
        let id = ClientAppId::generate().to_string();
        let (secret, plain) = new_secret(peppers, &id, false, now);
        (
            Self {
                id,
                kind: ClientKind::App,
                account_id,
                name,
                secrets: vec![secret],
                oauth: None,
                created_by: Some(created_by),
                created_at: now,
                updated_at: now,
            },
            plain,
        )
    }

    /// A new OAuth client; confidential ones get a secret (returned in clear, once).
    pub fn new_oauth(
        peppers: &Peppers,
        account_id: AccountId,
        name: String,
        settings: OAuthSettings,
        now: UnixSeconds,
    ) -> (Self, Option<Secret>) {
        let id = OAuthClientId::generate().to_string();
        let (secrets, plain) = if settings.public {
            (vec![], None)
        } else {
            let (s, p) = new_secret(peppers, &id, true, now);
            (vec![s], Some(p))
        };
        (
            Self {
                id,
                kind: ClientKind::OAuth,
                account_id,
                name,
                secrets,
                oauth: Some(settings),
                created_by: None,
                created_at: now,
                updated_at: now,
            },
            plain,
        )
    }

    /// The live secret the presented one matches, checked in constant time against each.
    pub fn check_secret(
        &self,
        peppers: &Peppers,
        presented: &str,
        now: UnixSeconds,
    ) -> Option<&ClientSecret> {
        let mut found = None;
        for s in &self.secrets {
            // Every live secret is checked, so timing does not tell which one matched.
            if s.is_live(now)
                && peppers.verify(CLIENT_SECRET_DOMAIN, &s.hash, presented)
                && found.is_none()
            {
                found = Some(s);
            }
        }
        found
    }

    /// Whether a token minted with secret `sid` is still good: the secret exists and is live.
    pub fn secret_live(&self, sid: &str, now: UnixSeconds) -> bool {
        self.secrets
            .iter()
            .any(|s| ct_eq(s.id.as_bytes(), sid.as_bytes()) && s.is_live(now))
    }

    /// Every live secret in clear (OAuth clients; for signed-request HMAC checks).
    pub fn open_secrets(&self, peppers: &Peppers, now: UnixSeconds) -> Vec<(String, Secret)> {
        self.secrets
            .iter()
            .filter(|s| s.is_live(now))
            .filter_map(|s| {
                let sealed = s.sealed.as_ref()?;
                Some((s.id.clone(), peppers.open(&sealed_aad(&self.id), sealed)?))
            })
            .collect()
    }

    /// The id of the newest live secret (carried by tokens as `sid`), if the client has one.
    pub fn current_secret_id(&self, now: UnixSeconds) -> Option<&str> {
        self.secrets
            .iter()
            .find(|s| s.is_live(now))
            .map(|s| s.id.as_str())
    }

    /// Rotation: a new secret from now on; the previous ones keep working for `grace` seconds
    /// (clamped to 0..=7 days, never extended), expired ones are dropped.
    pub fn rotate(&mut self, peppers: &Peppers, grace: i64, now: UnixSeconds) -> Secret {
        let until = now + grace.clamp(0, MAX_GRACE_SECONDS);
        for s in &mut self.secrets {
            s.expires_at = Some(s.expires_at.map_or(until, |e| e.min(until)));
        }
        self.secrets.retain(|s| s.is_live(now));
        let seal = self.kind == ClientKind::OAuth;
        let (fresh, plain) = new_secret(peppers, &self.id, seal, now);
        self.secrets.insert(0, fresh);
        self.updated_at = now;
        plain
    }

    /// The write of this record: new (`rev` None) or an update at `rev`.
    pub fn write(&self, rev: Option<u64>) -> Result<WriteOp, StoreError> {
        let mut item = Item::new(client_key(&self.id), self)?.with_gsi1(
            list_pk(&self.account_id, self.kind),
            format!("{:012}#{}", self.created_at, self.id),
        );
        Ok(match rev {
            None => WriteOp::Put(item, Condition::NotExists),
            Some(r) => {
                item.rev = r + 1;
                WriteOp::Put(item, Condition::Revision(r))
            }
        })
    }
}

/// A client by id, with its revision.
pub async fn get(table: &dyn Table, id: &str) -> Result<Option<(Client, u64)>, StoreError> {
    match table.get(&client_key(id)).await? {
        Some(i) => Ok(Some((i.decode()?, i.rev))),
        None => Ok(None),
    }
}

/// A client of `account` and `kind` by id; any other (unknown, another account's, other kind)
/// is the same 404, so ids of other accounts leak nothing.
pub async fn get_owned(
    table: &dyn Table,
    account: &AccountId,
    kind: ClientKind,
    id: &str,
) -> ApiResult<(Client, u64)> {
    if !kind.id_well_formed(id) {
        return Err(ApiError::not_found("client_unknown", "no such client"));
    }
    match get(table, id).await? {
        Some((c, rev)) if &c.account_id == account && c.kind == kind => Ok((c, rev)),
        _ => Err(ApiError::not_found("client_unknown", "no such client")),
    }
}

/// The account's clients of one kind, oldest first (each kind has its own index partition).
pub async fn list(
    table: &dyn Table,
    account: &AccountId,
    kind: ClientKind,
) -> Result<Vec<Client>, StoreError> {
    table
        .query_gsi1(&list_pk(account, kind), MAX_CLIENTS)
        .await?
        .iter()
        .map(Item::decode)
        .collect()
}

/// How many clients of `kind` the account has, by its counter item (one read).
pub async fn count(table: &dyn Table, account: &AccountId, kind: ClientKind) -> ApiResult<usize> {
    Ok(match table.get(&count_key(account, kind)).await? {
        Some(i) => i.decode::<ClientCount>()?.n,
        None => 0,
    })
}

/// How many times a create or delete re-reads the count after losing a race to another one.
const COUNT_ATTEMPTS: usize = 16;

/// Writes the counter item next to `op` and `extra`, at the revision read: the limit check and
/// the write are one transaction, so concurrent creates can never exceed [`MAX_CLIENTS`].
async fn counted(
    table: &dyn Table,
    account: &AccountId,
    kind: ClientKind,
    delta: isize,
    op: WriteOp,
    extra: Vec<WriteOp>,
) -> ApiResult<()> {
    let key = count_key(account, kind);
    for _ in 0..COUNT_ATTEMPTS {
        let current = table.get(&key).await?;
        let (count, cond, rev) = match &current {
            Some(i) => (
                i.decode::<ClientCount>()?,
                Condition::Revision(i.rev),
                i.rev + 1,
            ),
            None => (ClientCount::default(), Condition::NotExists, 0),
        };
        let n = count.n.saturating_add_signed(delta);
        if delta > 0 && n > MAX_CLIENTS {
            return Err(ApiError::conflict(
                "clients_limit",
                format!(
                    "the account already has {MAX_CLIENTS} {}",
                    match kind {
                        ClientKind::App => "client apps",
                        ClientKind::OAuth => "OAuth clients",
                    }
                ),
            ));
        }
        let mut counter = Item::new(key.clone(), &ClientCount { n })?;
        counter.rev = rev;
        let mut ops = vec![WriteOp::Put(counter, cond), op.clone()];
        ops.extend(extra.iter().cloned());
        match table.transact(ops).await {
            Ok(()) => return Ok(()),
            // Another create or delete moved the count (or the client itself changed): read again.
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "concurrent_change",
        "the account's clients changed too often meanwhile: try again",
    ))
}

/// Stores a new client with `extra` writes (its audit record), within the per-kind limit.
pub async fn create(table: &dyn Table, client: &Client, extra: Vec<WriteOp>) -> ApiResult<()> {
    counted(
        table,
        &client.account_id,
        client.kind,
        1,
        client.write(None)?,
        extra,
    )
    .await
}

/// Deletes a client read at `rev` (revocation of all its tokens), with `extra` writes; `409` if
/// it changed meanwhile.
pub async fn delete(
    table: &dyn Table,
    client: &Client,
    rev: u64,
    extra: Vec<WriteOp>,
) -> ApiResult<()> {
    let op = WriteOp::Delete(client_key(&client.id), Condition::Revision(rev));
    counted(table, &client.account_id, client.kind, -1, op, extra).await
}

/// Writes a changed client read at `rev`, with `extra` writes (its audit record); `409` if it
/// changed meanwhile.
pub async fn save(
    table: &dyn Table,
    client: &Client,
    rev: u64,
    extra: Vec<WriteOp>,
) -> ApiResult<()> {
    let mut ops = vec![client.write(Some(rev))?];
    ops.extend(extra);
    crate::error::conflict_on_race(
        table.transact(ops).await,
        "the client changed meanwhile: try again",
    )
}

/// Revokes a token id or grant family of a client until `until` (when everything it covers has
/// expired). Idempotent; a later revocation of the same id keeps the later expiry.
pub async fn revoke(
    table: &dyn Table,
    client_id: &str,
    id: &str,
    until: UnixSeconds,
) -> Result<(), StoreError> {
    let key = revocation_key(client_id, id);
    let until = match table.get(&key).await? {
        Some(i) => i.decode::<Revoked>()?.until.max(until),
        None => until,
    };
    let item = Item::new(key, &Revoked { until })?.with_ttl(until);
    table.put(item, Condition::Always).await
}

/// Whether `id` (a `jti` or family) of a client is revoked at `now`: one read.
pub async fn is_revoked(
    table: &dyn Table,
    client_id: &str,
    id: &str,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    Ok(table
        .get(&revocation_key(client_id, id))
        .await?
        .is_some_and(|i| i.is_live(now)))
}

/// Checks a scope list: known, case-sensitive, at least one; duplicates dropped.
pub fn validate_scopes(scopes: &[String]) -> ApiResult<Vec<String>> {
    if scopes.is_empty() {
        return Err(ApiError::bad_request(
            "scopes_empty",
            "at least one scope is required",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        if !SCOPES.contains(&s.as_str()) {
            return Err(ApiError::bad_request(
                "scope_unknown",
                format!(
                    "'{}' is not a scope (scopes are case-sensitive: {})",
                    crate::ids::printable(s),
                    SCOPES.join(" ")
                ),
            ));
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

/// Checks redirect URIs: absolute, no fragment, `https` — or `http` on a loopback host (RFC 8252
/// native apps); at most 10.
pub fn validate_redirect_uris(uris: &[String]) -> ApiResult<Vec<String>> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(ApiError::bad_request(
            "redirect_uris_too_many",
            "at most 10 redirect URIs",
        ));
    }
    let mut out = Vec::new();
    for raw in uris {
        let bad = || {
            ApiError::bad_request("redirect_uri_invalid", format!("'{}' is not an acceptable redirect URI (absolute https, no fragment; http only for localhost)", crate::ids::printable(raw)))
        };
        if raw.len() > 2048 {
            return Err(bad());
        }
        let u = url::Url::parse(raw).map_err(|_| bad())?;
        // Stored as sent and matched exactly, so what was sent must already be the parsed form:
        // the parser silently drops tabs and newlines and rewrites other forms, and a stored
        // value with a control character could never be sent back in a header.
        if u.as_str() != raw {
            return Err(ApiError::bad_request(
                "redirect_uri_not_normalised",
                format!(
                    "'{}' is not in normal form: send it as '{}'",
                    crate::ids::printable(raw),
                    crate::ids::printable(u.as_str())
                ),
            ));
        }
        if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
            return Err(bad());
        }
        let loopback = match u.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(bad()),
        };
        match u.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(bad()),
        }
        // Stored exactly as given: redirect URIs are matched exactly.
        if !out.contains(raw) {
            out.push(raw.clone());
        }
    }
    Ok(out)
}

/// Checks a registered domain (where signed requests may come from): a hostname of at least two
/// labels (`example.com`, not `com`), stored lowercase and without a trailing dot. Whitespace and
/// control characters are refused, not trimmed.
pub fn validate_domain(domain: &str) -> ApiResult<String> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.contains('.')
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(d)
    } else {
        Err(ApiError::bad_request(
            "domain_invalid",
            "domain must be a hostname such as app.example.com",
        ))
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
    fn secrets_check_and_rotate_with_grace() {
        let p = peppers();
        let (mut c, first) = Client::new_app(
            &p,
            AccountId::generate(),
            UserId::generate(),
            "app".into(),
            100,
        );
        let first_id = c.check_secret(&p, first.expose(), 100).unwrap().id.clone();
        let second = c.rotate(&p, 60, 200);
        assert!(
            c.check_secret(&p, first.expose(), 259).is_some(),
            "old secret inside grace"
        );
        assert!(
            c.check_secret(&p, first.expose(), 260).is_none(),
            "old secret after grace"
        );
        assert!(c.check_secret(&p, second.expose(), 10_000).is_some());
        assert!(c.secret_live(&first_id, 259) && !c.secret_live(&first_id, 260));
        assert!(c.check_secret(&p, "nope", 200).is_none());
    }

    #[test]
    fn zero_grace_kills_the_old_secret_at_once() {
        let p = peppers();
        let (mut c, first) = Client::new_app(
            &p,
            AccountId::generate(),
            UserId::generate(),
            "app".into(),
            100,
        );
        c.rotate(&p, 0, 200);
        assert!(c.check_secret(&p, first.expose(), 200).is_none());
        assert_eq!(c.secrets.len(), 1);
    }

    #[test]
    fn oauth_secrets_are_sealed_and_open() {
        let p = peppers();
        let settings = OAuthSettings {
            redirect_uris: vec![],
            scopes: vec!["Basic".into()],
            domain: None,
            public: false,
            implicit: false,
            ..Default::default()
        };
        let (c, plain) =
            Client::new_oauth(&p, AccountId::generate(), "oc".into(), settings.clone(), 1);
        let plain = plain.unwrap();
        assert!(!serde_json::to_string(&c).unwrap().contains(plain.expose()));
        assert_eq!(c.open_secrets(&p, 1)[0].1.expose(), plain.expose());
        let (public, none) = Client::new_oauth(
            &p,
            AccountId::generate(),
            "pub".into(),
            OAuthSettings {
                public: true,
                ..settings
            },
            1,
        );
        assert!(none.is_none() && public.secrets.is_empty());
    }

    #[test]
    fn scopes_are_case_sensitive() {
        assert!(validate_scopes(&["Basic".into(), "ISign".into()]).is_ok());
        assert!(validate_scopes(&["basic".into()]).is_err());
        assert!(validate_scopes(&[]).is_err());
    }

    #[test]
    fn redirect_uris_need_https_except_loopback() {
        assert!(validate_redirect_uris(&["https://app.test/cb".into()]).is_ok());
        assert!(validate_redirect_uris(&["http://localhost:8080/cb".into()]).is_ok());
        assert!(validate_redirect_uris(&["http://127.0.0.1/cb".into()]).is_ok());
        for bad in [
            "http://app.test/cb",
            "https://app.test/cb\n",
            "https://app.test/c\rb",
            "https://app.test/cb\0",
            " https://app.test/cb",
            "https://app.test",
            "https://APP.test/cb",
            "https://app.test/cb#x",
            "app.test/cb",
            "javascript:alert(1)",
        ] {
            assert!(validate_redirect_uris(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(validate_redirect_uris(&vec!["https://a.test/".to_owned(); 11]).is_err());
    }

    #[test]
    fn domains_are_hostnames() {
        assert_eq!(
            validate_domain("App.Example.com.").unwrap(),
            "app.example.com"
        );
        for bad in [
            "",
            "a..b",
            "-a.com",
            "a_b.com",
            "https://a.com",
            "com",
            " app.example.com",
            "app.example.com\n",
        ] {
            assert!(validate_domain(bad).is_err(), "{bad}");
        }
    }
}
