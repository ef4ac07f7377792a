//! What input clients accept: validation of what a caller sends, before anything is stored.

use super::*;

/// Checks a scope list: known, case-sensitive, at least one; duplicates dropped.
pub fn validate_scopes(scopes: &[String]) -> ApiResult<Vec<String>> {
    if scopes.is_empty() {
        return Err(ApiError::bad_request(
            "scopes_empty",
            "at least one scope is required",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        if !SCOPES.contains(&s.as_str()) {
            return Err(ApiError::bad_request(
                "scope_unknown",
                format!(
                    "'{}' is not a scope (scopes are case-sensitive: {})",
                    crate::kernel::ids::printable(s),
                    SCOPES.join(" ")
                ),
            ));
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

/// Checks redirect URIs: absolute, no fragment, `https` — or `http` on a loopback host (RFC 8252
/// native apps); at most 10.
pub fn validate_redirect_uris(uris: &[String]) -> ApiResult<Vec<String>> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(ApiError::bad_request(
            "redirect_uris_too_many",
            "at most 10 redirect URIs",
        ));
    }
    let mut out = Vec::new();
    for raw in uris {
        let bad = || {
            ApiError::bad_request("redirect_uri_invalid", format!("'{}' is not an acceptable redirect URI (absolute https, no fragment; http only for localhost)", crate::kernel::ids::printable(raw)))
        };
        if raw.len() > 2048 {
            return Err(bad());
        }
        let u = url::Url::parse(raw).map_err(|_| bad())?;
        // Stored as sent and matched exactly, so what was sent must already be the parsed form:
        // the parser silently drops tabs and newlines and rewrites other forms, and a stored
        // value with a control character could never be sent back in a header.
        if u.as_str() != raw {
            return Err(ApiError::bad_request(
                "redirect_uri_not_normalised",
                format!(
                    "'{}' is not in normal form: send it as '{}'",
                    crate::kernel::ids::printable(raw),
                    crate::kernel::ids::printable(u.as_str())
                ),
            ));
        }
        if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
            return Err(bad());
        }
        let loopback = match u.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(bad()),
        };
        match u.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(bad()),
        }
        // Stored exactly as given: redirect URIs are matched exactly.
        if !out.contains(raw) {
            out.push(raw.clone());
        }
    }
    Ok(out)
}

/// Checks a registered domain (where signed requests may come from): a hostname of at least two
/// labels (`example.com`, not `com`), stored lowercase and without a trailing dot. Whitespace and
/// control characters are refused, not trimmed.
pub fn validate_domain(domain: &str) -> ApiResult<String> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.contains('.')
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(d)
    } else {
        Err(ApiError::bad_request(
            "domain_invalid",
            "domain must be a hostname such as app.example.com",
        ))
    }
}
