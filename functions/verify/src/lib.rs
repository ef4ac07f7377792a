//! The `verify` function: API Gateway's Lambda authorizer (HTTP API, payload 2.0, simple
//! responses). It authenticates with the same shared code every keygate handler uses, passes the
//! principal on as context, and logs each refusal's stable reason code — never a credential.

/// The DynamoDB actions this function's code makes: it reads what a credential names (one batch per
/// bearer token), claims signed-request nonces and counts failed signatures. Mirrored by its IAM
/// statement in `template.yaml` (`VerifyFunction`), which the routes test compares with this list.
pub const DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
];

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use http::HeaderMap;
use keygate::auth::{Authenticator, Principal};
use keygate::lockout::Source;
use keygate::{ApiResult, Services};

/// Authenticates a request from its headers and source address (API Gateway's
/// `requestContext.http.sourceIp`); the local API server calls this directly.
pub async fn decide(
    services: &Services,
    headers: &HeaderMap,
    source: Source,
) -> ApiResult<Principal> {
    let result = Authenticator::new(services)
        .from_source(source)
        .authenticate_for_platform(headers)
        .await;
    match &result {
        Ok(p) => tracing::info!(
            account = %p.account_id,
            credential = ?p.auth_method,
            "authorized"
        ),
        // Fails closed either way; an outage is logged and counted as one, not as a refusal.
        Err(e) if e.is_outage() => {
            tracing::warn!(reason = e.reason, error = ?e.source, at = ?e.at, "outage: refused");
            keygate::metrics::outage(e.reason);
        }
        Err(e) => {
            tracing::info!(reason = e.reason, status = e.status().as_u16(), "refused");
            keygate::metrics::refused(e.reason);
        }
    }
    result
}

/// The authorizer's cold start: it needs nothing beyond the services (no queue).
pub async fn start(services: Services) -> Result<Services, std::convert::Infallible> {
    Ok(services)
}

/// The authorizer's answer: allowed with the principal as context, or refused.
pub async fn authorize(
    services: &Services,
    event: ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let headers = with_cookies(event.headers, &event.cookies);
    let source = Source::parse(event.request_context.http.source_ip.as_deref());
    let mut resp = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    if let Ok(p) = decide(services, &headers, source).await {
        resp.is_authorized = true;
        resp.context = serde_json::Value::Object(p.to_context().into_iter().collect());
    }
    resp
}

/// Payload 2.0 moves cookies out of the headers; put them back as one `Cookie` header.
fn with_cookies(mut headers: HeaderMap, cookies: &[String]) -> HeaderMap {
    if !cookies.is_empty() {
        if let Ok(v) = http::HeaderValue::from_str(&cookies.join("; ")) {
            headers.insert(http::header::COOKIE, v);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn services() -> Services {
        keygate::testing::memory_services().await
    }

    fn sample() -> ApiGatewayV2CustomAuthorizerV2Request {
        serde_json::from_str(include_str!("../../../events/verify.json"))
            .expect("sample authorizer event")
    }

    #[tokio::test]
    async fn a_real_api_key_is_authorized_with_its_principal() {
        let s = services().await;
        let acc = keygate::testing::account(&s).await;
        let mut event = sample();
        event.headers.insert(
            http::header::AUTHORIZATION,
            format!("Basic {}", acc.api_key.expose()).parse().unwrap(),
        );
        let resp = authorize(&s, event).await;
        assert!(resp.is_authorized);
        assert_eq!(resp.context["accountId"], acc.account.id.to_string());
        assert_eq!(resp.context["subjectType"], "owner");
    }

    #[tokio::test]
    async fn the_sample_events_fake_key_is_refused() {
        let s = services().await;
        let resp = authorize(&s, sample()).await;
        assert!(!resp.is_authorized);
        assert_eq!(resp.context, serde_json::Value::Null);
    }

    #[test]
    fn cookies_are_merged_into_one_header() {
        let h = with_cookies(HeaderMap::new(), &["a=1".into(), "kg_session=x".into()]);
        assert_eq!(h["cookie"], "a=1; kg_session=x");
    }
}
