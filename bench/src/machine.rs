//! The machine and the checkout the numbers come from, and whether something else was busy.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub kernel: String,
    pub rustc: String,
    pub date: String,
    pub commit: String,
}

impl Machine {
    pub fn read(root: &Path) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.into());
        Self {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu,
            kernel: format!("{kernel} {}", std::env::consts::ARCH),
            rustc: output("rustc", &["--version"], root).unwrap_or_else(|| "rustc ?".into()),
            date: utc_now(),
            commit: commit(root),
        }
    }
}

fn output(cmd: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `git rev-parse --short HEAD`, marked when tracked files differ from it.
fn commit(root: &Path) -> String {
    let Some(head) = output("git", &["rev-parse", "--short", "HEAD"], root) else {
        return "unknown (no git)".into();
    };
    let dirty = output(
        "git",
        &["status", "--porcelain", "--untracked-files=no"],
        root,
    )
    .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}

/// When `HEAD` was committed.
pub fn head_time(root: &Path) -> Option<SystemTime> {
    let secs: u64 = output("git", &["log", "-1", "--format=%ct"], root)?
        .parse()
        .ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock.
pub fn utc_now() -> String {
    utc(SystemTime::now())
}

/// `YYYY-MM-DD HH:MM UTC` of a moment.
pub fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d, hh, mm, _) = keygate_core::kernel::clock::civil(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} UTC")
}

/// Other work on the machine right now: running `rustc` processes and the load average.
#[derive(Debug, Clone)]
pub struct Busy {
    pub rustc: usize,
    pub loadavg: String,
}

impl Busy {
    pub fn now() -> Self {
        let rustc = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .bytes()
                            .all(|b| b.is_ascii_digit())
                    })
                    .filter(|e| {
                        std::fs::read_to_string(e.path().join("comm"))
                            .is_ok_and(|c| c.trim() == "rustc")
                    })
                    .count()
            })
            .unwrap_or(0);
        let loadavg = std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Self { rustc, loadavg }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} rustc process{} running, load average {}",
            self.rustc,
            if self.rustc == 1 { "" } else { "es" },
            self.loadavg
        )
    }
}

/// Waits (up to `max`) until no `rustc` runs; returns the state when it stopped waiting.
pub async fn wait_idle(max: Duration) -> Busy {
    let start = Instant::now();
    let mut said = false;
    loop {
        let b = Busy::now();
        if b.rustc == 0 || start.elapsed() >= max {
            return b;
        }
        if !said {
            eprintln!(
                "keygate-bench: waiting up to {}s for builds to finish ({})",
                max.as_secs(),
                b.describe()
            );
            said = true;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
