//! The user's decision on the consent form: approve (a code, or with the implicit flow a token,
//! sent to the verified redirect URI), deny (`access_denied`), or a refused form. Every redirect
//! answering the form is a `303 See Other` (FAPI 2.0 §5.3.2.2).

use keygate_core::accounts::AuthMethod;
use keygate_core::clients::Client;
use keygate_core::identity::principal::Principal;
use keygate_core::oauth::tokens::Mint;
use keygate_core::oauth::CodeGrant;
use keygate_core::ports::keys::KeyRing;
use keygate_core::{ApiResult, Services};
use keygate_http::{body_bytes, html, Form};
use lambda_http::{Body, Request, Response};

use super::request::{self, client_and_redirect, AuthzRequest};
use super::{consent, no_request, page, redirect, respond, Refusal, Reply};

pub async fn decide(s: &Services, req: &Request) -> ApiResult<Response<Body>> {
    if body_bytes(req).len() > keygate_http::MAX_BODY {
        return Ok(html(413, "Too large", "The form is too large."));
    }
    let form = Form::parse(req)?;
    let (r, pushed) = match request::resolve(s, AuthzRequest::from_form(&form)).await {
        Ok(resolved) => resolved,
        Err(refusal) => return Ok(respond(Err(refusal), &Reply::to(&no_request(), ""))),
    };
    let iss = s.config.issuer_for(req.headers());
    let reply = Reply::after_post(&r, &iss);
    let result = async {
        let (client, uri) = client_and_redirect(s, &r).await?;
        let (implicit, scope) =
            request::flow_or_consume(s, &client, &r, &uri, pushed.as_ref()).await?;
        let (principal, session) = consent::user(s, req, &client).await?;
        let ring = s.keys.ring().await;
        let csrf = form.get("csrf").unwrap_or("");
        if !consent::csrf_ok(ring.peppers(), csrf, &session, &r, s.now()) {
            return Err(page(
                403,
                "Expired form",
                "This consent form is not valid or has expired: reload the page.",
            ));
        }
        let decision = form.get("decision");
        if matches!(decision, Some("approve" | "deny")) {
            // The decision uses a pushed request up, whichever it is (at most once).
            request::consume(s, pushed.as_ref()).await?;
        }
        match decision {
            Some("approve") => {}
            Some("deny") => {
                return Err(Refusal::Redirect(
                    uri,
                    "access_denied",
                    "the user denied the request".into(),
                ))
            }
            _ => return Err(page(400, "Invalid request", "Choose Approve or Deny.")),
        }
        let approved = Approved {
            client: &client,
            uri: &uri,
            principal: &principal,
            scope,
            implicit,
        };
        let mut params = approve(s, req, &ring, &r, approved).await?;
        if let Some(st) = &r.state {
            params.push(("state", st.clone()));
        }
        Ok(redirect(&uri, params, &reply))
    }
    .await;
    Ok(respond(result, &reply))
}

/// An approved request, its client and redirect URI verified.
struct Approved<'a> {
    client: &'a Client,
    uri: &'a str,
    principal: &'a Principal,
    scope: String,
    implicit: bool,
}

/// What an approval sends to the redirect URI: a code, or with the implicit flow a token; the
/// client's account must (still) use OAuth 2.0.
async fn approve(
    s: &Services,
    req: &Request,
    ring: &KeyRing,
    r: &AuthzRequest,
    a: Approved<'_>,
) -> Result<Vec<(&'static str, String)>, Refusal> {
    let Approved {
        client,
        uri,
        principal,
        scope,
        implicit,
    } = a;
    let account = keygate_core::accounts::get_account(&*s.table, &client.account_id)
        .await
        .map_err(|e| Refusal::Failed(e.into()))?
        .ok_or_else(|| {
            page(
                400,
                "Unknown application",
                "The application's account no longer exists.",
            )
        })?;
    if account.settings.method != AuthMethod::OAuth2 {
        return Err(Refusal::Redirect(
            uri.to_owned(),
            "unauthorized_client",
            "this account does not use OAuth 2.0".into(),
        ));
    }
    let now = s.now();
    if implicit {
        let issuer = s.config.issuer_for(req.headers());
        let mint = Mint {
            subject: &principal.subject_id,
            subject_type: principal.subject_type,
            // The client's current secret: rotating it (grace 0) stops these tokens too.
            sid: client.current_secret_id(now).map(str::to_owned),
            ..crate::grants::oauth_mint(&issuer, client, &account, &scope, "implicit")
        };
        let answer = crate::grants::issue(ring, &mint, now).map_err(Refusal::Failed)?;
        return Ok(vec![
            ("access_token", answer.access_token),
            ("token_type", answer.token_type),
            ("expires_in", answer.expires_in.to_string()),
            ("scope", answer.scope),
        ]);
    }
    let grant = CodeGrant {
        client_id: client.id.clone(),
        account_id: account.id.clone(),
        user_id: principal.subject_id.clone(),
        sub_type: principal.subject_type,
        redirect_uri: uri.to_owned(),
        redirect_uri_given: r.redirect_uri.is_some(),
        code_challenge: r.code_challenge.clone(),
        scope,
        family: format!("f{}", keygate_core::oauth::tokens::new_jti()),
        dpop_jkt: r.dpop_jkt.clone(),
    };
    let code = keygate_core::oauth::issue_code(&*s.table, ring.peppers(), &grant, now)
        .await
        .map_err(|e| Refusal::Failed(e.into()))?;
    Ok(vec![("code", code.expose().to_owned())])
}
