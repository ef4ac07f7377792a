//! `keygate-auth-tokens` Lambda: its services once per cold start, lent to every request.

keygate_http::http_main!("keygate-auth-tokens", keygate_auth_tokens::handle);
