//! CPU per request, measured from outside: a `keygate-local` release process of its own,
//! logging and counting as a Lambda does (JSON log lines, EMF metric lines, both to
//! `/dev/null`), loaded by the built-in client from this process; the figure is the server
//! process's CPU time (user + system, `/proc/<pid>/stat`) divided by the requests it served. The
//! same measure as `bench/wrk/cpu-per-token.sh` (with wrk), per flow.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Conn;
use crate::load::{self, Flow, Target};

/// CPU per request of one flow.
pub struct CpuResult {
    pub flow: Flow,
    pub requests: usize,
    pub errors: usize,
    pub cpu: Duration,
}

impl CpuResult {
    pub fn per_request_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }
}

/// HTTP requests one operation of `flow` makes.
fn requests_per_op(flow: Flow) -> usize {
    match flow {
        Flow::MintRedeem => 2,
        _ => 1,
    }
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User + system CPU time of process `pid` so far.
fn cpu_of(pid: u32) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
    let hz = clock_ticks();
    Ok(Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / hz))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

async fn start(bin: &Path) -> Result<(Process, SocketAddr), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("a free port: {e}"))?
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEYGATE_LISTEN", addr.to_string())
        .env("KEYGATE_LOG_FORMAT", "json")
        .env("KEYGATE_METRICS", "stdout")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let process = Process(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Conn::open(addr).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("{} did not listen on {addr}", bin.display()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((process, addr))
}

/// Every flow against one `keygate-local` process: `warmup` operations, then `total` measured.
pub async fn measure(
    root: &Path,
    concurrency: usize,
    warmup: usize,
    total: usize,
    max: Duration,
) -> Result<Vec<CpuResult>, String> {
    let bin = crate::cold::release_dir(root).join("keygate-local");
    let (process, addr) = start(&bin).await?;
    let pid = process.0.id();
    let target = Target::at(addr, crate::server::fixture(addr).await?);
    let mut out = Vec::new();
    for flow in Flow::ALL {
        eprintln!("keygate-bench: CPU per request: {}", flow.label());
        load::operations(&target, flow, concurrency, warmup, max).await?;
        let before = cpu_of(pid)?;
        let (ops, errors) = load::operations(&target, flow, concurrency, total, max).await?;
        let cpu = cpu_of(pid)? - before;
        out.push(CpuResult {
            flow,
            requests: ops * requests_per_op(flow),
            errors,
            cpu,
        });
    }
    Ok(out)
}

/// One P-256 signature's time on this machine, µs: `openssl speed ecdsap256` (one core), the
/// yardstick of the CPU-per-token target (a token is one signature plus everything else).
pub fn p256_sign_us() -> Result<f64, String> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "3", "ecdsap256"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("openssl speed: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("nistp256"))
        .ok_or("openssl speed printed no nistp256 line")?;
    // `256 bits ecdsa (nistp256)   0.0000s   0.0001s  52511.3  16883.0`: the last two numbers
    // are signatures and verifications per second.
    let rates: Vec<f64> = line
        .split_whitespace()
        .filter_map(|t| t.parse::<f64>().ok())
        .collect();
    match rates.as_slice() {
        [.., sign, _verify] if *sign > 0.0 => Ok(1e6 / sign),
        _ => Err(format!("cannot read openssl's rates: {line}")),
    }
}
