//! The console's CSRF token (docs/CONSOLE.md): bound to the session, derived rather than
//! stored — a keyed hash of the session cookie's value under the pepper, in its own domain — so
//! no write is needed to issue one and a token of one session is worthless for another. Every
//! console form carries it (`csrf`); a management call made with a console session carries it in
//! [`CSRF_HEADER`], or is `403`.

use crate::kernel::crypto::{ct_eq, Peppers, Secret};

/// The header a console session's management calls carry the token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Keyed-hash domain of CSRF tokens (never the session's own domain: the token is not the
/// session's stored hash).
const CSRF_DOMAIN: &str = "console-csrf";

/// The token for the session whose cookie value is `session` (under the current pepper).
pub fn token(peppers: &Peppers, session: &str) -> String {
    peppers.hash(CSRF_DOMAIN, &Secret::new(session)).0
}

/// Whether `presented` is the token of `session`, under any pepper still in use, compared in
/// constant time.
pub fn verify(peppers: &Peppers, session: &str, presented: &str) -> bool {
    peppers
        .lookup_hashes(CSRF_DOMAIN, session)
        .iter()
        .fold(false, |ok, h| {
            ok | ct_eq(h.0.as_bytes(), presented.as_bytes())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_session() {
        let peppers = Peppers::new(vec![crate::kernel::crypto::Pepper::generate("p2")]);
        let t = token(&peppers, "session-a");
        assert!(verify(&peppers, "session-a", &t));
        assert!(!verify(&peppers, "session-b", &t));
        assert!(!verify(&peppers, "session-a", ""));
        assert!(!verify(&peppers, "session-a", &t[..t.len() - 1]));
        assert_ne!(t, token(&peppers, "session-b"));
    }
}
