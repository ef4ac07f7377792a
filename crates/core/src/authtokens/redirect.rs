//! Where `/auth` and `/access` send the browser: pure policy, no I/O.

use crate::kernel::config::Config;
use crate::kernel::error::{ApiError, ApiResult};

use super::PackageId;

fn target_refused() -> ApiError {
    ApiError::bad_request(
        "target_not_allowed",
        "the target is not on this service's redirect allowlist",
    )
}

fn origin_of(u: &url::Url) -> Option<(String, String, u16)> {
    Some((
        u.scheme().to_owned(),
        u.host_str()?.to_ascii_lowercase(),
        u.port_or_known_default()?,
    ))
}

/// Where `/auth` may send the browser (docs/CREDENTIALS.md: no open redirect): the `Location` for
/// `target`, or `400 target_not_allowed`.
///
/// Allowed are a relative path starting with a single `/` (keygate's own paths), and an
/// absolute `http`/`https` URL without credentials whose origin (scheme, host, port) is the
/// origin of an entry of `config.redirect_allowlist`. Control characters, whitespace and
/// backslashes are refused outright: browsers strip or rewrite them (`/\evil.test`,
/// `/<TAB>/evil.test` become `//evil.test`), which is how allowlists are usually slipped.
///
/// The check is made on the **normalised** URL — dot segments (`/./`, `/../`, `/%2e/`) removed,
/// as the browser will — and that normalised form is what is sent: a path that normalises to
/// `//host/…` would be followed as a network-path reference to another host, so it is refused,
/// whatever the raw target looked like (`/.//evil.test`, `/a/..//evil.test`).
pub fn redirect_location(config: &Config, target: &str) -> ApiResult<String> {
    if target.is_empty()
        || target
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(target_refused());
    }
    if target.starts_with('/') {
        // Normalise (percent-encoding, dot segments) against a base of our own; the result
        // must stay on that base's origin and read back as a path of it.
        let base = url::Url::parse("https://keygate.invalid/").map_err(|_| target_refused())?;
        let joined = base.join(target).map_err(|_| target_refused())?;
        if origin_of(&joined) != origin_of(&base) {
            return Err(target_refused());
        }
        let location = &joined[url::Position::BeforePath..];
        if !location_stays_here(location) {
            return Err(target_refused());
        }
        return Ok(location.to_owned());
    }
    let url = url::Url::parse(target).map_err(|_| target_refused())?;
    if !matches!(url.scheme(), "https" | "http")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(target_refused());
    }
    let origin = origin_of(&url).ok_or_else(target_refused)?;
    let allowed = config
        .redirect_allowlist
        .iter()
        .filter_map(|entry| url::Url::parse(entry).ok())
        .filter_map(|entry| origin_of(&entry))
        .any(|o| o == origin);
    if allowed {
        Ok(url.to_string())
    } else {
        Err(target_refused())
    }
}

/// Whether a `Location` that starts with `/` is resolved by a browser as a path of this origin:
/// one `/` then a character that is neither `/` nor `\` (which browsers treat as `/`), or the
/// root alone. Pure.
fn location_stays_here(location: &str) -> bool {
    let mut chars = location.chars();
    chars.next() == Some('/') && !matches!(chars.next(), Some('/' | '\\'))
}

/// The signing ceremony's URL for a package: `config.signing_url` with `{packageId}` replaced by
/// the percent-encoded id (RFC 3986 unreserved characters kept).
pub fn signing_location(config: &Config, package: &PackageId) -> String {
    let mut encoded = String::with_capacity(package.as_str().len() * 3);
    for b in package.as_str().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    config.signing_url.replace("{packageId}", &encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(s: &str) -> PackageId {
        PackageId::parse(Some(s)).unwrap()
    }

    #[test]
    fn redirects_stay_on_the_allowlist() {
        let mut config = Config::local("http://127.0.0.1:3000");
        config.redirect_allowlist = vec![
            "http://127.0.0.1:3000".into(),
            "https://app.example.com".into(),
        ];
        for (target, location) in [
            ("/a/dashboard", "/a/dashboard"),
            ("/a/transaction/p1?x=1#f", "/a/transaction/p1?x=1#f"),
            ("/a/../b", "/b"),
            // Encoded slashes and backslashes stay encoded: browsers do not decode them.
            ("/./%2f/evil.test", "/%2f/evil.test"),
            ("/%5C/evil.test", "/%5C/evil.test"),
            (
                "https://app.example.com/a/dashboard",
                "https://app.example.com/a/dashboard",
            ),
            ("https://APP.example.com:443/x", "https://app.example.com/x"),
            (
                "http://127.0.0.1:3000/oauth/consent",
                "http://127.0.0.1:3000/oauth/consent",
            ),
        ] {
            assert_eq!(
                redirect_location(&config, target).unwrap(),
                location,
                "{target}"
            );
        }
        for target in [
            "https://evil.test",
            "//evil.test",
            "///evil.test",
            "/\\evil.test",
            "/\t/evil.test",
            "/.//evil.test/x",
            "/..//evil.test/x",
            "/%2e//evil.test/x",
            "/%2E//evil.test/x",
            "/a/..//evil.test/x",
            "/a/%2e%2e//evil.test/x",
            "/\u{0}/x",
            "/a\u{7f}/x",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "https://app.example.com.evil.test/",
            "https://app.example.com@evil.test/",
            "https://user@app.example.com/",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "http://127.0.0.1:3001/",
            "a/relative",
            "",
        ] {
            let e = redirect_location(&config, target).unwrap_err();
            assert_eq!(e.reason, "target_not_allowed", "{target}");
        }
    }

    #[test]
    fn locations_that_leave_the_origin_are_recognised() {
        assert!(location_stays_here("/"));
        assert!(location_stays_here("/a//b"));
        assert!(location_stays_here("/?x=//y"));
        assert!(!location_stays_here("//evil.test"));
        assert!(!location_stays_here("/\\evil.test"));
        assert!(!location_stays_here("a"));
    }

    #[test]
    fn signing_url_gets_the_encoded_package() {
        let mut config = Config::local("http://127.0.0.1:3000");
        config.signing_url = "https://sign.example.com/packages/{packageId}/sign".into();
        assert_eq!(
            signing_location(&config, &pkg("5vjLRY5MWrDJ6MzRAEyCKOy5IH0=")),
            "https://sign.example.com/packages/5vjLRY5MWrDJ6MzRAEyCKOy5IH0%3D/sign"
        );
        assert_eq!(
            signing_location(&config, &pkg("a/b?c&d")),
            "https://sign.example.com/packages/a%2Fb%3Fc%26d/sign"
        );
    }
}
