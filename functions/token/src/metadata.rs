//! `GET /.well-known/oauth-authorization-server` (RFC 8414), with what RFC 9207 (`iss` on
//! authorization responses), RFC 9126 (pushed authorization requests), RFC 9449 (DPoP) and RFC
//! 7523 (`private_key_jwt`, its signing algorithms per endpoint) add.

use keygate_core::clients::SCOPES;
use keygate_core::identity::assertion;
use keygate_core::oauth::dpop;
use keygate_core::{ApiResult, Services};
use keygate_http::json;
use lambda_http::{Body, Request, Response};

pub async fn document(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let iss = s.config.issuer_for(req.headers());
    Ok(json(
        200,
        &serde_json::json!({
            "issuer": iss,
            "authorization_endpoint": format!("{iss}/api/oauth2/authorize"),
            "token_endpoint": format!("{iss}/api/oauth2/token"),
            "revocation_endpoint": format!("{iss}/api/oauth2/revoke"),
            "introspection_endpoint": format!("{iss}/api/oauth2/introspect"),
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "scopes_supported": SCOPES,
            "response_types_supported": ["code", "token"],
            "response_modes_supported": ["query", "fragment"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token", "implicit"],
            // Per grant (docs/FAPI.md): client credentials takes Basic or an assertion, the code
            // and refresh grants and pushed requests the body secret and public clients too.
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": assertion::ALGS,
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
            "revocation_endpoint_auth_signing_alg_values_supported": assertion::ALGS,
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "introspection_endpoint_auth_signing_alg_values_supported": assertion::ALGS,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "pushed_authorization_request_endpoint": format!("{iss}/api/oauth2/par"),
            // Per client (`fapi2`, or the client's own setting); not for every client.
            "require_pushed_authorization_requests": false,
            "dpop_signing_alg_values_supported": dpop::ALGS,
        }),
    ))
}
