//! CloudWatch Embedded Metric Format: one JSON line per data point on stdout, which CloudWatch
//! turns into metrics — no API call on the request path. Off outside Lambda unless
//! `KEYGATE_METRICS=stdout`; tests install their own sink.

use std::sync::OnceLock;

type Sink = Box<dyn Fn(&str) + Send + Sync>;

static SINK: OnceLock<Option<Sink>> = OnceLock::new();

/// Sends metric lines to `sink` instead of stdout (tests). First call wins.
pub fn set_sink(sink: impl Fn(&str) + Send + Sync + 'static) {
    let _ = SINK.set(Some(Box::new(sink)));
}

fn sink() -> &'static Option<Sink> {
    SINK.get_or_init(|| {
        let on = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok()
            || std::env::var("KEYGATE_METRICS").is_ok_and(|v| v == "stdout");
        on.then(|| Box::new(|line: &str| println!("{line}")) as Sink)
    })
}

/// The function's name, read once (`AWS_LAMBDA_FUNCTION_NAME`, `local` outside Lambda).
fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into())
    })
}

/// `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The EMF line for one data point. Two dimension sets: `Function` alone (what the alarms of
/// `template.yaml` watch) and `Function` with `dims`. Written directly, not through a JSON value:
/// it is on every request's path.
pub fn emf_line(
    name: &str,
    unit: &str,
    value: f64,
    dims: &[(&str, &str)],
    timestamp_ms: i64,
) -> String {
    use std::fmt::Write;
    let mut o = String::with_capacity(256);
    let _ = write!(o, "{{\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":[{{\"Namespace\":\"keygate\",\"Dimensions\":[[\"Function\"],[\"Function\"");
    for (k, _) in dims {
        o.push(',');
        push_json_str(&mut o, k);
    }
    o.push_str("]],\"Metrics\":[{\"Name\":");
    push_json_str(&mut o, name);
    o.push_str(",\"Unit\":");
    push_json_str(&mut o, unit);
    o.push_str("}]}]},\"Function\":");
    push_json_str(&mut o, function_name());
    for (k, v) in dims {
        o.push(',');
        push_json_str(&mut o, k);
        o.push(':');
        push_json_str(&mut o, v);
    }
    o.push(',');
    push_json_str(&mut o, name);
    let value = if value.is_finite() { value } else { 0.0 };
    let _ = write!(o, ":{value:?}}}");
    o
}

/// Emits one data point (a no-op when metrics are off).
pub fn emit(name: &str, unit: &str, value: f64, dims: &[(&str, &str)]) {
    if let Some(sink) = sink() {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        sink(&emf_line(name, unit, value, dims, ms));
    }
}

/// A token was issued (`grant`: client_credentials, authorization_code, refresh_token,
/// implicit, api_token).
pub fn token_issued(grant: &str) {
    emit("TokensIssued", "Count", 1.0, &[("Grant", grant)]);
}

/// A request was refused, by stable reason code.
pub fn refused(reason: &str) {
    emit("Refusals", "Count", 1.0, &[("Reason", reason)]);
}

/// A backing service was down or throttling for a request (`reason`: `dynamodb_unavailable`,
/// `sqs_unavailable`, `secrets_manager_unavailable`). Counted apart from refusals, so an outage
/// never looks like credential stuffing on the refusals alarm.
pub fn outage(reason: &str) {
    emit("Outages", "Count", 1.0, &[("Reason", reason)]);
}

/// A webhook delivery attempt ended (`outcome`: delivered, failed, gone, blocked, …).
pub fn delivery(outcome: &str, latency_ms: f64) {
    emit("WebhookDeliveries", "Count", 1.0, &[("Outcome", outcome)]);
    emit(
        "WebhookLatency",
        "Milliseconds",
        latency_ms,
        &[("Outcome", outcome)],
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn emf_lines_declare_their_metric_and_dimensions() {
        let line = super::emf_line("Refusals", "Count", 1.0, &[("Reason", "jwt_expired")], 42);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 42);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "keygate");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            serde_json::json!(["Function"])
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][1],
            serde_json::json!(["Function", "Reason"])
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "Refusals"
        );
        assert_eq!(v["Reason"], "jwt_expired");
        assert_eq!(v["Refusals"], 1.0);
        assert_eq!(v["Function"], "local");
        let odd = super::emf_line("M", "Count", 2.5, &[("D", "a\"b\\c\n")], 1);
        let v: serde_json::Value = serde_json::from_str(&odd).unwrap();
        assert_eq!(v["D"], "a\"b\\c\n");
        assert_eq!(v["M"], 2.5);
    }
}
