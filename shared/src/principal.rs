//! The authenticated caller, as handlers receive it and as the authorizer passes it on. A leaf
//! module: the credential modules (`auth`, `tokens`, `authtokens`) all produce it, none of them
//! through another.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::accounts::AuthMethod;
use crate::ids::AccountId;

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
}

impl Principal {
    /// The authorizer's context (HTTP API payload 2.0 simple response). Values are kept to
    /// strings, as every API Gateway flavour passes them on: `scopes` is space-separated.
    pub fn to_context(&self) -> HashMap<String, serde_json::Value> {
        let mut ctx: HashMap<String, serde_json::Value> = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m.into_iter().collect(),
            _ => HashMap::new(),
        };
        ctx.insert(
            "scopes".into(),
            serde_json::Value::String(self.scopes.join(" ")),
        );
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
        };
        let ctx = p.to_context();
        assert_eq!(ctx["subjectType"], "signer");
        assert_eq!(ctx["authMethod"], "SESSION");
        assert_eq!(ctx["scopes"], "Basic");
        assert_eq!(Principal::from_context(&ctx), Some(p));
    }
}
