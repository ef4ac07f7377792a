//! Scope policy (pure): what an authorization or token request is granted, and what a refresh
//! keeps.

use crate::clients::Client;
use crate::kernel::error::{ApiError, ApiResult, OAuthError};

fn invalid_scope(msg: &'static str) -> ApiError {
    ApiError::oauth(OAuthError::InvalidScope, msg)
}

/// The client's allowed scopes.
fn allowed(client: &Client) -> &[String] {
    client
        .oauth
        .as_ref()
        .map(|o| o.scopes.as_slice())
        .unwrap_or(&[])
}

/// The granted scope: the requested one if it is a subset of the client's (case-sensitive,
/// duplicates dropped), else `invalid_scope`; all of the client's when none is asked for.
pub fn granted_scope(client: &Client, requested: Option<&str>) -> ApiResult<String> {
    let allowed = allowed(client);
    let Some(req) = requested else {
        return Ok(allowed.join(" "));
    };
    let mut out: Vec<&str> = Vec::new();
    for sc in req.split(' ').filter(|x| !x.is_empty()) {
        if !allowed.iter().any(|a| a == sc) {
            return Err(invalid_scope(
                "a requested scope is not allowed for this client (scopes are case-sensitive)",
            ));
        }
        if !out.contains(&sc) {
            out.push(sc);
        }
    }
    if out.is_empty() {
        return Err(invalid_scope("the scope is empty"));
    }
    Ok(out.join(" "))
}

/// The scope of a refreshed grant: the requested one (or the original grant's), never wider
/// than the grant, and narrowed to what the client is allowed **now** — an owner who takes a
/// scope away from a client takes it away from its refresh tokens too.
pub fn refreshed_scope(
    granted: &str,
    client: &Client,
    requested: Option<&str>,
) -> ApiResult<String> {
    let had: Vec<&str> = granted.split_whitespace().collect();
    let wanted: Vec<&str> = match requested {
        None => had.clone(),
        Some(r) => {
            let wanted: Vec<&str> = r.split_whitespace().collect();
            if wanted.iter().any(|sc| !had.contains(sc)) {
                return Err(invalid_scope(
                    "the requested scope exceeds the original grant",
                ));
            }
            wanted
        }
    };
    let allowed = allowed(client);
    let mut out: Vec<&str> = Vec::new();
    for sc in wanted {
        if allowed.iter().any(|a| a == sc) && !out.contains(&sc) {
            out.push(sc);
        }
    }
    if out.is_empty() {
        return Err(invalid_scope(
            "the client is no longer allowed any scope of this grant",
        ));
    }
    Ok(out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::OAuthSettings;
    use crate::kernel::crypto::{Pepper, Peppers};
    use crate::kernel::ids::AccountId;

    fn client_with_scopes(scopes: &[&str]) -> Client {
        let peppers = Peppers::new(vec![Pepper::generate("p")]);
        let settings = OAuthSettings {
            redirect_uris: vec![],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            domain: None,
            public: false,
            implicit: false,
            ..Default::default()
        };
        Client::new_oauth(&peppers, AccountId::generate(), "c".into(), settings, 1).0
    }

    #[test]
    fn granted_scopes_are_a_subset_of_the_clients() {
        let c = client_with_scopes(&["Basic", "ISign"]);
        assert_eq!(granted_scope(&c, None).unwrap(), "Basic ISign");
        assert_eq!(granted_scope(&c, Some("ISign ISign")).unwrap(), "ISign");
        assert!(granted_scope(&c, Some("basic")).is_err());
        assert!(granted_scope(&c, Some(" ")).is_err());
    }

    #[test]
    fn refresh_never_widens_and_follows_the_clients_scopes() {
        let c = client_with_scopes(&["Basic", "ISign"]);
        assert_eq!(
            refreshed_scope("Basic ISign", &c, None).unwrap(),
            "Basic ISign"
        );
        assert_eq!(
            refreshed_scope("Basic ISign", &c, Some("ISign")).unwrap(),
            "ISign"
        );
        assert!(refreshed_scope("Basic", &c, Some("Basic ISign")).is_err());
        let narrowed = client_with_scopes(&["Basic"]);
        assert_eq!(
            refreshed_scope("Basic ISign", &narrowed, None).unwrap(),
            "Basic"
        );
        let none = client_with_scopes(&["WeSign"]);
        assert_eq!(
            refreshed_scope("Basic ISign", &none, None)
                .unwrap_err()
                .reason,
            "invalid_scope"
        );
    }
}
