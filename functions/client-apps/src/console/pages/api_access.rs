//! Admin > API Access: the API key, client apps and OAuth 2.0 clients.

use super::*;

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
                div.scroll tabindex="0" role="region" aria-label=(w.client_apps) { table {
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
                } }
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
                div.scroll tabindex="0" role="region" aria-label=(w.oauth) { table {
                    thead { tr { th scope="col" { (w.name) } th scope="col" { (w.client_id) } th scope="col" { (w.scopes) } th scope="col" { (w.redirect_uris) } th scope="col" { (w.actions) } } }
                    tbody {
                        @for oc in v.oauth_clients { (oauth_row(c, oc)) }
                    }
                } }
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
                    (key_fields(c, "oc-new"))
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

/// The public keys of an OAuth client's form (`private_key_jwt`): a JWK Set or its URL.
fn key_fields(c: &Console, id: &str) -> Markup {
    let w = c.lang.words();
    html! {
        fieldset {
            legend { (w.client_keys) }
            label for=(format!("{id}-jwks")) { (w.jwks) }
            textarea id=(format!("{id}-jwks")) name="jwks" rows="4" aria-describedby=(format!("{id}-jwks-hint")) {}
            p.hint id=(format!("{id}-jwks-hint")) { (w.jwks_hint) }
            label for=(format!("{id}-jwks-uri")) { (w.jwks_uri) }
            input type="url" id=(format!("{id}-jwks-uri")) name="jwksUri" aria-describedby=(format!("{id}-jwks-uri-hint"));
            p.hint id=(format!("{id}-jwks-uri-hint")) { (w.jwks_uri_hint) }
        }
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
    let keys = oc.keys();
    let edit_id = format!("edit-{}", oc.id);
    html! {
        tr {
            td {
                (oc.name)
                @if settings.is_some_and(|o| o.fapi2()) { " " span.badge { "FAPI 2.0" } }
                @if keys.is_some() { " " span.badge { (w.keys_badge) } }
            }
            td { code { (oc.id) } }
            td { (scopes.join(" ")) }
            td { @for u in &uris { span.uri { (u) } } }
            td.actions {
                @if !public && keys.is_none() {
                    (action(c, &format!("/admin/api-access/oauth-clients/{}/credentials", oc.id), w.get_new_credentials, "secondary"))
                }
                (action(c, &format!("/admin/api-access/oauth-clients/{}/delete", oc.id), w.delete, "danger"))
                details {
                    summary { (w.edit) }
                    form method="post" action=(format!("/admin/api-access/oauth-clients/{}/update", oc.id)) {
                        (form_fields(c))
                        (oauth_fields(c, &edit_id, &scopes, &uris, settings.and_then(|o| o.domain.as_deref())))
                        @if !public {
                            @if let Some(uri) = keys.and_then(|k| k.jwks_uri()) { p.hint { (w.jwks_uri) ": " code { (uri) } } }
                            (key_fields(c, &edit_id))
                        }
                        button type="submit" { (w.save) }
                    }
                }
            }
        }
    }
}
