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

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request that passed through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// From the SigV4 credential scope: iam, sts, s3, kms, cloudtrail, cur...
    pub service: String,
    /// The operation: `Action=` for query protocols, the `X-Amz-Target` suffix for JSON protocols,
    /// and `METHOD ?subresource` for S3.
    pub operation: String,
    pub write: bool,
    /// The HTTP status the client got; 0 when the connection was dropped without an answer.
    pub status: u16,
    /// The access key ID the request was signed with (from the SigV4 credential scope).
    pub access_key: String,
    /// The fault injected instead of (or after) forwarding, if any.
    pub fault: Option<Fault>,
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
    /// client cannot know whether its write took effect.
    LostResponse,
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

/// The read allow-list, as the spine issue defines it, written again here on purpose: the tests
/// must not trust the binary's own classification.
pub fn is_read(service: &str, operation: &str) -> bool {
    if service == "s3" {
        return operation.starts_with("GET") || operation.starts_with("HEAD");
    }
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|p| operation.starts_with(p))
        || operation == "GenerateCredentialReport"
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
}

impl Request {
    /// A form parameter of a query-protocol request (IAM, STS), e.g. `UserName`.
    pub fn param(&self, name: &str) -> Option<String> {
        let body = self.body_text();
        body.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
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

pub type Hook = Box<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    hooks: Mutex<Vec<Hook>>,
    /// Operations held back this long before being forwarded: a slow call, to interrupt one in flight.
    delays: Mutex<Vec<(String, std::time::Duration)>>,
    faults: Mutex<Faults>,
    actions: Mutex<Vec<(Which, Action)>>,
    /// When each request arrived and when its answer was sent (or the connection dropped).
    spans: Mutex<Vec<(Instant, Instant)>>,
}

#[derive(Default)]
struct Faults {
    latency: Duration,
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
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = serve(conn, &upstream, &s).await;
                });
            }
        });
        Proxy { url, shared, task }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.write).collect()
    }

    /// Forget the calls seen so far (faults and rules stay; their per-call counting restarts).
    pub fn clear(&self) {
        self.shared.calls.lock().unwrap().clear();
        self.shared.spans.lock().unwrap().clear();
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
        let mut spans = self.shared.spans.lock().unwrap().clone();
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

    /// The calls that got an injected fault.
    pub fn faulted(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.fault.is_some())
            .collect()
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

    /// Answer matching requests here instead of forwarding them (only for what moto cannot serve).
    pub fn hook(&self, hook: Hook) {
        self.shared.hooks.lock().unwrap().push(hook);
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
    let service = get("authorization")
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
    let operation = if let Some(target) = get("x-amz-target") {
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
        },
    )))
}

fn form_action(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|kv| kv.strip_prefix("Action=").map(|v| v.to_string()))
}

async fn serve(mut conn: TcpStream, upstream: &str, shared: &Shared) -> std::io::Result<()> {
    let Some((raw, req)) = read_request(&mut conn).await? else {
        return Ok(());
    };
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
    let arrived = Instant::now();
    let (latency, nth, nth_of_op, fault) = {
        let mut f = shared.faults.lock().unwrap();
        let (nth, nth_of_op, fault) = f.decide(&req.operation);
        (f.latency, nth, nth_of_op, fault)
    };
    tokio::time::sleep(latency).await;
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
    let record = |status: u16| {
        shared.spans.lock().unwrap().push((arrived, Instant::now()));
        shared.calls.lock().unwrap().push(Call {
            write: !is_read(&req.service, &req.operation),
            service: req.service.clone(),
            operation: req.operation.clone(),
            status,
            fault,
            access_key: req.access_key.clone(),
        });
    };
    let hooked = shared.hooks.lock().unwrap().iter().find_map(|h| h(&req));
    let answer = match (fault, hooked) {
        (Some(Fault::Drop), _) => None,
        (Some(Fault::LostResponse), _) => {
            forward(upstream, &raw).await?;
            None
        }
        (Some(f), _) => Some(fault_response(f, &req)),
        (None, Some(r)) => Some(r),
        (None, None) => {
            let (status, bytes) = forward(upstream, &raw).await?;
            record(status);
            conn.write_all(&bytes).await?;
            return conn.shutdown().await;
        }
    };
    let Some(r) = answer else {
        record(0);
        // Close without a word: the client sees the connection end before any response.
        return conn.shutdown().await;
    };
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

async fn forward(upstream: &str, raw: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(&with_connection_close(raw)).await?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).await?;
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
        Fault::ServerError => (500, "InternalFailure", "injected by the test proxy"),
        Fault::Throttle if req.service == "s3" => {
            (503, "SlowDown", "Please reduce your request rate.")
        }
        Fault::Throttle => (400, "Throttling", "Rate exceeded"),
        Fault::Error { status, code } => (status, code, "injected by the test proxy"),
        Fault::Drop | Fault::LostResponse => unreachable!("no response for a dropped connection"),
    };
    if req.service == "s3" {
        Response {
            status,
            content_type: "application/xml".into(),
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>proxy</RequestId></Error>"
            ),
        }
    } else if req.header("x-amz-target").is_some() {
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
