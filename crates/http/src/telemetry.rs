//! Tracing, set up once per process: JSON lines in Lambda (CloudWatch reads them), compact text
//! locally. `RUST_LOG` filters.
//!
//! The JSON lines are written by [`JsonLines`], a small event formatter of our own: each line is
//! the event's level, target and fields, then `spans` — every span in scope, root first (the
//! Lambda runtime's invocation span with the `requestId`, then keygate's `request` span with
//! function, method, route, account, client and grant). `tracing-subscriber`'s JSON formatter
//! writes the same, but parses each span's stored fields back from JSON and serialises them again
//! at every event — the largest cost of a token request after its signature. Here a span's
//! fields are written once, when the span opens, as the JSON members [`SpanFields`] stores
//! (`,"k":v…`), and copied into each line as they are. (`tracing-subscriber`'s `JsonFields`
//! built a `serde_json` map per span for that, a fifth of the logging's cost.)
//!
//! What becomes known during a request (the account, an issued token's client and grant) is not
//! recorded on the span but kept beside the request ([`keygate_core::kernel::request_log`]) and
//! written on its `response` line.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global subscriber; a second call is a no-op.
pub fn init() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let json = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok()
        || std::env::var("KEYGATE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        registry
            .with(lines.fmt_fields(SpanFields).event_format(JsonLines))
            .try_init()
    } else {
        registry.with(lines.compact()).try_init()
    };
}

/// `RUST_LOG` as `target=level` directives and a bare default level (`info`,
/// `warn,keygate_token=debug`), read by `tracing-subscriber`'s `Targets`. (Its `EnvFilter` also
/// takes span and field filters, which keygate never used, and links a regex engine with its
/// Unicode tables into every function: about half a megabyte of each binary.) Unset: `info`;
/// unreadable: `info`, and a line on stderr that says so.
pub fn log_filter(spec: Option<&str>) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let default = || Targets::new().with_default(LevelFilter::INFO);
    match spec.map(str::trim).filter(|s| !s.is_empty()) {
        None => default(),
        Some(spec) => spec.parse().unwrap_or_else(|e| {
            eprintln!("RUST_LOG '{spec}' is not target=level directives ({e}): logging at info");
            default()
        }),
    }
}

/// One JSON object per event (see the module doc).
pub struct JsonLines;

/// Only with [`SpanFields`]: the span fields are copied into the line as they are stored, so
/// they must be JSON members (another formatter's `key=value` text would land unescaped).
impl<S> FormatEvent<S, SpanFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, SpanFields>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        w.write_str("{\"level\":\"")?;
        w.write_str(meta.level().as_str())?;
        w.write_str("\",\"target\":")?;
        json_str(&mut w, meta.target())?;
        let mut fields = Fields {
            w: &mut w,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        if let Some(scope) = ctx.event_scope() {
            w.write_str(",\"spans\":[")?;
            for (i, span) in scope.from_root().enumerate() {
                if i > 0 {
                    w.write_char(',')?;
                }
                w.write_str("{\"name\":")?;
                json_str(&mut w, span.name())?;
                let ext = span.extensions();
                // The span's fields as `SpanFields` stored them: `,"k":v…`, or nothing.
                if let Some(stored) = ext.get::<FormattedFields<SpanFields>>() {
                    w.write_str(&stored.fields)?;
                }
                w.write_char('}')?;
            }
            w.write_char(']')?;
        }
        w.write_str("}\n")
    }
}

/// A span's fields as JSON members, `,"name":value` each, the form [`JsonLines`] copies into
/// every line of the span. A field recorded later is appended the same way.
pub struct SpanFields;

impl<'w> FormatFields<'w> for SpanFields {
    fn format_fields<R: RecordFields>(&self, mut w: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Fields {
            w: &mut w,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        self.format_fields(current.as_writer(), fields)
    }
}

/// Writes an event's fields as `,"name":value` pairs.
struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        self.w.write_char(',')?;
        json_str(self.w, field.name())?;
        self.w.write_char(':')
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| json_str(self.w, value));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| write!(self.w, "{value}"));
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| write!(self.w, "{value}"));
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| write!(self.w, "{value}"));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            let text = format!("{value:?}");
            self.result = self.key(field).and_then(|()| json_str(self.w, &text));
        }
    }
}

/// `s` as a JSON string.
fn json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        w.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(w, "\\u{b:04x}")?;
        } else {
            w.write_str(escape)?;
        }
        start = i + 1;
    }
    w.write_str(&s[start..])?;
    w.write_char('"')
}

/// Runs one HTTP request inside a `request` span (function, method, route; the account, client
/// and grant once known) and logs its outcome. The query string is never logged: it can carry
/// tokens.
pub fn observe<F>(
    function: &'static str,
    method: &str,
    path: &str,
    fut: F,
) -> impl std::future::Future<Output = lambda_http::Response<lambda_http::Body>>
where
    F: std::future::Future<Output = lambda_http::Response<lambda_http::Body>>,
{
    use futures_util::FutureExt;
    use tracing::Instrument;
    // Combinators, not an `async` block around `fut`: an async wrapper keeps room for the inner
    // future twice (see `keygate_core::kernel::request_log::scope`). The `response` line is
    // written inside the span: `instrument` enters it for the poll that completes.
    let span = tracing::info_span!("request", function, method = %method, route = %path);
    let logged = keygate_core::kernel::request_log::observed(fut).map(|(resp, known)| {
        tracing::info!(
            status = resp.status().as_u16(),
            account = known.account.as_deref(),
            client = known.client.as_deref(),
            grant = known.grant,
            "response"
        );
        resp
    });
    keygate_core::kernel::request_log::scope(logged).instrument(span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn lines_are_json_with_fields_and_spans() {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(SpanFields)
            .event_format(JsonLines)
            .with_writer(buf.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("Lambda runtime invoke", requestId = "r-1");
            let _o = outer.enter();
            let span = tracing::info_span!(
                "request",
                route = "/api/oauth2/token",
                later = tracing::field::Empty
            );
            span.record("later", "recorded \"afterwards\"");
            let _s = span.enter();
            tracing::info!(
                status = 200u64,
                account = "acc_1",
                note = "a \"quoted\"\n\\ line",
                ok = true,
                "response"
            );
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "response");
        assert_eq!(v["status"], 200);
        assert_eq!(v["ok"], true);
        assert_eq!(v["note"], "a \"quoted\"\n\\ line");
        assert_eq!(v["spans"][0]["name"], "Lambda runtime invoke");
        assert_eq!(v["spans"][0]["requestId"], "r-1");
        assert_eq!(v["spans"][1]["route"], "/api/oauth2/token");
        assert_eq!(v["spans"][1]["later"], "recorded \"afterwards\"");
        assert_eq!(v["spans"][1]["name"], "request");
        assert_eq!(v["account"], "acc_1", "{text}");
    }

    #[tokio::test]
    async fn what_a_request_learns_reaches_its_response_line() {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(SpanFields)
            .event_format(JsonLines)
            .with_writer(buf.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        observe("token", "POST", "/api/oauth2/token", async {
            keygate_core::kernel::request_log::record_account("acc_2");
            keygate_core::kernel::request_log::record_issued("oc_x", "client_credentials");
            lambda_http::Response::new(lambda_http::Body::Empty)
        })
        .await;
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["message"], "response");
        assert_eq!(
            (v["account"].as_str(), v["client"].as_str()),
            (Some("acc_2"), Some("oc_x"))
        );
        assert_eq!(v["grant"], "client_credentials");
        assert_eq!(v["spans"][0]["function"], "token");
    }

    #[test]
    fn rust_log_is_read_as_targets_and_levels() {
        use tracing::Level;
        let f = log_filter(Some("warn,keygate_token=debug"));
        assert!(f.would_enable("keygate_token::grants", &Level::DEBUG));
        assert!(!f.would_enable("keygate_token", &Level::TRACE));
        assert!(f.would_enable("hyper", &Level::WARN));
        assert!(!f.would_enable("hyper", &Level::INFO));
        for unset_or_unreadable in [None, Some(""), Some("keygate=loud")] {
            let f = log_filter(unset_or_unreadable);
            assert!(f.would_enable("keygate_verify", &Level::INFO));
            assert!(!f.would_enable("keygate_verify", &Level::DEBUG));
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\u{1}b").unwrap();
        assert_eq!(s, "\"a\\u0001b\"");
        assert_eq!(serde_json::from_str::<String>(&s).unwrap(), "a\u{1}b");
    }
}
