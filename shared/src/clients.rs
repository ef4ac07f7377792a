//! Client apps (OneSpan) and OAuth 2.0 clients: named credentials of an account.
//!
//! One record per client at `CLIENT#<id>/CLIENT`, so the token routes find it by client id alone
//! with one read; listed per account through `gsi1` (`ACC#<account>#CLIENTS`). A secret is kept
//! as a keyed hash; an OAuth client's secret is also sealed, since signed requests need it as an
//! HMAC key. Rotation keeps the previous secret for a grace period; deletion is revocation: every
//! token of the client fails from the next request on, because verification reads this record.

use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::crypto::{ct_eq, Peppers, Sealed, Secret, SecretHash};
use crate::error::{ApiError, ApiResult};
use crate::ids::{AccountId, ClientAppId, OAuthClientId};
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
/// Most clients (apps and OAuth) an account may have.
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

/// OAuth-only settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Revoked token ids and grant families, each kept until the last token it covers expires;
    /// kept here so checking a token stays one read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<Revoked>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    /// A token id (`jti`) or a grant family id.
    pub id: String,
    /// When everything this entry covers has expired.
    pub until: UnixSeconds,
}

/// Most revocation entries a client keeps; past it the oldest-expiring go first.
pub const MAX_REVOKED: usize = 2000;

pub fn client_key(id: &str) -> Key {
    Key::new(format!("CLIENT#{id}"), "CLIENT")
}

fn list_pk(account: &AccountId) -> String {
    format!("ACC#{account}#CLIENTS")
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
    /// A new client app with its first secret (returned in clear, once).
    pub fn new_app(
        peppers: &Peppers,
        account_id: AccountId,
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
                revoked: vec![],
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
                revoked: vec![],
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

    pub fn is_revoked(&self, id: &str, now: UnixSeconds) -> bool {
        self.revoked.iter().any(|r| r.id == id && r.until > now)
    }

    /// Records a revocation (pruning entries that no longer cover anything).
    pub fn revoke(&mut self, id: &str, until: UnixSeconds, now: UnixSeconds) {
        self.revoked.retain(|r| r.until > now && r.id != id);
        self.revoked.push(Revoked {
            id: id.to_owned(),
            until,
        });
        if self.revoked.len() > MAX_REVOKED {
            self.revoked.sort_by_key(|r| std::cmp::Reverse(r.until));
            self.revoked.truncate(MAX_REVOKED);
        }
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
            list_pk(&self.account_id),
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
    match get(table, id).await? {
        Some((c, rev)) if &c.account_id == account && c.kind == kind => Ok((c, rev)),
        _ => Err(ApiError::not_found("client_unknown", "no such client")),
    }
}

/// The account's clients of one kind, oldest first.
pub async fn list(
    table: &dyn Table,
    account: &AccountId,
    kind: ClientKind,
) -> Result<Vec<Client>, StoreError> {
    let items = table.query_gsi1(&list_pk(account), MAX_CLIENTS + 1).await?;
    let mut out = Vec::new();
    for i in items {
        let c: Client = i.decode()?;
        if c.kind == kind {
            out.push(c);
        }
    }
    Ok(out)
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

/// Checks a registered domain (where signed requests may come from): a lowercase hostname.
pub fn validate_domain(domain: &str) -> ApiResult<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
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
        let (mut c, first) = Client::new_app(&p, AccountId::generate(), "app".into(), 100);
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
        let (mut c, first) = Client::new_app(&p, AccountId::generate(), "app".into(), 100);
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
        for bad in ["", "a..b", "-a.com", "a_b.com", "https://a.com"] {
            assert!(validate_domain(bad).is_err(), "{bad}");
        }
    }
}
