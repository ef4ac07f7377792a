//! Form bodies and queries (`application/x-www-form-urlencoded`) of the OAuth routes.

use std::collections::HashMap;

use lambda_http::Request;

use super::{body_bytes, require_content_type, MAX_BODY};
use keygate_core::kernel::error::{ApiError, ApiResult, OAuthError};

fn invalid_request(msg: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::oauth(OAuthError::InvalidRequest, msg)
}

/// A form; a repeated parameter is refused (RFC 6749 §3.1, §3.2). Its values are client
/// secrets, codes, verifiers, refresh tokens and assertions as often as not: `Debug` prints the
/// parameter names only, each value as `***`.
#[derive(Default)]
pub struct Form(HashMap<String, String>);

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.0.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_map()
            .entries(names.into_iter().map(|n| (n, "***")))
            .finish()
    }
}

impl Form {
    /// The body of a form route: sent as `application/x-www-form-urlencoded` (else `415`), at
    /// most [`MAX_BODY`] bytes.
    pub fn parse(req: &Request) -> ApiResult<Self> {
        require_content_type(req, "application/x-www-form-urlencoded")?;
        let bytes = body_bytes(req);
        if bytes.len() > MAX_BODY {
            return Err(ApiError::too_large(MAX_BODY));
        }
        Self::parse_str(
            std::str::from_utf8(bytes).map_err(|_| invalid_request("the body is not UTF-8"))?,
        )
    }

    /// The request's query string as a form.
    pub fn query(req: &Request) -> ApiResult<Self> {
        Self::parse_str(req.uri().query().unwrap_or(""))
    }

    pub fn parse_str(text: &str) -> ApiResult<Self> {
        let mut m = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
            if m.insert(k.clone().into_owned(), v.into_owned()).is_some() {
                return Err(invalid_request(format!("the parameter {k} is repeated")));
            }
        }
        Ok(Self(m))
    }

    /// A parameter; empty values count as absent (RFC 6749 §3.1).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn require(&self, k: &'static str) -> ApiResult<&str> {
        self.get(k)
            .ok_or_else(|| invalid_request(format!("the parameter {k} is required")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_form_parameters_are_refused() {
        assert!(Form::parse_str("a=1&a=2").is_err());
        let f = Form::parse_str("a=1&b=&c=x%20y").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.get("c"), Some("x y"));
    }

    #[test]
    fn debug_shows_names_never_values() {
        let f = Form::parse_str(
            "grant_type=refresh_token&client_secret=s3cr3t-value&refresh_token=s3cr3t-value",
        )
        .unwrap();
        let shown = format!("{f:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(
            shown.contains("client_secret") && shown.contains("***"),
            "{shown}"
        );
    }
}
