//! Admin > Event Notification: the callback, its authentication and events, extra endpoints,
//! the signing secret and the recent delivery attempts.

use super::*;

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
