//! `POST /api/oauth2/token`: the client credentials, authorization code (+ PKCE) and refresh
//! token grants, answered per RFC 6749 §5.1/§5.2. Each grant parses its form, authenticates the
//! client ([`crate::client_auth`]), and calls the domain (`keygate::oauth`, `keygate::tokens`).

use keygate::accounts::Account;
use keygate::clients::Client;
use keygate::error::OAuthError;
use keygate::http::{json, Form};
use keygate::keys::KeyRing;
use keygate::oauth::{self, Binding, CodeGrant, RefreshRecord, TokenResponse, REFRESH_TTL};
use keygate::principal::SubjectType;
use keygate::tokens::{self, Mint, TokenKind};
use keygate::{ApiError, ApiResult, Services};
use lambda_http::{Body, Request, Response};

use crate::client_auth::{self, Authed, Methods};

pub fn token_response(body: &TokenResponse) -> Response<Body> {
    let mut resp = json(200, body);
    resp.headers_mut().insert(
        http::header::PRAGMA,
        http::HeaderValue::from_static("no-cache"),
    );
    resp
}

pub async fn token(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let form = Form::parse(req)?;
    let body = match form.require("grant_type")? {
        "client_credentials" => client_credentials(s, req, &form).await?,
        "authorization_code" => authorization_code(s, req, &form).await?,
        "refresh_token" => refresh(s, req, &form).await?,
        other => {
            return Err(ApiError::oauth(
                OAuthError::UnsupportedGrantType,
                format!(
                    "grant_type '{}' is not supported",
                    keygate::ids::printable(other)
                ),
            ))
        }
    };
    Ok(token_response(&body))
}

/// An OAuth access token of `client`, under the account's OAuth lifetime; callers set the
/// subject, secret id and family where they differ from a client-credentials token.
pub fn oauth_mint<'a>(
    issuer: &'a str,
    client: &'a Client,
    account: &'a Account,
    scope: &'a str,
    grant: &'static str,
) -> Mint<'a> {
    Mint {
        issuer,
        account: &account.id,
        subject: &client.id,
        subject_type: SubjectType::Client,
        client_id: &client.id,
        kind: TokenKind::Oauth,
        scope,
        ttl: account.settings.oauth_token_ttl_seconds,
        sid: None,
        fam: None,
        grant,
    }
}

/// Mints `mint` as a token response (no refresh token).
pub fn issue(ring: &KeyRing, mint: &Mint<'_>, now: i64) -> ApiResult<TokenResponse> {
    let (jwt, _) = tokens::mint(ring, mint, now)?;
    Ok(TokenResponse {
        access_token: jwt,
        token_type: "Bearer".into(),
        expires_in: mint.ttl,
        scope: mint.scope.to_owned(),
        refresh_token: None,
    })
}

async fn client_credentials(s: &Services, req: &Request, form: &Form) -> ApiResult<TokenResponse> {
    let Authed {
        client,
        account,
        secret_id,
    } = client_auth::authenticate(s, req, form, Methods::BASIC).await?;
    let scope = oauth::granted_scope(&client, form.get("scope"))?;
    let ring = s.keys.ring().await;
    let issuer = s.config.issuer_for(req.headers());
    let mint = Mint {
        sid: secret_id,
        ..oauth_mint(&issuer, &client, &account, &scope, "client_credentials")
    };
    issue(&ring, &mint, s.now())
}

async fn authorization_code(s: &Services, req: &Request, form: &Form) -> ApiResult<TokenResponse> {
    let authed = client_auth::authenticate(s, req, form, Methods::ANY).await?;
    let code = form.require("code")?;
    let now = s.now();
    let ring = s.keys.ring().await;
    let binding = Binding {
        client_id: &authed.client.id,
        redirect_uri: form.get("redirect_uri"),
        code_verifier: form.get("code_verifier"),
    };
    let grant = oauth::redeem_code(&*s.table, ring.peppers(), code, &binding, now).await?;
    let issuer = s.config.issuer_for(req.headers());
    let (client, account) = (&authed.client, &authed.account);
    let mint = Mint {
        subject: &grant.user_id,
        subject_type: grant.sub_type,
        sid: authed.secret_id.clone(),
        fam: Some(grant.family.clone()),
        ..oauth_mint(&issuer, client, account, &grant.scope, "authorization_code")
    };
    let mut answer = issue(&ring, &mint, now)?;
    let refresh =
        oauth::issue_refresh(&*s.table, ring.peppers(), &refresh_record(&grant, now)).await?;
    answer.refresh_token = Some(refresh.expose().to_owned());
    Ok(answer)
}

fn refresh_record(grant: &CodeGrant, now: i64) -> RefreshRecord {
    RefreshRecord {
        client_id: grant.client_id.clone(),
        account_id: grant.account_id.clone(),
        sub: grant.user_id.clone(),
        sub_type: grant.sub_type,
        scope: grant.scope.clone(),
        family: grant.family.clone(),
        expires_at: now + REFRESH_TTL,
        used_at: None,
        answer: None,
    }
}

async fn refresh(s: &Services, req: &Request, form: &Form) -> ApiResult<TokenResponse> {
    let authed = client_auth::authenticate(s, req, form, Methods::ANY).await?;
    let presented = form.require("refresh_token")?;
    let now = s.now();
    let ring = s.keys.ring().await;
    let issuer = s.config.issuer_for(req.headers());
    oauth::rotate_refresh(
        &*s.table,
        ring.peppers(),
        presented,
        &authed.client.id,
        now,
        |record, next| {
            let scope = oauth::refreshed_scope(&record.scope, &authed.client, form.get("scope"))?;
            let mint = Mint {
                subject: &record.sub,
                subject_type: record.sub_type,
                sid: authed.secret_id.clone(),
                fam: Some(record.family.clone()),
                ..oauth_mint(
                    &issuer,
                    &authed.client,
                    &authed.account,
                    &scope,
                    "refresh_token",
                )
            };
            let mut answer = issue(&ring, &mint, now)?;
            answer.refresh_token = Some(next.expose().to_owned());
            Ok((answer, scope))
        },
    )
    .await
}
