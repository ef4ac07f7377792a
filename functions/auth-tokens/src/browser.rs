//! `GET /auth` and `GET /access`: the routes a browser follows with a token in its URL. They
//! redeem it, set the session cookie and redirect; any refusal is a plain HTML page with no
//! `Location` (never a redirect, so an off-list target can never be reached through keygate).

use keygate_core::authtokens::{self, Redeemed, Redemption};
use keygate_core::identity::credentials;
use keygate_core::{ApiError, ApiResult, Services};
use keygate_http::query_param;
use lambda_http::http::{header, HeaderValue};
use lambda_http::{Body, Request, Response};

/// `GET /auth?authenticationToken=…&target=…`: a user or sender token → session, `302` to
/// `target` when it is on the allowlist. The target is checked before the token is touched, so
/// a refused target does not use a single-use token up.
pub async fn auth(services: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let token = required(req, "authenticationToken", "token_missing")?;
    let target = required(req, "target", "target_missing")?;
    let location = authtokens::redirect_location(&services.config, &target)?;
    let redeemed = authtokens::redeem(
        &authtokens::Ports::of(services).await,
        Redemption::Auth,
        &token,
    )
    .await?;
    redirect(services, &location, &redeemed)
}

/// `GET /access?sessionToken=…`: a signer token → session, `302` to the signing ceremony of its
/// package (`config.signing_url`).
pub async fn access(services: &Services, req: &Request) -> ApiResult<Response<Body>> {
    let token = required(req, "sessionToken", "token_missing")?;
    // Never a `302` to an empty `Location` (a multi-use token would loop): without a ceremony
    // the page says so, before the token is redeemed, so it still works once one is configured.
    if services.config.signing_url.is_empty() {
        return Err(ApiError::unconfigured(
            "signing_ceremony_unconfigured",
            "this deployment has no signing ceremony configured (its SigningCeremonyUrl or \
             IssuerUrl parameter): the signing link is still valid, try it again later",
        ));
    }
    let redeemed = authtokens::redeem(
        &authtokens::Ports::of(services).await,
        Redemption::Access,
        &token,
    )
    .await?;
    let package = redeemed.session.scope.grant.package_id().ok_or_else(|| {
        ApiError::internal(std::io::Error::other("a signer session without a package"))
    })?;
    let location = authtokens::signing_location(&services.config, package);
    redirect(services, &location, &redeemed)
}

fn required(req: &Request, name: &'static str, reason: &'static str) -> ApiResult<String> {
    query_param(req, name)?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request(reason, format!("the {name} parameter is required")))
}

/// `__Host-kg_session=…; Path=/; Max-Age=…; HttpOnly; Secure; SameSite=Lax` wherever keygate is
/// served over https (every Lambda deployment); `kg_session=…` without `Secure` only on a
/// plain-http issuer (the local server), where a browser would refuse the prefix and `Secure`.
/// Which one is the configuration's fact ([`keygate_core::kernel::config::Config::serves_https`]), never
/// the request's; the session routes read the same name ([`credentials::over_https`]).
pub fn session_cookie(services: &Services, value: &str, max_age: i64) -> String {
    credentials::set_session_cookie(services.config.serves_https(), value, max_age)
}

fn redirect(services: &Services, location: &str, redeemed: &Redeemed) -> ApiResult<Response<Body>> {
    let cookie = session_cookie(
        services,
        redeemed.session_value.expose(),
        redeemed.max_age(services.now()),
    );
    let header = |v: &str| HeaderValue::from_str(v).map_err(ApiError::internal);
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = lambda_http::http::StatusCode::FOUND;
    let h = resp.headers_mut();
    h.insert(header::LOCATION, header(location)?);
    h.insert(header::SET_COOKIE, header(&cookie)?);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The token was in this URL: keep it out of any Referer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use crate::testing::*;
    use keygate_core::authtokens;
    use keygate_core::kernel::config::Config;

    async fn mint(f: &Fixture, path: &str, body: &str) -> String {
        let r = f.call(f.post(path, body)).await;
        assert_eq!(r.status(), 200, "{}", text(&r));
        json(&r)["value"].as_str().unwrap().to_owned()
    }

    fn cookie_value(r: &lambda_http::Response<lambda_http::Body>) -> String {
        let c = r.headers()["set-cookie"].to_str().unwrap();
        c.strip_prefix("__Host-kg_session=")
            .or_else(|| c.strip_prefix("kg_session="))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn auth_sets_a_secure_cookie_and_redirects_off_local_mode() {
        let mut config = Config::local("https://api.example.com");
        config.local_mode = false;
        config.redirect_allowlist = vec!["https://app.example.com".into()];
        let f = fixture(config).await;
        let token = mint(&f, "/api/authenticationTokens/user", "").await;
        let target = "https%3A%2F%2Fapp.example.com%2Fa%2Fdashboard";
        let r = f
            .call(f.get(&format!(
                "/auth?authenticationToken={token}&target={target}"
            )))
            .await;
        assert_eq!(r.status(), 302);
        assert_eq!(
            r.headers()["location"],
            "https://app.example.com/a/dashboard"
        );
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        // Over https the `__Host-` cookie: Secure, Path=/, no Domain (no sibling host can toss
        // one in).
        assert!(cookie.starts_with("__Host-kg_session="), "{cookie}");
        for part in [
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=1800",
        ] {
            assert!(
                cookie.split("; ").any(|p| p == part),
                "{cookie} lacks {part}"
            );
        }
        assert!(!cookie.to_ascii_lowercase().contains("domain"), "{cookie}");
        let p = authtokens::authenticate_session(
            &authtokens::Ports::of(&f.services).await,
            &cookie_value(&r),
        )
        .await
        .unwrap();
        assert_eq!(p.subject_id, f.account.owner_user_id.to_string());
    }

    #[tokio::test]
    async fn access_redirects_to_the_signing_ceremony() {
        let f = fixture(Config::local("http://127.0.0.1:3000")).await;
        let token = mint(
            &f,
            "/api/authenticationTokens/signer/multiUse",
            r#"{"packageId":"5vjLRY5MWrDJ6MzRAEyCKOy5IH0=","signerId":"s1"}"#,
        )
        .await;
        for _ in 0..2 {
            let r = f
                .call(f.get(&format!("/access?sessionToken={token}")))
                .await;
            assert_eq!(r.status(), 302);
            assert_eq!(
                r.headers()["location"],
                "http://127.0.0.1:3000/signing?packageId=5vjLRY5MWrDJ6MzRAEyCKOy5IH0%3D"
            );
            let cookie = r.headers()["set-cookie"].to_str().unwrap();
            // Over the local server's plain http, the plain name without `Secure`.
            assert!(cookie.starts_with("kg_session="), "{cookie}");
            assert!(!cookie.contains("Secure"), "{cookie}");
        }
    }

    #[tokio::test]
    async fn refusals_are_html_pages_without_location() {
        let f = fixture(Config::local("http://127.0.0.1:3000")).await;
        let user = mint(&f, "/api/authenticationTokens/user", "").await;
        let signer = mint(
            &f,
            "/api/authenticationTokens/signer/singleUse",
            r#"{"packageId":"p","signerId":"s"}"#,
        )
        .await;
        let before = f.table.dump();
        let cases = [
            ("/auth?target=/a".to_owned(), 400, "token_missing"),
            (
                format!("/auth?authenticationToken={user}"),
                400,
                "target_missing",
            ),
            (
                format!("/auth?authenticationToken={user}&target=https://evil.test/"),
                400,
                "target_not_allowed",
            ),
            (
                format!("/auth?authenticationToken={user}&target=//evil.test"),
                400,
                "target_not_allowed",
            ),
            (
                format!("/auth?authenticationToken={user}&target=javascript:alert(1)"),
                400,
                "target_not_allowed",
            ),
            (
                format!("/auth?authenticationToken={user}&authenticationToken={user}&target=/a"),
                400,
                "query_repeated",
            ),
            (
                "/auth?authenticationToken=x&target=/a".to_owned(),
                400,
                "token_malformed",
            ),
            (
                format!("/auth?authenticationToken={}&target=/a", "A".repeat(43)),
                401,
                "token_unknown",
            ),
            (
                format!("/auth?authenticationToken={signer}&target=/a"),
                400,
                "token_wrong_route",
            ),
            (
                format!("/access?sessionToken={user}"),
                400,
                "token_wrong_route",
            ),
            ("/access".to_owned(), 400, "token_missing"),
        ];
        for (uri, status, reason) in cases {
            let r = f.call(f.get(&uri)).await;
            assert_eq!(r.status(), status, "{uri}");
            assert_eq!(r.headers()["x-keygate-reason"], reason, "{uri}");
            assert!(r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"));
            assert!(!r.headers().contains_key("location"), "{uri}");
            assert!(!r.headers().contains_key("set-cookie"), "{uri}");
            assert!(!text(&r).contains(&user), "the page never echoes a token");
        }
        assert_eq!(f.table.dump(), before, "no token consumed, nothing written");

        // Used, then expired.
        let ok = f
            .call(f.get(&format!("/auth?authenticationToken={user}&target=/a")))
            .await;
        assert_eq!(ok.status(), 302);
        let r = f
            .call(f.get(&format!("/auth?authenticationToken={user}&target=/a")))
            .await;
        assert_eq!(
            (
                r.status().as_u16(),
                r.headers()["x-keygate-reason"].to_str().unwrap()
            ),
            (401, "token_used")
        );
        f.clock.advance(1800);
        let r = f
            .call(f.get(&format!("/access?sessionToken={signer}")))
            .await;
        assert_eq!(
            (
                r.status().as_u16(),
                r.headers()["x-keygate-reason"].to_str().unwrap()
            ),
            (401, "token_expired")
        );
    }
}
