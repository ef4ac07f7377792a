//! URLs of integrators' servers that keygate calls, checked once for every kind.

use crate::kernel::error::{ApiError, ApiResult};

/// An integrator's URL keygate calls (a callback, an authorization server, a `jwksUri`): absolute
/// `https`, no credentials or fragment, at most 2048 characters, nothing the parser would drop
/// silently; in local mode `http` to a loopback host is allowed too. Refused with `reason`, the
/// message naming `what`. (Where it resolves to is checked again at every call.)
pub fn https_url(
    raw: &str,
    local_mode: bool,
    reason: &'static str,
    what: &'static str,
) -> ApiResult<String> {
    let bad = |msg: &str| ApiError::bad_request(reason, format!("{what} {msg}"));
    if raw.len() > 2048 {
        return Err(bad("is longer than 2048 characters"));
    }
    // The parser would silently drop these; what is stored must be what was meant.
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("must not contain whitespace or control characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("is not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("has no host")),
    };
    match url.scheme() {
        "https" => Ok(url.to_string()),
        "http" if local_mode && loopback => Ok(url.to_string()),
        _ => Err(bad("must be https")),
    }
}
