//! Prefixed, typed identifiers (`acc_…`, `usr_…`): an id of one kind can't be passed as another,
//! and a malformed one is refused at the edge.

use rand::RngCore;

use crate::kernel::error::ApiError;

/// Length of the random part: 16 lowercase base32 characters (80 bits).
const RANDOM_LEN: usize = 16;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The random part of an id. Ids are not secrets (they are unguessable, not keys), so they come
/// from the thread's CSPRNG (`rand::thread_rng`: ChaCha12, seeded and reseeded from the OS), not
/// from a `getrandom` system call per id, which was one system call on every issued token. Secrets
/// ([`crate::kernel::crypto`]) still take their bytes from the OS.
pub fn random_suffix() -> String {
    let mut bytes = [0u8; RANDOM_LEN];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % 32] as char)
        .collect()
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_suffix()))
            }

            /// Accepts only `<prefix><16 base32 chars>`.
            pub fn parse(s: &str) -> Result<Self, ApiError> {
                let ok = s.len() == $prefix.len() + RANDOM_LEN
                    && s.starts_with($prefix)
                    && s[$prefix.len()..].bytes().all(|b| ALPHABET.contains(&b));
                if ok {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(ApiError::bad_request(
                        "id_malformed",
                        format!("'{}' is not a valid {} id", crate::kernel::ids::printable(s), $prefix.trim_end_matches('_')),
                    ))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ApiError;
            fn try_from(s: String) -> Result<Self, ApiError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

/// A short, printable rendering of untrusted input for error messages.
pub fn printable(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(48).collect();
    if s.chars().count() > 48 {
        out.push('…');
    }
    out
}

typed_id!(
    /// An account (a tenant of the platform).
    AccountId, "acc_");
typed_id!(
    /// A user of an account; the owner is one.
    UserId, "usr_");
typed_id!(
    /// A OneSpan-style client app.
    ClientAppId, "app_");
typed_id!(
    /// An OAuth 2.0 client.
    OAuthClientId, "oc_");
typed_id!(
    /// A webhook endpoint.
    EndpointId, "ep_");
typed_id!(
    /// A platform event.
    EventId, "evt_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = AccountId::generate();
        assert!(id.as_str().starts_with("acc_"));
        assert_eq!(AccountId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn wrong_prefix_or_charset_is_refused() {
        let user = UserId::generate();
        assert!(AccountId::parse(user.as_str()).is_err());
        assert!(AccountId::parse("acc_AAAAAAAAAAAAAAAA").is_err());
        assert!(AccountId::parse("acc_").is_err());
        assert!(AccountId::parse("acc_aaaaaaaaaaaaaaaaa").is_err());
    }

    #[test]
    fn serde_refuses_malformed_ids() {
        let r: Result<AccountId, _> = serde_json::from_str("\"nope\"");
        assert!(r.is_err());
    }

    #[test]
    fn printable_drops_control_chars_and_truncates() {
        assert_eq!(printable("a\nb"), "ab");
        assert_eq!(printable(&"x".repeat(60)).chars().count(), 49);
    }
}
