//! `keygate-verify` Lambda authorizer: builds its services once per cold start, then decides.

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let services = keygate::services::start("keygate-verify").await;
    let services = &services;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            Ok::<_, std::convert::Infallible>(
                keygate_verify::authorize(services, event.payload).await,
            )
        },
    ))
    .await
}
