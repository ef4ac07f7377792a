//! `bench/RESULTS.md`: one markdown table per section, the targets beside the
//! measured values, and the assumptions of the cost estimate.

use std::fmt::Write as _;
use std::time::Duration;

use crate::calls::{Meter, Prices};
use crate::cold::Measured;
use crate::load::{Credential, LoadResult, Probe, Probed};
use crate::machine::{Busy, Machine};
use crate::stats::ms;
use keygate_core::ports::store::meter::Tally;

pub const RERUN: &str = "infra/local/start.sh && cargo run --release -p keygate-bench";

/// The performance targets.
const COLD_START_MS: f64 = 30.0;
const BINARY_MB: f64 = 15.0;
const RSS_MB: f64 = 32.0;
const CC_P99_MS: f64 = 2.0;
const VERIFY_CALLS: f64 = 1.0;
/// docs/SCALE.md: hottest-key reads per verified request, steady state.
const HOT_VERIFY: f64 = 0.05;
/// docs/SCALE.md: hottest-key operations per auth-token mint + redeem.
const HOT_MINT: f64 = 0.5;
const CC_CPU_US: f64 = 50.0;

pub struct Results {
    pub machine: Machine,
    /// Other work on the machine at the start and end of each phase.
    pub busy: Vec<(String, Busy)>,
    pub cold: Result<Vec<Measured>, String>,
    pub cold_runs: usize,
    pub load: Vec<LoadResult>,
    /// One-at-a-time latency per route on the plain server.
    pub sequential: Vec<Probed>,
    /// Store calls and units on the metered server behind the read cache (as deployed).
    pub counts: Counts,
    /// The same with the read cache off: every read reaches the table.
    pub uncached: Counts,
    /// The read cache's lifetime (`KEYGATE_READ_CACHE_SECONDS` default).
    pub read_cache: Duration,
    /// Assumed DynamoDB round trip added to the billed Lambda time, per call.
    pub ddb_ms: f64,
    /// CPU per request of the server process, per flow (or why not measured).
    pub cpu: Result<Vec<crate::cpu::CpuResult>, String>,
    /// One P-256 signature (openssl speed), µs, measured in the same run.
    pub p256: Result<f64, String>,
    /// The functions' own benches: (what, text).
    pub hot_paths: Vec<(String, String)>,
    /// The driver's options, as a command line.
    pub options: String,
}

/// Store calls and units of one metered run.
pub struct Counts {
    /// Per route, one request at a time.
    pub routes: Vec<Probed>,
    /// The authorizer alone: (credential, summed meter, requests).
    pub authorizer: Vec<(Credential, Meter, usize)>,
    /// The webhook fan-out to 10 endpoints, per key (steady state only).
    pub fanout: Option<crate::fanout::FanOut>,
}

impl Counts {
    fn route(&self, p: Probe) -> Option<&Probed> {
        self.routes.iter().find(|r| r.probe == p)
    }
    fn authorizer(&self, c: Credential) -> Option<(Meter, usize)> {
        self.authorizer
            .iter()
            .find(|(k, _, _)| *k == c)
            .map(|(_, m, n)| (*m, *n))
    }
}

/// The estimate of one route.
struct Cost {
    behind_authorizer: bool,
    invocations: usize,
    calls: f64,
    rru: f64,
    wru: f64,
    median: Duration,
    billed_ms: f64,
    dynamodb: f64,
    lambda: f64,
    total: f64,
}

fn mb(bytes: f64) -> f64 {
    bytes / 1e6
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "✅ met"
    } else {
        "❌ missed"
    }
}

fn per_req(v: f64, n: usize) -> f64 {
    v / n.max(1) as f64
}

/// The hottest key's reads and writes per request.
fn hottest_of(t: &Tally, n: usize) -> (f64, f64) {
    (
        per_req(t.hottest_read().map_or(0, |(_, c)| c) as f64, n),
        per_req(t.hottest_write().map_or(0, |(_, c)| c) as f64, n),
    )
}

/// A key by its family: ids and hashes hidden (`APIKEY#…`, `gsi1:ATTEMPTS#…#…`).
fn family(key: &str) -> String {
    let mut parts = key.split('#');
    let head = parts.next().unwrap_or_default();
    let rest = parts.count();
    format!("{head}{}", "#…".repeat(rest))
}

impl Results {
    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let m = &self.machine;
        let _ = writeln!(o, "# keygate benchmark results\n");
        let _ = writeln!(
            o,
            "Written by `keygate-bench`; see `bench/README.md` for what each number means.\n"
        );
        let _ = writeln!(o, "- **Date**: {}", m.date);
        let _ = writeln!(o, "- **Commit**: {}", m.commit);
        let _ = writeln!(
            o,
            "- **Machine**: {} cores (`available_parallelism`), {}, {}",
            m.cores, m.cpu, m.kernel
        );
        let _ = writeln!(
            o,
            "- **Toolchain**: {} (release profile of the workspace)",
            m.rustc
        );
        if !self.busy.is_empty() {
            let was_busy = self.busy.iter().any(|(_, b)| b.rustc > 0);
            let phases: Vec<String> = self
                .busy
                .iter()
                .map(|(phase, b)| format!("{phase}: {}", b.describe()))
                .collect();
            let _ = writeln!(
                o,
                "- **Other load**: {}{}",
                if was_busy {
                    "⚠️ the machine was busy with builds during this run, so the timings are pessimistic. "
                } else {
                    "no builds running. "
                },
                phases.join("; ")
            );
        }
        let _ = writeln!(o, "- **Options**: `{}`", self.options);
        let _ = writeln!(o, "- **How to re-run**: `{RERUN}`\n");

        self.targets(&mut o);
        self.cold_section(&mut o);
        self.load_section(&mut o);
        self.cpu_section(&mut o);
        self.calls_section(&mut o);
        self.hot_keys_section(&mut o);
        self.hot_paths_section(&mut o);
        o
    }

    fn cpu_section(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "## CPU per request (the server process)
"
        );
        let _ = writeln!(
            o,
            "A `keygate-local` release process of its own (in-memory backend, JSON log lines and EMF metric lines written to `/dev/null`, as in Lambda), loaded by the built-in client from the driver's process; CPU is the server process's user + system time (`/proc/<pid>/stat`) over the measured requests. `bench/wrk/cpu-per-token.sh` measures the token route the same way with wrk; [`PROFILE.md`](PROFILE.md) breaks a token's CPU down.\n"
        );
        match &self.cpu {
            Ok(rows) => {
                let _ = writeln!(
                    o,
                    "| flow | requests | errors | server CPU | CPU per request |"
                );
                let _ = writeln!(o, "|---|---:|---:|---:|---:|");
                for r in rows {
                    let _ = writeln!(
                        o,
                        "| {} | {} | {} | {:.2} s | {:.1} µs |",
                        r.flow.label(),
                        r.requests,
                        r.errors,
                        r.cpu.as_secs_f64(),
                        r.per_request_us()
                    );
                }
                let _ = writeln!(o);
            }
            Err(why) => {
                let _ = writeln!(o, "Not measured: {why}\n");
            }
        }
    }

    /// The hottest partition key's operations per request (docs/SCALE.md), per route and for
    /// the webhook fan-out.
    fn hot_keys_section(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "## 3b. The hottest partition key per request (docs/SCALE.md)\n"
        );
        let _ = writeln!(
            o,
            "DynamoDB serves 3,000 read and 1,000 write units per second **per partition key** (index partitions included), so what decides \
             where one integrator throttles is the busiest key's operations per request, not the table's total. The same one-at-a-time runs \
             as section 3 (steady state), counted per key by `keygate_core::ports::store::meter::KeyMeter` between the read cache and the \
             table; index keys count as keys of their own (`gsi1:…`). Keys are shown by family (`…` hides ids and hashes). The webhook \
             fan-out is one account's events to {} endpoints through the webhooks handler (in-memory services, a receiver on loopback), \
             in batches of 10, after one warm-up event.\n",
            crate::fanout::ENDPOINTS
        );
        let _ = writeln!(
            o,
            "| flow | requests | reads/req | writes/req | hottest key (reads) | reads/req on it | hottest key (writes) | writes/req on it |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---|---:|---|---:|");
        let row = |o: &mut String, label: &str, n: usize, t: &Tally| {
            let (rk, rn) = t.hottest_read().unwrap_or(("—", 0));
            let (wk, wn) = t.hottest_write().unwrap_or(("—", 0));
            let _ = writeln!(
                o,
                "| {label} | {n} | {:.2} | {:.2} | `{}` | {:.2} | `{}` | {:.2} |",
                per_req(t.total.reads as f64, n),
                per_req(t.total.writes as f64, n),
                if rn == 0 { "—".into() } else { family(rk) },
                per_req(rn as f64, n),
                if wn == 0 { "—".into() } else { family(wk) },
                per_req(wn as f64, n),
            );
        };
        for r in &self.counts.routes {
            row(o, r.probe.label(), r.n, &r.keys);
        }
        if let Some((n, t)) = self.mint_redeem() {
            row(o, "auth-token mint + redeem (one pair)", n, &t);
        }
        if let Some(f) = &self.counts.fanout {
            row(
                o,
                &format!(
                    "webhook fan-out to {} endpoints (per event)",
                    crate::fanout::ENDPOINTS
                ),
                f.events,
                &f.tally,
            );
        }
        let _ = writeln!(o);
    }

    /// Mint and redeem counted together, per pair.
    fn mint_redeem(&self) -> Option<(usize, Tally)> {
        let mint = self.counts.route(Probe::Mint)?;
        let redeem = self.counts.route(Probe::Redeem)?;
        let mut t = mint.keys.clone();
        t.absorb(redeem.keys.clone());
        Some((mint.n.min(redeem.n), t))
    }

    /// The hottest key's reads and writes per request of a route.
    fn hottest(&self, p: Probe) -> Option<(f64, f64)> {
        let r = self.counts.route(p)?;
        Some(hottest_of(&r.keys, r.n))
    }

    fn probe_latency(&self, p: Probe) -> Option<Duration> {
        self.sequential
            .iter()
            .find(|s| s.probe == p)
            .and_then(|s| s.latency)
            .map(|l| l.median)
    }

    /// One table row per target, each with its own formatting: long, but flat.
    fn targets(&self, o: &mut String) {
        let _ = writeln!(o, "## Targets against this run\n");
        let _ = writeln!(o, "| target | measured | verdict |");
        let _ = writeln!(o, "|---|---|---|");
        match &self.cold {
            Ok(cold) if !cold.is_empty() => {
                let worst = cold
                    .iter()
                    .filter_map(|c| c.total().map(|t| (c.binary, t.median)))
                    .max_by_key(|(_, d)| *d);
                match worst {
                    Some((name, d)) => {
                        let all = cold.iter().all(|c| {
                            c.failures == 0
                                && c.total()
                                    .is_some_and(|t| t.median.as_secs_f64() * 1e3 < COLD_START_MS)
                        });
                        let _ = writeln!(
                            o,
                            "| cold start < {COLD_START_MS} ms per function (median of {}) | slowest: `{name}` {} | {} |",
                            self.cold_runs,
                            ms(d),
                            verdict(all)
                        );
                    }
                    None => {
                        let _ = writeln!(o, "| cold start < {COLD_START_MS} ms per function | no successful run | ❌ missed |");
                    }
                }
                let (name, size) = cold
                    .iter()
                    .map(|c| (c.binary, c.size_bytes))
                    .max_by_key(|(_, s)| *s)
                    .unwrap_or(("—", 0));
                let _ = writeln!(
                    o,
                    "| release binaries < {BINARY_MB} MB | largest: `{name}` {:.1} MB | {} |",
                    mb(size as f64),
                    verdict(mb(size as f64) < BINARY_MB)
                );
                let rss = cold
                    .iter()
                    .filter_map(|c| c.peak_rss().1.map(|r| (c.binary, r)))
                    .max_by_key(|(_, r)| *r);
                if let Some((name, kib)) = rss {
                    let v = mb(kib as f64 * 1024.0);
                    let _ = writeln!(
                        o,
                        "| peak RSS < {RSS_MB} MB | highest: `{name}` {v:.1} MB | {} |",
                        verdict(v < RSS_MB)
                    );
                }
            }
            Ok(_) | Err(_) => {
                let why = self.cold.as_ref().err().cloned().unwrap_or_default();
                let _ = writeln!(
                    o,
                    "| cold start, binary size, peak RSS | not measured: {why} | — |"
                );
            }
        }
        if let Some(cc) = self
            .load
            .iter()
            .find(|l| l.flow == crate::load::Flow::ClientCredentials)
        {
            if let Some(lat) = cc.latency {
                let p99 = lat.p99.as_secs_f64() * 1e3;
                let _ = writeln!(
                    o,
                    "| client-credentials p99 < {CC_P99_MS} ms at {} connections (embedded default) | p99 {} (median {}, {:.0} req/s) | {} |",
                    cc.concurrency,
                    ms(lat.p99),
                    ms(lat.median),
                    cc.ops_per_sec(),
                    verdict(p99 < CC_P99_MS && cc.errors == 0)
                );
            }
        }
        if let Some(cc) = self.cpu.as_ref().ok().and_then(|c| {
            c.iter()
                .find(|r| r.flow == crate::load::Flow::ClientCredentials)
        }) {
            let us = cc.per_request_us();
            let _ = writeln!(
                o,
                "| client-credentials CPU ≤ {CC_CPU_US} µs per token (server process, JSON logs and metrics on) | {us:.1} µs | {} |",
                verdict(us <= CC_CPU_US && cc.errors == 0)
            );
            match &self.p256 {
                Ok(floor) => {
                    let _ = writeln!(
                        o,
                        "| client-credentials CPU ≤ 2 × one P-256 signature (`openssl speed ecdsap256`, this run: {floor:.1} µs) | {us:.1} µs = {:.2} × | {} |",
                        us / floor,
                        verdict(us <= 2.0 * floor && cc.errors == 0)
                    );
                }
                Err(why) => {
                    let _ = writeln!(o, "| client-credentials CPU ≤ 2 × one P-256 signature | not measured: {why} | — |");
                }
            }
        }
        for cred in Credential::ALL {
            let Some((m, n)) = self.counts.authorizer(cred) else {
                continue;
            };
            let calls = per_req(m.calls as f64, n);
            let miss = self
                .uncached
                .authorizer(cred)
                .map(|(m, n)| format!("; {:.2} on a cache miss", per_req(m.calls as f64, n)))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "| ≤ {VERIFY_CALLS} DynamoDB call per verified request: {} | {calls:.2} calls in steady state{miss} | {} |",
                cred.label(),
                verdict(calls <= VERIFY_CALLS)
            );
        }
        // docs/SCALE.md's targets for the hottest partition key, steady state.
        for p in [
            Probe::ApiKeyWhoami,
            Probe::BearerWhoami,
            Probe::SignedWhoami,
            Probe::DpopWhoami,
        ] {
            if let Some((r, _)) = self.hottest(p) {
                let _ = writeln!(
                    o,
                    "| ≤ {HOT_VERIFY} hottest-key reads per request: {} | {r:.2} | {} |",
                    p.label(),
                    verdict(r <= HOT_VERIFY)
                );
            }
        }
        if let Some((n, t)) = self.mint_redeem() {
            let (r, w) = hottest_of(&t, n);
            let _ = writeln!(
                o,
                "| ≤ {HOT_MINT} hottest-key operations per auth-token mint + redeem | {r:.2} reads, {w:.2} writes | {} |",
                verdict(r <= HOT_MINT && w <= HOT_MINT)
            );
        }
        if let Some(f) = &self.counts.fanout {
            let (_, w) = hottest_of(&f.tally, f.events);
            let reads = per_req(f.tally.total.reads as f64, f.events);
            let _ = writeln!(
                o,
                "| webhook fan-out to {} endpoints: ≤ 1 hottest-key write and ≤ 0.1 reads per event | {w:.2} writes, {reads:.2} reads | {} |",
                crate::fanout::ENDPOINTS,
                verdict(w <= 1.0 && reads <= 0.1)
            );
        }
        let _ = writeln!(o);
    }

    /// Estimated cost per million requests of a route from its metered run.
    fn cost(&self, c: &Probed) -> Cost {
        let (method, path) = c.probe.route();
        let behind_authorizer = keygate_local::dispatch::FUNCTIONS
            .iter()
            .find_map(
                |f| match keygate_http::routes::find(f.routes, method, path) {
                    keygate_http::routes::Found::Route(r, _) => Some(r.authorizer),
                    _ => None,
                },
            )
            .unwrap_or(false);
        let invocations = 1 + usize::from(behind_authorizer);
        let calls = per_req(c.meter.calls as f64, c.n);
        let rru = per_req(c.meter.rru, c.n);
        let wru = per_req(c.meter.wru, c.n);
        let median = self.probe_latency(c.probe).unwrap_or_default();
        let billed_ms = (median.as_secs_f64() * 1e3 + calls * self.ddb_ms)
            .ceil()
            .max(invocations as f64);
        let dynamodb = rru * Prices::RRU + wru * Prices::WRU;
        let lambda = invocations as f64 * Prices::LAMBDA_REQUESTS
            + billed_ms / 1e3 * Prices::LAMBDA_GB * Prices::LAMBDA_GB_S * 1e6;
        Cost {
            behind_authorizer,
            invocations,
            calls,
            rru,
            wru,
            median,
            billed_ms,
            dynamodb,
            lambda,
            total: dynamodb + lambda + Prices::HTTP_API,
        }
    }

    /// A markdown table and its notes: long, but flat.
    fn cold_section(&self, o: &mut String) {
        let _ = writeln!(o, "## 1. Cold start\n");
        let cold = match &self.cold {
            Ok(c) => c,
            Err(e) => {
                let _ = writeln!(o, "Not measured: {e}\n");
                return;
            }
        };
        let _ = writeln!(
            o,
            "Each release binary spawned {} times (after one unrecorded run that warms the page cache) against this driver's Lambda Runtime API emulator on loopback, \
             inside-Lambda environment (`AWS_LAMBDA_FUNCTION_NAME`, 256 MB) on the local stack (DynamoDB Local, moto for SQS and Secrets Manager), \
             its sample event of `events/` as the one invocation. *Cold start* is spawn → first `/response`; *init* is spawn → first `/next` \
             (configuration, SDK clients, signing keys read from Secrets Manager, runtime client); *first invoke* is the rest. \
             Peak RSS is `VmHWM` read just before the process is killed. MB = 10^6 bytes.\n",
            self.cold_runs
        );
        let _ = writeln!(
            o,
            "| function | binary size | cold start median | min – max | init median | first invoke median | peak RSS median (max) | answer | failed runs |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---|---:|");
        for c in cold {
            let (rss_med, rss_max) = c.peak_rss();
            let rss = match (rss_med, rss_max) {
                (Some(a), Some(b)) => format!(
                    "{:.1} MB ({:.1})",
                    mb(a as f64 * 1024.0),
                    mb(b as f64 * 1024.0)
                ),
                _ => "—".into(),
            };
            let t = c.total();
            let _ = writeln!(
                o,
                "| `{}` | {:.2} MB | {} | {} | {} | {} | {} | {} | {} |",
                c.binary,
                mb(c.size_bytes as f64),
                t.map(|s| ms(s.median)).unwrap_or_else(|| "—".into()),
                t.map(|s| format!("{} – {}", ms(s.min), ms(s.max)))
                    .unwrap_or_else(|| "—".into()),
                c.init().map(|s| ms(s.median)).unwrap_or_else(|| "—".into()),
                c.first_invoke()
                    .map(|s| ms(s.median))
                    .unwrap_or_else(|| "—".into()),
                rss,
                c.answer(),
                c.failures
            );
        }
        for c in cold {
            if let Some(f) = &c.first_failure {
                let _ = writeln!(
                    o,
                    "\n`{}` failed {} run(s); first: {}",
                    c.binary,
                    c.failures,
                    truncate(f, 400)
                );
            }
        }
        let _ = writeln!(
            o,
            "\nThese are host (x86_64) builds of the workspace's release profile; the deployed functions are arm64 builds by cargo-lambda, \
             and Lambda's own sandbox start and code download come on top. Secrets Manager and DynamoDB are on loopback here, a few ms away in AWS.\n"
        );
    }

    /// A markdown table and its notes: long, but flat.
    fn load_section(&self, o: &mut String) {
        let _ = writeln!(o, "## 2. Throughput and latency of the local API server\n");
        let Some(first) = self.load.first() else {
            let _ = writeln!(o, "Not measured.\n");
            return;
        };
        let _ = writeln!(
            o,
            "The local API server (embedded default: in-memory adapters, generated keys, JSON request logs formatted into a sink as in Lambda) \
             started in this process on `127.0.0.1:0`; the built-in load client (hyper's HTTP/1.1 client) runs {} workers, each on its own keep-alive connection with one request \
             in flight, in the same process — client and server share the machine's {} cores. Latency is per operation as the client sees it; \
             the one-at-a-time median is section 3's sequential run of the same route.\n",
            first.concurrency, self.machine.cores
        );
        let _ = writeln!(
            o,
            "| flow | concurrency | operations | errors | ops/s | median | p99 | max | concurrency ÷ ops/s | one-at-a-time median |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for l in &self.load {
            let lat = l.latency;
            let one = match l.flow {
                crate::load::Flow::ClientCredentials => {
                    self.probe_latency(Probe::ClientCredentials).map(ms)
                }
                crate::load::Flow::SignedVerify => self.probe_latency(Probe::SignedWhoami).map(ms),
                crate::load::Flow::MintRedeem => self
                    .probe_latency(Probe::Mint)
                    .zip(self.probe_latency(Probe::Redeem))
                    .map(|(a, b)| ms(a + b)),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} |",
                l.flow.label(),
                l.concurrency,
                l.ops,
                l.errors,
                l.ops_per_sec(),
                lat.map(|s| ms(s.median)).unwrap_or_else(|| "—".into()),
                lat.map(|s| ms(s.p99)).unwrap_or_else(|| "—".into()),
                lat.map(|s| ms(s.max)).unwrap_or_else(|| "—".into()),
                ms(Duration::from_secs_f64(
                    l.concurrency as f64 / l.ops_per_sec().max(1e-9)
                )),
                one.unwrap_or_else(|| "—".into()),
            );
            for (name, s) in &l.parts {
                let _ = writeln!(
                    o,
                    "| &nbsp;&nbsp;↳ {name} | | | | | {} | {} | {} | | |",
                    ms(s.median),
                    ms(s.p99),
                    ms(s.max)
                );
            }
        }
        for l in &self.load {
            if let Some(e) = &l.first_error {
                let _ = writeln!(o, "\n{}: first error: {}", l.flow.label(), truncate(e, 400));
            }
        }
        let _ = writeln!(
            o,
            "\nAt a fixed concurrency the mean latency is concurrency ÷ throughput (Little's law, the column beside p99): with {} requests \
             in flight on {} cores, a p99 under a few ms needs the CPU time of one request (client side included) well under \
             {} × that target ÷ {}. The one-at-a-time median is the latency without queueing.\n",
            first.concurrency, self.machine.cores, self.machine.cores, first.concurrency
        );
    }

    /// Two markdown tables and their notes: long, but flat.
    fn calls_section(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "## 3. DynamoDB calls per request and cost per million requests (estimate)\n"
        );
        let _ = writeln!(
            o,
            "Each route sent one request at a time to a second server whose `MemoryTable` is held by this driver, its call counter \
             (`MemoryTable::calls()`) read around each request alone (setup such as minting the token a redeem uses is outside), \
             then divided by the number of requests. Request units are priced per operation from the sizes of the items read or written.\n"
        );
        let _ = writeln!(
            o,
            "*Steady state* is as deployed: behind the {}-second read cache of `Services` (clients and lockout counters), \
             a credential used more often than that by one instance; *cache miss* turns the cache off, so every read reaches the table \
             (the first request of a credential on an instance, or one every {} s).\n",
            self.read_cache.as_secs(),
            self.read_cache.as_secs()
        );
        let _ = writeln!(
            o,
            "| route | requests | DynamoDB calls/req, steady state | cache miss | RRU/req | WRU/req | Lambda invocations | one-at-a-time median | billed Lambda ms (est.) | DynamoDB $/M | Lambda $/M | HTTP API $/M | total $/M | total $/M, cache miss |"
        );
        let _ = writeln!(
            o,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &self.counts.routes {
            let c = self.cost(r);
            let miss = self.uncached.route(r.probe).map(|u| self.cost(u));
            let _ = writeln!(
                o,
                "| {} | {} | {:.2} | {} | {:.2} | {:.2} | {}{} | {} | {:.0} | {:.2} | {:.2} | {:.2} | **{:.2}** | {} |",
                r.probe.label(),
                r.n,
                c.calls,
                miss.as_ref().map(|m| format!("{:.2}", m.calls)).unwrap_or_else(|| "—".into()),
                c.rru,
                c.wru,
                c.invocations,
                if c.behind_authorizer { " (authorizer + handler)" } else { "" },
                ms(c.median),
                c.billed_ms,
                c.dynamodb,
                c.lambda,
                Prices::HTTP_API,
                c.total,
                miss.map(|m| format!("{:.2}", m.total)).unwrap_or_else(|| "—".into()),
            );
        }
        let _ = writeln!(o, "\n### The `verify` authorizer alone\n");
        let _ = writeln!(
            o,
            "`keygate_verify::decide` (what the `verify` Lambda runs per request) called directly on the metered server's services.\n"
        );
        let _ = writeln!(
            o,
            "| credential | requests | DynamoDB calls per verified request, steady state | cache miss | RRU/req | WRU/req | target ≤ {VERIFY_CALLS} (steady state) |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---|");
        for cred in Credential::ALL {
            let Some((m, n)) = self.counts.authorizer(cred) else {
                continue;
            };
            let calls = per_req(m.calls as f64, n);
            let _ = writeln!(
                o,
                "| {} | {n} | {calls:.2} | {} | {:.2} | {:.2} | {} |",
                cred.label(),
                self.uncached
                    .authorizer(cred)
                    .map(|(m, n)| format!("{:.2}", per_req(m.calls as f64, n)))
                    .unwrap_or_else(|| "—".into()),
                per_req(m.rru, n),
                per_req(m.wru, n),
                verdict(calls <= VERIFY_CALLS)
            );
        }
        let _ = writeln!(
            o,
            "\n**This is an estimate.** Prices assumed (us-east-1, on-demand, standard table class): DynamoDB ${:.2} per million write request units and \
             ${:.2} per million read request units; items under 1 KB (1 WRU per write, 1 RRU per strongly consistent read of up to 4 KB, \
             ½ RRU for the eventually consistent GSI query); transactions cost 2× per item, a condition check counted as a write; a write whose \
             condition fails is billed too. Lambda arm64 ${} per GB-s at 256 MB and ${:.2} per million requests; billed time = ⌈one-at-a-time median \
             (in process, over loopback HTTP) + {} ms per DynamoDB call (an assumed in-region round trip)⌉, at least 1 ms per invocation. \
             API Gateway HTTP API ${:.2} per million requests. Not included: authorizer result caching (which would remove the authorizer \
             invocation on repeat credentials), data transfer, CloudWatch Logs ingestion, free tiers, and Secrets Manager reads (once per cold start \
             and key-cache period, not per request).\n",
            Prices::WRU,
            Prices::RRU,
            Prices::LAMBDA_GB_S,
            Prices::LAMBDA_REQUESTS,
            self.ddb_ms,
            Prices::HTTP_API
        );
    }

    fn hot_paths_section(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "## 4. In-process hot paths (the functions' own benches)\n"
        );
        let _ = writeln!(
            o,
            "Not re-measured here: these benches belong to the functions. Run them with the commands below \
             (or `cargo run --release -p keygate-bench -- --hot-paths` to run them and paste their output here).\n"
        );
        let _ = writeln!(o, "| bench | command | what it measures | targets |");
        let _ = writeln!(o, "|---|---|---|---|");
        let _ = writeln!(o, "| token (criterion) | `cargo bench -p keygate-token --bench token` | client-credentials issue, DPoP-bound issue, JWT verify (means) | issue < 200 µs (bound too), verify < 100 µs |");
        let _ = writeln!(o, "| token percentiles | `cargo bench -p keygate-token --bench token_percentiles` | the same, median and p99 | issue < 200 µs, verify < 100 µs |");
        let _ = writeln!(o, "| verify | `cargo bench -p keygate-verify --bench verify` | each credential kind (DPoP proof and bound token included): median, p99, store calls | HMAC < 5 µs, JWT < 100 µs, a DPoP proof ≈ 50 µs more, ≤ 1 store call |");
        let _ = writeln!(o, "| webhooks delivery | `cargo bench -p keygate-webhooks --bench delivery` | deliveries/s of one handler, memory per in-flight delivery | ≥ 2,000 deliveries/s |");
        let _ = writeln!(o);
        for (what, text) in &self.hot_paths {
            let _ = writeln!(o, "**{what}**\n\n```text\n{}\n```\n", text.trim_end());
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}
