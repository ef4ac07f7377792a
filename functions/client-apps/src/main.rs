//! `keygate-client-apps` Lambda: its services once per cold start, lent to every request.

keygate_http::http_main!("keygate-client-apps", keygate_client_apps::handle);
