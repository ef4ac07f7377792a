//! The OAuth 2.0 grants' domain: authorization codes with PKCE ([`codes`]), pushed
//! authorization requests ([`par`]), refresh tokens with rotation and reuse detection
//! ([`refresh`]), and scope policy ([`scope`]). The `token`
//! function's handlers parse the request, authenticate the client, call these, and answer.
//!
//! Both stores of single-use data state their **at-most-once** contract on the function that
//! consumes it ([`codes::redeem_code`], [`par::consume`], [`refresh::rotate_refresh`]; DPoP proofs'
//! `jti`: [`crate::oauth::dpop::claim`]; client assertions' `jti`:
//! [`crate::identity::assertion::claim`]); `crates/aws/tests/oauth_races.rs`
//! races them on the in-memory table and on DynamoDB Local.

pub mod codes;
pub mod dpop;
pub mod jws;
pub mod par;
pub mod refresh;
pub mod scope;
pub mod tokens;

use serde::{Deserialize, Serialize};

pub use codes::{issue_code, pkce_ok, redeem_code, Binding, CodeGrant, CODE_TTL};
pub use refresh::{
    check_binding, find_refresh, issue_refresh, refresh_in_place, rotate_refresh, Found, Presented,
    RefreshRecord, REFRESH_GRACE, REFRESH_TTL,
};
pub use scope::{granted_scope, refreshed_scope};

/// RFC 6749 §5.1 success body. `Debug` prints `***` for the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"***")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_do_not_debug_their_tokens() {
        let r = TokenResponse {
            access_token: "acc3ss".into(),
            token_type: "Bearer".into(),
            expires_in: 300,
            scope: "Basic".into(),
            refresh_token: Some("r3fresh".into()),
        };
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("acc3ss") && !shown.contains("r3fresh"),
            "{shown}"
        );
    }
}
