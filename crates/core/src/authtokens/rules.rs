//! What input authtokens accept: validation of what a caller sends, before anything is stored.

use super::*;

/// 1–[`MAX_ID_LEN`] visible ASCII characters (`!`..=`~`): no spaces, controls or non-ASCII.
pub(super) fn visible_id(
    value: Option<&str>,
    field: &str,
    missing: &'static str,
    malformed: &'static str,
) -> ApiResult<String> {
    let v = match value {
        None | Some("") => {
            return Err(ApiError::bad_request(
                missing,
                format!("{field} is required"),
            ))
        }
        Some(v) => v,
    };
    if v.len() > MAX_ID_LEN || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            malformed,
            format!(
                "{field} must be 1 to {MAX_ID_LEN} visible ASCII characters (no spaces or controls)"
            ),
        ));
    }
    Ok(v.to_owned())
}

/// A package (transaction) id as the platform names it, e.g. `5vjLRY5MWrDJ6MzRAEyCKOy5IH0=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PackageId(String);

impl PackageId {
    /// `None` or empty is `400 package_id_missing`; anything but 1–128 visible ASCII characters
    /// is `400 package_id_malformed`.
    pub fn parse(value: Option<&str>) -> ApiResult<Self> {
        visible_id(
            value,
            "packageId",
            "package_id_missing",
            "package_id_malformed",
        )
        .map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A signer of a package: its id or its email (OneSpan accepts either).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignerId(String);

impl SignerId {
    /// Same rules as [`PackageId::parse`], reasons `signer_id_missing` / `signer_id_malformed`.
    pub fn parse(value: Option<&str>) -> ApiResult<Self> {
        visible_id(
            value,
            "signerId",
            "signer_id_missing",
            "signer_id_malformed",
        )
        .map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The flat string map a single-use signer token carries into its session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionFields(BTreeMap<String, String>);

impl SessionFields {
    /// At most [`MAX_SESSION_FIELDS`] entries, keys of 1–[`MAX_FIELD_KEY_LEN`] characters
    /// without controls, values of at most [`MAX_FIELD_VALUE_LEN`] characters. Too many or too
    /// long is `413 session_fields_too_large`; an empty key or one with controls is `400`.
    pub fn parse(map: BTreeMap<String, String>) -> ApiResult<Self> {
        let too_large = |what: String| {
            ApiError::new(
                Kind::PayloadTooLarge,
                "session_fields_too_large",
                format!("sessionFields {what}"),
            )
        };
        if map.len() > MAX_SESSION_FIELDS {
            return Err(too_large(format!(
                "may have at most {MAX_SESSION_FIELDS} entries"
            )));
        }
        for (k, v) in &map {
            if k.is_empty() || k.chars().any(char::is_control) {
                return Err(ApiError::bad_request(
                    "session_field_key_malformed",
                    "sessionFields keys must be non-empty and free of control characters",
                ));
            }
            if k.chars().count() > MAX_FIELD_KEY_LEN {
                return Err(too_large(format!(
                    "keys may be at most {MAX_FIELD_KEY_LEN} characters"
                )));
            }
            if v.chars().count() > MAX_FIELD_VALUE_LEN {
                return Err(too_large(format!(
                    "values may be at most {MAX_FIELD_VALUE_LEN} characters"
                )));
            }
        }
        Ok(Self(map))
    }
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}
