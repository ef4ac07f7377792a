//! Client apps: `POST/GET /api/clientApps`, `GET/DELETE /api/clientApps/{clientId}`,
//! `POST /api/clientApps/{clientId}/rotate`.

use keygate_core::accounts::validate_name;
use keygate_core::clients::{self, Client, ClientKind, MAX_GRACE_SECONDS};
use keygate_core::identity::policy::Action;
use keygate_core::identity::Manager;
use keygate_core::kernel::crypto::Secret;
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::{empty, json, read_json};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::{audit, list_of, read_rotate};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientAppIn {
    name: String,
}

/// A client app as listed: never a secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientAppOut {
    client_id: String,
    name: String,
    created_at: i64,
    secret_created_at: Option<i64>,
    /// When a rotated-out secret stops working, if one still does.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_expires_at: Option<i64>,
}

impl From<&Client> for ClientAppOut {
    fn from(c: &Client) -> Self {
        Self {
            client_id: c.id.clone(),
            name: c.name.clone(),
            created_at: c.created_at,
            secret_created_at: c.secrets.first().map(|s| s.created_at),
            previous_secret_expires_at: c.secrets.get(1).and_then(|s| s.expires_at),
        }
    }
}

/// Creation and rotation answers: the secret, this once.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientAppSecretOut {
    #[serde(flatten)]
    app: ClientAppOut,
    secret: keygate_core::kernel::crypto::Secret,
}

pub async fn create(s: &Services, m: &Manager, req: &Request) -> ApiResult<Response<Body>> {
    let input: ClientAppIn = read_json(req)?;
    let (app, secret) = add(s, m, &input.name).await?;
    Ok(json(
        201,
        &ClientAppSecretOut {
            app: (&app).into(),
            secret,
        },
    ))
}

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

pub async fn list(s: &Services, m: &Manager) -> ApiResult<Response<Body>> {
    let apps = clients::list(&*s.table, &m.account.id, ClientKind::App).await?;
    Ok(list_of(apps.iter().map(ClientAppOut::from).collect()))
}

pub async fn get(s: &Services, m: &Manager, id: &str) -> ApiResult<Response<Body>> {
    let (app, _) = clients::get_owned(&*s.table, &m.account.id, ClientKind::App, id).await?;
    Ok(json(200, &ClientAppOut::from(&app)))
}

/// Revocation: the record goes, so every token of the app fails from the next request on.
pub async fn delete(s: &Services, m: &Manager, id: &str) -> ApiResult<Response<Body>> {
    delete_client(s, m, ClientKind::App, id, "clientApp.revoke").await?;
    Ok(empty(204))
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

pub async fn rotate(
    s: &Services,
    m: &Manager,
    id: &str,
    req: &Request,
) -> ApiResult<Response<Body>> {
    let grace = read_rotate(req, 0, MAX_GRACE_SECONDS)?;
    let (app, secret) = rotate_secret(s, m, id, grace).await?;
    Ok(json(
        200,
        &ClientAppSecretOut {
            app: (&app).into(),
            secret,
        },
    ))
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
