//! Typed configuration from the environment, validated before the runtime starts: a missing or
//! malformed variable is one clear line naming it.

use std::time::Duration;

/// Why the environment does not configure a function: one line naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {var} is not set ({meaning})")]
    Missing {
        var: &'static str,
        meaning: &'static str,
    },
    #[error("configuration: {var} '{value}' {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        /// What the variable must be (`must be https`, `must be between 1 and 3600`).
        expected: std::borrow::Cow<'static, str>,
    },
}

impl ConfigError {
    pub fn invalid(
        var: &'static str,
        value: impl Into<String>,
        expected: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        ConfigError::Invalid {
            var,
            value: value.into(),
            expected: expected.into(),
        }
    }
}

/// Which adapters back the ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In-memory store, queue and generated keys (local server's embedded default, unit tests).
    Memory,
    /// DynamoDB, SQS and Secrets Manager (real AWS, or DynamoDB Local and moto through the
    /// standard `AWS_ENDPOINT_URL_*` variables).
    Aws {
        /// The credential records' table (`KEYGATE_TABLE`).
        table: String,
        /// The short-lived, high-volume items' table (`KEYGATE_VOLATILE_TABLE`; unset: the same
        /// table, a single-table deployment without the blast-radius split of docs/SCALE.md).
        volatile_table: Option<String>,
        secret_id: String,
        queue_url: Option<String>,
        dlq_url: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub backend: Backend,
    /// The `iss` of every token, and the base of the discovery document's URLs. Empty: taken from
    /// each request's host (see [`Config::issuer_for`]).
    pub issuer: String,
    pub api_token_ttl: i64,
    pub oauth_token_ttl: i64,
    pub auth_token_ttl: i64,
    /// Allowed clock difference for signed requests, seconds.
    pub clock_skew: i64,
    /// Where `/auth` may redirect: origins (`https://app.example.com`) or path prefixes (`/`).
    pub redirect_allowlist: Vec<String>,
    /// Signing ceremony URL; `{packageId}` is replaced.
    pub signing_url: String,
    /// Local mode: loopback callback URLs allowed, cookies without `Secure` on plain http.
    pub local_mode: bool,
    /// How long key material is cached before a re-read.
    pub key_cache: Duration,
    /// How long the records every verified request reads (clients with their revocations,
    /// lockout counters) are cached in process; 0 turns the cache off. Another instance's
    /// revocation is seen within this time; this instance's own writes at once.
    pub read_cache: Duration,
    /// How long every event delivered to an account is kept, with its payload and its outcome
    /// per endpoint, for `GET /api/callback/messages`, resend and recover
    /// (`KEYGATE_MESSAGE_RETENTION_DAYS`, default 30).
    pub message_retention_days: i64,
}

impl Config {
    /// Defaults for the embedded local server and tests.
    pub fn local(issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        Self {
            backend: Backend::Memory,
            redirect_allowlist: vec![issuer.clone()],
            signing_url: format!("{issuer}/signing?packageId={{packageId}}"),
            issuer,
            api_token_ttl: 1800,
            oauth_token_ttl: 300,
            auth_token_ttl: 1800,
            clock_skew: 300,
            local_mode: true,
            key_cache: Duration::from_secs(300),
            read_cache: Duration::from_secs(2),
            message_retention_days: 30,
        }
    }

    /// Reads `KEYGATE_*`. `KEYGATE_TABLE` selects the AWS backend and then `KEYGATE_SECRET_ID` is
    /// required; inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) the AWS backend is required.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// One variable after another, each with its bounds: long, but flat.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let in_lambda = var("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let backend = match var("KEYGATE_TABLE") {
            Some(table) => Backend::Aws {
                table,
                volatile_table: var("KEYGATE_VOLATILE_TABLE"),
                secret_id: var("KEYGATE_SECRET_ID").ok_or(ConfigError::Missing {
                    var: "KEYGATE_SECRET_ID",
                    meaning: "the Secrets Manager secret holding the signing keys",
                })?,
                queue_url: var("KEYGATE_QUEUE_URL"),
                dlq_url: var("KEYGATE_DLQ_URL"),
            },
            None if in_lambda => {
                return Err(ConfigError::Missing {
                    var: "KEYGATE_TABLE",
                    meaning: "the DynamoDB table name",
                })
            }
            None => Backend::Memory,
        };
        let local_mode = match var("KEYGATE_LOCAL_MODE") {
            Some(v) => parse_bool("KEYGATE_LOCAL_MODE", &v)?,
            None => !in_lambda,
        };
        let issuer = match var("KEYGATE_ISSUER") {
            Some(i) => {
                let u = url::Url::parse(&i).map_err(|e| {
                    ConfigError::invalid("KEYGATE_ISSUER", &i, format!("is not a URL: {e}"))
                })?;
                if u.scheme() != "https" && !local_mode {
                    return Err(ConfigError::invalid("KEYGATE_ISSUER", i, "must be https"));
                }
                i.trim_end_matches('/').to_owned()
            }
            // The template cannot hand the functions the API's own URL (a circular reference),
            // so an empty issuer means "https:// + the request's host" (see `issuer_for`).
            None if in_lambda => String::new(),
            None => "http://127.0.0.1:3000".to_owned(),
        };
        let mut c = Self::local(issuer.clone());
        if issuer.is_empty() {
            c.redirect_allowlist.clear();
            c.signing_url.clear();
        }
        c.backend = backend;
        c.local_mode = local_mode;
        c.api_token_ttl = bounded(&var, "KEYGATE_API_TOKEN_TTL", c.api_token_ttl, 60, 86_400)?;
        c.oauth_token_ttl = bounded(
            &var,
            "KEYGATE_OAUTH_TOKEN_TTL",
            c.oauth_token_ttl,
            60,
            86_400,
        )?;
        c.auth_token_ttl = bounded(&var, "KEYGATE_AUTH_TOKEN_TTL", c.auth_token_ttl, 60, 86_400)?;
        c.clock_skew = bounded(&var, "KEYGATE_CLOCK_SKEW", c.clock_skew, 1, 3_600)?;
        c.key_cache =
            Duration::from_secs(bounded(&var, "KEYGATE_KEY_CACHE_SECONDS", 300, 0, 3_600)? as u64);
        c.read_cache =
            Duration::from_secs(bounded(&var, "KEYGATE_READ_CACHE_SECONDS", 2, 0, 30)? as u64);
        c.message_retention_days = bounded(
            &var,
            "KEYGATE_MESSAGE_RETENTION_DAYS",
            c.message_retention_days,
            1,
            365,
        )?;
        if let Some(list) = var("KEYGATE_REDIRECT_ALLOWLIST") {
            c.redirect_allowlist = list
                .split(',')
                .map(|s| s.trim().trim_end_matches('/').to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if !c.issuer.is_empty() && !c.redirect_allowlist.contains(&c.issuer) {
                c.redirect_allowlist.push(c.issuer.clone());
            }
        }
        if let Some(u) = var("KEYGATE_SIGNING_URL") {
            c.signing_url = signing_url(u.trim(), local_mode)?;
        }
        Ok(c)
    }
}

impl Config {
    /// Whether keygate is served over https here: the scheme of its public base URL, as
    /// [`Config::issuer_for`] makes it — the configured issuer (which must be https outside
    /// local mode), or, when none is configured, API Gateway's own URL, which is https only. So
    /// every Lambda deployment is https, and plain http is the local server on an http issuer
    /// alone. Taken from the configuration, never from a request (whose `Host` or
    /// `X-Forwarded-Proto` a client writes): it names the session cookie
    /// ([`crate::identity::credentials::set_session_cookie`]), and the local server passes it on to
    /// the handlers as API Gateway does, in `X-Forwarded-Proto`
    /// ([`crate::identity::credentials::over_https`]).
    pub fn serves_https(&self) -> bool {
        self.issuer.is_empty() || self.issuer.starts_with("https://")
    }

    /// The issuer for a request: the configured one, or `https://<Host>` (API Gateway's domain
    /// name; the `$default` stage has no path prefix).
    pub fn issuer_for(&self, headers: &http::HeaderMap) -> String {
        if !self.issuer.is_empty() {
            return self.issuer.clone();
        }
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
            })
            .unwrap_or("localhost");
        format!("https://{host}")
    }
}

/// `KEYGATE_SIGNING_URL`: an absolute `https` URL (`http` too in local mode) once `{packageId}`
/// is filled in, so `/access` never redirects to something a browser cannot follow.
fn signing_url(u: &str, local_mode: bool) -> Result<String, ConfigError> {
    let filled = u.replace("{packageId}", "p");
    let parsed = url::Url::parse(&filled).map_err(|e| {
        ConfigError::invalid("KEYGATE_SIGNING_URL", u, format!("is not a URL: {e}"))
    })?;
    let scheme_ok = parsed.scheme() == "https" || (local_mode && parsed.scheme() == "http");
    if !scheme_ok || parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid(
            "KEYGATE_SIGNING_URL",
            u,
            "must be an https URL with a host",
        ));
    }
    Ok(u.to_owned())
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(ConfigError::invalid(name, v, "must be true or false")),
    }
}

/// A whole number of seconds in `min..=max` from the variable `name`, or `default`.
pub fn bounded(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    let Some(raw) = var(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match raw.trim().parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(ConfigError::invalid(
            name,
            raw,
            format!("must be a whole number between {min} and {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn nothing_set_is_the_embedded_default() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.backend, Backend::Memory);
        assert!(c.local_mode);
        assert_eq!(c.oauth_token_ttl, 300);
    }

    #[test]
    fn lambda_without_table_names_the_variable() {
        let e = cfg(&[("AWS_LAMBDA_FUNCTION_NAME", "f")]).unwrap_err();
        assert!(e.to_string().contains("KEYGATE_TABLE"), "{e}");
    }

    #[test]
    fn table_without_secret_names_the_variable() {
        let e = cfg(&[("KEYGATE_TABLE", "t")]).unwrap_err();
        assert!(e.to_string().contains("KEYGATE_SECRET_ID"), "{e}");
    }

    #[test]
    fn out_of_bounds_and_junk_numbers_are_refused() {
        assert!(cfg(&[("KEYGATE_OAUTH_TOKEN_TTL", "5")]).is_err());
        assert!(cfg(&[("KEYGATE_CLOCK_SKEW", "abc")]).is_err());
        assert_eq!(
            cfg(&[("KEYGATE_CLOCK_SKEW", "120")]).unwrap().clock_skew,
            120
        );
        assert_eq!(cfg(&[]).unwrap().message_retention_days, 30);
        assert_eq!(
            cfg(&[("KEYGATE_MESSAGE_RETENTION_DAYS", "7")])
                .unwrap()
                .message_retention_days,
            7
        );
        assert!(cfg(&[("KEYGATE_MESSAGE_RETENTION_DAYS", "0")]).is_err());
    }

    #[test]
    fn lambda_without_issuer_takes_it_from_the_request() {
        let c = cfg(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("KEYGATE_TABLE", "t"),
            ("KEYGATE_SECRET_ID", "s"),
        ])
        .unwrap();
        let mut h = http::HeaderMap::new();
        h.insert(
            "host",
            "abc.execute-api.eu-west-1.amazonaws.com".parse().unwrap(),
        );
        assert_eq!(
            c.issuer_for(&h),
            "https://abc.execute-api.eu-west-1.amazonaws.com"
        );
        h.insert("host", "evil/path".parse().unwrap());
        assert_eq!(c.issuer_for(&h), "https://localhost");
        assert!(c.serves_https(), "API Gateway's URL is https");
    }

    #[test]
    fn only_a_plain_http_issuer_serves_plain_http() {
        assert!(!cfg(&[]).unwrap().serves_https(), "the local default");
        assert!(cfg(&[("KEYGATE_ISSUER", "https://kg.example.com")])
            .unwrap()
            .serves_https());
        assert!(!Config::local("http://127.0.0.1:3000").serves_https());
        assert!(Config::local("https://api.example.com").serves_https());
    }

    #[test]
    fn lambda_requires_https_issuer() {
        let base = [
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("KEYGATE_TABLE", "t"),
            ("KEYGATE_SECRET_ID", "s"),
        ];
        let mut v = base.to_vec();
        v.push(("KEYGATE_ISSUER", "http://x"));
        assert!(cfg(&v).is_err());
        let mut v = base.to_vec();
        v.push(("KEYGATE_ISSUER", "https://api.example.com/"));
        let c = cfg(&v).unwrap();
        assert_eq!(c.issuer, "https://api.example.com");
        assert!(!c.local_mode);
    }

    #[test]
    fn the_signing_url_is_one_a_browser_can_follow() {
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("KEYGATE_TABLE", "t"),
            ("KEYGATE_SECRET_ID", "s"),
        ];
        let with = |u: &'static str| {
            let mut v = lambda.to_vec();
            v.push(("KEYGATE_SIGNING_URL", u));
            cfg(&v)
        };
        for bad in [
            "/signing",
            "signing?packageId={packageId}",
            "http://sign.example/{packageId}",
            "javascript:alert(1)",
            "https://",
        ] {
            let e = with(bad).unwrap_err();
            assert!(e.to_string().contains("KEYGATE_SIGNING_URL"), "{bad}: {e}");
        }
        let c = with("https://sign.example.com/ceremony?package={packageId}").unwrap();
        assert_eq!(
            c.signing_url,
            "https://sign.example.com/ceremony?package={packageId}"
        );
        // Without an issuer or a ceremony, none is configured: `/access` says so.
        assert_eq!(cfg(&lambda).unwrap().signing_url, "");
        // Local mode takes plain http.
        assert!(cfg(&[("KEYGATE_SIGNING_URL", "http://127.0.0.1:9/s/{packageId}")]).is_ok());
    }
}
