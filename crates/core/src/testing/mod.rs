//! Test support that needs no AWS: in-memory services with a manual clock, an account, an
//! OAuth client and its token, DPoP proofs. (The local stack's support is `keygate_aws::testing`.)

use std::sync::Arc;

use crate::kernel::config::Config;
use crate::ports::services::Services;

pub mod dpop;
pub mod hooked;

pub const TEST_NOW: crate::kernel::clock::UnixSeconds = 1_800_000_000;

/// In-memory services with a manual clock at [`TEST_NOW`], as handler unit tests use them.
pub async fn memory_services() -> Services {
    Services::in_memory(
        Config::local("http://127.0.0.1:3000"),
        Arc::new(crate::kernel::clock::ManualClock::new(TEST_NOW)),
    )
    .await
}

/// An account on `services` (owner `owner@acme.test`), with its API key.
pub async fn account(services: &Services) -> crate::accounts::NewAccount {
    let ring = services.keys.ring().await;
    crate::accounts::create_account(
        &*services.table,
        ring.peppers(),
        &services.config,
        "Acme",
        "owner@acme.test",
        services.now(),
    )
    .await
    .expect("a valid account is created")
}

/// An `OAUTH2` account on `services` with one confidential client, and a client-credentials
/// access token of it (scope `Basic`), bound to the DPoP key `jkt` when given.
pub async fn oauth_client_token(
    services: &Services,
    jkt: Option<&str>,
) -> (crate::accounts::NewAccount, crate::clients::Client, String) {
    use crate::accounts::{update_settings, AuthMethod, AuthSettings};
    let acc = account(services).await;
    let settings = AuthSettings {
        method: AuthMethod::OAuth2,
        ..acc.account.settings.clone()
    };
    update_settings(&*services.table, &acc.account.id, settings, vec![])
        .await
        .expect("switch to OAUTH2");
    let ring = services.keys.ring().await;
    let now = services.now();
    let (client, _) = crate::clients::Client::new_oauth(
        ring.peppers(),
        acc.account.id.clone(),
        "Portal".into(),
        crate::clients::OAuthSettings {
            scopes: vec!["Basic".into()],
            ..Default::default()
        },
        now,
    );
    services
        .table
        .transact(vec![client.write(None).expect("client item")])
        .await
        .expect("store the client");
    let issuer = services.config.issuer.clone();
    let mint = crate::oauth::tokens::Mint {
        issuer: &issuer,
        account: &acc.account.id,
        subject: &client.id,
        subject_type: crate::identity::principal::SubjectType::Client,
        client_id: &client.id,
        kind: crate::oauth::tokens::TokenKind::Oauth,
        scope: "Basic",
        ttl: 300,
        sid: Some(client.secrets[0].id.clone()),
        fam: None,
        grant: "client_credentials",
        jkt,
        creator: None,
    };
    let (jwt, _) = crate::oauth::tokens::mint(&ring, &mint, now).expect("a token");
    (acc, client, jwt)
}
