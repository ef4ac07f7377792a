//! `GET/POST /api/oauth2/authorize`: the authorization code (`response_type=code`) and implicit
//! (`response_type=token`, off unless the client turns it on) flows, with a small server-rendered
//! consent page.
//!
//! The client and redirect URI are checked first, and a bad one is shown as an error page, never
//! redirected to. The user is the one of the session cookie set by `/auth`. The consent form's
//! POST carries a CSRF token: an HMAC under the pepper of the session and every request
//! parameter, with an expiry, so it is bound to this user and this exact request.

use keygate::auth::credentials::SESSION_COOKIE;
use keygate::auth::SubjectType;
use keygate::clients::{self, Client, ClientKind};
use keygate::crypto::{Secret, SecretHash};
use keygate::error::Kind;
use keygate::http::{body_bytes, escape_html, html};
use keygate::{ApiError, ApiResult, Services};
use lambda_http::{Body, Request, Response};

use crate::grants::{self, CodeGrant, Form, Subject};

const CSRF_DOMAIN: &str = "oauth-consent";
/// How long a consent page may stay open.
const CONSENT_TTL: i64 = 600;

/// The authorization request's parameters.
#[derive(Debug, Clone)]
struct AuthzRequest {
    response_type: String,
    client_id: String,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

impl AuthzRequest {
    fn from_form(f: &Form) -> Self {
        let g = |k: &str| f.get(k).map(str::to_owned);
        Self {
            response_type: g("response_type").unwrap_or_default(),
            client_id: g("client_id").unwrap_or_default(),
            redirect_uri: g("redirect_uri"),
            scope: g("scope"),
            state: g("state"),
            code_challenge: g("code_challenge"),
            code_challenge_method: g("code_challenge_method"),
        }
    }

    /// Every parameter, canonically, for the CSRF MAC.
    fn canonical(&self) -> String {
        [
            self.response_type.as_str(),
            &self.client_id,
            self.redirect_uri.as_deref().unwrap_or(""),
            self.scope.as_deref().unwrap_or(""),
            self.state.as_deref().unwrap_or(""),
            self.code_challenge.as_deref().unwrap_or(""),
            self.code_challenge_method.as_deref().unwrap_or(""),
        ]
        .join("\u{1f}")
    }

    fn hidden_fields(&self) -> String {
        let mut out = String::new();
        let mut push = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.push_str(&format!(
                    "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                    escape_html(v)
                ));
            }
        };
        push("response_type", &Some(self.response_type.clone()));
        push("client_id", &Some(self.client_id.clone()));
        push("redirect_uri", &self.redirect_uri);
        push("scope", &self.scope);
        push("state", &self.state);
        push("code_challenge", &self.code_challenge);
        push("code_challenge_method", &self.code_challenge_method);
        out
    }
}

/// What went wrong, and whether it may be told to the client's redirect URI.
enum Refusal {
    /// Shown to the user as a page (unknown client, bad redirect URI, no session, CSRF).
    Page(u16, &'static str, String),
    /// Sent to the verified redirect URI as `error=…` (RFC 6749 §4.1.2.1).
    Redirect(String, &'static str, String),
    /// A failure that is not the request's (an outage: `503` with `Retry-After`; a bug: `500`),
    /// shown as the browser routes' error page — never as "unknown application" or "sign in".
    Failed(ApiError),
}

fn page(status: u16, title: &'static str, msg: impl Into<String>) -> Refusal {
    Refusal::Page(status, title, msg.into())
}

fn respond(
    r: Result<Response<Body>, Refusal>,
    state: Option<&str>,
    fragment: bool,
) -> Response<Body> {
    match r {
        Ok(resp) => resp,
        Err(Refusal::Page(status, title, msg)) => html(status, title, &msg),
        Err(Refusal::Failed(e)) => keygate::http::html_error_response(&e),
        Err(Refusal::Redirect(uri, error, description)) => {
            let mut params = vec![
                ("error", error.to_owned()),
                ("error_description", description),
            ];
            if let Some(st) = state {
                params.push(("state", st.to_owned()));
            }
            redirect(&uri, &params, fragment)
        }
    }
}

fn redirect(uri: &str, params: &[(&str, String)], fragment: bool) -> Response<Body> {
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let sep = if fragment {
        "#"
    } else if uri.contains('?') {
        "&"
    } else {
        "?"
    };
    // The URI was checked when registered (normal form, no control characters); a value a
    // header cannot carry is still answered with a page, never a panic.
    match http::HeaderValue::from_str(&format!("{uri}{sep}{encoded}")) {
        Ok(location) => {
            let mut resp = Response::new(Body::Empty);
            *resp.status_mut() = http::StatusCode::FOUND;
            resp.headers_mut().insert(http::header::LOCATION, location);
            resp.headers_mut().insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            );
            resp
        }
        Err(_) => html(
            400,
            "Invalid redirect URI",
            "The application's redirect URI cannot be used.",
        ),
    }
}

fn query_form(req: &Request) -> ApiResult<Form> {
    Form::parse_str(req.uri().query().unwrap_or(""))
}

/// The client and redirect URI, checked before anything may be redirected.
async fn client_and_redirect(s: &Services, r: &AuthzRequest) -> Result<(Client, String), Refusal> {
    if r.client_id.is_empty() {
        return Err(page(400, "Invalid request", "client_id is missing."));
    }
    if !ClientKind::OAuth.id_well_formed(&r.client_id) {
        return Err(page(
            400,
            "Unknown application",
            "No application has this client_id.",
        ));
    }
    let client = match clients::get(&*s.table, &r.client_id).await {
        Ok(Some((c, _))) if c.kind == ClientKind::OAuth => c,
        Ok(_) => {
            return Err(page(
                400,
                "Unknown application",
                "No application has this client_id.",
            ))
        }
        Err(e) => return Err(Refusal::Failed(e.into())),
    };
    let registered = client
        .oauth
        .as_ref()
        .map(|o| o.redirect_uris.clone())
        .unwrap_or_default();
    let uri = match &r.redirect_uri {
        Some(u) if registered.iter().any(|x| x == u) => u.clone(),
        Some(_) => {
            return Err(page(
                400,
                "Invalid redirect URI",
                "The redirect_uri is not registered for this application.",
            ))
        }
        None if registered.len() == 1 => registered[0].clone(),
        None => {
            return Err(page(
                400,
                "Invalid redirect URI",
                "redirect_uri is required for this application.",
            ))
        }
    };
    Ok((client, uri))
}

/// The remaining checks, whose failures go back to the redirect URI.
fn check_flow(client: &Client, r: &AuthzRequest, uri: &str) -> Result<(bool, String), Refusal> {
    let to_client =
        |error: &'static str, msg: &str| Refusal::Redirect(uri.to_owned(), error, msg.to_owned());
    let o = client.oauth.clone().unwrap_or_else(no_settings);
    let implicit = match r.response_type.as_str() {
        "code" => false,
        "token" if o.implicit => true,
        "token" => {
            return Err(to_client(
                "unauthorized_client",
                "the implicit flow is not enabled for this client",
            ))
        }
        _ => {
            return Err(to_client(
                "unsupported_response_type",
                "response_type must be code or token",
            ))
        }
    };
    let scope = grants::granted_scope(client, r.scope.as_deref()).map_err(|_| {
        to_client(
            "invalid_scope",
            "a requested scope is not allowed for this client",
        )
    })?;
    match (&r.code_challenge, r.code_challenge_method.as_deref()) {
        (Some(c), Some("S256")) if (43..=128).contains(&c.len()) => {}
        (Some(_), Some("S256")) => {
            return Err(to_client("invalid_request", "code_challenge is malformed"))
        }
        (Some(_), _) => {
            return Err(to_client(
                "invalid_request",
                "code_challenge_method must be S256",
            ))
        }
        (None, Some(_)) => return Err(to_client("invalid_request", "code_challenge is missing")),
        (None, None) if o.public && !implicit => {
            return Err(to_client(
                "invalid_request",
                "PKCE (S256) is required for public clients",
            ))
        }
        (None, None) => {}
    }
    Ok((implicit, scope))
}

fn no_settings() -> keygate::clients::OAuthSettings {
    keygate::clients::OAuthSettings {
        redirect_uris: vec![],
        scopes: vec![],
        domain: None,
        public: false,
        implicit: false,
    }
}

fn session_cookie(req: &Request) -> Option<String> {
    keygate::auth::credentials::extract(req.headers())
        .ok()
        .and_then(|p| match p {
            keygate::auth::Presented::Session(v) => Some(v),
            _ => None,
        })
        .or_else(|| {
            // Alongside another credential, the cookie alone counts here.
            req.headers()
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .find_map(|p| {
                    p.trim()
                        .strip_prefix(&format!("{SESSION_COOKIE}="))
                        .map(str::to_owned)
                })
        })
}

/// The signed-in user of this client's account.
async fn user(
    s: &Services,
    req: &Request,
    client: &Client,
) -> Result<(keygate::auth::Principal, String), Refusal> {
    let no_session = || {
        page(401, "Sign in first", "There is no signed-in session: open this page through your platform sign-in (/auth), then try again.")
    };
    let cookie = session_cookie(req).ok_or_else(no_session)?;
    let principal = keygate::authtokens::authenticate_session(s, &cookie)
        .await
        .map_err(|e| match e.kind {
            Kind::Unavailable | Kind::Internal => Refusal::Failed(e),
            _ => no_session(),
        })?;
    if !matches!(
        principal.subject_type,
        SubjectType::Owner | SubjectType::User
    ) {
        return Err(page(
            403,
            "Not allowed",
            "This session cannot authorize applications.",
        ));
    }
    if principal.account_id != client.account_id {
        return Err(page(
            403,
            "Not allowed",
            "This application belongs to another account.",
        ));
    }
    Ok((principal, cookie))
}

fn csrf_material(session: &str, r: &AuthzRequest, exp: i64) -> String {
    format!("{session}\u{1e}{}\u{1e}{exp}", r.canonical())
}

pub async fn show(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let form = match query_form(req) {
        Ok(f) => f,
        Err(e) => return Ok(html(400, "Invalid request", &e.message)),
    };
    let r = AuthzRequest::from_form(&form);
    let fragment = r.response_type == "token";
    let result = async {
        let (client, uri) = client_and_redirect(s, &r).await?;
        let (_, scope) = check_flow(&client, &r, &uri)?;
        let (_, session) = user(s, req, &client).await?;
        let redirect_origin = url::Url::parse(&uri)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let exp = s.now() + CONSENT_TTL;
        let ring = s.keys.ring().await;
        let mac = ring
            .peppers()
            .hash(CSRF_DOMAIN, &Secret::new(csrf_material(&session, &r, exp)));
        Ok(consent_page(
            &client,
            &scope,
            &r,
            &redirect_origin,
            &format!("{exp}.{}", mac.0),
        ))
    }
    .await;
    Ok(respond(result, r.state.as_deref(), fragment))
}

/// `redirect_origin` is the origin of the verified redirect URI: browsers apply `form-action` to
/// the redirects that follow a form's POST too, so `'self'` alone blocks the answer to the client.
fn consent_page(
    client: &Client,
    scope: &str,
    r: &AuthzRequest,
    redirect_origin: &str,
    csrf: &str,
) -> Response<Body> {
    let scopes: String = scope
        .split(' ')
        .map(|sc| format!("<li>{}</li>", escape_html(sc)))
        .collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorize {name}</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto}}button{{margin-right:1rem;padding:.5rem 1.5rem}}</style></head>\
         <body><h1>Authorize {name}</h1><p><strong>{name}</strong> asks to access your account with these scopes:</p>\
         <ul id=\"scopes\">{scopes}</ul>\
         <form method=\"post\" action=\"/api/oauth2/authorize\">{hidden}\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button></form></body></html>",
        name = escape_html(&client.name),
        hidden = r.hidden_fields(),
        csrf = escape_html(csrf),
    );
    let csp = format!("default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {redirect_origin}; frame-ancestors 'none'");
    let Ok(csp) = http::HeaderValue::from_str(&csp) else {
        return html(
            400,
            "Invalid redirect URI",
            "The application's redirect URI cannot be used.",
        );
    };
    let mut resp = Response::new(Body::Text(page));
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    h.insert("x-frame-options", http::HeaderValue::from_static("DENY"));
    h.insert("content-security-policy", csp);
    resp
}

pub async fn decide(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    if body_bytes(req).len() > keygate::http::MAX_BODY {
        return Ok(html(413, "Too large", "The form is too large."));
    }
    let form = Form::parse(req)?;
    let r = AuthzRequest::from_form(&form);
    let fragment = r.response_type == "token";
    let result = async {
        let (client, uri) = client_and_redirect(s, &r).await?;
        let (implicit, scope) = check_flow(&client, &r, &uri)?;
        let (principal, session) = user(s, req, &client).await?;
        let csrf = form.get("csrf").unwrap_or("");
        let (exp, mac) = csrf.split_once('.').ok_or_else(|| {
            page(
                403,
                "Expired form",
                "This consent form is not valid: reload the page.",
            )
        })?;
        let exp: i64 = exp.parse().map_err(|_| {
            page(
                403,
                "Expired form",
                "This consent form is not valid: reload the page.",
            )
        })?;
        let ring = s.keys.ring().await;
        let ok = exp > s.now()
            && ring.peppers().verify(
                CSRF_DOMAIN,
                &SecretHash(mac.to_owned()),
                &csrf_material(&session, &r, exp),
            );
        if !ok {
            return Err(page(
                403,
                "Expired form",
                "This consent form is not valid or has expired: reload the page.",
            ));
        }
        match form.get("decision") {
            Some("approve") => {}
            Some("deny") => {
                return Err(Refusal::Redirect(
                    uri,
                    "access_denied",
                    "the user denied the request".into(),
                ))
            }
            _ => return Err(page(400, "Invalid request", "Choose Approve or Deny.")),
        }
        let account = keygate::accounts::get_account(&*s.table, &client.account_id)
            .await
            .map_err(|e| Refusal::Failed(e.into()))?
            .ok_or_else(|| {
                page(
                    400,
                    "Unknown application",
                    "The application's account no longer exists.",
                )
            })?;
        if account.settings.method != keygate::accounts::AuthMethod::OAuth2 {
            return Err(Refusal::Redirect(
                uri,
                "unauthorized_client",
                "this account does not use OAuth 2.0".into(),
            ));
        }
        let internal = Refusal::Failed;
        let mut params: Vec<(&str, String)> = Vec::new();
        if implicit {
            let issuer = s.config.issuer_for(req.headers());
            let ttl = account.settings.oauth_token_ttl_seconds;
            let subject = Subject {
                account: &account.id,
                id: principal.subject_id.clone(),
                kind: principal.subject_type,
            };
            let (jwt, _) = grants::access_token(
                s,
                &issuer,
                &client,
                &subject,
                grants::Grant {
                    scope: &scope,
                    // The client's current secret: rotating it (grace 0) stops these tokens too.
                    sid: client.current_secret_id(s.now()).map(str::to_owned),
                    fam: None,
                    ttl,
                    name: "implicit",
                },
            )
            .await
            .map_err(internal)?;
            params.push(("access_token", jwt));
            params.push(("token_type", "Bearer".into()));
            params.push(("expires_in", ttl.to_string()));
            params.push(("scope", scope));
        } else {
            let grant = CodeGrant {
                client_id: client.id.clone(),
                account_id: account.id.clone(),
                user_id: principal.subject_id.clone(),
                sub_type: principal.subject_type,
                redirect_uri: uri.clone(),
                redirect_uri_given: r.redirect_uri.is_some(),
                code_challenge: r.code_challenge.clone(),
                scope,
                family: format!("f{}", keygate::tokens::new_jti()),
            };
            let code = grants::store_code(s, &grant).await.map_err(internal)?;
            params.push(("code", code.expose().to_owned()));
        }
        if let Some(st) = &r.state {
            params.push(("state", st.clone()));
        }
        Ok(redirect(&uri, &params, implicit))
    }
    .await;
    Ok(respond(result, r.state.as_deref(), fragment))
}
