//! What one console POST tells the GET that follows it: a secret to show once, or the error
//! to show. Sealed under the pepper in the table, keyed by a keyed hash of the session (one slot
//! per session: a newer flash replaces an older one), for at most five minutes, and deleted as it
//! is read — so a shown-once secret is on exactly one page, and never in a URL.

use keygate_core::kernel::crypto::{Sealed, Secret};
use keygate_core::ports::store::{Condition, Item, Key, StoreError};
use keygate_core::{ApiError, ApiResult, Services};
use serde::{Deserialize, Serialize};

/// How long a flash waits for its page.
const FLASH_TTL_SECONDS: i64 = 300;
/// Keyed-hash domain of the flash slot's key.
const FLASH_DOMAIN: &str = "console-flash";

/// A flash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Flash {
    /// A new client app, or a client app's new secret.
    ClientApp { client_id: String, secret: String },
    /// A new OAuth client (its secret when confidential), or its new credentials.
    OAuthClient {
        client_id: String,
        secret: Option<String>,
    },
    /// The caller's regenerated API key.
    ApiKey { key: String },
    /// Something done, without a secret (the words say what).
    Done { what: String },
    /// A refused action: its reason code and message.
    Error { reason: String, message: String },
}

impl std::fmt::Debug for Flash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flash::Error { reason, .. } => write!(f, "Flash::Error({reason})"),
            Flash::Done { what } => write!(f, "Flash::Done({what})"),
            _ => f.write_str("Flash(***)"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    sealed: Sealed,
}

async fn slot(s: &Services, session: &str) -> (Key, String) {
    let ring = s.keys.ring().await;
    let hash = ring.peppers().hash(FLASH_DOMAIN, &Secret::new(session));
    let key = Key::new(format!("CONSOLE#{}", hash.0), "FLASH");
    (key, format!("console-flash:{}", hash.0))
}

/// Leaves `flash` for the session's next page.
pub async fn put(s: &Services, session: &str, flash: &Flash) -> ApiResult<()> {
    let (key, aad) = slot(s, session).await;
    let text = serde_json::to_string(flash).map_err(ApiError::internal)?;
    let ring = s.keys.ring().await;
    let stored = Stored {
        sealed: ring.peppers().seal(&aad, &text),
    };
    let item = Item::new(key, &stored)?.with_ttl(s.now() + FLASH_TTL_SECONDS);
    s.table.put(item, Condition::Always).await?;
    Ok(())
}

/// Takes the session's flash, if a live one waits: deleted as it is read, so a second page
/// never shows it.
pub async fn take(s: &Services, session: &str) -> ApiResult<Option<Flash>> {
    let (key, aad) = slot(s, session).await;
    let live = Condition::Live { now: s.now() };
    let item = match s.table.delete(&key, live).await {
        Ok(Some(item)) => item,
        // None waits (or an expired one TTL has not removed yet).
        Ok(None) | Err(StoreError::ConditionFailed) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let stored: Stored = item.decode()?;
    let ring = s.keys.ring().await;
    Ok(ring
        .peppers()
        .open(&aad, &stored.sealed)
        .and_then(|text| serde_json::from_str(text.expose()).ok()))
}
