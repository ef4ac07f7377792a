//! `POST /api/authenticationTokens/*`: minting, for a manager of the account (the owner, or a
//! user whose role grants `API_ACCESS`) with an API key, or for an integration acting as one with
//! a client app's API token or a client-credentials OAuth token ([`keygate_http::auth::authorize`] for `Action::Mint`). Tokens
//! are always for the caller's own account.
//! Request and response bodies are OneSpan's (seed 003); unknown fields are refused.

use std::collections::BTreeMap;

use keygate_core::authtokens::{self, Grant, PackageId, SessionFields, SignerId};
use keygate_core::identity::Manager;
use keygate_core::kernel::ids::UserId;
use keygate_core::{accounts, ApiError, ApiResult, Services};
use keygate_http::{body_bytes, json, read_json};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

/// The answers hold a token's value: their `Debug` prints `***` in its place.
macro_rules! redacted_debug {
    ($($t:ident { $($f:ident),* }),* $(,)?) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($f), &self.$f))*
                    .field("value", &"***")
                    .finish()
            }
        }
    )*};
}

redacted_debug!(
    TokenOut {},
    SignerTokenOut {
        package_id,
        signer_id
    },
    SingleUseSignerTokenOut {
        package_id,
        session_fields,
        signer_id
    },
);

/// `POST /api/authenticationTokens/user`: no body (or `{}`) for the caller itself, or
/// `{"userId"}` for another user of the account.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserTokenIn {
    #[serde(default)]
    pub user_id: Option<String>,
}

/// `POST /api/authenticationTokens/sender`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SenderTokenIn {
    #[serde(default)]
    pub package_id: Option<String>,
}

/// `POST /api/authenticationTokens/signer/multiUse`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignerTokenIn {
    #[serde(default)]
    pub package_id: Option<String>,
    #[serde(default)]
    pub signer_id: Option<String>,
}

/// `POST /api/authenticationTokens/signer/singleUse`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SingleUseSignerTokenIn {
    #[serde(default)]
    pub package_id: Option<String>,
    #[serde(default)]
    pub signer_id: Option<String>,
    #[serde(default)]
    pub session_fields: Option<BTreeMap<String, String>>,
}

/// `{"value"}`: user and sender tokens.
#[derive(Serialize)]
pub struct TokenOut {
    pub value: String,
}

/// `{"packageId","signerId","value"}`: multi-use signer tokens.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignerTokenOut {
    pub package_id: String,
    pub signer_id: String,
    pub value: String,
}

/// `{"packageId","sessionFields","signerId","value"}`: single-use signer tokens
/// (`sessionFields` is `null` when none were given).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SingleUseSignerTokenOut {
    pub package_id: String,
    pub session_fields: Option<BTreeMap<String, String>>,
    pub signer_id: String,
    pub value: String,
}

/// The caller the dispatcher authorized for [`keygate_core::identity::policy::Action::Mint`]: a manager's API
/// key, an integration (a client app's API token or a client-credentials OAuth token) acting as
/// its client's creator, or a console session with its CSRF header — each while its user may
/// manage. What it mints records its chain ([`Manager::chain`]), so it stops when the caller's
/// source does, and never outlives a session that minted it.
fn caller(req: &Request) -> ApiResult<&Manager> {
    keygate_http::auth::caller(req)
}

/// The user named by `userId`, or the caller. Only the owner may have a token minted for the
/// owner: a manager user does not get the owner's whole-account session this way.
async fn target_user(
    services: &Services,
    manager: &Manager,
    input: UserTokenIn,
) -> ApiResult<UserId> {
    let Some(raw) = input.user_id else {
        return Ok(manager.user.id.clone());
    };
    let id = UserId::parse(&raw)?;
    let user = accounts::get_user(&*services.table, &manager.account.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("user_unknown", "no such user in this account"))?;
    if user.owner && !manager.user.owner {
        return Err(ApiError::forbidden(
            "owner_token_forbidden",
            "only the account owner may have a user token minted for the owner",
        ));
    }
    Ok(user.id)
}

pub async fn user(services: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let manager = caller(req)?;
    let input = if body_bytes(req).iter().all(u8::is_ascii_whitespace) {
        UserTokenIn::default()
    } else {
        read_json(req)?
    };
    let user_id = target_user(services, manager, input).await?;
    let minted = authtokens::mint(
        &authtokens::Ports::of(services).await,
        &manager.account,
        Grant::User { user_id },
        manager.chain.clone(),
    )
    .await?;
    Ok(json(
        200,
        &TokenOut {
            value: minted.value.expose().to_owned(),
        },
    ))
}

pub async fn sender(services: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let manager = caller(req)?;
    let input: SenderTokenIn = read_json(req)?;
    let package_id = PackageId::parse(input.package_id.as_deref())?;
    let grant = Grant::Sender {
        user_id: manager.user.id.clone(),
        package_id,
    };
    let minted = authtokens::mint(
        &authtokens::Ports::of(services).await,
        &manager.account,
        grant,
        manager.chain.clone(),
    )
    .await?;
    Ok(json(
        200,
        &TokenOut {
            value: minted.value.expose().to_owned(),
        },
    ))
}

pub async fn signer_multi_use(services: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let manager = caller(req)?;
    let input: SignerTokenIn = read_json(req)?;
    let package_id = PackageId::parse(input.package_id.as_deref())?;
    let signer_id = SignerId::parse(input.signer_id.as_deref())?;
    let out = SignerTokenOut {
        package_id: package_id.as_str().to_owned(),
        signer_id: signer_id.as_str().to_owned(),
        value: String::new(),
    };
    let grant = Grant::SignerMultiUse {
        package_id,
        signer_id,
    };
    let minted = authtokens::mint(
        &authtokens::Ports::of(services).await,
        &manager.account,
        grant,
        manager.chain.clone(),
    )
    .await?;
    Ok(json(
        200,
        &SignerTokenOut {
            value: minted.value.expose().to_owned(),
            ..out
        },
    ))
}

pub async fn signer_single_use(services: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let manager = caller(req)?;
    let input: SingleUseSignerTokenIn = read_json(req)?;
    let package_id = PackageId::parse(input.package_id.as_deref())?;
    let signer_id = SignerId::parse(input.signer_id.as_deref())?;
    let session_fields = input.session_fields.map(SessionFields::parse).transpose()?;
    let out = SingleUseSignerTokenOut {
        package_id: package_id.as_str().to_owned(),
        session_fields: session_fields.as_ref().map(|f| f.as_map().clone()),
        signer_id: signer_id.as_str().to_owned(),
        value: String::new(),
    };
    let grant = Grant::SignerSingleUse {
        package_id,
        signer_id,
        session_fields,
    };
    let minted = authtokens::mint(
        &authtokens::Ports::of(services).await,
        &manager.account,
        grant,
        manager.chain.clone(),
    )
    .await?;
    Ok(json(
        200,
        &SingleUseSignerTokenOut {
            value: minted.value.expose().to_owned(),
            ..out
        },
    ))
}

#[cfg(test)]
mod tests {
    use crate::testing::*;
    use keygate_core::accounts;
    use keygate_core::kernel::config::Config;

    const SINGLE: &str = "/api/authenticationTokens/signer/singleUse";

    #[test]
    fn answers_print_no_token_in_debug() {
        let value = "tok_value_that_must_not_print".to_owned();
        let shown = [
            format!(
                "{:?}",
                super::TokenOut {
                    value: value.clone()
                }
            ),
            format!(
                "{:?}",
                super::SignerTokenOut {
                    package_id: "p".into(),
                    signer_id: "s".into(),
                    value: value.clone(),
                }
            ),
            format!(
                "{:?}",
                super::SingleUseSignerTokenOut {
                    package_id: "p".into(),
                    session_fields: None,
                    signer_id: "s".into(),
                    value: value.clone(),
                }
            ),
        ];
        for s in shown {
            assert!(!s.contains(&value) && s.contains("***"), "{s}");
        }
    }

    #[tokio::test]
    async fn each_route_answers_onespans_shape() {
        let f = fixture(Config::local("http://127.0.0.1:3000")).await;
        let r = f.call(f.post("/api/authenticationTokens/user", "")).await;
        assert_eq!(r.status(), 200);
        let v = json(&r);
        assert_eq!(v.as_object().unwrap().len(), 1);
        assert_eq!(v["value"].as_str().unwrap().len(), 43);

        let r = f
            .call(f.post(
                "/api/authenticationTokens/sender",
                r#"{"packageId":"5vjLRY5MWrDJ6MzRAEyCKOy5IH0="}"#,
            ))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(json(&r).as_object().unwrap().len(), 1);

        let r = f
            .call(f.post(
                "/api/authenticationTokens/signer/multiUse",
                r#"{"packageId":"p1","signerId":"8b734331-bc5b-4843-9784-d4ece4b7dc22"}"#,
            ))
            .await;
        assert_eq!(r.status(), 200);
        let v = json(&r);
        assert_eq!(v["packageId"], "p1");
        assert_eq!(v["signerId"], "8b734331-bc5b-4843-9784-d4ece4b7dc22");
        assert!(v["value"].is_string());

        let r = f
            .call(f.post(
                SINGLE,
                r#"{"packageId":"s-wy6PFASBlAKfnLJjcbzoaMyTg=","signerId":"cd9lbzvjgblygdncdz3x@esignlive.com"}"#,
            ))
            .await;
        assert_eq!(r.status(), 200);
        let v = json(&r);
        assert_eq!(v["sessionFields"], serde_json::Value::Null);
        assert!(v.as_object().unwrap().contains_key("sessionFields"));
        assert_eq!(v["signerId"], "cd9lbzvjgblygdncdz3x@esignlive.com");
    }

    #[tokio::test]
    async fn bad_input_is_json_4xx_and_writes_nothing() {
        let f = fixture(Config::local("http://127.0.0.1:3000")).await;
        let many: serde_json::Map<String, serde_json::Value> =
            (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
        let cases = [
            ("/api/authenticationTokens/sender", "".to_owned(), 400, "body_missing"),
            ("/api/authenticationTokens/sender", "{}".to_owned(), 400, "package_id_missing"),
            ("/api/authenticationTokens/sender", r#"{"packageId":""}"#.to_owned(), 400, "package_id_missing"),
            ("/api/authenticationTokens/sender", r#"{"packageId":"a b"}"#.to_owned(), 400, "package_id_malformed"),
            ("/api/authenticationTokens/sender", format!(r#"{{"packageId":"{}"}}"#, "p".repeat(129)), 400, "package_id_malformed"),
            ("/api/authenticationTokens/sender", r#"{"packageId":7}"#.to_owned(), 400, "body_malformed"),
            ("/api/authenticationTokens/sender", r#"{"packageId":"p","extra":1}"#.to_owned(), 400, "body_malformed"),
            ("/api/authenticationTokens/signer/multiUse", r#"{"packageId":"p"}"#.to_owned(), 400, "signer_id_missing"),
            ("/api/authenticationTokens/signer/multiUse", r#"{"packageId":"p","signerId":"x\ny"}"#.to_owned(), 400, "signer_id_malformed"),
            ("/api/authenticationTokens/signer/multiUse", r#"{"signerId":"s"}"#.to_owned(), 400, "package_id_missing"),
            (SINGLE, r#"{"packageId":"p","signerId":"s","sessionFields":{"k":{"nested":1}}}"#.to_owned(), 400, "body_malformed"),
            (SINGLE, r#"{"packageId":"p","signerId":"s","sessionFields":{"k":1}}"#.to_owned(), 400, "body_malformed"),
            (SINGLE, r#"{"packageId":"p","signerId":"s","sessionFields":{"":"v"}}"#.to_owned(), 400, "session_field_key_malformed"),
            (SINGLE, serde_json::json!({"packageId":"p","signerId":"s","sessionFields": many}).to_string(), 413, "session_fields_too_large"),
            (SINGLE, serde_json::json!({"packageId":"p","signerId":"s","sessionFields": {"k": "v".repeat(513)}}).to_string(), 413, "session_fields_too_large"),
            ("/api/authenticationTokens/user", r#"{"userId":"nope"}"#.to_owned(), 400, "id_malformed"),
            ("/api/authenticationTokens/user", r#"{"userId":"usr_aaaaaaaaaaaaaaaa"}"#.to_owned(), 404, "user_unknown"),
            ("/api/authenticationTokens/user", r#"{"user":"x"}"#.to_owned(), 400, "body_malformed"),
        ];
        let before = f.table.dump();
        for (path, body, status, reason) in cases {
            let r = f.call(f.post(path, &body)).await;
            let v = json(&r);
            assert_eq!(
                (r.status().as_u16(), v["reason"].as_str()),
                (status, Some(reason)),
                "{path} {body}"
            );
            assert_eq!(v["code"], status);
            assert_eq!(r.headers()["content-type"], "application/json");
        }
        assert_eq!(f.table.dump(), before, "nothing written");
    }

    #[tokio::test]
    async fn callers_must_manage_the_account() {
        let f = fixture(Config::local("http://127.0.0.1:3000")).await;
        let mut no_key = f.post("/api/authenticationTokens/user", "");
        no_key.headers_mut().remove("authorization");
        let r = f.call(no_key).await;
        assert_eq!(r.status(), 401);

        let ring = f.services.keys.ring().await;
        let plain = accounts::add_user(
            &*f.table,
            ring.peppers(),
            &f.account.id,
            "dev@acme.test",
            vec![accounts::Permission::ApiAccess],
            T0,
        )
        .await
        .unwrap();
        let mut as_user = f.post("/api/authenticationTokens/user", "");
        as_user.headers_mut().insert(
            "authorization",
            format!("Basic {}", plain.api_key.expose()).parse().unwrap(),
        );
        let r = f.call(as_user).await;
        assert_eq!(r.status(), 403, "roles and permissions are off");
        assert_eq!(json(&r)["reason"], "not_manager");

        // The owner may name the user; the token then opens that user's session.
        let body = format!(r#"{{"userId":"{}"}}"#, plain.user.id);
        let r = f
            .call(f.post("/api/authenticationTokens/user", &body))
            .await;
        assert_eq!(r.status(), 200);
    }
}
