//! `keygate-bench`: the benchmark driver. A benchmark, not a test: it measures and
//! writes `bench/RESULTS.md`.
//!
//! 1. Cold start of the five release binaries against a Lambda Runtime API emulator (the local
//!    stack provides DynamoDB and Secrets Manager), peak RSS, binary sizes.
//! 2. Throughput and latency of the local API server (embedded default, in process) under the
//!    built-in load client at a fixed concurrency.
//! 3. CPU per request of a `keygate-local` release process of its own (logging and counting as in
//!    Lambda), per flow: the process's CPU time over the requests it served.
//! 4. DynamoDB calls per request per route from the store adapter's counter, and an estimate of
//!    the cost per million requests.
//!
//! `infra/local/start.sh && cargo run --release -p keygate-bench` (`-- --help` for options).

mod calls;
mod client;
mod cold;
mod cpu;
mod emulator;
mod fanout;
mod load;
mod machine;
mod report;
mod server;
mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keygate_core::ports::store::meter::KeyMeter;
use keygate_core::ports::store::MemoryTable;

use crate::calls::Metered;
use crate::load::{Credential, Flow, Probe, Target};
use crate::machine::{Busy, Machine};
use crate::report::{Counts, Results};
use crate::server::Server;

const USAGE: &str = "\
keygate-bench: cold start, throughput/latency, DynamoDB calls and cost per request → bench/RESULTS.md

usage: cargo run --release -p keygate-bench -- [options]
  --runs N           cold starts per function (default 20)
  --concurrency N    load client connections (default 32)
  --requests N       operations per load flow (default 20000)
  --max-seconds S    time limit per load flow (default 20)
  --probe N          one-at-a-time requests per route for latency and call counts (default 300)
  --ddb-ms MS        assumed DynamoDB round trip added to billed Lambda time (default 5)
  --wait-idle S      wait up to S seconds for running rustc processes to finish (default 300)
  --no-build         do not run `cargo build --release` for the five functions first
  --skip-cold-start  skip section 1 (no local stack needed)
  --skip-cpu         skip the CPU-per-request section
  --hot-paths        also run the functions' own benches and paste their output
  --out PATH         where to write (default bench/RESULTS.md)

Cold starts need the local stack (infra/local/start.sh; started here if it is not running).";

struct Options {
    runs: usize,
    concurrency: usize,
    requests: usize,
    max_seconds: u64,
    probe: usize,
    ddb_ms: f64,
    wait_idle: u64,
    build: bool,
    cold_start: bool,
    cpu: bool,
    hot_paths: bool,
    out: Option<PathBuf>,
}

impl Options {
    /// The options as a command line, for the results.
    fn describe(&self) -> String {
        let mut s = format!(
            "--runs {} --concurrency {} --requests {} --max-seconds {} --probe {} --ddb-ms {}",
            self.runs, self.concurrency, self.requests, self.max_seconds, self.probe, self.ddb_ms
        );
        if !self.cold_start {
            s.push_str(" --skip-cold-start");
        }
        if !self.cpu {
            s.push_str(" --skip-cpu");
        }
        if self.hot_paths {
            s.push_str(" --hot-paths");
        }
        s
    }

    fn parse() -> Result<Self, String> {
        let mut o = Options {
            runs: 20,
            concurrency: 32,
            requests: 20_000,
            max_seconds: 20,
            probe: 300,
            ddb_ms: 5.0,
            wait_idle: 300,
            build: true,
            cold_start: true,
            cpu: true,
            hot_paths: false,
            out: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
            };
            fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
                v.parse()
                    .map_err(|_| format!("{name}: '{v}' is not a number"))
            }
            match a.as_str() {
                "--runs" => o.runs = num("--runs", value("--runs")?)?,
                "--concurrency" => o.concurrency = num("--concurrency", value("--concurrency")?)?,
                "--requests" => o.requests = num("--requests", value("--requests")?)?,
                "--max-seconds" => o.max_seconds = num("--max-seconds", value("--max-seconds")?)?,
                "--probe" => o.probe = num("--probe", value("--probe")?)?,
                "--ddb-ms" => o.ddb_ms = num("--ddb-ms", value("--ddb-ms")?)?,
                "--wait-idle" => o.wait_idle = num("--wait-idle", value("--wait-idle")?)?,
                "--no-build" => o.build = false,
                "--skip-cold-start" => o.cold_start = false,
                "--skip-cpu" => o.cpu = false,
                "--hot-paths" => o.hot_paths = true,
                "--out" => o.out = Some(PathBuf::from(value("--out")?)),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                // `cargo bench`-style flags some tools pass along.
                "--bench" => {}
                other => return Err(format!("unknown option '{other}'\n\n{USAGE}")),
            }
        }
        if o.runs == 0 || o.concurrency == 0 || o.requests == 0 || o.probe == 0 {
            return Err("--runs, --concurrency, --requests and --probe must be at least 1".into());
        }
        Ok(o)
    }
}

/// The repository root (this crate lives in `bench/`).
fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

#[tokio::main]
async fn main() {
    let opts = match Options::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("keygate-bench: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(opts).await {
        eprintln!("keygate-bench: {e}");
        std::process::exit(1);
    }
}

/// The driver's phases in order, each a call: long, but a list.
async fn run(opts: Options) -> Result<(), String> {
    let root = repo_root();
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| root.join("bench/RESULTS.md"));
    quiet_telemetry();
    let mut busy: Vec<(String, Busy)> = Vec::new();

    // 1. Cold start.
    let cold = if opts.cold_start {
        if opts.build {
            cold::build(&root)?;
        }
        let env = stack_env(&root).await?;
        let b = machine::wait_idle(Duration::from_secs(opts.wait_idle)).await;
        note_busy(&mut busy, "start of cold start", &b);
        let measured = cold::measure_all(&root, opts.runs, &env).await;
        note_busy(&mut busy, "end of cold start", &Busy::now());
        measured
    } else {
        Err("skipped (--skip-cold-start)".into())
    };

    // 2. Load, and one-at-a-time latency per route, on the embedded default.
    let b = machine::wait_idle(Duration::from_secs(opts.wait_idle)).await;
    note_busy(&mut busy, "start of load", &b);
    let plain = Server::start(Arc::new(MemoryTable::new()), true).await?;
    let fixture = plain.fixture().await?;
    let target = Target::new(plain, fixture);
    let warmup = (opts.requests / 10).clamp(1, 2_000);
    let max = Duration::from_secs(opts.max_seconds);
    let mut loads = Vec::new();
    for flow in Flow::ALL {
        eprintln!("keygate-bench: load: {}", flow.label());
        loads.push(load::run(&target, flow, opts.concurrency, warmup, opts.requests, max).await?);
    }
    let mut sequential = Vec::new();
    for p in Probe::ALL {
        sequential
            .push(load::probe(&target, p, opts.probe / 10 + 1, opts.probe, None, None).await?);
    }
    note_busy(&mut busy, "end of load", &Busy::now());
    drop(target);

    // CPU per request of a server process of its own.
    let cpu = if opts.cpu {
        let b = machine::wait_idle(Duration::from_secs(opts.wait_idle)).await;
        note_busy(&mut busy, "start of CPU per request", &b);
        let measured = cpu::measure(&root, opts.concurrency, warmup, opts.requests, max).await;
        note_busy(&mut busy, "end of CPU per request", &Busy::now());
        measured
    } else {
        Err("skipped (--skip-cpu)".into())
    };
    // The floor a token cannot go under, on this machine in this run: one P-256 signature.
    let p256 = if opts.cpu {
        cpu::p256_sign_us()
    } else {
        Err("skipped (--skip-cpu)".into())
    };

    // 3. Store calls and request units per route, on a server whose table is metered: as
    //    deployed (behind the read cache), and with every read reaching the table.
    eprintln!("keygate-bench: counting DynamoDB calls per route");
    let n = opts.probe.min(100);
    let counts = count(true, n).await?;
    let uncached = count(false, n).await?;

    let hot_paths = if opts.hot_paths {
        hot_paths(&root)
    } else {
        criterion_estimates(&root, false)
    };

    let results = Results {
        machine: Machine::read(&root),
        busy,
        cold,
        cold_runs: opts.runs,
        load: loads,
        sequential,
        cpu,
        p256,
        counts,
        uncached,
        read_cache: keygate_core::kernel::config::Config::local("http://127.0.0.1").read_cache,
        ddb_ms: opts.ddb_ms,
        hot_paths,
        options: opts.describe(),
    };
    let text = results.markdown();
    std::fs::write(&out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("{text}");
    eprintln!("keygate-bench: wrote {}", out.display());
    Ok(())
}

/// JSON request logs formatted into a sink, and EMF metric lines built and dropped: the work a
/// function does per request in Lambda, without the output.
fn quiet_telemetry() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .json()
        .with_current_span(true)
        .flatten_event(true)
        .without_time()
        .with_writer(std::io::sink)
        .try_init();
    keygate_core::kernel::metrics::set_sink(|line| {
        std::hint::black_box(line);
    });
}

/// Calls and request units per route and per credential kind of the authorizer, `n` requests
/// each, on a fresh metered server with or without the read cache.
async fn count(read_cache: bool, n: usize) -> Result<Counts, String> {
    let metered = Arc::new(Metered::new(Arc::new(MemoryTable::new())));
    // Under the read cache, above the pricing meter: the operations that reach DynamoDB, per
    // partition key (docs/SCALE.md).
    let keys = Arc::new(KeyMeter::new(metered.clone()));
    let server = Server::start(keys.clone(), read_cache).await?;
    let fixture = server.fixture().await?;
    let target = Target::new(server, fixture);
    let mut routes = Vec::new();
    for p in Probe::ALL {
        routes.push(load::probe(&target, p, 2, n, Some(&metered), Some(&keys)).await?);
    }
    let mut authorizer = Vec::new();
    for c in Credential::ALL {
        authorizer.push((c, load::authorizer_calls(&target, &metered, c, n).await?, n));
    }
    let fanout = if read_cache {
        Some(fanout::measure(n).await?)
    } else {
        None
    };
    Ok(Counts {
        routes,
        authorizer,
        fanout,
    })
}

fn note_busy(busy: &mut Vec<(String, Busy)>, phase: &str, b: &Busy) {
    busy.push((phase.to_owned(), b.clone()));
}

/// The local stack's environment: the caller's own when it names the stack (`source
/// .cache/stack/env`), else the env file `infra/local/start.sh` writes (the stack is started or
/// reused first, as the tests do).
async fn stack_env(root: &Path) -> Result<HashMap<String, String>, String> {
    const NEEDED: [&str; 3] = [
        "KEYGATE_TABLE",
        "KEYGATE_SECRET_ID",
        "AWS_ENDPOINT_URL_DYNAMODB",
    ];
    if NEEDED.iter().all(|k| std::env::var(k).is_ok()) {
        return Ok(std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("KEYGATE_"))
            .collect());
    }
    eprintln!("keygate-bench: starting or reusing the local stack (infra/local/start.sh)");
    tokio::task::spawn_blocking(|| {
        std::panic::catch_unwind(|| {
            keygate_aws::testing::Stack::get();
        })
    })
    .await
    .map_err(|e| format!("local stack: {e}"))?
    .map_err(|_| {
        "the local stack did not start: run infra/local/start.sh and see its output".to_owned()
    })?;
    let cache = std::env::var_os("KEYGATE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache"));
    let file = cache.join("stack/env");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let vars = keygate_aws::testing::parse_env_file(&text);
    match NEEDED.iter().find(|k| !vars.contains_key(**k)) {
        Some(k) => Err(format!("{} has no {k}", file.display())),
        None => Ok(vars),
    }
}

/// Runs the functions' own benches and keeps their output: the criterion bench first (its
/// estimates are read from `target/criterion` afterwards), then the three percentile benches.
fn hot_paths(root: &Path) -> Vec<(String, String)> {
    const BENCHES: [&str; 3] = [
        "cargo bench -p keygate-token --bench token_percentiles",
        "cargo bench -p keygate-verify --bench verify",
        "cargo bench -p keygate-webhooks --bench delivery -- --quick",
    ];
    let mut out = Vec::new();
    if let Err(e) = cargo_bench(root, "cargo bench -p keygate-token --bench token") {
        out.push(("`cargo bench -p keygate-token --bench token`".into(), e));
    }
    out.extend(criterion_estimates(root, true));
    for what in BENCHES {
        let text = cargo_bench(root, what).unwrap_or_else(|e| e);
        out.push((format!("`{what}`"), text));
    }
    out
}

/// Runs one `cargo bench …` command line; its stdout, or why it failed.
fn cargo_bench(root: &Path, command: &str) -> Result<String, String> {
    eprintln!("keygate-bench: {command}");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    match std::process::Command::new(&cargo)
        .args(&args)
        .current_dir(root)
        .output()
    {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => Err(format!(
            "failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        )),
        Err(e) => Err(format!("cannot run cargo: {e}")),
    }
}

/// Criterion's last estimates for the token bench, if `target/criterion` has them; `fresh` when
/// this run made them.
fn criterion_estimates(root: &Path, fresh: bool) -> Vec<(String, String)> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("criterion");
    let mut lines = Vec::new();
    let mut when = None;
    for id in ["client_credentials_issue", "dpop_bound_issue", "jwt_verify"] {
        let file = dir.join(id).join("new/estimates.json");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        when = when.or_else(|| std::fs::metadata(&file).and_then(|m| m.modified()).ok());
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let at = |k: &str| v[k]["point_estimate"].as_f64();
        if let (Some(mean), Some(median)) = (at("mean"), at("median")) {
            lines.push(format!(
                "{id:<26} mean {:>8.1} µs   median {:>8.1} µs",
                mean / 1e3,
                median / 1e3
            ));
        }
    }
    if lines.is_empty() {
        return vec![];
    }
    let run = when
        .map(machine::utc)
        .unwrap_or_else(|| "at an unknown time".into());
    let provenance = if fresh {
        format!("run by this driver at {run}, after sections 1–3")
    } else {
        let stale = when
            .zip(machine::head_time(root))
            .is_some_and(|(made, head)| made < head);
        format!(
            "run {run}, not by this driver, under whatever load the machine had then{}",
            if stale {
                "; older than the commit measured here, so possibly stale"
            } else {
                ""
            }
        )
    };
    vec![(
        format!(
            "criterion's estimates in `{}` (`cargo bench -p keygate-token --bench token`, {provenance})",
            dir.strip_prefix(root).unwrap_or(&dir).display(),
        ),
        lines.join("\n"),
    )]
}
