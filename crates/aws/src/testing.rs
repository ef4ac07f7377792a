//! Test support: the local stack (DynamoDB Local, moto) as tests reach it.
//!
//! [`Stack::get`] uses the stack the environment names (`KEYGATE_TABLE` and the
//! `AWS_ENDPOINT_URL_*` variables, as `source .cache/stack/env` sets them); without them it runs
//! `infra/local/start.sh` (which installs what is missing, starts or reuses the stack, and writes
//! that env file) and reads the file. So `cargo test` alone works on a fresh machine, and never
//! silently skips the real-service tests. Clients get explicit endpoints; nothing here changes the
//! process environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use keygate_core::kernel::clock::Clock;
use keygate_core::kernel::config::{Backend, Config};
use keygate_core::ports::keys::Keys;
use keygate_core::ports::services::{Queues, Services};

use crate::{DynamoDbTable, SecretsManagerKeySource, SqsQueue};

pub struct Stack {
    vars: HashMap<String, String>,
}

const NEEDED: [&str; 7] = [
    "KEYGATE_TABLE",
    "KEYGATE_VOLATILE_TABLE",
    "KEYGATE_SECRET_ID",
    "KEYGATE_QUEUE_URL",
    "KEYGATE_DLQ_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SQS",
];

/// The repository root (two levels above this crate's manifest: `crates/aws/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(std::path::Path::parent)
        .expect("crates/aws/ is two levels below the repository root")
        .to_path_buf()
}

impl Stack {
    /// The running local stack, started on first use. Panics with the start script's output if
    /// it cannot be started: a test that needs real services fails loudly.
    pub fn get() -> &'static Stack {
        static STACK: OnceLock<Stack> = OnceLock::new();
        STACK.get_or_init(|| {
            let from_env: HashMap<String, String> = std::env::vars().collect();
            if NEEDED.iter().all(|k| from_env.contains_key(*k)) {
                return Stack { vars: from_env };
            }
            let root = repo_root();
            let out = std::process::Command::new("bash")
                .arg(root.join("infra/local/start.sh"))
                .current_dir(&root)
                .output()
                .expect("bash runs");
            assert!(
                out.status.success(),
                "infra/local/start.sh failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let cache = std::env::var("KEYGATE_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|_| root.join(".cache"));
            let text = std::fs::read_to_string(cache.join("stack/env"))
                .expect("start.sh writes stack/env");
            Stack {
                vars: parse_env_file(&text),
            }
        })
    }

    /// The pid of one of the stack's services (`dynamodb`, `moto`), from the start script's pid
    /// file: fault tests pause and resume it.
    pub fn pid(&self, service: &str) -> u32 {
        let cache = std::env::var("KEYGATE_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join(".cache"));
        let path = cache.join("stack").join(format!("{service}.pid"));
        std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {}", path.display()))
    }

    pub fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("the local stack's env has no {name}"))
    }

    /// SDK configuration with the stack's region and fake credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let creds = aws_sdk_dynamodb::config::Credentials::new(
            self.vars
                .get("AWS_ACCESS_KEY_ID")
                .map(String::as_str)
                .unwrap_or("test"),
            self.vars
                .get("AWS_SECRET_ACCESS_KEY")
                .map(String::as_str)
                .unwrap_or("test"),
            None,
            None,
            "keygate-local-stack",
        );
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(
                self.vars
                    .get("AWS_REGION")
                    .cloned()
                    .unwrap_or_else(|| "us-east-1".into()),
            ))
            .credentials_provider(creds)
            .timeout_config(crate::sdk::timeouts())
            .retry_config(crate::sdk::retries())
            .load()
            .await
    }

    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let sdk = self.sdk_config().await;
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(self.var("AWS_ENDPOINT_URL_DYNAMODB"))
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        let sdk = self.sdk_config().await;
        let conf = aws_sdk_sqs::config::Builder::from(&sdk)
            .endpoint_url(self.var("AWS_ENDPOINT_URL_SQS"))
            .build();
        aws_sdk_sqs::Client::from_conf(conf)
    }

    pub async fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        let sdk = self.sdk_config().await;
        let endpoint = self
            .vars
            .get("AWS_ENDPOINT_URL_SECRETS_MANAGER")
            .cloned()
            .unwrap_or_else(|| self.var("AWS_ENDPOINT_URL_SQS").to_owned());
        let conf = aws_sdk_secretsmanager::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build();
        aws_sdk_secretsmanager::Client::from_conf(conf)
    }

    pub async fn table(&self) -> DynamoDbTable {
        DynamoDbTable::new(self.dynamodb().await, self.var("KEYGATE_TABLE"))
    }

    /// Both tables of the stack, each item family in its own (a stack started before the split
    /// has one table: it is used for both).
    pub async fn tables(&self) -> Arc<dyn keygate_core::ports::store::Table> {
        crate::tables(
            self.dynamodb().await,
            self.var("KEYGATE_TABLE").to_owned(),
            self.vars.get("KEYGATE_VOLATILE_TABLE").cloned(),
        )
    }

    /// A fresh SQS queue of its own (isolates a test's messages); returns its URL.
    pub async fn fresh_queue(&self, prefix: &str) -> String {
        let name = format!("{prefix}-{}", keygate_core::kernel::ids::random_suffix());
        self.sqs()
            .await
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("moto creates a queue")
            .queue_url()
            .expect("queue url")
            .to_owned()
    }

    /// Fresh SQS queues of their own on the stack (isolates a test's messages).
    pub async fn queues(&self) -> Queues {
        let sqs = self.sqs().await;
        let events = self.fresh_queue("kg-test-events").await;
        let dead_letters = self.fresh_queue("kg-test-dlq").await;
        Queues {
            events: Arc::new(SqsQueue::new(sqs.clone(), events)),
            dead_letters: Arc::new(SqsQueue::new(sqs, dead_letters)),
        }
    }

    /// Services on the stack: DynamoDB Local and the stack's secret.
    pub async fn services(&self, config: Config, clock: Arc<dyn Clock>) -> Services {
        let source = Arc::new(SecretsManagerKeySource::new(
            self.secrets_manager().await,
            self.var("KEYGATE_SECRET_ID"),
        ));
        let keys = Keys::load(source, config.key_cache)
            .await
            .expect("the stack's key secret loads");
        let mut config = config;
        config.backend = Backend::Aws {
            table: self.var("KEYGATE_TABLE").to_owned(),
            volatile_table: self.vars.get("KEYGATE_VOLATILE_TABLE").cloned(),
            secret_id: self.var("KEYGATE_SECRET_ID").to_owned(),
            queue_url: None,
            dlq_url: None,
        };
        Services {
            config: Arc::new(config),
            table: self.tables().await,
            keys: Arc::new(keys),
            clock,
            events: None,
            jwks: None,
        }
    }
}

/// `export K=V` lines (optionally quoted values) to a map.
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("export ").unwrap_or(l);
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            Some((
                k.trim().to_owned(),
                v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned(),
            ))
        })
        .collect()
}

/// The fixed start of [`memory_services`]' clock.
#[cfg(test)]
mod tests {
    #[test]
    fn env_files_parse() {
        let m = super::parse_env_file("# c\nexport A=1\nB='x y'\n\nexport C=\"q\"\n");
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "x y");
        assert_eq!(m["C"], "q");
        assert_eq!(m.len(), 3);
    }
}
