//! `POST /api/oauth2/revoke` (RFC 7009) and `POST /api/oauth2/introspect` (RFC 7662).

use keygate_core::oauth::tokens;
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::json;
use lambda_http::{Body, Request, Response};

use crate::client_methods::{self, Methods};
use keygate_core::kernel::error::OAuthError;
use keygate_core::oauth;
use keygate_core::oauth::dpop::Refused;
use keygate_http::Form;

/// Revokes a refresh token (its whole grant family) or an access token (its `jti`). Unknown or
/// foreign tokens are answered `200` too (RFC 7009 §2.2), so the route tells nothing. A public
/// client's DPoP-bound refresh or access token is revoked only with a proof of its key (`htu`
/// this endpoint's URL), as it is refreshed or used: a public client authenticates with nothing
/// but its id, so without the key a thief holding either token cannot end its owner's grant or
/// session. (A confidential client's own authentication is its authority to revoke.) An answer
/// to a request with a proof carries a fresh `DPoP-Nonce`.
pub async fn revoke(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let answer = run_revoke(s, req)
        .await
        .map(|()| json(200, &serde_json::json!({})));
    crate::grants::with_nonce(s, req, answer).await
}

/// The revocation endpoint's path.
pub const REVOKE_PATH: &str = "/api/oauth2/revoke";

async fn run_revoke(s: &Services, req: &Request) -> ApiResult<()> {
    let form = Form::parse(req)?;
    let authed = client_methods::authenticate(s, req, &form, Methods::BASIC_OR_PUBLIC).await?;
    let token = form.require("token")?;
    let hint = form.get("token_type_hint");
    if !matches!(hint, None | Some("access_token") | Some("refresh_token")) {
        return Err(ApiError::oauth(
            OAuthError::UnsupportedTokenType,
            "token_type_hint must be access_token or refresh_token",
        ));
    }
    let now = s.now();
    let ring = s.keys.ring().await;
    if let Some(found) = oauth::find_refresh(&*s.table, ring.peppers(), token, now).await? {
        let record = found.record;
        if record.client_id == authed.client.id {
            if record.jkt.is_some() {
                let jkt = crate::grants::proof_for(s, req, &authed.client, REVOKE_PATH).await?;
                oauth::check_binding(&record, jkt.as_deref())?;
            }
            keygate_core::clients::revoke(
                &*s.table,
                &record.client_id,
                &record.family,
                record.expires_at,
                s.now(),
            )
            .await?;
        }
        return Ok(());
    }
    let issuer = s.config.issuer_for(req.headers());
    if let Ok(claims) = tokens::decode(&ring, token, &issuer, now) {
        if claims.client_id == authed.client.id {
            if let Some(bound) = claims.jkt().filter(|_| public(&authed.client)) {
                let jkt = crate::grants::proof_for(s, req, &authed.client, REVOKE_PATH).await?;
                access_token_binding(bound, jkt.as_deref())?;
            }
            keygate_core::clients::revoke(
                &*s.table,
                &authed.client.id,
                &claims.jti,
                claims.exp + tokens::LEEWAY,
                s.now(),
            )
            .await?;
        }
    }
    Ok(())
}

/// A public client: it authenticates with its id alone, so only its DPoP key tells its tokens'
/// holder from a thief.
fn public(client: &keygate_core::clients::Client) -> bool {
    client.oauth.as_ref().is_some_and(|o| o.public)
}

/// A public client's DPoP-bound access token is revoked only with a proof of its key (`jkt`,
/// the thumbprint of the request's checked proof): refused as its refresh token is
/// ([`oauth::check_binding`]), `invalid_dpop_proof`.
fn access_token_binding(bound: &str, jkt: Option<&str>) -> ApiResult<()> {
    match jkt {
        Some(j) if j == bound => Ok(()),
        Some(_) => {
            Err(Refused("the access token is bound to another DPoP key").at_token_endpoint())
        }
        None => Err(
            Refused("the access token is DPoP-bound: send a proof of its key").at_token_endpoint(),
        ),
    }
}

/// Tells a confidential client of the same account whether a token is active, with its claims.
pub async fn introspect(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    run_introspect(s, req).await.map(|v| json(200, &v))
}

async fn run_introspect(s: &Services, req: &Request) -> ApiResult<serde_json::Value> {
    let form = Form::parse(req)?;
    let authed = client_methods::authenticate(s, req, &form, Methods::BASIC).await?;
    let token = form.require("token")?;
    let inactive = serde_json::json!({ "active": false });
    let now = s.now();
    let ring = s.keys.ring().await;
    let issuer = s.config.issuer_for(req.headers());
    if let Some(found) = oauth::find_refresh(&*s.table, ring.peppers(), token, now).await? {
        let record = found.record;
        let live = record.used_at.is_none() && record.account_id == authed.account.id;
        let revoked = keygate_core::clients::get(&*s.table, &record.client_id)
            .await?
            .is_none()
            || keygate_core::clients::is_revoked(&*s.table, &record.client_id, &record.family, now)
                .await?;
        if !live || revoked {
            return Ok(inactive);
        }
        let mut v = serde_json::json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": record.client_id,
            "sub": record.sub,
            "scope": record.scope,
            "exp": record.expires_at,
            "iss": issuer,
        });
        // A public client's DPoP-bound refresh token (RFC 9449 §5): the key it needs.
        if let Some(jkt) = &record.jkt {
            v["cnf"] = serde_json::json!({ "jkt": jkt });
        }
        return Ok(v);
    }
    match tokens::verify(&*s.table, &ring, token, &issuer, now)
        .await
        .map(|v| v.claims)
    {
        Ok(c) if c.acc == authed.account.id => {
            let mut v = serde_json::json!({
                "active": true,
                "token_type": if c.cnf.is_some() { "DPoP" } else { "Bearer" },
                "client_id": c.client_id,
                "sub": c.sub,
                "scope": c.scope,
                "exp": c.exp,
                "iat": c.iat,
                "nbf": c.nbf,
                "iss": c.iss,
                "aud": c.aud,
                "jti": c.jti,
            });
            // RFC 9449 §6.2: the resource server checks the proof's key against it.
            if let Some(cnf) = &c.cnf {
                v["cnf"] = serde_json::json!({ "jkt": cnf.jkt });
            }
            Ok(v)
        }
        Ok(_) => Ok(inactive),
        Err(e) if e.kind == keygate_core::kernel::error::Kind::Internal => Err(e),
        Err(_) => Ok(inactive),
    }
}
