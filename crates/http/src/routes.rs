//! The route registry: each function lists its routes once — method, path, **who may call it**
//! ([`Access`]), the error dialect, and the handler — and both the Lambda and the local API
//! server dispatch from that list ([`dispatch`]). The registries are the one place to read who
//! may call what: a route cannot be registered without its access, the dispatcher authorizes
//! [`Access::Api`] routes through the one policy ([`keygate_core::identity::policy`]) before their handler runs,
//! and console pages ask the same policy for their declared action. The routes test checks
//! that these lists, `template.yaml` (per function) and `infra/openapi.yaml` name the same
//! routes.
//!
//! Matching is exact, as API Gateway's: `{param}` matches one non-empty segment, and a trailing
//! slash is another path (`404`). A known path with another method is `405`.

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Request, Response};

use crate::{render, Dialect};
pub use keygate_core::identity::policy::Action;
use keygate_core::kernel::error::{ApiError, ApiResult, Kind};
use keygate_core::ports::services::Services;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential: discovery, JWKS, the event catalog, `/auth` and `/access` (their token is
    /// the credential), the console's assets.
    Public,
    /// The client authenticates itself with its own secret or assertion: the OAuth token,
    /// pushed-request, revocation and introspection endpoints, the client-app exchange.
    Client,
    /// The platform's routes: API Gateway runs the `verify` authorizer first (`whoami`); every
    /// principal kind passes.
    Platform,
    /// The OAuth consent page: a console session of the client's account (a delegated token
    /// must not outlive, nor escape the revocation of, what it came from, so an integration's
    /// session cannot consent).
    Consent,
    /// An API call the policy must allow this action ([`crate::auth::authorize`]); the handler
    /// finds the authorized caller with [`crate::auth::caller`].
    Api(Action),
    /// A console page or form: a session the policy must allow this action (the console's
    /// session opener asks it, and answers its refusals as pages).
    Console(Action),
}

/// What a handler returns: its answer, or an error the dispatcher renders in the route's dialect.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = ApiResult<Response<Body>>> + Send + 'a>>;

/// A route's handler: the services, the request, the path's parameters.
pub type Handler = for<'a> fn(&'a Services, &'a Request, Params<'a>) -> HandlerFuture<'a>;

/// One route.
#[derive(Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// Path with `{param}` segments, as in `template.yaml`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// API Gateway runs the `verify` authorizer before the function (`GET /api/whoami`): the
    /// routes of [`Access::Platform`].
    pub authorizer: bool,
    pub dialect: Dialect,
    pub handler: Handler,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A Lambda function's routes.
#[derive(Debug)]
pub struct Function {
    /// The binary's and the logs' name (`token`, `auth-tokens`, `client-apps`).
    pub name: &'static str,
    /// The function's logical id in `template.yaml` (`TokenFunction`, …).
    pub resource: &'static str,
    pub routes: &'static [Route],
}

/// The values of a matched path's `{param}` segments.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    pattern: &'static str,
    path: &'a str,
}

impl<'a> Params<'a> {
    /// The segment named `{name}` in the route's pattern.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.pattern
            .split('/')
            .zip(self.path.split('/'))
            .find(|(p, _)| p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) == Some(name))
            .map(|(_, v)| v)
    }

    /// [`Params::get`] for a parameter the pattern is known to have.
    pub fn require(&self, name: &str) -> ApiResult<&'a str> {
        self.get(name)
            .ok_or_else(|| ApiError::not_found("route_unknown", "no such route"))
    }
}

/// Matches a concrete path against a route pattern.
pub fn matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('{') {
        return pattern == path;
    }
    let mut p = pattern.split('/');
    let mut q = path.split('/');
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let param = a.starts_with('{') && a.ends_with('}');
                if !(param && !b.is_empty() || a == b) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// What [`find`] found for a method and path.
#[derive(Debug)]
pub enum Found<'r, 'p> {
    /// The route, with the path's parameters.
    Route(&'r Route, Params<'p>),
    /// The path exists with other methods (`405`).
    OtherMethod,
    /// No route has this path (`404`).
    Unknown,
}

/// The route of `routes` for a method and path.
pub fn find<'r, 'p>(routes: &'r [Route], method: &str, path: &'p str) -> Found<'r, 'p> {
    let mut path_known = false;
    for route in routes {
        if matches(route.path, path) {
            if route.method.eq_ignore_ascii_case(method) {
                return Found::Route(
                    route,
                    Params {
                        pattern: route.path,
                        path,
                    },
                );
            }
            path_known = true;
        }
    }
    if path_known {
        Found::OtherMethod
    } else {
        Found::Unknown
    }
}

/// The answer to a path no route of the function serves.
pub fn unrouted(method_known_elsewhere: bool) -> Response<Body> {
    let e = if method_known_elsewhere {
        ApiError::new(
            Kind::NotFound,
            "method_not_allowed",
            "this route does not take that method",
        )
    } else {
        ApiError::not_found("route_unknown", "no such route")
    };
    let mut resp = render(Dialect::Platform, &e);
    if method_known_elsewhere {
        *resp.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
    }
    resp
}

/// Serves one request of `function`: finds its route, runs the handler inside the request span,
/// renders an error in the route's dialect. Never an `Err` for the runtime.
pub async fn dispatch(function: &Function, services: &Services, req: Request) -> Response<Body> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let fut = async {
        match find(function.routes, &method, &path) {
            Found::Route(route, params) => {
                let result = serve(route, services, req, params).await;
                crate::respond(route.dialect, result)
            }
            Found::OtherMethod => unrouted(true),
            Found::Unknown => unrouted(false),
        }
    };
    crate::telemetry::observe(function.name, &method, &path, fut).await
}

/// Runs a matched route: an [`Access::Api`] route's caller is authorized first and handed to
/// the handler in the request's extensions; every route's [`Access`] is there too (the console
/// reads its action from it).
async fn serve(
    route: &Route,
    services: &Services,
    mut req: Request,
    params: Params<'_>,
) -> ApiResult<Response<Body>> {
    req.extensions_mut().insert(route.access);
    if let Access::Api(action) = route.access {
        // Boxed: the authenticator's future is large (every credential kind's state), and an
        // unboxed one would make every request's future — also the many routes that do not
        // authorize here — that large, copied at each move.
        // Its own statement: a temporary of the awaiting statement lives across the `.await`,
        // and the generator would keep room for the unboxed future anyway.
        let authorizing = Box::pin(crate::auth::authorize(services, &req, action));
        let caller = authorizing.await?;
        req.extensions_mut().insert(caller);
    }
    (route.handler)(services, &req, params).await
}

/// A route (a `const fn` for the tables): who may call it is part of it.
pub const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    dialect: Dialect,
    handler: Handler,
) -> Route {
    Route {
        method,
        path,
        access,
        authorizer: matches!(access, Access::Platform),
        dialect,
        handler,
    }
}

/// Wraps an `async fn` as a [`Handler`]: `handler!(f)` for
/// `f(&Services, &Request, Params) -> ApiResult<Response>`, `handler!(f, request)` for
/// `f(&Services, &Request)`.
#[macro_export]
macro_rules! handler {
    ($f:path) => {{
        fn __route_handler<'a>(
            s: &'a $crate::__core::Services,
            r: &'a ::lambda_http::Request,
            p: $crate::routes::Params<'a>,
        ) -> $crate::routes::HandlerFuture<'a> {
            ::std::boxed::Box::pin($f(s, r, p))
        }
        __route_handler as $crate::routes::Handler
    }};
    ($f:path, request) => {{
        fn __route_handler<'a>(
            s: &'a $crate::__core::Services,
            r: &'a ::lambda_http::Request,
            _: $crate::routes::Params<'a>,
        ) -> $crate::routes::HandlerFuture<'a> {
            ::std::boxed::Box::pin($f(s, r))
        }
        __route_handler as $crate::routes::Handler
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ok(_: &Services, _: &Request, p: Params<'_>) -> ApiResult<Response<Body>> {
        Ok(crate::json(
            200,
            &serde_json::json!({ "id": p.get("clientId") }),
        ))
    }

    const ROUTES: &[Route] = &[
        route(
            "GET",
            "/api/whoami",
            Access::Public,
            Dialect::Platform,
            handler!(ok),
        ),
        route(
            "GET",
            "/api/clientApps/{clientId}",
            Access::Public,
            Dialect::Platform,
            handler!(ok),
        ),
    ];

    #[test]
    fn patterns_match_whole_segments() {
        assert!(matches(
            "/api/clientApps/{clientId}",
            "/api/clientApps/app_x"
        ));
        assert!(!matches("/api/clientApps/{clientId}", "/api/clientApps/"));
        assert!(!matches(
            "/api/clientApps/{clientId}",
            "/api/clientApps/a/b"
        ));
        assert!(!matches("/api/whoami", "/api/whoami/x"));
        assert!(!matches("/api/whoami", "/api/whoami/"));
    }

    #[test]
    fn find_tells_404_from_405_and_reads_params() {
        let Found::Route(r, p) = find(ROUTES, "GET", "/api/clientApps/app_1") else {
            panic!("the route is found");
        };
        assert_eq!(r.path, "/api/clientApps/{clientId}");
        assert_eq!(p.get("clientId"), Some("app_1"));
        assert_eq!(p.get("other"), None);
        assert!(matches!(
            find(ROUTES, "POST", "/api/whoami"),
            Found::OtherMethod
        ));
        assert!(matches!(find(ROUTES, "GET", "/nope"), Found::Unknown));
    }

    const FUNCTION: Function = Function {
        name: "test",
        resource: "TestFunction",
        routes: ROUTES,
    };

    #[tokio::test]
    async fn a_requests_future_stays_small() {
        // Every request's future is boxed and moved by the Lambda runtime's and the local
        // server's layers: its size is copied per request. Handlers and the authorizer are boxed,
        // and no wrapper may keep the inner future twice (`request_log::scope`). Before that it
        // was 7.5 KB in a debug build (an unoptimised build's futures are the larger); now 1.7.
        let s = keygate_core::testing::memory_services().await;
        let request = dispatch(&FUNCTION, &s, Request::default());
        let size = std::mem::size_of_val(&request);
        assert!(size <= 2048, "a request's future is {size} bytes");
    }

    #[tokio::test]
    async fn dispatch_runs_the_handler_and_answers_unknown_routes() {
        let s = keygate_core::testing::memory_services().await;
        let req = |m: &str, p: &str| {
            http::Request::builder()
                .method(m)
                .uri(p)
                .body(Body::Empty)
                .unwrap()
        };
        assert_eq!(
            dispatch(&FUNCTION, &s, req("GET", "/api/clientApps/app_1"))
                .await
                .status(),
            200
        );
        assert_eq!(
            dispatch(&FUNCTION, &s, req("DELETE", "/api/whoami"))
                .await
                .status(),
            405
        );
        assert_eq!(
            dispatch(&FUNCTION, &s, req("GET", "/api/whoami/"))
                .await
                .status(),
            404
        );
    }
}
