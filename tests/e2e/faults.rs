//! Reliability: the real binary against moto through the fault-injecting proxy. Retries ride out
//! throttling, server errors and dropped connections; a fault that does not go away stops the
//! apply with an error naming what failed and what was done; IAM's eventual consistency (a user
//! just created not yet visible) is waited out; and a run made stale by a concurrent change is
//! refused with nothing more written.

use crate::common;

use std::time::Duration;

use common::proxy::{Fault, Which};
use common::{Account, IAM_ONLY, Run};

fn ops(acct: &Account, op: &str) -> usize {
    acct.proxy
        .calls()
        .iter()
        .filter(|c| c.operation == op)
        .count()
}

/// The changes a dry run still shows, as `control resource action` lines (manual ones included).
async fn pending(acct: &Account, plan: &str) -> Vec<String> {
    let run = acct.run(&["--plan", "-f", plan, "--output", "json"]).await;
    assert!(run.code == 0 || run.code == 2, "{}", run.all());
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {}", c["control"], c["resource"], c["action"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_transient_fault_is_retried() {
    for fault in [
        Fault::ServerError,
        Fault::Throttle,
        Fault::Drop,
        Fault::Error {
            status: 503,
            code: "ServiceUnavailable",
        },
    ] {
        let acct = Account::new().await;
        let plan = acct.write_plan("p.toml", IAM_ONLY);
        // Twice in a row on a read, once on each of two writes.
        acct.proxy
            .fail_on(Which::Nth("GetCallerIdentity", 1), fault);
        acct.proxy
            .fail_on(Which::Nth("GetCallerIdentity", 2), fault);
        acct.proxy.fail_on(Which::Nth("CreateGroup", 1), fault);
        acct.proxy
            .fail_on(Which::Nth("UpdateAccountPasswordPolicy", 1), fault);
        let run = acct.run(&["-f", &plan, "--yes"]).await;
        assert_eq!(run.code, 0, "{fault:?}\n{}", run.all());
        assert_eq!(acct.proxy.faulted().len(), 4, "{fault:?}");
        assert_eq!(ops(&acct, "GetCallerIdentity"), 3, "{fault:?}");
        assert_eq!(ops(&acct, "CreateGroup"), 2, "{fault:?}");
        acct.proxy.clear();
        let again = acct.run(&["--plan", "-f", &plan]).await;
        assert_eq!(again.code, 0, "{fault:?}\n{}", again.all());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fault_that_persists_stops_apply_naming_what_failed_and_what_was_done() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    acct.proxy
        .fail_on(Which::Every("AddUserToGroup"), Fault::ServerError);
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    let out = run.all();
    assert!(
        out.contains("adding IAM user admin to group Administrators"),
        "{out}"
    );
    assert!(out.contains("InternalFailure"), "{out}");
    // Attempts as configured (src/aws/config.rs DEFAULT_MAX_ATTEMPTS), then it gave up.
    assert_eq!(ops(&acct, "AddUserToGroup"), 5, "{out}");
    // What was done: a `done` line per change made before the failure, matching the writes the
    // proxy saw succeed; and nothing after the failed write was attempted (in send order).
    let done: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("done "))
        .collect();
    assert!(
        done.iter()
            .any(|l| l.contains("+ iam group \"Administrators\"")),
        "{out}"
    );
    assert!(
        done.iter().any(|l| l.contains("+ iam user \"admin\"")),
        "{out}"
    );
    assert!(!done.iter().any(|l| l.contains("~ iam user")), "{out}");
    let summary = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Apply failed:"))
        .unwrap_or_else(|| panic!("no summary\n{out}"));
    let made: usize = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<usize>().ok())
        .sum();
    assert_eq!(made, done.len(), "{out}");
    let writes = acct.proxy.writes();
    let ok: Vec<&str> = writes
        .iter()
        .filter(|c| c.status == 200)
        .map(|c| c.operation.as_str())
        .collect();
    assert_eq!(
        ok,
        [
            "CreateGroup",
            "AttachGroupPolicy",
            "PutGroupPolicy",
            "UpdateAccountPasswordPolicy",
            "CreateUser",
            "CreateLoginProfile"
        ],
        "one successful write per done line\n{out}"
    );
    assert_eq!(ok.len(), done.len(), "{out}");
    let first_failed = writes
        .iter()
        .position(|c| c.operation == "AddUserToGroup")
        .unwrap();
    assert!(
        writes[first_failed..]
            .iter()
            .all(|c| c.operation == "AddUserToGroup"),
        "a write after the failed one: {writes:?}"
    );

    acct.proxy.stop_faults();
    let fixed = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(fixed.code, 0, "{}", fixed.all());
    assert!(pending(&acct, &plan).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_is_not_blamed_on_the_credentials() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    acct.proxy
        .fail_on(Which::Every("GetCallerIdentity"), Fault::ServerError);
    let run = acct
        .run_with(&["--plan", "-f", &plan], &[("AWS_MAX_ATTEMPTS", "2")])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("could not identify the caller (GetCallerIdentity)"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("InternalFailure"), "{}", run.all());
    assert!(
        !run.stderr.contains("did not accept the credentials"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_users_retry_settings_win() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    acct.proxy
        .fail_on(Which::Every("GetAccountPasswordPolicy"), Fault::Throttle);
    let run = acct
        .run_with(&["--plan", "-f", &plan], &[("AWS_MAX_ATTEMPTS", "2")])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("Throttling"), "{}", run.all());
    assert_eq!(ops(&acct, "GetAccountPasswordPolicy"), 2);

    acct.proxy.clear();
    std::fs::write(acct.path("aws-config"), "[default]\nmax_attempts = 1\n").unwrap();
    let run = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(ops(&acct, "GetAccountPasswordPolicy"), 1);
}

/// A retry mode alone is the person's choice too: the SDK's own attempts for it (3 in standard
/// mode, AWS SDKs reference guide "Retry behavior"), not aws-harden's 5.
#[tokio::test(flavor = "multi_thread")]
async fn the_users_retry_mode_wins() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    acct.proxy
        .fail_on(Which::Every("GetAccountPasswordPolicy"), Fault::Throttle);
    let run = acct
        .run_with(&["--plan", "-f", &plan], &[("AWS_RETRY_MODE", "standard")])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(ops(&acct, "GetAccountPasswordPolicy"), 3, "{}", run.all());

    acct.proxy.clear();
    std::fs::write(
        acct.path("aws-config"),
        "[default]\nretry_mode = standard\n",
    )
    .unwrap();
    let run = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(ops(&acct, "GetAccountPasswordPolicy"), 3, "{}", run.all());

    // Without either: aws-harden's 5.
    acct.proxy.clear();
    std::fs::remove_file(acct.path("aws-config")).unwrap();
    let run = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(ops(&acct, "GetAccountPasswordPolicy"), 5, "{}", run.all());
}

/// A connection that hangs (no answer, never closed) is given up after the per-attempt limit
/// (src/aws/config.rs ATTEMPT_TIMEOUT, 20 s) and retried, well within a minute.
#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_connection_is_abandoned_after_the_attempt_timeout_and_retried() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    acct.proxy
        .fail_on(Which::Nth("GetAccountPasswordPolicy", 1), Fault::Hang);
    let started = std::time::Instant::now();
    let run = acct.run(&["--plan", "-f", &plan]).await;
    let took = started.elapsed();
    assert_eq!(run.code, 2, "{}", run.all());
    let attempts: Vec<_> = acct
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "GetAccountPasswordPolicy")
        .collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    // The retry came after the attempt timeout, not before (measured at the proxy).
    let gap = attempts[1].at - attempts[0].at;
    assert!(gap >= Duration::from_secs(19), "retried after {gap:?}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_not_yet_visible_is_waited_for() {
    // IAM is eventually consistent: right after CreateUser, calls naming the user can fail with
    // NoSuchEntity for a few seconds. moto is consistent at once, so the proxy plays IAM here.
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    let not_yet = Fault::Error {
        status: 404,
        code: "NoSuchEntity",
    };
    acct.proxy
        .fail_on(Which::Nth("CreateLoginProfile", 1), not_yet);
    acct.proxy
        .fail_on(Which::Nth("CreateLoginProfile", 2), not_yet);
    acct.proxy.fail_on(Which::Nth("AddUserToGroup", 1), not_yet);
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(ops(&acct, "CreateLoginProfile"), 3);
    assert_eq!(ops(&acct, "AddUserToGroup"), 2);
    // The password was delivered once, for the login profile that exists.
    let file = acct.path(&format!("aws-harden-{}-admin-password.txt", acct.id));
    let delivered = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}\n{}", run.all()));
    assert_eq!(delivered.trim(), sent_password(&acct, "CreateLoginProfile"));
    assert!(pending(&acct, &plan).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_not_yet_visible_when_verifying_is_waited_for() {
    // Reads of IAM right after a write may not show it yet. The password policy is read when
    // observing (1), at the re-check before its write (2) and when verifying (3): the third read
    // answers as if the write had not propagated.
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    acct.proxy.fail_on(
        Which::Nth("GetAccountPasswordPolicy", 3),
        Fault::Error {
            status: 404,
            code: "NoSuchEntity",
        },
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(acct.proxy.faulted().len(), 1, "{}", run.all());
    assert_eq!(ops(&acct, "GetAccountPasswordPolicy"), 4, "{}", run.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_whose_answer_was_lost_is_not_an_error() {
    // The write reached moto, the answer never came back; the SDK retries and AWS says the thing
    // already exists. That is the state asked for, and the password delivered must be the one set.
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    for op in ["CreateGroup", "CreateUser", "CreateLoginProfile"] {
        acct.proxy.fail_on(Which::Nth(op, 1), Fault::LostResponse);
    }
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    for op in ["CreateGroup", "CreateUser", "CreateLoginProfile"] {
        assert_eq!(ops(&acct, op), 2, "{op}: {}", run.all());
    }
    assert_eq!(ops(&acct, "UpdateLoginProfile"), 1, "{}", run.all());
    let file = acct.path(&format!("aws-harden-{}-admin-password.txt", acct.id));
    let delivered = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}\n{}", run.all()));
    assert_eq!(
        delivered.trim(),
        sent_password(&acct, "UpdateLoginProfile"),
        "the file holds the password set last"
    );
    assert!(pending(&acct, &plan).await.is_empty());
}

/// The `Password` the last successful call of `operation` sent (recorded by the proxy).
fn sent_password(acct: &Account, operation: &str) -> String {
    let call = acct
        .proxy
        .calls()
        .into_iter()
        .rfind(|c| c.operation == operation && c.status == 200)
        .unwrap_or_else(|| panic!("no successful {operation}"));
    call.params
        .iter()
        .find(|(k, _)| k == "Password")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{operation} sent no Password"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entity_that_never_appears_is_not_waited_for_long() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    acct.proxy.fail_on(
        Which::Every("AddUserToGroup"),
        Fault::Error {
            status: 404,
            code: "NoSuchEntity",
        },
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout
            .contains("adding IAM user admin to group Administrators"),
        "{}",
        run.all()
    );
    // The wait is documented as at most 10 s with backoff: measured at the proxy, from the first
    // attempt's arrival to the last's, whatever else the machine is doing.
    let attempts: Vec<_> = acct
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "AddUserToGroup")
        .collect();
    assert!(
        (2..=6).contains(&attempts.len()),
        "{} attempts\n{}",
        attempts.len(),
        run.all()
    );
    let span = attempts.last().unwrap().at - attempts[0].at;
    assert!(span <= Duration::from_secs(10), "waited {span:?}");
}

fn assert_stale_refusal(run: &Run) {
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all()
            .contains("The account changed since the plan was shown"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_between_showing_and_the_first_write_is_refused_with_nothing_written() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    // The second GetGroup is the engine's re-check before the admin group's first write: just
    // before it reaches moto, someone else creates the group.
    let iam = acct.iam();
    acct.proxy.before(
        Which::Nth("GetGroup", 2),
        Box::new(move || {
            let iam = iam.clone();
            Box::pin(async move {
                iam.create_group()
                    .group_name("Administrators")
                    .send()
                    .await
                    .unwrap();
            })
        }),
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_stale_refusal(&run);
    assert_eq!(ops(&acct, "GetGroup"), 2, "the re-check happened");
    let writes = acct.proxy.writes();
    assert!(
        writes.is_empty(),
        "nothing written: {writes:?}\n{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_after_an_earlier_controls_writes_stops_before_the_next_control() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    // Right after the first write (the admin group's), someone weakens the password policy: the
    // password policy control's re-check must see it and refuse.
    let iam = acct.iam();
    acct.proxy.before(
        Which::Nth("AttachGroupPolicy", 1),
        Box::new(move || {
            let iam = iam.clone();
            Box::pin(async move {
                iam.update_account_password_policy()
                    .minimum_password_length(6)
                    .send()
                    .await
                    .unwrap();
            })
        }),
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_stale_refusal(&run);
    assert!(run.all().contains("password_policy"), "{}", run.all());
    assert_eq!(
        ops(&acct, "UpdateAccountPasswordPolicy"),
        0,
        "{}",
        run.all()
    );
    // The admin group was done before the drift was seen; the weakened policy is left as found, for
    // the next run to show, and the admin user (planned after the password policy, so that its
    // console password meets the policy) was not attempted.
    let left = pending(&acct, &plan).await;
    assert_eq!(
        left,
        vec![
            r#""password_policy" "account password policy" "update""#,
            r#""admin_user" "iam user \"admin\"" "create""#,
            r#""admin_user" "iam login profile \"admin\"" "create""#,
            r#""admin_user" "iam user \"admin\"" "update""#,
        ],
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_count_operations_and_attempts_as_the_proxy_saw_them() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    acct.proxy
        .fail_on(Which::Nth("GetAccountPasswordPolicy", 1), Fault::Throttle);
    acct.proxy
        .fail_on(Which::Nth("GetAccountPasswordPolicy", 2), Fault::Drop);
    let run = acct.run(&["--plan", "-f", &plan, "--output", "json"]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let seen = acct.proxy.calls().len();
    assert_eq!(doc["stats"]["attempts"], seen, "{}", run.all());
    assert_eq!(doc["stats"]["calls"], seen - 2, "{}", run.all());
    assert_eq!(doc["stats"]["writes"], 0);
    assert!(acct.proxy.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_bucket_head_names_the_http_status() {
    // S3 answers HEAD without a body, so there is no error code to show: the status must be.
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[cloudtrail]\naccess_log_bucket = \"\"\n",
    );
    acct.proxy.fail_on(Which::Every("HEAD"), Fault::ServerError);
    let run = acct
        .run_with(&["--plan", "-f", &plan], &[("AWS_MAX_ATTEMPTS", "1")])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "reading s3 bucket aws-harden-trail-{}-us-east-1 (HTTP 500)",
            acct.id
        )),
        "{}",
        run.all()
    );
    assert!(acct.proxy.writes().is_empty());
}
