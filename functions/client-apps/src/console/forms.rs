//! A console form: `application/x-www-form-urlencoded`, at most 64 KiB, where a field may repeat
//! (the event toggles, the scopes) — unlike the OAuth routes' forms.

use keygate_core::{ApiError, ApiResult};
use keygate_http::{body_bytes, require_content_type, MAX_BODY};
use lambda_http::Request;

/// Its values include the CSRF token, a callback key and an OAuth client secret: `Debug` prints
/// the field names only, each value as `***`.
#[derive(Default)]
pub struct ConsoleForm(Vec<(String, String)>);

impl std::fmt::Debug for ConsoleForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, _)| (n, "***")))
            .finish()
    }
}

impl ConsoleForm {
    pub fn parse(req: &Request) -> ApiResult<Self> {
        require_content_type(req, "application/x-www-form-urlencoded")?;
        let bytes = body_bytes(req);
        if bytes.len() > MAX_BODY {
            return Err(ApiError::too_large(MAX_BODY));
        }
        Ok(Self(
            url::form_urlencoded::parse(bytes).into_owned().collect(),
        ))
    }

    /// The field's first value, trimmed; empty counts as absent.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-empty value of a repeated field, in order.
    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, v)| n == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// A checkbox: present and not empty.
    pub fn checked(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_repeat_and_blank_is_absent() {
        let req = http::Request::builder()
            .header("content-type", "application/x-www-form-urlencoded")
            .body(lambda_http::Body::from(
                "events=A&events=B&name=+x+&blank=&events=",
            ))
            .unwrap();
        let f = ConsoleForm::parse(&req).unwrap();
        assert_eq!(f.all("events"), ["A", "B"]);
        assert_eq!(f.get("name"), Some("x"));
        assert_eq!(f.get("blank"), None);
        assert!(!f.checked("missing"));
    }

    #[test]
    fn debug_never_shows_a_value() {
        let req = http::Request::builder()
            .header("content-type", "application/x-www-form-urlencoded")
            .body(lambda_http::Body::from(
                "csrf=csrf-t0ken-value&key=cb-k3y-value&clientSecret=0auth-s3cret-value",
            ))
            .unwrap();
        let f = ConsoleForm::parse(&req).unwrap();
        let shown = format!("{f:?} {f:#?}");
        for secret in ["csrf-t0ken-value", "cb-k3y-value", "0auth-s3cret-value"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("csrf") && shown.contains("***"), "{shown}");
    }
}
