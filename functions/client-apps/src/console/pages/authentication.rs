//! Admin > Authentication Settings: which credentials the account's integrations use.

use super::*;

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
