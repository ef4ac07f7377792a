//! `POST /api/oauth2/token`: the client credentials, authorization code (+ PKCE) and refresh
//! token grants, answered per RFC 6749 §5.1/§5.2.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keygate::accounts::Account;
use keygate::auth::SubjectType;
use keygate::clients::Client;
use keygate::clock::UnixSeconds;
use keygate::crypto::{Sealed, Secret};
use keygate::http::{body_bytes, json, MAX_BODY};
use keygate::ids::AccountId;
use keygate::store::{Condition, Item, Key, StoreError, WriteOp};
use keygate::tokens::{self, Claims, TokenKind};
use keygate::{ApiError, ApiResult, Services};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::client_auth::{self, Authed};

/// Authorization codes live 60 s.
pub const CODE_TTL: i64 = 60;
/// Refresh tokens live 30 days.
pub const REFRESH_TTL: i64 = 30 * 24 * 3600;
/// A retried refresh inside this window gets the same answer instead of revoking the family.
pub const REFRESH_GRACE: i64 = 10;

const CODE_DOMAIN: &str = "oauth-code";
const REFRESH_DOMAIN: &str = "oauth-refresh";

fn invalid_request(msg: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::bad_request("oauth_invalid_request", msg)
}

fn invalid_grant(msg: &'static str) -> ApiError {
    ApiError::bad_request("oauth_invalid_grant", msg)
}

/// A form body (`application/x-www-form-urlencoded`); a repeated parameter is refused
/// (RFC 6749 §3.1, §3.2).
pub struct Form(HashMap<String, String>);

impl Form {
    /// The body of a form route: sent as `application/x-www-form-urlencoded` (else `415`).
    pub fn parse(req: &Request) -> ApiResult<Self> {
        keygate::http::require_content_type(req, "application/x-www-form-urlencoded")?;
        let bytes = body_bytes(req);
        if bytes.len() > MAX_BODY {
            return Err(ApiError::too_large(MAX_BODY));
        }
        Self::parse_str(
            std::str::from_utf8(bytes).map_err(|_| invalid_request("the body is not UTF-8"))?,
        )
    }

    pub fn parse_str(text: &str) -> ApiResult<Self> {
        let mut m = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
            if m.insert(k.clone().into_owned(), v.into_owned()).is_some() {
                return Err(invalid_request(format!("the parameter {k} is repeated")));
            }
        }
        Ok(Self(m))
    }

    /// A parameter; empty values count as absent (RFC 6749 §3.1).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn require(&self, k: &'static str) -> ApiResult<&str> {
        self.get(k)
            .ok_or_else(|| invalid_request(format!("the parameter {k} is required")))
    }
}

/// RFC 6749 §5.1 success body. `Debug` prints `***` for the tokens.
#[derive(Clone, Serialize, Deserialize)]
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

pub fn token_response(body: &TokenResponse) -> Response<Body> {
    let mut resp = json(200, body);
    resp.headers_mut().insert(
        http::header::PRAGMA,
        http::HeaderValue::from_static("no-cache"),
    );
    resp
}

pub async fn token(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    grant(s, req).await.map(|body| token_response(&body))
}

async fn grant(s: &Services, req: &Request) -> ApiResult<TokenResponse> {
    let form = Form::parse(req)?;
    match form.require("grant_type")? {
        "client_credentials" => client_credentials(s, req, &form).await,
        "authorization_code" => authorization_code(s, req, &form).await,
        "refresh_token" => refresh(s, req, &form).await,
        other => Err(ApiError::bad_request(
            "oauth_unsupported_grant_type",
            format!(
                "grant_type '{}' is not supported",
                keygate::http::escape_html(other)
            ),
        )),
    }
}

/// The granted scope: the requested one if it is a subset of the client's, else all of them.
pub fn granted_scope(client: &Client, requested: Option<&str>) -> ApiResult<String> {
    let allowed = client
        .oauth
        .as_ref()
        .map(|o| o.scopes.clone())
        .unwrap_or_default();
    let Some(req) = requested else {
        return Ok(allowed.join(" "));
    };
    let mut out: Vec<&str> = Vec::new();
    for sc in req.split(' ').filter(|x| !x.is_empty()) {
        if !allowed.iter().any(|a| a == sc) {
            return Err(ApiError::bad_request(
                "oauth_invalid_scope",
                "a requested scope is not allowed for this client (scopes are case-sensitive)",
            ));
        }
        if !out.contains(&sc) {
            out.push(sc);
        }
    }
    if out.is_empty() {
        return Err(ApiError::bad_request(
            "oauth_invalid_scope",
            "the scope is empty",
        ));
    }
    Ok(out.join(" "))
}

/// What an access token is issued for.
pub struct Subject<'a> {
    pub account: &'a AccountId,
    pub id: String,
    pub kind: SubjectType,
}

/// What an access token carries beyond its subject.
pub struct Grant<'a> {
    pub scope: &'a str,
    /// The client secret used, if any.
    pub sid: Option<String>,
    /// The grant family, for code and refresh grants.
    pub fam: Option<String>,
    pub ttl: i64,
    /// The grant type, for the tokens-issued metric.
    pub name: &'static str,
}

/// Mints an OAuth access token.
pub async fn access_token(
    s: &Services,
    issuer: &str,
    client: &Client,
    subject: &Subject<'_>,
    grant: Grant<'_>,
) -> ApiResult<(String, Claims)> {
    let Grant {
        scope,
        sid,
        fam,
        ttl,
        name,
    } = grant;
    let now = s.now();
    let claims = Claims {
        iss: issuer.to_owned(),
        sub: subject.id.clone(),
        aud: issuer.to_owned(),
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: tokens::new_jti(),
        client_id: client.id.clone(),
        scope: scope.to_owned(),
        acc: subject.account.clone(),
        kind: TokenKind::Oauth,
        sub_type: subject.kind,
        sid,
        fam,
    };
    let ring = s.keys.ring().await;
    let jwt = ring.sign_jwt(&claims, now).map_err(ApiError::internal)?;
    keygate::metrics::token_issued(name);
    tracing::info!(client = %claims.client_id, grant = name, "token issued");
    Ok((jwt, claims))
}

async fn client_credentials(s: &Services, req: &Request, form: &Form) -> ApiResult<TokenResponse> {
    let Authed {
        client,
        account,
        secret_id,
        ..
    } = client_auth::authenticate(s, req, form, false).await?;
    let scope = granted_scope(&client, form.get("scope"))?;
    let issuer = s.config.issuer_for(req.headers());
    let ttl = account.settings.oauth_token_ttl_seconds;
    let subject = Subject {
        account: &account.id,
        id: client.id.clone(),
        kind: SubjectType::Client,
    };
    let (jwt, _) = access_token(
        s,
        &issuer,
        &client,
        &subject,
        Grant {
            scope: &scope,
            sid: secret_id,
            fam: None,
            ttl,
            name: "client_credentials",
        },
    )
    .await?;
    Ok(TokenResponse {
        access_token: jwt,
        token_type: "Bearer".into(),
        expires_in: ttl,
        scope,
        refresh_token: None,
    })
}

/// An authorization code's grant, stored under its keyed hash for 60 s.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeGrant {
    pub client_id: String,
    pub account_id: AccountId,
    pub user_id: String,
    pub sub_type: SubjectType,
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the token request must too).
    pub redirect_uri_given: bool,
    pub code_challenge: Option<String>,
    pub scope: String,
    pub family: String,
}

fn code_key(hash: &str) -> Key {
    Key::new(format!("CODE#{hash}"), "CODE")
}

fn used_code_key(hash: &str) -> Key {
    Key::new(format!("CODEUSED#{hash}"), "CODEUSED")
}

/// Stores a new authorization code; returns it (the only plaintext copy).
pub async fn store_code(s: &Services, grant: &CodeGrant) -> ApiResult<Secret> {
    let code = Secret::generate();
    let ring = s.keys.ring().await;
    let hash = ring.peppers().hash(CODE_DOMAIN, &code);
    let item = Item::new(code_key(&hash.0), grant)?.with_ttl(s.now() + CODE_TTL);
    s.table.put(item, Condition::NotExists).await?;
    Ok(code)
}

/// PKCE S256 (RFC 7636 §4.6): `BASE64URL(SHA256(verifier)) == challenge`, verifier 43–128 chars.
pub fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed
        && keygate::crypto::ct_eq(
            URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()))
                .as_bytes(),
            challenge.as_bytes(),
        )
}

async fn authorization_code(s: &Services, req: &Request, form: &Form) -> ApiResult<TokenResponse> {
    let authed = client_auth::authenticate(s, req, form, true).await?;
    let code = form.require("code")?;
    let now = s.now();
    let ring = s.keys.ring().await;
    let hashes = ring.peppers().lookup_hashes(CODE_DOMAIN, code);
    let hash = &hashes[0].0;
    // Single use: read, then delete it in one transaction with a "used" marker; of two racing
    // exchanges only one delete's condition holds.
    let Some(item) = s
        .table
        .get(&code_key(hash))
        .await?
        .filter(|i| i.is_live(now))
    else {
        return Err(reused_code(s, &authed, hash, now).await);
    };
    let grant: CodeGrant = item.decode()?;
    // Every binding is checked before the code is consumed: a wrong caller (another client, a
    // different redirect URI, a wrong PKCE verifier) is refused and the code stays good for
    // the client it was issued to.
    check_code_binding(&grant, &authed.client.id, form)?;
    let consumed = s
        .table
        .transact(vec![
            WriteOp::Delete(code_key(hash), Condition::Live { now }),
            WriteOp::Put(
                Item::new(used_code_key(hash), &grant)?.with_ttl(now + REFRESH_TTL.min(3600)),
                Condition::NotExists,
            ),
        ])
        .await;
    match consumed {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(reused_code(s, &authed, hash, now).await),
        Err(e) => return Err(e.into()),
    }
    let issuer = s.config.issuer_for(req.headers());
    issue_with_refresh(
        s,
        &issuer,
        &authed.client,
        &authed.account,
        &grant,
        authed.secret_id.clone(),
        now,
    )
    .await
}

/// The code's bindings, checked against the token request (pure): its client, its redirect URI
/// (required when the authorization request named one) and its PKCE challenge.
pub fn check_code_binding(grant: &CodeGrant, client_id: &str, form: &Form) -> ApiResult<()> {
    if grant.client_id != client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    match (form.get("redirect_uri"), grant.redirect_uri_given) {
        (Some(r), _) if r == grant.redirect_uri => {}
        (None, false) => {}
        _ => {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ))
        }
    }
    match (&grant.code_challenge, form.get("code_verifier")) {
        (Some(ch), Some(v)) if pkce_ok(v, ch) => Ok(()),
        (Some(_), _) => Err(invalid_grant("the PKCE code_verifier does not match")),
        (None, Some(_)) => Err(invalid_grant(
            "no PKCE challenge was sent with the authorization request",
        )),
        (None, None) => Ok(()),
    }
}

/// A code presented again: whatever the first exchange issued is revoked (RFC 6749 §4.1.2).
async fn reused_code(s: &Services, authed: &Authed, hash: &str, now: UnixSeconds) -> ApiError {
    if let Ok(Some(item)) = s.table.get(&used_code_key(hash)).await {
        if let Ok(grant) = item.decode::<CodeGrant>() {
            if grant.client_id == authed.client.id {
                if let Err(e) =
                    revoke_family(s, &grant.client_id, &grant.family, now + REFRESH_TTL).await
                {
                    tracing::error!(error = ?e.source, "could not revoke a reused code's family");
                }
                tracing::warn!(client = %grant.client_id, "authorization code reused: its grant is revoked");
            }
        }
    }
    invalid_grant("the authorization code is invalid, expired or already used")
}

/// Revokes a grant family (its access and refresh tokens) until `until`.
pub async fn revoke_family(
    s: &Services,
    client_id: &str,
    family: &str,
    until: UnixSeconds,
) -> ApiResult<()> {
    Ok(keygate::clients::revoke(&*s.table, client_id, family, until).await?)
}

/// A refresh token's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRecord {
    pub client_id: String,
    pub account_id: AccountId,
    pub sub: String,
    pub sub_type: SubjectType,
    pub scope: String,
    pub family: String,
    pub expires_at: UnixSeconds,
    /// Set when rotated: the token must not be used again (after the grace window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<UnixSeconds>,
    /// The answer given when it was rotated, sealed, for retries inside the grace window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Sealed>,
}

pub fn refresh_key(hash: &str) -> Key {
    Key::new(format!("RT#{hash}"), "RT")
}

/// The stored record of a presented refresh token (any pepper in force), with its revision.
pub async fn find_refresh(
    s: &Services,
    presented: &str,
) -> ApiResult<Option<(String, RefreshRecord, u64)>> {
    if !keygate::crypto::looks_like_secret(presented) {
        return Ok(None);
    }
    let ring = s.keys.ring().await;
    for h in ring.peppers().lookup_hashes(REFRESH_DOMAIN, presented) {
        if let Some(item) = s.table.get(&refresh_key(&h.0)).await? {
            if item.is_live(s.now()) {
                let rev = item.rev;
                return Ok(Some((h.0, item.decode()?, rev)));
            }
        }
    }
    Ok(None)
}

async fn issue_with_refresh(
    s: &Services,
    issuer: &str,
    client: &Client,
    account: &Account,
    grant: &CodeGrant,
    sid: Option<String>,
    now: UnixSeconds,
) -> ApiResult<TokenResponse> {
    let ttl = account.settings.oauth_token_ttl_seconds;
    let subject = Subject {
        account: &account.id,
        id: grant.user_id.clone(),
        kind: grant.sub_type,
    };
    let (jwt, _) = access_token(
        s,
        issuer,
        client,
        &subject,
        Grant {
            scope: &grant.scope,
            sid,
            fam: Some(grant.family.clone()),
            ttl,
            name: "authorization_code",
        },
    )
    .await?;
    let refresh = Secret::generate();
    let ring = s.keys.ring().await;
    let hash = ring.peppers().hash(REFRESH_DOMAIN, &refresh);
    let record = RefreshRecord {
        client_id: client.id.clone(),
        account_id: account.id.clone(),
        sub: grant.user_id.clone(),
        sub_type: grant.sub_type,
        scope: grant.scope.clone(),
        family: grant.family.clone(),
        expires_at: now + REFRESH_TTL,
        used_at: None,
        answer: None,
    };
    s.table
        .put(
            Item::new(refresh_key(&hash.0), &record)?.with_ttl(record.expires_at),
            Condition::NotExists,
        )
        .await?;
    Ok(TokenResponse {
        access_token: jwt,
        token_type: "Bearer".into(),
        expires_in: ttl,
        scope: grant.scope.clone(),
        refresh_token: Some(refresh.expose().to_owned()),
    })
}

async fn refresh(s: &Services, req: &Request, form: &Form) -> ApiResult<TokenResponse> {
    let authed = client_auth::authenticate(s, req, form, true).await?;
    let presented = form.require("refresh_token")?;
    let now = s.now();
    let Some((hash, record, rev)) = find_refresh(s, presented).await? else {
        return Err(invalid_grant("the refresh token is invalid or expired"));
    };
    if record.client_id != authed.client.id {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if keygate::clients::is_revoked(&*s.table, &authed.client.id, &record.family, now).await? {
        return Err(invalid_grant("the refresh token was revoked"));
    }
    let ring = s.keys.ring().await;
    if let Some(used) = record.used_at {
        return retry_or_revoke(s, &authed, &hash, &record, used, now, ring.peppers()).await;
    }
    let scope = refreshed_scope(&record.scope, &authed.client, form.get("scope"))?;
    let issuer = s.config.issuer_for(req.headers());
    let ttl = authed.account.settings.oauth_token_ttl_seconds;
    let subject = Subject {
        account: &authed.account.id,
        id: record.sub.clone(),
        kind: record.sub_type,
    };
    let (jwt, _) = access_token(
        s,
        &issuer,
        &authed.client,
        &subject,
        Grant {
            scope: &scope,
            sid: authed.secret_id.clone(),
            fam: Some(record.family.clone()),
            ttl,
            name: "refresh_token",
        },
    )
    .await?;
    let next = Secret::generate();
    let next_hash = ring.peppers().hash(REFRESH_DOMAIN, &next);
    let answer = TokenResponse {
        access_token: jwt,
        token_type: "Bearer".into(),
        expires_in: ttl,
        scope: scope.clone(),
        refresh_token: Some(next.expose().to_owned()),
    };
    let sealed = ring.peppers().seal(
        &format!("refresh-answer:{hash}"),
        &serde_json::to_string(&answer).map_err(ApiError::internal)?,
    );
    let mut used = record.clone();
    used.used_at = Some(now);
    used.answer = Some(sealed);
    let mut used_item = Item::new(refresh_key(&hash), &used)?.with_ttl(record.expires_at);
    used_item.rev = rev + 1;
    let fresh = RefreshRecord {
        scope,
        used_at: None,
        answer: None,
        ..record.clone()
    };
    let res = s
        .table
        .transact(vec![
            WriteOp::Put(used_item, Condition::Revision(rev)),
            WriteOp::Put(
                Item::new(refresh_key(&next_hash.0), &fresh)?.with_ttl(fresh.expires_at),
                Condition::NotExists,
            ),
        ])
        .await;
    match res {
        Ok(()) => Ok(answer),
        // Another request rotated it first: treat as a retry of that one.
        Err(StoreError::ConditionFailed) => match find_refresh(s, presented).await? {
            Some((h, r, _)) if r.used_at.is_some() => {
                let used_at = r.used_at.unwrap_or(now);
                retry_or_revoke(s, &authed, &h, &r, used_at, now, ring.peppers()).await
            }
            _ => Err(invalid_grant("the refresh token is invalid or expired")),
        },
        Err(e) => Err(e.into()),
    }
}

/// The scope of a refreshed grant (pure): the requested one (or the original grant's), never
/// wider than the grant, and narrowed to what the client is allowed **now** — an owner who takes
/// a scope away from a client takes it away from its refresh tokens too.
pub fn refreshed_scope(
    granted: &str,
    client: &Client,
    requested: Option<&str>,
) -> ApiResult<String> {
    let had: Vec<&str> = granted.split_whitespace().collect();
    let wanted: Vec<&str> = match requested {
        None => had.clone(),
        Some(r) => {
            let wanted: Vec<&str> = r.split_whitespace().collect();
            if wanted.iter().any(|sc| !had.contains(sc)) {
                return Err(ApiError::bad_request(
                    "oauth_invalid_scope",
                    "the requested scope exceeds the original grant",
                ));
            }
            wanted
        }
    };
    let allowed = client
        .oauth
        .as_ref()
        .map(|o| o.scopes.as_slice())
        .unwrap_or(&[]);
    let mut out: Vec<&str> = Vec::new();
    for sc in wanted {
        if allowed.iter().any(|a| a == sc) && !out.contains(&sc) {
            out.push(sc);
        }
    }
    if out.is_empty() {
        return Err(ApiError::bad_request(
            "oauth_invalid_scope",
            "the client is no longer allowed any scope of this grant",
        ));
    }
    Ok(out.join(" "))
}

/// A rotated refresh token presented again: inside the grace window, the same answer; after it,
/// the whole family is revoked.
async fn retry_or_revoke(
    s: &Services,
    authed: &Authed,
    hash: &str,
    record: &RefreshRecord,
    used_at: UnixSeconds,
    now: UnixSeconds,
    peppers: &keygate::crypto::Peppers,
) -> ApiResult<TokenResponse> {
    if now - used_at <= REFRESH_GRACE {
        if let Some(answer) = record
            .answer
            .as_ref()
            .and_then(|a| peppers.open(&format!("refresh-answer:{hash}"), a))
            .and_then(|plain| serde_json::from_str::<TokenResponse>(plain.expose()).ok())
        {
            return Ok(answer);
        }
    }
    revoke_family(s, &authed.client.id, &record.family, record.expires_at).await?;
    tracing::warn!(client = %authed.client.id, "refresh token reused: its family is revoked");
    Err(invalid_grant(
        "the refresh token was already used: every token of its grant is revoked",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 Appendix B.
        assert!(pkce_ok(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_ok(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cX"
        ));
        assert!(!pkce_ok(
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    fn client_with_scopes(scopes: &[&str]) -> Client {
        let peppers = keygate::crypto::Peppers::new(vec![keygate::crypto::Pepper::generate("p")]);
        let settings = keygate::clients::OAuthSettings {
            redirect_uris: vec![],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            domain: None,
            public: false,
            implicit: false,
        };
        Client::new_oauth(&peppers, AccountId::generate(), "c".into(), settings, 1).0
    }

    #[test]
    fn refresh_never_widens_and_follows_the_clients_scopes() {
        let c = client_with_scopes(&["Basic", "ISign"]);
        assert_eq!(
            refreshed_scope("Basic ISign", &c, None).unwrap(),
            "Basic ISign"
        );
        assert_eq!(
            refreshed_scope("Basic ISign", &c, Some("ISign")).unwrap(),
            "ISign"
        );
        assert!(refreshed_scope("Basic", &c, Some("Basic ISign")).is_err());
        let narrowed = client_with_scopes(&["Basic"]);
        assert_eq!(
            refreshed_scope("Basic ISign", &narrowed, None).unwrap(),
            "Basic"
        );
        let none = client_with_scopes(&["WeSign"]);
        assert_eq!(
            refreshed_scope("Basic ISign", &none, None)
                .unwrap_err()
                .reason,
            "oauth_invalid_scope"
        );
    }

    #[test]
    fn a_codes_bindings_are_checked_without_the_store() {
        let grant = CodeGrant {
            client_id: "oc_a".into(),
            account_id: AccountId::generate(),
            user_id: "u".into(),
            sub_type: SubjectType::Owner,
            redirect_uri: "https://a.test/cb".into(),
            redirect_uri_given: true,
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            scope: "Basic".into(),
            family: "f".into(),
        };
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let form = |s: &str| Form::parse_str(s).unwrap();
        let ok = format!("redirect_uri=https%3A%2F%2Fa.test%2Fcb&code_verifier={verifier}");
        assert!(check_code_binding(&grant, "oc_a", &form(&ok)).is_ok());
        assert!(check_code_binding(&grant, "oc_b", &form(&ok)).is_err());
        assert!(
            check_code_binding(&grant, "oc_a", &form(&format!("code_verifier={verifier}")))
                .is_err()
        );
        let wrong_verifier = format!(
            "redirect_uri=https%3A%2F%2Fa.test%2Fcb&code_verifier={}",
            "x".repeat(43)
        );
        assert!(check_code_binding(&grant, "oc_a", &form(&wrong_verifier)).is_err());
    }

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

    #[test]
    fn repeated_form_parameters_are_refused() {
        assert!(Form::parse_str("a=1&a=2").is_err());
        let f = Form::parse_str("a=1&b=&c=x%20y").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.get("c"), Some("x y"));
    }
}
