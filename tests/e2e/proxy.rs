//! The recording proxy is the tests' oracle ("zero writes", call counts, waves): these tests show
//! that it records every request it was sent, whatever became of the request, and that it keeps
//! serving after a failed accept.

use crate::common;

use std::time::Duration;

use common::proxy::{Proxy, is_read};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An IAM `CreateGroup` as the SDK sends it (query protocol), signed for `key`: the proxy reads the
/// operation from the body and the key from the credential scope.
fn create_group_request(host: &str, key: &str) -> Vec<u8> {
    let body = "Action=CreateGroup&Version=2010-05-08&GroupName=proxy-test";
    format!(
        "POST / HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         authorization: AWS4-HMAC-SHA256 Credential={key}/20261207/us-east-1/iam/aws4_request, \
         SignedHeaders=host, Signature=0\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A write whose trip to the service failed (nothing listening upstream) is still a write the
/// client sent: it is recorded, with the upstream error, not lost with the `?` that ends the request.
#[tokio::test(flavor = "multi_thread")]
async fn a_write_whose_trip_upstream_fails_is_still_recorded() {
    // A port nothing listens on: bind one, learn its number, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let proxy = Proxy::start(&upstream).await;
    let host = proxy.url.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&host).await.unwrap();
    conn.write_all(&create_group_request(&host, "AKIATEST"))
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    proxy.settle().await;
    let writes = proxy.writes();
    assert_eq!(writes.len(), 1, "{}", proxy.describe());
    assert_eq!(writes[0].operation, "CreateGroup");
    assert!(
        writes[0].upstream_error.is_some() && !writes[0].in_flight,
        "{}",
        proxy.describe()
    );
    assert_eq!(proxy.upstream_errors().len(), 1);
}

/// A request the client gave up on while it waited at the proxy is recorded on arrival, and
/// `settle` waits for its answer: after it, the record is complete (status and all).
#[tokio::test(flavor = "multi_thread")]
async fn settle_waits_for_a_request_still_on_its_way() {
    let proxy = Proxy::start(&common::moto()).await;
    proxy.delay("CreateGroup", Duration::from_millis(600));
    let host = proxy.url.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&host).await.unwrap();
    conn.write_all(&create_group_request(&host, "AKIATEST"))
        .await
        .unwrap();
    // The client is gone before the answer; the request goes on to the service regardless.
    drop(conn);
    proxy.settle().await;
    let calls = proxy.calls();
    assert_eq!(calls.len(), 1, "{}", proxy.describe());
    assert!(
        calls[0].write && !calls[0].in_flight,
        "{}",
        proxy.describe()
    );
    assert_ne!(calls[0].status, 0, "{}", proxy.describe());
}

/// The proxy's reads are its own: by HTTP method for S3 and unnamed REST calls, by name prefix,
/// and a short list of named exceptions. Everything else is a write, exports included.
#[test]
fn the_proxy_classifies_reads_on_its_own() {
    for (service, op) in [
        ("iam", "GetAccountPasswordPolicy"),
        ("iam", "ListUsers"),
        ("ec2", "DescribeRegions"),
        ("s3", "HEAD"),
        ("s3", "GET ?policy"),
        ("sts", "GetSessionToken"),
        ("sts", "DecodeAuthorizationMessage"),
        ("iam", "SimulatePrincipalPolicy"),
        ("iam", "GenerateCredentialReport"),
        ("sts", "AssumeRole"),
        ("sts", "AssumeRoot"),
        ("securityhub", "GET /standards/get"),
    ] {
        assert!(is_read(service, op), "{service}:{op} is a read");
    }
    for (service, op) in [
        ("iam", "CreateGroup"),
        ("s3", "PUT ?policy"),
        ("s3", "DELETE"),
        ("securityhub", "BatchImportFindings"),
        ("securityhub", "POST /findings/import"),
        ("ec2", "EnableEbsEncryptionByDefault"),
        ("budgets", "UpdateBudget"),
        ("kms", "ScheduleKeyDeletion"),
    ] {
        assert!(!is_read(service, op), "{service}:{op} is a write");
    }
}

/// One failed `accept()` (here: the process out of file descriptors for a moment) must not stop
/// the proxy for the rest of its test. Lowers this process's descriptor limit for a moment, so it
/// relies on nextest running each test in a process of its own (scripts/test).
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_keeps_serving_after_a_failed_accept() {
    let proxy = Proxy::start(&common::moto()).await;
    let host = proxy.url.trim_start_matches("http://").to_string();
    let port = host.rsplit(':').next().unwrap().to_string();
    // Another process connects (its descriptors are its own) while this one has none left, so the
    // proxy's accept() fails: started now, it connects once the limit below is in force.
    let mut other = std::process::Command::new("bash")
        .args([
            "-c",
            &format!("sleep 0.5; exec 3<>/dev/tcp/127.0.0.1/{port}; sleep 0.5"),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with valid pointers; they change only this process's limit.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    // The lowest free descriptor: every new one would be at or above it, so a limit there leaves
    // this process none (asked with fcntl, which opens nothing).
    let lowest_free = (0..limit.rlim_cur.min(65536) as i32)
        .find(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1)
        .unwrap() as u64;
    let none_left = libc::rlimit {
        rlim_cur: lowest_free,
        rlim_max: limit.rlim_max,
    };
    assert_eq!(
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &none_left) },
        0
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while proxy.accept_errors() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let _ = other.wait();
    assert!(
        proxy.accept_errors() > 0,
        "the accept never failed: the test proves nothing"
    );
    // The proxy still answers.
    let mut conn = tokio::net::TcpStream::connect(&host).await.unwrap();
    conn.write_all(&create_group_request(&host, "AKIATEST"))
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer))
        .await
        .expect("the proxy answered after the failed accept")
        .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
