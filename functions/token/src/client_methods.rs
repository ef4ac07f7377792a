//! Who the OAuth client is: Basic credentials (RFC 6749 §2.3.1), body credentials
//! (`client_secret_post`) where the route takes them, or, for public clients, a `client_id`
//! parameter; with lockout on repeated wrong secrets, the same for every method.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate_core::accounts::{self, Account, AuthMethod};
use keygate_core::clients::{Client, ClientKind};
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

/// How a route lets a client authenticate, beyond `client_secret_basic` (always accepted).
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

/// Authenticates the calling OAuth client (the shared check with lockout,
/// [`keygate_core::identity::client_auth::authenticate`]) by one of the `methods`: two client authentications
/// in one request (Basic and a body secret) are `invalid_request` (RFC 6749 §2.3), and so is a
/// body secret where the route takes Basic only; a `fapi2` client's body secret is
/// `invalid_client` (it authenticates by Basic only).
pub async fn authenticate(
    s: &Services,
    req: &Request,
    form: &Form,
    methods: Methods,
) -> ApiResult<Authed> {
    let basic = basic_credentials(req)?;
    let body_secret = form.get("client_secret");
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
                "client authentication is required (Authorization: Basic)",
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
    // docs/FAPI.md: a fapi2 client authenticates by `client_secret_basic` only,
    // refused before anything is issued. A departure from FAPI 2.0 §5.3.2.1, which allows only
    // `private_key_jwt` or mutual TLS (a later step); the body secret, the weaker of the
    // two secret methods, is at least ruled out.
    if body_secret.is_some() && client.oauth.as_ref().is_some_and(|o| o.fapi2()) {
        return Err(invalid_client(
            "client_auth_method",
            "fapi2 clients authenticate with Authorization: Basic (client_secret_basic) only",
        ));
    }
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
