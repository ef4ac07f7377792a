//! `POST /apitoken/clientApp/accessToken {clientId, secret, type:"OWNER"}` → `{accessToken,
//! expiresAt}`: a client app's short-lived API token (OneSpan), acting as the account owner.

use keygate::accounts::{self, AuthMethod};
use keygate::auth::SubjectType;
use keygate::clients::{self, ClientKind};
use keygate::http::{error_response, json, read_json};
use keygate::lockout::{self, Subject};
use keygate::tokens::{self, Claims, TokenKind};
use keygate::{ApiError, ApiResult, Services};
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

pub async fn exchange(s: &Services, req: &Request) -> Response<Body> {
    match run(s, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

async fn run(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let input: ExchangeIn = read_json(req)?;
    if input.kind != "OWNER" {
        return Err(ApiError::bad_request(
            "token_type_unsupported",
            "type must be OWNER",
        ));
    }
    let now = s.now();
    let source = crate::source_ip(req);
    if let Some(ip) = &source {
        lockout::check(&*s.table, Subject::Source(ip), now).await?;
    }
    lockout::check(&*s.table, Subject::Credential(&input.client_id), now).await?;
    let refused = || {
        ApiError::unauthorized(
            "client_credentials_wrong",
            "the client id or secret is not valid",
        )
    };
    let fail = |id: String| async move {
        lockout::record_failure(&*s.table, Subject::Credential(&id), now).await?;
        if let Some(ip) = &source {
            lockout::record_failure(&*s.table, Subject::Source(ip), now).await?;
        }
        Err::<Response<Body>, ApiError>(refused())
    };
    let app = match clients::get(&*s.table, &input.client_id).await? {
        Some((c, _)) if c.kind == ClientKind::App => c,
        _ => return fail(input.client_id).await,
    };
    let ring = s.keys.ring().await;
    let Some(secret) = app.check_secret(ring.peppers(), &input.secret, now) else {
        return fail(app.id).await;
    };
    let account = accounts::get_account(&*s.table, &app.account_id)
        .await?
        .ok_or_else(refused)?;
    if account.settings.method != AuthMethod::ApiKey {
        return Err(keygate::auth::method_refused(
            account.settings.method,
            "client app",
        ));
    }
    let issuer = s.config.issuer_for(req.headers());
    let ttl = account.settings.api_token_ttl_seconds;
    let claims = Claims {
        iss: issuer.clone(),
        sub: account.owner_user_id.to_string(),
        aud: issuer,
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: tokens::new_jti(),
        client_id: app.id.clone(),
        scope: String::new(),
        acc: account.id.clone(),
        kind: TokenKind::Api,
        sub_type: SubjectType::Owner,
        sid: Some(secret.id.clone()),
        fam: None,
    };
    let jwt = ring.sign_jwt(&claims, now).map_err(ApiError::internal)?;
    keygate::metrics::token_issued("api_token");
    tracing::info!(client = %app.id, "api token issued");
    Ok(json(
        200,
        &serde_json::json!({ "accessToken": jwt, "expiresAt": keygate::clock::rfc3339(claims.exp), "expiresIn": ttl }),
    ))
}
