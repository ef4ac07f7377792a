//! Authentication tokens (OneSpan's user, sender, multi-use and single-use signer tokens) and the
//! browser sessions they open (docs/CREDENTIALS.md).
//!
//! Layout (single table):
//! - `AUTHTOK#<keyed hash>/AUTHTOK`: a token not yet consumed ([`Scope`] and times), `ttl` = its
//!   expiry.
//! - `AUTHTOK#<keyed hash>/USED`: the tombstone a consumed single-use token leaves, so a reuse is
//!   told apart from a token that never existed; `ttl` = the token's original expiry.
//! - `SESSION#<keyed hash>/SESSION`: a session ([`Session`]), `ttl` = its expiry.
//!
//! Only keyed hashes of token and session values are stored (hash domains [`TOKEN_DOMAIN`] and
//! [`SESSION_DOMAIN`]), so a dump of the table opens no session. Expired items are refused at
//! once ([`Item::is_live`]), before DynamoDB TTL removes them.
//!
//! **At most once.** A single-use token is consumed by one transaction: its delete, conditioned
//! on it being live (`Condition::Live`), with its tombstone and its session. Of any number of
//! racing redemptions exactly one commits; the others are told `token_used` (no reader ever sees
//! the token gone without its tombstone), and a failure leaves nothing behind.
//! A multi-use signer token is only read and checked live.
//!
//! **Lifetimes.** A token lives the account's `authTokenTtlSeconds` (default 30 min). A session
//! lives as long, from its redemption, with an absolute expiry (a sliding one would cost a write
//! per request); both are clamped to [`MIN_TTL`]..=[`MAX_TTL`] whatever the stored setting says.
//!
//! Where the browser goes after a redemption (the redirect allowlist, the signing ceremony's
//! URL) is the pure policy of [`redirect`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::accounts::{self, Account, AuthSettings};
use crate::identity::chain::{self, Chain, Root};
use crate::identity::policy::Kind as PrincipalKind;
use crate::identity::principal::{CredentialKind, Origin, Principal, SubjectType};
use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{looks_like_secret, Secret, SecretHash};
use crate::kernel::error::{ApiError, ApiResult, Kind};
use crate::kernel::ids::{AccountId, UserId};
use crate::ports::store::{Condition, Item, Key, StoreError, Table, WriteOp};

pub mod redirect;

pub use redirect::{redirect_location, signing_location};

mod records;
mod rules;

pub use records::*;
pub use rules::*;

/// What authentication tokens and sessions need of the ports: the table, the key ring, the
/// time ([`crate::ports::Ports`]).
pub use crate::ports::Ports;

/// Hash domain of authentication tokens.
pub const TOKEN_DOMAIN: &str = "authtoken";
/// Hash domain of session values.
pub const SESSION_DOMAIN: &str = "session";
/// Shortest token or session lifetime, seconds.
pub const MIN_TTL: i64 = 60;
/// Longest token or session lifetime, seconds.
pub const MAX_TTL: i64 = 86_400;
/// Longest `packageId` / `signerId`, characters.
pub const MAX_ID_LEN: usize = 128;
/// Most entries in `sessionFields`.
pub const MAX_SESSION_FIELDS: usize = 20;
/// Longest `sessionFields` key, characters.
pub const MAX_FIELD_KEY_LEN: usize = 64;
/// Longest `sessionFields` value, characters.
pub const MAX_FIELD_VALUE_LEN: usize = 512;

/// How long a newly minted token lives.
pub fn token_ttl(settings: &AuthSettings) -> i64 {
    settings.auth_token_ttl_seconds.clamp(MIN_TTL, MAX_TTL)
}

/// How long a session lives from its redemption: the same account setting as tokens, bounded.
pub fn session_ttl(settings: &AuthSettings) -> i64 {
    settings.auth_token_ttl_seconds.clamp(MIN_TTL, MAX_TTL)
}

// ---------------------------------------------------------------------------------------------
// Validated inputs
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Scope, tokens and sessions
// ---------------------------------------------------------------------------------------------

/// Which of the two browser routes redeems a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redemption {
    /// `GET /auth?authenticationToken=…&target=…`: user and sender tokens.
    Auth,
    /// `GET /access?sessionToken=…`: signer tokens.
    Access,
}

/// What a token grants; its session carries exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum Grant {
    /// The whole account, as this user.
    User { user_id: UserId },
    /// One package, as the sender (the user who minted the token).
    Sender {
        user_id: UserId,
        package_id: PackageId,
    },
    /// One signer of one package; redeemable until it expires.
    SignerMultiUse {
        package_id: PackageId,
        signer_id: SignerId,
    },
    /// One signer of one package, once, with its session fields.
    SignerSingleUse {
        package_id: PackageId,
        signer_id: SignerId,
        #[serde(default)]
        session_fields: Option<SessionFields>,
    },
}

impl Grant {
    /// All but the multi-use signer token work exactly once.
    pub fn single_use(&self) -> bool {
        !matches!(self, Grant::SignerMultiUse { .. })
    }
    pub fn redeemed_at(&self) -> Redemption {
        match self {
            Grant::User { .. } | Grant::Sender { .. } => Redemption::Auth,
            Grant::SignerMultiUse { .. } | Grant::SignerSingleUse { .. } => Redemption::Access,
        }
    }
    pub fn package_id(&self) -> Option<&PackageId> {
        match self {
            Grant::User { .. } => None,
            Grant::Sender { package_id, .. }
            | Grant::SignerMultiUse { package_id, .. }
            | Grant::SignerSingleUse { package_id, .. } => Some(package_id),
        }
    }
    /// A name for logs (never a value).
    pub fn kind(&self) -> &'static str {
        match self {
            Grant::User { .. } => "user",
            Grant::Sender { .. } => "sender",
            Grant::SignerMultiUse { .. } => "signer_multi_use",
            Grant::SignerSingleUse { .. } => "signer_single_use",
        }
    }
}

/// A grant within one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    pub account_id: AccountId,
    pub grant: Grant,
}

/// A browser session, as stored and as the authorizer and consent page read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub scope: Scope,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
    /// What minted the token that opened it ([`crate::identity::chain`]), checked on every use; sessions
    /// opened before chains were kept have none and are refused.
    #[serde(default)]
    pub chain: Option<Chain>,
}

impl Session {
    /// Its row of the authorization table: a user session is a console session when an API key
    /// minted its token, an integration session when an integration did; a sender's or
    /// signer's session is a package session.
    pub fn kind(&self, account: &Account) -> PrincipalKind {
        match &self.scope.grant {
            Grant::User { .. } if self.chain.as_ref().is_some_and(Chain::from_integration) => {
                PrincipalKind::IntegrationSession
            }
            Grant::User { user_id } => PrincipalKind::ConsoleSession {
                owner: *user_id == account.owner_user_id,
            },
            _ => PrincipalKind::PackageSession,
        }
    }

    /// The caller this session proves: user tokens give the owner or a user (subject = user
    /// id), sender tokens a sender of one package (subject = the sending user), signer tokens a
    /// signer of one package (subject = signer id).
    pub fn principal(&self, account: &Account) -> Principal {
        let (subject_type, subject_id, package_id, signer_id) = match &self.scope.grant {
            Grant::User { user_id } => (
                if *user_id == account.owner_user_id {
                    SubjectType::Owner
                } else {
                    SubjectType::User
                },
                user_id.to_string(),
                None,
                None,
            ),
            Grant::Sender {
                user_id,
                package_id,
            } => (
                SubjectType::Sender,
                user_id.to_string(),
                Some(package_id.as_str().to_owned()),
                None,
            ),
            Grant::SignerMultiUse {
                package_id,
                signer_id,
            }
            | Grant::SignerSingleUse {
                package_id,
                signer_id,
                ..
            } => (
                SubjectType::Signer,
                signer_id.as_str().to_owned(),
                Some(package_id.as_str().to_owned()),
                Some(signer_id.as_str().to_owned()),
            ),
        };
        Principal {
            account_id: self.scope.account_id.clone(),
            subject_type,
            subject_id,
            client_id: None,
            scopes: vec![],
            package_id,
            signer_id,
            auth_method: CredentialKind::Session,
            account_method: account.settings.method,
            session_fields: self.session_fields().map(|f| f.as_map().clone()),
            minted_by: self.chain.as_ref().map(|c| {
                match &c.root {
                    Root::ApiKey { .. } => "API_KEY",
                    Root::Client {
                        kind: crate::clients::ClientKind::App,
                        ..
                    } => "CLIENT_APP",
                    Root::Client { .. } => "OAUTH2",
                }
                .to_owned()
            }),
            origin: Some(Origin {
                chain: self.chain.clone(),
                ..Origin::of(self.kind(account))
            }),
        }
    }

    /// The single-use signer token's session fields, if any.
    pub fn session_fields(&self) -> Option<&SessionFields> {
        match &self.scope.grant {
            Grant::SignerSingleUse { session_fields, .. } => session_fields.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::kernel::clock::ManualClock;
    use crate::kernel::config::Config;
    use crate::ports::services::Services;
    use crate::ports::store::MemoryTable;

    const T0: UnixSeconds = 1_800_000_000;

    struct Fixture {
        services: Services,
        table: Arc<MemoryTable>,
        clock: ManualClock,
        account: Account,
        /// The owner's API key as the root of what the tests mint.
        root: Chain,
    }

    async fn fixture() -> Fixture {
        let clock = ManualClock::new(T0);
        let config = Config::local("http://127.0.0.1:3000");
        let mut services = Services::in_memory(config.clone(), Arc::new(clock.clone())).await;
        let table = Arc::new(MemoryTable::new());
        services.table = table.clone();
        let ring = services.keys.ring().await;
        let new = accounts::create_account(
            &*table,
            ring.peppers(),
            &config,
            "Acme",
            "owner@acme.test",
            T0,
        )
        .await
        .unwrap();
        Fixture {
            services,
            table,
            clock,
            account: new.account,
            root: Chain::from(Root::ApiKey {
                user_id: new.owner.id.clone(),
                key: new.owner.api_key_hash.clone(),
            }),
        }
    }

    fn pkg(s: &str) -> PackageId {
        PackageId::parse(Some(s)).unwrap()
    }

    fn signer(s: &str) -> SignerId {
        SignerId::parse(Some(s)).unwrap()
    }

    fn fields(n: usize, key_len: usize, value_len: usize) -> BTreeMap<String, String> {
        (0..n)
            .map(|i| (format!("{i:0>key_len$}"), "v".repeat(value_len)))
            .collect()
    }

    #[test]
    fn ids_are_visible_ascii_up_to_128() {
        assert!(PackageId::parse(Some("5vjLRY5MWrDJ6MzRAEyCKOy5IH0=")).is_ok());
        assert!(SignerId::parse(Some("cd9lbzvjgblygdncdz3x@esignlive.com")).is_ok());
        assert!(PackageId::parse(Some(&"p".repeat(128))).is_ok());
        for (input, reason) in [
            (None, "package_id_missing"),
            (Some(""), "package_id_missing"),
            (Some(" pkg"), "package_id_malformed"),
            (Some("a b"), "package_id_malformed"),
            (Some("pkg\n"), "package_id_malformed"),
            (Some("päckage"), "package_id_malformed"),
        ] {
            let e = PackageId::parse(input).unwrap_err();
            assert_eq!((e.status().as_u16(), e.reason), (400, reason), "{input:?}");
        }
        let e = PackageId::parse(Some(&"p".repeat(129))).unwrap_err();
        assert_eq!(e.reason, "package_id_malformed");
        assert_eq!(
            SignerId::parse(None).unwrap_err().reason,
            "signer_id_missing"
        );
    }

    #[test]
    fn session_fields_are_bounded() {
        assert!(SessionFields::parse(fields(20, 64, 512)).is_ok());
        assert!(SessionFields::parse(BTreeMap::new()).is_ok());
        for too_big in [fields(21, 2, 1), fields(1, 65, 1), fields(1, 2, 513)] {
            let e = SessionFields::parse(too_big).unwrap_err();
            assert_eq!(e.status(), 413);
            assert_eq!(e.reason, "session_fields_too_large");
        }
        for bad_key in ["", "a\u{7}"] {
            let m = BTreeMap::from([(bad_key.to_owned(), "v".to_owned())]);
            assert_eq!(SessionFields::parse(m).unwrap_err().status(), 400);
        }
    }

    #[test]
    fn lifetimes_follow_the_setting_within_bounds() {
        let config = Config::local("http://127.0.0.1:3000");
        let mut s = AuthSettings::defaults(&config);
        assert_eq!(token_ttl(&s), 1800);
        assert_eq!(session_ttl(&s), 1800);
        s.auth_token_ttl_seconds = 0;
        assert_eq!(token_ttl(&s), MIN_TTL);
        s.auth_token_ttl_seconds = i64::MAX;
        assert_eq!(session_ttl(&s), MAX_TTL);
    }

    #[test]
    fn grants_serialize_with_their_kind() {
        let g = Grant::SignerSingleUse {
            package_id: pkg("p1"),
            signer_id: signer("s@x.test"),
            session_fields: None,
        };
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["kind"], "SIGNER_SINGLE_USE");
        assert_eq!(v["packageId"], "p1");
        assert_eq!(serde_json::from_value::<Grant>(v).unwrap(), g);
        assert!(g.single_use() && g.redeemed_at() == Redemption::Access);
        let m = Grant::SignerMultiUse {
            package_id: pkg("p1"),
            signer_id: signer("s"),
        };
        assert!(!m.single_use());
    }

    #[tokio::test]
    async fn each_kind_opens_a_session_of_its_scope() {
        let f = fixture().await;
        let owner = f.account.owner_user_id.clone();
        let cases = [
            (
                Grant::User {
                    user_id: owner.clone(),
                },
                Redemption::Auth,
                SubjectType::Owner,
            ),
            (
                Grant::Sender {
                    user_id: owner.clone(),
                    package_id: pkg("pkg1"),
                },
                Redemption::Auth,
                SubjectType::Sender,
            ),
            (
                Grant::SignerMultiUse {
                    package_id: pkg("pkg2"),
                    signer_id: signer("s1"),
                },
                Redemption::Access,
                SubjectType::Signer,
            ),
            (
                Grant::SignerSingleUse {
                    package_id: pkg("pkg3"),
                    signer_id: signer("s2@x.test"),
                    session_fields: Some(
                        SessionFields::parse(BTreeMap::from([("k".into(), "v".into())])).unwrap(),
                    ),
                },
                Redemption::Access,
                SubjectType::Signer,
            ),
        ];
        for (grant, at, subject) in cases {
            let minted = mint(
                &Ports::of(&f.services).await,
                &f.account,
                grant.clone(),
                f.root.clone(),
            )
            .await
            .unwrap();
            assert_eq!(minted.expires_at, T0 + 1800);
            let r = redeem(&Ports::of(&f.services).await, at, minted.value.expose())
                .await
                .unwrap();
            assert_eq!(r.session.scope.grant, grant);
            assert_eq!(r.max_age(T0), 1800);
            let p = authenticate_session(&Ports::of(&f.services).await, r.session_value.expose())
                .await
                .unwrap();
            assert_eq!(p.subject_type, subject);
            assert_eq!(p.account_id, f.account.id);
            assert_eq!(p.auth_method, CredentialKind::Session);
            assert_eq!(
                p.package_id.as_deref(),
                grant.package_id().map(|p| p.as_str())
            );
            if let Grant::SignerSingleUse { session_fields, .. } = &grant {
                let s = get_session(&Ports::of(&f.services).await, r.session_value.expose())
                    .await
                    .unwrap();
                assert_eq!(s.session_fields(), session_fields.as_ref());
                assert_eq!(p.signer_id.as_deref(), Some("s2@x.test"));
                assert_eq!(p.subject_id, "s2@x.test");
            }
            // Single-use tokens work once; the multi-use one again.
            let again = redeem(&Ports::of(&f.services).await, at, minted.value.expose()).await;
            if grant.single_use() {
                assert_eq!(again.unwrap_err().reason, "token_used");
            } else {
                assert!(again.is_ok());
            }
        }
    }

    #[tokio::test]
    async fn nothing_stored_opens_a_session() {
        let f = fixture().await;
        let minted = mint(
            &Ports::of(&f.services).await,
            &f.account,
            Grant::SignerMultiUse {
                package_id: pkg("p"),
                signer_id: signer("s"),
            },
            f.root.clone(),
        )
        .await
        .unwrap();
        let r = redeem(
            &Ports::of(&f.services).await,
            Redemption::Access,
            minted.value.expose(),
        )
        .await
        .unwrap();
        for item in f.table.dump() {
            let text = format!("{:?} {}", item.key, item.data);
            assert!(!text.contains(minted.value.expose()));
            assert!(!text.contains(r.session_value.expose()));
        }
    }

    #[tokio::test]
    async fn refusals_leave_the_token_unconsumed() {
        let f = fixture().await;
        let user = Grant::User {
            user_id: f.account.owner_user_id.clone(),
        };
        let minted = mint(
            &Ports::of(&f.services).await,
            &f.account,
            user,
            f.root.clone(),
        )
        .await
        .unwrap();
        let before = f.table.dump().len();
        let e = redeem(
            &Ports::of(&f.services).await,
            Redemption::Access,
            minted.value.expose(),
        )
        .await
        .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (400, "token_wrong_route"));
        assert_eq!(f.table.dump().len(), before, "nothing written or consumed");

        let mut tampered = minted.value.expose().to_owned();
        let last = if tampered.ends_with('A') { "B" } else { "A" };
        tampered.replace_range(42.., last);
        let e = redeem(&Ports::of(&f.services).await, Redemption::Auth, &tampered)
            .await
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (401, "token_unknown"));
        let e = redeem(&Ports::of(&f.services).await, Redemption::Auth, "short")
            .await
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (400, "token_malformed"));
        assert_eq!(f.table.dump().len(), before);

        // Still good after all that.
        assert!(redeem(
            &Ports::of(&f.services).await,
            Redemption::Auth,
            minted.value.expose()
        )
        .await
        .is_ok());
    }

    #[tokio::test]
    async fn tokens_and_sessions_expire_before_ttl_removes_them() {
        let f = fixture().await;
        let grant = Grant::SignerMultiUse {
            package_id: pkg("p"),
            signer_id: signer("s"),
        };
        let minted = mint(
            &Ports::of(&f.services).await,
            &f.account,
            grant,
            f.root.clone(),
        )
        .await
        .unwrap();
        f.clock.advance(1799);
        let r = redeem(
            &Ports::of(&f.services).await,
            Redemption::Access,
            minted.value.expose(),
        )
        .await
        .unwrap();
        f.clock.advance(1);
        let e = redeem(
            &Ports::of(&f.services).await,
            Redemption::Access,
            minted.value.expose(),
        )
        .await
        .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (401, "token_expired"));
        // The session opened at T0+1799 lives until T0+1799+1800.
        assert!(
            authenticate_session(&Ports::of(&f.services).await, r.session_value.expose())
                .await
                .is_ok()
        );
        f.clock.advance(1799);
        let e = authenticate_session(&Ports::of(&f.services).await, r.session_value.expose())
            .await
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.reason), (401, "session_expired"));
        let e = authenticate_session(&Ports::of(&f.services).await, Secret::generate().expose())
            .await
            .unwrap_err();
        assert_eq!(e.reason, "session_unknown");
        let e = authenticate_session(&Ports::of(&f.services).await, "not a session")
            .await
            .unwrap_err();
        assert_eq!(e.reason, "session_unknown");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_redemptions_open_exactly_one_session() {
        let f = fixture().await;
        let minted = mint(
            &Ports::of(&f.services).await,
            &f.account,
            Grant::Sender {
                user_id: f.account.owner_user_id.clone(),
                package_id: pkg("p"),
            },
            f.root.clone(),
        )
        .await
        .unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let s = f.services.clone();
                let v = minted.value.expose().to_owned();
                tokio::spawn(
                    async move { redeem(&Ports::of(&s).await, Redemption::Auth, &v).await },
                )
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(e) => assert_eq!(e.reason, "token_used"),
            }
        }
        assert_eq!(won, 1);
        let sessions = f
            .table
            .dump()
            .into_iter()
            .filter(|i| i.key.sk == "SESSION")
            .count();
        assert_eq!(sessions, 1);
    }
}
