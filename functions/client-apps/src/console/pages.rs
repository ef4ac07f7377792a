//! The console's pages, as maud templates (compiled in, every value escaped). Accessible markup:
//! one `h1` per page, sections with headings, every input with its `label`, fieldsets with
//! legends for the grouped choices, `role="alert"` for errors and `role="status"` for
//! confirmations, a skip link, `aria-current` on the page's menu entry. Copy buttons are the
//! one bit of script (`/admin/assets/console.js`), hidden until it runs.

use keygate_core::accounts::AuthMethod;
use keygate_core::clients::{Client, SCOPES};
use keygate_core::notify::attempts::{Attempt, AttemptStatus};
use keygate_core::notify::endpoints::{AuthType, Endpoint};
use keygate_core::notify::events::catalog::{EventInfo, Origin, CATALOG};
use maud::{html, Markup, DOCTYPE};

use super::words::{Lang, Words};
use super::{html as page, Console, Flash};
use lambda_http::{Body, Response};

/// Which page a view is (its menu entry).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Page {
    ApiAccess,
    Authentication,
    EventNotification,
}

impl Page {
    pub fn path(self) -> &'static str {
        match self {
            Page::ApiAccess => "/admin/api-access",
            Page::Authentication => "/admin/authentication",
            Page::EventNotification => "/admin/event-notifications",
        }
    }
    fn title(self, w: &Words) -> &'static str {
        match self {
            Page::ApiAccess => w.api_access,
            Page::Authentication => w.authentication,
            Page::EventNotification => w.event_notification,
        }
    }
}

/// `YYYY-MM-DD HH:MM UTC` (days to a civil date after Howard Hinnant's `civil_from_days`; the
/// workspace has no date crate and this is its only use).
pub fn utc(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// The hidden fields every form carries: the CSRF token and the language.
fn form_fields(c: &Console) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(c.csrf);
        input type="hidden" name="lang" value=(c.lang.code());
    }
}

/// A value with a copy button (shown once the script runs).
fn copyable(id: &str, value: &str, w: &Words) -> Markup {
    html! {
        span.copyable {
            code id=(id) { (value) }
            " "
            button.copy type="button" data-copy=(id) data-copied=(w.copied) hidden { (w.copy) }
        }
    }
}

/// A POST button in its own small form.
fn action(c: &Console, path: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(path) {
            (form_fields(c))
            button class=(class) type="submit" { (label) }
        }
    }
}

/// The frame of every signed-in page.
fn layout(c: &Console, current: Page, flash: Option<&Flash>, body: Markup) -> Markup {
    let w = c.lang.words();
    let other = match c.lang {
        Lang::En => Lang::Fr,
        Lang::Fr => Lang::En,
    };
    let other_link = match other {
        Lang::Fr => format!("{}?lang=fr", current.path()),
        Lang::En => format!("{}?lang=en", current.path()),
    };
    html! {
        (DOCTYPE)
        html lang=(c.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // For scripts calling the management API with this session (X-CSRF-Token).
                meta name="csrf-token" content=(c.csrf);
                title { (current.title(w)) " · keygate" }
                link rel="stylesheet" href="/admin/assets/console.css";
                script src="/admin/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { (w.skip) }
                header.top {
                    span.brand { "keygate" span.sub { (w.admin) } }
                    nav aria-label=(w.admin) {
                        @for p in [Page::ApiAccess, Page::Authentication, Page::EventNotification] {
                            a href=(c.lang.link(p.path())) aria-current=[(p == current).then_some("page")] { (p.title(w)) }
                        }
                    }
                    div.who {
                        span { (c.m.user.email) }
                        a href=(other_link) lang=(other.code()) hreflang=(other.code()) { (w.other_language) }
                        (action(c, "/admin/sign-out", w.sign_out, "link"))
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (current.title(w)) }
                    @if let Some(f) = flash { (flash_panel(c, current, f)) }
                    (body)
                }
            }
        }
    }
}

/// What the previous action left to show.
fn flash_panel(c: &Console, current: Page, f: &Flash) -> Markup {
    let w = c.lang.words();
    let done = c.lang.link(current.path());
    match f {
        Flash::Error { message, .. } => html! {
            div.alert.error role="alert" { strong { (w.error_title) } p { (message) } }
        },
        Flash::Done { what } => html! {
            div.alert.ok role="status" { p { (what) } }
        },
        Flash::ApiKey { key } => html! {
            section.once role="status" aria-labelledby="once-title" {
                h2 id="once-title" { (w.api_key) }
                p { (w.regenerated) }
                p { (copyable("new-api-key", key, w)) }
                a.button href=(done) { (w.done) }
            }
        },
        Flash::ClientApp { client_id, secret } => html! {
            section.once role="status" aria-labelledby="once-title" {
                h2 id="once-title" { (w.client_apps) }
                p { (w.copy_codes) " " (w.store_codes) }
                dl {
                    dt { (w.client_id) } dd { (copyable("once-client-id", client_id, w)) }
                    dt { (w.secret) } dd { (copyable("once-secret", secret, w)) }
                }
                p.warn { (w.secret_once) " " (w.codes_purpose) }
                a.button href=(done) { (w.done) }
            }
        },
        Flash::OAuthClient { client_id, secret } => html! {
            section.once role="status" aria-labelledby="once-title" {
                h2 id="once-title" { (w.oauth) }
                dl {
                    dt { (w.client_id) } dd { (copyable("once-client-id", client_id, w)) }
                    @if let Some(secret) = secret {
                        dt { (w.client_secret) } dd { (copyable("once-secret", secret, w)) }
                    }
                }
                @if secret.is_some() { p.warn { (w.client_secret_once) } }
                a.button href=(done) { (w.done) }
            }
        },
    }
}

/// What the API Access page shows.
pub struct ApiAccessView<'a> {
    pub api_key: &'a str,
    pub revealed: bool,
    pub apps: &'a [Client],
    pub oauth_clients: &'a [Client],
    pub token_endpoint: &'a str,
}

pub fn api_access(c: &Console, flash: Option<&Flash>, v: &ApiAccessView<'_>) -> Response<Body> {
    let w = c.lang.words();
    let owner = c.m.may(keygate_core::identity::policy::Action::Owner);
    let body = html! {
        p.lead { (w.api_access_intro) }
        section aria-labelledby="api-key" {
            h2 id="api-key" { (w.api_key) }
            p { (w.api_key_masked) " " (w.api_key_owner_only) }
            p.key {
                @if v.revealed { (copyable("api-key-value", v.api_key, w)) " " a href=(c.lang.link(Page::ApiAccess.path())) { (w.hide) } }
                @else {
                    code id="api-key-value" { (v.api_key) }
                    @if owner { " " a href=(c.lang.link("/admin/api-access?reveal=true")) { (w.view) } }
                }
            }
            p.hint { (w.api_key_recommend) }
            details {
                summary { (w.regenerate) }
                form method="post" action="/admin/api-access/api-key/regenerate" {
                    (form_fields(c))
                    p {
                        input type="checkbox" id="confirm-regenerate" name="confirm" value="yes" required;
                        " "
                        label for="confirm-regenerate" { (w.regenerate_confirm) }
                    }
                    button.danger type="submit" { (w.regenerate) }
                }
            }
        }
        section aria-labelledby="client-apps" {
            h2 id="client-apps" { (w.client_apps) }
            p { (w.client_apps_intro) " " (w.client_apps_lifecycle) }
            @if v.apps.is_empty() { p.empty { (w.no_client_apps) } }
            @else {
                table {
                    thead { tr { th scope="col" { (w.name) } th scope="col" { (w.client_id) } th scope="col" { (w.created) } th scope="col" { (w.actions) } } }
                    tbody {
                        @for app in v.apps {
                            tr {
                                td { (app.name) }
                                td { code { (app.id) } }
                                td { (utc(app.created_at)) }
                                td.actions {
                                    (action(c, &format!("/admin/api-access/client-apps/{}/rotate", app.id), w.rotate, "secondary"))
                                    (action(c, &format!("/admin/api-access/client-apps/{}/revoke", app.id), w.revoke, "danger"))
                                }
                            }
                        }
                    }
                }
            }
            details.sidebar {
                summary.button { (w.add) }
                form method="post" action="/admin/api-access/client-apps" {
                    (form_fields(c))
                    h3 { (w.create_client_app) }
                    label for="app-name" { (w.name) }
                    input type="text" id="app-name" name="name" required maxlength="200" aria-describedby="app-name-hint";
                    p.hint id="app-name-hint" { (w.name_hint) }
                    button type="submit" { (w.create) }
                }
            }
        }
        section aria-labelledby="oauth" {
            h2 id="oauth" { (w.oauth) }
            p { (w.oauth_intro) }
            @if c.m.account.settings.method != AuthMethod::OAuth2 { p.hint { (w.oauth_not_active) } }
            p { strong { (w.authorization_server_url) } " " (copyable("authorization-server-url", v.token_endpoint, w)) }
            p.hint { (w.server_url_help) }
            @if v.oauth_clients.is_empty() { p.empty { (w.no_oauth_clients) } }
            @else {
                table {
                    thead { tr { th scope="col" { (w.name) } th scope="col" { (w.client_id) } th scope="col" { (w.scopes) } th scope="col" { (w.redirect_uris) } th scope="col" { (w.actions) } } }
                    tbody {
                        @for oc in v.oauth_clients { (oauth_row(c, oc)) }
                    }
                }
            }
            details.sidebar {
                summary.button { (w.add) }
                form method="post" action="/admin/api-access/oauth-clients" {
                    (form_fields(c))
                    h3 { (w.create_oauth_client) }
                    label for="oc-name" { (w.name) }
                    input type="text" id="oc-name" name="name" required maxlength="200" aria-describedby="oc-name-hint";
                    p.hint id="oc-name-hint" { (w.oauth_name_hint) }
                    (oauth_fields(c, "oc-new", &["Basic"], &[], None))
                    p {
                        input type="checkbox" id="oc-public" name="public" value="yes" aria-describedby="oc-public-hint";
                        " " label for="oc-public" { (w.public_client) }
                    }
                    p.hint id="oc-public-hint" { (w.public_client_hint) }
                    p {
                        input type="checkbox" id="oc-fapi2" name="fapi2" value="yes" aria-describedby="oc-fapi2-hint";
                        " " label for="oc-fapi2" { (w.fapi2_client) }
                    }
                    p.hint id="oc-fapi2-hint" { (w.fapi2_client_hint) }
                    button type="submit" { (w.create) }
                }
            }
        }
    };
    page(200, layout(c, Page::ApiAccess, flash, body))
}

/// Scopes, redirect URIs and domain of an OAuth client's form.
fn oauth_fields(
    c: &Console,
    id: &str,
    scopes: &[&str],
    uris: &[String],
    domain: Option<&str>,
) -> Markup {
    let w = c.lang.words();
    html! {
        fieldset {
            legend { (w.scopes) }
            @for s in SCOPES {
                span.check {
                    input type="checkbox" id=(format!("{id}-scope-{s}")) name="scopes" value=(s) checked[scopes.contains(&s)];
                    " " label for=(format!("{id}-scope-{s}")) { (s) }
                }
            }
        }
        label for=(format!("{id}-uris")) { (w.redirect_uris) }
        textarea id=(format!("{id}-uris")) name="redirectUris" rows="3" aria-describedby=(format!("{id}-uris-hint")) { (uris.join("\n")) }
        p.hint id=(format!("{id}-uris-hint")) { (w.redirect_uris_hint) }
        label for=(format!("{id}-domain")) { (w.domain) }
        input type="text" id=(format!("{id}-domain")) name="domain" value=(domain.unwrap_or_default()) aria-describedby=(format!("{id}-domain-hint"));
        p.hint id=(format!("{id}-domain-hint")) { (w.domain_hint) }
    }
}

fn oauth_row(c: &Console, oc: &Client) -> Markup {
    let w = c.lang.words();
    let settings = oc.oauth.as_ref();
    let scopes: Vec<&str> = settings
        .map(|o| o.scopes.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let uris = settings
        .map(|o| o.redirect_uris.clone())
        .unwrap_or_default();
    let public = settings.is_some_and(|o| o.public);
    let edit_id = format!("edit-{}", oc.id);
    html! {
        tr {
            td {
                (oc.name)
                @if settings.is_some_and(|o| o.fapi2()) { " " span.badge { "FAPI 2.0" } }
            }
            td { code { (oc.id) } }
            td { (scopes.join(" ")) }
            td { @for u in &uris { span.uri { (u) } } }
            td.actions {
                @if !public {
                    (action(c, &format!("/admin/api-access/oauth-clients/{}/credentials", oc.id), w.get_new_credentials, "secondary"))
                }
                (action(c, &format!("/admin/api-access/oauth-clients/{}/delete", oc.id), w.delete, "danger"))
                details {
                    summary { (w.edit) }
                    form method="post" action=(format!("/admin/api-access/oauth-clients/{}/update", oc.id)) {
                        (form_fields(c))
                        (oauth_fields(c, &edit_id, &scopes, &uris, settings.and_then(|o| o.domain.as_deref())))
                        button type="submit" { (w.save) }
                    }
                }
            }
        }
    }
}

pub fn authentication(c: &Console, flash: Option<&Flash>) -> Response<Body> {
    let w = c.lang.words();
    let method = c.m.account.settings.method;
    let owner = c.m.may(keygate_core::identity::policy::Action::Owner);
    let body = html! {
        p.lead { (w.settings_intro) }
        form method="post" action="/admin/authentication" {
            (form_fields(c))
            fieldset disabled[!owner] {
                legend { (w.settings_instruction) }
                p.choice {
                    input type="radio" id="method-api-key" name="method" value="API_KEY" checked[method == AuthMethod::ApiKey];
                    " " label for="method-api-key" { (w.method_api_key) }
                }
                p.choice {
                    input type="radio" id="method-oauth" name="method" value="OAUTH2" checked[method == AuthMethod::OAuth2];
                    " " label for="method-oauth" { (w.method_oauth) }
                }
            }
            @if owner { button type="submit" { (w.save) } } @else { p.hint { (w.owner_only) } }
        }
        p.hint { (w.settings_exclusive) }
        p.hint { (w.settings_after) }
    };
    page(200, layout(c, Page::Authentication, flash, body))
}

/// What the Event Notification page shows.
pub struct EventsView<'a> {
    pub primary: Option<&'a Endpoint>,
    /// The primary endpoint's callback key as shown (the owner's in clear, others masked).
    pub key: Option<String>,
    /// The OAuth client secret as shown (masked).
    pub oauth_secret: Option<String>,
    /// The primary endpoint's current signing secret (owner only).
    pub signing_secret: Option<String>,
    pub extra: &'a [Endpoint],
    pub attempts: &'a [Attempt],
}

fn event_label(e: &EventInfo, lang: Lang) -> (&'static str, &'static str) {
    match lang {
        Lang::En => (e.label.en, e.description.en),
        Lang::Fr => (e.label.fr, e.description.fr),
    }
}

/// The 24 toggles, grouped as the French edition groups them.
fn event_toggles(c: &Console, id: &str, chosen: &[String]) -> Markup {
    let w = c.lang.words();
    html! {
        @for (origin, legend) in [(Origin::Account, w.account_events), (Origin::Participant, w.participant_events)] {
            fieldset.events {
                legend { (legend) }
                @for e in CATALOG.iter().filter(|e| e.origin == origin) {
                    @let (label, description) = event_label(e, c.lang);
                    @let input_id = format!("{id}-{}", e.name);
                    div.toggle {
                        input type="checkbox" role="switch" id=(input_id) name="events" value=(e.name) checked[chosen.iter().any(|x| x == e.name)] aria-describedby=(format!("{input_id}-d"));
                        label for=(input_id) { (label) }
                        span.hint id=(format!("{input_id}-d")) { (description) }
                    }
                }
            }
        }
    }
}

/// The authentication choice of an endpoint form (all fields shown: no script needed).
fn auth_fields(
    c: &Console,
    id: &str,
    ep: Option<&Endpoint>,
    key: Option<&str>,
    secret: Option<&str>,
) -> Markup {
    let w = c.lang.words();
    let kind = ep.map_or(AuthType::None, Endpoint::auth_type);
    let oauth = ep.and_then(|e| e.oauth.as_ref());
    html! {
        fieldset.auth {
            legend { (w.auth_method) }
            p.hint { (w.auth_method_help) }
            div.choice {
                input type="radio" id=(format!("{id}-none")) name="authType" value="NONE" checked[kind == AuthType::None];
                " " label for=(format!("{id}-none")) { (w.auth_none) }
                span.hint { " — " (w.auth_none_help) }
            }
            div.choice {
                input type="radio" id=(format!("{id}-basic")) name="authType" value="BASIC" checked[kind == AuthType::Basic];
                " " label for=(format!("{id}-basic")) { (w.auth_basic) }
                span.hint { " — " (w.auth_basic_help) }
                div.sub {
                    label for=(format!("{id}-key")) { (w.callback_key) }
                    input type="text" id=(format!("{id}-key")) name="key" value=(key.unwrap_or_default()) autocomplete="off" spellcheck="false";
                }
            }
            div.choice {
                input type="radio" id=(format!("{id}-oauth")) name="authType" value="OAUTH2" checked[kind == AuthType::OAuth2];
                " " label for=(format!("{id}-oauth")) { (w.auth_oauth) }
                span.hint { " — " (w.auth_oauth_help) }
                div.sub {
                    label for=(format!("{id}-client-id")) { (w.oauth_client_id) }
                    input type="text" id=(format!("{id}-client-id")) name="clientId" value=(oauth.map(|o| o.client_id.as_str()).unwrap_or_default()) autocomplete="off" spellcheck="false" aria-describedby=(format!("{id}-client-id-h"));
                    span.hint id=(format!("{id}-client-id-h")) { (w.oauth_client_id_help) }
                    label for=(format!("{id}-client-secret")) { (w.oauth_client_secret) }
                    input type="password" id=(format!("{id}-client-secret")) name="clientSecret" placeholder=(secret.unwrap_or_default()) autocomplete="new-password" aria-describedby=(format!("{id}-client-secret-h"));
                    span.hint id=(format!("{id}-client-secret-h")) { @if secret.is_some() { (w.secret_kept) } @else { (w.oauth_client_id_help) } }
                    label for=(format!("{id}-server")) { (w.oauth_server_url) }
                    input type="url" id=(format!("{id}-server")) name="authorizationServerUrl" value=(oauth.map(|o| o.authorization_server_url.as_str()).unwrap_or_default()) aria-describedby=(format!("{id}-server-h"));
                    span.hint id=(format!("{id}-server-h")) { (w.oauth_server_url_help) }
                    label for=(format!("{id}-scope")) { (w.scope) }
                    input type="text" id=(format!("{id}-scope")) name="scope" value=(oauth.and_then(|o| o.scope.as_deref()).unwrap_or_default()) aria-describedby=(format!("{id}-scope-h"));
                    span.hint id=(format!("{id}-scope-h")) { (w.scope_help) }
                }
            }
        }
    }
}

fn outcome(a: &Attempt, w: &Words) -> Markup {
    let code = a.response_code.map(|c| c.to_string());
    let class = a.error_class.map(|c| c.as_str());
    html! {
        @if a.status == AttemptStatus::Succeeded {
            span.badge.ok { (w.delivered) } @if let Some(c) = &code { " " code { (c) } }
        } @else {
            span.badge.bad { (w.failed) }
            @if let Some(c) = &code { " " code { (c) } }
            @if let Some(c) = class { " " code { (c) } }
        }
    }
}

pub fn event_notifications(
    c: &Console,
    flash: Option<&Flash>,
    v: &EventsView<'_>,
) -> Response<Body> {
    let w = c.lang.words();
    let owner = c.m.may(keygate_core::identity::policy::Action::Owner);
    let chosen: Vec<String> = v.primary.map(|e| e.events.clone()).unwrap_or_default();
    let body = html! {
        p.lead { (w.events_intro) }
        form method="post" action="/admin/event-notifications" {
            (form_fields(c))
            label for="callback-url" { (w.callback_url) }
            input type="url" id="callback-url" name="url" required value=(v.primary.map(|e| e.url.as_str()).unwrap_or_default()) aria-describedby="callback-url-h";
            p.hint id="callback-url-h" { (w.required) }
            (auth_fields(c, "cb", v.primary, v.key.as_deref(), v.oauth_secret.as_deref()))
            h2 { (w.select_events) }
            p.hint { (w.toggle_help) }
            (event_toggles(c, "cb", &chosen))
            div.bar { button type="submit" { (w.save) } }
        }
        form method="post" action="/admin/event-notifications/revert" {
            (form_fields(c))
            p.hint { (w.revert_help) }
            button.danger type="submit" { (w.revert) }
        }
        @if let Some(secret) = &v.signing_secret {
            section aria-labelledby="signing" {
                h2 id="signing" { (w.signing_secret) }
                p.hint { (w.signing_secret_help) }
                p { (copyable("signing-secret", secret, w)) }
                form method="post" action="/admin/event-notifications/secret/rotate" {
                    (form_fields(c))
                    label for="grace" { (w.rotate_grace) }
                    select id="grace" name="grace" {
                        option value="0" { "0 h" }
                        option value="3600" { "1 h" }
                        option value="86400" selected { "24 h" }
                        option value="604800" { "7 d" }
                    }
                    " " button.secondary type="submit" { (w.rotate) }
                }
            }
        }
        section aria-labelledby="extra" {
            h2 id="extra" { (w.extra_endpoints) }
            p.hint { (w.extra_endpoints_help) }
            @if v.extra.is_empty() { p.empty { (w.no_endpoints) } }
            @else {
                table {
                    thead { tr { th scope="col" { (w.url) } th scope="col" { (w.events) } th scope="col" { (w.auth_method) } th scope="col" { (w.actions) } } }
                    tbody {
                        @for ep in v.extra {
                            tr {
                                td { code { (ep.url) } }
                                td { (ep.events.len()) }
                                td { (auth_name(ep.auth_type(), w)) }
                                td.actions { (action(c, &format!("/admin/event-notifications/endpoints/{}/delete", ep.id), w.delete, "danger")) }
                            }
                        }
                    }
                }
            }
            @if owner {
                details.sidebar {
                    summary.button { (w.add_endpoint) }
                    form method="post" action="/admin/event-notifications/endpoints" {
                        (form_fields(c))
                        h3 { (w.add_endpoint) }
                        label for="ep-url" { (w.url) }
                        input type="url" id="ep-url" name="url" required;
                        (auth_fields(c, "ep", None, None, None))
                        (event_toggles(c, "ep", &[]))
                        button type="submit" { (w.create) }
                    }
                }
            }
        }
        section aria-labelledby="deliveries" {
            h2 id="deliveries" { (w.recent_deliveries) }
            p.hint { (w.recent_deliveries_help) }
            @if v.attempts.is_empty() { p.empty { (w.no_deliveries) } }
            @else {
                table.log {
                    thead { tr { th scope="col" { (w.when) } th scope="col" { (w.event) } th scope="col" { (w.event_id) } th scope="col" { (w.endpoint) } th scope="col" { (w.attempt) } th scope="col" { (w.outcome) } th scope="col" { (w.latency) } } }
                    tbody {
                        @for a in v.attempts {
                            tr {
                                td { (utc(a.at)) }
                                td { (a.event_name) }
                                td { code { (a.event_id) } }
                                td { (endpoint_name(v, a, w)) }
                                td { (a.attempt) }
                                td { (outcome(a, w)) }
                                td { (a.latency_ms) " ms" }
                            }
                        }
                    }
                }
            }
        }
    };
    page(200, layout(c, Page::EventNotification, flash, body))
}

fn auth_name(t: AuthType, w: &Words) -> &'static str {
    match t {
        AuthType::None => w.auth_none,
        AuthType::Basic => w.auth_basic,
        AuthType::OAuth2 => w.auth_oauth,
    }
}

/// The endpoint of an attempt, by what the page calls it.
fn endpoint_name(v: &EventsView<'_>, a: &Attempt, w: &Words) -> Markup {
    if v.primary.is_some_and(|p| p.id == a.endpoint_id) {
        return html! { (w.primary_endpoint) };
    }
    match v.extra.iter().find(|e| e.id == a.endpoint_id) {
        Some(e) => html! { code { (e.url) } },
        None => html! { code { (a.endpoint_id) } },
    }
}

/// A page outside the console's frame (sign-in, refusals).
fn plain(lang: Lang, status: u16, title: &str, body: &str) -> Response<Body> {
    page(
        status,
        html! {
            (DOCTYPE)
            html lang=(lang.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · keygate" }
                    link rel="stylesheet" href="/admin/assets/console.css";
                }
                body.plain {
                    main id="main" {
                        span.brand { "keygate" }
                        h1 { (title) }
                        p { (body) }
                    }
                }
            }
        },
    )
}

/// `401`: no session (or an ended one): how to sign in.
pub fn sign_in_page(lang: Lang, status: u16) -> Response<Body> {
    let w = lang.words();
    let mut resp = plain(lang, status, w.sign_in_title, w.sign_in_body);
    resp.headers_mut().insert(
        "x-keygate-reason",
        http::HeaderValue::from_static("session_missing"),
    );
    resp
}

/// `403`: a session that may not manage (a signer's, or a user without `API_ACCESS`).
pub fn not_allowed_page(lang: Lang) -> Response<Body> {
    let w = lang.words();
    let mut resp = plain(lang, 403, w.not_allowed_title, w.not_allowed_body);
    resp.headers_mut().insert(
        "x-keygate-reason",
        http::HeaderValue::from_static("not_manager"),
    );
    resp
}

/// `403`: a session an integration's token opened, which reaches the platform only.
pub fn integration_session_page(lang: Lang) -> Response<Body> {
    let w = lang.words();
    let mut resp = plain(
        lang,
        403,
        w.integration_session_title,
        w.integration_session_body,
    );
    resp.headers_mut().insert(
        "x-keygate-reason",
        http::HeaderValue::from_static("integration_session"),
    );
    resp
}

/// `403`: a form without this session's CSRF token.
pub fn csrf_page(lang: Lang) -> Response<Body> {
    let w = lang.words();
    let mut resp = plain(lang, 403, w.csrf_title, w.csrf_body);
    resp.headers_mut().insert(
        "x-keygate-reason",
        http::HeaderValue::from_static("csrf_invalid"),
    );
    resp
}

/// After sign-out.
pub fn signed_out_page(lang: Lang) -> Response<Body> {
    let w = lang.words();
    plain(lang, 200, w.signed_out, w.sign_in_body)
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_796_215_845), "2026-12-02 12:50 UTC");
    }
}
