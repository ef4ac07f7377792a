//! What input callbacks accept: validation of what a caller sends, before anything is stored.

use super::*;
use crate::kernel::urls::https_url;

/// Checks an event filter: known names only, no duplicates kept.
pub fn validate_events(events: &[String]) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if !is_event_type(e) {
            return Err(ApiError::bad_request(
                "event_unknown",
                format!(
                    "'{}' is not an event type",
                    crate::kernel::ids::printable(e)
                ),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// Checks a callback URL: absolute `https`, no credentials in it, at most 2048 characters; in
/// local mode `http` to a loopback host is allowed too. (Where it resolves to is checked again
/// at delivery, against the resolved addresses.)
pub fn validate_url(raw: &str, local_mode: bool) -> ApiResult<String> {
    https_url(raw, local_mode, "callback_url_invalid", "the callback URL")
}

/// Checks the parts of an OAuth 2.0 callback authentication: a client id and secret of 1–512
/// printable ASCII characters (the secret may be left out to keep the current one), an https
/// authorization server URL ([`validate_url`]'s rules), and a scope of RFC 6749 scope tokens,
/// stored with single spaces (`None` when empty).
pub fn validate_oauth(
    client_id: Option<&str>,
    client_secret: Option<&str>,
    authorization_server_url: Option<&str>,
    scope: Option<&str>,
    local_mode: bool,
) -> ApiResult<AuthChange> {
    let visible = |field: &'static str, v: &str| {
        // VSCHAR = %x20-7E (RFC 6749 Appendix A): spaces are allowed, and form-urlencoded
        // before Basic's base64 when sent.
        if v.is_empty() || v.len() > 512 || !v.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
            return Err(ApiError::bad_request(
                "oauth_credentials_invalid",
                format!("authentication.{field} must be 1-512 printable ASCII characters"),
            ));
        }
        Ok(v.to_owned())
    };
    fn required<'v>(field: &'static str, v: Option<&'v str>) -> ApiResult<&'v str> {
        v.ok_or_else(|| {
            ApiError::bad_request(
                "oauth_field_missing",
                format!("authentication.{field} is required for OAUTH2"),
            )
        })
    }
    let client_id = visible("clientId", required("clientId", client_id)?)?;
    let client_secret = client_secret
        .map(|s| visible("clientSecret", s))
        .transpose()?;
    let authorization_server_url = https_url(
        required("authorizationServerUrl", authorization_server_url)?,
        local_mode,
        "authorization_server_url_invalid",
        "the authorization server URL",
    )?;
    let scope = match scope {
        None => None,
        Some(raw) => {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3)
            let token_char =
                |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
            let tokens: Vec<&str> = raw.split(' ').filter(|t| !t.is_empty()).collect();
            if raw.len() > 1024 || !tokens.iter().all(|t| t.bytes().all(token_char)) {
                return Err(ApiError::bad_request(
                    "scope_invalid",
                    "authentication.scope is space-separated RFC 6749 scope tokens, at most 1024 characters",
                ));
            }
            (!tokens.is_empty()).then(|| tokens.join(" "))
        }
    };
    Ok(AuthChange::OAuth2 {
        client_id,
        client_secret,
        authorization_server_url,
        scope,
    })
}

/// Validates a callback key (sent as `Basic <key>`): 1–512 visible ASCII characters.
pub fn validate_key(key: &str) -> ApiResult<()> {
    if key.is_empty() || key.len() > 512 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "callback_key_invalid",
            "the callback key must be 1-512 visible ASCII characters",
        ));
    }
    Ok(())
}

/// Checks a `rateLimit`: deliveries per second, a positive integer up to [`MAX_RATE_LIMIT`].
pub fn validate_rate_limit(rate: Option<u64>) -> ApiResult<Option<u32>> {
    match rate {
        None => Ok(None),
        Some(n) if (1..=u64::from(MAX_RATE_LIMIT)).contains(&n) => Ok(Some(n as u32)),
        Some(_) => Err(ApiError::bad_request(
            "rate_limit_invalid",
            format!(
                "rateLimit is deliveries per second: a whole number from 1 to {MAX_RATE_LIMIT}"
            ),
        )),
    }
}
