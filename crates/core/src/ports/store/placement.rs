//! Where each item family lives: the **credential records** every request needs (accounts,
//! users, the API-key index, clients and their revocations, audit records) and the
//! **short-lived, high-volume items** (nonces, DPoP and client assertions' `jti`s, lockout
//! counters, authorization codes,
//! pushed requests, refresh tokens, authentication tokens, sessions, console notices, webhook
//! delivery bookkeeping, retained messages and their index, per-endpoint rate counters).
//! docs/SCALE.md, "Blast radius": each table has its own on-demand maximum, so neither a
//! credential-stuffing attack (lockout counters) nor a webhook storm (delivery marks,
//! attempts, retained messages) can throttle the reads that authenticate every tenant.
//!
//! Where an item lives is decided here, once, from its partition key's family
//! ([`placement`]); the domain keeps writing keys, never table names. The DynamoDB adapter
//! places each item by it, and a transaction may span both tables (DynamoDB's transactions
//! span the tables of one account and region), so placement never weakens an at-most-once
//! guarantee: the API key's regeneration moves the console session that made it in the same
//! transaction. The in-memory twin keeps one map (it has no capacity to isolate); the meter
//! ([`super::meter`]) reports the figures per table with [`placement`].

/// Which table an item family lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The credential records: read on every request (through the instance cache), written
    /// rarely.
    Credentials,
    /// Short-lived, high-volume items: written per request or per event, expiring by TTL.
    Volatile,
}

/// Partition-key families of the volatile table (the index keys of its items too).
pub const VOLATILE: [&str; 17] = [
    "NONCE#",     // signed requests' nonces
    "DPOPJTI#",   // DPoP proofs' jti
    "ASSERTJTI#", // client assertions' jti (private_key_jwt)
    "LOCK#",      // lockout counters
    "CODE#",      // authorization codes
    "CODEUSED#",  // their tombstones
    "PAR#",       // pushed authorization requests
    "RT#",        // refresh tokens
    "AUTHTOK#",   // authentication tokens and their tombstones
    "SESSION#",   // sessions
    "CONSOLE#",   // the console's one-time notices
    "ATTEMPT#",   // delivery attempts (per message)
    "ATTEMPTS#",  // their recent-first index (sharded)
    "DELIVERED#", // delivery claims and marks (per message)
    "MSG#",       // retained messages (per message)
    "MSGS#",      // their newest-first listing index (sharded)
    "RATE#",      // per-endpoint delivery counters (per endpoint and second)
];

/// Where items whose partition (or index partition) key is `pk` live.
pub fn placement(pk: &str) -> Placement {
    if VOLATILE.iter().any(|p| pk.starts_with(p)) {
        Placement::Volatile
    } else {
        Placement::Credentials
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_records_stay_in_the_credentials_table() {
        for pk in [
            "ACC#a",
            "APIKEY#h",
            "EMAIL#e",
            "CLIENT#c",
            "CLIENTS#x",
            "AUDIT#a",
            "USER#u",
        ] {
            assert_eq!(placement(pk), Placement::Credentials, "{pk}");
        }
        for pk in [
            "LOCK#src#1",
            "NONCE#c#n",
            "DPOPJTI#k#j",
            "ASSERTJTI#oc_c#j",
            "SESSION#h",
            "AUTHTOK#h",
            "CODE#h",
            "RT#h",
            "ATTEMPTS#a#07",
            "DELIVERED#a#e",
            "MSG#a#evt_1",
            "MSGS#a#07",
            "RATE#a#ep_x#1800000000",
        ] {
            assert_eq!(placement(pk), Placement::Volatile, "{pk}");
        }
    }
}
