//! `POST /api/oauth2/token`: the client credentials, authorization code (+ PKCE) and refresh
//! token grants, answered per RFC 6749 §5.1/§5.2. Each grant parses its form, authenticates the
//! client ([`crate::client_methods`]), checks the DPoP proof when one comes or the client needs one
//! ([`token_proof`]), and calls the domain (`keygate_core::oauth`, `keygate_core::oauth::tokens`, `keygate_core::oauth::dpop`).
//!
//! A token request with a valid proof gets a DPoP-bound access token (`cnf.jkt`, `token_type:
//! DPoP`); a public client's refresh token is bound to the key too. A `fapi2` client must send a
//! proof with every token request, and its refresh tokens are not rotated.

use keygate_core::accounts::Account;
use keygate_core::clients::Client;
use keygate_core::identity::principal::SubjectType;
use keygate_core::kernel::error::OAuthError;
use keygate_core::oauth::dpop::{self, Expected, Refused};
use keygate_core::oauth::tokens::{self, Mint, TokenKind};
use keygate_core::oauth::{self, Binding, CodeGrant, RefreshRecord, TokenResponse, REFRESH_TTL};
use keygate_core::ports::keys::KeyRing;
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{json, Form};
use lambda_http::{Body, Request, Response};

use crate::client_methods::{self, Authed, Methods};

pub fn token_response(body: &TokenResponse) -> Response<Body> {
    let mut resp = json(200, body);
    resp.headers_mut().insert(
        http::header::PRAGMA,
        http::HeaderValue::from_static("no-cache"),
    );
    resp
}

/// `POST /api/oauth2/token`. A request that comes with a DPoP proof gets a fresh server nonce
/// (`DPoP-Nonce`, RFC 9449 §8.2) on whatever it is answered.
pub async fn token(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let answer = grant(s, req).await.map(|body| token_response(&body));
    with_nonce(s, req, answer).await
}

/// `answer` with a fresh server nonce (`DPoP-Nonce`, RFC 9449 §8.2), success or failure, when the
/// request came with a DPoP proof: what the client puts in its next proof.
pub async fn with_nonce(
    s: &Services,
    req: &Request,
    answer: ApiResult<Response<Body>>,
) -> ApiResult<Response<Body>> {
    if !req.headers().contains_key(dpop::HEADER) {
        return answer;
    }
    let nonce = dpop::nonce(s.keys.ring().await.peppers(), s.now());
    match answer {
        Ok(mut resp) => {
            if let Ok(v) = http::HeaderValue::from_str(&nonce) {
                resp.headers_mut().insert(dpop::NONCE_HEADER, v);
            }
            Ok(resp)
        }
        Err(e) => Err(e.with_dpop_nonce(nonce)),
    }
}

async fn grant(s: &Services, req: &Request) -> ApiResult<TokenResponse> {
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
                    keygate_core::kernel::ids::printable(other)
                ),
            ))
        }
    };
    Ok(body)
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
        jkt: None,
        creator: None,
    }
}

/// Mints `mint` as a token response (no refresh token): `token_type` `DPoP` for a bound token.
pub fn issue(ring: &KeyRing, mint: &Mint<'_>, now: i64) -> ApiResult<TokenResponse> {
    let (jwt, _) = tokens::mint(ring, mint, now)?;
    Ok(TokenResponse {
        access_token: jwt,
        token_type: if mint.jkt.is_some() { "DPoP" } else { "Bearer" }.into(),
        expires_in: mint.ttl,
        scope: mint.scope.to_owned(),
        refresh_token: None,
    })
}

/// The token request's DPoP proof (RFC 9449 §5), for the authenticated `client`: checked for
/// `POST` at the token endpoint's public URL, its server nonce checked (required of a client with
/// `requireDpopNonce`, §8), and its `jti` claimed; the key's thumbprint, or `None` when no proof
/// came — which a client that requires DPoP (`fapi2`) is refused.
async fn token_proof(s: &Services, req: &Request, client: &Client) -> ApiResult<Option<String>> {
    let jkt = proof_for(s, req, client, TOKEN_PATH).await?;
    if jkt.is_none() && client.oauth.as_ref().is_some_and(|o| o.requires_dpop()) {
        return Err(
            Refused("this client's tokens are DPoP-bound: send a DPoP proof").at_token_endpoint(),
        );
    }
    Ok(jkt)
}

/// The DPoP proof of a client-authenticated `POST` to `path` (the token endpoint, or a pushed
/// authorization request, RFC 9449 §10.1), for `client`: checked for that method and public URL,
/// its server nonce checked (required of a client with `requireDpopNonce`, §8), its `jti`
/// claimed last; the key's thumbprint, or `None` when no proof came.
pub async fn proof_for(
    s: &Services,
    req: &Request,
    client: &Client,
    path: &str,
) -> ApiResult<Option<String>> {
    let Some(proof) = dpop::presented(req.headers()).map_err(Refused::at_token_endpoint)? else {
        return Ok(None);
    };
    let issuer = s.config.issuer_for(req.headers());
    let url = dpop::htu(&issuer, path);
    let expected = Expected {
        method: "POST",
        url: &url,
        access_token: None,
    };
    let now = s.now();
    let checked = dpop::check(proof, &expected, now).map_err(Refused::at_token_endpoint)?;
    let ring = s.keys.ring().await;
    let nonce_required = client.oauth.as_ref().is_some_and(|o| o.require_dpop_nonce);
    if !dpop::nonce_fits(&checked, ring.peppers(), nonce_required, now) {
        return Err(dpop::use_nonce_at_token_endpoint(ring.peppers(), now));
    }
    dpop::claim(&*s.table, &checked, now)
        .await?
        .refused()
        .map_err(Refused::at_token_endpoint)?;
    Ok(Some(checked.jkt))
}

/// The token endpoint's path (its public URL is the issuer's origin plus this).
pub const TOKEN_PATH: &str = "/api/oauth2/token";

async fn client_credentials(s: &Services, req: &Request, form: &Form) -> ApiResult<TokenResponse> {
    let Authed {
        client,
        account,
        secret_id,
    } = client_methods::authenticate(s, req, form, Methods::BASIC).await?;
    let scope = oauth::granted_scope(&client, form.get("scope"))?;
    let jkt = token_proof(s, req, &client).await?;
    let ring = s.keys.ring().await;
    let issuer = s.config.issuer_for(req.headers());
    // It acts as its client's creator (the owner for clients made before creators were kept),
    // and stops with that user's right to manage.
    let creator = client
        .created_by
        .clone()
        .unwrap_or_else(|| account.owner_user_id.clone());
    let mint = Mint {
        sid: secret_id,
        jkt: jkt.as_deref(),
        creator: Some(&creator),
        ..oauth_mint(&issuer, &client, &account, &scope, "client_credentials")
    };
    issue(&ring, &mint, s.now())
}

async fn authorization_code(s: &Services, req: &Request, form: &Form) -> ApiResult<TokenResponse> {
    let authed = client_methods::authenticate(s, req, form, Methods::ANY).await?;
    let code = form.require("code")?;
    let jkt = token_proof(s, req, &authed.client).await?;
    let now = s.now();
    let ring = s.keys.ring().await;
    let binding = Binding {
        client_id: &authed.client.id,
        redirect_uri: form.get("redirect_uri"),
        code_verifier: form.get("code_verifier"),
        jkt: jkt.as_deref(),
    };
    let grant = oauth::redeem_code(&*s.table, ring.peppers(), code, &binding, now).await?;
    let issuer = s.config.issuer_for(req.headers());
    let (client, account) = (&authed.client, &authed.account);
    let mint = Mint {
        subject: &grant.user_id,
        subject_type: grant.sub_type,
        sid: authed.secret_id.clone(),
        fam: Some(grant.family.clone()),
        jkt: jkt.as_deref(),
        ..oauth_mint(&issuer, client, account, &grant.scope, "authorization_code")
    };
    let mut answer = issue(&ring, &mint, now)?;
    // A public client's refresh token is bound to the proof's key (a confidential client's is
    // bound to the client by its authentication already).
    let public = client.oauth.as_ref().is_some_and(|o| o.public);
    let record = RefreshRecord {
        jkt: jkt.filter(|_| public),
        ..refresh_record(&grant, now)
    };
    let refresh = oauth::issue_refresh(&*s.table, ring.peppers(), &record).await?;
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
        jkt: None,
    }
}

async fn refresh(s: &Services, req: &Request, form: &Form) -> ApiResult<TokenResponse> {
    let authed = client_methods::authenticate(s, req, form, Methods::ANY).await?;
    let presented = form.require("refresh_token")?;
    let jkt = token_proof(s, req, &authed.client).await?;
    let now = s.now();
    let ring = s.keys.ring().await;
    let issuer = s.config.issuer_for(req.headers());
    // The answer for a refresh token's record, given the refresh token it hands back.
    let answer = |record: &RefreshRecord, refresh_token: &str| {
        let scope = oauth::refreshed_scope(&record.scope, &authed.client, form.get("scope"))?;
        let mint = Mint {
            subject: &record.sub,
            subject_type: record.sub_type,
            sid: authed.secret_id.clone(),
            fam: Some(record.family.clone()),
            jkt: jkt.as_deref(),
            ..oauth_mint(
                &issuer,
                &authed.client,
                &authed.account,
                &scope,
                "refresh_token",
            )
        };
        let mut answer = issue(&ring, &mint, now)?;
        answer.refresh_token = Some(refresh_token.to_owned());
        Ok((answer, scope))
    };
    let oauth_client = authed.client.oauth.as_ref();
    let presented = oauth::Presented {
        token: presented,
        client_id: &authed.client.id,
        jkt: jkt.as_deref(),
        public: oauth_client.is_some_and(|o| o.public),
    };
    if !oauth_client.is_none_or(|o| o.rotates_refresh()) {
        // `fapi2`: the same refresh token; each new access token bound to this proof's key.
        let record = oauth::refresh_in_place(&*s.table, ring.peppers(), presented, now).await?;
        return answer(&record, presented.token).map(|(a, _)| a);
    }
    oauth::rotate_refresh(&*s.table, ring.peppers(), presented, now, |record, next| {
        answer(record, next.expose())
    })
    .await
}
