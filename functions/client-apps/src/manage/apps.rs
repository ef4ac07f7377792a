//! Client apps, as both faces use them: create (speaking for its creator), rotate a secret (its
//! creator or the owner), revoke (any manager), each with its audit record.

use keygate_core::accounts::validate_name;
use keygate_core::clients::{self, Client, ClientKind};
use keygate_core::identity::policy::Action;
use keygate_core::identity::Manager;
use keygate_core::kernel::crypto::Secret;
use keygate_core::{ApiError, ApiResult, Services};

use crate::manage::audit;

/// A new client app named `name`, speaking for its creator (docs/CREDENTIALS.md),
/// with its secret in clear (shown once). The REST route and the console both call this.
pub(crate) async fn add(s: &Services, m: &Manager, name: &str) -> ApiResult<(Client, Secret)> {
    let name = validate_name("name", name)?;
    let now = s.now();
    let ring = s.keys.ring().await;
    let (app, secret) = Client::new_app(
        ring.peppers(),
        m.account.id.clone(),
        m.user.id.clone(),
        name,
        now,
    );
    clients::create(
        &*s.table,
        &app,
        vec![audit(m, "clientApp.create", Some(&app.id), now)?],
    )
    .await?;
    Ok((app, secret))
}

/// A client of the account that `m` may change: **a client belongs to its creator** (docs/CREDENTIALS.md
/// "Authorization"). Rotating its secret, asking for new credentials or changing its settings
/// is for its creator or the owner — a client speaks for its creator, so a lesser manager who
/// could rotate the owner's client would obtain a secret that speaks as the owner. Clients made
/// before creators were kept are the owner's. Anyone else is `403 client_not_yours`; deleting
/// (revoking) stays open to every manager ([`delete_client`]).
pub(crate) async fn changeable(
    s: &Services,
    m: &Manager,
    kind: ClientKind,
    id: &str,
) -> ApiResult<(Client, u64)> {
    let (client, rev) = clients::get_owned(&*s.table, &m.account.id, kind, id).await?;
    if m.may(Action::Owner) || client.created_by.as_ref() == Some(&m.user.id) {
        Ok((client, rev))
    } else {
        Err(ApiError::forbidden(
            "client_not_yours",
            "only the user who created this client, or the account owner, may change it or its credentials",
        ))
    }
}

/// Deletes a client app or OAuth client of the account, with its audit record: any manager
/// may (an incident-response action; the audit record names who did).
pub(crate) async fn delete_client(
    s: &Services,
    m: &Manager,
    kind: ClientKind,
    id: &str,
    action: &str,
) -> ApiResult<()> {
    let (client, rev) = clients::get_owned(&*s.table, &m.account.id, kind, id).await?;
    let now = s.now();
    clients::delete(
        &*s.table,
        &client,
        rev,
        vec![audit(m, action, Some(&client.id), now)?],
    )
    .await?;
    Ok(())
}

/// A new secret for the app, shown once; the old one keeps working for `grace` seconds. Its
/// creator's or the owner's to ask ([`changeable`]).
pub(crate) async fn rotate_secret(
    s: &Services,
    m: &Manager,
    id: &str,
    grace: i64,
) -> ApiResult<(Client, Secret)> {
    let (mut app, rev) = changeable(s, m, ClientKind::App, id).await?;
    let now = s.now();
    let ring = s.keys.ring().await;
    let secret = app.rotate(ring.peppers(), grace, now);
    let audit = audit(m, "clientApp.rotate", Some(&app.id), now)?;
    clients::save(&*s.table, &app, rev, vec![audit]).await?;
    Ok((app, secret))
}
