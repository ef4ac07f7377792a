//! What input accounts accept: validation of what a caller sends, before anything is stored.

use super::*;

/// Validates an account or app name: 1–200 characters, no control characters.
pub fn validate_name(field: &'static str, name: &str) -> ApiResult<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ApiError::bad_request(
            "name_empty",
            format!("{field} must not be empty"),
        ));
    }
    if trimmed.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "name_too_long",
            format!("{field} must be at most 200 characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "name_control_chars",
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A plausible email: one `@`, non-empty parts, a dot in the domain, at most 254 characters.
pub fn validate_email(email: &str) -> ApiResult<String> {
    let e = email.trim();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@'));
    if ok {
        Ok(e.to_owned())
    } else {
        Err(ApiError::bad_request(
            "email_invalid",
            "email is not a valid address",
        ))
    }
}
