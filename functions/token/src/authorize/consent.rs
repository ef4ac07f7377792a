//! The consent page: the signed-in user of the client's account, and the page with its CSRF
//! token (an HMAC under the pepper of the session and every request parameter, with an expiry,
//! so it is bound to this user and this exact request).

use keygate_core::clients::Client;
use keygate_core::kernel::crypto::{Secret, SecretHash};
use keygate_core::kernel::error::Kind;
use keygate_core::Services;
use keygate_http::{escape_html, html};
use lambda_http::{Body, Request, Response};

use super::request::AuthzRequest;
use super::{page, Refusal};

pub(super) const CSRF_DOMAIN: &str = "oauth-consent";
/// How long a consent page may stay open.
pub(super) const CONSENT_TTL: i64 = 600;

/// The session cookie of the request, whatever else it carries (an `Authorization` header
/// alongside does not hide it here): the one name keygate reads where it is served
/// ([`keygate_core::identity::credentials::session_cookie_value`]).
fn session_cookie(req: &Request) -> Option<String> {
    keygate_core::identity::credentials::session_cookie_value(req.headers())
}

/// The signed-in user of this client's account.
pub(super) async fn user(
    s: &Services,
    req: &Request,
    client: &Client,
) -> Result<(keygate_core::identity::Principal, String), Refusal> {
    let no_session = || {
        page(401, "Sign in first", "There is no signed-in session: open this page through your platform sign-in (/auth), then try again.")
    };
    let cookie = session_cookie(req).ok_or_else(no_session)?;
    let principal = keygate_core::authtokens::authenticate_session(
        &keygate_core::authtokens::Ports::of(s).await,
        &cookie,
    )
    .await
    .map_err(|e| match e.kind {
        Kind::Unavailable | Kind::Internal => Refusal::Failed(e),
        _ => no_session(),
    })?;
    // The route's access (`Access::Consent`): a console session. A token a user delegates
    // outlives the session and escapes the revocation of an integration that opened one, so an
    // integration's session may not consent (attenuation, docs/CREDENTIALS.md).
    let own = principal.origin.as_ref().is_some_and(|o| {
        o.acts_for_itself && o.chain.as_ref().is_some_and(|c| c.sessions.is_empty())
    });
    match principal.kind() {
        // A user consents for themselves, in a session their own key opened.
        Some(keygate_core::identity::policy::Kind::ConsoleSession { .. }) if own => {}
        Some(keygate_core::identity::policy::Kind::IntegrationSession) => {
            return Err(page(
                403,
                "Not allowed",
                "This session was opened with a token an integration minted: it reaches the platform only, and cannot authorize applications.",
            ))
        }
        _ => {
            return Err(page(
                403,
                "Not allowed",
                "This session cannot authorize applications.",
            ))
        }
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

/// `redirect_origin` is the origin of the verified redirect URI: browsers apply `form-action` to
/// the redirects that follow a form's POST too, so `'self'` alone blocks the answer to the client.
pub(super) fn consent_page(
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

/// A consent form's CSRF token for `session` and `r`, valid until `exp`.
pub(super) fn csrf_token(
    peppers: &keygate_core::kernel::crypto::Peppers,
    session: &str,
    r: &AuthzRequest,
    exp: i64,
) -> String {
    let mac = peppers.hash(CSRF_DOMAIN, &Secret::new(csrf_material(session, r, exp)));
    format!("{exp}.{}", mac.0)
}

/// Whether `token` is the CSRF token of `session` and `r`, unexpired at `now`.
pub(super) fn csrf_ok(
    peppers: &keygate_core::kernel::crypto::Peppers,
    token: &str,
    session: &str,
    r: &AuthzRequest,
    now: i64,
) -> bool {
    let Some((exp, mac)) = token.split_once('.') else {
        return false;
    };
    let Ok(exp) = exp.parse::<i64>() else {
        return false;
    };
    exp > now
        && peppers.verify(
            CSRF_DOMAIN,
            &SecretHash(mac.to_owned()),
            &csrf_material(session, r, exp),
        )
}
