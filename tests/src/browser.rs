//! A headless Chromium for the browser tests (`consent_browser.rs`, `console_browser.rs`):
//! Debian's `chromium` driven through its `chromedriver` (WebDriver) by `fantoccini`. Both come
//! from `infra/browser/install.sh`; without them a browser test fails (it does not skip), naming
//! that script.

use std::net::TcpListener as StdListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client as Browser, ClientBuilder};
use serde_json::json;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Upper bound for any one wait on the browser or the receiver (a cold Chromium start on a busy
/// 2-core machine is the slow part).
pub const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// chromedriver and a headless Chromium session.

/// A chromedriver process and Chromium's profile directory, both removed on drop.
///
/// chromedriver runs in a process group of its own, which the Chromium it launches inherits:
/// dropping the driver kills the whole group, so a failing test (no WebDriver `close`) leaves no
/// browser behind.
pub struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
    log: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
        let _ = std::fs::remove_file(&self.log);
    }
}

fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("keygate-{name}-{}-{nanos}", std::process::id()))
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Driver {
    pub async fn start() -> Self {
        for bin in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: run `bash infra/browser/install.sh` (installs Debian's chromium \
                 and chromium-driver) before this test"
            );
        }
        let port = {
            let l = StdListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("port").port()
        };
        let profile = scratch("chromium-profile");
        std::fs::create_dir_all(&profile).expect("profile dir");
        let log = scratch("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile,
            log,
        };
        // Ready when `/status` says so; bounded by a deadline, failing fast if it exited.
        let http = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "chromedriver exited ({status}) before it was ready:\n{}",
                    log_tail(&driver.log)
                );
            }
            let ready = match http.get(format!("{}/status", driver.url)).send().await {
                Ok(r) => r
                    .json::<serde_json::Value>()
                    .await
                    .map(|v| v["value"]["ready"] == true)
                    .unwrap_or(false),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready within {PATIENCE:?}:\n{}",
                log_tail(&driver.log)
            );
        }
        driver
    }

    pub async fn browser(&self) -> Browser {
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            format!("--user-data-dir={}", self.profile.display()),
        ];
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("a JSON object")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("no WebDriver session: {e}\n{}", log_tail(&self.log)))
    }
}

// ---------------------------------------------------------------------------------------------
// Accessibility and small screens.

/// axe-core's script, as `infra/browser/install.sh` installs it: `KEYGATE_AXE_JS`, or
/// `axe/node_modules/axe-core/axe.min.js` under the cache (`KEYGATE_CACHE`, else the repository's
/// `.cache`). Without it the test fails, naming that script.
pub fn axe_source() -> String {
    let path = std::env::var_os("KEYGATE_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let cached = |root: PathBuf| root.join("axe/node_modules/axe-core/axe.min.js");
            std::env::var_os("KEYGATE_CACHE")
                .map(|c| cached(PathBuf::from(c)))
                .filter(|p| p.exists())
                .unwrap_or_else(|| cached(repo.join(".cache")))
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run `bash infra/browser/install.sh` (installs the pinned axe-core)",
            path.display()
        )
    })
}

/// axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA, and
/// best practices), each as `rule (impact): targets — help`.
pub async fn axe_violations(b: &Browser, axe: &str) -> Vec<String> {
    b.execute(axe, vec![]).await.expect("axe-core loads");
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] })
          .then(r => done(r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')} — ${v.help}`)))
          .catch(e => done(['axe-core failed: ' + e]));
    "#;
    let found = b
        .execute_async(script, vec![])
        .await
        .expect("axe-core runs");
    serde_json::from_value(found).expect("a list of violations")
}

/// The page's width against the window's, at `width` CSS pixels: (scrollWidth, innerWidth).
pub async fn widths_at(b: &Browser, width: u32) -> (u64, u64) {
    b.set_window_size(width, 900).await.expect("window size");
    let v = b
        .execute(
            "return [document.scrollingElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("widths");
    let w: Vec<u64> = serde_json::from_value(v).expect("two numbers");
    (w[0], w[1])
}
