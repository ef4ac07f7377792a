//! What a request learns about itself while it runs — the authenticated account, the client
//! and grant of a token it issued — for the one `response` line the HTTP layer logs
//! (`keygate_http::telemetry::observe`). The domain records here; it never names the logging
//! crate. Outside [`scope`] every record is a no-op.

use std::future::Future;

/// What a request learns about itself, for its `response` line.
#[derive(Default, Debug, Clone)]
pub struct Known {
    pub account: Option<String>,
    pub client: Option<String>,
    pub grant: Option<&'static str>,
}

tokio::task_local! {
    static REQUEST: std::cell::RefCell<Known>;
}

/// Records the authenticated account for the request's `response` line (a no-op outside
/// [`scope`]).
pub fn record_account(account: &str) {
    let _ = REQUEST.try_with(|r| r.borrow_mut().account = Some(account.to_owned()));
}

/// Records an issued token's client and grant for the request's `response` line, which then says
/// what was issued without a line of its own.
pub fn record_issued(client: &str, grant: &'static str) {
    let _ = REQUEST.try_with(|r| {
        let mut k = r.borrow_mut();
        k.client = Some(client.to_owned());
        k.grant = Some(grant);
    });
}

/// Runs `fut` with a fresh record (what [`observed`] then reads).
///
/// This and [`observed`] are plain functions returning their future, not `async fn`s: an
/// `async fn` taking a future keeps room for it twice (the argument, then the awaited copy), and
/// every request's future wraps these, so the request future — which axum boxes and moves —
/// grew with each layer (7.5 KB for the token route's dispatch; now the handler's own size).
pub fn scope<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    REQUEST.scope(std::cell::RefCell::default(), fut)
}

/// Runs `fut` inside a [`scope`]d request, and takes what it recorded.
pub fn observed<F: Future>(fut: F) -> impl Future<Output = (F::Output, Known)> {
    use futures_util::FutureExt;
    fut.map(|out| {
        let known = REQUEST.try_with(|r| r.take()).unwrap_or_default();
        (out, known)
    })
}
