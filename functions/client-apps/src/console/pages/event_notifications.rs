//! Admin > Event Notification: the callback, its authentication and events, extra endpoints,
//! the signing secret, and the recent messages with their outcome per endpoint — a Resend
//! button on each failed delivery — and the Recover since form.

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
    /// The most recent messages, newest first.
    pub messages: &'a [Listed],
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
        @for (origin, legend) in [(Origin::Account, w.account_events), (Origin::Participant, w.participant_events), (Origin::Operational, w.operational_events)] {
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

/// A delivery's status as a badge.
fn status_badge(status: Status, w: &Words) -> Markup {
    html! {
        @match status {
            Status::Delivered => span.badge.ok { (w.delivered) },
            Status::Failed => span.badge.bad { (w.failed) },
            Status::Pending => span.badge.wait { (w.pending) },
        }
    }
}

/// The rate limit field of an endpoint form.
fn rate_field(c: &Console, id: &str, ep: Option<&Endpoint>) -> Markup {
    let w = c.lang.words();
    let value = ep.and_then(|e| e.rate_limit).map(|r| r.to_string());
    html! {
        label for=(format!("{id}-rate")) { (w.rate_limit) }
        input.short type="number" id=(format!("{id}-rate")) name="rateLimit" min="1" step="1" inputmode="numeric" value=[value] aria-describedby=(format!("{id}-rate-h"));
        p.hint id=(format!("{id}-rate-h")) { (w.rate_limit_help) }
    }
}

/// Recent messages: one row per message and endpoint, a Resend button on each failed one; the
/// Recover since form above them.
fn deliveries(c: &Console, v: &EventsView<'_>) -> Markup {
    let w = c.lang.words();
    html! {
        section aria-labelledby="deliveries" {
            h2 id="deliveries" { (w.recent_deliveries) }
            p.hint { (w.recent_deliveries_help) }
            @if v.primary.is_some() || !v.extra.is_empty() {
                form.recover method="post" action="/admin/event-notifications/recover" {
                    (form_fields(c))
                    h3 { (w.recover_since) }
                    p.hint id="recover-h" { (w.recover_help) }
                    div.fields {
                        div {
                            label for="recover-since" { (w.since_utc) }
                            input type="datetime-local" id="recover-since" name="since" required aria-describedby="recover-h";
                        }
                        div {
                            label for="recover-endpoint" { (w.endpoint) }
                            select id="recover-endpoint" name="endpointId" {
                                @if let Some(p) = v.primary { option value=(p.api_id()) { (w.primary_endpoint) } }
                                @for e in v.extra { option value=(e.id) { (e.url) } }
                            }
                        }
                    }
                    button.secondary type="submit" { (w.recover) }
                }
            }
            @if v.messages.is_empty() { p.empty { (w.no_deliveries) } }
            @else {
                div.scroll tabindex="0" role="region" aria-label=(w.recent_deliveries) {
                    table.log {
                        thead { tr { th scope="col" { (w.when) } th scope="col" { (w.event) } th scope="col" { (w.event_id) } th scope="col" { (w.endpoint) } th scope="col" { (w.outcome) } th scope="col" { (w.attempts) } th scope="col" { (w.actions) } } }
                        tbody {
                            @for l in v.messages {
                                @let at = l.message.received_at;
                                @if l.outcomes.is_empty() {
                                    tr { td { (utc(at)) } td { (l.message.name) } td { code { (l.message.id) } } td { "—" } td { "—" } td { "0" } td {} }
                                }
                                @for o in &l.outcomes {
                                    tr {
                                        td { (utc(at)) }
                                        td { (l.message.name) }
                                        td { code { (l.message.id) } }
                                        td { (endpoint_name(v, &o.endpoint_id, w)) }
                                        td { (status_badge(o.status, w)) }
                                        td { (o.attempts) }
                                        td.actions {
                                            @if o.status == Status::Failed {
                                                @if let Some(name) = endpoint_api_name(v, &o.endpoint_id) {
                                                    form.inline method="post" action=(format!("/admin/event-notifications/messages/{}/resend", l.message.id)) {
                                                        (form_fields(c))
                                                        input type="hidden" name="endpointId" value=(name);
                                                        button.secondary type="submit" aria-label=(format!("{} {} → {}", w.resend, l.message.id, endpoint_label(v, &o.endpoint_id, w))) { (w.resend) }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
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
            (rate_field(c, "cb", v.primary))
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
                div.scroll tabindex="0" role="region" aria-label=(w.extra_endpoints) { table {
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
                } }
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
                        (rate_field(c, "ep", None))
                        (event_toggles(c, "ep", &[]))
                        button type="submit" { (w.create) }
                    }
                }
            }
        }
        (deliveries(c, v))
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

/// An endpoint, by what the page calls it.
fn endpoint_name(v: &EventsView<'_>, id: &EndpointId, w: &Words) -> Markup {
    if v.primary.is_some_and(|p| &p.id == id) {
        return html! { (w.primary_endpoint) };
    }
    match v.extra.iter().find(|e| &e.id == id) {
        Some(e) => html! { code { (e.url) } },
        None => html! { code { (id) } },
    }
}

/// An endpoint's name in words (for a button's accessible name).
fn endpoint_label(v: &EventsView<'_>, id: &EndpointId, w: &Words) -> String {
    if v.primary.is_some_and(|p| &p.id == id) {
        return w.primary_endpoint.to_owned();
    }
    v.extra
        .iter()
        .find(|e| &e.id == id)
        .map_or_else(|| id.to_string(), |e| e.url.clone())
}

/// The API name of an endpoint that still exists (`primary`, or its id).
fn endpoint_api_name(v: &EventsView<'_>, id: &EndpointId) -> Option<String> {
    v.primary
        .into_iter()
        .chain(v.extra.iter())
        .find(|e| &e.id == id)
        .map(|e| e.api_id().to_owned())
}
