//! Authorization as one model (docs/CREDENTIALS.md): **one pure function**, [`decide`], answers whether a caller may take
//! an [`Action`]. Every route of every function declares the access it needs in its registry
//! (`keygate_http::routes::Access`); the dispatcher (or, for console pages, the console's session
//! opener) authenticates the caller, loads the facts [`decide`] needs into a [`Standing`], and
//! asks it. No handler decides who may call it; the few actions narrower than their route
//! (revealing the API key, changing a callback's URL) ask [`decide`] for [`Action::Owner`].
//!
//! The table, as [`decide`] implements it (a credential of the account's other method is refused
//! earlier, at authentication):
//!
//! | [`Kind`] | platform | mint | manage | owner-only |
//! |---|---|---|---|---|
//! | `ApiKey { owner: true }` | ✓ | ✓ | ✓ | ✓ |
//! | `ApiKey { owner: false }` | ✓ | while it may manage | while it may manage | ✗ |
//! | `Integration` | ✓ | while its creator may manage | ✗ | ✗ |
//! | `Delegated`, `SignedRequest` | ✓ | ✗ | ✗ | ✗ |
//! | `ConsoleSession { owner }` | ✓ | with CSRF, while it may manage | with CSRF, while it may manage | with CSRF, if `owner` |
//! | `IntegrationSession` | ✓ | ✗ | ✗ | ✗ |
//! | `PackageSession` | ✓ (its package) | ✗ | ✗ | ✗ |
//!
//! "May manage" ([`Standing::may_manage`]) is computed from the records read on this request:
//! the acting user is the owner, or has `API_ACCESS` with roles on — and, for a session, the user
//! of the API key at the root of its chain too (a session never does more than its source).

use crate::kernel::error::ApiError;

/// What a caller asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The platform's routes and `whoami`.
    Platform,
    /// Mint authentication tokens (`POST /api/authenticationTokens/*`).
    Mint,
    /// The credential-management routes and the console.
    Manage,
    /// What only the owner may do: reveal or regenerate the API key, change authentication
    /// settings, read or rotate a signing secret, change a callback's URL or authentication.
    Owner,
}

/// The kind of principal: one row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A root credential: the owner's API key, or a user's.
    ApiKey { owner: bool },
    /// A client app's API token or a client-credentials OAuth token, acting as its client's
    /// creator.
    Integration,
    /// An OAuth token a user delegated (code, implicit, refresh grants).
    Delegated,
    /// A signed request (HMAC of an OAuth client's key and secret).
    SignedRequest,
    /// A user session whose token was minted by an API key (possibly through other console
    /// sessions); `owner` when its user is the owner.
    ConsoleSession { owner: bool },
    /// A user session whose token was minted by an integration.
    IntegrationSession,
    /// A sender's or signer's session: one package.
    PackageSession,
}

impl Kind {
    /// A name for logs and the table test.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ApiKey { owner: true } => "owner_api_key",
            Kind::ApiKey { owner: false } => "user_api_key",
            Kind::Integration => "integration",
            Kind::Delegated => "delegated",
            Kind::SignedRequest => "signed_request",
            Kind::ConsoleSession { owner: true } => "owner_console_session",
            Kind::ConsoleSession { owner: false } => "user_console_session",
            Kind::IntegrationSession => "integration_session",
            Kind::PackageSession => "package_session",
        }
    }
}

/// What [`decide`] knows of a caller: its kind, and the facts read for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub kind: Kind,
    /// The acting user may manage the account now (and, for a session, so may the user of the
    /// API key its chain starts from).
    pub may_manage: bool,
    /// A session's request proves it comes from the console: the session's CSRF token in the
    /// `X-CSRF-Token` header (API calls) or the form (console posts); a console page view, which
    /// changes nothing, counts as such.
    pub csrf: bool,
}

/// Why [`decide`] said no: always a `403`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: &'static str,
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        ApiError::forbidden(r.reason, r.message)
    }
}

const NOT_MANAGER: Refusal = Refusal {
    reason: "not_manager",
    message: "only the account owner, or a user with the API_ACCESS permission, may do this",
};
const OWNER_ONLY: Refusal = Refusal {
    reason: "owner_only",
    message: "only the account owner may do this",
};
const CSRF_MISSING: Refusal = Refusal {
    reason: "csrf_missing",
    message: "a console session's calls carry its CSRF token in the X-CSRF-Token header",
};

/// The one decision: may a caller of `standing` take `action`? Pure.
pub fn decide(standing: &Standing, action: Action) -> Result<(), Refusal> {
    use Action::*;
    let s = standing;
    let manager = || {
        if s.may_manage {
            Ok(())
        } else {
            Err(NOT_MANAGER)
        }
    };
    match (s.kind, action) {
        (_, Platform) => Ok(()),

        (Kind::ApiKey { .. }, Mint | Manage) => manager(),
        (Kind::ApiKey { owner }, Owner) => {
            if owner && s.may_manage {
                Ok(())
            } else {
                Err(OWNER_ONLY)
            }
        }

        (Kind::Integration, Mint) => manager(),
        (Kind::Integration, Manage | Owner) => Err(Refusal {
            reason: "management_needs_api_key",
            message: "management routes take the API key of the owner or of a user with API_ACCESS",
        }),

        (Kind::Delegated, Mint) => Err(Refusal {
            reason: "delegated_token_refused",
            message: "authentication tokens are minted with a client-credentials token, not one a user delegated",
        }),
        (Kind::SignedRequest, Mint) => Err(Refusal {
            reason: "signed_request_cannot_mint",
            message: "authentication tokens are minted with an API key, a client app's token or a client-credentials token",
        }),
        (Kind::Delegated | Kind::SignedRequest, Manage | Owner) => Err(Refusal {
            reason: "management_needs_api_key",
            message: "management routes take the API key of the owner or of a user with API_ACCESS",
        }),

        (Kind::ConsoleSession { .. }, Mint) if !s.csrf => Err(Refusal {
            reason: "session_cannot_mint",
            message: "a session mints only from the console, with its CSRF token in the X-CSRF-Token header",
        }),
        (Kind::ConsoleSession { .. }, _) if !s.csrf => Err(CSRF_MISSING),
        (Kind::ConsoleSession { .. }, Mint | Manage) => manager(),
        (Kind::ConsoleSession { owner }, Owner) => {
            if owner && s.may_manage {
                Ok(())
            } else {
                Err(OWNER_ONLY)
            }
        }

        (Kind::IntegrationSession, Mint) => Err(Refusal {
            reason: "integration_session_cannot_mint",
            message: "this session was opened with a token an integration minted: it reaches the platform only",
        }),
        (Kind::IntegrationSession, Manage | Owner) => Err(Refusal {
            reason: "integration_session",
            message: "this session was opened with a token an integration minted: it reaches the platform only, never the console or management",
        }),

        (Kind::PackageSession, Mint) => Err(Refusal {
            reason: "session_cannot_mint",
            message: "authentication tokens are minted with the account's API credentials, not a sender's or signer's session",
        }),
        (Kind::PackageSession, Manage | Owner) => Err(NOT_MANAGER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [Kind; 9] = [
        Kind::ApiKey { owner: true },
        Kind::ApiKey { owner: false },
        Kind::Integration,
        Kind::Delegated,
        Kind::SignedRequest,
        Kind::ConsoleSession { owner: true },
        Kind::ConsoleSession { owner: false },
        Kind::IntegrationSession,
        Kind::PackageSession,
    ];

    /// The table (docs/CREDENTIALS.md), written out independently of `decide`: (kind, action) → allowed, for a
    /// caller that may manage and carries its CSRF token.
    fn table(kind: Kind, action: Action) -> bool {
        use Action::*;
        match action {
            Platform => true,
            Mint => matches!(
                kind,
                Kind::ApiKey { .. } | Kind::Integration | Kind::ConsoleSession { .. }
            ),
            Manage => matches!(kind, Kind::ApiKey { .. } | Kind::ConsoleSession { .. }),
            Owner => matches!(
                kind,
                Kind::ApiKey { owner: true } | Kind::ConsoleSession { owner: true }
            ),
        }
    }

    #[test]
    fn decide_is_the_table() {
        for kind in KINDS {
            for action in [
                Action::Platform,
                Action::Mint,
                Action::Manage,
                Action::Owner,
            ] {
                let full = Standing {
                    kind,
                    may_manage: true,
                    csrf: true,
                };
                assert_eq!(
                    decide(&full, action).is_ok(),
                    table(kind, action),
                    "{kind:?} {action:?}"
                );
                // Losing the right to manage leaves the platform alone, and nothing else.
                let lost = Standing {
                    may_manage: false,
                    ..full
                };
                assert_eq!(
                    decide(&lost, action).is_ok(),
                    action == Action::Platform,
                    "{kind:?} {action:?} without the right to manage"
                );
                // A session without its CSRF token reaches the platform only.
                let no_csrf = Standing {
                    csrf: false,
                    ..full
                };
                let expect = match kind {
                    Kind::ConsoleSession { .. } => action == Action::Platform,
                    _ => table(kind, action),
                };
                assert_eq!(
                    decide(&no_csrf, action).is_ok(),
                    expect,
                    "{kind:?} {action:?}"
                );
            }
        }
    }

    #[test]
    fn refusals_say_why() {
        let s = |kind| Standing {
            kind,
            may_manage: true,
            csrf: true,
        };
        let reason = |kind, a| decide(&s(kind), a).unwrap_err().reason;
        assert_eq!(
            reason(Kind::IntegrationSession, Action::Manage),
            "integration_session"
        );
        assert_eq!(
            reason(Kind::Integration, Action::Manage),
            "management_needs_api_key"
        );
        assert_eq!(
            reason(Kind::ApiKey { owner: false }, Action::Owner),
            "owner_only"
        );
        assert_eq!(
            reason(Kind::Delegated, Action::Mint),
            "delegated_token_refused"
        );
    }
}
