//! `keygate-admin`: operator commands against the configured backend (real AWS, or the local
//! stack with `source .cache/stack/env`).
//!
//! ```text
//! keygate-admin init-keys [--force]              write a fresh signing key + pepper to the secret
//! keygate-admin create-account --name N --owner-email E
//! keygate-admin add-user --account ID --email E [--api-access]
//! keygate-admin rotate-signing-key [--activate-in SECONDS]   new ES256 key: published now, signs later
//! keygate-admin rotate-pepper                    new pepper for new hashes; old hashes stay valid
//! keygate-admin redrive                          move the dead-letter queue back to the events queue
//! ```
//!
//! `redrive` starts SQS's message move task (`StartMessageMoveTask`) from `KEYGATE_DLQ_URL` to
//! `KEYGATE_QUEUE_URL`; where the service does not implement it (moto, in the local stack) it
//! moves the messages one by one (receive, send, delete). Nothing is delivered twice: the
//! delivery ledger remembers which endpoint took which event for as long as messages are
//! retained, and a message that exhausted its retries at one endpoint goes back to that endpoint
//! only.
//! The API key is printed once and stored nowhere in plaintext.

use std::collections::HashMap;

use keygate_aws::SecretsManagerKeySource;
use keygate_core::accounts::{self, Permission};
use keygate_core::kernel::clock::{Clock, SystemClock};
use keygate_core::kernel::config::{Backend, Config};
use keygate_core::kernel::ids::AccountId;
use keygate_core::ports::keys::{KeyDocument, KeySource};

const USAGE: &str = "usage:
  keygate-admin init-keys [--force]
  keygate-admin create-account --name NAME --owner-email EMAIL
  keygate-admin add-user --account ACCOUNT_ID --email EMAIL [--api-access]
  keygate-admin rotate-signing-key [--activate-in SECONDS]   (default 600: twice the key cache)
  keygate-admin rotate-pepper
  keygate-admin redrive                                       (the dead-letter queue back to the events queue)";

#[tokio::main]
async fn main() {
    keygate_http::telemetry::init();
    if let Err(e) = run(std::env::args().skip(1).collect()).await {
        eprintln!("keygate-admin: {e}");
        std::process::exit(1);
    }
}

fn parse_flags(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let name = a
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument '{a}'\n{USAGE}"))?;
        match name {
            "force" | "api-access" => {
                out.insert(name.to_owned(), "true".to_owned());
            }
            _ => {
                let v = it
                    .next()
                    .ok_or_else(|| format!("--{name} needs a value\n{USAGE}"))?;
                out.insert(name.to_owned(), v.clone());
            }
        }
    }
    Ok(out)
}

/// The command line's commands, one arm each.
async fn run(args: Vec<String>) -> Result<(), String> {
    let (cmd, rest) = args.split_first().ok_or(USAGE)?;
    let flags = parse_flags(rest)?;
    let need = |k: &str| {
        flags
            .get(k)
            .cloned()
            .ok_or_else(|| format!("--{k} is required\n{USAGE}"))
    };
    match cmd.as_str() {
        "init-keys" => init_keys(flags.contains_key("force")).await,
        "create-account" => {
            let (name, email) = (need("name")?, need("owner-email")?);
            let s = services().await?;
            let ring = s.keys.ring().await;
            let created = accounts::create_account(
                &*s.table,
                ring.peppers(),
                &s.config,
                &name,
                &email,
                s.now(),
            )
            .await
            .map_err(|e| e.message.to_string())?;
            println!("account:  {}", created.account.id);
            println!("owner:    {}", created.owner.id);
            println!(
                "api key:  {}   (shown once: store it now)",
                created.api_key.expose()
            );
            Ok(())
        }
        "add-user" => {
            let account = AccountId::parse(&need("account")?).map_err(|e| e.message.to_string())?;
            let email = need("email")?;
            let perms = if flags.contains_key("api-access") {
                vec![Permission::ApiAccess]
            } else {
                vec![]
            };
            let s = services().await?;
            let ring = s.keys.ring().await;
            let created =
                accounts::add_user(&*s.table, ring.peppers(), &account, &email, perms, s.now())
                    .await
                    .map_err(|e| e.message.to_string())?;
            println!("user:     {}", created.user.id);
            println!(
                "api key:  {}   (shown once: store it now)",
                created.api_key.expose()
            );
            Ok(())
        }
        "rotate-signing-key" => {
            let activate_in: i64 = match flags.get("activate-in") {
                Some(v) => v
                    .parse()
                    .map_err(|_| format!("--activate-in must be seconds, not '{v}'"))?,
                None => 600,
            };
            rotate(|doc, now| {
                let kid = keygate_core::ports::keys::rotate_signing_key(doc, now, activate_in);
                format!("signing key {kid} is published now and signs from {} (unix); older keys verify until their tokens expire", now + activate_in)
            })
            .await
        }
        "rotate-pepper" => {
            rotate(|doc, now| {
                let id = keygate_core::ports::keys::rotate_pepper(doc, now);
                format!(
                    "pepper {id} hashes new secrets from now on; secrets issued before stay valid"
                )
            })
            .await
        }
        "redrive" => {
            let config = Config::from_env().map_err(|e| e.to_string())?;
            match keygate_aws::start::redrive(&config).await? {
                keygate_aws::sqs::Redrive::Task(handle) => println!(
                    "message move task started ({handle}): follow it with `aws sqs list-message-move-tasks --source-arn <dead-letter queue ARN>`"
                ),
                keygate_aws::sqs::Redrive::Copied(n) => println!(
                    "{n} messages moved back to the events queue (one by one: this SQS has no message move task)"
                ),
            }
            Ok(())
        }
        _ => Err(format!("unknown command '{cmd}'\n{USAGE}")),
    }
}

async fn services() -> Result<keygate_core::Services, String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    if config.backend == Backend::Memory {
        return Err("KEYGATE_TABLE is not set: the admin command works on a real table (AWS, or the local stack: source .cache/stack/env)".into());
    }
    keygate_aws::services_from_config(config)
        .await
        .map_err(|e| e.to_string())
}

/// Reads the key document, applies `change`, validates and stores it.
async fn rotate(change: impl FnOnce(&mut KeyDocument, i64) -> String) -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let Backend::Aws { secret_id, .. } = config.backend else {
        return Err("KEYGATE_TABLE and KEYGATE_SECRET_ID must be set".into());
    };
    let sdk = aws_config_load().await;
    let source = SecretsManagerKeySource::new(aws_sdk_secretsmanager_client(&sdk), secret_id);
    let mut doc = source.load().await.map_err(|e| e.to_string())?;
    let said = change(&mut doc, SystemClock.now());
    keygate_core::ports::keys::KeyRing::from_document(&doc).map_err(|e| e.to_string())?;
    source.store(&doc).await.map_err(|e| e.to_string())?;
    println!("{said}");
    Ok(())
}

async fn init_keys(force: bool) -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let Backend::Aws { secret_id, .. } = config.backend else {
        return Err("KEYGATE_TABLE and KEYGATE_SECRET_ID must be set".into());
    };
    let sdk = aws_config_load().await;
    let source =
        SecretsManagerKeySource::new(aws_sdk_secretsmanager_client(&sdk), secret_id.clone());
    if let Ok(doc) = source.load().await {
        if keygate_core::ports::keys::KeyRing::from_document(&doc).is_ok() && !force {
            return Err(format!("secret '{secret_id}' already holds keys (use --force to replace them, which invalidates every issued secret)"));
        }
    }
    source
        .store(&KeyDocument::generate(SystemClock.now()))
        .await
        .map_err(|e| e.to_string())?;
    println!("secret '{secret_id}': a fresh signing key and pepper are in place");
    Ok(())
}

async fn aws_config_load() -> keygate_aws::start::SdkConfig {
    keygate_aws::load_sdk_config().await
}

fn aws_sdk_secretsmanager_client(
    sdk: &keygate_aws::start::SdkConfig,
) -> keygate_aws::start::SecretsManagerClient {
    keygate_aws::start::SecretsManagerClient::new(sdk)
}
