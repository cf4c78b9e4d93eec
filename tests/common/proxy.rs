//! A recording HTTP proxy on loopback, between the aws-harden binary and moto. It forwards every
//! request unchanged and records which AWS operation it was, so tests can count calls and prove
//! that a run made no writes without trusting the binary's own account of itself.
//!
//! Hooks let a test answer a request itself instead of moto. That is used ONLY for what moto cannot
//! serve (see each test); never as a fake of something moto does serve.

use std::sync::{Arc, Mutex};

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
    pub status: u16,
    /// The access key ID the request was signed with (from the SigV4 credential scope).
    pub access_key: String,
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

    pub fn clear(&self) {
        self.shared.calls.lock().unwrap().clear();
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
    let hooked = shared.hooks.lock().unwrap().iter().find_map(|h| h(&req));
    let (status, bytes) = match hooked {
        Some(r) => {
            let resp = format!(
                "HTTP/1.1 {} X\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                r.status,
                r.content_type,
                r.body.len(),
                r.body
            );
            (r.status, resp.into_bytes())
        }
        None => {
            let mut up = TcpStream::connect(upstream).await?;
            up.write_all(&with_connection_close(&raw)).await?;
            let mut resp = Vec::new();
            up.read_to_end(&mut resp).await?;
            let status = std::str::from_utf8(&resp[..resp.len().min(12)])
                .ok()
                .and_then(|s| s.get(9..12))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (status, resp)
        }
    };
    shared.calls.lock().unwrap().push(Call {
        write: !is_read(&req.service, &req.operation),
        service: req.service,
        operation: req.operation,
        status,
        access_key: req.access_key,
    });
    conn.write_all(&bytes).await?;
    conn.shutdown().await
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
