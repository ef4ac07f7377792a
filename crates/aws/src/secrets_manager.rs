//! The Secrets Manager adapter of [`KeySource`]: the document is the secret's `SecretString`.

use async_trait::async_trait;

use keygate_core::kernel::fault::Service;
use keygate_core::ports::keys::{KeyDocument, KeyError, KeySource, Malformed};

/// Secrets Manager adapter.
pub struct SecretsManagerKeySource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerKeySource {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }
}

impl SecretsManagerKeySource {
    fn failed<E>(&self, op: &'static str, e: aws_sdk_secretsmanager::error::SdkError<E>) -> KeyError
    where
        E: aws_sdk_secretsmanager::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        KeyError::Service(crate::sdk::service_error(
            Service::SecretsManager,
            op,
            &self.secret_id,
            e,
        ))
    }
}

#[async_trait]
impl KeySource for SecretsManagerKeySource {
    async fn load(&self) -> Result<KeyDocument, KeyError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| self.failed("GetSecretValue", e))?;
        let text = out
            .secret_string()
            .ok_or(KeyError::Malformed(Malformed::NoSecretString))?;
        serde_json::from_str(text).map_err(|e| KeyError::Malformed(Malformed::Json(e)))
    }

    async fn store(&self, doc: &KeyDocument) -> Result<(), KeyError> {
        let text =
            serde_json::to_string(doc).map_err(|e| KeyError::Malformed(Malformed::Json(e)))?;
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(text)
            .send()
            .await
            .map_err(|e| self.failed("PutSecretValue", e))?;
        Ok(())
    }
}
