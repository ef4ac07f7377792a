//! Authorization codes (RFC 6749 §4.1) with PKCE (RFC 7636): issued by the consent, redeemed
//! once by the token endpoint.
//!
//! A code is stored under its keyed hash for [`CODE_TTL`] seconds; redeeming it deletes it in one
//! transaction with a "used" marker that remembers its grant, so a code presented again can be
//! told from an unknown one and the grant it produced revoked (RFC 6749 §4.1.2).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::identity::principal::SubjectType;
use crate::kernel::clock::UnixSeconds;
use crate::kernel::crypto::{ct_eq, Peppers, Secret};
use crate::kernel::error::{ApiError, ApiResult, OAuthError};
use crate::kernel::ids::AccountId;
use crate::ports::store::{Condition, Item, Key, StoreError, Table, WriteOp};

/// Authorization codes live 60 s.
pub const CODE_TTL: i64 = 60;
/// How long a used code's marker is kept (reuse detection).
const USED_TTL: i64 = 3600;
const CODE_DOMAIN: &str = "oauth-code";

/// An authorization code's grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeGrant {
    pub client_id: String,
    pub account_id: AccountId,
    pub user_id: String,
    pub sub_type: SubjectType,
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the token request must too).
    pub redirect_uri_given: bool,
    pub code_challenge: Option<String>,
    pub scope: String,
    /// The grant family: the access and refresh tokens of this grant, revoked as one.
    pub family: String,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to (the authorization
    /// request's `dpop_jkt`, or the key of the proof its push came with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

fn code_key(hash: &str) -> Key {
    Key::new(format!("CODE#{hash}"), "CODE")
}

fn used_code_key(hash: &str) -> Key {
    Key::new(format!("CODEUSED#{hash}"), "CODEUSED")
}

fn invalid_grant(msg: &'static str) -> ApiError {
    ApiError::oauth(OAuthError::InvalidGrant, msg)
}

/// Stores a new code for `grant`; returns it (its only plaintext copy).
pub async fn issue_code(
    table: &dyn Table,
    peppers: &Peppers,
    grant: &CodeGrant,
    now: UnixSeconds,
) -> Result<Secret, StoreError> {
    let code = Secret::generate();
    let hash = peppers.hash(CODE_DOMAIN, &code);
    let item = Item::new(code_key(&hash.0), grant)?.with_ttl(now + CODE_TTL);
    table.put(item, Condition::NotExists).await?;
    Ok(code)
}

/// PKCE S256 (RFC 7636 §4.6): `BASE64URL(SHA256(verifier)) == challenge`, verifier 43–128
/// unreserved characters. Pure, constant-time on the comparison.
pub fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed
        && ct_eq(
            URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()))
                .as_bytes(),
            challenge.as_bytes(),
        )
}

/// What the token request presents besides the code. `Debug` prints the PKCE verifier (the
/// code's proof of possession) as `***`.
#[derive(Clone, Copy)]
pub struct Binding<'a> {
    /// The authenticated client.
    pub client_id: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    /// The thumbprint of the token request's checked DPoP proof, if any.
    pub jkt: Option<&'a str>,
}

impl std::fmt::Debug for Binding<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binding")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("code_verifier", &self.code_verifier.map(|_| "***"))
            .field("jkt", &self.jkt)
            .finish()
    }
}

/// The code's bindings against the token request (pure): its client, its redirect URI
/// (required when the authorization request named one), its DPoP key (when bound) and its PKCE
/// challenge.
pub fn check_binding(grant: &CodeGrant, b: &Binding<'_>) -> ApiResult<()> {
    if grant.client_id != b.client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if let Some(bound) = &grant.dpop_jkt {
        if b.jkt != Some(bound.as_str()) {
            return Err(invalid_grant(
                "the code is bound to a DPoP key (dpop_jkt): send a proof of that key",
            ));
        }
    }
    match (b.redirect_uri, grant.redirect_uri_given) {
        (Some(r), _) if r == grant.redirect_uri => {}
        (None, false) => {}
        _ => {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ))
        }
    }
    match (&grant.code_challenge, b.code_verifier) {
        (Some(ch), Some(v)) if pkce_ok(v, ch) => Ok(()),
        (Some(_), _) => Err(invalid_grant("the PKCE code_verifier does not match")),
        (None, Some(_)) => Err(invalid_grant(
            "no PKCE challenge was sent with the authorization request",
        )),
        (None, None) => Ok(()),
    }
}

/// Redeems `code` for the token request `binding` and returns its grant.
///
/// **At most once**: of any number of redemptions of one code, concurrent or not, exactly one
/// gets its grant; every other gets `invalid_grant`, and — when it comes from the client the code
/// was issued to — the grant the first produced is revoked (RFC 6749 §4.1.2: a code used twice
/// was intercepted). Every binding is checked **before** the code is consumed: a wrong caller
/// (another client, another redirect URI, a wrong PKCE verifier) is refused and the code stays
/// good for the client it was issued to.
pub async fn redeem_code(
    table: &dyn Table,
    peppers: &Peppers,
    code: &str,
    binding: &Binding<'_>,
    now: UnixSeconds,
) -> ApiResult<CodeGrant> {
    let hashes = peppers.lookup_hashes(CODE_DOMAIN, code);
    let mut found = None;
    for h in &hashes {
        if let Some(item) = table.get(&code_key(&h.0)).await?.filter(|i| i.is_live(now)) {
            found = Some((h.0.clone(), item));
            break;
        }
    }
    let Some((hash, item)) = found else {
        return Err(reused(table, &hashes, binding, now).await);
    };
    let grant: CodeGrant = item.decode()?;
    check_binding(&grant, binding)?;
    let consumed = table
        .transact(vec![
            WriteOp::Delete(code_key(&hash), Condition::Live { now }),
            WriteOp::Put(
                Item::new(used_code_key(&hash), &grant)?.with_ttl(now + USED_TTL),
                Condition::NotExists,
            ),
        ])
        .await;
    match consumed {
        Ok(()) => Ok(grant),
        Err(StoreError::ConditionFailed) => Err(reused(table, &hashes, binding, now).await),
        Err(e) => Err(e.into()),
    }
}

/// A code that is not (or no longer) there: if it was used, and is presented again with every
/// binding it was issued under (its client, redirect URI, PKCE verifier and DPoP key — what only
/// its rightful client holds), what it produced is revoked. A bare code from a URL or a log, a
/// public client's id beside it, revokes nothing: it cannot be turned into a denial of service.
/// The answer is the same `invalid_grant` either way.
async fn reused(
    table: &dyn Table,
    hashes: &[crate::kernel::crypto::SecretHash],
    binding: &Binding<'_>,
    now: UnixSeconds,
) -> ApiError {
    let refused = invalid_grant("the authorization code is invalid, expired or already used");
    for h in hashes {
        let grant = match table.get(&used_code_key(&h.0)).await {
            Ok(Some(item)) => match item.decode::<CodeGrant>() {
                Ok(g) => g,
                Err(_) => continue,
            },
            Ok(None) => continue,
            Err(e) => return e.into(),
        };
        if check_binding(&grant, binding).is_ok() {
            let until = now + super::REFRESH_TTL;
            if let Err(e) =
                crate::clients::revoke(table, &grant.client_id, &grant.family, until, now).await
            {
                return e.into();
            }
            tracing::warn!(client = %grant.client_id, "authorization code reused: its grant is revoked");
        }
        break;
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_never_debug_prints_the_verifier() {
        let b = Binding {
            client_id: "oc_abcdefghijklmnop",
            redirect_uri: None,
            code_verifier: Some("pkce-v3rifier-value"),
            jkt: None,
        };
        let shown = format!("{b:?}");
        assert!(!shown.contains("pkce-v3rifier-value"), "{shown}");
        assert!(
            shown.contains("***") && shown.contains("oc_abcdefghijklmnop"),
            "{shown}"
        );
    }

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 Appendix B.
        let (v, ch) = (
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        );
        assert!(pkce_ok(v, ch));
        assert!(!pkce_ok(v, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cX"));
        assert!(!pkce_ok("short", ch));
    }

    #[test]
    fn a_codes_bindings_are_checked_without_the_store() {
        let grant = CodeGrant {
            client_id: "oc_a".into(),
            account_id: AccountId::generate(),
            user_id: "u".into(),
            sub_type: SubjectType::Owner,
            redirect_uri: "https://a.test/cb".into(),
            redirect_uri_given: true,
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            scope: "Basic".into(),
            family: "f".into(),
            dpop_jkt: Some("jkt-a".into()),
        };
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let ok = Binding {
            client_id: "oc_a",
            redirect_uri: Some("https://a.test/cb"),
            code_verifier: Some(verifier),
            jkt: Some("jkt-a"),
        };
        assert!(check_binding(&grant, &ok).is_ok());
        for wrong in [
            Binding {
                client_id: "oc_b",
                ..ok
            },
            Binding {
                redirect_uri: None,
                ..ok
            },
            Binding {
                redirect_uri: Some("https://a.test/other"),
                ..ok
            },
            Binding {
                code_verifier: Some(&"x".repeat(43)),
                ..ok
            },
            Binding {
                code_verifier: None,
                ..ok
            },
            Binding { jkt: None, ..ok },
            Binding {
                jkt: Some("jkt-b"),
                ..ok
            },
        ] {
            assert_eq!(
                check_binding(&grant, &wrong).unwrap_err().reason,
                "invalid_grant"
            );
        }
    }
}
