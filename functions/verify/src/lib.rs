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
use keygate_core::identity::lockout::Source;
use keygate_core::identity::{Authenticator, Principal, Target};
use keygate_core::{ApiResult, Services};

/// Authenticates a request from its headers, source address (API Gateway's
/// `requestContext.http.sourceIp`) and method and path (what a DPoP proof names); the local API
/// server calls this directly.
pub async fn decide(
    services: &Services,
    headers: &HeaderMap,
    source: Source,
    target: Target<'_>,
) -> ApiResult<Principal> {
    let result = Authenticator::new(services)
        .from_source(source)
        .at(target.method, target.path)
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
            keygate_core::kernel::metrics::outage(e.reason);
        }
        Err(e) => {
            tracing::info!(reason = e.reason, status = e.status().as_u16(), "refused");
            keygate_core::kernel::metrics::refused(e.reason);
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
    let http = &event.request_context.http;
    let target = Target {
        method: http.method.as_str(),
        path: event.raw_path.as_deref().unwrap_or_default(),
    };
    let mut resp = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    if let Ok(p) = decide(services, &headers, source, target).await {
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
        keygate_core::testing::memory_services().await
    }

    fn sample() -> ApiGatewayV2CustomAuthorizerV2Request {
        serde_json::from_str(include_str!("../../../events/verify.json"))
            .expect("sample authorizer event")
    }

    #[tokio::test]
    async fn a_real_api_key_is_authorized_with_its_principal() {
        let s = services().await;
        let acc = keygate_core::testing::account(&s).await;
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

    /// A DPoP-bound token is authorized with a proof for the event's own method and path
    /// (`requestContext.http.method`, `rawPath`), and refused as Bearer or with a proof for
    /// another route — the authorizer enforces the binding, not only `whoami`.
    #[tokio::test]
    async fn a_dpop_token_is_authorized_only_with_its_proof_for_this_route() {
        use keygate_core::testing::dpop::ProofKey;
        let s = services().await;
        let key = ProofKey::es256();
        let jkt = key.jkt();
        let (acc, client, token) = keygate_core::testing::oauth_client_token(&s, Some(&jkt)).await;
        let now = s.now();
        let with = |scheme: &str, proof: Option<String>| {
            let mut event = sample();
            event.headers.insert(
                http::header::AUTHORIZATION,
                format!("{scheme} {token}").parse().unwrap(),
            );
            if let Some(p) = proof {
                event.headers.insert("dpop", p.parse().unwrap());
            }
            event
        };
        let whoami = "http://127.0.0.1:3000/api/whoami";
        let proof = key.proof("GET", whoami, now, Some(&token));
        let resp = authorize(&s, with("DPoP", Some(proof.clone()))).await;
        assert!(resp.is_authorized);
        assert_eq!(resp.context["accountId"], acc.account.id.to_string());
        assert_eq!(resp.context["clientId"], client.id);
        assert_eq!(resp.context["authMethod"], "DPOP");

        // The same proof again, a proof for another route or method, no proof, or Bearer.
        assert!(!authorize(&s, with("DPoP", Some(proof))).await.is_authorized);
        let elsewhere = key.proof(
            "GET",
            "http://127.0.0.1:3000/api/account",
            now,
            Some(&token),
        );
        assert!(
            !authorize(&s, with("DPoP", Some(elsewhere)))
                .await
                .is_authorized
        );
        let post = key.proof("POST", whoami, now, Some(&token));
        assert!(!authorize(&s, with("DPoP", Some(post))).await.is_authorized);
        assert!(!authorize(&s, with("DPoP", None)).await.is_authorized);
        assert!(!authorize(&s, with("Bearer", None)).await.is_authorized);
    }

    #[test]
    fn cookies_are_merged_into_one_header() {
        let h = with_cookies(HeaderMap::new(), &["a=1".into(), "kg_session=x".into()]);
        assert_eq!(h["cookie"], "a=1; kg_session=x");
    }
}
