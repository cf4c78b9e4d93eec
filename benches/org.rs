//! The `--org` scale benchmark (run it with scripts/bench; `cargo test` does not run benches): an
//! Organization of 200 member accounts on moto, a small member plan applied to all of them, then
//! `--org --plan` with 50 ms added by the proxy to every call, at `--jobs` 8, 32 and 64. For each:
//! wall time of the whole process, calls the proxy saw, and the process's peak memory (its
//! maximum resident set, from `wait4`). Compared with (accounts / jobs) x one account's time,
//! measured the same way with `--accounts` naming one account. Asserts no wall-clock time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_organizations::types::OrganizationFeatureSet;
use common::Account;

const MEMBERS: usize = 200;
const LATENCY: Duration = Duration::from_millis(50);
/// A member plan small enough that moto, one Python process, is not what is measured: the
/// account-wide controls without per-region reads.
const PLAN: &str = r#"
version = 1
home_region = "us-east-1"
[password_policy]
[s3_public_access]
[root]
"#;

/// Run the binary to its end; its exit code, wall time and peak resident memory (KiB).
// The child is reaped by `wait4` below, which also returns its resource usage.
#[allow(clippy::zombie_processes)]
fn measured(acct: &Account, args: &[&str]) -> (i32, Duration, i64) {
    let started = Instant::now();
    let child = acct
        .command(args, &[])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run aws-harden");
    let mut status = 0;
    // SAFETY: plain wait4 on our own child, with valid pointers to locals.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, started.elapsed(), usage.ru_maxrss)
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(org_benchmark());
}

async fn org_benchmark() {
    let acct = Account::new().await;
    let org = aws_sdk_organizations::Client::new(&acct.sdk());
    org.create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .expect("moto's CreateOrganization");
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let status = org
            .create_account()
            .email(format!("m{i}@example.com"))
            .account_name(format!("member-{i}"))
            .send()
            .await
            .expect("moto's CreateAccount")
            .create_account_status
            .unwrap();
        members.push(status.account_id.unwrap());
    }
    // moto builds each member's emulation on its first calls: built first, so the runs below
    // measure aws-harden, not the emulator's start-up per account.
    acct.warm_up_members(&members).await;
    let plan = acct.write_plan("member.toml", PLAN);
    let applied = acct
        .run(&["--org", "-f", &plan, "--yes", "--jobs", "8"])
        .await;
    assert_eq!(applied.code, 0, "{}", applied.all());

    acct.proxy.set_latency(LATENCY);
    acct.proxy.clear();
    let (code, one, one_rss) = tokio::task::block_in_place(|| {
        measured(
            &acct,
            &["--org", "-f", &plan, "--plan", "--accounts", &members[0]],
        )
    });
    assert!(code == 0 || code == 2, "exit {code}");
    let one_calls = acct.proxy.calls().len();
    println!(
        "\n| accounts | --jobs | wall time | calls | peak memory | (accounts / jobs) x one account's time |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| 1 | - | {} ms | {one_calls} | {} MiB | - |",
        one.as_millis(),
        one_rss / 1024
    );
    for jobs in [8usize, 32, 64] {
        acct.proxy.clear();
        let (code, wall, rss) = tokio::task::block_in_place(|| {
            measured(
                &acct,
                &["--org", "-f", &plan, "--plan", "--jobs", &jobs.to_string()],
            )
        });
        assert!(code == 0 || code == 2, "exit {code} with --jobs {jobs}");
        let ideal = one.as_secs_f64() * (MEMBERS as f64 / jobs as f64).ceil();
        println!(
            "| {MEMBERS} | {jobs} | {} ms | {} | {} MiB | {:.0} ms ({:.2}x) |",
            wall.as_millis(),
            acct.proxy.calls().len(),
            rss / 1024,
            ideal * 1000.0,
            wall.as_secs_f64() / ideal
        );
    }
    println!(
        "\n(wall time of the whole process, one run each, {} ms added to every call by the proxy; peak memory = the process's maximum resident set)",
        LATENCY.as_millis()
    );
}
