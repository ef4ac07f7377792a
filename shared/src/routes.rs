//! Every HTTP route keygate serves, with the function that serves it: the local API server
//! dispatches with this table, and tests check that `template.yaml` and `infra/openapi.yaml`
//! list exactly these routes.

/// The Lambda function a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Token,
    AuthTokens,
    ClientApps,
}

/// One route. `authorizer` is true when API Gateway runs the `verify` authorizer first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// Path with `{param}` segments, as in `template.yaml`.
    pub path: &'static str,
    pub function: Function,
    pub authorizer: bool,
}

const fn r(method: &'static str, path: &'static str, function: Function) -> Route {
    Route {
        method,
        path,
        function,
        authorizer: false,
    }
}

pub const ROUTES: &[Route] = &[
    r("GET", "/.well-known/jwks.json", Function::Token),
    r(
        "GET",
        "/.well-known/oauth-authorization-server",
        Function::Token,
    ),
    r("POST", "/apitoken/clientApp/accessToken", Function::Token),
    r("POST", "/api/oauth2/token", Function::Token),
    r("GET", "/api/oauth2/authorize", Function::Token),
    r("POST", "/api/oauth2/authorize", Function::Token),
    r("POST", "/api/oauth2/revoke", Function::Token),
    r("POST", "/api/oauth2/introspect", Function::Token),
    r(
        "POST",
        "/api/authenticationTokens/user",
        Function::AuthTokens,
    ),
    r(
        "POST",
        "/api/authenticationTokens/sender",
        Function::AuthTokens,
    ),
    r(
        "POST",
        "/api/authenticationTokens/signer/multiUse",
        Function::AuthTokens,
    ),
    r(
        "POST",
        "/api/authenticationTokens/signer/singleUse",
        Function::AuthTokens,
    ),
    r("GET", "/auth", Function::AuthTokens),
    r("GET", "/access", Function::AuthTokens),
    Route {
        method: "GET",
        path: "/api/whoami",
        function: Function::ClientApps,
        authorizer: true,
    },
    r("GET", "/api/clientApps", Function::ClientApps),
    r("POST", "/api/clientApps", Function::ClientApps),
    r("GET", "/api/clientApps/{clientId}", Function::ClientApps),
    r("DELETE", "/api/clientApps/{clientId}", Function::ClientApps),
    r(
        "POST",
        "/api/clientApps/{clientId}/rotate",
        Function::ClientApps,
    ),
    r("GET", "/api/oauth2/clients", Function::ClientApps),
    r("POST", "/api/oauth2/clients", Function::ClientApps),
    r(
        "GET",
        "/api/oauth2/clients/{clientId}",
        Function::ClientApps,
    ),
    r(
        "PUT",
        "/api/oauth2/clients/{clientId}",
        Function::ClientApps,
    ),
    r(
        "DELETE",
        "/api/oauth2/clients/{clientId}",
        Function::ClientApps,
    ),
    r(
        "POST",
        "/api/oauth2/clients/{clientId}/rotate",
        Function::ClientApps,
    ),
    r("GET", "/api/account/apiKey", Function::ClientApps),
    r(
        "POST",
        "/api/account/apiKey/regenerate",
        Function::ClientApps,
    ),
    r("GET", "/api/account/authSettings", Function::ClientApps),
    r("PUT", "/api/account/authSettings", Function::ClientApps),
    r("GET", "/api/callback", Function::ClientApps),
    r("PUT", "/api/callback", Function::ClientApps),
    r("DELETE", "/api/callback", Function::ClientApps),
    r("POST", "/api/callback/secret/rotate", Function::ClientApps),
    r("GET", "/api/callback/attempts", Function::ClientApps),
    r("GET", "/api/callback/endpoints", Function::ClientApps),
    r("POST", "/api/callback/endpoints", Function::ClientApps),
    r(
        "GET",
        "/api/callback/endpoints/{endpointId}",
        Function::ClientApps,
    ),
    r(
        "PUT",
        "/api/callback/endpoints/{endpointId}",
        Function::ClientApps,
    ),
    r(
        "DELETE",
        "/api/callback/endpoints/{endpointId}",
        Function::ClientApps,
    ),
    r(
        "POST",
        "/api/callback/endpoints/{endpointId}/secret/rotate",
        Function::ClientApps,
    ),
];

/// Matches a concrete path against a route pattern.
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.split('/');
    let mut q = path.split('/');
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let param = a.starts_with('{') && a.ends_with('}');
                if !(param && !b.is_empty() || a == b) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The route for a method and path: `Ok(route)`, or `Err(true)` when the path exists with other
/// methods (405), `Err(false)` when it does not (404).
pub fn find(method: &str, path: &str) -> Result<&'static Route, bool> {
    let mut path_known = false;
    for route in ROUTES {
        if matches(route.path, path) {
            if route.method.eq_ignore_ascii_case(method) {
                return Ok(route);
            }
            path_known = true;
        }
    }
    Err(path_known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        assert!(matches(
            "/api/clientApps/{clientId}",
            "/api/clientApps/app_x"
        ));
        assert!(!matches("/api/clientApps/{clientId}", "/api/clientApps/"));
        assert!(!matches(
            "/api/clientApps/{clientId}",
            "/api/clientApps/a/b"
        ));
        assert!(!matches("/api/whoami", "/api/whoami/x"));
    }

    #[test]
    fn find_tells_404_from_405() {
        assert!(find("GET", "/api/whoami").is_ok());
        assert!(find("POST", "/api/whoami").unwrap_err());
        assert!(!find("GET", "/nope").unwrap_err());
    }
}
