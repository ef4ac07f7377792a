//! `keygate-local`: the local API server. Embedded default (in-memory, nothing else to start);
//! with the local stack's variables (`source .cache/stack/env`) it runs on DynamoDB Local and
//! moto instead.

use keygate_core::accounts;

#[tokio::main]
async fn main() {
    keygate_http::telemetry::init();
    if let Err(e) = run().await {
        eprintln!("keygate-local: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let addr = keygate_local::listen_addr()?;
    let mut config = keygate_core::kernel::config::Config::from_env().map_err(|e| e.to_string())?;
    if std::env::var("KEYGATE_ISSUER").is_err() {
        // Local mode: the issuer is the server's own base URL.
        config.issuer = format!("http://{addr}");
        config.redirect_allowlist.push(config.issuer.clone());
    }
    let memory = config.backend == keygate_core::kernel::config::Backend::Memory;
    let queues = keygate_aws::queues_from_config(&config).await;
    let services = keygate_aws::services_from_config(config)
        .await
        .map_err(|e| e.to_string())?;
    if !memory {
        keygate_local::probe(&services, &queues).await?;
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let running =
        keygate_local::serve(listener, services.clone(), queues).map_err(|e| e.to_string())?;

    let ring = services.keys.ring().await;
    let demo = accounts::create_account(
        &*services.table,
        ring.peppers(),
        &services.config,
        "Demo account",
        "demo@keygate.local",
        services.now(),
    )
    .await
    .map_err(|e| format!("cannot create the demo account: {e}"))?;
    println!(
        "keygate local API on {} ({})",
        running.base_url(),
        if memory { "in-memory" } else { "local stack" }
    );
    println!(
        "demo account {}: API key {}",
        demo.account.id,
        demo.api_key.expose()
    );
    println!(
        "try: curl -s -H 'Authorization: Basic {}' {}/api/whoami",
        demo.api_key.expose(),
        running.base_url()
    );
    // A ready sign-in link to the console: a user authentication token of the demo owner
    // (single use, valid for the account's authentication-token lifetime).
    let token = keygate_core::authtokens::mint(
        &keygate_core::authtokens::Ports::of(&services).await,
        &demo.account,
        keygate_core::authtokens::Grant::User {
            user_id: demo.owner.id.clone(),
        },
        keygate_core::identity::chain::Chain::from(keygate_core::identity::chain::Root::ApiKey {
            user_id: demo.owner.id.clone(),
            key: demo.owner.api_key_hash.clone(),
        }),
    )
    .await
    .map_err(|e| format!("cannot mint the console sign-in token: {e}"))?;
    println!(
        "console: {}/auth?authenticationToken={}&target=/admin/api-access (single use, {} min)",
        running.base_url(),
        token.value.expose(),
        keygate_core::authtokens::token_ttl(&demo.account.settings) / 60
    );
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    Ok(())
}
