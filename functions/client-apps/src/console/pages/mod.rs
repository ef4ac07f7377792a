//! The console's pages, as maud templates (compiled in, every value escaped). Accessible markup:
//! one `h1` per page, sections with headings, every input with its `label`, fieldsets with
//! legends for the grouped choices, `role="alert"` for errors and `role="status"` for
//! confirmations, a skip link, `aria-current` on the page's menu entry. Copy buttons are the
//! one bit of script (`/admin/assets/console.js`), hidden until it runs.

use keygate_core::accounts::AuthMethod;
use keygate_core::clients::{Client, SCOPES};
use keygate_core::kernel::ids::EndpointId;
use keygate_core::notify::endpoints::{AuthType, Endpoint};
use keygate_core::notify::events::catalog::{EventInfo, Origin, CATALOG};
use keygate_core::notify::messages::{Listed, Status};
use maud::{html, Markup, DOCTYPE};

use super::words::{Lang, Words};
use super::{html as page, Console, Flash};
use lambda_http::{Body, Response};

mod api_access;
mod authentication;
mod event_notifications;
mod plain;

pub use api_access::*;
pub use authentication::*;
pub use event_notifications::*;
pub use plain::*;

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
