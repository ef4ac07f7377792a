//! Cold starts: each function's release binary spawned against the Runtime API emulator, with
//! the local stack's environment (a function inside Lambda requires the AWS adapters), timed from
//! `spawn` to its first `/response`; peak RSS read from `/proc/<pid>/status` before it is killed.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Bytes;

use crate::emulator::{Call, Emulator};
use crate::stats::{median_u64, Summary};

/// A function: its binary (and package) name and its sample event in `events/`.
pub struct Function {
    pub binary: &'static str,
    pub event: &'static str,
}

pub const FUNCTIONS: [Function; 5] = [
    Function {
        binary: "keygate-token",
        event: "token.json",
    },
    Function {
        binary: "keygate-auth-tokens",
        event: "auth-tokens.json",
    },
    Function {
        binary: "keygate-client-apps",
        event: "client-apps.json",
    },
    Function {
        binary: "keygate-verify",
        event: "verify.json",
    },
    Function {
        binary: "keygate-webhooks",
        event: "webhooks.json",
    },
];

/// How long one run may take before it counts as a failure.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// One cold start.
#[derive(Debug)]
pub struct Run {
    /// `spawn` → first `/response`.
    pub total: Duration,
    /// `spawn` → first `/next` (process start, configuration, SDK clients, keys from Secrets
    /// Manager, runtime client).
    pub init: Duration,
    /// Peak resident set (VmHWM), KiB.
    pub peak_rss_kib: Option<u64>,
    /// What the function answered, in a few words.
    pub answer: String,
}

/// The runs of one function.
pub struct Measured {
    pub binary: &'static str,
    pub size_bytes: u64,
    pub runs: Vec<Run>,
    /// Runs that ended in an error or a timeout (the first reason kept).
    pub failures: usize,
    pub first_failure: Option<String>,
}

impl Measured {
    pub fn total(&self) -> Option<Summary> {
        Summary::of(&self.runs.iter().map(|r| r.total).collect::<Vec<_>>())
    }
    pub fn init(&self) -> Option<Summary> {
        Summary::of(&self.runs.iter().map(|r| r.init).collect::<Vec<_>>())
    }
    pub fn first_invoke(&self) -> Option<Summary> {
        Summary::of(
            &self
                .runs
                .iter()
                .map(|r| r.total.saturating_sub(r.init))
                .collect::<Vec<_>>(),
        )
    }
    pub fn peak_rss(&self) -> (Option<u64>, Option<u64>) {
        let v: Vec<u64> = self.runs.iter().filter_map(|r| r.peak_rss_kib).collect();
        (median_u64(&v), v.iter().copied().max())
    }
    pub fn answer(&self) -> String {
        self.runs
            .first()
            .map(|r| r.answer.clone())
            .unwrap_or_else(|| "—".into())
    }
}

/// Where the release binaries are.
pub fn release_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("release")
}

/// Builds the five release binaries (a no-op when they are up to date).
pub fn build(root: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args(["build", "--release"]);
    for f in &FUNCTIONS {
        cmd.args(["-p", f.binary]);
    }
    // The local server, whose CPU per request is measured.
    cmd.args(["-p", "keygate-local"]);
    eprintln!("keygate-bench: building the release binaries ({cmd:?})");
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the release build failed ({status})"))
    }
}

/// Measures `runs` cold starts of each function, after one unrecorded run that warms the page
/// cache (a real cold start also pays for fetching the code; that is not what is compared here).
pub async fn measure_all(
    root: &Path,
    runs: usize,
    stack_env: &HashMap<String, String>,
) -> Result<Vec<Measured>, String> {
    let bin_dir = release_dir(root);
    let logs = std::env::temp_dir().join(format!("keygate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let mut out = Vec::new();
    for f in &FUNCTIONS {
        let bin = bin_dir.join(f.binary);
        let size_bytes = std::fs::metadata(&bin)
            .map_err(|e| {
                format!(
                    "{}: {e}; build it first: cargo build --release -p {}",
                    bin.display(),
                    f.binary
                )
            })?
            .len();
        let payload = std::fs::read(root.join("events").join(f.event))
            .map_err(|e| format!("events/{}: {e}", f.event))?;
        let payload = Bytes::from(payload);
        let log = logs.join(format!("{}.log", f.binary));
        let mut m = Measured {
            binary: f.binary,
            size_bytes,
            runs: Vec::new(),
            failures: 0,
            first_failure: None,
        };
        for i in 0..=runs {
            match run_once(&bin, f.binary, payload.clone(), i, stack_env, &log).await {
                Ok(r) if i > 0 => m.runs.push(r),
                Ok(_) => {}
                Err(e) => {
                    m.failures += 1;
                    m.first_failure.get_or_insert(e);
                }
            }
        }
        eprintln!(
            "keygate-bench: cold start {}: {} runs, median {}",
            f.binary,
            m.runs.len(),
            m.total()
                .map(|s| crate::stats::ms(s.median))
                .unwrap_or_else(|| "—".into())
        );
        out.push(m);
    }
    // The functions' logs are kept only when a run failed (its message names the last lines).
    if out.iter().all(|m| m.failures == 0) {
        let _ = std::fs::remove_dir_all(&logs);
    }
    Ok(out)
}

/// One cold start against the emulator, timed in its phases: long, but one sequence.
async fn run_once(
    bin: &Path,
    function: &str,
    payload: Bytes,
    run: usize,
    stack_env: &HashMap<String, String>,
    log: &Path,
) -> Result<Run, String> {
    let request_id = format!("8f4e0c2a-0000-4000-8000-{run:012x}");
    let mut emulator = Emulator::start(function, payload, request_id)
        .await
        .map_err(|e| format!("emulator: {e}"))?;
    let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .envs(stack_env)
        .env("AWS_LAMBDA_RUNTIME_API", emulator.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("2026/01/01/[$LATEST]bench{run:04}"),
        )
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        )
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);

    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot spawn {}: {e}", bin.display()))?;
    let pid = child.id();
    let mut init = None;
    let result = loop {
        let call = tokio::time::timeout(Duration::from_millis(50), emulator.calls.recv()).await;
        match call {
            Ok(Some(Call::Next(at))) => init = Some(at - started),
            Ok(Some(Call::Response(at, body))) => break Ok((at - started, answer(&body))),
            Ok(Some(Call::Error(body))) => {
                break Err(format!(
                    "invocation error: {}",
                    String::from_utf8_lossy(&body)
                ))
            }
            Ok(Some(Call::InitError(body))) => {
                break Err(format!("init error: {}", String::from_utf8_lossy(&body)))
            }
            Ok(None) => break Err("the emulator stopped".into()),
            Err(_) => {
                if let Ok(Some(status)) = child.try_wait() {
                    break Err(format!("exited early ({status}): {}", tail(log)));
                }
                if started.elapsed() > RUN_TIMEOUT {
                    break Err(format!("no response within {RUN_TIMEOUT:?}: {}", tail(log)));
                }
            }
        }
    };
    // The function is now parked on its next `/next`: its high-water mark is final.
    let peak_rss_kib = vm_hwm_kib(pid);
    let _ = child.kill();
    let _ = child.wait();
    emulator.stop();
    let (total, answer) = result?;
    Ok(Run {
        total,
        init: init.unwrap_or(total),
        peak_rss_kib,
        answer,
    })
}

/// `VmHWM` of a live process, KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A function's answer in a few words: the HTTP status, the authorizer's decision, or the
/// number of SQS batch item failures.
fn answer(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return format!("{} bytes", body.len());
    };
    if let Some(code) = v.get("statusCode") {
        return format!("HTTP {code}");
    }
    if let Some(ok) = v.get("isAuthorized") {
        return format!("isAuthorized: {ok}");
    }
    if let Some(f) = v.get("batchItemFailures").and_then(|f| f.as_array()) {
        return format!("{} batch item failures", f.len());
    }
    "answered".into()
}

/// The last lines of a function's log, for a failure message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}
