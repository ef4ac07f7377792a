//! Accounts, their users and API keys.
//!
//! Layout: `ACC#<id>/ACCOUNT` (the account and its settings), `ACC#<id>/USER#<id>` (a user),
//! `ACC#<id>/EMAIL#<email>` (one user per email per account), `APIKEY#<keyed hash>/APIKEY` (the
//! index from an API key to its user). Every multi-item change is one transaction.

use serde::{Deserialize, Serialize};

use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{Peppers, Sealed, Secret, SecretHash};
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::ids::{AccountId, UserId};
use crate::ports::store::{Condition, Item, Key, StoreError, Table, WriteOp};

mod records;
mod rules;

pub use records::*;
pub use rules::*;

/// Hash domain of API keys.
pub const API_KEY_DOMAIN: &str = "apikey";

/// Which credentials an account's integrations use (docs/CREDENTIALS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMethod {
    /// API key and client apps.
    #[default]
    ApiKey,
    #[serde(rename = "OAUTH2")]
    OAuth2,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ApiKey => "API_KEY",
            AuthMethod::OAuth2 => "OAUTH2",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSettings {
    pub method: AuthMethod,
    pub api_token_ttl_seconds: i64,
    pub oauth_token_ttl_seconds: i64,
    pub auth_token_ttl_seconds: i64,
    pub roles_and_permissions: bool,
}

impl AuthSettings {
    pub fn defaults(config: &crate::kernel::config::Config) -> Self {
        Self {
            method: AuthMethod::ApiKey,
            api_token_ttl_seconds: config.api_token_ttl,
            oauth_token_ttl_seconds: config.oauth_token_ttl,
            auth_token_ttl_seconds: config.auth_token_ttl,
            roles_and_permissions: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub owner_user_id: UserId,
    pub settings: AuthSettings,
    pub created_at: UnixSeconds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    ApiAccess,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub account_id: AccountId,
    pub email: String,
    pub owner: bool,
    pub permissions: Vec<Permission>,
    pub api_key_hash: SecretHash,
    /// The key sealed under the pepper, only so the owner can reveal it (OneSpan shows the key to
    /// the owner); lookups use the keyed hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_sealed: Option<Sealed>,
    /// Last four characters of the API key, for masked display.
    pub api_key_last4: String,
    pub created_at: UnixSeconds,
}

impl User {
    /// May manage the account's API access (docs/CREDENTIALS.md): the owner always; another
    /// user only with roles and permissions on and `API_ACCESS` granted.
    pub fn may_manage(&self, settings: &AuthSettings) -> bool {
        self.owner
            || (settings.roles_and_permissions && self.permissions.contains(&Permission::ApiAccess))
    }
}

impl User {
    /// The API key in clear, for the owner's reveal.
    pub fn reveal_api_key(&self, peppers: &Peppers) -> Option<Secret> {
        self.api_key_sealed
            .as_ref()
            .and_then(|s| peppers.open(&api_key_aad(&self.id), s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::crypto::Pepper;
    use crate::ports::store::MemoryTable;

    fn setup() -> (MemoryTable, Peppers, crate::kernel::config::Config) {
        (
            MemoryTable::new(),
            Peppers::new(vec![Pepper::generate("p1")]),
            crate::kernel::config::Config::local("http://127.0.0.1:3000"),
        )
    }

    #[tokio::test]
    async fn created_account_is_found_by_its_key_only() {
        let (t, p, c) = setup();
        let a = create_account(&t, &p, &c, "Acme", "owner@acme.test", 10)
            .await
            .unwrap();
        let (acc, user) = find_by_api_key(&t, &p, a.api_key.expose())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(acc.id, a.account.id);
        assert!(user.owner && user.may_manage(&acc.settings));
        assert!(find_by_api_key(&t, &p, Secret::generate().expose())
            .await
            .unwrap()
            .is_none());
        for item in t.dump() {
            assert!(
                !item.data.to_string().contains(a.api_key.expose()),
                "no plaintext key stored"
            );
        }
    }

    #[tokio::test]
    async fn users_need_api_access_and_roles_on_to_manage() {
        let (t, p, c) = setup();
        let a = create_account(&t, &p, &c, "Acme", "owner@acme.test", 10)
            .await
            .unwrap();
        let u = add_user(
            &t,
            &p,
            &a.account.id,
            "dev@acme.test",
            vec![Permission::ApiAccess],
            11,
        )
        .await
        .unwrap();
        let mut s = a.account.settings.clone();
        assert!(!u.user.may_manage(&s));
        s.roles_and_permissions = true;
        assert!(u.user.may_manage(&s));
        let plain = add_user(&t, &p, &a.account.id, "plain@acme.test", vec![], 12)
            .await
            .unwrap();
        assert!(!plain.user.may_manage(&s));
    }

    #[tokio::test]
    async fn duplicate_email_conflicts_and_writes_nothing() {
        let (t, p, c) = setup();
        let a = create_account(&t, &p, &c, "Acme", "owner@acme.test", 10)
            .await
            .unwrap();
        let before = t.dump().len();
        let e = add_user(&t, &p, &a.account.id, "OWNER@acme.test", vec![], 11)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 409);
        assert_eq!(t.dump().len(), before);
    }

    #[tokio::test]
    async fn bad_names_and_emails_are_refused() {
        let (t, p, c) = setup();
        for (name, email) in [
            ("", "a@b.co"),
            (&"x".repeat(201)[..], "a@b.co"),
            ("ok", "nope"),
            ("ok", "a@b"),
        ] {
            let e = create_account(&t, &p, &c, name, email, 1)
                .await
                .unwrap_err();
            assert_eq!(e.status(), 400, "{name:?} {email:?}");
        }
        assert!(t.dump().is_empty());
    }

    #[tokio::test]
    async fn regenerated_key_replaces_the_old_one_and_owner_can_reveal() {
        let (t, p, c) = setup();
        let a = create_account(&t, &p, &c, "Acme", "owner@acme.test", 10)
            .await
            .unwrap();
        assert_eq!(a.owner.reveal_api_key(&p).unwrap(), a.api_key);
        let (user, fresh) = regenerate_api_key(&t, &p, &a.owner, |_| Ok(vec![]))
            .await
            .unwrap();
        assert!(find_by_api_key(&t, &p, a.api_key.expose())
            .await
            .unwrap()
            .is_none());
        assert!(find_by_api_key(&t, &p, fresh.expose())
            .await
            .unwrap()
            .is_some());
        assert_eq!(user.reveal_api_key(&p).unwrap(), fresh);
        for item in t.dump() {
            assert!(!item.data.to_string().contains(fresh.expose()));
        }
    }

    #[tokio::test]
    async fn unknown_account_gets_404() {
        let (t, p, _) = setup();
        let e = add_user(&t, &p, &AccountId::generate(), "a@b.co", vec![], 1)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 404);
    }
}
