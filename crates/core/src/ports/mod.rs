//! The ports the domain talks to — the single [`store::Table`], the [`queue::Queue`] and the
//! signing keys' [`keys::KeySource`] — with their in-memory twins, and the [`services::Services`]
//! a function runs on. Their AWS adapters are `keygate_aws`'s. The `token` function alone also
//! fetches OAuth clients' published keys ([`jwks::FetchJwks`], behind [`jwks::RemoteJwks`]).

pub mod jwks;
pub mod keys;
pub mod queue;
pub mod services;
pub mod store;

/// What a domain function needs of the ports when it reads credentials — the table, the key
/// ring (whose peppers secrets are hashed under) and the time — lent by a [`services::Services`]
/// for one request, so that no domain function takes the whole bag.
#[derive(Clone)]
pub struct Ports<'a> {
    pub table: &'a dyn store::Table,
    pub ring: std::sync::Arc<keys::KeyRing>,
    pub now: crate::kernel::clock::UnixSeconds,
}

impl<'a> Ports<'a> {
    /// The ports `services` lend, at its clock's now.
    pub async fn of(services: &'a services::Services) -> Ports<'a> {
        Ports {
            table: &*services.table,
            ring: services.keys.ring().await,
            now: services.now(),
        }
    }

    pub fn peppers(&self) -> &crate::kernel::crypto::Peppers {
        self.ring.peppers()
    }
}
