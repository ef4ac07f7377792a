//! The consent page in a real browser. Debian's headless Chromium, driven through
//! chromedriver (WebDriver) by `fantoccini`, signs in at `/auth`, lands on the consent page,
//! clicks Approve (the code is then exchanged with PKCE by the `oauth2` crate) and, in a second
//! run, Deny. The client's redirect URI is a loopback receiver of this test, so what the browser's
//! last navigation carried is read from there, not from the browser.
//!
//! Chromium and chromedriver come from `infra/browser/install.sh`; without them this test fails
//! (it does not skip), naming that script.

use axum::extract::{RawQuery, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use fantoccini::{Client as Browser, Locator};
use keygate_e2e::browser::{Driver, PATIENCE};
use keygate_e2e::{Backend, Server};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde_json::json;
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------------
// The redirect receiver: records the query string of every request to `/cb`.

struct Receiver {
    redirect_uri: String,
    queries: mpsc::UnboundedReceiver<String>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let (tx, queries) = mpsc::unbounded_channel::<String>();
        let app = Router::new()
            .route(
                "/cb",
                get(
                    |State(tx): State<mpsc::UnboundedSender<String>>,
                     RawQuery(q): RawQuery| async move {
                        let _ = tx.send(q.unwrap_or_default());
                        Html("<!doctype html><title>received</title><p id=\"received\">ok</p>")
                    },
                ),
            )
            .with_state(tx);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver serves");
        });
        Self {
            redirect_uri: format!("http://{addr}/cb"),
            queries,
            _server: server,
        }
    }

    /// The next redirect the receiver got, as query pairs; `None` if none came in time.
    async fn next(&mut self) -> Option<Vec<(String, String)>> {
        let q = tokio::time::timeout(PATIENCE, self.queries.recv())
            .await
            .ok()?
            .expect("receiver channel open");
        Some(
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect(),
        )
    }
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

// ---------------------------------------------------------------------------------------------
// The flows.

type Oauth = keygate_e2e::OAuthClient;

/// Mints a user authentication token for the owner and sends the browser through `/auth` to
/// `authorize_url`: the browser itself gets the session cookie and lands on the consent page.
/// Waits for the page's Approve button, then checks the page: this request, the scopes listed,
/// Deny, the CSRF field.
async fn open_consent(s: &Server, b: &Browser, owner_key: &str, authorize_url: &url::Url) {
    let (status, minted) = s
        .api(
            "POST",
            "/api/authenticationTokens/user",
            Some(owner_key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{minted}");
    let token = minted["value"].as_str().expect("token value");
    let target = &authorize_url[url::Position::BeforePath..];
    let sign_in = url::Url::parse_with_params(
        &s.url("/auth"),
        &[("authenticationToken", token), ("target", target)],
    )
    .expect("sign-in URL");
    b.goto(sign_in.as_str()).await.expect("navigate to /auth");

    if let Err(e) = b
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("approve"))
        .await
    {
        panic!(
            "no consent page ({e}); the browser shows {}",
            describe(b).await
        );
    }
    let here = b.current_url().await.expect("current URL");
    assert_eq!(here.path(), "/api/oauth2/authorize", "landed on {here}");
    assert_eq!(
        here.query(),
        authorize_url.query(),
        "the consent page of this very request"
    );
    assert!(
        b.title().await.expect("title").starts_with("Authorize "),
        "page title"
    );
    let mut scopes = Vec::new();
    for li in b
        .find_all(Locator::Css("#scopes li"))
        .await
        .expect("scope list")
    {
        scopes.push(li.text().await.expect("scope text"));
    }
    assert_eq!(
        scopes,
        ["Basic", "ISign"],
        "the requested scopes are listed"
    );
    let deny = b.find(Locator::Id("deny")).await.expect("a Deny button");
    assert_eq!(deny.text().await.expect("deny text"), "Deny");
    let csrf = b
        .find(Locator::Css("input[name=csrf]"))
        .await
        .expect("a CSRF field");
    assert!(!csrf
        .attr("value")
        .await
        .expect("csrf value")
        .unwrap_or_default()
        .is_empty());
}

/// What the browser shows, for failure messages.
async fn describe(b: &Browser) -> String {
    let url = b
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let src = b.source().await.unwrap_or_default();
    format!("{url}\n{}", &src[..src.len().min(2000)])
}

/// Clicks `button` and waits until the browser has left the consent page for the receiver.
async fn click_and_follow(
    b: &Browser,
    button: &'static str,
    rx: &mut Receiver,
) -> Vec<(String, String)> {
    b.find(Locator::Id(button))
        .await
        .expect("the button")
        .click()
        .await
        .expect("click");
    let Some(pairs) = rx.next().await else {
        panic!(
            "after {button}, the browser never reached the redirect URI; it shows {}",
            describe(b).await
        );
    };
    // The browser itself ended up there (not only some request of it).
    if let Err(e) = b
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id("received"))
        .await
    {
        panic!(
            "the browser did not show the receiver ({e}): {}",
            describe(b).await
        );
    }
    let here = b.current_url().await.expect("current URL");
    assert!(
        here.as_str().starts_with(&rx.redirect_uri),
        "the browser ended on {here}"
    );
    pairs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_page_in_headless_chromium() {
    let s = Server::start(Backend::Memory).await;
    let mut rx = Receiver::start().await;
    let (_, _, owner_key) = s.create_account("Acme", "owner@acme.test").await;
    let (status, v) = s
        .api(
            "PUT",
            "/api/account/authSettings",
            Some(&owner_key),
            Some(json!({"method": "OAUTH2"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, c) = s
        .api(
            "POST",
            "/api/oauth2/clients",
            Some(&owner_key),
            Some(json!({
                "name": "Portal",
                "scopes": ["Basic", "ISign"],
                "redirectUris": [rx.redirect_uri],
            })),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let client: Oauth = BasicClient::new(ClientId::new(c["clientId"].as_str().unwrap().into()))
        .set_client_secret(ClientSecret::new(
            c["clientSecret"].as_str().unwrap().into(),
        ))
        .set_auth_uri(AuthUrl::new(s.url("/api/oauth2/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(s.url("/api/oauth2/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(rx.redirect_uri.clone()).unwrap());

    let driver = Driver::start().await;
    let b = driver.browser().await;

    // Approve: the receiver gets a code and the state; the code is real (PKCE exchange).
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes([Scope::new("Basic".into()), Scope::new("ISign".into())])
        .set_pkce_challenge(challenge)
        .url();
    open_consent(&s, &b, &owner_key, &authorize_url).await;
    // Accessible (axe-core: no serious or critical violation), and usable on a phone.
    let found = keygate_e2e::browser::axe_violations(&b, &keygate_e2e::browser::axe_source()).await;
    assert!(found.is_empty(), "the consent page: {found:#?}");
    let (scroll, inner) = keygate_e2e::browser::widths_at(&b, 375).await;
    assert!(
        scroll <= inner,
        "the consent page scrolls sideways at 375 px: {scroll} > {inner}"
    );
    b.set_window_size(1280, 1000).await.expect("window size");
    let back = click_and_follow(&b, "approve", &mut rx).await;
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(param(&back, "error"), None, "{back:?}");
    let code = param(&back, "code").expect("a code");
    let http = oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let verifier_secret = verifier.secret().clone();
    let tok = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the browser's code exchanges with its PKCE verifier");
    let (status, me) = s
        .call(
            s.http
                .get(s.url("/api/whoami"))
                .bearer_auth(tok.access_token().secret()),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["subjectType"], "owner");
    assert_eq!(me["scopes"], json!(["Basic", "ISign"]));
    // Single use, also for a code that went through a browser.
    assert!(client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier_secret))
        .request_async(&http)
        .await
        .is_err());

    // Deny, in a second run: access_denied with the state, and no code.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes([Scope::new("Basic".into()), Scope::new("ISign".into())])
        .set_pkce_challenge(challenge)
        .url();
    open_consent(&s, &b, &owner_key, &authorize_url).await;
    let back = click_and_follow(&b, "deny", &mut rx).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(param(&back, "code"), None);

    b.close().await.expect("close the WebDriver session");
    drop(driver);
}
