//! `--org`: every account of an AWS Organization, end to end against moto, which serves
//! Organizations, `CreateAccount` (with its OrganizationAccountAccessRole) and AssumeRole into
//! member accounts, each with its own state. moto checks neither that a role exists nor whom it
//! trusts, so a denied AssumeRole is the proxy's answer (STS API reference, AssumeRole: 403
//! AccessDenied).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_organizations::types::OrganizationFeatureSet;
use common::Account;
use serde_json::Value;

/// The member plan in the test regions (the regional controls are tested in every region in
/// tests/e2e/regional.rs).
fn member_plan() -> String {
    common::in_test_regions(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plans/member.toml"))
            .unwrap(),
    )
}

/// A plan with one cheap control, for the tests about which accounts run.
const SMALL: &str = "version = 1\nhome_region = \"us-east-1\"\n[password_policy]\n";

/// An Organization made by `acct` (its management account), two OUs deep: OU A with A1 below
/// it, and OU B; `members` accounts spread over the root, A, A1 and B. Returns the member IDs and
/// the OU IDs (A, A1, B).
pub(crate) struct Org {
    pub(crate) members: Vec<String>,
    ou_a: String,
    ou_a1: String,
    pub(crate) client: aws_sdk_organizations::Client,
    root: String,
}

pub(crate) async fn organization(acct: &Account, members: usize) -> Org {
    let client = aws_sdk_organizations::Client::new(&acct.sdk());
    client
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .expect("moto's CreateOrganization");
    let root = client.list_roots().send().await.unwrap().roots.unwrap()[0]
        .id
        .clone()
        .unwrap();
    let ou = |parent: String, name: &'static str| {
        let client = client.clone();
        async move {
            client
                .create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .unwrap()
                .organizational_unit
                .unwrap()
                .id
                .unwrap()
        }
    };
    let ou_a = ou(root.clone(), "A").await;
    let ou_a1 = ou(ou_a.clone(), "A1").await;
    let ou_b = ou(root.clone(), "B").await;
    let mut org = Org {
        members: Vec::new(),
        ou_a,
        ou_a1,
        client,
        root,
    };
    for i in 0..members {
        let parent = [None, Some(&org.ou_a), Some(&org.ou_a1), Some(&ou_b)][i % 4].cloned();
        org.add(i, parent).await;
    }
    org
}

impl Org {
    async fn add(&mut self, i: usize, parent: Option<String>) -> String {
        let status = self
            .client
            .create_account()
            .email(format!("member{i}@example.com"))
            .account_name(format!("member-{i}"))
            .send()
            .await
            .expect("moto's CreateAccount")
            .create_account_status
            .unwrap();
        let id = status.account_id.expect("moto answers with the account ID");
        if let Some(parent) = parent {
            self.client
                .move_account()
                .account_id(&id)
                .source_parent_id(&self.root)
                .destination_parent_id(parent)
                .send()
                .await
                .expect("moto's MoveAccount");
        }
        self.members.push(id.clone());
        id
    }
}

/// The accounts of an `--org --output json` document: account ID -> result.
pub(crate) fn results(run: &common::Run) -> BTreeMap<String, String> {
    let v: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.all()));
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account_id"].as_str().unwrap().to_string(),
                a["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every operation of an `--org --output json` run (the management account's and each
/// account's, as `service:Operation`), and those missing from the table `aws-harden policy
/// --plan-only` is built from.
pub(crate) fn operations_and_missing_from_the_table(
    run: &common::Run,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut ops: Vec<&Value> = doc["stats"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    for a in doc["accounts"].as_array().unwrap() {
        ops.extend(a["document"]["stats"]["operations"].as_array().unwrap());
    }
    let ops: Vec<(&str, &str)> = ops
        .iter()
        .map(|o| {
            (
                o["service"].as_str().unwrap(),
                o["operation"].as_str().unwrap(),
            )
        })
        .collect();
    let name = |(s, o): &(&str, &str)| format!("{s}:{o}");
    let missing = ops
        .iter()
        .filter(|(s, o)| aws_harden::aws::permissions::action_for(s, o).is_none())
        .map(name)
        .collect();
    (ops.iter().map(name).collect(), missing)
}

/// `--org --plan` again, after an apply: every one of `accounts` in line (exit 0), nothing
/// written.
pub(crate) async fn assert_org_in_line(acct: &Account, plan: &str, accounts: usize) {
    acct.proxy.clear();
    let again = acct
        .run(&["--org", "-f", plan, "--plan", "--jobs", "4"])
        .await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
    let line = format!("{accounts} accounts: {accounts} in line, 0 with changes, 0 failed.");
    assert!(again.stdout.contains(&line), "{}", again.all());
}

/// The accounts' errors in an `--org --output json` document (for failure messages), or the
/// whole run when it is not one.
pub(crate) fn errors(run: &common::Run) -> String {
    match serde_json::from_str::<Value>(&run.stdout) {
        Ok(v) => format!(
            "exit {}: {:?}\n{}",
            run.code,
            v["accounts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a["error"].as_str())
                .collect::<Vec<_>>(),
            run.stderr
        ),
        Err(_) => run.all(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organization_of_six_is_planned_applied_then_in_line_and_drift_is_one_accounts() {
    let acct = Account::new().await;
    let org = organization(&acct, 6).await;
    acct.warm_up_members(&org.members).await;
    let plan = acct.write_plan("member.toml", &member_plan());

    let dry = acct
        .run(&[
            "--org", "-f", &plan, "--plan", "--output", "json", "--jobs", "4",
        ])
        .await;
    assert_eq!(dry.code, 2, "{}", errors(&dry));
    let found = results(&dry);
    assert_eq!(
        found.keys().cloned().collect::<BTreeSet<_>>(),
        org.members.iter().cloned().collect(),
        "every member, not the management account"
    );
    assert!(found.values().all(|r| r == "changes"), "{found:?}");
    // Every field the README's Organizations section documents for `--output json`.
    let doc: Value = serde_json::from_str(&dry.stdout).unwrap();
    for key in [
        "mode",
        "management_account_id",
        "caller",
        "plan_file",
        "accounts",
        "summary",
        "stats",
    ] {
        assert!(doc.get(key).is_some(), "{key}: {doc}");
    }
    for account in doc["accounts"].as_array().unwrap() {
        for key in ["account_id", "name", "result", "document"] {
            assert!(account.get(key).is_some(), "{key}: {account}");
        }
        assert_eq!(account["document"]["account_id"], account["account_id"]);
    }
    // Every read of the dry run, the management account's and each member's, has its IAM action
    // in the table `aws-harden policy --plan-only` is built from.
    let (ops, missing) = operations_and_missing_from_the_table(&dry);
    assert!(
        missing.is_empty(),
        "not in src/aws/permissions.rs: {missing:?}"
    );
    assert!(ops.contains("Organizations:ListAccounts"), "{ops:?}");
    // Off a terminal, progress is one line per finished account on stderr.
    assert!(
        dry.stderr.contains("Observing 6 accounts..."),
        "{}",
        dry.stderr
    );
    for id in &org.members {
        assert!(
            dry.stderr.contains(&format!("  account {id} (member-")),
            "{}",
            dry.stderr
        );
    }
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
    // One role session per account, named for aws-harden and the caller.
    let assumed: Vec<_> = acct
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 6);
    assert!(assumed.iter().all(|c| {
        c.params
            .iter()
            .any(|(k, v)| k == "RoleSessionName" && v == "aws-harden@aws-harden-test")
    }));

    acct.proxy.clear();
    let applied = acct
        .run(&["--org", "-f", &plan, "--yes", "--jobs", "4"])
        .await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    for id in &org.members {
        assert!(
            applied.stdout.contains(&format!("== Account {id} (")),
            "{}",
            applied.all()
        );
    }
    assert!(
        applied
            .stdout
            .contains("6 accounts: 0 in line, 6 changed, 0 failed."),
        "{}",
        applied.all()
    );
    // Each account got its own trail, into its own bucket named with its own ID (asked of moto
    // in each account).
    let creates = acct
        .proxy
        .writes()
        .into_iter()
        .filter(|c| c.operation == "CreateTrail")
        .count();
    assert_eq!(creates, 6);
    for id in &org.members {
        let trails = aws_sdk_cloudtrail::Client::new(&acct.member_sdk(id).await)
            .describe_trails()
            .send()
            .await
            .unwrap()
            .trail_list
            .unwrap_or_default();
        assert!(
            trails.iter().any(|t| t.s3_bucket_name.as_deref()
                == Some(&format!("aws-harden-trail-{id}-us-east-1"))),
            "{id}: {trails:?}"
        );
    }

    assert_org_in_line(&acct, &plan, 6).await;

    // Drift in one member, made by hand: reported for that account only.
    let drifted = &org.members[5];
    aws_sdk_iam::Client::new(&acct.member_sdk(drifted).await)
        .update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
    let dry = acct
        .run(&[
            "--org", "-f", &plan, "--plan", "--output", "json", "--jobs", "4",
        ])
        .await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    let found = results(&dry);
    let changed: Vec<&String> = found
        .iter()
        .filter(|(_, r)| *r != "in_line")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(changed, [drifted], "{found:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_role_stops_only_its_account_and_names_the_role() {
    let acct = Account::new().await;
    let org = organization(&acct, 6).await;
    let plan = acct.write_plan("small.toml", SMALL);
    let denied = org.members[3].clone();
    let needle = format!("{denied}%3Arole");
    acct.proxy.hook(Box::new(move |req| {
        (req.operation == "AssumeRole" && req.body_text().contains(&needle)).then(|| {
            common::proxy::query_error(
                403,
                "AccessDenied",
                "User is not authorized to perform: sts:AssumeRole",
            )
        })
    }));
    let run = acct
        .run(&[
            "--org", "-f", &plan, "--plan", "--output", "json", "--jobs", "4",
        ])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    let found = results(&run);
    assert_eq!(found.len(), 6);
    assert_eq!(found[&denied], "error");
    assert_eq!(
        found.values().filter(|r| *r == "changes").count(),
        5,
        "the others go on: {found:?}"
    );
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let error = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == denied.as_str())
        .unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    for part in [
        format!("arn:aws:iam::{denied}:role/OrganizationAccountAccessRole"),
        "AccessDenied".into(),
        "trust policy".into(),
    ] {
        assert!(error.contains(&part), "{part}: {error}");
    }
}

/// The accounts each of `--shard 1/3`, `2/3` and `3/3` runs.
async fn shards(acct: &Account, plan: &str) -> Vec<BTreeSet<String>> {
    let mut out = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let run = acct
            .run(&[
                "--org", "-f", plan, "--plan", "--output", "json", "--shard", &shard,
            ])
            .await;
        // A shard the hash leaves empty is refused as such (exit 1, "no account selected").
        if run.code == 1 && run.stderr.contains("no account selected") {
            out.push(BTreeSet::new());
            continue;
        }
        assert!(run.code == 2 || run.code == 0, "{}", run.all());
        out.push(results(&run).into_keys().collect::<BTreeSet<String>>());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn shards_cover_every_account_once_and_keep_their_accounts_when_one_is_added() {
    let acct = Account::new().await;
    let mut org = organization(&acct, 6).await;
    let plan = acct.write_plan("small.toml", SMALL);
    let before = shards(&acct, &plan).await;
    let all: BTreeSet<String> = org.members.iter().cloned().collect();
    assert_eq!(
        before.iter().map(|s| s.len()).sum::<usize>(),
        6,
        "{before:?}"
    );
    assert_eq!(
        before.iter().flatten().cloned().collect::<BTreeSet<_>>(),
        all
    );

    let added = org.add(6, None).await;
    let after = shards(&acct, &plan).await;
    assert_eq!(after.iter().map(|s| s.len()).sum::<usize>(), 7, "{after:?}");
    for (k, (b, a)) in before.iter().zip(&after).enumerate() {
        let mut expected = b.clone();
        if a.contains(&added) {
            expected.insert(added.clone());
        }
        assert_eq!(a, &expected, "shard {}", k + 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ou_covers_itself_and_the_ous_below_it() {
    let acct = Account::new().await;
    let org = organization(&acct, 8).await;
    let plan = acct.write_plan("small.toml", SMALL);
    let run = acct
        .run(&[
            "--org", "--ou", &org.ou_a, "-f", &plan, "--plan", "--output", "json",
        ])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    // Accounts 1 and 5 went to A, 2 and 6 to A1 (see `organization`).
    let expected: BTreeSet<String> = [1, 2, 5, 6]
        .iter()
        .map(|&i| org.members[i].clone())
        .collect();
    assert_eq!(results(&run).into_keys().collect::<BTreeSet<_>>(), expected);
    let _ = &org.ou_a1;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_with_an_admin_user_or_a_bad_account_id_fails_before_any_call() {
    let acct = Account::new().await;
    let plan = acct.write_plan("admin.toml", common::IAM_ONLY);
    let run = acct.run(&["--org", "-f", &plan, "--plan"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("[admin_user]"), "{}", run.all());
    assert!(run.stderr.contains("admin.toml"), "{}", run.all());
    let small = acct.write_plan("small.toml", SMALL);
    let run = acct
        .run(&["--org", "-f", &small, "--plan", "--accounts", "12345"])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("--accounts: \"12345\""),
        "{}",
        run.all()
    );
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn at_a_terminal_every_account_is_shown_then_one_question_is_asked_for_all() {
    let acct = Account::new().await;
    let org = organization(&acct, 3).await;
    let plan = acct.write_plan("small.toml", SMALL);
    let (code, out, asked) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["--org", "-f", &plan], &[]);
        let asked = pty.answer(
            &[("Apply these changes to 3 accounts?", "y")],
            "changed, 0 failed.",
        );
        let (code, out) = pty.wait();
        (code, out, asked)
    });
    assert_eq!(code, 0, "{out}");
    assert_eq!(asked.len(), 1, "one question for all accounts: {asked:?}");
    // Every account's changes come before the question, then each account's result.
    let question = out.find("Apply these changes to 3 accounts?").unwrap();
    for id in &org.members {
        let shown = out.find(&format!("== Account {id} (")).unwrap();
        assert!(shown < question, "{out}");
        assert!(
            out[question..].contains(&format!("== Account {id} (")),
            "{out}"
        );
    }
    assert!(
        out.contains("3 accounts: 0 in line, 3 changed, 0 failed."),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_every_account_after_its_call_in_flight() {
    let acct = Account::new().await;
    organization(&acct, 3).await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[password_policy]\n[s3_public_access]\n",
    );
    // The first account's first write is held at the proxy until Ctrl-C has been seen.
    let gate = acct
        .proxy
        .hold(common::proxy::Which::Nth("UpdateAccountPasswordPolicy", 1));
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["--org", "-f", &plan, "--yes", "--jobs", "1"], &[]);
        gate.wait_arrived(common::pty::TIMEOUT);
        pty.send("\u{3}");
        pty.expect("Interrupted: every account stops after its call in flight.");
        gate.release();
        pty.wait()
    });
    assert_eq!(code, 130, "{out}");
    let writes: Vec<String> = acct
        .proxy
        .writes()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        writes,
        ["UpdateAccountPasswordPolicy"],
        "the call in flight finished, nothing after it in any account"
    );
    // Each account's report says what was done and what was not.
    assert_eq!(out.matches("Apply interrupted:").count(), 3, "{out}");
    assert_eq!(out.matches("interrupted  ").count(), 3, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sarif_is_one_run_with_each_account_and_junit_a_suite_per_account_and_control() {
    let acct = Account::new().await;
    let org = organization(&acct, 3).await;
    let plan = acct.write_plan("small.toml", SMALL);
    let denied = org.members[2].clone();
    let needle = format!("{denied}%3Arole");
    acct.proxy.hook(Box::new(move |req| {
        (req.operation == "AssumeRole" && req.body_text().contains(&needle)).then(|| {
            common::proxy::query_error(403, "AccessDenied", "not authorized to assume the role")
        })
    }));

    let run = acct
        .run(&["--org", "-f", &plan, "--plan", "--output", "sarif"])
        .await;
    assert_eq!(run.code, 1, "an account failed: {}", run.all());
    let log: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        log["runs"].as_array().unwrap().len(),
        1,
        "one run for all accounts"
    );
    let results = log["runs"][0]["results"].as_array().unwrap();
    let accounts: BTreeSet<&str> = results
        .iter()
        .map(|r| r["properties"]["account"].as_str().unwrap())
        .collect();
    assert_eq!(
        accounts,
        [org.members[0].as_str(), org.members[1].as_str()].into(),
        "the two checked accounts"
    );
    let prints: BTreeSet<&str> = results
        .iter()
        .map(|r| {
            r["partialFingerprints"]["primaryLocationLineHash"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        prints.len(),
        results.len(),
        "one alert per account and resource"
    );

    // --sarif-dir: the same run written as a file (one category, so one file), nothing on
    // stdout; with another output it is refused before any call.
    let dir = acct.dir.path().join("sarif");
    let dir_arg = dir.to_str().unwrap();
    let base = ["--org", "-f", &plan, "--plan", "--sarif-dir", dir_arg];
    let run = acct
        .run(&[&base[..], &["--output", "sarif"]].concat())
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["aws-harden.sarif"]);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("aws-harden.sarif")).unwrap())
            .unwrap();
    assert_eq!(
        file["runs"][0]["results"].as_array().unwrap().len(),
        results.len()
    );
    acct.proxy.clear();
    let run = acct.run(&[&base[..], &["--output", "json"]].concat()).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("--sarif-dir"), "{}", run.all());
    assert!(acct.proxy.calls().is_empty(), "{}", acct.proxy.describe());

    let run = acct
        .run(&["--org", "-f", &plan, "--plan", "--output", "junit"])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    let suites: Vec<String> = run
        .stdout
        .split("<testsuite ")
        .skip(1)
        .map(|s| {
            s.split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    // In account-ID order, as the accounts run.
    let mut expected: Vec<String> = org
        .members
        .iter()
        .map(|m| match m == &denied {
            true => format!("{m}/aws-harden"),
            false => format!("{m}/password_policy"),
        })
        .collect();
    expected.sort();
    assert_eq!(suites, expected, "{}", run.stdout);
    assert!(run.stdout.contains("<error"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_from_organizations_and_sts_is_retried() {
    use common::proxy::{Fault, Which};
    let acct = Account::new().await;
    organization(&acct, 2).await;
    let plan = acct.write_plan("small.toml", SMALL);
    acct.proxy
        .fail_on(Which::Nth("ListAccounts", 1), Fault::Throttle);
    acct.proxy
        .fail_on(Which::Nth("AssumeRole", 1), Fault::Throttle);
    acct.proxy
        .fail_on(Which::Nth("AssumeRole", 2), Fault::ServerError);
    let run = acct
        .run(&["--org", "-f", &plan, "--plan", "--output", "json"])
        .await;
    assert_eq!(run.code, 2, "{}", errors(&run));
    assert!(
        results(&run).values().all(|r| r == "changes"),
        "{}",
        run.stdout
    );
    let faulted: Vec<String> = acct
        .proxy
        .faulted()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(faulted, ["ListAccounts", "AssumeRole", "AssumeRole"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_missing_from_every_member_fails_each_account_naming_the_role() {
    let acct = Account::new().await;
    let org = organization(&acct, 3).await;
    let plan = acct.write_plan("small.toml", SMALL);
    // moto hands out a session for any role name; AWS answers AccessDenied when the role does not
    // exist (STS API reference, AssumeRole errors; it does not say which of "missing" or "not
    // trusted" it was). Only OrganizationAccountAccessRole exists in these members.
    acct.proxy.hook(Box::new(|req| {
        (req.operation == "AssumeRole"
            && !req
                .body_text()
                .contains("role%2FOrganizationAccountAccessRole"))
        .then(|| {
            common::proxy::query_error(
                403,
                "AccessDenied",
                "User is not authorized to perform: sts:AssumeRole",
            )
        })
    }));
    let run = acct
        .run(&[
            "--org",
            "-f",
            &plan,
            "--plan",
            "--output",
            "json",
            "--role-name",
            "AWSControlTowerExecution",
        ])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    for a in v["accounts"].as_array().unwrap() {
        let id = a["account_id"].as_str().unwrap();
        assert!(org.members.iter().any(|m| m == id));
        assert_eq!(a["result"], "error");
        let error = a["error"].as_str().unwrap();
        for part in [
            format!("arn:aws:iam::{id}:role/AWSControlTowerExecution"),
            format!("Check that the role exists in account {id}"),
        ] {
            assert!(error.contains(&part), "{part}: {error}");
        }
    }
    // Nothing was read in any member: every session was refused.
    assert!(
        acct.proxy
            .calls()
            .iter()
            .all(|c| ["sts", "organizations"].contains(&c.service.as_str())),
        "{:?}",
        acct.proxy.counts()
    );
}

/// Only ACTIVE accounts are run (Organizations API reference, Account: `State` is ACTIVE,
/// SUSPENDED, PENDING_CLOSURE or CLOSED; moto makes every account ACTIVE, so the answer is amended
/// for two members), and `--external-id` goes with every AssumeRole (STS API reference).
#[tokio::test(flavor = "multi_thread")]
async fn only_active_accounts_are_run_and_the_external_id_goes_with_every_assume_role() {
    let acct = Account::new().await;
    let org = organization(&acct, 5).await;
    let plan = acct.write_plan("small.toml", SMALL);
    let (suspended, closing) = (org.members[1].clone(), org.members[3].clone());
    let (s, c) = (suspended.clone(), closing.clone());
    acct.proxy.amend_json(
        "ListAccounts",
        Box::new(move |doc| {
            for a in doc["Accounts"].as_array_mut().into_iter().flatten() {
                let state = match a["Id"].as_str() {
                    Some(id) if id == s => "SUSPENDED",
                    Some(id) if id == c => "PENDING_CLOSURE",
                    _ => continue,
                };
                a["State"] = state.into();
                a["Status"] = "SUSPENDED".into();
            }
        }),
    );
    let run = acct
        .run(&[
            "--org",
            "-f",
            &plan,
            "--plan",
            "--output",
            "json",
            "--external-id",
            "ext-1234",
        ])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    let found = results(&run);
    let expected: BTreeSet<String> = org
        .members
        .iter()
        .filter(|m| **m != suspended && **m != closing)
        .cloned()
        .collect();
    assert_eq!(found.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let assumed: Vec<_> = acct
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 3, "{assumed:?}");
    for call in &assumed {
        assert!(
            call.params
                .iter()
                .any(|(k, v)| k == "ExternalId" && v == "ext-1234"),
            "{call:?}"
        );
        for skipped in [&suspended, &closing] {
            assert!(
                !call
                    .params
                    .iter()
                    .any(|(_, v)| v.contains(skipped.as_str())),
                "{call:?}"
            );
        }
    }
}
