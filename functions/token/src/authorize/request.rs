//! The authorization request: its parameters — given in the query, or pushed before (RFC 9126)
//! and named by `request_uri` — and the checks that decide whether an error may be sent back to
//! the client's redirect URI (only once the client and that URI are verified).

use keygate_core::clients::{self, Client, ClientKind};
use keygate_core::oauth::par;
use keygate_core::Services;
use keygate_http::{escape_html, Form};
use serde::{Deserialize, Serialize};

use super::{page, Refusal};

/// The authorization request's parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AuthzRequest {
    pub(super) response_type: String,
    pub(super) client_id: String,
    pub(super) redirect_uri: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) state: Option<String>,
    pub(super) code_challenge: Option<String>,
    pub(super) code_challenge_method: Option<String>,
    /// RFC 9449 §10: the DPoP key the code is to be bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) dpop_jkt: Option<String>,
    /// A pushed request's `request_uri` (never stored with it).
    #[serde(skip)]
    pub(super) request_uri: Option<String>,
}

impl AuthzRequest {
    pub(super) fn from_form(f: &Form) -> Self {
        let g = |k: &str| f.get(k).map(str::to_owned);
        Self {
            response_type: g("response_type").unwrap_or_default(),
            client_id: g("client_id").unwrap_or_default(),
            redirect_uri: g("redirect_uri"),
            scope: g("scope"),
            state: g("state"),
            code_challenge: g("code_challenge"),
            code_challenge_method: g("code_challenge_method"),
            dpop_jkt: g("dpop_jkt"),
            request_uri: g("request_uri"),
        }
    }

    /// Every parameter, canonically, for the CSRF MAC.
    pub(super) fn canonical(&self) -> String {
        [
            self.response_type.as_str(),
            &self.client_id,
            self.redirect_uri.as_deref().unwrap_or(""),
            self.scope.as_deref().unwrap_or(""),
            self.state.as_deref().unwrap_or(""),
            self.code_challenge.as_deref().unwrap_or(""),
            self.code_challenge_method.as_deref().unwrap_or(""),
            self.dpop_jkt.as_deref().unwrap_or(""),
            self.request_uri.as_deref().unwrap_or(""),
        ]
        .join("\u{1f}")
    }

    pub(super) fn hidden_fields(&self) -> String {
        let mut out = String::new();
        let mut push = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.push_str(&format!(
                    "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                    escape_html(v)
                ));
            }
        };
        push("client_id", &Some(self.client_id.clone()));
        if self.request_uri.is_some() {
            // A pushed request travels by reference only.
            push("request_uri", &self.request_uri);
            return out;
        }
        push("response_type", &Some(self.response_type.clone()));
        push("redirect_uri", &self.redirect_uri);
        push("scope", &self.scope);
        push("state", &self.state);
        push("code_challenge", &self.code_challenge);
        push("code_challenge_method", &self.code_challenge_method);
        push("dpop_jkt", &self.dpop_jkt);
        out
    }
}

/// A pushed authorization request named by `request_uri`, if it is one.
pub(super) type Pushed = par::Found<AuthzRequest>;

/// The request a browser brings: as given, or — with `request_uri` — the one its client pushed
/// (RFC 9126 §4: then only `client_id` counts beside it). An unknown, expired, used or foreign
/// `request_uri` is a page: nothing about it can be trusted to redirect to.
pub(super) async fn resolve(
    s: &Services,
    r: AuthzRequest,
) -> Result<(AuthzRequest, Option<Pushed>), Refusal> {
    let Some(uri) = r.request_uri.clone() else {
        return Ok((r, None));
    };
    if r.client_id.is_empty() {
        return Err(page(400, "Invalid request", "client_id is missing."));
    }
    let ring = s.keys.ring().await;
    let found: Option<Pushed> = par::find(&*s.table, ring.peppers(), &uri, &r.client_id, s.now())
        .await
        .map_err(|e| Refusal::Failed(e.into()))?;
    let Some(found) = found else {
        return Err(page(
            400,
            "Invalid request",
            "This authorization request (request_uri) is unknown, has expired or was already used: start again from the application.",
        ));
    };
    let pushed = AuthzRequest {
        request_uri: Some(uri),
        ..found.params.clone()
    };
    Ok((pushed, Some(found)))
}

/// A pushed request gone between its reading and its use.
fn used_up() -> Refusal {
    page(
        400,
        "Invalid request",
        "This authorization request (request_uri) was already used or has expired: start again from the application.",
    )
}

/// Consumes the pushed request behind a decision: once it has produced a code or a refusal it
/// cannot be used again; a second decision on it (a replayed form, a race) is a page.
pub(super) async fn consume(s: &Services, pushed: Option<&Pushed>) -> Result<(), Refusal> {
    let Some(found) = pushed else {
        return Ok(());
    };
    match par::consume(&*s.table, found, s.now()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(used_up()),
        Err(e) => Err(Refusal::Failed(e.into())),
    }
}

/// Keeps the pushed request behind a consent page live until the form expires (`until`), the
/// first time the page is shown ([`par::hold`]); a request consumed meanwhile is a page.
pub(super) async fn hold(s: &Services, pushed: Option<&Pushed>, until: i64) -> Result<(), Refusal> {
    let Some(found) = pushed else {
        return Ok(());
    };
    match par::hold(&*s.table, found, until, s.now()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(used_up()),
        Err(e) => Err(Refusal::Failed(e.into())),
    }
}

/// The client and redirect URI, checked before anything may be redirected.
pub(super) async fn client_and_redirect(
    s: &Services,
    r: &AuthzRequest,
) -> Result<(Client, String), Refusal> {
    if r.client_id.is_empty() {
        return Err(page(400, "Invalid request", "client_id is missing."));
    }
    if !ClientKind::OAuth.id_well_formed(&r.client_id) {
        return Err(page(
            400,
            "Unknown application",
            "No application has this client_id.",
        ));
    }
    let client = match clients::get(&*s.table, &r.client_id).await {
        Ok(Some((c, _))) if c.kind == ClientKind::OAuth => c,
        Ok(_) => {
            return Err(page(
                400,
                "Unknown application",
                "No application has this client_id.",
            ))
        }
        Err(e) => return Err(Refusal::Failed(e.into())),
    };
    let registered = client
        .oauth
        .as_ref()
        .map(|o| o.redirect_uris.clone())
        .unwrap_or_default();
    let uri = match &r.redirect_uri {
        Some(u) if registered.iter().any(|x| x == u) => u.clone(),
        Some(_) => {
            return Err(page(
                400,
                "Invalid redirect URI",
                "The redirect_uri is not registered for this application.",
            ))
        }
        // FAPI 2.0 §5.3.2.2: a fapi2 client always names its redirect URI.
        None if client.oauth.as_ref().is_some_and(|o| o.fapi2()) => {
            return Err(page(
                400,
                "Invalid redirect URI",
                "redirect_uri is required for fapi2 clients.",
            ))
        }
        None if registered.len() == 1 => registered[0].clone(),
        None => {
            return Err(page(
                400,
                "Invalid redirect URI",
                "redirect_uri is required for this application.",
            ))
        }
    };
    Ok((client, uri))
}

/// [`check_flow`] for a request shown or decided at `/authorize`: a refusal sent back to the
/// client ends the pushed request behind it too (it has produced a refusal).
pub(super) async fn flow_or_consume(
    s: &Services,
    client: &Client,
    r: &AuthzRequest,
    uri: &str,
    pushed: Option<&Pushed>,
) -> Result<(bool, String), Refusal> {
    let flow = check_flow(client, r, uri, pushed.is_some());
    if flow.is_err() {
        consume(s, pushed).await?;
    }
    flow
}

/// The remaining checks, whose failures go back to the redirect URI; `pushed`: the request came
/// through `request_uri` (or is being pushed).
pub(super) fn check_flow(
    client: &Client,
    r: &AuthzRequest,
    uri: &str,
    pushed: bool,
) -> Result<(bool, String), Refusal> {
    let to_client =
        |error: &'static str, msg: &str| Refusal::Redirect(uri.to_owned(), error, msg.to_owned());
    let o = client.oauth.clone().unwrap_or_default();
    if o.requires_par() && !pushed {
        return Err(to_client(
            "invalid_request",
            "this client must push its authorization requests (PAR): send client_id and request_uri",
        ));
    }
    let implicit = match r.response_type.as_str() {
        "code" => false,
        "token" if o.implicit => true,
        "token" => {
            return Err(to_client(
                "unauthorized_client",
                "the implicit flow is not enabled for this client",
            ))
        }
        _ => {
            return Err(to_client(
                "unsupported_response_type",
                "response_type must be code or token",
            ))
        }
    };
    match &r.dpop_jkt {
        Some(_) if implicit => {
            return Err(to_client(
                "invalid_request",
                "dpop_jkt binds an authorization code: it does not apply to the implicit flow",
            ))
        }
        Some(j) if !keygate_core::oauth::dpop::is_thumbprint(j) => {
            return Err(to_client(
                "invalid_request",
                "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)",
            ))
        }
        _ => {}
    }
    let scope = keygate_core::oauth::granted_scope(client, r.scope.as_deref()).map_err(|_| {
        to_client(
            "invalid_scope",
            "a requested scope is not allowed for this client",
        )
    })?;
    match (&r.code_challenge, r.code_challenge_method.as_deref()) {
        (Some(c), Some("S256")) if (43..=128).contains(&c.len()) => {}
        (Some(_), Some("S256")) => {
            return Err(to_client("invalid_request", "code_challenge is malformed"))
        }
        (Some(_), _) => {
            return Err(to_client(
                "invalid_request",
                "code_challenge_method must be S256",
            ))
        }
        (None, Some(_)) => return Err(to_client("invalid_request", "code_challenge is missing")),
        (None, None) if o.public && !implicit => {
            return Err(to_client(
                "invalid_request",
                "PKCE (S256) is required for public clients",
            ))
        }
        (None, None) if o.fapi2() => {
            return Err(to_client(
                "invalid_request",
                "PKCE (S256) is required for fapi2 clients",
            ))
        }
        (None, None) => {}
    }
    Ok((implicit, scope))
}
