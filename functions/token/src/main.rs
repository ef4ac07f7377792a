//! `keygate-token` Lambda: its services once per cold start, lent to every request.

keygate_http::http_main!("keygate-token", keygate_token::handle);
