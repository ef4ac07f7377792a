//! `keygate-verify` Lambda authorizer: its services once per cold start, then a decision per
//! request.

keygate_http::event_main!(
    "keygate-verify",
    aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request,
    keygate_verify::start,
    keygate_verify::authorize
);
