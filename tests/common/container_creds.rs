//! A container credentials endpoint, the way AWS CloudShell (like ECS and EKS) hands out the
//! signed-in identity's temporary credentials: the SDK sends a GET to
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN` as the
//! `Authorization` header and gets JSON `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`
//! (AWS SDKs and Tools Reference Guide, "Container credential provider"). Over plain HTTP the SDK
//! accepts only a loopback host, so tests give it `http://localhost:PORT/...` and its DNS check runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct ContainerCredentials {
    /// `http://localhost:PORT/...`: for `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub url: String,
    /// The value the endpoint requires in `Authorization`.
    pub token: String,
    served: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

struct Creds {
    key: String,
    secret: String,
    session: String,
    token: String,
}

impl ContainerCredentials {
    /// Serve these temporary credentials to requests carrying `token`; refuse (401) the rest.
    pub async fn start(key: &str, secret: &str, session: &str) -> ContainerCredentials {
        let v4 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = v4.local_addr().unwrap().port();
        // `localhost` may resolve to ::1 first: listen there too when the host has IPv6.
        let v6 = TcpListener::bind(("::1", port)).await.ok();
        let token = format!("cloudshell-token-{}", rand::random::<u64>());
        let creds = Arc::new(Creds {
            key: key.into(),
            secret: secret.into(),
            session: session.into(),
            token: token.clone(),
        });
        let served = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        for listener in std::iter::once(v4).chain(v6) {
            let (creds, served, refused) = (creds.clone(), served.clone(), refused.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (creds, served, refused) = (creds.clone(), served.clone(), refused.clone());
                    tokio::spawn(async move {
                        let _ = answer(stream, &creds, &served, &refused).await;
                    });
                }
            });
        }
        ContainerCredentials {
            url: format!("http://localhost:{port}/v1/credentials"),
            token,
            served,
            refused,
        }
    }

    /// Requests answered with credentials.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Requests refused for a missing or wrong `Authorization` header.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

async fn answer(
    mut stream: TcpStream,
    creds: &Creds,
    served: &AtomicUsize,
    refused: &AtomicUsize,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let authorized = head.lines().skip(1).any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("authorization") && value.trim() == creds.token
        })
    });
    let (status, body) = if authorized && head.starts_with("GET ") {
        served.fetch_add(1, Ordering::SeqCst);
        let expiration = DateTime::from(SystemTime::now() + Duration::from_secs(3600))
            .fmt(Format::DateTime)
            .unwrap();
        (
            "200 OK",
            serde_json::json!({
                "AccessKeyId": creds.key,
                "SecretAccessKey": creds.secret,
                "Token": creds.session,
                "Expiration": expiration,
            })
            .to_string(),
        )
    } else {
        refused.fetch_add(1, Ordering::SeqCst);
        (
            "401 Unauthorized",
            r#"{"Code":"Unauthorized","Message":"missing or wrong authorization token"}"#.into(),
        )
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
