//! Who the OAuth client is: Basic credentials (RFC 6749 §2.3.1), body credentials
//! (`client_secret_post`) where the route takes them, a client assertion (`private_key_jwt`,
//! RFC 7523: `client_assertion_type` + `client_assertion`, on every route), or, for public
//! clients, a `client_id` parameter; with lockout on repeated failures, the same for every
//! method. One method per request: an assertion with Basic or a body secret is
//! `invalid_request`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_core::accounts::{self, Account, AuthMethod};
use keygate_core::clients::{Client, ClientKind};
use keygate_core::identity::assertion::{self, ASSERTION_TYPE};
use keygate_core::identity::client_auth::Authenticated;
use keygate_core::{ApiError, ApiResult, Services};
use lambda_http::Request;

use keygate_core::kernel::error::OAuthError;
use keygate_http::Form;

pub fn invalid_client(reason: &'static str, msg: &'static str) -> ApiError {
    // `oauth_error_code` maps 401s to `invalid_client`.
    ApiError::unauthorized(reason, msg)
}

/// `client_id:secret` from `Authorization: Basic`, each part form-urlencoded before base64.
pub fn basic_credentials(req: &Request) -> ApiResult<Option<(String, String)>> {
    let mut values = req.headers().get_all(http::header::AUTHORIZATION).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::oauth(
            OAuthError::InvalidRequest,
            "the Authorization header is repeated",
        ));
    }
    let v = v
        .to_str()
        .map_err(|_| invalid_client("client_auth_malformed", "malformed client credentials"))?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client(
            "client_auth_scheme",
            "client credentials go in Authorization: Basic",
        ));
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid_client("client_auth_malformed", "malformed client credentials"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| invalid_client("client_auth_malformed", "malformed client credentials"))?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// An authenticated OAuth client and its account.
pub struct Authed {
    pub client: Client,
    pub account: Account,
    /// The secret used (`None` for a public client).
    pub secret_id: Option<String>,
}

/// How a route lets a client authenticate, beyond `client_secret_basic` and `private_key_jwt`
/// (always accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Methods {
    /// `client_id` + `client_secret` in the form body (`client_secret_post`, RFC 6749 §2.3.1),
    /// as Secured Signing's authorization-code and refresh examples send them.
    pub post: bool,
    /// A public client names itself with `client_id` alone (`none`).
    pub public: bool,
}

impl Methods {
    /// Client credentials and introspection: `Authorization: Basic` only (OneSpan).
    pub const BASIC: Self = Self {
        post: false,
        public: false,
    };
    /// Revocation: Basic, or a public client's `client_id`.
    pub const BASIC_OR_PUBLIC: Self = Self {
        post: false,
        public: true,
    };
    /// The authorization-code and refresh grants: Basic, body credentials, or a public client.
    pub const ANY: Self = Self {
        post: true,
        public: true,
    };
}

/// The request's client assertion (RFC 7523 §2.2), if it carries one: `client_assertion` with
/// `client_assertion_type` the JWT bearer URN; one without the other, or another type, is
/// `invalid_request`.
fn client_assertion(form: &Form) -> ApiResult<Option<&str>> {
    match (
        form.get("client_assertion_type"),
        form.get("client_assertion"),
    ) {
        (None, None) => Ok(None),
        (Some(ASSERTION_TYPE), Some(a)) => Ok(Some(a)),
        (Some(ASSERTION_TYPE), None) => Err(ApiError::oauth(
            OAuthError::InvalidRequest,
            "client_assertion_type without a client_assertion",
        )),
        (None, Some(_)) => Err(ApiError::oauth(
            OAuthError::InvalidRequest,
            "a client_assertion needs its client_assertion_type",
        )),
        (Some(_), _) => Err(ApiError::oauth(
            OAuthError::InvalidRequest,
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )),
    }
}

/// Authenticates the calling OAuth client (the shared checks with lockout,
/// [`keygate_core::identity::client_auth`]) by a client assertion, or by one of the `methods`:
/// two client authentications in one request (an assertion, Basic, a body secret) are
/// `invalid_request` (RFC 6749 §2.3), and so is a body secret where the route takes Basic only;
/// a `fapi2` client authenticates by its assertion only (`invalid_client` otherwise).
pub async fn authenticate(
    s: &Services,
    req: &Request,
    form: &Form,
    methods: Methods,
) -> ApiResult<Authed> {
    let basic = basic_credentials(req)?;
    let body_secret = form.get("client_secret");
    if let Some(signed) = client_assertion(form)? {
        if basic.is_some() || body_secret.is_some() {
            return Err(ApiError::oauth(
                OAuthError::InvalidRequest,
                "one client authentication per request: a client assertion, not Authorization: Basic or client_secret besides",
            ));
        }
        // RFC 7521 §4.2: a client_id beside the assertion names the same client. Compared with
        // the client the assertion names before anything is checked, so it burns nothing.
        let named = assertion::read(signed).map(|a| a.client_id().to_owned());
        if let (Some(body_id), Some(named)) = (form.get("client_id"), named) {
            if body_id != named {
                return Err(ApiError::oauth(
                    OAuthError::InvalidRequest,
                    "client_id differs from the client the assertion names",
                ));
            }
        }
        let Authenticated { client, secret_id } =
            keygate_core::identity::client_auth::authenticate_assertion(
                &keygate_core::ports::Ports::of(s).await,
                keygate_http::jwks::remote(s),
                signed,
                &s.config.issuer_for(req.headers()),
                keygate_http::source(req),
            )
            .await?;
        return with_account(s, client, secret_id).await;
    }
    let (id, secret) = match (basic, form.get("client_id"), body_secret) {
        (Some(_), _, Some(_)) => {
            return Err(ApiError::oauth(
                OAuthError::InvalidRequest,
                "one client authentication per request: Authorization: Basic or client_secret in the body, not both",
            ))
        }
        (None, _, Some(_)) if !methods.post => {
            return Err(ApiError::oauth(
                OAuthError::InvalidRequest,
                "client credentials go in the Authorization header only, never in the body",
            ))
        }
        (Some((id, secret)), body_id, None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(ApiError::oauth(
                    OAuthError::InvalidRequest,
                    "client_id differs from the authenticated client",
                ));
            }
            (id, Some(secret.to_owned()))
        }
        (None, Some(id), Some(secret)) => (id.to_owned(), Some(secret.to_owned())),
        (None, None, Some(_)) => {
            return Err(ApiError::oauth(
                OAuthError::InvalidRequest,
                "client_secret in the body needs its client_id",
            ))
        }
        (None, Some(id), None) if methods.public => (id.to_owned(), None),
        (None, _, None) => {
            return Err(invalid_client(
                "client_auth_missing",
                "client authentication is required (Authorization: Basic, or a client assertion)",
            ))
        }
    };
    let Authenticated { client, secret_id } = keygate_core::identity::client_auth::authenticate(
        &keygate_core::ports::Ports::of(s).await,
        ClientKind::OAuth,
        &id,
        secret.as_deref().filter(|x| !x.is_empty()),
        methods.public,
        keygate_http::source(req),
    )
    .await?;
    // FAPI 2.0 §5.3.2.1: a fapi2 client authenticates with private_key_jwt (mutual TLS is not
    // offered: docs/FAPI.md). A fapi2 client has keys and no secret, so a secret cannot pass
    // above; a record made before keys were required is refused here, before anything is issued.
    if client.oauth.as_ref().is_some_and(|o| o.fapi2()) {
        return Err(invalid_client(
            "client_auth_method",
            "fapi2 clients authenticate with a client assertion (private_key_jwt) only",
        ));
    }
    with_account(s, client, secret_id).await
}

/// The authenticated client's account, which must be on `OAUTH2`.
async fn with_account(
    s: &Services,
    client: Client,
    secret_id: Option<String>,
) -> ApiResult<Authed> {
    let account = accounts::get_account(&*s.table, &client.account_id)
        .await?
        .ok_or_else(|| invalid_client("account_unknown", "client authentication failed"))?;
    if account.settings.method != AuthMethod::OAuth2 {
        return Err(keygate_core::identity::method_refused(
            account.settings.method,
            "OAuth 2.0",
        ));
    }
    Ok(Authed {
        client,
        account,
        secret_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: &str) -> Request {
        http::Request::builder()
            .header("authorization", auth)
            .body(lambda_http::Body::Empty)
            .unwrap()
    }

    #[test]
    fn basic_parts_are_form_urldecoded() {
        // RFC 6749 §2.3.1: "a b" / "p:w%" encoded as a+b / p%3Aw%25.
        let raw = STANDARD.encode("a+b:p%3Aw%25");
        let (id, secret) = basic_credentials(&req(&format!("Basic {raw}")))
            .unwrap()
            .unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("a b", "p:w%"));
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        for bad in [
            "Basic !!!",
            "Bearer x",
            "Basic ",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            let e = basic_credentials(&req(bad)).unwrap_err();
            assert_eq!(e.status(), 401, "{bad}");
        }
    }
}
