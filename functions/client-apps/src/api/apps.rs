//! Client apps: `POST/GET /api/clientApps`, `GET/DELETE /api/clientApps/{clientId}`,
//! `POST /api/clientApps/{clientId}/rotate`.

use keygate_core::clients::{self, Client, ClientKind, MAX_GRACE_SECONDS};
use keygate_core::identity::Manager;
use keygate_core::{ApiResult, Services};
use keygate_http::{empty, json, read_json};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::{list_of, read_rotate};

use crate::manage::apps::*;

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
