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
//! requests need it as an HMAC key. An OAuth client may have public keys instead of a secret
//! (`private_key_jwt`, [`keys`]): then it has no secret at all. Rotation keeps the previous secret for a grace period;
//! deletion is revocation: every token of the client fails from the next request on, because
//! verification reads this record.
//!
//! Revocations of single tokens and grant families are items of their own in the client's
//! partition (`CLIENT#<id>/REVOKED#<jti or family>`), each living (`ttl`) until what it revokes
//! has expired: none is ever dropped to make room. A bearer token's check reads the record and
//! its two possible revocations in one batch.

use serde::{Deserialize, Serialize};

use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{ct_eq, Peppers, Sealed, Secret, SecretHash};
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::ids::{AccountId, ClientAppId, OAuthClientId, UserId};
use crate::ports::store::{Condition, Item, Key, StoreError, Table, WriteOp};

pub mod keys;
mod records;
mod rules;

pub use keys::{ClientKeys, KeySource};
pub use records::*;
pub use rules::*;

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
    /// Public keys instead of a secret: the client authenticates with `private_key_jwt` (RFC
    /// 7523). Required under `fapi2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<ClientKeys>,
}

/// How an OAuth client authenticates at the token, pushed-request, revocation and introspection
/// endpoints (RFC 8414's `token_endpoint_auth_method` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// A secret, by `Authorization: Basic` (or in the body where a grant takes it).
    ClientSecretBasic,
    /// A secret in the body (the code and refresh grants, PAR); registered as a secret client.
    ClientSecretPost,
    /// An assertion signed with one of its keys (RFC 7523).
    PrivateKeyJwt,
    /// A public client: its id alone, PKCE and (optionally) DPoP.
    None,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            ClientAuthMethod::None => "none",
        }
    }
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
    /// How the client authenticates: `private_key_jwt` with keys, `none` when public,
    /// `client_secret_basic` otherwise (which takes `client_secret_post` where a grant does).
    pub fn auth_method(&self) -> ClientAuthMethod {
        match (&self.keys, self.public) {
            (Some(_), _) => ClientAuthMethod::PrivateKeyJwt,
            (None, true) => ClientAuthMethod::None,
            (None, false) => ClientAuthMethod::ClientSecretBasic,
        }
    }
    /// Whether a refresh returns a new refresh token (rotation), or the same one (`fapi2`: the
    /// key binding replaces rotation).
    pub fn rotates_refresh(&self) -> bool {
        !self.fapi2()
    }
    /// The combinations refused at creation and on change: a `fapi2` client is confidential,
    /// without the implicit flow, and authenticates with `private_key_jwt` (FAPI 2.0 §5.3.2.1);
    /// a public client has no keys.
    pub fn profile_conflict(&self) -> Option<&'static str> {
        match (
            self.fapi2(),
            self.public,
            self.implicit,
            self.keys.is_some(),
        ) {
            (true, true, _, _) => Some("a fapi2 client is confidential: it cannot be public"),
            (true, _, true, _) => Some("a fapi2 client cannot use the implicit flow"),
            (true, _, _, false) => Some(
                "a fapi2 client authenticates with private_key_jwt: register its jwks or jwksUri",
            ),
            (false, true, _, true) => {
                Some("a public client authenticates with its id alone: it cannot have keys")
            }
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
    /// The revocation watermark (docs/SCALE.md, "No request-rate key"): when a token or grant
    /// family of this client was last revoked. A revocation can only concern a token that
    /// existed when it was made, so a token issued after the watermark ([`Client::may_be_revoked`]
    /// is false) is checked without reading any revocation item — the steady state of a client
    /// that seldom revokes costs no per-token read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<UnixSeconds>,
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

/// How far apart two instances' clocks may be when one issues a token and another revokes it.
pub const REVOCATION_CLOCK_MARGIN: i64 = 5;

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
            id: crate::kernel::ids::random_suffix()[..8].to_owned(),
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
                revoked_at: None,
            },
            plain,
        )
    }

    /// A new OAuth client; confidential ones without keys get a secret (returned in clear, once).
    pub fn new_oauth(
        peppers: &Peppers,
        account_id: AccountId,
        name: String,
        settings: OAuthSettings,
        now: UnixSeconds,
    ) -> (Self, Option<Secret>) {
        let id = OAuthClientId::generate().to_string();
        let (secrets, plain) = if settings.public || settings.keys.is_some() {
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
                revoked_at: None,
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

    /// Whether a token minted with secret `sid` is still good: the secret exists and is live —
    /// or, for a client with keys, `sid` names its current keys (a change of keys ends them).
    pub fn secret_live(&self, sid: &str, now: UnixSeconds) -> bool {
        self.secrets
            .iter()
            .any(|s| ct_eq(s.id.as_bytes(), sid.as_bytes()) && s.is_live(now))
            || self
                .keys()
                .is_some_and(|k| ct_eq(k.id.as_bytes(), sid.as_bytes()))
    }

    /// Its public keys, when it authenticates with `private_key_jwt`.
    pub fn keys(&self) -> Option<&ClientKeys> {
        self.oauth.as_ref().and_then(|o| o.keys.as_ref())
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

    /// The id of the newest live secret (carried by tokens as `sid`), or of its keys, if the
    /// client has either.
    pub fn current_secret_id(&self, now: UnixSeconds) -> Option<&str> {
        self.secrets
            .iter()
            .find(|s| s.is_live(now))
            .map(|s| s.id.as_str())
            .or_else(|| self.keys().map(|k| k.id.as_str()))
    }

    /// Gives the client `keys` in place of any secret (`private_key_jwt` from now on): its
    /// secrets are dropped, so the tokens obtained with them stop, as after a rotation without
    /// grace; so do those obtained with the previous keys.
    pub fn set_keys(&mut self, keys: ClientKeys, now: UnixSeconds) {
        if let Some(o) = self.oauth.as_mut() {
            o.keys = Some(keys);
            self.secrets.clear();
            self.updated_at = now;
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
    /// Whether a token issued at `iat` may have been revoked: issued no later than the last
    /// revocation, give or take [`REVOCATION_CLOCK_MARGIN`] between the instances' clocks.
    pub fn may_be_revoked(&self, iat: UnixSeconds) -> bool {
        self.revoked_at
            .is_some_and(|at| iat <= at + REVOCATION_CLOCK_MARGIN)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::crypto::Pepper;

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
