//! The authenticated caller, as handlers receive it and as the authorizer passes it on. A leaf
//! module: the credential modules (`auth`, `tokens`, `authtokens`) all produce it, none of them
//! through another.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::accounts::AuthMethod;
use crate::identity::chain::Chain;
use crate::identity::policy::Kind;
use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::SecretHash;
use crate::kernel::ids::AccountId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    Owner,
    User,
    Sender,
    Signer,
    Client,
}

/// Which credential proved the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CredentialKind {
    ApiKey,
    ApiToken,
    #[serde(rename = "OAUTH2")]
    OAuth2,
    /// An OAuth access token bound to a key, presented with a proof of it (RFC 9449).
    Dpop,
    Session,
    SignedRequest,
}

/// Who is calling. Serialized flat (strings, arrays) so it fits an authorizer's context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    pub account_id: AccountId,
    pub subject_type: SubjectType,
    pub subject_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_id: Option<String>,
    /// The credential that authenticated this request.
    pub auth_method: CredentialKind,
    /// The account's configured authentication method.
    pub account_method: AuthMethod,
    /// A single-use signer session's `sessionFields`, as its token was minted with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_fields: Option<BTreeMap<String, String>>,
    /// For a session: the credential that minted its authentication token, at the root of its
    /// chain — `API_KEY` (a console session), or `CLIENT_APP` / `OAUTH2` (an integration's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minted_by: Option<String>,
    /// Where the caller stands in the authorization model ([`crate::identity::policy`]), as its
    /// authenticator found it. Never passed through an authorizer's context: what reads a
    /// principal back from one can only use it on the platform's routes.
    #[serde(skip)]
    pub origin: Option<Origin>,
}

/// A principal's place in the authorization model: its row of the table, and what a credential
/// it mints must record (its provenance, [`crate::identity::chain`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub kind: Kind,
    /// A session's chain (for others, `keygate_http::auth::authorize` builds it from the records).
    pub chain: Option<Chain>,
    /// A session's own keyed hash and expiry: what it mints goes through it.
    pub session: Option<(SecretHash, UnixSeconds)>,
    /// A session: whether it may act for its own user — the credential at its root is that
    /// user's own, or the owner's (a session minted by a manager for another user reaches the
    /// platform only: never act for another subject).
    pub acts_for_itself: bool,
    /// An integration token: the client secret it was obtained with.
    pub sid: Option<String>,
}

impl Origin {
    /// A principal of `kind` with nothing more to record.
    pub fn of(kind: Kind) -> Self {
        Self {
            kind,
            chain: None,
            session: None,
            acts_for_itself: false,
            sid: None,
        }
    }
}

impl Principal {
    /// The principal's row of the authorization table; one read back from an authorizer's
    /// context has none, and is refused everything but the platform.
    pub fn kind(&self) -> Option<Kind> {
        self.origin.as_ref().map(|o| o.kind)
    }

    /// The authorizer's context (HTTP API payload 2.0 simple response). Values are kept to
    /// strings, as every API Gateway flavour passes them on: `scopes` is space-separated,
    /// `sessionFields` (when there are some) a JSON object in a string.
    pub fn to_context(&self) -> HashMap<String, serde_json::Value> {
        let mut ctx: HashMap<String, serde_json::Value> = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m.into_iter().collect(),
            _ => HashMap::new(),
        };
        ctx.insert(
            "scopes".into(),
            serde_json::Value::String(self.scopes.join(" ")),
        );
        if let Some(fields) = &self.session_fields {
            if let Ok(text) = serde_json::to_string(fields) {
                ctx.insert("sessionFields".into(), serde_json::Value::String(text));
            }
        }
        ctx
    }

    /// Back from an authorizer's context (as `requestContext.authorizer.lambda`).
    pub fn from_context(ctx: &HashMap<String, serde_json::Value>) -> Option<Self> {
        let mut obj: serde_json::Map<String, serde_json::Value> =
            ctx.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Some(serde_json::Value::String(s)) = obj.get("scopes") {
            let list: Vec<serde_json::Value> = s
                .split_whitespace()
                .map(|x| serde_json::Value::String(x.to_owned()))
                .collect();
            obj.insert("scopes".into(), serde_json::Value::Array(list));
        }
        if let Some(serde_json::Value::String(s)) = obj.get("sessionFields") {
            let fields: serde_json::Value = serde_json::from_str(s).ok()?;
            obj.insert("sessionFields".into(), fields);
        }
        serde_json::from_value(serde_json::Value::Object(obj)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_round_trips() {
        let p = Principal {
            account_id: AccountId::generate(),
            subject_type: SubjectType::Signer,
            subject_id: "s@x.test".into(),
            client_id: None,
            scopes: vec!["Basic".into()],
            package_id: Some("pkg1".into()),
            signer_id: Some("s@x.test".into()),
            auth_method: CredentialKind::Session,
            account_method: AuthMethod::ApiKey,
            session_fields: Some(BTreeMap::from([
                ("locale".into(), "fr".into()),
                ("note".into(), "\"quoted\" {braces}".into()),
            ])),
            minted_by: Some("API_KEY".into()),
            origin: None,
        };
        let ctx = p.to_context();
        assert_eq!(ctx["subjectType"], "signer");
        assert_eq!(ctx["authMethod"], "SESSION");
        assert_eq!(ctx["scopes"], "Basic");
        assert!(ctx.values().all(serde_json::Value::is_string), "{ctx:?}");
        let fields: serde_json::Value =
            serde_json::from_str(ctx["sessionFields"].as_str().unwrap()).unwrap();
        assert_eq!(fields["locale"], "fr");
        assert_eq!(Principal::from_context(&ctx), Some(p.clone()));
        let none = Principal {
            session_fields: None,
            ..p
        };
        let ctx = none.to_context();
        assert!(!ctx.contains_key("sessionFields"));
        assert_eq!(Principal::from_context(&ctx), Some(none));
    }
}
