//! The console (docs/CONSOLE.md): the seeds' Admin pages — API Access, Authentication, Event
//! Notification — served as HTML by this function under `/admin/*`, for the account's owner (and
//! `API_ACCESS` users when roles and permissions are on), signed in through
//! `/auth?authenticationToken=<user token>&target=/admin/api-access`.
//!
//! - **No second implementation**: every action calls the same functions as the REST routes
//!   (`crate::manage::apps::add`, `crate::manage::oauth_clients::add`, `crate::manage::callback::set_primary`, …), so rules,
//!   validation, audit records and owner-only checks are one.
//! - **Sessions**: the session cookie (`__Host-kg_session` over https, `kg_session` on the
//!   local server over http) of a *console* session (its token minted with an API key);
//!   every page and form declares its action in the route registry, and the one policy decides
//!   on every request ([`keygate_core::identity::authorize_principal`]), so a user who loses `API_ACCESS`
//!   is out at once. Without a session (or with one whose chain stopped) a page answers `401`
//!   with how to sign in; a sender's or signer's session, or a user who may not manage, `403`; a
//!   session an integration's token opened `403` with a page that says why.
//! - **Forms**: server-rendered, usable without JavaScript, POST-redirect-GET (`303`). Every form
//!   carries the session's CSRF token ([`keygate_core::identity::csrf`]); a POST without it is `403`. A
//!   secret shown once (a new client app's, an OAuth client's, a regenerated API key) travels
//!   from the POST to the GET in a *flash*: sealed in the table under the session for five
//!   minutes and deleted as the page that shows it is read — never in a URL, a log or a later
//!   page. Errors travel the same way, as the message to show.
//! - **Headers**: `Cache-Control: no-store`, `X-Frame-Options: DENY`, a CSP of `default-src
//!   'self'` with `frame-ancestors 'none'` (one stylesheet and one small script, both served here;
//!   no inline script or style, no external fonts or CDNs).
//! - **Languages**: English, or French with `?lang=fr` (kept on every link and form) or an
//!   `Accept-Language` that prefers French; the wording is the seeds' own ([`words`]).

mod flash;
mod forms;
pub mod pages;
pub mod words;

use http::{header, HeaderValue, StatusCode};
use keygate_core::identity::{self, csrf, Manager};
use keygate_core::{ApiResult, Services};
use keygate_http::routes::{Access, Action};
use lambda_http::{Body, Request, Response};

pub use flash::Flash;
pub use forms::ConsoleForm;
use words::Lang;

pub mod actions;

/// A signed-in console request: who, in which language, with the session's CSRF token.
pub struct Console {
    pub m: Manager,
    pub lang: Lang,
    pub csrf: String,
    session: String,
}

/// A console request: ready to serve, or the page to answer instead (one that says why not).
pub enum Opened<T> {
    Ready(T),
    Refused(Response<Body>),
}

impl Console {
    /// The session behind a console request, allowed the action its route declares
    /// ([`Access::Console`], asked of the one policy by [`identity::authorize_principal`]), or the
    /// page that says why not. `form_csrf`: a form post carried this session's CSRF token (a
    /// page view, which changes nothing, needs none).
    async fn open(
        s: &Services,
        req: &Request,
        lang: Lang,
        form_csrf: Option<&str>,
    ) -> ApiResult<Opened<Self>> {
        let Some(session) = identity::credentials::session_cookie_value(req.headers()) else {
            return Ok(Opened::Refused(pages::sign_in_page(lang, 401)));
        };
        let principal = match keygate_core::authtokens::authenticate_session(
            &keygate_core::authtokens::Ports::of(s).await,
            &session,
        )
        .await
        {
            Ok(p) => p,
            Err(e) if e.is_outage() || e.kind == keygate_core::kernel::error::Kind::Internal => {
                return Err(e)
            }
            // The session stopped because its user may no longer manage: say so.
            Err(e) if e.reason == "source_lost_access" => {
                return Ok(Opened::Refused(pages::not_allowed_page(lang)))
            }
            Err(_) => return Ok(Opened::Refused(pages::sign_in_page(lang, 401))),
        };
        let ring = s.keys.ring().await;
        if let Some(presented) = form_csrf {
            if !csrf::verify(ring.peppers(), &session, presented) {
                return Ok(Opened::Refused(pages::csrf_page(lang)));
            }
        }
        let action = match req.extensions().get::<Access>() {
            Some(Access::Console(action)) => *action,
            _ => Action::Manage,
        };
        let m = match identity::authorize_principal(&*s.table, principal, action, true).await {
            Ok(m) => m,
            Err(e) if e.is_outage() || e.kind == keygate_core::kernel::error::Kind::Internal => {
                return Err(e)
            }
            Err(e) if e.reason == "integration_session" => {
                return Ok(Opened::Refused(pages::integration_session_page(lang)))
            }
            Err(e) if e.kind == keygate_core::kernel::error::Kind::Unauthorized => {
                return Ok(Opened::Refused(pages::sign_in_page(lang, 401)))
            }
            Err(_) => return Ok(Opened::Refused(pages::not_allowed_page(lang))),
        };
        let csrf = csrf::token(ring.peppers(), &session);
        Ok(Opened::Ready(Self {
            m,
            lang,
            csrf,
            session,
        }))
    }

    /// A page view: the session, and the flash the previous POST left (taken: shown once).
    pub async fn get(s: &Services, req: &Request) -> ApiResult<Opened<(Self, Option<Flash>)>> {
        let lang = Lang::of(req);
        let c = match Self::open(s, req, lang, None).await? {
            Opened::Ready(c) => c,
            Opened::Refused(page) => return Ok(Opened::Refused(page)),
        };
        let flash = flash::take(s, &c.session).await?;
        Ok(Opened::Ready((c, flash)))
    }

    /// A form post: the session, and the form once its CSRF token is the session's (else a
    /// `403` page).
    pub async fn post(s: &Services, req: &Request) -> ApiResult<Opened<(Self, ConsoleForm)>> {
        let form = ConsoleForm::parse(req)?;
        let lang = form
            .get("lang")
            .and_then(Lang::parse)
            .unwrap_or_else(|| Lang::of(req));
        let presented = form.get("csrf").unwrap_or_default().to_owned();
        let c = match Self::open(s, req, lang, Some(&presented)).await? {
            Opened::Ready(c) => c,
            Opened::Refused(page) => return Ok(Opened::Refused(page)),
        };
        Ok(Opened::Ready((c, form)))
    }

    /// A sign-out form: the session's cookie value once the form's CSRF token is the session's
    /// (else a `403` page; without a session, the sign-in page).
    pub async fn signing_out(s: &Services, req: &Request) -> ApiResult<Opened<(String, Lang)>> {
        let form = ConsoleForm::parse(req)?;
        let lang = form
            .get("lang")
            .and_then(Lang::parse)
            .unwrap_or_else(|| Lang::of(req));
        let Some(session) = identity::credentials::session_cookie_value(req.headers()) else {
            return Ok(Opened::Refused(pages::sign_in_page(lang, 401)));
        };
        let ring = s.keys.ring().await;
        if !csrf::verify(
            ring.peppers(),
            &session,
            form.get("csrf").unwrap_or_default(),
        ) {
            return Ok(Opened::Refused(pages::csrf_page(lang)));
        }
        Ok(Opened::Ready((session, lang)))
    }

    /// After an action: its flash (a secret to show once, or the error to show), then `303` back
    /// to `page`. An outage is not a form error: it is answered `503`.
    pub async fn done(
        &self,
        s: &Services,
        page: &str,
        result: ApiResult<Option<Flash>>,
    ) -> ApiResult<Response<Body>> {
        let flash = match result {
            Ok(f) => f,
            Err(e) if e.is_outage() => return Err(e),
            Err(e) => {
                tracing::info!(reason = e.reason, "console: action refused");
                Some(Flash::Error {
                    reason: e.reason.to_owned(),
                    message: e.message.to_string(),
                })
            }
        };
        if let Some(f) = flash {
            flash::put(s, &self.session, &f).await?;
        }
        Ok(see_other(&self.lang.link(page)))
    }
}

/// The headers every console answer carries.
pub fn secure(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// An HTML page.
pub fn html(status: u16, page: maud::Markup) -> Response<Body> {
    let mut resp = Response::new(Body::Text(page.into_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(resp)
}

/// `303 See Other` to a console path.
pub fn see_other(location: &str) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    secure(resp)
}

/// The session's value is not a secret a `Debug` may print.
impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("user", &self.m.user.id)
            .field("lang", &self.lang)
            .finish_non_exhaustive()
    }
}
