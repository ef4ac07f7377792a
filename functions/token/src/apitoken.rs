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
        &serde_json::json!({ "accessToken": jwt, "expiresAt": rfc3339(claims.exp), "expiresIn": ttl }),
    ))
}

/// Unix seconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_687_929), "2026-11-26T10:12:09Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
