//! Platform events as producers put them on the queue (docs/EVENTS.md), and
//! their catalog ([`catalog`]).

pub mod catalog;

use serde::{Deserialize, Serialize};

use crate::kernel::ids::AccountId;

/// The 24 event types of OneSpan's list.
pub const EVENT_TYPES: [&str; 24] = [
    "PACKAGE_CREATE",
    "PACKAGE_EXPIRE",
    "SIGNER_LOCKED",
    "PACKAGE_DELETE",
    "PACKAGE_DEACTIVATE",
    "PACKAGE_ATTACHMENT",
    "TEMPLATE_CREATE",
    "COBROWSE_REQUEST",
    "PACKAGE_READY_FOR_COMPLETE",
    "DOCUMENT_SIGNED",
    "PACKAGE_ACTIVATE",
    "ROLE_REASSIGN",
    "PACKAGE_TRASH",
    "SIGNER_COMPLETE",
    "PACKAGE_ARCHIVE",
    "PACKAGE_UNARCHIVE",
    "DOCUMENT_VIEWED",
    "PACKAGE_COMPLETE",
    "KBA_FAILURE",
    "PACKAGE_DECLINE",
    "EMAIL_BOUNCE",
    "VIDEO_RECORDINGS_READY",
    "PACKAGE_OPT_OUT",
    "PACKAGE_RESTORE",
];

/// keygate's own operational events (Svix's operational webhooks): about an endpoint of the
/// account, which they are never sent to. Off by default, subscribable by any endpoint.
pub const OPERATIONAL_EVENTS: [&str; 3] =
    [ENDPOINT_DISABLED, DELIVERY_EXHAUSTED, ENDPOINT_RECOVERED];
/// An endpoint was disabled: it answered `410 Gone`, or every delivery failed for days
/// (`reason` says which).
pub const ENDPOINT_DISABLED: &str = "CALLBACK_ENDPOINT_DISABLED";
/// A message went to the dead-letter queue for an endpoint (`messageId`): its retries are used
/// up.
pub const DELIVERY_EXHAUSTED: &str = "CALLBACK_DELIVERY_EXHAUSTED";
/// A disabled endpoint is enabled again (a recover, or its settings saved again).
pub const ENDPOINT_RECOVERED: &str = "CALLBACK_ENDPOINT_RECOVERED";

/// One of the 24 platform events, or an operational one.
pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.contains(&name) || is_operational(name)
}

/// One of keygate's own operational events.
pub fn is_operational(name: &str) -> bool {
    OPERATIONAL_EVENTS.contains(&name)
}

/// An operational event of `account` about its endpoint `about` (its API id: `primary` for the
/// primary callback), with `extra` fields (`reason`, `messageId`), as the webhooks function and
/// the management routes put it on the events queue. Its id is new (`evt_op_…`); `message`
/// says in English what happened.
pub fn operational(
    account: &AccountId,
    name: &'static str,
    about: &str,
    message: String,
    extra: serde_json::Map<String, serde_json::Value>,
    now: crate::kernel::clock::UnixSeconds,
) -> EventMessage {
    let mut fields = serde_json::Map::new();
    fields.insert("endpointId".into(), about.into());
    fields.extend(extra);
    EventMessage {
        id: format!("evt_op_{}", crate::kernel::ids::random_suffix()),
        account_id: account.clone(),
        name: name.to_owned(),
        package_id: None,
        document_id: None,
        session_user: None,
        message: Some(message),
        created_date: Some(crate::kernel::clock::rfc3339(now)),
        extra: fields,
    }
}

impl EventMessage {
    /// The endpoint an operational event is about (its API id), which it is never sent to.
    pub fn about(&self) -> Option<&str> {
        if !is_operational(&self.name) {
            return None;
        }
        self.extra.get("endpointId").and_then(|v| v.as_str())
    }
}

/// Largest queue message accepted (SQS's own limit): larger ones are poison.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// A queue message: OneSpan's fields, and any further ones an event carries (OneSpan's
/// `COBROWSE_REQUEST` adds `phone`, `comment`, `selectedSupportBusinessHours`), which pass
/// through to the delivered body untouched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMessage {
    pub id: String,
    pub account_id: AccountId,
    pub name: String,
    #[serde(default)]
    pub package_id: Option<String>,
    #[serde(default)]
    pub document_id: Option<String>,
    #[serde(default)]
    pub session_user: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub created_date: Option<String>,
    /// The event's own further fields, in the order they came.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Why a message can never be delivered (it goes to the DLQ at once, with this reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Poison {
    #[error("body is not a valid event message: {0}")]
    Malformed(String),
    #[error("the message is larger than 256 KB")]
    TooLarge,
    #[error("unknown event name '{0}'")]
    UnknownEvent(String),
    #[error("event id must be 1-128 visible characters")]
    BadId,
    #[error("createdDate is not an RFC 3339 timestamp")]
    BadDate,
    #[error("account {0} does not exist")]
    UnknownAccount(String),
}

impl Poison {
    pub fn code(&self) -> &'static str {
        match self {
            Poison::Malformed(_) => "malformed",
            Poison::TooLarge => "too_large",
            Poison::UnknownEvent(_) => "unknown_event",
            Poison::BadId => "bad_id",
            Poison::BadDate => "bad_date",
            Poison::UnknownAccount(_) => "unknown_account",
        }
    }
}

/// Parses and checks a message body strictly.
pub fn parse(body: &str) -> Result<EventMessage, Poison> {
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(Poison::TooLarge);
    }
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| Poison::Malformed(e.to_string()))?;
    if !value.is_object() {
        return Err(Poison::Malformed("not a JSON object".into()));
    }
    let m: EventMessage =
        serde_json::from_value(value).map_err(|e| Poison::Malformed(e.to_string()))?;
    if m.id.is_empty() || m.id.len() > 128 || !m.id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Poison::BadId);
    }
    if !is_event_type(&m.name) {
        return Err(Poison::UnknownEvent(crate::kernel::ids::printable(&m.name)));
    }
    if m.created_date
        .as_deref()
        .is_some_and(|d| !looks_like_rfc3339(d))
    {
        return Err(Poison::BadDate);
    }
    Ok(m)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`, with fields in range.
fn looks_like_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    let shape = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape
        || !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    matches!(rest, "Z" | "z")
        || (rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':'
            && rest[1..3].bytes().all(|c| c.is_ascii_digit())
            && rest[4..6].bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(name: &str, date: &str) -> String {
        format!(
            r#"{{"id":"evt_1","accountId":"{}","name":"{name}","packageId":"p","documentId":null,"sessionUser":"u","message":null,"createdDate":"{date}"}}"#,
            AccountId::generate()
        )
    }

    #[test]
    fn valid_messages_parse() {
        let m = parse(&msg("PACKAGE_CREATE", "2026-11-26T10:00:00Z")).unwrap();
        assert_eq!(m.name, "PACKAGE_CREATE");
        assert!(parse(&msg("DOCUMENT_SIGNED", "2026-11-26T10:00:00.123+01:00")).is_ok());
    }

    #[test]
    fn poison_is_named() {
        assert_eq!(parse("nope").unwrap_err().code(), "malformed");
        assert_eq!(
            parse(&msg("package_create", "2026-11-26T10:00:00Z"))
                .unwrap_err()
                .code(),
            "unknown_event"
        );
        assert_eq!(
            parse(&msg("PACKAGE_CREATE", "yesterday"))
                .unwrap_err()
                .code(),
            "bad_date"
        );
        assert_eq!(
            parse(&msg("PACKAGE_CREATE", "2026-13-26T10:00:00Z"))
                .unwrap_err()
                .code(),
            "bad_date"
        );
        assert_eq!(parse("[1]").unwrap_err().code(), "malformed");
        assert_eq!(
            parse(r#"{"id":"e","name":"PACKAGE_CREATE"}"#)
                .unwrap_err()
                .code(),
            "malformed"
        );
        let huge = msg("PACKAGE_CREATE", "2026-11-26T10:00:00Z").replace(
            "\"message\":null",
            &format!("\"message\":\"{}\"", "x".repeat(MAX_MESSAGE_BYTES)),
        );
        assert_eq!(parse(&huge).unwrap_err().code(), "too_large");
    }

    #[test]
    fn an_events_own_fields_pass_through_untouched() {
        let body = msg("COBROWSE_REQUEST", "2026-11-26T10:00:00Z").replace(
            "\"id\"",
            r#""phone":"+1 555 0100","comment":"call me","selectedSupportBusinessHours":{"from":"09:00","to":"17:00"},"id""#,
        );
        let m = parse(&body).unwrap();
        assert_eq!(m.extra["phone"], "+1 555 0100");
        let out: serde_json::Value = serde_json::to_value(&m).unwrap();
        let input: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(out, input, "the delivered body is the message as sent");
        assert!(parse(&msg("PACKAGE_CREATE", "x").replace(r#","createdDate":"x""#, "")).is_ok());
    }

    #[test]
    fn there_are_24_distinct_event_types() {
        let mut v = EVENT_TYPES.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 24);
        assert!(OPERATIONAL_EVENTS
            .iter()
            .all(|e| is_event_type(e) && is_operational(e) && !EVENT_TYPES.contains(e)));
    }

    #[test]
    fn operational_events_name_the_endpoint_they_are_about() {
        let acc = AccountId::generate();
        let mut extra = serde_json::Map::new();
        extra.insert("reason".into(), "the endpoint answered 410 Gone".into());
        let e = operational(&acc, ENDPOINT_DISABLED, "primary", "x".into(), extra, 0);
        assert!(e.id.starts_with("evt_op_"));
        assert_eq!(e.about(), Some("primary"));
        assert_eq!(e.created_date.as_deref(), Some("1970-01-01T00:00:00Z"));
        // As queued and parsed back: a valid event message of its own.
        let back = parse(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back.extra["reason"], "the endpoint answered 410 Gone");
        assert_eq!(back.about(), Some("primary"));
        let mut plain = back.clone();
        plain.name = "PACKAGE_CREATE".into();
        assert_eq!(
            plain.about(),
            None,
            "only operational events are about an endpoint"
        );
    }
}
