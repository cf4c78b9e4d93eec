//! Convergence under faults: with 10% of calls failing at random (server errors, throttling,
//! dropped connections, responses lost after the write happened) and KMS lagging after each new key,
//! `apply` either completes or
//! stops with an error naming what failed and what was done; the account is never worse than
//! before; and the next run without faults completes. Over many seeds, concurrently.
//!
//! The plan is plans/baseline.toml with every control on (GuardDuty, a security contact and a
//! budget added: `every_control_plan`) and a per-seed suffix on every name (`name`, `*_name`,
//! buckets, the key alias), so every control added to the baseline is covered here, and several seeds can share one emulated account
//! (moto spends seconds setting up each new account's IAM; sharing keeps the test within CI time).
//! Every third seed runs with AWS_MAX_ATTEMPTS=2, so that faults often outlast the retries and
//! stopped applies are checked as well as completed ones.
//! Each seed first applies a partial plan that sets the account-wide settings (the password
//! policy) to the same weak start, and removes the account's S3 Block Public Access in moto, so a
//! seed behaves the same whichever account it runs on.
//! Replay one seed: AWS_HARDEN_SEED=17 scripts/test convergence::. More seeds:
//! AWS_HARDEN_SEEDS=500.

use crate::common;

use std::collections::BTreeSet;

use common::proxy::Fault;
use common::{Account, CurStub, Run, every_control_plan};

const FAULT_RATE: f64 = 0.10;
/// scripts/test-deep runs 500 (`AWS_HARDEN_SEEDS`), in every region (`AWS_HARDEN_TEST_REGIONS`).
const DEFAULT_SEEDS: u64 = 12;
/// Seeds run at once (each on its own account): the runs mostly wait on backoff.
const ACCOUNTS: usize = 6;
const KINDS: [Fault; 4] = [
    Fault::ServerError,
    Fault::Throttle,
    Fault::Drop,
    Fault::LostResponse,
];

/// The start of every seed: a weak password policy, and for odd seeds a half-made admin group,
/// so that "never worse than before" has something to lose.
fn partial(seed: u64) -> String {
    let group = if seed % 2 == 1 {
        "[admin_group]\nname = \"Administrators\"\nrequire_mfa = false\n"
    } else {
        ""
    };
    with_suffix(
        &format!(
            "version = 1\nhome_region = \"us-east-1\"\n{group}[password_policy]\nminimum_length = 8\n"
        ),
        seed,
    )
}

/// The plan with `-s<seed>` appended to every name (IAM names, trail, report, buckets, key alias),
/// so each seed makes its own resources; and trail adoption off, or every seed after the first on
/// an account would adopt that seed's trail and never create one under faults.
fn with_suffix(plan: &str, seed: u64) -> String {
    let mut doc: toml::Table = plan.parse().expect("plan TOML");
    if let Some(trail) = doc.get_mut("cloudtrail").and_then(|t| t.as_table_mut()) {
        trail.insert("adopt_existing".into(), toml::Value::Boolean(false));
    }
    for (_, table) in doc.iter_mut() {
        let Some(table) = table.as_table_mut() else {
            continue;
        };
        for (key, value) in table.iter_mut() {
            let names_a_resource = key == "name"
                || key.ends_with("_name")
                || key.ends_with("bucket")
                || key == "kms_key_alias";
            if names_a_resource
                && let Some(v) = value.as_str()
                && !v.is_empty()
            {
                *value = toml::Value::String(format!("{v}-s{seed}"));
            }
        }
    }
    doc.to_string()
}

#[derive(Debug, Default)]
struct SeedResult {
    completed: bool,
    faults: usize,
    /// Why a stopped run stopped (its last line of error output).
    stopped_by: Option<String>,
}

/// A run's changes as `control resource action` (manual actions included).
fn changes(doc: &serde_json::Value) -> BTreeSet<String> {
    doc["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {} {}", c["control"], c["resource"], c["action"]))
        .collect()
}

/// What a dry run shows pending.
async fn pending(acct: &Account, plan: &str) -> Result<BTreeSet<String>, String> {
    let run = acct.run(&["--plan", "-f", plan, "--output", "json"]).await;
    if run.code != 0 && run.code != 2 {
        return Err(format!("--plan failed\n{}", run.all()));
    }
    let doc: serde_json::Value =
        serde_json::from_str(&run.stdout).map_err(|e| format!("{e}\n{}", run.all()))?;
    Ok(changes(&doc))
}

fn count_lines(text: &str, prefix: &str) -> usize {
    text.lines().filter(|l| l.starts_with(prefix)).count()
}

/// A stopped apply says what failed (the change and AWS's error, or that verifying failed) and
/// lists what it did; it never calls a change it could not observe "did not take effect".
fn check_stopped_run(run: &Run) -> Result<(), String> {
    let out = &run.stdout;
    let stopped = out.contains("Apply failed:") || out.contains("Apply stopped:");
    if !stopped {
        return Err(format!("exit 1 without a stop summary\n{}", run.all()));
    }
    if out.contains("Apply failed:")
        && !out.contains("Failed:\n")
        && !out.contains("Could not verify the changes made")
    {
        return Err(format!("no failed change named\n{}", run.all()));
    }
    if out.contains("Did not take effect") && out.contains("Could not verify") {
        return Err(format!(
            "changes reported as not taking effect although they could not be observed\n{}",
            run.all()
        ));
    }
    // "N created, M changed, K deleted before stopping": one `done` line per change made.
    let summary = out
        .lines()
        .find(|l| l.contains("before stopping"))
        .unwrap_or_default();
    let made: usize = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<usize>().ok())
        .sum();
    let done = count_lines(&run.stderr, "done ");
    if made != done {
        return Err(format!(
            "summary says {made} changes made, progress shows {done}\n{}",
            run.all()
        ));
    }
    Ok(())
}

/// Does the error output name what failed: a step (what was being done) and the cause (one of the
/// injected faults, as the SDK reports it)?
fn names_what_failed(text: &str) -> bool {
    const CAUSES: [&str; 12] = [
        "InternalFailure",
        "InternalError",
        // The REST-JSON APIs' own codes (GuardDuty, Access Analyzer, Account Management).
        "InternalServerErrorException",
        "InternalServerException",
        "TooManyRequestsException",
        "Throttling",
        "RequestLimitExceeded",
        "SlowDown",
        "dispatch failure",
        "HTTP 500",
        "HTTP 503",
        "timed out",
    ];
    text.lines().any(|l| {
        CAUSES.iter().any(|c| {
            l.find(c)
                .is_some_and(|at| l[..at].split_whitespace().count() >= 3)
        })
    })
}

/// Three of the regions moto lets the account use, chosen by the seed.
async fn drifted_regions(acct: &Account, seed: u64) -> Result<Vec<String>, String> {
    let names = acct.usable_regions().await;
    let n = names.len();
    Ok((0..3)
        .map(|i| names[(seed as usize * 7 + i * 5) % n].clone())
        .collect())
}

async fn one_seed(acct: &Account, stub: &CurStub, seed: u64) -> Result<SeedResult, String> {
    acct.proxy.clear();
    // Earlier seeds' reports would meet AWS's limit of five per account (AWS_HARDEN_SEEDS=500).
    stub.clear();
    let plan = acct.write_plan(
        &format!("baseline-{seed}.toml"),
        &with_suffix(&every_control_plan(), seed),
    );
    let start = acct.write_plan(&format!("partial-{seed}.toml"), &partial(seed));
    let run = acct.run(&["-f", &start, "--yes"]).await;
    if run.code != 0 {
        return Err(format!("setting up the start\n{}", run.all()));
    }
    // The account's S3 Block Public Access is account-wide as well, and aws-harden only ever turns
    // it on: removed in moto, so every seed starts with none set and turns it on under faults.
    acct.s3control()
        .delete_public_access_block()
        .account_id(&acct.id)
        .send()
        .await
        .map_err(|e| format!("removing the account's Block Public Access: {e:?}"))?;
    // The regional guardrails too: three regions per seed (chosen by the seed) lose EBS encryption
    // by default, the IMDSv2 default, their analyzers and GuardDuty, so every seed writes them
    // under faults. The security contact and the budget carry the seed's suffix: written too.
    for region in drifted_regions(acct, seed).await? {
        acct.ec2(&region)
            .disable_ebs_encryption_by_default()
            .send()
            .await
            .map_err(|e| format!("turning EBS encryption off in {region}: {e:?}"))?;
        acct.ec2.set_imds(&region, |d| *d = Default::default());
        // No analyzer (any active one covers a region) and GuardDuty off.
        acct.analyzer.edit(&region, |a| a.clear());
        acct.disable_guardduty(&region).await;
    }
    let before = pending(acct, &plan).await?;

    acct.proxy.clear();
    acct.proxy.fail_randomly(seed, FAULT_RATE, &KINDS);
    // Every third seed as a person who allows only 2 attempts per call: then faults outlast the
    // retries often enough that stopped applies (and what they leave) are checked too.
    let env: &[(&str, &str)] = if seed.is_multiple_of(3) {
        &[("AWS_MAX_ATTEMPTS", "2")]
    } else {
        &[]
    };
    let faulty = acct.run_with(&["-f", &plan, "--yes"], env).await;
    let faults = acct.proxy.faulted();
    acct.proxy.stop_faults();
    let context = |what: &str, run: &Run| {
        format!(
            "{what}\nfaults injected: {:?}\n{}",
            faults
                .iter()
                .map(|c| format!("{}:{:?}", c.operation, c.fault.unwrap()))
                .collect::<Vec<_>>(),
            run.all()
        )
    };
    if faulty.stderr.contains("panicked") {
        return Err(context("the binary panicked", &faulty));
    }
    match faulty.code {
        0 => {}
        1 => {
            // Before the first write (connecting, observing) an error is all there is to say.
            if faulty.stdout.contains("Apply") {
                check_stopped_run(&faulty).map_err(|e| context(&e, &faulty))?;
            }
            // Stopped at a write, while observing or while verifying: the output names the step
            // and the cause (a stale refusal names the control instead).
            if !names_what_failed(&faulty.all())
                && !faulty
                    .stdout
                    .contains("The account changed since the plan was shown")
            {
                return Err(context("exit 1 without naming what failed", &faulty));
            }
        }
        _ => return Err(context("unexpected exit code", &faulty)),
    }

    at_most_one_key(acct, seed, false)
        .await
        .map_err(|e| context(&e, &faulty))?;
    // The run without faults: what it finds to do must be no more than before the faulty run
    // (nothing removed that was there), and it must complete (applied and verified).
    let clean = acct.run(&["-f", &plan, "--yes", "--output", "json"]).await;
    let doc: serde_json::Value = serde_json::from_str(&clean.stdout).map_err(|e| {
        context(
            &format!(
                "the clean run's JSON: {e}
{}",
                clean.all()
            ),
            &faulty,
        )
    })?;
    let after_faults = changes(&doc);
    // Worse: a resource pending now that was not before, or one that would now be deleted. A
    // resource made in part (a key created, its rotation not yet on: "create" became "update")
    // is progress, not loss.
    let resource = |c: &String| {
        c.rsplit_once(' ')
            .map(|(r, _)| r.to_string())
            .unwrap_or_default()
    };
    let before_resources: BTreeSet<String> = before.iter().map(resource).collect();
    let worse: Vec<_> = after_faults
        .iter()
        .filter(|c| !before_resources.contains(&resource(c)) || c.ends_with("\"delete\""))
        .filter(|c| !before.contains(*c))
        .collect();
    if !worse.is_empty() {
        return Err(context(
            &format!("the account is worse than before: newly pending {worse:?}"),
            &faulty,
        ));
    }
    let completed = doc["result"]["succeeded"].as_bool().unwrap_or(
        // Nothing to apply: no result section, and the run matched.
        doc["result"].is_null() && after_faults.iter().all(|c| c.ends_with("\"manual\"")),
    );
    if clean.code != 0 || !completed {
        return Err(context(
            &format!("the run after the faults did not complete\n{}", clean.all()),
            &faulty,
        ));
    }
    at_most_one_key(acct, seed, true)
        .await
        .map_err(|e| context(&e, &faulty))?;
    Ok(SeedResult {
        completed: faulty.code == 0,
        faults: faults.len(),
        stopped_by: (faulty.code != 0).then(|| {
            let unverified = faulty
                .stdout
                .lines()
                .find(|l| l.starts_with("Could not verify"));
            let failed = faulty.stdout.split("Failed:\n").nth(1);
            unverified
                .or_else(|| failed.and_then(|f| f.split("\nNot attempted").next()))
                .or_else(|| faulty.stderr.lines().last())
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        }),
    })
}

/// How long KMS lags after each new key (`Proxy::emulate_kms_lag`).
const KMS_LAG: std::time::Duration = std::time::Duration::from_secs(2);

/// Lost answers and retries never leave a second, billed key: at most one key is tagged for the
/// seed's alias; once a run has completed (`complete`) and the alias exists (a seed that adopted
/// another seed's trail makes no key), exactly one, the one the alias names.
async fn at_most_one_key(acct: &Account, seed: u64, complete: bool) -> Result<(), String> {
    let alias = format!("alias/aws-harden-cloudtrail-s{seed}");
    let kms = aws_sdk_kms::Client::new(&acct.sdk());
    let aliased = kms
        .describe_key()
        .key_id(&alias)
        .send()
        .await
        .ok()
        .and_then(|d| d.key_metadata)
        .map(|m| m.key_id);
    let keys = kms.list_keys().send().await.map_err(|e| format!("{e:?}"))?;
    let mut tagged = Vec::new();
    for k in keys.keys() {
        let id = k.key_id().unwrap_or_default();
        let tags = kms
            .list_resource_tags()
            .key_id(id)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        if tags
            .tags()
            .iter()
            .any(|t| t.tag_key() == "aws-harden:alias" && t.tag_value() == alias)
        {
            tagged.push(id.to_string());
        }
    }
    if tagged.len() > 1 {
        return Err(format!(
            "{} keys tagged for {alias}: a lost answer left a billed orphan",
            tagged.len()
        ));
    }
    if complete
        && let Some(id) = aliased
        && tagged != [id.clone()]
    {
        return Err(format!(
            "{alias} names key {id}, but the keys tagged for it are {tagged:?}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_converges_with_ten_percent_of_calls_failing() {
    let seeds: Vec<u64> = match std::env::var("AWS_HARDEN_SEED") {
        Ok(s) => vec![s.parse().expect("AWS_HARDEN_SEED is a number")],
        Err(_) => {
            let n = std::env::var("AWS_HARDEN_SEEDS")
                .ok()
                .map(|s| s.parse().expect("AWS_HARDEN_SEEDS is a number"))
                .unwrap_or(DEFAULT_SEEDS);
            (1..=n).collect()
        }
    };
    // Seeds spread over accounts; one account runs its seeds one after another.
    let lanes = ACCOUNTS.min(seeds.len());
    let results: Vec<(u64, Result<SeedResult, String>)> =
        futures_util::future::join_all((0..lanes).map(|lane| {
            let mine: Vec<u64> = seeds.iter().copied().skip(lane).step_by(lanes).collect();
            async move {
                let acct = Account::new().await;
                // moto has no Cost and Usage Report API: the test stub answers it, behind the
                // same fault-injecting proxy.
                let stub = CurStub::install(&acct.proxy);
                acct.proxy.emulate_kms_lag(KMS_LAG);
                let mut out = Vec::new();
                for seed in mine {
                    out.push((seed, one_seed(&acct, &stub, seed).await));
                }
                out
            }
        }))
        .await
        .into_iter()
        .flatten()
        .collect();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(seed, r)| {
            r.as_ref().err().map(|e| {
                format!(
                    "seed {seed} (replay: AWS_HARDEN_SEED={seed} scripts/test convergence::): {e}"
                )
            })
        })
        .collect();
    let ok: Vec<&SeedResult> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    eprintln!(
        "convergence: {} seeds, {} faults injected, {} applies completed despite faults, {} stopped and were completed by the next run",
        results.len(),
        ok.iter().map(|r| r.faults).sum::<usize>(),
        ok.iter().filter(|r| r.completed).count(),
        ok.iter().filter(|r| !r.completed).count(),
    );
    for (seed, r) in &results {
        if let Ok(SeedResult {
            stopped_by: Some(why),
            ..
        }) = r
        {
            eprintln!("  seed {seed} stopped: {why}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        ok.iter().map(|r| r.faults).sum::<usize>() > 0,
        "no fault was injected: the test proves nothing"
    );
}

/// A seed does not replay exactly (calls overlap in a different order each run), so the central
/// claim is also proved with fixed placements: a write that keeps failing stops the apply at that
/// write, naming it; nothing after it is written; and the next run completes. For the report, the
/// failed calls never reach the stub (faults run before hooks), so its retry is not a duplicate.
#[tokio::test(flavor = "multi_thread")]
async fn a_faulty_apply_stops_at_a_write_naming_it_and_the_next_run_completes() {
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    for (seed, op, names) in [
        (1_000, "CreateTrail", "+ cloudtrail trail"),
        (1_001, "PutReportDefinition", "+ cost and usage report"),
        (1_002, "CreateBudget", "+ budget aws-harden-monthly-s1002"),
    ] {
        let plan = acct.write_plan(
            &format!("b-{seed}.toml"),
            &with_suffix(&every_control_plan(), seed),
        );
        acct.proxy.clear();
        acct.proxy
            .fail_on(common::proxy::Which::Every(op), Fault::ServerError);
        let run = acct
            .run_with(&["-f", &plan, "--yes"], &[("AWS_MAX_ATTEMPTS", "2")])
            .await;
        acct.proxy.stop_faults();
        assert_eq!(run.code, 1, "{op}\n{}", run.all());
        check_stopped_run(&run).unwrap_or_else(|e| panic!("{op}: {e}"));
        let failed = run
            .stdout
            .split("Failed:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{op}: no failed change\n{}", run.all()));
        assert!(
            failed.trim_start().starts_with(names),
            "{op}\n{}",
            run.all()
        );
        assert!(names_what_failed(failed), "{op}\n{}", run.all());
        let writes = acct.proxy.writes();
        let at = writes.iter().position(|c| c.operation == op).unwrap();
        assert!(
            writes[at..].iter().all(|c| c.operation == op),
            "{op}: written after the failure: {writes:?}"
        );
        assert_eq!(writes.len() - at, 2, "{op}: two attempts: {writes:?}");
        if op == "PutReportDefinition" {
            let name = format!("aws-harden-cur-s{seed}");
            assert!(
                stub.report(&name).is_none(),
                "a refused call changed the stub"
            );
        }

        let next = acct.run(&["-f", &plan, "--yes"]).await;
        assert_eq!(next.code, 0, "{op}\n{}", next.all());
        let left = pending(&acct, &plan).await.unwrap();
        assert!(
            left.iter().all(|c| c.ends_with("\"manual\"")),
            "{op}: {left:?}"
        );
    }
}
