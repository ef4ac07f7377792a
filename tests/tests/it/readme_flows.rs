//! The README's "For integrators" flows, run exactly as written: every ```` ```sh ```` block after
//! a `<!-- flow: <name> expect: "<text>" -->` marker is run by `bash -euo pipefail` with `BASE`
//! set to a local server's address, and its last line of output must start with the expected
//! text. On both backends. (`curl`, `jq` and `openssl` come from `infra/browser/install.sh`.)
//! The server runs on the system clock here: the flows' DPoP proofs carry the shell's `iat`.

use std::path::Path;
use std::process::Command;

use keygate_e2e::{Backend, Server};

struct Flow {
    name: String,
    expect: String,
    script: String,
}

fn flows() -> Vec<Flow> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let mut found = Vec::new();
    let mut rest = readme.as_str();
    while let Some(at) = rest.find("<!-- flow: ") {
        rest = &rest[at + "<!-- flow: ".len()..];
        let (head, after) = rest.split_once(" -->").expect("a closed flow marker");
        let (name, expect) = head
            .split_once(" expect: ")
            .expect("flow: <name> expect: \"…\"");
        let expect = expect.trim_matches('"').to_owned();
        let body = after
            .trim_start()
            .strip_prefix("```sh\n")
            .unwrap_or_else(|| panic!("flow {name}: a ```sh block right after the marker"));
        let (script, _) = body.split_once("\n```").expect("a closed block");
        found.push(Flow {
            name: name.to_owned(),
            expect,
            script: script.to_owned(),
        });
        rest = after;
    }
    found
}

#[test]
fn the_readme_has_the_five_integrator_flows() {
    let names: Vec<String> = flows().into_iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "client-app",
            "oauth-code",
            "signed-request",
            "fapi2-dpop",
            "recover"
        ]
    );
}

async fn run_the_flows(backend: Backend) {
    let s = Server::start_with(backend, |services, _| {
        services.clock = std::sync::Arc::new(keygate_core::kernel::clock::SystemClock);
    })
    .await;
    let base = s.url("");
    let base = base.trim_end_matches('/').to_owned();
    for flow in flows() {
        let script = flow.script.clone();
        let base = base.clone();
        // The flow's curl calls this server: run it off the runtime's threads.
        let out = tokio::task::spawn_blocking(move || {
            Command::new("bash")
                .args(["-euo", "pipefail", "-c", &script])
                .env("BASE", &base)
                .output()
                .expect("bash runs")
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "flow {} failed ({}):\n{stdout}\n{stderr}",
            flow.name,
            out.status
        );
        let last = stdout.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&flow.expect),
            "flow {}: expected {:?}, got {last:?}\n{stderr}",
            flow.name,
            flow.expect
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_flows_work_in_memory() {
    run_the_flows(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_flows_work_on_dynamodb_local() {
    run_the_flows(Backend::Stack).await;
}
