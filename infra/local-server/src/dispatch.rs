//! HTTP → the functions' handlers, as API Gateway would route them.

use std::net::SocketAddr;

use aws_lambda_events::apigw::{ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext};
use axum::body::Body as AxumBody;
use axum::extract::{ConnectInfo, State};
use keygate_core::ports::services::Queues;
use keygate_core::{ApiError, Services};
use keygate_http::routes::{self, Function};
use keygate_http::{error_response, MAX_BODY};

/// The functions behind API Gateway, as `template.yaml` deploys them.
pub const FUNCTIONS: [&Function; 3] = [
    &keygate_token::FUNCTION,
    &keygate_auth_tokens::FUNCTION,
    &keygate_client_apps::FUNCTION,
];
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

/// What the local server serves with: the functions' services, and the queues of the operator
/// route that enqueues events.
#[derive(Clone)]
struct Local {
    services: Services,
    queues: Queues,
}

pub fn router(services: Services, queues: Queues) -> axum::Router {
    axum::Router::new()
        .fallback(serve)
        .with_state(Local { services, queues })
}

/// SQS's own limit, for `/_local/events`; API routes use [`MAX_BODY`].
const MAX_READ: usize = 256 * 1024;

async fn serve(
    State(local): State<Local>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let resp = match axum::body::to_bytes(body, MAX_READ).await {
        Err(_) => error_response(&ApiError::too_large(MAX_BODY)),
        Ok(bytes) => {
            let body = if bytes.is_empty() {
                Body::Empty
            } else {
                match String::from_utf8(bytes.to_vec()) {
                    Ok(t) => Body::Text(t),
                    Err(e) => Body::Binary(e.into_bytes()),
                }
            };
            let req = with_source(http::Request::from_parts(parts, body), peer);
            route(&local.services, &local.queues, req).await
        }
    };
    to_axum(resp)
}

/// The request context API Gateway would give: the peer address as `http.sourceIp`.
fn with_source(req: lambda_http::Request, peer: SocketAddr) -> lambda_http::Request {
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.http.source_ip = Some(peer.ip().to_canonical().to_string());
    ctx.http.method = req.method().clone();
    ctx.http.path = Some(req.uri().path().to_owned());
    req.with_request_context(RequestContext::ApiGatewayV2(ctx))
}

/// `X-Forwarded-Proto` as a front door sets it (API Gateway always `https`): the scheme of this
/// server's issuer ([`keygate_core::kernel::config::Config::serves_https`]), replacing whatever the client
/// sent, so the handlers read the session cookie by the name it was set with
/// ([`keygate_core::identity::credentials::over_https`]): `kg_session` over the default plain http.
fn with_forwarded_proto(
    services: &Services,
    mut req: lambda_http::Request,
) -> lambda_http::Request {
    let proto = if services.config.serves_https() {
        "https"
    } else {
        "http"
    };
    req.headers_mut().insert(
        http::header::HeaderName::from_static("x-forwarded-proto"),
        http::HeaderValue::from_static(proto),
    );
    req
}

/// The request's API Gateway context (as [`with_source`] made it), or a default one.
fn context(req: &lambda_http::Request) -> ApiGatewayV2httpRequestContext {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.clone(),
        _ => ApiGatewayV2httpRequestContext::default(),
    }
}

/// Routes one request: operator routes, then the route table of `template.yaml`.
pub async fn route(
    services: &Services,
    queues: &Queues,
    req: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let req = with_forwarded_proto(services, req);
    let path = req.uri().path().to_owned();
    if path.starts_with("/_local/") {
        // Boxed (in its own statement, see below): the operator routes are rare, and inline
        // their future would size every request's.
        let operating = Box::pin(crate::operator::handle(services, queues, req));
        return operating.await;
    }
    let mut known = false;
    let found =
        FUNCTIONS.iter().find_map(
            |f| match routes::find(f.routes, req.method().as_str(), &path) {
                routes::Found::Route(route, _) => Some((*f, route.authorizer)),
                routes::Found::OtherMethod => {
                    known = true;
                    None
                }
                routes::Found::Unknown => None,
            },
        );
    let Some((function, authorizer)) = found else {
        return routes::unrouted(known);
    };
    let req = if authorizer {
        let source = keygate_http::source(&req);
        let target = keygate_core::identity::Target {
            method: req.method().as_str(),
            path: req.uri().path(),
        };
        // Boxed: the authorizer's future is large, and inline it would make every request's
        // future (moved by axum and tower at each layer) that large. Boxed in its own statement:
        // a temporary of a `match` scrutinee lives to the end of the `match`, across the
        // `.await`, and the generator would keep room for the unboxed future anyway.
        let deciding = Box::pin(keygate_verify::decide(
            services,
            req.headers(),
            source,
            target,
        ));
        match deciding.await {
            Ok(principal) => {
                let mut authorizer = ApiGatewayRequestAuthorizer::default();
                authorizer.fields = principal.to_context();
                let mut ctx = context(&req);
                ctx.authorizer = Some(authorizer);
                req.with_request_context(RequestContext::ApiGatewayV2(ctx))
            }
            // API Gateway itself would answer a bare 401/403 here; locally the authorizer's
            // reason is shown, which is what an integrator testing a credential needs.
            Err(e) => return error_response(&e),
        }
    } else {
        req
    };
    // The very dispatch the Lambda runs.
    routes::dispatch(function, services, req).await
}

fn to_axum(resp: lambda_http::Response<Body>) -> axum::response::Response {
    let (parts, body) = resp.into_parts();
    let body = match body {
        Body::Empty => AxumBody::empty(),
        Body::Text(t) => AxumBody::from(t),
        Body::Binary(b) => AxumBody::from(b),
        _ => AxumBody::empty(),
    };
    axum::response::Response::from_parts(parts, body)
}
