//! `GET/POST /api/oauth2/authorize`: the authorization code (`response_type=code`) and implicit
//! (`response_type=token`, off unless the client turns it on) flows, with a small server-rendered
//! consent page. The request comes in the query, or pushed before (`POST /api/oauth2/par`,
//! [`par`]) and named by `request_uri`; every authorization response carries `iss` (RFC 9207),
//! so a client talking to several servers can tell which one answered.
//!
//! The client and redirect URI are checked first, and a bad one is shown as an error page, never
//! redirected to. The user is the one of the session cookie set by `/auth`. The consent form's
//! POST carries a CSRF token: an HMAC under the pepper of the session and every request
//! parameter, with an expiry, so it is bound to this user and this exact request.

//!
//! - [`request`]: the authorization request and its checks;
//! - [`consent`]: the signed-in user and the consent page;
//! - [`decide`]: the user's decision, answered with a code, a token, or an error redirect;
//! - [`par`]: pushed authorization requests.

mod consent;
mod decide;
mod par;
mod request;

use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{html, Form};
use lambda_http::{Body, Request, Response};

pub use decide::decide;
pub use par::push;
use request::AuthzRequest;

/// What went wrong, and whether it may be told to the client's redirect URI.
pub(super) enum Refusal {
    /// Shown to the user as a page (unknown client, bad redirect URI, no session, CSRF).
    Page(u16, &'static str, String),
    /// Sent to the verified redirect URI as `error=…` (RFC 6749 §4.1.2.1).
    Redirect(String, &'static str, String),
    /// A failure that is not the request's (an outage: `503` with `Retry-After`; a bug: `500`),
    /// shown as the browser routes' error page — never as "unknown application" or "sign in".
    Failed(ApiError),
}

pub(super) fn page(status: u16, title: &'static str, msg: impl Into<String>) -> Refusal {
    Refusal::Page(status, title, msg.into())
}

/// What an authorization response is sent with: the request's `state`, the response mode
/// (fragment for the implicit flow), the issuer (`iss`, RFC 9207) and the redirect's status.
struct Reply<'a> {
    state: Option<&'a str>,
    fragment: bool,
    iss: &'a str,
    /// The answer to the consent form's POST: `303 See Other`, so the browser follows with a
    /// GET and never re-sends the form (FAPI 2.0 §5.3.2.2; a `307` would forward the form's
    /// fields to the client). `302` answers the GET of `/authorize`.
    after_post: bool,
}

impl<'a> Reply<'a> {
    fn to(r: &'a AuthzRequest, iss: &'a str) -> Self {
        Self {
            state: r.state.as_deref(),
            fragment: r.response_type == "token",
            iss,
            after_post: false,
        }
    }

    /// The same, answering a form's POST (`303`).
    fn after_post(r: &'a AuthzRequest, iss: &'a str) -> Self {
        Self {
            after_post: true,
            ..Self::to(r, iss)
        }
    }
}

fn respond(r: Result<Response<Body>, Refusal>, reply: &Reply<'_>) -> Response<Body> {
    match r {
        Ok(resp) => resp,
        Err(Refusal::Page(status, title, msg)) => html(status, title, &msg),
        Err(Refusal::Failed(e)) => keygate_http::html_error_response(&e),
        Err(Refusal::Redirect(uri, error, description)) => {
            let mut params = vec![
                ("error", error.to_owned()),
                ("error_description", description),
            ];
            if let Some(st) = reply.state {
                params.push(("state", st.to_owned()));
            }
            redirect(&uri, params, reply)
        }
    }
}

/// The redirect to the client with `params`, and `iss`.
fn redirect(uri: &str, mut params: Vec<(&str, String)>, reply: &Reply<'_>) -> Response<Body> {
    params.push(("iss", reply.iss.to_owned()));
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let sep = if reply.fragment {
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
            *resp.status_mut() = if reply.after_post {
                http::StatusCode::SEE_OTHER
            } else {
                http::StatusCode::FOUND
            };
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

pub async fn show(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let form = match Form::query(req) {
        Ok(f) => f,
        Err(e) => return Ok(html(400, "Invalid request", &e.message)),
    };
    let (r, pushed) = match request::resolve(s, AuthzRequest::from_form(&form)).await {
        Ok(resolved) => resolved,
        Err(refusal) => return Ok(respond(Err(refusal), &Reply::to(&no_request(), ""))),
    };
    let iss = s.config.issuer_for(req.headers());
    let result = async {
        let (client, uri) = request::client_and_redirect(s, &r).await?;
        let (_, scope) = request::flow_or_consume(s, &client, &r, &uri, pushed.as_ref()).await?;
        let (_, session) = consent::user(s, req, &client).await?;
        let redirect_origin = url::Url::parse(&uri)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let exp = s.now() + consent::CONSENT_TTL;
        // The person now has the form's lifetime to decide, not the request_uri's minute.
        request::hold(s, pushed.as_ref(), exp).await?;
        let ring = s.keys.ring().await;
        let csrf = consent::csrf_token(ring.peppers(), &session, &r, exp);
        Ok(consent::consent_page(
            &client,
            &scope,
            &r,
            &redirect_origin,
            &csrf,
        ))
    }
    .await;
    Ok(respond(result, &Reply::to(&r, &iss)))
}

/// An empty request, for refusals shown as pages (which send nothing to a client).
fn no_request() -> AuthzRequest {
    AuthzRequest::from_form(&Form::default())
}
