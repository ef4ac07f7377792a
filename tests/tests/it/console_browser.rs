//! The console in a real browser (Debian's headless Chromium through chromedriver, driven by
//! `fantoccini`), as a person uses it: signing in through `/auth`, the API key (View,
//! regenerate), client apps (Add → Create → the Client ID and Secret shown once → Done, rotate,
//! revoke), OAuth 2.0 clients (add, Get new credentials, edit, delete), the authentication
//! method, event notifications (URL, Basic and OAuth 2.0 authentication, the toggles, Save,
//! REVERT, the delivery log), French, sign-out; and the refusals: no session, a session that may
//! not manage (and one that stops being allowed), a form or an API call without the CSRF token.
//! What each action did is checked through the REST API, not only on the page. A screenshot of
//! every page goes to `target/console-shots/`. On both backends.

use std::path::PathBuf;

use fantoccini::{Client as Browser, Locator};
use keygate_e2e::browser::{axe_source, axe_violations, widths_at, Driver, PATIENCE};
use keygate_e2e::{Backend, Server};
use serde_json::{json, Value};

/// Where the screenshots go (`target/console-shots/`, next to the build).
fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("console-shots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    dir
}

async fn shot(b: &Browser, name: &str) {
    let png = b.screenshot().await.expect("a screenshot");
    std::fs::write(shots_dir().join(format!("{name}.png")), png)
        .expect("the screenshot is written");
}

async fn wait_for(b: &Browser, css: &str) -> fantoccini::elements::Element {
    match b
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(e) => panic!(
            "no {css} ({e}); the browser is at {:?}:\n{}",
            b.current_url().await.map(|u| u.to_string()),
            b.source().await.unwrap_or_default()
        ),
    }
}

async fn text(b: &Browser, css: &str) -> String {
    wait_for(b, css).await.text().await.expect("text")
}

async fn click(b: &Browser, css: &str) {
    wait_for(b, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn fill(b: &Browser, css: &str, value: &str) {
    let field = wait_for(b, css).await;
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

/// The page as it is now — and with every `<details>` opened (the sidebars' forms, the edit
/// forms) — has no serious or critical axe-core violation, and does not scroll sideways on a
/// 375 px wide screen. The page is left as it was.
async fn check_page(b: &Browser, what: &str) {
    let axe = axe_source();
    for opened in [false, true] {
        if opened {
            b.execute(
                "document.querySelectorAll('details:not([open])').forEach(d => { d.dataset.wasClosed = '1'; d.open = true; })",
                vec![],
            )
            .await
            .expect("open the details");
        }
        let found = axe_violations(b, &axe).await;
        assert!(
            found.is_empty(),
            "{what} (details opened: {opened}): {found:#?}"
        );
        let (scroll, inner) = widths_at(b, 375).await;
        if scroll > inner {
            let wide = b
                .execute(
                    "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right));",
                    vec![],
                )
                .await
                .unwrap_or_default();
            eprintln!("{what}: wider than the screen: {wide}");
        }
        assert!(
            scroll <= inner,
            "{what} (details opened: {opened}) scrolls sideways at 375 px: {scroll} > {inner}"
        );
        b.set_window_size(1280, 1000).await.expect("window size");
    }
    b.execute(
        "document.querySelectorAll('details[data-was-closed]').forEach(d => { d.open = false; delete d.dataset.wasClosed; })",
        vec![],
    )
    .await
    .expect("close the details again");
}

/// Opens a console page fresh (no flash left on it).
async fn open(s: &Server, b: &Browser, path: &str) {
    b.goto(&s.url(path)).await.expect("navigate");
    wait_for(b, "h1").await;
}

/// Clicks a link or button that navigates, and waits for the next page.
async fn follow(b: &Browser, css: &str) {
    b.execute("document.body.setAttribute('data-left', '1')", vec![])
        .await
        .expect("mark the page");
    click(b, css).await;
    wait_for(b, "body:not([data-left]) h1").await;
}

/// Submits with `button` and waits for the page the action lands on: its confirmation, its
/// shown-once panel or its error.
async fn submit(b: &Browser, button: &str) -> String {
    // Mark the page the form is on, so only the page the action lands on can match below.
    b.execute("document.body.setAttribute('data-left', '1')", vec![])
        .await
        .expect("mark the page");
    click(b, button).await;
    let landed = wait_for(
        b,
        "body:not([data-left]) main .alert, body:not([data-left]) main section.once",
    )
    .await;
    landed.text().await.expect("text")
}

/// A sign-in link for the user of `key`, opened in the browser: the console's API Access page.
async fn sign_in(s: &Server, b: &Browser, key: &str, target: &str) {
    let (status, minted) = s
        .api("POST", "/api/authenticationTokens/user", Some(key), None)
        .await;
    assert_eq!(status, 200, "{minted}");
    let link = url::Url::parse_with_params(
        &s.url("/auth"),
        &[
            ("authenticationToken", minted["value"].as_str().unwrap()),
            ("target", target),
        ],
    )
    .unwrap();
    b.goto(link.as_str()).await.expect("open the sign-in link");
    wait_for(b, "h1").await;
}

async fn session_cookie(b: &Browser) -> String {
    let c = b
        .get_named_cookie("kg_session")
        .await
        .expect("the session cookie");
    format!("kg_session={}", c.value())
}

async fn console_as_a_person_uses_it(backend: Backend) {
    let s = Server::start(backend).await;
    let driver = Driver::start().await;
    let b = driver.browser().await;
    b.set_window_size(1280, 1000).await.expect("window size");
    let (account, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;

    // Without a session: the page says how to sign in, never the console (401, via HTTP).
    open(&s, &b, "/admin/api-access").await;
    assert_eq!(text(&b, "h1").await, "Sign in to the console");
    let plain = s.http.get(s.url("/admin/api-access")).send().await.unwrap();
    assert_eq!(plain.status(), 401);
    shot(&b, "sign-in").await;
    check_page(&b, "the sign-in page").await;
    // The check sees what it must: an image without a text alternative is a critical violation.
    b.execute(
        "const i = document.createElement('img'); i.id = 'axe-probe'; i.src = '/admin/assets/none.png'; document.querySelector('main').appendChild(i);",
        vec![],
    )
    .await
    .unwrap();
    let found = axe_violations(&b, &axe_source()).await;
    assert!(
        found.iter().any(|v| v.starts_with("image-alt")),
        "{found:?}"
    );
    b.execute("document.getElementById('axe-probe').remove();", vec![])
        .await
        .unwrap();

    // Signed in through /auth: API Access, with the console's headers.
    sign_in(&s, &b, &owner_key, "/admin/api-access").await;
    assert_eq!(text(&b, "h1").await, "API Access");
    let cookie = session_cookie(&b).await;
    let page = s
        .http
        .get(s.url("/admin/api-access"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    // The API key: masked, View reveals it (the owner), Hide masks it again.
    let masked = text(&b, "#api-key-value").await;
    assert!(
        masked.starts_with("****") && owner_key.ends_with(&masked[4..]),
        "{masked}"
    );
    follow(&b, "a[href*='reveal=true']").await;
    let shown = wait_for(&b, "span.copyable #api-key-value")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(shown, owner_key);
    shot(&b, "api-access").await;
    check_page(&b, "API Access, the key revealed").await;

    // Regenerate, after the confirmation: the new key shown once; the old one stops.
    let owner_key = {
        open(&s, &b, "/admin/api-access").await;
        click(&b, "#api-key ~ details summary").await;
        click(&b, "#confirm-regenerate").await;
        submit(
            &b,
            "form[action$='/api-key/regenerate'] button[type=submit]",
        )
        .await;
        let new_key = text(&b, "#new-api-key").await;
        assert_ne!(new_key, owner_key);
        assert_eq!(
            s.whoami(&owner_key).await.0,
            401,
            "the old key stops at once"
        );
        assert_eq!(s.whoami(&new_key).await.0, 200);
        follow(&b, "section.once a.button").await;
        assert!(!b.source().await.unwrap().contains(&new_key), "shown once");
        new_key
    };

    // A client app: Add → Create → the Client ID and Secret once → Done; they work.
    open(&s, &b, "/admin/api-access").await;
    click(&b, "#client-apps ~ details.sidebar summary").await;
    fill(&b, "#app-name", "CRM").await;
    submit(
        &b,
        "form[action='/admin/api-access/client-apps'] button[type=submit]",
    )
    .await;
    assert!(text(&b, "section.once")
        .await
        .contains("will no longer appear"));
    let client_id = text(&b, "#once-client-id").await;
    let secret = text(&b, "#once-secret").await;
    shot(&b, "client-app-created").await;
    check_page(&b, "a client app's secret shown once").await;
    let exchange = |secret: String| {
        let id = client_id.clone();
        let s = &s;
        async move {
            s.api(
                "POST",
                "/apitoken/clientApp/accessToken",
                None,
                Some(json!({"clientId": id, "secret": secret, "type": "OWNER"})),
            )
            .await
            .0
        }
    };
    assert_eq!(exchange(secret.clone()).await, 200);
    follow(&b, "section.once a.button").await;
    let source = b.source().await.unwrap();
    assert!(
        source.contains(&client_id) && !source.contains(&secret),
        "the secret is gone"
    );
    // Rotate: a new secret once, the old one stops (no grace from the console).
    submit(
        &b,
        &format!("form[action$='/client-apps/{client_id}/rotate'] button"),
    )
    .await;
    let rotated = text(&b, "#once-secret").await;
    assert_eq!(exchange(secret).await, 401);
    assert_eq!(exchange(rotated).await, 200);
    // Revoke: the row goes, and its tokens with it.
    open(&s, &b, "/admin/api-access").await;
    submit(
        &b,
        &format!("form[action$='/client-apps/{client_id}/revoke'] button"),
    )
    .await;
    assert!(!b
        .source()
        .await
        .unwrap()
        .contains(&format!("{client_id}/rotate")));
    let (_, apps) = s
        .api("GET", "/api/clientApps", Some(&owner_key), None)
        .await;
    assert_eq!(apps["count"], 0);

    // OAuth 2.0 clients: the Authorization Server URL, Add with scopes and a redirect URI,
    // Get new credentials, Edit, Delete.
    let (_, meta) = s
        .call(s.http.get(s.url("/.well-known/oauth-authorization-server")))
        .await;
    assert_eq!(
        text(&b, "#authorization-server-url").await,
        meta["token_endpoint"].as_str().unwrap()
    );
    click(&b, "#oauth ~ details.sidebar summary").await;
    fill(&b, "#oc-name", "Portal").await;
    click(&b, "#oc-new-scope-ISign").await;
    fill(&b, "#oc-new-uris", "https://portal.example/cb").await;
    submit(
        &b,
        "form[action='/admin/api-access/oauth-clients'] button[type=submit]",
    )
    .await;
    let oc = text(&b, "#once-client-id").await;
    assert!(!text(&b, "#once-secret").await.is_empty());
    let (_, got) = s
        .api(
            "GET",
            &format!("/api/oauth2/clients/{oc}"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(got["scopes"], json!(["Basic", "ISign"]));
    assert_eq!(got["redirectUris"], json!(["https://portal.example/cb"]));
    open(&s, &b, "/admin/api-access").await;
    submit(
        &b,
        &format!("form[action$='/oauth-clients/{oc}/credentials'] button"),
    )
    .await;
    assert!(text(&b, "section.once").await.contains("Client Secret"));
    open(&s, &b, "/admin/api-access").await;
    click(&b, "td.actions details summary").await;
    fill(&b, &format!("#edit-{oc}-domain"), "app.example.com").await;
    submit(
        &b,
        &format!("form[action$='/oauth-clients/{oc}/update'] button[type=submit]"),
    )
    .await;
    let (_, got) = s
        .api(
            "GET",
            &format!("/api/oauth2/clients/{oc}"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(got["domain"], "app.example.com");
    open(&s, &b, "/admin/api-access").await;
    submit(
        &b,
        &format!("form[action$='/oauth-clients/{oc}/delete'] button"),
    )
    .await;
    let (status, _) = s
        .api(
            "GET",
            &format!("/api/oauth2/clients/{oc}"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // A FAPI 2.0 client: the profile's box and the client's public keys (private_key_jwt: a
    // fapi2 client has no secret), and the row says so; with "Public client" too it is refused
    // (a fapi2 client is confidential).
    let client_key = keygate_core::testing::dpop::ProofKey::es256();
    let jwks = json!({"keys": [client_key.public_jwk()]}).to_string();
    open(&s, &b, "/admin/api-access").await;
    click(&b, "#oauth ~ details.sidebar summary").await;
    fill(&b, "#oc-name", "Bank").await;
    let long_uri = format!(
        "https://bank.example/oauth2/callbacks/{}?tenant=acme-corporation-international",
        "segment/".repeat(12)
    );
    fill(
        &b,
        "#oc-new-uris",
        &format!("https://bank.example/cb\n{long_uri}"),
    )
    .await;
    click(&b, "#oc-fapi2").await;
    fill(&b, "#oc-new-jwks", &jwks).await;
    submit(
        &b,
        "form[action='/admin/api-access/oauth-clients'] button[type=submit]",
    )
    .await;
    let fapi = text(&b, "#once-client-id").await;
    let (_, got) = s
        .api(
            "GET",
            &format!("/api/oauth2/clients/{fapi}"),
            Some(&owner_key),
            None,
        )
        .await;
    assert_eq!(got["profile"], "fapi2", "{got}");
    assert_eq!(got["requirePushedAuthorizationRequests"], true, "{got}");
    assert_eq!(got["tokenEndpointAuthMethod"], "private_key_jwt", "{got}");
    assert_eq!(got["jwks"]["keys"][0]["x"], client_key.public_jwk()["x"]);
    open(&s, &b, "/admin/api-access").await;
    assert_eq!(text(&b, "td span.badge").await, "FAPI 2.0");
    check_page(&b, "API Access with clients and a long redirect URI").await;
    click(&b, "#oauth ~ details.sidebar summary").await;
    fill(&b, "#oc-name", "Bank app").await;
    fill(&b, "#oc-new-uris", "https://bank.example/cb").await;
    click(&b, "#oc-fapi2").await;
    click(&b, "#oc-public").await;
    let refused = submit(
        &b,
        "form[action='/admin/api-access/oauth-clients'] button[type=submit]",
    )
    .await;
    assert!(refused.contains("confidential"), "{refused}");
    // A refused form shows why: an OAuth client without a scope.
    open(&s, &b, "/admin/api-access").await;
    click(&b, "#oauth ~ details.sidebar summary").await;
    fill(&b, "#oc-name", "No scope").await;
    click(&b, "#oc-new-scope-Basic").await;
    let error = submit(
        &b,
        "form[action='/admin/api-access/oauth-clients'] button[type=submit]",
    )
    .await;
    assert!(
        wait_for(&b, "main .alert.error")
            .await
            .is_displayed()
            .await
            .unwrap(),
        "{error}"
    );
    check_page(&b, "a refused form's error").await;

    // The authentication method: OAuth 2.0, saved; back to the API key.
    open(&s, &b, "/admin/authentication").await;
    shot(&b, "authentication").await;
    check_page(&b, "Authentication").await;
    click(&b, "#method-oauth").await;
    assert!(submit(&b, "main form button[type=submit]")
        .await
        .contains("saved"));
    let (_, settings) = s
        .api("GET", "/api/account/authSettings", Some(&owner_key), None)
        .await;
    assert_eq!(settings["method"], "OAUTH2");
    open(&s, &b, "/admin/authentication").await;
    click(&b, "#method-api-key").await;
    submit(&b, "main form button[type=submit]").await;

    // Event notifications: the URL, Basic with its key, two toggles, Save.
    open(&s, &b, "/admin/event-notifications").await;
    fill(&b, "#callback-url", "https://hooks.example/cb").await;
    click(&b, "#cb-basic").await;
    fill(&b, "#cb-key", "k3y-s3cret").await;
    click(&b, "#cb-PACKAGE_CREATE").await;
    click(&b, "#cb-DOCUMENT_SIGNED").await;
    assert!(submit(&b, "main form button[type=submit]")
        .await
        .contains("saved"));
    let (_, cb) = s.api("GET", "/api/callback", Some(&owner_key), None).await;
    assert_eq!(cb["url"], "https://hooks.example/cb");
    assert_eq!(cb["key"], "k3y-s3cret");
    assert_eq!(cb["authentication"]["type"], "BASIC");
    let mut events: Vec<String> = serde_json::from_value(cb["events"].clone()).unwrap();
    events.sort();
    assert_eq!(events, ["DOCUMENT_SIGNED", "PACKAGE_CREATE"]);
    // The page shows what is saved: the toggles on, the key, the signing secret.
    assert!(wait_for(&b, "#cb-PACKAGE_CREATE")
        .await
        .is_selected()
        .await
        .unwrap());
    assert!(!wait_for(&b, "#cb-PACKAGE_DELETE")
        .await
        .is_selected()
        .await
        .unwrap());
    assert_eq!(
        text(&b, "#signing-secret").await,
        cb["signingSecret"].as_str().unwrap()
    );
    // OAuth 2.0: its fields; the secret is write-only.
    open(&s, &b, "/admin/event-notifications").await;
    click(&b, "#cb-oauth").await;
    fill(&b, "#cb-client-id", "kg-events").await;
    fill(&b, "#cb-client-secret", "oauth-s3cret").await;
    fill(&b, "#cb-server", "https://auth.example.com/token").await;
    fill(&b, "#cb-scope", "events.write").await;
    submit(&b, "main form button[type=submit]").await;
    let (_, cb) = s.api("GET", "/api/callback", Some(&owner_key), None).await;
    assert_eq!(cb["authentication"]["type"], "OAUTH2", "{cb}");
    assert_eq!(cb["authentication"]["clientSecret"], "****ret");
    assert_eq!(cb["key"], Value::Null);
    let source = b.source().await.unwrap();
    assert!(!source.contains("oauth-s3cret"), "never shown again");
    // Saved again without retyping the secret: it is kept.
    open(&s, &b, "/admin/event-notifications").await;
    submit(&b, "main form button[type=submit]").await;
    let (_, kept) = s.api("GET", "/api/callback", Some(&owner_key), None).await;
    assert_eq!(kept["authentication"], cb["authentication"]);

    // An extra endpoint (a long URL, a rate limit) for the endpoints table.
    open(&s, &b, "/admin/event-notifications").await;
    click(
        &b,
        "#extra ~ details.sidebar summary, section[aria-labelledby=extra] details.sidebar summary",
    )
    .await;
    fill(
        &b,
        "#ep-url",
        &format!("https://hooks.example/{}", "receivers/".repeat(10)),
    )
    .await;
    fill(&b, "#ep-rate", "5").await;
    click(&b, "#ep-CALLBACK_ENDPOINT_DISABLED").await;
    submit(
        &b,
        "form[action='/admin/event-notifications/endpoints'] button[type=submit]",
    )
    .await;
    let (_, extra) = s
        .api("GET", "/api/callback/endpoints", Some(&owner_key), None)
        .await;
    assert_eq!(extra["results"][0]["rateLimit"], 5, "{extra}");
    assert_eq!(
        extra["results"][0]["events"],
        json!(["CALLBACK_ENDPOINT_DISABLED"])
    );

    // Recent deliveries: the messages with their outcome per endpoint. One whose retries are
    // used up at the callback shows Failed, with a Resend button.
    let account_id = keygate_core::kernel::ids::AccountId::parse(&account).unwrap();
    let ep = keygate_core::notify::endpoints::list(&*s.services().table, &account_id)
        .await
        .unwrap()
        .into_iter()
        .find(|(e, _)| e.primary)
        .unwrap()
        .0;
    // Three messages: one delivered, one whose retries are used up, one still pending.
    for (id, outcome) in [
        ("evt_browser_0", Some(true)),
        ("evt_browser_1", Some(false)),
        ("evt_browser_2", None),
    ] {
        let event: keygate_core::notify::events::EventMessage = serde_json::from_value(json!({
            "id": id, "accountId": account, "name": "PACKAGE_CREATE",
            "packageId": "pkg_1", "documentId": null, "sessionUser": null, "message": null,
            "createdDate": "2026-11-26T10:00:00Z"
        }))
        .unwrap();
        keygate_core::notify::messages::retain(
            &*s.services().table,
            &event,
            std::slice::from_ref(&ep.id),
            s.clock.now_for_tests(),
            30,
        )
        .await
        .unwrap();
        let Some(ok) = outcome else { continue };
        keygate_core::notify::attempts::record(
            &*s.services().table,
            &account_id,
            &keygate_core::notify::attempts::Attempt {
                event_id: id.into(),
                event_name: "PACKAGE_CREATE".into(),
                endpoint_id: ep.id.clone(),
                attempt: if ok { 1 } else { 8 },
                status: if ok {
                    keygate_core::notify::attempts::AttemptStatus::Succeeded
                } else {
                    keygate_core::notify::attempts::AttemptStatus::Failed
                },
                response_code: Some(if ok { 200 } else { 503 }),
                error_class: (!ok)
                    .then_some(keygate_core::notify::attempts::ErrorClass::HttpStatus),
                latency_ms: 42,
                at: s.clock.now_for_tests(),
                round: None,
                last: !ok,
            },
        )
        .await
        .unwrap();
        if ok {
            // As the webhooks function marks what an endpoint took.
            keygate_core::notify::ledger::Pair {
                account: &account_id,
                event_id: id,
                endpoint: &ep.id,
                round: None,
            }
            .delivered(&*s.services().table, 1, s.clock.now_for_tests(), 86_400)
            .await
            .unwrap();
        }
    }
    open(&s, &b, "/admin/event-notifications").await;
    let log = text(&b, "table.log").await;
    assert!(
        log.contains("evt_browser_1")
            && ["Delivered", "Failed", "Pending", "Resend"]
                .iter()
                .all(|w| log.contains(w)),
        "{log}"
    );
    shot(&b, "event-notifications").await;
    check_page(&b, "Event Notification with a failed delivery").await;
    // Recent deliveries on a phone (a screenshot to look at; the check is `check_page`'s).
    b.set_window_size(375, 900).await.unwrap();
    b.execute(
        "document.getElementById('deliveries').scrollIntoView();",
        vec![],
    )
    .await
    .unwrap();
    shot(&b, "recent-deliveries-375px").await;
    b.set_window_size(1280, 1000).await.unwrap();
    // Resend: queued for the webhooks function, with the message's own id.
    let said = submit(
        &b,
        "form[action='/admin/event-notifications/messages/evt_browser_1/resend'] button",
    )
    .await;
    assert!(said.contains("sent again"), "{said}");
    check_page(&b, "Event Notification, a resend queued").await;
    // Recover since: what the callback did not receive since then.
    b.execute(
        "document.getElementById('recover-since').value = '2026-11-26T00:00';",
        vec![],
    )
    .await
    .unwrap();
    let said = submit(
        &b,
        "form[action='/admin/event-notifications/recover'] button",
    )
    .await;
    assert!(
        said.contains("2 notifications will be sent again"),
        "the failed one and the pending one: {said}"
    );
    // A bad time is a clear error on the page.
    b.execute(
        "const f = document.getElementById('recover-since'); f.type = 'text'; f.value = 'yesterday';",
        vec![],
    )
    .await
    .unwrap();
    let said = submit(
        &b,
        "form[action='/admin/event-notifications/recover'] button",
    )
    .await;
    assert!(said.contains("RFC 3339"), "{said}");
    check_page(&b, "Event Notification, a refused recovery").await;
    // REVERT: every notification off.
    assert!(submit(&b, "form[action$='/revert'] button")
        .await
        .contains("disabled"));
    let (_, cb) = s.api("GET", "/api/callback", Some(&owner_key), None).await;
    assert_eq!(cb["url"], Value::Null);

    // French: the seeds' wording, kept across pages and forms.
    open(&s, &b, "/admin/api-access?lang=fr").await;
    assert_eq!(text(&b, "h1").await, "Accès à l'API");
    assert_eq!(text(&b, "#client-apps").await, "Applications clients");
    click(&b, "#client-apps ~ details.sidebar summary").await;
    fill(&b, "#app-name", "CRM FR").await;
    submit(
        &b,
        "form[action='/admin/api-access/client-apps'] button[type=submit]",
    )
    .await;
    assert!(text(&b, "section.once").await.contains("Terminé"));
    assert_eq!(text(&b, "section.once a.button").await, "Terminé");
    assert!(b
        .current_url()
        .await
        .unwrap()
        .query()
        .unwrap_or_default()
        .contains("lang=fr"));
    shot(&b, "api-access-fr").await;
    open(&s, &b, "/admin/event-notifications?lang=fr").await;
    assert_eq!(text(&b, "h1").await, "Notifications d'événements");
    let page = b.source().await.unwrap();
    assert!(page.contains("Événements générés par le compte") && page.contains("RÉTABLIR"));
    assert!(page.contains("Récupérer depuis") && page.contains("Événements opérationnels"));
    shot(&b, "event-notifications-fr").await;
    check_page(&b, "Notifications d'événements").await;
    open(&s, &b, "/admin/api-access?lang=fr").await;
    check_page(&b, "Accès à l'API").await;
    open(&s, &b, "/admin/authentication?lang=fr").await;
    check_page(&b, "Paramètres d'authentification").await;
    let fr = s
        .http
        .get(s.url("/admin/authentication"))
        .header("cookie", &cookie)
        .header("accept-language", "fr-CA,fr;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        fr.contains("Paramètres d'authentification"),
        "Accept-Language: fr"
    );

    // CSRF: a form without the session's token, and a management call with the session but
    // without the X-CSRF-Token header, are 403; with the page's token the call is allowed.
    let forged = s
        .http
        .post(s.url("/admin/api-access/client-apps"))
        .header("cookie", &cookie)
        .form(&[("name", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(forged.headers()["x-keygate-reason"], "csrf_invalid");
    let (status, err) = s
        .call(
            s.http
                .get(s.url("/api/clientApps"))
                .header("cookie", &cookie),
        )
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("csrf_missing"))
    );
    let csrf = wait_for(&b, "meta[name=csrf-token]")
        .await
        .attr("content")
        .await
        .unwrap()
        .unwrap();
    let (status, err) = s
        .call(
            s.http
                .get(s.url("/api/clientApps"))
                .header("cookie", &cookie)
                .header("x-csrf-token", "not-the-token"),
        )
        .await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("csrf_invalid"))
    );
    let (status, list) = s
        .call(
            s.http
                .get(s.url("/api/clientApps"))
                .header("cookie", &cookie)
                .header("x-csrf-token", &csrf),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["count"], 1, "the app made in French");
    // The integration routes: a console session mints with the header, never without it.
    let mint = |with_csrf: bool| {
        let mut req = s
            .http
            .post(s.url("/api/authenticationTokens/user"))
            .header("cookie", &cookie);
        if with_csrf {
            req = req.header("x-csrf-token", &csrf);
        }
        s.call(req)
    };
    let (status, err) = mint(false).await;
    assert_eq!(
        (status, err["reason"].as_str()),
        (403, Some("session_cannot_mint"))
    );
    let (status, minted) = mint(true).await;
    assert_eq!(status, 200, "{minted}");

    // Sign out: the session ends; its cookie no longer opens the console.
    open(&s, &b, "/admin/api-access").await;
    follow(&b, "form[action='/admin/sign-out'] button").await;
    assert_eq!(text(&b, "h1").await, "Sign in to the console");
    let after = s
        .http
        .get(s.url("/admin/api-access"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the session is over");

    // Who may use it: a user without API_ACCESS (roles on) is refused; one with it gets in,
    // and is out at once when roles are turned off.
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&owner_key),
        Some(json!({"rolesAndPermissions": true})),
    )
    .await;
    let add_user = |email: &'static str, perms: Value| {
        let s = &s;
        let account = account.clone();
        async move {
            let (status, v) = s
                .call(
                    s.http
                        .post(s.url(&format!("/_local/accounts/{account}/users")))
                        .json(&json!({"email": email, "permissions": perms})),
                )
                .await;
            assert_eq!(status, 201, "{v}");
            v["apiKey"].as_str().unwrap().to_owned()
        }
    };
    let plain_user = add_user("plain@acme.test", json!([])).await;
    let manager = add_user("manager@acme.test", json!(["API_ACCESS"])).await;
    // A plain user may still mint their own token through the owner: the owner names them.
    let plain_id = s.whoami(&plain_user).await.1["subjectId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, minted) = s
        .api(
            "POST",
            "/api/authenticationTokens/user",
            Some(&owner_key),
            Some(json!({"userId": plain_id})),
        )
        .await;
    let link = url::Url::parse_with_params(
        &s.url("/auth"),
        &[
            ("authenticationToken", minted["value"].as_str().unwrap()),
            ("target", "/admin/api-access"),
        ],
    )
    .unwrap();
    b.goto(link.as_str()).await.unwrap();
    assert_eq!(text(&b, "h1").await, "You cannot use the console");
    shot(&b, "not-allowed").await;
    check_page(&b, "the not-allowed page").await;
    b.delete_all_cookies().await.unwrap();
    sign_in(&s, &b, &manager, "/admin/event-notifications").await;
    assert_eq!(text(&b, "h1").await, "Event Notification");
    assert!(
        b.find(Locator::Css("#signing-secret")).await.is_err(),
        "the signing secret is the owner's"
    );
    s.api(
        "PUT",
        "/api/account/authSettings",
        Some(&owner_key),
        Some(json!({"rolesAndPermissions": false})),
    )
    .await;
    open(&s, &b, "/admin/event-notifications").await;
    assert_eq!(
        text(&b, "h1").await,
        "You cannot use the console",
        "checked on every request"
    );
    b.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_headless_chromium_in_memory() {
    console_as_a_person_uses_it(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_headless_chromium_on_dynamodb_local() {
    console_as_a_person_uses_it(Backend::Stack).await;
}
