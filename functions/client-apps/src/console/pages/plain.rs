//! The plain pages: sign in, not allowed, an integration's session, a bad CSRF token, signed out.

use super::*;

/// A page outside the console's frame (sign-in, refusals).
fn plain(lang: Lang, status: u16, title: &str, body: &str) -> Response<Body> {
    page(
        status,
        html! {
            (DOCTYPE)
            html lang=(lang.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · keygate" }
                    link rel="stylesheet" href="/admin/assets/console.css";
                }
                body.plain {
                    main id="main" {
                        span.brand { "keygate" }
                        h1 { (title) }
                        p { (body) }
                    }
                }
            }
        },
    )
}

/// `401`: no session (or an ended one): how to sign in.
pub fn sign_in_page(lang: Lang, status: u16) -> Response<Body> {
    let w = lang.words();
    let mut resp = plain(lang, status, w.sign_in_title, w.sign_in_body);
    resp.headers_mut().insert(
        "x-keygate-reason",
        http::HeaderValue::from_static("session_missing"),
    );
    resp
}

/// `403`: a session that may not manage (a signer's, or a user without `API_ACCESS`).
pub fn not_allowed_page(lang: Lang) -> Response<Body> {
    let w = lang.words();
    let mut resp = plain(lang, 403, w.not_allowed_title, w.not_allowed_body);
    resp.headers_mut().insert(
        "x-keygate-reason",
        http::HeaderValue::from_static("not_manager"),
    );
    resp
}

/// `403`: a session an integration's token opened, which reaches the platform only.
pub fn integration_session_page(lang: Lang) -> Response<Body> {
    let w = lang.words();
    let mut resp = plain(
        lang,
        403,
        w.integration_session_title,
        w.integration_session_body,
    );
    resp.headers_mut().insert(
        "x-keygate-reason",
        http::HeaderValue::from_static("integration_session"),
    );
    resp
}

/// `403`: a form without this session's CSRF token.
pub fn csrf_page(lang: Lang) -> Response<Body> {
    let w = lang.words();
    let mut resp = plain(lang, 403, w.csrf_title, w.csrf_body);
    resp.headers_mut().insert(
        "x-keygate-reason",
        http::HeaderValue::from_static("csrf_invalid"),
    );
    resp
}

/// After sign-out.
pub fn signed_out_page(lang: Lang) -> Response<Body> {
    let w = lang.words();
    plain(lang, 200, w.signed_out, w.sign_in_body)
}
