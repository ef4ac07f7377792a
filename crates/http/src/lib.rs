//! keygate's HTTP layer: everything that speaks `lambda_http`. The helpers every handler shares
//! (JSON in and out with limits, the error mapping and its dialects, the authorizer's
//! principal), forms ([`form`]), the route registry and its dispatcher ([`routes`]), the
//! request-facing half of authentication and authorization ([`auth`]), telemetry
//! ([`telemetry`]) and the functions' `main`s ([`http_main!`], [`event_main!`]); and the other
//! direction, keygate calling integrators' URLs through the SSRF guard ([`ssrf`]), OAuth
//! clients' published keys among them ([`jwks`]). The domain is `keygate_core`'s; nothing here
//! decides who may do what.

pub mod auth;
pub mod form;
pub mod jwks;
pub mod mains;
pub mod routes;
pub mod ssrf;
pub mod telemetry;

#[doc(hidden)]
pub use keygate_core as __core;

use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use keygate_core::identity::Principal;
use keygate_core::kernel::error::{oauth_error_code, ApiError, ApiResult, Kind, OAuthError};

pub use form::Form;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// Whether the request's `Content-Type` is `expected` (case-insensitive, parameters such as
/// `charset` allowed). A repeated or non-ASCII header is not.
pub fn content_type_is(req: &Request, expected: &str) -> bool {
    let mut values = req.headers().get_all(http::header::CONTENT_TYPE).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().is_ok_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(expected))
        }),
        _ => false,
    }
}

/// `415` unless a request with a body sends it as `expected` (an empty body needs no type).
pub fn require_content_type(req: &Request, expected: &'static str) -> ApiResult<()> {
    if body_bytes(req).is_empty() || content_type_is(req, expected) {
        Ok(())
    } else {
        Err(ApiError::media_type(expected))
    }
}

/// A JSON body sent as `application/json` (else `415`), at most [`MAX_BODY`] bytes; the target
/// type decides which fields are allowed (`deny_unknown_fields` on request DTOs).
pub fn read_json<T: DeserializeOwned>(req: &Request) -> ApiResult<T> {
    require_content_type(req, "application/json")?;
    read_json_any_type(req)
}

/// [`read_json`] whatever the content type: for the local server's operator routes only, which
/// `curl -d` (form-encoded by default) must keep reaching.
pub fn read_json_any_type<T: DeserializeOwned>(req: &Request) -> ApiResult<T> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY {
        return Err(ApiError::too_large(MAX_BODY));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "body_missing",
            "a JSON body is required",
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("body_malformed", format!("the JSON body is not valid: {e}"))
    })?;
    // serde would read a struct from an array too; bodies are objects.
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "body_not_object",
            "the JSON body must be an object",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request("body_malformed", format!("the JSON body is not valid: {e}"))
    })
}

/// One query parameter, decoded; a repeated parameter is refused.
pub fn query_param(req: &Request, name: &str) -> ApiResult<Option<String>> {
    let Some(q) = req.uri().query() else {
        return Ok(None);
    };
    let mut found = None;
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        if k == name {
            if found.is_some() {
                return Err(ApiError::bad_request(
                    "query_repeated",
                    format!("the query parameter {name} is repeated"),
                ));
            }
            found = Some(v.into_owned());
        }
    }
    Ok(found)
}

/// A JSON response.
pub fn json<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::Text(body))
        .expect("static response parts are valid")
}

pub fn empty(status: u16) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .expect("static response parts are valid")
}

fn log(e: &ApiError) {
    if e.kind == Kind::Internal {
        tracing::error!(reason = e.reason, error = ?e.source, at = ?e.at, "internal error");
    } else if e.is_outage() {
        // An outage is an outage: counted apart, never as a refusal of the caller.
        tracing::warn!(reason = e.reason, error = ?e.source, at = ?e.at, "backing service unavailable");
        keygate_core::kernel::metrics::outage(e.reason);
    } else {
        tracing::info!(reason = e.reason, status = e.status().as_u16(), "refused");
        keygate_core::kernel::metrics::refused(e.reason);
    }
}

/// `Retry-After` for throttling and outages, the error's own `WWW-Authenticate` challenge, and
/// its `DPoP-Nonce`.
fn with_retry_after(mut resp: Response<Body>, e: &ApiError) -> Response<Body> {
    if let Some(v) = e
        .dpop_nonce
        .as_deref()
        .and_then(|n| http::HeaderValue::from_str(n).ok())
    {
        resp.headers_mut()
            .insert(keygate_core::oauth::dpop::NONCE_HEADER, v);
    }
    if let Some(c) = e.challenge {
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static(c),
        );
    }
    if let Some(s) = e.retry_after {
        if let Ok(v) = http::HeaderValue::from_str(&s.to_string()) {
            resp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
    }
    resp
}

/// The platform error body: `{"messageKey","message","code","reason"}`. A `401` always carries
/// `WWW-Authenticate` (RFC 7235 §3.1, docs/CREDENTIALS.md): the error's own challenge
/// (DPoP's), else the schemes the shared authenticator takes
/// ([`keygate_core::identity::credentials::CHALLENGE`]).
pub fn error_response(e: &ApiError) -> Response<Body> {
    log(e);
    let body = serde_json::json!({
        "messageKey": e.kind.message_key(),
        "message": e.message,
        "code": e.status().as_u16(),
        "reason": e.reason,
    });
    let mut resp = json(e.status().as_u16(), &body);
    if e.kind == Kind::Unauthorized {
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static(keygate_core::identity::credentials::CHALLENGE),
        );
    }
    with_retry_after(resp, e)
}

/// The OAuth error body (RFC 6749 §5.2); `invalid_client` gets `401` and `WWW-Authenticate`.
pub fn oauth_error_response(e: &ApiError) -> Response<Body> {
    log(e);
    let code = oauth_error_code(e);
    let status = match code {
        OAuthError::InvalidClient => 401,
        _ => match e.kind {
            Kind::TooManyRequests => 429,
            Kind::Internal => 500,
            Kind::Unavailable => 503,
            Kind::PayloadTooLarge => 413,
            Kind::UnsupportedMediaType => 415,
            _ => 400,
        },
    };
    let mut resp = json(
        status,
        &serde_json::json!({"error": code.as_str(), "error_description": e.message}),
    );
    if status == 401 {
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"keygate\""),
        );
    }
    with_retry_after(resp, e)
}

/// How a route answers its errors (docs/ERRORS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"messageKey","message","code","reason"}`.
    Platform,
    /// RFC 6749 §5.2 `{"error","error_description"}`.
    OAuth,
    /// A small HTML page (browser routes), never a redirect; `X-Keygate-Reason` names the reason.
    Html,
}

/// An error in a route's dialect: the one place errors are rendered.
pub fn render(dialect: Dialect, e: &ApiError) -> Response<Body> {
    match dialect {
        Dialect::Platform => error_response(e),
        Dialect::OAuth => oauth_error_response(e),
        Dialect::Html => html_error_response(e),
    }
}

/// The browser routes' error page.
pub fn html_error_response(e: &ApiError) -> Response<Body> {
    log(e);
    let title = match e.kind {
        Kind::Unauthorized => "This link is not valid",
        Kind::Internal => "Something went wrong",
        Kind::Unavailable => "Temporarily unavailable",
        Kind::TooManyRequests => "Too many attempts",
        _ => "This link cannot be opened",
    };
    let mut resp = html(e.status().as_u16(), title, &e.message);
    if let Ok(v) = http::HeaderValue::from_str(e.reason) {
        resp.headers_mut().insert("x-keygate-reason", v);
    }
    with_retry_after(resp, e)
}

/// Answers a handler's result: errors become their body in `dialect`, never an `Err` for the
/// runtime.
pub fn respond(dialect: Dialect, result: ApiResult<Response<Body>>) -> Response<Body> {
    result.unwrap_or_else(|e| render(dialect, &e))
}

/// The source address API Gateway saw (`requestContext.http.sourceIp`; the local server sets it
/// to the peer address), for lockout.
pub fn source(req: &Request) -> keygate_core::identity::lockout::Source {
    use lambda_http::request::RequestContext;
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            keygate_core::identity::lockout::Source::parse(ctx.http.source_ip.as_deref())
        }
        _ => keygate_core::identity::lockout::Source::UNKNOWN,
    }
}

/// The principal the `verify` authorizer passed on (`requestContext.authorizer.lambda`).
pub fn authorizer_principal(req: &Request) -> Option<Principal> {
    use lambda_http::request::RequestContext;
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let lambda = &ctx.authorizer.as_ref()?.fields;
            Principal::from_context(lambda)
        }
        _ => None,
    }
}

/// A plain HTML page for browser routes' errors.
pub fn html(status: u16, title: &str, message: &str) -> Response<Body> {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{m}</p></body></html>",
        t = escape_html(title),
        m = escape_html(message)
    );
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(http::header::CACHE_CONTROL, "no-store")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        )
        .body(Body::Text(page))
        .expect("static response parts are valid")
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: &str, ct: Option<&str>) -> Request {
        let mut b = http::Request::builder()
            .method("POST")
            .uri("/x?a=1&b=2&b=3");
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(Body::Text(body.to_owned())).unwrap()
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct In {
        name: String,
    }

    #[test]
    fn json_bodies_are_checked() {
        let ok = r#"{"name":"a"}"#;
        assert!(read_json::<In>(&req(ok, Some("application/json"))).is_ok());
        assert!(read_json::<In>(&req(ok, Some("Application/JSON; charset=utf-8"))).is_ok());
        assert!(read_json_any_type::<In>(&req(ok, Some("text/plain"))).is_ok());
        let json = Some("application/json");
        for (body, ct, status) in [
            ("", json, 400),
            ("{", json, 400),
            (r#"{"name":"a","x":1}"#, json, 400),
            (r#"["a"]"#, json, 400),
            (ok, Some("text/plain"), 415),
            (ok, Some("application/x-www-form-urlencoded"), 415),
            (ok, Some("application/xml"), 415),
            (ok, Some("application/jsonp"), 415),
            (ok, None, 415),
        ] {
            assert_eq!(
                read_json::<In>(&req(body, ct)).unwrap_err().status(),
                status,
                "{body}"
            );
        }
        let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_BODY));
        assert_eq!(read_json::<In>(&req(&big, json)).unwrap_err().status(), 413);
    }

    #[test]
    fn query_params_refuse_repeats() {
        let r = req("", None);
        assert_eq!(query_param(&r, "a").unwrap().as_deref(), Some("1"));
        assert!(query_param(&r, "b").is_err());
        assert_eq!(query_param(&r, "c").unwrap(), None);
    }

    #[test]
    fn error_bodies_have_both_shapes() {
        let e = ApiError::locked("client_locked", 30);
        let r = error_response(&e);
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "30");
        let e = ApiError::unauthorized("client_secret_wrong", "bad");
        let r = oauth_error_response(&e);
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
        let Body::Text(t) = r.body() else { panic!() };
        assert!(t.contains("\"invalid_client\""));
    }

    #[test]
    fn platform_401s_always_challenge() {
        let r = error_response(&ApiError::unauthorized("api_key_unknown", "x"));
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()["www-authenticate"],
            keygate_core::identity::credentials::CHALLENGE
        );
        let dpop = ApiError::unauthorized("dpop_proof_invalid", "x")
            .with_challenge(keygate_core::oauth::dpop::TOKEN_CHALLENGE);
        let r = error_response(&dpop);
        assert_eq!(
            r.headers()["www-authenticate"],
            keygate_core::oauth::dpop::TOKEN_CHALLENGE
        );
        assert_eq!(r.headers().get_all("www-authenticate").iter().count(), 1);
        let r = error_response(&ApiError::forbidden("not_manager", "x"));
        assert!(!r.headers().contains_key("www-authenticate"));
    }

    #[test]
    fn internal_errors_are_opaque() {
        let e = ApiError::internal(std::io::Error::other("secret detail"));
        let r = error_response(&e);
        assert_eq!(r.status(), 500);
        let Body::Text(t) = r.body() else { panic!() };
        assert!(!t.contains("secret detail"));
    }

    #[test]
    fn outages_are_503_with_retry_after_in_both_dialects() {
        use keygate_core::kernel::fault::{Fault, Service, ServiceError};
        let outage = || {
            ApiError::from(keygate_core::ports::store::StoreError::Service(
                ServiceError::new(
                    Service::DynamoDb,
                    "GetItem",
                    "t",
                    Fault::Unavailable,
                    "timed out",
                ),
            ))
        };
        let r = error_response(&outage());
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "2");
        let r = oauth_error_response(&outage());
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("retry-after"));
        let Body::Text(t) = r.body() else { panic!() };
        assert!(t.contains("temporarily_unavailable") && !t.contains("timed out"));
        let denied = ApiError::from(keygate_core::ports::store::StoreError::Service(
            ServiceError::new(
                Service::DynamoDb,
                "GetItem",
                "t",
                Fault::AccessDenied,
                "denied",
            ),
        ));
        assert_eq!(denied.status(), 500, "a deployment error is not an outage");
        assert!(denied
            .at
            .is_some_and(|l| l.file().ends_with("http/src/lib.rs")));
    }

    #[test]
    fn html_is_escaped() {
        let r = html(400, "<t>", "<script>");
        let Body::Text(t) = r.body() else { panic!() };
        assert!(t.contains("&lt;script&gt;") && !t.contains("<script>"));
    }
}
