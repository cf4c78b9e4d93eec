//! A recording, fault-injecting HTTP proxy on loopback, between the aws-harden binary and moto. It
//! forwards every request and records which AWS operation it was, so tests can count calls and prove
//! that a run made no writes without trusting the binary's own account of itself.
//!
//! Faults, for the reliability tests and the benchmark:
//! - `set_latency`: every request waits this long before it is forwarded (a slow network);
//! - `fail_randomly(seed, rate, kinds)`: each request fails with probability `rate`, decided by a
//!   hash of the seed, the operation and how many times that operation was seen before, so a seed
//!   replays the same faults (as long as one operation is not sent twice at the same moment);
//! - `fail_on(Which, Fault)`: a chosen call (the nth of an operation, every one, or the nth overall);
//! - `before(Which, action)`: run an action (drift made in moto, say) before forwarding a chosen call.
//!
//! Hooks let a test answer a request itself instead of moto. That is used ONLY for what moto cannot
//! serve (see each test); never as a fake of something moto does serve.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Included from here so that every user of the proxy (the tests, the sandbox's `sandbox_stubs` example)
/// gets the evaluator its `SimulatePrincipalPolicy` emulation needs.
#[path = "iam_eval.rs"]
pub mod iam_eval;
use tokio::net::{TcpListener, TcpStream};

/// One request that passed through.
#[derive(Clone, Debug)]
pub struct Call {
    /// From the SigV4 credential scope: iam, sts, s3, kms, cloudtrail, cur...; `s3control` for S3
    /// Control (signed as `s3`, told apart by its path).
    pub service: String,
    /// The operation: `Action=` for query protocols, the `X-Amz-Target` suffix for JSON protocols,
    /// `METHOD ?subresource` for S3, and the operation's name for S3 Control.
    pub operation: String,
    pub write: bool,
    /// The HTTP status the client got; 0 when the connection was dropped without an answer.
    pub status: u16,
    /// The access key ID the request was signed with (from the SigV4 credential scope).
    pub access_key: String,
    /// The region the request was signed for (from the SigV4 credential scope).
    pub region: String,
    /// The fault injected instead of (or after) forwarding, if any.
    pub fault: Option<Fault>,
    /// The account of a role session made through this proxy (`Request::account`), by the
    /// signing key; `None` for any other key.
    pub account: Option<String>,
    /// Which record this is (unique for the proxy's life): the answer updates the arrival's record.
    id: u64,
    /// Arrival order at the proxy (1-based since the last `clear`): the order the client sent in.
    /// `Proxy::calls` is sorted by it; completion order differs when calls overlap.
    pub seq: usize,
    /// When the request arrived (before any latency, delay or hold).
    pub at: Instant,
    /// When its answer was sent (or the connection dropped).
    pub answered: Instant,
    /// The query-protocol form parameters (IAM, STS), URL-decoded: what the client sent.
    pub params: Vec<(String, String)>,
    /// Recorded on arrival, before anything is forwarded: true until the answer is sent (or the
    /// connection dropped). A write whose answer never came back is still a write.
    pub in_flight: bool,
    /// The trip to moto failed (connection refused, reset...): the client got no answer from it.
    pub upstream_error: Option<String>,
}

/// A failure the proxy injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// HTTP 500 `InternalError` (`InternalFailure` for query and JSON protocols); not forwarded.
    ServerError,
    /// Throttled: `Throttling` (HTTP 400) for query and JSON protocols, `SlowDown` (HTTP 503) for
    /// S3; not forwarded.
    Throttle,
    /// The connection closes without an answer; the request never reached moto.
    Drop,
    /// Forwarded to moto (so a write happened), then the connection closes without an answer: the
    /// client cannot know whether its write took effect. The only fault defined as after the request
    /// reached the service: hooks, emulations and amendments still run for it; for every other
    /// fault they do not (the service never saw the request).
    LostResponse,
    /// The connection stays open and no answer ever comes (until the client gives up): a hung
    /// network path. Not forwarded.
    Hang,
    /// An AWS error answered instead of forwarding, e.g. `NoSuchEntity` (HTTP 404) for a resource
    /// just created but not yet visible (IAM is eventually consistent; moto is not).
    Error { status: u16, code: &'static str },
}

/// Which calls a rule applies to. Operation names are as in `Call::operation`.
#[derive(Clone, Debug)]
pub enum Which {
    /// The nth (1-based) call of this operation.
    Nth(&'static str, usize),
    /// Every call of this operation.
    Every(&'static str),
    /// The nth (1-based) call overall.
    Call(usize),
}

impl Which {
    fn matches(&self, operation: &str, nth_of_op: usize, nth_overall: usize) -> bool {
        match self {
            Which::Nth(op, n) => *op == operation && *n == nth_of_op,
            Which::Every(op) => *op == operation,
            Which::Call(n) => *n == nth_overall,
        }
    }
}

/// Something to do before forwarding a request (e.g. change the account in moto directly).
pub type Action = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Clone, Debug, Default)]
struct Random {
    seed: u64,
    /// Out of u64::MAX.
    threshold: u64,
    kinds: Vec<Fault>,
}

/// Is this call a read? Decided here from the request alone, not from the binary's own table
/// (`src/aws/calls.rs`), so that a mistake there cannot hide in both: S3 and every REST API named
/// `METHOD /path` by the HTTP method (GET and HEAD read), every other operation by its name's
/// prefix (Get, List, Describe, Head), and, beyond those, only the operations below, which change
/// nothing in the account although their names do not say so. Everything else is a write,
/// including exports that write elsewhere (findings sent to Security Hub, say).
pub fn is_read(service: &str, operation: &str) -> bool {
    if service == "s3" || operation.starts_with("GET ") || operation.starts_with("HEAD ") {
        return operation.starts_with("GET") || operation.starts_with("HEAD");
    }
    /// Names that say "change" but change nothing in the account.
    const READS_BY_EXCEPTION: [&str; 5] = [
        // IAM API reference: starts building the credential report, a read of the account.
        "GenerateCredentialReport",
        // IAM API reference: "The simulation does not perform the API operations".
        "SimulatePrincipalPolicy",
        // STS API reference: decodes a message; nothing in the account changes.
        "DecodeAuthorizationMessage",
        // STS: a role session, into a member or a role; temporary credentials, nothing written.
        "AssumeRole",
        // STS: a root session (centralized root access); what it may do is its task policy's.
        "AssumeRoot",
    ];
    // GetSessionToken (STS) is a read by its prefix: it hands out temporary credentials only.
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|p| operation.starts_with(p))
        || READS_BY_EXCEPTION.contains(&operation)
}

/// A parsed request, for hooks.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub service: String,
    pub operation: String,
    /// The access key ID the request was signed with.
    pub access_key: String,
    /// The region the request was signed for (its SigV4 credential scope).
    pub region: String,
    /// The account of a role session made through this proxy, by the signing key (`None` for any
    /// other key): stubs keep their state per account with it.
    pub account: Option<String>,
}

impl Request {
    /// A form parameter of a query-protocol request (IAM, STS), e.g. `UserName`.
    /// One form parameter, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        let body = self.body_text();
        body.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| decode(v))
        })
    }

    /// Every form parameter of a query-protocol request, URL-decoded (empty for other protocols).
    pub fn params(&self) -> Vec<(String, String)> {
        if self.header("x-amz-target").is_some() || ["s3", "s3control"].contains(&&*self.service) {
            return Vec::new();
        }
        self.body_text()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A response a hook returns instead of forwarding.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// An IAM/STS (query protocol) error response, as AWS sends it.
pub fn query_error(status: u16, code: &str, message: &str) -> Response {
    Response {
        status,
        content_type: "text/xml".into(),
        body: format!(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>{message}</Message></Error><RequestId>hook</RequestId></ErrorResponse>"
        ),
    }
}

/// `GetCallerIdentity` answered for the root user of `account` (STS API reference,
/// GetCallerIdentity: root's ARN is `arn:aws:iam::ACCOUNT:root`); moto cannot be root.
pub fn root_caller_identity(account: &str) -> Response {
    Response {
        status: 200,
        content_type: "text/xml".into(),
        body: format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
             <Arn>arn:aws:iam::{account}:root</Arn><UserId>{account}</UserId><Account>{account}</Account>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>hook</RequestId></ResponseMetadata>\
             </GetCallerIdentityResponse>"
        ),
    }
}

/// An EC2 error response: EC2's own query-protocol shape (Response/Errors/Error), not IAM's
/// ErrorResponse (EC2 API reference, "Error responses").
pub fn ec2_error(status: u16, code: &str, message: &str) -> Response {
    Response {
        status,
        content_type: "text/xml".into(),
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>proxy</RequestID></Response>"
        ),
    }
}

pub type Hook = Box<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// A hook whose answer needs moto first (a stub that resolves a KMS alias, say): given the request
/// and moto's address, it returns the work that makes the answer, or `None` to pass.
pub type AsyncHook = Box<
    dyn Fn(&Request, &str) -> Option<Pin<Box<dyn Future<Output = Response> + Send>>> + Send + Sync,
>;

/// Access key ID -> account ID, for the keys of role sessions moto made (AssumeRole answers that
/// passed through the proxy): a stub that keeps state per account looks the caller's account up.
pub type KeyAccounts = Arc<Mutex<BTreeMap<String, String>>>;

/// Budget notifications' subscribers by (account, budget, notification), as recorded by
/// `Proxy::emulate_budget_subscribers`.
pub type BudgetBook = Arc<Mutex<BTreeMap<(String, String, String), Vec<serde_json::Value>>>>;

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    /// Hooks that ask moto before answering (`Proxy::hook_async`), after the plain hooks.
    async_hooks: Mutex<Vec<AsyncHook>>,
    /// Connections accepted and not yet finished (read, answered, closed): `settle` waits for 0.
    open: std::sync::atomic::AtomicUsize,
    /// Failed `accept()`s, each logged and survived.
    accept_errors: std::sync::atomic::AtomicUsize,
    /// Each recorded request's identity (never reset, unlike `seq`): its answer updates its record.
    next_id: std::sync::atomic::AtomicU64,
    hooks: Mutex<Vec<Hook>>,
    /// Operations held back this long before being forwarded: a slow call, to interrupt one in flight.
    delays: Mutex<Vec<(String, std::time::Duration)>>,
    faults: Mutex<Faults>,
    actions: Mutex<Vec<(Which, Action)>>,
    /// What `GetAccountSummary` says about root (`emulate`), asked at each call.
    root_summary: Mutex<Option<SummaryFn>>,
    /// Access key IDs that no longer exist: every request signed with one is refused.
    revoked: Arc<Mutex<BTreeSet<String>>>,
    /// Calls held until the test releases them (`Proxy::hold`).
    holds: Mutex<Vec<(Which, Gate)>>,
    /// Requests arrived since the last `clear` (the next `Call::seq`).
    arrivals: Mutex<usize>,
    /// The account of each access key AssumeRole handed out through this proxy (`key_accounts`).
    key_accounts: KeyAccounts,
    /// Fields to amend in moto's JSON answers, by operation (`Proxy::amend_json`).
    amendments: Mutex<Vec<(String, Amendment)>>,
}

/// Changes moto's JSON answer to one operation, e.g. adding a field AWS sends and moto never does.
pub type Amendment = Box<dyn Fn(&mut serde_json::Value) + Send + Sync>;

/// Root's fields in `GetAccountSummary`; `None` leaves the key out of the answer.
#[derive(Clone, Copy, Debug)]
pub struct RootSummary {
    pub password_present: Option<bool>,
    pub mfa_enabled: Option<bool>,
    /// `AccountAccessKeysPresent` (moto always says 0: its root has no keys).
    pub access_keys_present: bool,
}

impl Default for RootSummary {
    /// A real, finished account: root has a password and MFA, and no access keys.
    fn default() -> Self {
        RootSummary {
            password_present: Some(true),
            mfa_enabled: Some(true),
            access_keys_present: false,
        }
    }
}

/// Root's fields, computed at each `GetAccountSummary` (so they can follow a test's state).
pub type SummaryFn = Box<dyn Fn() -> RootSummary + Send + Sync>;

/// A call held at the proxy until the test releases it (`Proxy::hold`): for pressing Ctrl-C while
/// a call is certainly in flight, with no timing window.
#[derive(Clone, Default)]
pub struct Gate {
    arrived: Arc<std::sync::atomic::AtomicBool>,
    release: Arc<tokio::sync::Notify>,
    released: Arc<std::sync::atomic::AtomicBool>,
}

impl Gate {
    /// Block (a test thread, not the runtime) until the held call has reached the proxy.
    pub fn wait_arrived(&self, timeout: Duration) {
        let started = Instant::now();
        while !self.arrived.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                started.elapsed() < timeout,
                "the held call never reached the proxy"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    pub fn has_arrived(&self) -> bool {
        self.arrived.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Let the held call (and any later one) go on to moto.
    pub fn release(&self) {
        self.released
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.release.notify_waiters();
    }
    async fn pass(&self) {
        self.arrived
            .store(true, std::sync::atomic::Ordering::SeqCst);
        loop {
            let notified = self.release.notified();
            if self.released.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

#[derive(Default)]
struct Faults {
    latency: Duration,
    /// Answers are held until no request has arrived for this long (`hold_until_quiet`).
    quiet: Option<Duration>,
    /// When the last request arrived, for `quiet`.
    last_arrival: Option<Instant>,
    random: Option<Random>,
    rules: Vec<(Which, Fault)>,
    /// Requests seen so far, overall and per operation (faulted ones included).
    seen: usize,
    seen_by_op: BTreeMap<String, usize>,
}

impl Faults {
    /// Count the request and decide its fault, if any.
    fn decide(&mut self, operation: &str) -> (usize, usize, Option<Fault>) {
        self.seen += 1;
        let nth_of_op = {
            let n = self.seen_by_op.entry(operation.to_string()).or_default();
            *n += 1;
            *n
        };
        let rule = self
            .rules
            .iter()
            .find(|(w, _)| w.matches(operation, nth_of_op, self.seen))
            .map(|(_, f)| *f);
        let random = self.random.as_ref().and_then(|r| {
            let h = mix(r.seed ^ fnv(operation.as_bytes()) ^ mix(nth_of_op as u64));
            (h < r.threshold && !r.kinds.is_empty())
                .then(|| r.kinds[(mix(h) % r.kinds.len() as u64) as usize])
        });
        (self.seen, nth_of_op, rule.or(random))
    }
}

/// FNV-1a: a stable hash (std's may change between Rust versions; seeds must replay).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// splitmix64's finaliser: spreads the bits of a counter or a combined key.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub struct Proxy {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// One accepted connection, counted in `Shared::open` until dropped.
struct OpenConnection(Arc<Shared>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0
            .open
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let conn = match listener.accept().await {
                    Ok((conn, _)) => conn,
                    // One failed accept (a reset before accept, too many open files for a moment)
                    // must not stop the proxy for the rest of its test: say so and go on.
                    Err(e) => {
                        s.accept_errors
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        eprintln!("test proxy: accept failed ({e}); still listening");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let s = s.clone();
                let upstream = upstream.clone();
                s.open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    // Counted down however serve ends (an error, a panic in a hook, an abort).
                    let _open = OpenConnection(s.clone());
                    if let Err(e) = serve(conn, &upstream, &s).await {
                        eprintln!("test proxy: a connection ended with {e}");
                    }
                });
            }
        });
        Proxy { url, shared, task }
    }

    /// Wait until every connection the proxy accepted is finished: each request read, recorded,
    /// answered (or its fault played out). Call it after the client is gone and before asserting on
    /// the record, so a request still on its way to moto is counted. `Account::run` calls it.
    pub async fn settle(&self) {
        let started = Instant::now();
        while self.shared.open.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            if started.elapsed() > Duration::from_secs(60) {
                let in_flight: Vec<String> = self
                    .calls()
                    .iter()
                    .filter(|c| c.in_flight)
                    .map(|c| format!("{}:{}", c.service, c.operation))
                    .collect();
                panic!("the proxy did not settle within 60 s; in flight: {in_flight:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// How many `accept()`s failed (each logged; the proxy goes on listening).
    pub fn accept_errors(&self) -> usize {
        self.shared
            .accept_errors
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The calls whose trip to moto failed, with the error: for a failure message.
    pub fn upstream_errors(&self) -> Vec<String> {
        self.calls()
            .iter()
            .filter_map(|c| {
                let e = c.upstream_error.as_ref()?;
                Some(format!("{}:{} #{}: {e}", c.service, c.operation, c.seq))
            })
            .collect()
    }

    /// Everything the proxy knows of the calls, for a failure message: each call with its status,
    /// fault and upstream error, in arrival order.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for c in self.calls() {
            out.push_str(&format!(
                "#{} {}:{} {} status {}{}{}{}\n",
                c.seq,
                c.service,
                c.operation,
                c.region,
                c.status,
                if c.in_flight { " (in flight)" } else { "" },
                c.fault.map(|f| format!(" fault {f:?}")).unwrap_or_default(),
                c.upstream_error
                    .as_ref()
                    .map(|e| format!(" upstream error: {e}"))
                    .unwrap_or_default(),
            ));
        }
        out
    }

    /// The operations of the calls seen, in order.
    pub fn operations(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.operation).collect()
    }

    /// The calls seen, in the order they were sent (arrival at the proxy).
    pub fn calls(&self) -> Vec<Call> {
        let mut calls = self.shared.calls.lock().unwrap().clone();
        calls.sort_by_key(|c| c.seq);
        calls
    }

    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.write).collect()
    }

    /// Forget the calls seen so far (faults and rules stay; their per-call counting restarts).
    pub fn clear(&self) {
        self.shared.calls.lock().unwrap().clear();
        *self.shared.arrivals.lock().unwrap() = 0;
        let mut f = self.shared.faults.lock().unwrap();
        f.seen = 0;
        f.seen_by_op.clear();
    }

    /// Calls by operation (`service:Operation`), faulted attempts included.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for c in self.calls() {
            *out.entry(format!("{}:{}", c.service, c.operation))
                .or_default() += 1;
        }
        out
    }

    /// How long at least one request was in flight: with latency L per call and the proxy's own
    /// time small, `busy_time() / L` is the number of round trips the client waited for.
    pub fn busy_time(&self) -> Duration {
        let mut spans: Vec<(Instant, Instant)> =
            self.calls().iter().map(|c| (c.at, c.answered)).collect();
        spans.sort();
        let mut total = Duration::ZERO;
        let mut current: Option<(Instant, Instant)> = None;
        for (start, end) in spans {
            current = match current {
                Some((s, e)) if start <= e => Some((s, e.max(end))),
                Some((s, e)) => {
                    total += e - s;
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        total + current.map(|(s, e)| e - s).unwrap_or_default()
    }

    /// How many waves of calls the client made: a request's wave is 1 + the highest wave among the
    /// requests answered before it arrived (it could have waited for them, and no more). Independent
    /// of the machine's speed: a loaded machine sends the same requests in the same waves.
    pub fn waves(&self) -> usize {
        self.calls_by_wave().last().map(|(w, _)| *w).unwrap_or(0)
    }

    /// The waves, checked against the quiet time answers waited for (`hold_until_quiet`): within a
    /// wave, no two requests arrived `quiet` or more apart (else the answers would have gone out
    /// between them and the later one would belong to the next wave), from the proxy's own request
    /// times. Panics naming the wave otherwise.
    pub fn waves_sent_within(&self, quiet: Duration) -> usize {
        let mut last_in_wave: BTreeMap<usize, Instant> = BTreeMap::new();
        for (w, c) in self.with_waves() {
            if let Some(previous) = last_in_wave.get(&w) {
                assert!(
                    c.at - *previous < quiet,
                    "wave {w}: two requests {:?} apart, more than the {quiet:?} answers wait for: \
                     the wave count would measure this machine's speed",
                    c.at - *previous
                );
            }
            last_in_wave.insert(w, c.at);
        }
        last_in_wave.keys().last().copied().unwrap_or(0)
    }

    /// Every call with its wave (see `waves`), in order of arrival.
    fn with_waves(&self) -> Vec<(usize, Call)> {
        let mut calls = self.calls();
        calls.sort_by_key(|c| c.at);
        let mut waves: Vec<usize> = Vec::with_capacity(calls.len());
        for (i, c) in calls.iter().enumerate() {
            let before = (0..i)
                .filter(|&j| calls[j].answered <= c.at)
                .map(|j| waves[j])
                .max()
                .unwrap_or(0);
            waves.push(before + 1);
        }
        waves.into_iter().zip(calls).collect()
    }

    /// Every call with its wave (see `waves`), by wave.
    pub fn calls_by_wave(&self) -> Vec<(usize, String)> {
        let mut out: Vec<(usize, String)> = self
            .with_waves()
            .into_iter()
            .map(|(w, c)| (w, format!("{}:{}", c.service, c.operation)))
            .collect();
        out.sort_by_key(|(w, _)| *w);
        out
    }

    /// The calls that got an injected fault.
    pub fn faulted(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.fault.is_some())
            .collect()
    }

    /// Hold every answer until no request has arrived for `quiet`: the client has sent everything
    /// it can send without another answer, however slowly this machine let it send, so
    /// `waves` counts what waits for what. The bound is the gap between two of the client's
    /// requests (checked by `waves_sent_within`), not a wall-clock hold the whole wave must fit in.
    pub fn hold_until_quiet(&self, quiet: Duration) {
        self.shared.faults.lock().unwrap().quiet = Some(quiet);
    }

    /// Every request waits this long before it is answered (a network round trip).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults.lock().unwrap().latency = latency;
    }

    /// Each request fails with probability `rate` with one of `kinds`, replayable by `seed`.
    pub fn fail_randomly(&self, seed: u64, rate: f64, kinds: &[Fault]) {
        self.shared.faults.lock().unwrap().random = Some(Random {
            seed: mix(seed),
            threshold: (rate.clamp(0.0, 1.0) * u64::MAX as f64) as u64,
            kinds: kinds.to_vec(),
        });
    }

    /// Inject `fault` on the calls `which` selects (checked before the random faults).
    pub fn fail_on(&self, which: Which, fault: Fault) {
        self.shared
            .faults
            .lock()
            .unwrap()
            .rules
            .push((which, fault));
    }

    /// No more faults or latency: requests pass through unchanged.
    pub fn stop_faults(&self) {
        let mut f = self.shared.faults.lock().unwrap();
        f.random = None;
        f.rules.clear();
        f.latency = Duration::ZERO;
        f.quiet = None;
    }

    /// Run `action` to completion before forwarding the calls `which` selects.
    pub fn before(&self, which: Which, action: Action) {
        self.shared.actions.lock().unwrap().push((which, action));
    }

    /// Forward `operation` only after `delay` (moto still answers it): a call that is in flight
    /// long enough for a test to press Ctrl-C during it.
    pub fn delay(&self, operation: &str, delay: std::time::Duration) {
        self.shared
            .delays
            .lock()
            .unwrap()
            .push((operation.to_string(), delay));
    }

    /// What `GetAccountSummary` reports for root from now on (default: password and MFA present).
    pub fn root_summary(&self, summary: RootSummary) {
        self.root_summary_from(Box::new(move || summary));
    }

    /// Root's fields in `GetAccountSummary` as `f` says at each call (a test's changing state).
    pub fn root_summary_from(&self, f: SummaryFn) {
        *self.shared.root_summary.lock().unwrap() = Some(f);
    }

    /// The set of deleted access key IDs: a hook that deletes a key adds it, and from then on every
    /// request signed with it gets 403 `InvalidClientTokenId`, as AWS answers (moto accepts any key).
    pub fn revoked_keys(&self) -> Arc<Mutex<BTreeSet<String>>> {
        self.shared.revoked.clone()
    }

    /// Hold the calls `which` selects at the proxy (before forwarding) until the gate is released.
    pub fn hold(&self, which: Which) -> Gate {
        let gate = Gate::default();
        self.shared
            .holds
            .lock()
            .unwrap()
            .push((which, gate.clone()));
        gate
    }

    /// Forward `operation` (a JSON-protocol call) to moto, then amend its answer: for fields AWS sends
    /// and moto never does (a delivery error, say). The rest of the answer stays moto's.
    pub fn amend_json(&self, operation: &str, amendment: Amendment) {
        self.shared
            .amendments
            .lock()
            .unwrap()
            .push((operation.to_string(), amendment));
    }

    /// KMS developer guide, "Eventual consistency": for a while after `CreateKey`, calls on the new
    /// key or its alias can answer `NotFoundException`, and CloudTrail `KmsKeyNotFoundException`. moto
    /// is consistent at once, so for `lag` after every `CreateKey` the proxy answers so (all KMS calls
    /// but the listings that search for a lost key, and CloudTrail's `CreateTrail`), and always for
    /// the first such call after a `CreateKey`, however late it comes (a loaded machine must not
    /// make the emulation miss). Returns how many calls it answered.
    pub fn emulate_kms_lag(&self, lag: Duration) -> Arc<std::sync::atomic::AtomicUsize> {
        let refused: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let count = refused.clone();
        // When the last key was made, and whether a call was refused since.
        let created: Mutex<Option<(Instant, bool)>> = Mutex::new(None);
        self.hook(Box::new(move |req| {
            let mut created = created.lock().unwrap();
            if req.operation == "CreateKey" {
                *created = Some((Instant::now(), false));
                return None;
            }
            let lagging = created.is_some_and(|(t, refused)| t.elapsed() < lag || !refused);
            // The lag is the new key's: an AWS managed key (`alias/aws/...`, the EBS default
            // key's) is not affected.
            let unaffected = ["ListKeys", "ListAliases", "ListResourceTags"]
                .contains(&req.operation.as_str())
                || req.body_text().contains("\"alias/aws/");
            let code = match req.service.as_str() {
                "kms" if lagging && !unaffected => "NotFoundException",
                "cloudtrail" if lagging && req.operation == "CreateTrail" => {
                    "KmsKeyNotFoundException"
                }
                _ => return None,
            };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if let Some((_, refused)) = created.as_mut() {
                *refused = true;
            }
            Some(Response {
                status: 400,
                content_type: "application/x-amz-json-1.1".into(),
                body: format!("{{\"__type\":\"{code}\",\"message\":\"emulated KMS lag\"}}"),
            })
        }));
        refused
    }

    /// Emulate what moto's AWS Budgets lacks, with the AWS Budgets API reference's semantics:
    /// - `DescribeSubscribersForNotification` (moto keeps subscribers but returns none): answered
    ///   from the subscribers sent through this proxy (`CreateBudget`'s
    ///   `NotificationsWithSubscribers`, `CreateNotification`, `CreateSubscriber`), in the shape of
    ///   the AWS CLI example `describe-subscribers-for-notification`
    ///   (`{"Subscribers": [{"SubscriptionType", "Address"}]}`); `NotFoundException` for a
    ///   notification it never saw made;
    /// - what a delete takes with it: `DeleteBudget` "also deletes the notifications and
    ///   subscribers", `DeleteNotification` "also deletes the subscribers" (forgotten here once moto
    ///   answered 200);
    /// - `CreateSubscriber` (`NotFoundException` without the notification, `DuplicateRecordException`
    ///   for an address it has, `CreationLimitExceededException` past one SNS and ten e-mail
    ///   subscribers: the `Notification` shape's documentation), `UpdateSubscriber`,
    ///   `DeleteSubscriber` ("Deleting the last subscriber to a notification also deletes the
    ///   notification": moto's DeleteNotification then);
    /// - `UpdateBudget` (input `NewBudget`, output `{}`; "You can change every part of a budget
    ///   except for the budgetName and the calculatedSpend"): moto's budget replaced by deleting
    ///   and creating it with the same notifications and the subscribers recorded here, so nothing
    ///   of its alerts is lost, as on AWS; `NotFoundException` for a budget moto does not have;
    /// - `UpdateNotification` (`OldNotification`, `NewNotification`): moto's notification deleted
    ///   and made again with its subscribers.
    ///
    /// Every error is HTTP 400 with `__type` and `Message` (botocore `budgets/2016-10-20`). `book`
    /// is shared by every proxy of one account (it stands for AWS's state). Calls moto serves
    /// (CreateBudget, DescribeBudget, ...) go on to it.
    pub fn emulate_budget_subscribers(&self, book: &BudgetBook) {
        let sync_book = book.clone();
        self.hook(Box::new(move |req| {
            if req.service != "budgets" {
                return None;
            }
            let body: serde_json::Value = serde_json::from_slice(&req.body).ok()?;
            let account = body["AccountId"].as_str().unwrap_or_default().to_string();
            let name = body["BudgetName"].as_str().unwrap_or_default().to_string();
            let mut book = sync_book.lock().unwrap();
            match req.operation.as_str() {
                "CreateBudget" => {
                    let name = budget_name(&body["Budget"]["BudgetName"]);
                    for n in body["NotificationsWithSubscribers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        let subs = n["Subscribers"].as_array().cloned().unwrap_or_default();
                        let key = notification_key(&n["Notification"]);
                        book.insert((account.clone(), name.clone(), key), subs);
                    }
                    None
                }
                "CreateNotification" => {
                    let subs = body["Subscribers"].as_array().cloned().unwrap_or_default();
                    let key = notification_key(&body["Notification"]);
                    book.insert((account, name, key), subs);
                    None
                }
                "DescribeSubscribersForNotification" => {
                    let key = notification_key(&body["Notification"]);
                    Some(match book.get(&(account, name, key)) {
                        Some(subs) => budgets_ok(serde_json::json!({ "Subscribers": subs })),
                        None => budgets_error(
                            "NotFoundException",
                            "Unable to get subscribers: the notification does not exist",
                        ),
                    })
                }
                "CreateSubscriber" => {
                    let key = (account, name, notification_key(&body["Notification"]));
                    let Some(subs) = book.get_mut(&key) else {
                        return Some(budgets_error(
                            "NotFoundException",
                            "Unable to create subscriber: the notification does not exist",
                        ));
                    };
                    let new = &body["Subscriber"];
                    if subs.iter().any(|s| same_subscriber(s, new)) {
                        return Some(budgets_error(
                            "DuplicateRecordException",
                            "Unable to create subscriber: it already exists",
                        ));
                    }
                    let of_kind = |kind: &str| {
                        subs.iter()
                            .filter(|s| s["SubscriptionType"] == kind)
                            .count()
                    };
                    let full = match new["SubscriptionType"].as_str() {
                        Some("SNS") => of_kind("SNS") >= 1,
                        _ => of_kind("EMAIL") >= 10,
                    };
                    if full {
                        return Some(budgets_error(
                            "CreationLimitExceededException",
                            "You've exceeded the notification or subscriber limit.",
                        ));
                    }
                    subs.push(new.clone());
                    Some(budgets_ok(serde_json::json!({})))
                }
                "UpdateSubscriber" => {
                    let key = (account, name, notification_key(&body["Notification"]));
                    let old = &body["OldSubscriber"];
                    let Some(slot) = book
                        .get_mut(&key)
                        .and_then(|subs| subs.iter_mut().find(|s| same_subscriber(s, old)))
                    else {
                        return Some(budgets_error(
                            "NotFoundException",
                            "Unable to update subscriber: it does not exist",
                        ));
                    };
                    *slot = body["NewSubscriber"].clone();
                    Some(budgets_ok(serde_json::json!({})))
                }
                _ => None,
            }
        }));
        // The calls that need moto's answer or another call to moto first.
        let book = book.clone();
        self.hook_async(Box::new(move |req, upstream| {
            let emulated = req.service == "budgets"
                && matches!(
                    req.operation.as_str(),
                    "UpdateBudget"
                        | "DeleteSubscriber"
                        | "UpdateNotification"
                        | "DeleteNotification"
                        | "DeleteBudget"
                );
            if !emulated {
                return None;
            }
            let (book, req, upstream) = (book.clone(), req.clone(), upstream.to_string());
            Some(Box::pin(async move {
                budgets_emulated(&book, &req, &upstream).await
            }))
        }));
    }

    /// Emulate an SCP that denies every action in `region` (AWS Organizations user guide, "Deny
    /// access to AWS based on the requested AWS Region", condition `aws:RequestedRegion`): moto
    /// evaluates no SCP. EC2 answers such a request `UnauthorizedOperation` (HTTP 403) with the
    /// message format of the IAM user guide's "Access denied error messages" ("... with an explicit
    /// deny in a service control policy"). Requests signed for other regions pass.
    pub fn deny_region(&self, region: &str) {
        let region = region.to_string();
        // Before every other hook: the policy is evaluated before any service (or stub) answers.
        self.shared.hooks.lock().unwrap().insert(
            0,
            Box::new(move |req| {
                (req.region == region && req.service == "ec2").then(|| {
                    ec2_error(
                        403,
                        "UnauthorizedOperation",
                        // The form of AWS re:Post's "explicit deny in a service control
                        // policy" article, which EC2 follows with its encoded message.
                        &format!(
                            "You are not authorized to perform this operation. User: \
                         arn:aws:sts::123456789012:assumed-role/test/test is not authorized to \
                         perform: ec2:{} on resource: * with an explicit deny in a service control \
                         policy. Encoded authorization failure message: XQ_jqdeEXAMPLE",
                            req.operation
                        ),
                    )
                })
            }),
        );
    }

    /// Answer matching requests with what `hook`'s work makes (it may ask moto first): only for
    /// what moto cannot serve.
    pub fn hook_async(&self, hook: AsyncHook) {
        self.shared.async_hooks.lock().unwrap().push(hook);
    }

    /// Answer matching requests here instead of forwarding them (only for what moto cannot serve).
    pub fn hook(&self, hook: Hook) {
        self.shared.hooks.lock().unwrap().push(hook);
    }
}

/// A Budgets notification by meaning: type, operator, threshold and threshold type (a guess:
/// PERCENTAGE when left out; the API reference gives no default, and aws-harden always sends it).
fn notification_key(n: &serde_json::Value) -> String {
    format!(
        "{}/{}/{}/{}",
        n["NotificationType"].as_str().unwrap_or_default(),
        n["ComparisonOperator"].as_str().unwrap_or_default(),
        n["Threshold"].as_f64().unwrap_or_default(),
        n["ThresholdType"].as_str().unwrap_or("PERCENTAGE")
    )
}

fn budget_name(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn same_subscriber(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    a["SubscriptionType"] == b["SubscriptionType"] && a["Address"] == b["Address"]
}

fn budgets_ok(body: serde_json::Value) -> Response {
    Response {
        status: 200,
        content_type: "application/x-amz-json-1.1".into(),
        body: body.to_string(),
    }
}

/// A Budgets error: HTTP 400, `__type` and `Message` (botocore `budgets/2016-10-20`: every error
/// shape is a client error with a `Message` member).
fn budgets_error(code: &str, message: &str) -> Response {
    Response {
        status: 400,
        content_type: "application/x-amz-json-1.1".into(),
        body: serde_json::json!({ "__type": code, "Message": message }).to_string(),
    }
}

/// moto's Budgets (`AWSBudgetServiceGateway.{operation}`), signed as the request was.
async fn moto_budgets(
    upstream: &str,
    req: &Request,
    operation: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    moto_json(
        upstream,
        req,
        "budgets",
        &format!("AWSBudgetServiceGateway.{operation}"),
        &body,
    )
    .await
    .unwrap_or_else(|e| {
        (
            0,
            serde_json::json!({ "__type": "ProxyError", "Message": e.to_string() }),
        )
    })
}

fn moto_answer(status: u16, body: serde_json::Value) -> Response {
    Response {
        status: if status == 0 { 500 } else { status },
        content_type: "application/x-amz-json-1.1".into(),
        body: body.to_string(),
    }
}

/// The Budgets calls emulated with moto's help (see `Proxy::emulate_budget_subscribers`).
async fn budgets_emulated(book: &BudgetBook, req: &Request, upstream: &str) -> Response {
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let account = body["AccountId"].as_str().unwrap_or_default().to_string();
    let name = budget_name(&body["BudgetName"]);
    match req.operation.as_str() {
        // Forwarded; what the delete takes with it is forgotten only once moto agreed.
        "DeleteBudget" => {
            let (status, answer) = moto_budgets(upstream, req, "DeleteBudget", body.clone()).await;
            if status == 200 {
                book.lock()
                    .unwrap()
                    .retain(|(a, b, _), _| !(*a == account && *b == name));
            }
            moto_answer(status, answer)
        }
        "DeleteNotification" => {
            let (status, answer) =
                moto_budgets(upstream, req, "DeleteNotification", body.clone()).await;
            if status == 200 {
                let key = notification_key(&body["Notification"]);
                book.lock().unwrap().remove(&(account, name, key));
            }
            moto_answer(status, answer)
        }
        "DeleteSubscriber" => {
            let key = (
                account.clone(),
                name.clone(),
                notification_key(&body["Notification"]),
            );
            let last = {
                let mut book = book.lock().unwrap();
                let Some(subs) = book.get_mut(&key) else {
                    return budgets_error(
                        "NotFoundException",
                        "Unable to delete subscriber: the notification does not exist",
                    );
                };
                let before = subs.len();
                subs.retain(|s| !same_subscriber(s, &body["Subscriber"]));
                if subs.len() == before {
                    return budgets_error(
                        "NotFoundException",
                        "Unable to delete subscriber: it does not exist",
                    );
                }
                subs.is_empty()
            };
            if last {
                // "Deleting the last subscriber to a notification also deletes the notification."
                let (status, answer) = moto_budgets(
                    upstream,
                    req,
                    "DeleteNotification",
                    serde_json::json!({
                        "AccountId": account, "BudgetName": name, "Notification": body["Notification"]
                    }),
                )
                .await;
                if status != 200 {
                    return moto_answer(status, answer);
                }
                book.lock().unwrap().remove(&key);
            }
            budgets_ok(serde_json::json!({}))
        }
        "UpdateNotification" => {
            let old_key = (
                account.clone(),
                name.clone(),
                notification_key(&body["OldNotification"]),
            );
            let Some(subs) = book.lock().unwrap().get(&old_key).cloned() else {
                return budgets_error(
                    "NotFoundException",
                    "Unable to update notification: it does not exist",
                );
            };
            let deleted = serde_json::json!({
                "AccountId": account, "BudgetName": name, "Notification": body["OldNotification"]
            });
            let (status, answer) = moto_budgets(upstream, req, "DeleteNotification", deleted).await;
            if status != 200 {
                return moto_answer(status, answer);
            }
            let made = serde_json::json!({
                "AccountId": account, "BudgetName": name,
                "Notification": body["NewNotification"], "Subscribers": subs
            });
            let (status, answer) = moto_budgets(upstream, req, "CreateNotification", made).await;
            if status != 200 {
                return moto_answer(status, answer);
            }
            let mut book = book.lock().unwrap();
            book.remove(&old_key);
            book.insert(
                (account, name, notification_key(&body["NewNotification"])),
                subs,
            );
            budgets_ok(serde_json::json!({}))
        }
        // UpdateBudget: the budget replaced whole, its notifications and subscribers kept.
        _ => {
            let mut new = body["NewBudget"].clone();
            let name = budget_name(&new["BudgetName"]);
            let (status, notes) = moto_budgets(
                upstream,
                req,
                "DescribeNotificationsForBudget",
                serde_json::json!({ "AccountId": account, "BudgetName": name }),
            )
            .await;
            if status != 200 {
                return moto_answer(status, notes);
            }
            let with_subscribers: Vec<serde_json::Value> = {
                let book = book.lock().unwrap();
                notes["Notifications"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        let key = (account.clone(), name.clone(), notification_key(n));
                        let subs = book.get(&key).cloned().unwrap_or_default();
                        serde_json::json!({ "Notification": n, "Subscribers": subs })
                    })
                    .collect()
            };
            // calculatedSpend is AWS's, never the caller's.
            if let Some(o) = new.as_object_mut() {
                o.remove("CalculatedSpend");
            }
            let gone = serde_json::json!({ "AccountId": account, "BudgetName": name });
            let (status, answer) = moto_budgets(upstream, req, "DeleteBudget", gone).await;
            if status != 200 {
                return moto_answer(status, answer);
            }
            let made = serde_json::json!({
                "AccountId": account, "Budget": new, "NotificationsWithSubscribers": with_subscribers
            });
            let (status, answer) = moto_budgets(upstream, req, "CreateBudget", made).await;
            if status != 200 {
                return moto_answer(status, answer);
            }
            budgets_ok(serde_json::json!({}))
        }
    }
}

async fn read_request(conn: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Request)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = buf[head_end..].to_vec();
    if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while body.len() < len {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while !body.windows(5).any(|w| w == b"0\r\n\r\n") {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let mut service = get("authorization")
        .and_then(|a| {
            a.split("Credential=")
                .nth(1)
                .map(|c| c.split('/').nth(3).unwrap_or("").to_string())
        })
        .unwrap_or_default();
    let access_key = get("authorization")
        .and_then(|a| {
            a.split("Credential=")
                .nth(1)
                .map(|c| c.split('/').next().unwrap_or("").to_string())
        })
        .unwrap_or_default();
    let region = get("authorization")
        .and_then(|a| {
            a.split("Credential=")
                .nth(1)
                .map(|c| c.split('/').nth(2).unwrap_or("").to_string())
        })
        .unwrap_or_default();
    let s3control = s3control_operation(&service, &method, &path);
    let operation = if let Some(op) = s3control {
        service = "s3control".into();
        op
    } else if let Some(op) = rest_json_operation(&service, &method, &path) {
        op
    } else if let Some(target) = get("x-amz-target") {
        target.rsplit('.').next().unwrap_or_default().to_string()
    } else if let Some(action) = form_action(&body) {
        action
    } else {
        let sub = path
            .split_once('?')
            .map(|(_, q)| q.split(['=', '&']).next().unwrap_or("").to_string());
        match sub {
            Some(s) if !s.is_empty() => format!("{method} ?{s}"),
            _ => method.clone(),
        }
    };
    let raw = buf[..head_end].to_vec();
    let mut whole = raw;
    whole.extend_from_slice(&body);
    Ok(Some((
        whole,
        Request {
            method,
            path,
            headers,
            body,
            service,
            operation,
            access_key,
            region,
            account: None,
        },
    )))
}

/// S3 Control signs as `s3` (its model's signing name) but is another API: REST paths under
/// `/v20180820/` (S3 API reference, "Amazon S3 Control"). Its requests are recorded as service
/// `s3control`, named by the operation (`GetPublicAccessBlock`...) so that the read allow-list
/// applies to them as to any other service; a path not listed here is `METHOD /path`.
fn s3control_operation(service: &str, method: &str, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or_default();
    if service != "s3" || !path.starts_with("/v20180820/") {
        return None;
    }
    let name = match (method, path) {
        ("GET", "/v20180820/configuration/publicAccessBlock") => "GetPublicAccessBlock",
        ("PUT", "/v20180820/configuration/publicAccessBlock") => "PutPublicAccessBlock",
        ("DELETE", "/v20180820/configuration/publicAccessBlock") => "DeletePublicAccessBlock",
        _ => return Some(format!("{method} {path}")),
    };
    Some(name.to_string())
}

/// The REST-JSON APIs aws-harden calls send no operation name: it is the method and path of each
/// API reference's "Request Syntax" (GuardDuty `/detector...`, IAM Access Analyzer `/analyzer...`,
/// Account Management `/putAlternateContact`...). Recorded by operation name so the read
/// allow-list applies to them as to any other service; a path not listed here is `METHOD /path`.
fn rest_json_operation(service: &str, method: &str, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let name = match (service, method, parts.as_slice()) {
        ("guardduty", "GET", ["detector"]) => "ListDetectors",
        ("guardduty", "POST", ["detector"]) => "CreateDetector",
        ("guardduty", "GET", ["detector", _]) => "GetDetector",
        ("guardduty", "POST", ["detector", _]) => "UpdateDetector",
        ("guardduty", "DELETE", ["detector", _]) => "DeleteDetector",
        ("access-analyzer", "GET", ["analyzer"]) => "ListAnalyzers",
        ("access-analyzer", "PUT", ["analyzer"]) => "CreateAnalyzer",
        ("access-analyzer", "GET", ["analyzer", _]) => "GetAnalyzer",
        ("access-analyzer", "DELETE", ["analyzer", _]) => "DeleteAnalyzer",
        ("account", "POST", [op]) => {
            let mut chars = op.chars();
            let first = chars.next()?.to_ascii_uppercase();
            return Some(format!("{first}{}", chars.as_str()));
        }
        (svc, _, _) if REST_JSON_SERVICES.contains(&svc) => {
            return Some(format!("{method} {path}"));
        }
        _ => return None,
    };
    Some(name.to_string())
}

fn form_action(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|kv| kv.strip_prefix("Action=").map(|v| v.to_string()))
}

/// What the service answered: a response made here, or moto's raw bytes.
enum Answer {
    Made(Response),
    Raw(u16, Vec<u8>),
}

/// The service's answer to a request that reached it: a hook's, the emulation's, moto's amended,
/// moto's own; or 403 for a request signed with a deleted key.
async fn service_answer(
    upstream: &str,
    raw: &[u8],
    req: &Request,
    shared: &Shared,
) -> std::io::Result<Answer> {
    if !req.access_key.is_empty() && shared.revoked.lock().unwrap().contains(&req.access_key) {
        return Ok(Answer::Made(revoked_key_response(req)));
    }
    if let Some(r) = shared.hooks.lock().unwrap().iter().find_map(|h| h(req)) {
        return Ok(Answer::Made(r));
    }
    let work = shared
        .async_hooks
        .lock()
        .unwrap()
        .iter()
        .find_map(|h| h(req, upstream));
    if let Some(work) = work {
        return Ok(Answer::Made(work.await));
    }
    if emulated(req) {
        return Ok(Answer::Made(emulate(upstream, req, shared).await?));
    }
    if amended(req, shared) {
        return Ok(Answer::Made(amend(upstream, raw, req, shared).await?));
    }
    let (status, bytes) = forward(upstream, raw).await?;
    if req.operation == "AssumeRole" && status == 200 {
        remember_key_account(&bytes, &shared.key_accounts);
    }
    Ok(Answer::Raw(status, bytes))
}

/// From an AssumeRole answer: the session's access key ID and the account in its assumed-role ARN
/// (`arn:aws:sts::ACCOUNT:assumed-role/...`).
fn remember_key_account(answer: &[u8], keys: &KeyAccounts) {
    let text = String::from_utf8_lossy(answer);
    let between = |open: &str, close: &str| {
        let start = text.find(open)? + open.len();
        let end = text[start..].find(close)? + start;
        Some(text[start..end].to_string())
    };
    let (Some(key), Some(arn)) = (
        between("<AccessKeyId>", "</AccessKeyId>"),
        between("<Arn>", "</Arn>"),
    ) else {
        return;
    };
    if let Some(account) = arn.split(':').nth(4).filter(|a| !a.is_empty()) {
        keys.lock().unwrap().insert(key, account.to_string());
    }
}

/// AWS's answer to a request signed with an access key that does not exist (any more): STS/IAM
/// `InvalidClientTokenId` (HTTP 403, "The security token included in the request is invalid."),
/// S3 `InvalidAccessKeyId` (HTTP 403). See "Common Errors" in the IAM and STS API references and
/// "Error responses" in the S3 API reference.
fn revoked_key_response(req: &Request) -> Response {
    if req.service == "s3" {
        return Response {
            status: 403,
            content_type: "application/xml".into(),
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message><RequestId>proxy</RequestId></Error>".into(),
        };
    }
    let message = "The security token included in the request is invalid.";
    if req.header("x-amz-target").is_some() {
        return Response {
            status: 403,
            content_type: "application/x-amz-json-1.1".into(),
            body: format!(
                "{{\"__type\":\"UnrecognizedClientException\",\"message\":\"{message}\"}}"
            ),
        };
    }
    query_error(403, "InvalidClientTokenId", message)
}

async fn serve(mut conn: TcpStream, upstream: &str, shared: &Shared) -> std::io::Result<()> {
    let Some((raw, mut req)) = read_request(&mut conn).await? else {
        return Ok(());
    };
    req.account = shared
        .key_accounts
        .lock()
        .unwrap()
        .get(&req.access_key)
        .cloned();
    let arrived = Instant::now();
    let seq = {
        let mut n = shared.arrivals.lock().unwrap();
        *n += 1;
        *n
    };
    // Recorded now, on arrival: whatever happens next (moto unreachable, the client gone, the test
    // reading the record early), the request was sent and is counted.
    let id = shared
        .next_id
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    shared.calls.lock().unwrap().push(Call {
        id,
        // Not answered yet: far in the future, so no later request counts as having waited for it.
        answered: arrived + Duration::from_secs(24 * 3600),
        write: !is_read(&req.service, &req.operation),
        service: req.service.clone(),
        operation: req.operation.clone(),
        status: 0,
        fault: None,
        access_key: req.access_key.clone(),
        account: req.account.clone(),
        region: req.region.clone(),
        seq,
        at: arrived,
        params: req.params(),
        in_flight: true,
        upstream_error: None,
    });
    let delay = shared
        .delays
        .lock()
        .unwrap()
        .iter()
        .find(|(op, _)| *op == req.operation)
        .map(|(_, d)| *d);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let (latency, nth, nth_of_op, fault) = {
        let mut f = shared.faults.lock().unwrap();
        f.last_arrival = Some(arrived);
        let (nth, nth_of_op, fault) = f.decide(&req.operation);
        (f.latency, nth, nth_of_op, fault)
    };
    tokio::time::sleep(latency).await;
    // Held until the client has gone quiet: it sent all it could without another answer.
    loop {
        let wait = {
            let f = shared.faults.lock().unwrap();
            match (f.quiet, f.last_arrival) {
                (Some(quiet), Some(last)) => quiet.saturating_sub(last.elapsed()),
                _ => Duration::ZERO,
            }
        };
        if wait.is_zero() {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    let gates: Vec<Gate> = shared
        .holds
        .lock()
        .unwrap()
        .iter()
        .filter(|(w, _)| w.matches(&req.operation, nth_of_op, nth))
        .map(|(_, g)| g.clone())
        .collect();
    for gate in gates {
        gate.pass().await;
    }
    let actions: Vec<_> = shared
        .actions
        .lock()
        .unwrap()
        .iter()
        .filter(|(w, _)| w.matches(&req.operation, nth_of_op, nth))
        .map(|(_, a)| a())
        .collect();
    for action in actions {
        action.await;
    }
    // The answer completes the arrival's record (gone if the test cleared the record meanwhile).
    let finish = |status: u16, upstream_error: Option<String>| {
        let answered = Instant::now();
        if let Some(c) = shared.calls.lock().unwrap().iter_mut().find(|c| c.id == id) {
            c.answered = answered;
            c.status = status;
            c.fault = fault;
            c.in_flight = false;
            c.upstream_error = upstream_error;
        }
    };
    let record = |status: u16| finish(status, None);
    // The trip to moto failed: recorded with its error, and the client's connection is dropped.
    let upstream_failed = |e: std::io::Error| {
        finish(0, Some(e.to_string()));
        e
    };
    // The fault first: only a lost response is defined as after the request reached the service,
    // so only then do hooks (stubs' state), emulations and moto see it.
    let answer = match fault {
        Some(Fault::Drop) => None,
        Some(Fault::Hang) => {
            // Never answer; wait for the client to give up (its attempt timeout).
            let mut sink = [0u8; 1024];
            while conn.read(&mut sink).await.unwrap_or(0) > 0 {}
            record(0);
            return Ok(());
        }
        Some(Fault::LostResponse) => {
            service_answer(upstream, &raw, &req, shared)
                .await
                .map_err(upstream_failed)?;
            None
        }
        Some(f) => Some(Answer::Made(fault_response(f, &req))),
        None => Some(
            service_answer(upstream, &raw, &req, shared)
                .await
                .map_err(upstream_failed)?,
        ),
    };
    match answer {
        None => {
            record(0);
            // Close without a word: the client sees the connection end before any response.
            conn.shutdown().await
        }
        Some(Answer::Raw(status, bytes)) => {
            record(status);
            conn.write_all(&bytes).await?;
            conn.shutdown().await
        }
        Some(Answer::Made(r)) => {
            record(r.status);
            let resp = format!(
                "HTTP/1.1 {} X\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                r.status,
                r.content_type,
                r.body.len(),
                r.body
            );
            conn.write_all(resp.as_bytes()).await?;
            conn.shutdown().await
        }
    }
}

/// Requests in flight to moto at once, from every proxy of the process. moto's server (werkzeug)
/// listens with a backlog of 128: an `--org` run sends hundreds of requests at once, and past
/// the backlog the kernel drops connection attempts, which the client retries after 1, 3, 7 s...
/// until its 20 s attempt timeout. Queuing here instead keeps the emulator's limit out of what
/// is measured; the added latency (`set_latency`) is not held in this queue.
static MOTO_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(32);

/// How long moto may take to answer one request. Its slowest (building an account's IAM with every
/// managed policy) take seconds; past this moto is stuck, and the request is recorded as an
/// upstream error naming it, so a test fails saying so instead of waiting for ever.
const MOTO_ANSWER_LIMIT: Duration = Duration::from_secs(60);

async fn forward(upstream: &str, raw: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let _slot = MOTO_SLOTS.acquire().await.expect("never closed");
    let trip = async {
        let mut up = TcpStream::connect(upstream).await?;
        up.write_all(&with_connection_close(raw)).await?;
        let mut resp = Vec::new();
        up.read_to_end(&mut resp).await?;
        std::io::Result::Ok(resp)
    };
    let resp = tokio::time::timeout(MOTO_ANSWER_LIMIT, trip)
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("moto at {upstream} did not answer within {MOTO_ANSWER_LIMIT:?}"),
            )
        })??;
    let status = std::str::from_utf8(&resp[..resp.len().min(12)])
        .ok()
        .and_then(|s| s.get(9..12))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, resp))
}

/// The error AWS would send, in the request's protocol: S3's REST-XML, JSON (`X-Amz-Target`), or
/// the query protocol's XML (IAM, STS).
fn fault_response(fault: Fault, req: &Request) -> Response {
    let (status, code, message) = match fault {
        Fault::ServerError if req.service == "s3" => (
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        // EC2 API reference, "Error codes for the Amazon EC2 API": a server fault is InternalError
        // (HTTP 500), throttling RequestLimitExceeded (HTTP 503).
        Fault::ServerError if req.service == "ec2" => {
            (500, "InternalError", "An internal error has occurred.")
        }
        // The REST-JSON APIs name their own (API references, "Errors"): Access Analyzer and
        // Account Management `InternalServerException`, GuardDuty `InternalServerErrorException`.
        Fault::ServerError if req.service == "guardduty" => (
            500,
            "InternalServerErrorException",
            "injected by the test proxy",
        ),
        Fault::ServerError if rest_json(req) => {
            (500, "InternalServerException", "injected by the test proxy")
        }
        Fault::ServerError => (500, "InternalFailure", "injected by the test proxy"),
        Fault::Throttle if req.service == "s3" => {
            (503, "SlowDown", "Please reduce your request rate.")
        }
        Fault::Throttle if req.service == "ec2" => {
            (503, "RequestLimitExceeded", "Request limit exceeded.")
        }
        // Account Management: TooManyRequestsException (429); Access Analyzer and GuardDuty:
        // ThrottlingException (429).
        Fault::Throttle if req.service == "account" => {
            (429, "TooManyRequestsException", "Rate exceeded")
        }
        Fault::Throttle if rest_json(req) => (429, "ThrottlingException", "Rate exceeded"),
        Fault::Throttle => (400, "Throttling", "Rate exceeded"),
        Fault::Error { status, code } => (status, code, "injected by the test proxy"),
        Fault::Drop | Fault::LostResponse | Fault::Hang => {
            unreachable!("no response for a dropped connection")
        }
    };
    if req.service == "s3" {
        Response {
            status,
            content_type: "application/xml".into(),
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>proxy</RequestId></Error>"
            ),
        }
    } else if req.service == "ec2" {
        ec2_error(status, code, message)
    } else if req.header("x-amz-target").is_some() || rest_json(req) {
        Response {
            status,
            content_type: "application/x-amz-json-1.1".into(),
            body: format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        }
    } else {
        let kind = if status >= 500 { "Receiver" } else { "Sender" };
        Response {
            status,
            content_type: "text/xml".into(),
            body: format!(
                "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
            ),
        }
    }
}

/// The REST-JSON APIs aws-harden calls, by signing name (errors are JSON with `__type`).
const REST_JSON_SERVICES: [&str; 3] = ["guardduty", "access-analyzer", "account"];

fn rest_json(req: &Request) -> bool {
    REST_JSON_SERVICES.contains(&req.service.as_str())
}

/// Ask moto to close the connection after answering, so a response ends at EOF.
fn with_connection_close(raw: &[u8]) -> Vec<u8> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut out = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&raw[head_end..]);
    bytes
}

/// Requests the proxy answers the way AWS would, because moto answers them differently:
/// - `iam:SimulatePrincipalPolicy`: moto has none. Answered by evaluating the user's live policies in
///   moto (its groups' and its own, managed and inline) with `iam_eval`, in the response shape of the
///   IAM API reference (SimulatePrincipalPolicy; EvaluationResult: per-resource decisions only in
///   `ResourceSpecificResults`, the top-level `EvalResourceName` an ARN template).
/// - `iam:GetAccountSummary`: moto always says `AccountMFAEnabled` and `AccountAccessKeysPresent` 0
///   and never sends `AccountPasswordPresent` (GetAccountSummary, IAM API reference, lists all three).
///   moto's answer is kept and only root's three fields are set as `Proxy::root_summary` says.
/// - `iam:ListMFADevices` without `UserName`: AWS answers for the IAM user whose access key signed the
///   request ("If you do not specify a user name, IAM determines the user name implicitly based on the
///   access key ID signing the request", IAM API reference, ListMFADevices), and a ValidationError for
///   credentials that are not a user's; moto requires the name.
fn emulated(req: &Request) -> bool {
    req.service == "iam"
        && (matches!(
            req.operation.as_str(),
            "SimulatePrincipalPolicy" | "GetAccountSummary"
        ) || (req.operation == "ListMFADevices" && req.param("UserName").is_none()))
}

async fn emulate(upstream: &str, req: &Request, shared: &Shared) -> std::io::Result<Response> {
    if req.operation == "GetAccountSummary" {
        let (status, body) = moto_iam(upstream, req, &[("Action", "GetAccountSummary")]).await?;
        let root = shared
            .root_summary
            .lock()
            .unwrap()
            .as_ref()
            .map(|f| f())
            .unwrap_or_default();
        return Ok(Response {
            status,
            content_type: "text/xml".into(),
            body: if status == 200 {
                patch_summary(&body, root)
            } else {
                body
            },
        });
    }
    if req.operation == "ListMFADevices" {
        return own_mfa_devices(upstream, req).await;
    }
    simulate_principal_policy(upstream, req).await
}

async fn own_mfa_devices(upstream: &str, req: &Request) -> std::io::Result<Response> {
    // moto knows which user a key it issued belongs to: GetUser without a name answers for it.
    let (status, body) = moto_iam(upstream, req, &[("Action", "GetUser")]).await?;
    let user = xml_all(&body, "UserName").into_iter().next();
    let Some(user) = user.filter(|_| status == 200 && !body.contains(":assumed-role/")) else {
        return Ok(query_error(
            400,
            "ValidationError",
            "Must specify userName when calling with non-User credentials",
        ));
    };
    let (status, body) = moto_iam(
        upstream,
        req,
        &[("Action", "ListMFADevices"), ("UserName", &user)],
    )
    .await?;
    Ok(Response {
        status,
        content_type: "text/xml".into(),
        body,
    })
}

fn amended(req: &Request, shared: &Shared) -> bool {
    shared
        .amendments
        .lock()
        .unwrap()
        .iter()
        .any(|(op, _)| *op == req.operation)
}

async fn amend(
    upstream: &str,
    raw: &[u8],
    req: &Request,
    shared: &Shared,
) -> std::io::Result<Response> {
    let (status, bytes) = forward(upstream, raw).await?;
    let text = String::from_utf8_lossy(&bytes);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let mut doc: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("moto's {} answer is not JSON ({e}): {body}", req.operation));
    if status == 200 {
        for (op, amendment) in shared.amendments.lock().unwrap().iter() {
            if *op == req.operation {
                amendment(&mut doc);
            }
        }
    }
    Ok(Response {
        status,
        content_type: "application/x-amz-json-1.1".into(),
        body: doc.to_string(),
    })
}

fn patch_summary(body: &str, root: RootSummary) -> String {
    let mut out = body.to_string();
    for key in [
        "AccountMFAEnabled",
        "AccountPasswordPresent",
        "AccountAccessKeysPresent",
    ] {
        let open = format!("<entry><key>{key}</key>");
        while let Some(start) = out.find(&open) {
            let end =
                out[start..].find("</entry>").expect("entry closes") + start + "</entry>".len();
            out.replace_range(start..end, "");
        }
    }
    let entry = |k: &str, v: Option<bool>| {
        v.map(|v| format!("<entry><key>{k}</key><value>{}</value></entry>", v as u8))
            .unwrap_or_default()
    };
    let added = entry("AccountMFAEnabled", root.mfa_enabled)
        + &entry("AccountPasswordPresent", root.password_present)
        + &entry("AccountAccessKeysPresent", Some(root.access_keys_present));
    let at = out
        .find("</SummaryMap>")
        .expect("moto's summary has a SummaryMap");
    out.insert_str(at, &added);
    out
}

/// A query-protocol IAM call straight to moto, as the same account (moto routes by the access key in
/// the Authorization header; it checks no signature). Not recorded: the binary did not make it.
pub async fn moto_iam(
    upstream: &str,
    req: &Request,
    params: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let mut body = String::from("Version=2010-05-08");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", encode(v)));
    }
    let mut head = format!(
        "POST / HTTP/1.1\r\nhost: {upstream}\r\ncontent-type: application/x-www-form-urlencoded; charset=utf-8\r\ncontent-length: {}\r\n",
        body.len()
    );
    for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(v) = req.header(name) {
            head.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    let (status, bytes) = forward(upstream, format!("{head}{body}").as_bytes()).await?;
    let text = String::from_utf8_lossy(&bytes);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A JSON-protocol call to moto (`X-Amz-Target: {target}`) signed with the request's own
/// credentials, its credential scope's service changed to `service` (moto routes by it and checks no
/// signature): for a stub that must ask another service of the same account and region.
pub async fn moto_json(
    upstream: &str,
    req: &Request,
    service: &str,
    target: &str,
    body: &serde_json::Value,
) -> std::io::Result<(u16, serde_json::Value)> {
    let body = body.to_string();
    let mut head = format!(
        "POST / HTTP/1.1\r\nhost: {upstream}\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: {target}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(v) = req.header(name) {
            let v = match name {
                "authorization" => v.replace(
                    &format!("/{}/aws4_request", req.service),
                    &format!("/{service}/aws4_request"),
                ),
                _ => v.to_string(),
            };
            head.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    let (status, bytes) = forward(upstream, format!("{head}{body}").as_bytes()).await?;
    let text = String::from_utf8_lossy(&bytes);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    Ok((status, serde_json::from_str(body).unwrap_or_default()))
}

fn encode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn decode(v: &str) -> String {
    percent_encoding::percent_decode_str(&v.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The text of every `<tag>...</tag>` (not nested in itself), XML entities decoded.
fn xml_all(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(
            after[..end]
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        );
        rest = &after[end + close.len()..];
    }
    out
}

fn numbered(req: &Request, prefix: &str) -> Vec<String> {
    (1..)
        .map_while(|n| req.param(&format!("{prefix}.member.{n}")))
        .map(|v| decode(&v))
        .collect()
}

/// Every identity policy of a user in moto: its own and its groups', inline and managed.
async fn user_policies(
    upstream: &str,
    req: &Request,
    user: &str,
) -> std::io::Result<Result<Vec<serde_json::Value>, (u16, String)>> {
    let (status, body) =
        moto_iam(upstream, req, &[("Action", "GetUser"), ("UserName", user)]).await?;
    if status != 200 {
        return Ok(Err((status, body)));
    }
    let mut docs = Vec::new();
    let parse = |raw: &str| {
        aws_harden::policy::parse_document(raw).expect("moto returned a policy document")
    };
    let mut owners: Vec<(&str, String)> = vec![("User", user.to_string())];
    let (_, groups) = moto_iam(
        upstream,
        req,
        &[("Action", "ListGroupsForUser"), ("UserName", user)],
    )
    .await?;
    owners.extend(
        xml_all(&groups, "GroupName")
            .into_iter()
            .map(|g| ("Group", g)),
    );
    for (kind, name) in owners {
        let name_key = format!("{kind}Name");
        let (_, inline) = moto_iam(
            upstream,
            req,
            &[
                ("Action", &format!("List{kind}Policies")),
                (&name_key, &name),
            ],
        )
        .await?;
        for policy in xml_all(&inline, "member") {
            let (_, doc) = moto_iam(
                upstream,
                req,
                &[
                    ("Action", &format!("Get{kind}Policy")),
                    (&name_key, &name),
                    ("PolicyName", &policy),
                ],
            )
            .await?;
            docs.push(parse(&xml_all(&doc, "PolicyDocument")[0]));
        }
        let (_, attached) = moto_iam(
            upstream,
            req,
            &[
                ("Action", &format!("ListAttached{kind}Policies")),
                (&name_key, &name),
            ],
        )
        .await?;
        for arn in xml_all(&attached, "PolicyArn") {
            let (_, policy) = moto_iam(
                upstream,
                req,
                &[("Action", "GetPolicy"), ("PolicyArn", &arn)],
            )
            .await?;
            let version = xml_all(&policy, "DefaultVersionId")
                .into_iter()
                .next()
                .expect("a default version");
            let (_, doc) = moto_iam(
                upstream,
                req,
                &[
                    ("Action", "GetPolicyVersion"),
                    ("PolicyArn", &arn),
                    ("VersionId", &version),
                ],
            )
            .await?;
            docs.push(parse(&xml_all(&doc, "Document")[0]));
        }
    }
    Ok(Ok(docs))
}

async fn simulate_principal_policy(upstream: &str, req: &Request) -> std::io::Result<Response> {
    let source = decode(&req.param("PolicySourceArn").unwrap_or_default());
    let user = source
        .split_once(":user/")
        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path).to_string())
        .expect("the emulation simulates IAM users only");
    let policies = match user_policies(upstream, req, &user).await? {
        Ok(p) => p,
        // NoSuchEntity for a user that does not exist, as AWS answers.
        Err((status, body)) => {
            return Ok(Response {
                status,
                content_type: "text/xml".into(),
                body,
            });
        }
    };
    // Only the context the request gives: a key the policies use and the request left out is
    // listed in MissingContextValues, as AWS does (IAM API reference, SimulatePrincipalPolicy),
    // `aws:username` included (the policy variable in the guard's resources).
    let mut context = iam_eval::Context::default();
    for n in 1.. {
        let Some(key) = req.param(&format!("ContextEntries.member.{n}.ContextKeyName")) else {
            break;
        };
        for value in numbered(req, &format!("ContextEntries.member.{n}.ContextKeyValues")) {
            context = context.with(&decode(&key), &value);
        }
    }
    let resources = numbered(req, "ResourceArns");
    let missing: String = iam_eval::referenced_keys(&policies)
        .into_iter()
        .filter(|k| !context.has(k))
        .map(|k| format!("<member>{k}</member>"))
        .collect();
    let missing = format!("<MissingContextValues>{missing}</MissingContextValues>");
    let mut results = String::new();
    for action in numbered(req, "ActionNames") {
        let decide = |resource: &str| iam_eval::evaluate(&policies, &action, resource, &context);
        let (top, template, specific) = if resources.is_empty() {
            (decide("*"), "*".to_string(), String::new())
        } else {
            let decisions: Vec<_> = resources.iter().map(|r| (r, decide(r))).collect();
            let top = if decisions
                .iter()
                .any(|(_, d)| *d == iam_eval::Decision::ExplicitDeny)
            {
                iam_eval::Decision::ExplicitDeny
            } else if decisions
                .iter()
                .all(|(_, d)| *d == iam_eval::Decision::Allowed)
            {
                iam_eval::Decision::Allowed
            } else {
                iam_eval::Decision::ImplicitDeny
            };
            let members: String = decisions
                .iter()
                .map(|(r, d)| {
                    format!(
                        "<member><EvalResourceName>{r}</EvalResourceName><EvalResourceDecision>{}</EvalResourceDecision>\
                         <MatchedStatements/>{missing}</member>",
                        d.as_str()
                    )
                })
                .collect();
            // Not a resource ARN: the documented template, so code that reads it instead of the
            // per-resource results fails here as it would on AWS.
            (
                top,
                "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}".into(),
                members,
            )
        };
        results.push_str(&format!(
            "<member><EvalActionName>{action}</EvalActionName><EvalResourceName>{template}</EvalResourceName>\
             <EvalDecision>{}</EvalDecision><MatchedStatements/>{missing}\
             <ResourceSpecificResults>{specific}</ResourceSpecificResults></member>",
            top.as_str()
        ));
    }
    Ok(Response {
        status: 200,
        content_type: "text/xml".into(),
        body: format!(
            "<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><SimulatePrincipalPolicyResult>\
             <IsTruncated>false</IsTruncated><EvaluationResults>{results}</EvaluationResults></SimulatePrincipalPolicyResult>\
             <ResponseMetadata><RequestId>proxy-emulation</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
        ),
    })
}
