//! The port the key document comes from, and its in-memory twin.

use async_trait::async_trait;

use super::{KeyDocument, KeyError};

/// Where the key document comes from.
#[async_trait]
pub trait KeySource: Send + Sync + 'static {
    async fn load(&self) -> Result<KeyDocument, KeyError>;
    /// Replaces the document (rotation by the admin command).
    async fn store(&self, doc: &KeyDocument) -> Result<(), KeyError>;
}

/// An in-memory key document: the embedded default and tests.
pub struct MemoryKeySource(std::sync::Mutex<KeyDocument>);

impl MemoryKeySource {
    pub fn new(doc: KeyDocument) -> Self {
        Self(std::sync::Mutex::new(doc))
    }
}

#[async_trait]
impl KeySource for MemoryKeySource {
    async fn load(&self) -> Result<KeyDocument, KeyError> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
    async fn store(&self, doc: &KeyDocument) -> Result<(), KeyError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = doc.clone();
        Ok(())
    }
}
