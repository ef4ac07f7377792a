//! `POST /apitoken/clientApp/accessToken {clientId, secret, type:"OWNER"}` → `{accessToken,
//! expiresAt}`: a client app's short-lived API token (OneSpan). The token speaks for the user who
//! created the app (`subjectType` `owner` only when the owner did), and stops working when that
//! user loses `API_ACCESS` (checked again on every use, see `keygate_core::oauth::tokens::still_honoured`).

use keygate_core::accounts::{self, AuthMethod};
use keygate_core::clients::ClientKind;
use keygate_core::identity::client_auth::Authenticated;
use keygate_core::identity::SubjectType;
use keygate_core::oauth::tokens::{self, Mint, TokenKind};
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{json, read_json};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExchangeIn {
    client_id: String,
    secret: String,
    #[serde(rename = "type", default = "owner")]
    kind: String,
}

fn owner() -> String {
    "OWNER".into()
}

/// The user a client app speaks for: the one who created it (the owner for apps made before
/// creators were kept), as long as that user may manage the account's API access.
async fn speaks_for(
    s: &Services,
    app: &keygate_core::clients::Client,
    account: &accounts::Account,
) -> ApiResult<accounts::User> {
    let creator = app.created_by.as_ref().unwrap_or(&account.owner_user_id);
    accounts::get_user(&*s.table, &account.id, creator)
        .await?
        .filter(|u| u.may_manage(&account.settings))
        .ok_or_else(|| {
            ApiError::forbidden(
                "creator_lost_access",
                "the user who created this client app may no longer manage the account's API access",
            )
        })
}

pub async fn exchange(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let input: ExchangeIn = read_json(req)?;
    if input.kind != "OWNER" {
        return Err(ApiError::bad_request(
            "token_type_unsupported",
            "type must be OWNER",
        ));
    }
    let now = s.now();
    let refused = |e: ApiError| match e.kind {
        keygate_core::kernel::error::Kind::Unauthorized => ApiError::unauthorized(
            "client_credentials_wrong",
            "the client id or secret is not valid",
        ),
        _ => e,
    };
    let Authenticated {
        client: app,
        secret_id,
    } = keygate_core::identity::client_auth::authenticate(
        &keygate_core::ports::Ports::of(s).await,
        ClientKind::App,
        &input.client_id,
        Some(input.secret.as_str()).filter(|x| !x.is_empty()),
        false,
        keygate_http::source(req),
    )
    .await
    .map_err(refused)?;
    let account = accounts::get_account(&*s.table, &app.account_id)
        .await?
        .ok_or_else(|| refused(ApiError::unauthorized("account_unknown", "")))?;
    if account.settings.method != AuthMethod::ApiKey {
        return Err(keygate_core::identity::method_refused(
            account.settings.method,
            "client app",
        ));
    }
    let user = speaks_for(s, &app, &account).await?;
    let issuer = s.config.issuer_for(req.headers());
    let ttl = account.settings.api_token_ttl_seconds;
    let mint = Mint {
        issuer: &issuer,
        account: &account.id,
        subject: user.id.as_str(),
        subject_type: if user.owner {
            SubjectType::Owner
        } else {
            SubjectType::User
        },
        client_id: &app.id,
        kind: TokenKind::Api,
        scope: "",
        ttl,
        sid: secret_id,
        fam: None,
        grant: "api_token",
        jkt: None,
        creator: None,
    };
    let ring = s.keys.ring().await;
    let (jwt, claims) = tokens::mint(&ring, &mint, now)?;
    Ok(json(
        200,
        &serde_json::json!({ "accessToken": jwt, "expiresAt": keygate_core::kernel::clock::rfc3339(claims.exp), "expiresIn": ttl }),
    ))
}
