//! The built-in load client (keep-alive connections, a fixed number of concurrent workers, each
//! with one request in flight) and the one-at-a-time probes of single routes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::calls::{Meter, Metered};
use crate::client::{Conn, Req};
use crate::server::{self, Fixture, Server};
use crate::stats::Summary;
use keygate_core::ports::store::meter::{KeyMeter, Tally};

/// A flow the load client repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `POST /api/oauth2/token`, `grant_type=client_credentials`.
    ClientCredentials,
    /// `GET /api/whoami` as a signed request (HMAC headers, nonce, Bearer, Referer).
    SignedVerify,
    /// `POST /api/authenticationTokens/signer/singleUse` then `GET /access?sessionToken=…`.
    MintRedeem,
}

impl Flow {
    pub const ALL: [Flow; 3] = [
        Flow::ClientCredentials,
        Flow::SignedVerify,
        Flow::MintRedeem,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Flow::ClientCredentials => "client credentials (`POST /api/oauth2/token`)",
            Flow::SignedVerify => "signed-request verify (`GET /api/whoami`, HMAC + Bearer)",
            Flow::MintRedeem => {
                "auth-token mint + redeem (`POST …/signer/singleUse` → `GET /access`)"
            }
        }
    }

    /// Names of the timed parts of one operation, when it has more than one request.
    pub fn parts(self) -> &'static [&'static str] {
        match self {
            Flow::MintRedeem => &["mint (`POST …/signer/singleUse`)", "redeem (`GET /access`)"],
            _ => &[],
        }
    }
}

/// The result of one load run.
pub struct LoadResult {
    pub flow: Flow,
    pub concurrency: usize,
    /// Operations completed (a mint + redeem is one operation of two requests).
    pub ops: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub latency: Option<Summary>,
    pub parts: Vec<(&'static str, Summary)>,
}

impl LoadResult {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

struct Ctx {
    addr: std::net::SocketAddr,
    /// The server, when it runs in this process (the store-call counts read its services).
    server: Option<Server>,
    fixture: Fixture,
    /// The DPoP key and its bound token, made on first use.
    dpop: tokio::sync::OnceCell<(keygate_core::testing::dpop::ProofKey, String)>,
}

/// A server with its fixture, shared by the load workers: in this process, or another process
/// at an address (the CPU-per-request section measures a `keygate-local` process of its own).
#[derive(Clone)]
pub struct Target(Arc<Ctx>);

impl Target {
    pub fn new(server: Server, fixture: Fixture) -> Self {
        Self(Arc::new(Ctx {
            addr: server.addr(),
            server: Some(server),
            fixture,
            dpop: tokio::sync::OnceCell::new(),
        }))
    }
    pub fn at(addr: std::net::SocketAddr, fixture: Fixture) -> Self {
        Self(Arc::new(Ctx {
            addr,
            server: None,
            fixture,
            dpop: tokio::sync::OnceCell::new(),
        }))
    }
    /// The in-process server (store-call counts need it).
    pub fn server(&self) -> Result<&Server, String> {
        self.0
            .server
            .as_ref()
            .ok_or_else(|| "this phase needs the server in process".to_owned())
    }
    pub fn fixture(&self) -> &Fixture {
        &self.0.fixture
    }
    /// A new keep-alive connection to the server.
    pub async fn conn(&self) -> Result<Conn, String> {
        Conn::open(self.0.addr).await
    }
    /// The server's origin, as DPoP proofs name it.
    pub fn base(&self) -> String {
        format!("http://{}", self.0.addr)
    }
    /// A DPoP key and a token bound to it (the first caller makes them).
    pub async fn dpop(
        &self,
        c: &mut Conn,
    ) -> Result<&(keygate_core::testing::dpop::ProofKey, String), String> {
        self.0
            .dpop
            .get_or_try_init(|| async {
                let key = keygate_core::testing::dpop::ProofKey::es256();
                let token = server::dpop_token(c, &self.0.fixture, &self.base(), &key).await?;
                Ok::<_, String>((key, token))
            })
            .await
    }
}

/// One operation of `flow` on `c`: the durations of its parts (none for a single request).
async fn once(
    c: &mut Conn,
    f: &Fixture,
    flow: Flow,
    bearer: &str,
) -> Result<Vec<Duration>, String> {
    match flow {
        Flow::ClientCredentials => c
            .expect(server::token_request(f), 200)
            .await
            .map(|_| vec![]),
        Flow::SignedVerify => c
            .expect(server::signed_request(f, bearer), 200)
            .await
            .map(|_| vec![]),
        Flow::MintRedeem => {
            let t0 = Instant::now();
            let token = server::mint(c, f).await?;
            let t1 = Instant::now();
            c.expect(server::redeem_request(&token), 302).await?;
            Ok(vec![t1 - t0, t1.elapsed()])
        }
    }
}

struct Phase {
    samples: Vec<Duration>,
    parts: Vec<Vec<Duration>>,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

/// `concurrency` workers, each on its own keep-alive connection (opened before the clock starts),
/// share a budget of `total` operations and a deadline.
/// The workers of one phase and the merge of their samples.
async fn phase(
    t: &Target,
    flow: Flow,
    bearer: Arc<String>,
    concurrency: usize,
    total: usize,
    max: Duration,
) -> Result<Phase, String> {
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        conns.push(t.conn().await?);
    }
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (t, bearer, issued) = (t.clone(), bearer.clone(), issued.clone());
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(total / concurrency + 1);
                let mut parts: Vec<Vec<Duration>> = vec![Vec::new(); flow.parts().len()];
                let mut errors = 0;
                let mut first_error = None;
                while issued.fetch_add(1, Ordering::Relaxed) < total && started.elapsed() < max {
                    let t0 = Instant::now();
                    match once(&mut conn, t.fixture(), flow, &bearer).await {
                        Ok(p) => {
                            samples.push(t0.elapsed());
                            for (i, d) in p.into_iter().enumerate() {
                                parts[i].push(d);
                            }
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                            // A broken connection is replaced rather than failing every request.
                            if let Ok(c) = t.conn().await {
                                conn = c;
                            }
                        }
                    }
                }
                (samples, parts, errors, first_error)
            })
        })
        .collect();
    let mut out = Phase {
        samples: Vec::with_capacity(total),
        parts: vec![Vec::new(); flow.parts().len()],
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    for w in workers {
        match w.await {
            Ok((samples, parts, errors, first_error)) => {
                out.samples.extend(samples);
                for (i, p) in parts.into_iter().enumerate() {
                    out.parts[i].extend(p);
                }
                out.errors += errors;
                if out.first_error.is_none() {
                    out.first_error = first_error;
                }
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(format!("worker: {e}"));
            }
        }
    }
    out.elapsed = started.elapsed();
    Ok(out)
}

/// `phase` for another module: `total` operations of `flow`, with its bearer token; the count of
/// operations done and failed.
pub async fn operations(
    t: &Target,
    flow: Flow,
    concurrency: usize,
    total: usize,
    max: Duration,
) -> Result<(usize, usize), String> {
    let bearer = Arc::new(match flow {
        Flow::SignedVerify => server::access_token(&mut t.conn().await?, t.fixture()).await?,
        _ => String::new(),
    });
    let p = phase(t, flow, bearer, concurrency, total, max).await?;
    Ok((p.samples.len(), p.errors))
}

/// Warms up with `warmup` operations, then times `total` operations (or until `max`).
pub async fn run(
    t: &Target,
    flow: Flow,
    concurrency: usize,
    warmup: usize,
    total: usize,
    max: Duration,
) -> Result<LoadResult, String> {
    // A fresh token for each run: its 5-minute lifetime comfortably covers one run.
    let bearer = Arc::new(match flow {
        Flow::SignedVerify => server::access_token(&mut t.conn().await?, t.fixture()).await?,
        _ => String::new(),
    });
    if warmup > 0 {
        let w = phase(t, flow, bearer.clone(), concurrency, warmup, max).await?;
        if w.errors > 0 {
            return Err(format!(
                "{}: warm-up failed: {}",
                flow.label(),
                w.first_error.unwrap_or_default()
            ));
        }
    }
    let p = phase(t, flow, bearer, concurrency, total, max).await?;
    Ok(LoadResult {
        flow,
        concurrency,
        ops: p.samples.len(),
        errors: p.errors,
        first_error: p.first_error,
        elapsed: p.elapsed,
        latency: Summary::of(&p.samples),
        parts: flow
            .parts()
            .iter()
            .zip(p.parts.iter())
            .filter_map(|(name, v)| Summary::of(v).map(|s| (*name, s)))
            .collect(),
    })
}

// --- one route at a time ------------------------------------------------------------------------

/// A single route, probed one request at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    ClientCredentials,
    SignedWhoami,
    DpopWhoami,
    BearerWhoami,
    ApiKeyWhoami,
    Mint,
    Redeem,
    Jwks,
}

impl Probe {
    pub const ALL: [Probe; 8] = [
        Probe::ClientCredentials,
        Probe::SignedWhoami,
        Probe::DpopWhoami,
        Probe::BearerWhoami,
        Probe::ApiKeyWhoami,
        Probe::Mint,
        Probe::Redeem,
        Probe::Jwks,
    ];

    /// Method and path (as `routes::find` takes them).
    pub fn route(self) -> (&'static str, &'static str) {
        match self {
            Probe::ClientCredentials => ("POST", "/api/oauth2/token"),
            Probe::SignedWhoami | Probe::DpopWhoami | Probe::BearerWhoami | Probe::ApiKeyWhoami => {
                ("GET", "/api/whoami")
            }
            Probe::Mint => ("POST", "/api/authenticationTokens/signer/singleUse"),
            Probe::Redeem => ("GET", "/access"),
            Probe::Jwks => ("GET", "/.well-known/jwks.json"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Probe::ClientCredentials => "`POST /api/oauth2/token` (client credentials)",
            Probe::SignedWhoami => "`GET /api/whoami` signed request",
            Probe::DpopWhoami => "`GET /api/whoami` DPoP-bound token + proof",
            Probe::BearerWhoami => "`GET /api/whoami` OAuth Bearer token",
            Probe::ApiKeyWhoami => "`GET /api/whoami` API key",
            Probe::Mint => "`POST /api/authenticationTokens/signer/singleUse`",
            Probe::Redeem => "`GET /access?sessionToken=…`",
            Probe::Jwks => "`GET /.well-known/jwks.json`",
        }
    }

    /// The request and the status it must get; any setup (minting the token a redeem uses)
    /// happens here, outside the measured request.
    async fn prepare(self, c: &mut Conn, t: &Target, bearer: &str) -> Result<(Req, u16), String> {
        let f = t.fixture();
        Ok(match self {
            Probe::DpopWhoami => {
                let (key, token) = t.dpop(c).await?;
                (server::dpop_request(&t.base(), key, token), 200)
            }
            Probe::ClientCredentials => (server::token_request(f), 200),
            Probe::SignedWhoami => (server::signed_request(f, bearer), 200),
            Probe::BearerWhoami => (server::bearer_request(bearer), 200),
            Probe::ApiKeyWhoami => (server::api_key_request(&f.api_key), 200),
            Probe::Mint => (server::mint_request(f), 200),
            Probe::Redeem => (server::redeem_request(&server::mint(c, f).await?), 302),
            Probe::Jwks => (server::jwks_request(), 200),
        })
    }
}

/// What `n` one-at-a-time requests of a route cost.
pub struct Probed {
    pub probe: Probe,
    pub n: usize,
    pub latency: Option<Summary>,
    /// Summed over the `n` requests (when a meter was given).
    pub meter: Meter,
    /// Per partition key, over the `n` requests (when a key meter was given).
    pub keys: Tally,
}

/// Sends `n` requests of `probe` one at a time (after `warmup` unmeasured ones), metering the
/// table around each request alone.
pub async fn probe(
    t: &Target,
    probe: Probe,
    warmup: usize,
    n: usize,
    metered: Option<&Metered>,
    keys: Option<&KeyMeter>,
) -> Result<Probed, String> {
    let f = t.fixture();
    let mut c = t.conn().await?;
    let bearer = server::access_token(&mut c, f).await?;
    let mut samples = Vec::with_capacity(n);
    let mut meter = Meter::default();
    let mut tally = Tally::default();
    for i in 0..warmup + n {
        let (req, status) = probe.prepare(&mut c, t, &bearer).await?;
        let before = metered.map(Metered::meter).unwrap_or_default();
        if let Some(k) = keys {
            k.take();
        }
        let t0 = Instant::now();
        c.expect(req, status)
            .await
            .map_err(|e| format!("{}: {e}", probe.label()))?;
        let took = t0.elapsed();
        let after = metered.map(Metered::meter).unwrap_or_default();
        let counted = keys.map(KeyMeter::take).unwrap_or_default();
        if i >= warmup {
            tally.absorb(counted);
            samples.push(took);
            let d = after - before;
            meter.calls += d.calls;
            meter.rru += d.rru;
            meter.wru += d.wru;
        }
    }
    Ok(Probed {
        probe,
        n,
        latency: Summary::of(&samples),
        meter,
        keys: tally,
    })
}

/// A credential kind the `verify` authorizer checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    ApiKey,
    Bearer,
    Signed,
}

impl Credential {
    pub const ALL: [Credential; 3] = [Credential::ApiKey, Credential::Bearer, Credential::Signed];
    pub fn label(self) -> &'static str {
        match self {
            Credential::ApiKey => "API key (`Authorization: Basic`)",
            Credential::Bearer => "OAuth access token (`Bearer`)",
            Credential::Signed => "signed request (HMAC headers + Bearer + Referer)",
        }
    }
}

/// Store calls per verified request of the authorizer alone (`keygate_verify::decide`, what the
/// `verify` Lambda runs), over `n` requests.
pub async fn authorizer_calls(
    t: &Target,
    metered: &Metered,
    credential: Credential,
    n: usize,
) -> Result<Meter, String> {
    let (s, f) = (t.server()?, t.fixture());
    let bearer = server::access_token(&mut s.conn().await?, f).await?;
    let mut total = Meter::default();
    // One unrecorded request first: steady state is a credential this instance has seen.
    for i in 0..=n {
        let mut headers = http::HeaderMap::new();
        let pairs: Vec<(&'static str, String)> = match credential {
            Credential::ApiKey => vec![("authorization", format!("Basic {}", f.api_key))],
            Credential::Bearer => vec![("authorization", format!("Bearer {bearer}"))],
            Credential::Signed => server::signed_headers(f, &bearer).into(),
        };
        for (k, v) in pairs {
            headers.insert(
                k,
                http::HeaderValue::from_str(&v).map_err(|e| format!("header {k}: {e}"))?,
            );
        }
        let before = metered.meter();
        let target = keygate_core::identity::Target {
            method: "GET",
            path: "/api/whoami",
        };
        keygate_verify::decide(
            s.services(),
            &headers,
            keygate_core::identity::lockout::Source::UNKNOWN,
            target,
        )
        .await
        .map_err(|e| format!("authorizer refused {}: {e:?}", credential.label()))?;
        let d = metered.meter() - before;
        if i == 0 {
            continue;
        }
        total.calls += d.calls;
        total.rru += d.rru;
        total.wru += d.wru;
    }
    Ok(total)
}
