//! CI reports: `--output markdown` and `--output junit` on a fresh and on a hardened account,
//! parsed back; GitHub's job summary (`GITHUB_STEP_SUMMARY`) appended to, or left alone with
//! `--no-step-summary`.

use crate::common;

use common::{Account, IAM_ONLY, assert_no_writes};
use quick_xml::Reader;
use quick_xml::events::Event;

/// A JUnit document's test cases: (suite, case, failed).
fn junit_cases(xml: &str) -> Vec<(String, String, bool)> {
    let mut reader = Reader::from_str(xml);
    let (mut suite, mut cases) = (String::new(), Vec::new());
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let name = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == b"name")
                    .map(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned()
                    });
                match e.name().as_ref() {
                    b"testsuite" => suite = name.unwrap(),
                    b"testcase" => cases.push((suite.clone(), name.unwrap(), false)),
                    b"failure" => cases.last_mut().expect("a failure in a test case").2 = true,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    cases
}

#[tokio::test(flavor = "multi_thread")]
async fn markdown_and_junit_on_a_fresh_then_a_hardened_account() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);

    let md = acct
        .run(&["--plan", "--output", "markdown", "-f", &plan])
        .await;
    assert_eq!(md.code, 2, "{}", md.all());
    assert_no_writes(&acct, &md);
    for expected in [
        "| account | control | resource | action | CIS |".to_string(),
        format!(
            "| {} | admin_group | iam group \"Administrators\" | + create | 1.14 |",
            acct.id
        ),
        format!(
            "| {} | password_policy | account password policy | + create | 1.7, 1.8 |",
            acct.id
        ),
        "Plan: 5 to create, 2 to change, 0 to delete, 0 manual actions.".to_string(),
    ] {
        assert!(
            md.stdout.contains(&expected),
            "missing {expected:?}\n{}",
            md.all()
        );
    }

    let junit = acct
        .run(&["--plan", "--output", "junit", "-f", &plan])
        .await;
    assert_eq!(junit.code, 2, "{}", junit.all());
    let before = junit_cases(&junit.stdout);
    let suites: std::collections::BTreeSet<&str> =
        before.iter().map(|(s, _, _)| s.as_str()).collect();
    for control in ["admin_group", "admin_user", "password_policy"] {
        assert!(
            suites.contains(format!("{}/{control}", acct.id).as_str()),
            "{suites:?}"
        );
    }
    assert!(
        before
            .iter()
            .any(|(_, case, failed)| case == "account password policy" && *failed),
        "{before:?}"
    );

    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    acct.proxy.clear();

    let junit = acct
        .run(&["--plan", "--output", "junit", "-f", &plan])
        .await;
    assert_eq!(junit.code, 0, "{}", junit.all());
    assert_no_writes(&acct, &junit);
    let after = junit_cases(&junit.stdout);
    // The same checks, now all passed.
    let names = |cases: &[(String, String, bool)]| -> Vec<(String, String)> {
        cases
            .iter()
            .map(|(s, c, _)| (s.clone(), c.clone()))
            .collect()
    };
    assert_eq!(names(&after), names(&before));
    assert!(after.iter().all(|(_, _, failed)| !failed), "{after:?}");

    let md = acct
        .run(&["--plan", "--output", "markdown", "-f", &plan])
        .await;
    assert_eq!(md.code, 0, "{}", md.all());
    assert!(!md.stdout.contains("| account |"), "{}", md.all());
    assert!(
        md.stdout
            .contains("No changes. The account matches the plan."),
        "{}",
        md.all()
    );
}

/// Validate a SARIF log against the SARIF 2.1.0 schema (OASIS; the copy shipped in the
/// serde-sarif 0.8.0 crate, kept in tests/schemas/).
fn assert_valid_sarif(log: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schemas/sarif-schema-2.1.0.json")).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("sarif.json", schema).unwrap();
    let id = compiler.compile("sarif.json", &mut schemas).unwrap();
    if let Err(e) = schemas.validate(log, id) {
        panic!("not valid SARIF 2.1.0: {e:#}\n{log:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sarif_on_a_fresh_then_a_hardened_account() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    let table_line = |name: &str| {
        IAM_ONLY
            .lines()
            .position(|l| l.trim() == format!("[{name}]"))
            .unwrap()
            + 1
    };

    let run = acct
        .run(&["--plan", "--output", "sarif", "-f", &plan])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert_no_writes(&acct, &run);
    let log: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_valid_sarif(&log);
    let results = log["runs"][0]["results"].as_array().unwrap();
    let group = results
        .iter()
        .find(|r| r["ruleId"] == "admin_group/iam_group")
        .unwrap_or_else(|| panic!("{log:#}"));
    assert_eq!(group["level"], "error");
    let location = &group["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], plan.as_str());
    assert_eq!(
        location["region"]["startLine"].as_u64(),
        Some(table_line("admin_group") as u64)
    );
    assert_eq!(group["properties"]["account"], acct.id.as_str());
    // One fingerprint per resource.
    let prints: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|r| {
            r["partialFingerprints"]["primaryLocationLineHash"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(prints.len(), results.len());

    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let run = acct
        .run(&["--plan", "--output", "sarif", "-f", &plan])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let log: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_valid_sarif(&log);
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]), "{log:#}");
    assert!(
        !log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_job_summary_is_appended_to_whatever_the_output_unless_told_not_to() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    let summary = acct.path("step-summary.md");
    std::fs::write(&summary, "an earlier step's summary\n").unwrap();
    let summary_env = summary.display().to_string();

    let run = acct
        .run_with(
            &["--plan", "--output", "json", "-f", &plan],
            &[("GITHUB_STEP_SUMMARY", &summary_env)],
        )
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    // stdout is still the JSON document alone.
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(doc["pending"], true);
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(
        written.starts_with("an earlier step's summary\n"),
        "{written}"
    );
    assert!(
        written.contains(&format!(
            "| {} | admin_user | iam user \"admin\" | + create |",
            acct.id
        )),
        "{written}"
    );

    let run = acct
        .run_with(
            &["--plan", "--no-step-summary", "-f", &plan],
            &[("GITHUB_STEP_SUMMARY", &summary_env)],
        )
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), written);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_format_cannot_apply_with_a_question() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    for format in ["markdown", "junit", "sarif"] {
        let run = acct.run(&["--output", format, "-f", &plan]).await;
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(
            run.stderr
                .contains(&format!("--output {format} shows no changes to confirm")),
            "{}",
            run.all()
        );
    }
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

/// Every operation of a `--plan` (as the binary records them, bound to the proxy's own count) has
/// a row in the permissions table, and `aws-harden policy --plan-only` grants exactly its actions.
#[tokio::test(flavor = "multi_thread")]
async fn the_plan_only_policy_covers_every_read_of_a_dry_run() {
    use aws_harden::aws::permissions::{READS, action_for};
    let acct = Account::new().await;
    common::CurStub::install(&acct.proxy);
    let plan = acct.write_plan("baseline.toml", &common::baseline());
    let mut seen = std::collections::BTreeSet::new();
    for step in ["fresh", "hardened"] {
        if step == "hardened" {
            let applied = acct.run(&["-f", &plan, "--yes"]).await;
            assert_eq!(applied.code, 0, "{}", applied.all());
        }
        acct.proxy.clear();
        let run = acct.run(&["--plan", "--output", "json", "-f", &plan]).await;
        assert_eq!(run.code, 2, "{step}: {}", run.all());
        assert_no_writes(&acct, &run);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let ops = doc["stats"]["operations"].as_array().unwrap();
        // The binary's own record and the proxy's are the same calls: none escapes the table
        // below, and none is counted that was never sent (a bucket read cancelled by its sibling's
        // NoSuchBucket once made 51 against 45). No faults here, so one attempt per call.
        let proxied = acct.proxy.calls().len();
        assert_eq!(
            (
                ops.len(),
                doc["stats"]["attempts"].as_u64().unwrap() as usize
            ),
            (proxied, proxied),
            "{step}: the binary recorded (calls, attempts), the proxy saw {proxied}\n{}",
            acct.proxy.describe()
        );
        let mut missing = Vec::new();
        for op in ops {
            let service = op["service"].as_str().unwrap();
            let operation = op["operation"].as_str().unwrap();
            if action_for(service, operation).is_none() {
                missing.push(format!("{service}:{operation}"));
            }
            seen.insert(format!("{service}:{operation}"));
        }
        assert!(
            missing.is_empty(),
            "{step}: not in src/aws/permissions.rs: {missing:?}"
        );
    }
    assert!(seen.len() > 20, "{seen:?}");

    let printed = acct.run(&["policy", "--plan-only"]).await;
    assert_eq!(printed.code, 0, "{}", printed.all());
    let policy: serde_json::Value = serde_json::from_str(&printed.stdout).unwrap();
    let mut granted: std::collections::BTreeSet<&str> = policy["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    // The second statement: sts:AssumeRoot, only with the audit task policy.
    assert_eq!(policy["Statement"][1]["Action"], "sts:AssumeRoot");
    assert!(
        policy["Statement"][1]["Condition"]["StringLike"]["sts:TaskPolicyArn"]
            .as_str()
            .unwrap()
            .ends_with("/IAMAuditRootUserCredentials"),
        "{policy}"
    );
    granted.insert("sts:AssumeRoot");
    let table: std::collections::BTreeSet<&str> = READS.iter().filter_map(|(_, _, a)| *a).collect();
    assert_eq!(granted, table);
    assert_eq!(policy["Statement"][0]["Effect"], "Allow");
}
