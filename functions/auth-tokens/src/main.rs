//! `keygate-auth-tokens` Lambda: builds its services once per cold start, then serves requests.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let services = keygate::services::start("keygate-auth-tokens").await;
    let services = &services;
    lambda_http::run(lambda_http::service_fn(move |req| {
        keygate_auth_tokens::handle(services, req)
    }))
    .await
}
