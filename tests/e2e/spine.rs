//! End-to-end: the real binary against moto, through the recording proxy.

use crate::common;

use common::{Account, CurStub, IAM_ONLY, assert_no_writes, baseline};

#[tokio::test(flavor = "multi_thread")]
async fn fresh_account_plan_apply_then_matches_with_zero_writes() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);

    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    for expected in [
        "+ iam group \"Administrators\"",
        "+ iam group policy \"Administrators/aws-harden-require-mfa\"",
        "+ iam user \"admin\"",
        "+ iam login profile \"admin\"",
        "+ account password policy",
        "Plan: 5 to create, 2 to change, 0 to delete, 0 manual actions.",
    ] {
        assert!(
            dry.stdout.contains(expected),
            "missing {expected:?}\n{}",
            dry.all()
        );
    }
    assert!(
        dry.stdout.contains(&format!("Account {}", acct.id)),
        "{}",
        dry.all()
    );
    assert!(
        !acct.proxy.calls().is_empty(),
        "the proxy saw no calls at all"
    );
    assert_no_writes(&acct, &dry);

    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(
        applied
            .stdout
            .contains("Apply complete: 5 created, 2 changed, 0 deleted"),
        "{}",
        applied.all()
    );
    assert_eq!(acct.proxy.writes().len(), 7, "{:?}", acct.proxy.writes());

    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(
        again
            .stdout
            .contains("No changes. The account matches the plan."),
        "{}",
        again.all()
    );
    assert_no_writes(&acct, &again);

    acct.proxy.clear();
    let second_apply = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(second_apply.code, 0, "{}", second_apply.all());
    assert_no_writes(&acct, &second_apply);

    // The real thing exists in moto.
    let iam = acct.iam();
    let groups = iam
        .list_groups_for_user()
        .user_name("admin")
        .send()
        .await
        .unwrap();
    assert!(
        groups
            .groups
            .iter()
            .any(|g| g.group_name == "Administrators")
    );
    let attached = iam
        .list_attached_group_policies()
        .group_name("Administrators")
        .send()
        .await
        .unwrap();
    assert!(
        attached
            .attached_policies()
            .iter()
            .any(|p| p.policy_name() == Some("AdministratorAccess"))
    );
    let policy = iam
        .get_account_password_policy()
        .send()
        .await
        .unwrap()
        .password_policy
        .unwrap();
    assert_eq!(policy.minimum_password_length, Some(14));
    assert_eq!(policy.password_reuse_prevention, Some(24));
}

#[tokio::test(flavor = "multi_thread")]
async fn console_drift_is_reported_and_repaired() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);

    // Drift, made by hand as if in the console.
    let iam = acct.iam();
    iam.delete_group_policy()
        .group_name("Administrators")
        .policy_name("aws-harden-require-mfa")
        .send()
        .await
        .unwrap();
    iam.remove_user_from_group()
        .group_name("Administrators")
        .user_name("admin")
        .send()
        .await
        .unwrap();
    iam.delete_account_password_policy().send().await.unwrap();

    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    for expected in [
        "+ iam group policy \"Administrators/aws-harden-require-mfa\"",
        "~ iam user \"admin\"\n      groups: (none) -> \"Administrators\"",
        "+ account password policy",
        "Plan: 2 to create, 1 to change",
    ] {
        assert!(
            dry.stdout.contains(expected),
            "missing {expected:?}\n{}",
            dry.all()
        );
    }
    assert!(
        !dry.stdout.contains("login profile"),
        "an existing password must never be reset\n{}",
        dry.all()
    );
    assert_no_writes(&acct, &dry);

    let fix = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(fix.code, 0, "{}", fix.all());
    let after = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(after.code, 0, "{}", after.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_field_is_shown_before_and_after() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(8)
        .password_reuse_prevention(24)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .allow_users_to_change_password(true)
        .send()
        .await
        .unwrap();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout
            .contains("~ account password policy\n      minimum_length: \"8\" -> \"14\"\n"),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout
            .contains("Plan: 0 to create, 1 to change, 0 to delete, 0 manual actions."),
        "{}",
        dry.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_write_check_catches_a_write() {
    // The zero-write proofs above rest on the proxy classifying writes. Send a write through it
    // on purpose and show the check fails.
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_no_writes(&acct, &dry);
    let via_proxy = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&acct.sdk())
            .endpoint_url(&acct.proxy.url)
            .build(),
    );
    via_proxy
        .create_group()
        .group_name("sneaky")
        .send()
        .await
        .unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_no_writes(&acct, &dry)
    }));
    assert!(
        caught.is_err(),
        "a CreateGroup through the proxy was not counted as a write"
    );
    assert_eq!(acct.proxy.writes()[0].operation, "CreateGroup");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_has_the_documented_fields_and_no_secrets() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    let dry = acct.run(&["--plan", "-f", &plan, "--output", "json"]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    let doc: serde_json::Value =
        serde_json::from_str(&dry.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["account_id"], acct.id.as_str());
    assert_eq!(doc["mode"], "plan");
    assert_eq!(doc["pending"], true);
    assert_eq!(doc["summary"]["create"], 5);
    assert_eq!(doc["stats"]["writes"], 0);
    let first = &doc["changes"][0];
    assert_eq!(first["control"], "admin_group");
    assert_eq!(first["action"], "create");
    assert_eq!(first["resource"], "iam group \"Administrators\"");
    assert_eq!(first["cis"][0], "1.14");

    let applied = acct.run(&["-f", &plan, "--yes", "--output", "json"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let doc: serde_json::Value = serde_json::from_str(&applied.stdout).expect("one JSON document");
    assert_eq!(doc["result"]["succeeded"], true);
    assert_eq!(doc["result"]["summary"]["create"], 5);
    assert_eq!(doc["stats"]["writes"], 7);
    // The generated password went to a 0600 file, and nowhere else.
    let file = acct.path(&format!("aws-harden-{}-admin-password.txt", acct.id));
    let password = std::fs::read_to_string(&file)
        .expect("password file")
        .trim()
        .to_string();
    assert!(password.len() >= 24);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!applied.stdout.contains(&password) && !applied.stderr.contains(&password));
    assert!(
        applied.stderr.contains(&file.display().to_string()),
        "the path is printed\n{}",
        applied.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn home_region_and_placeholders_resolve_per_account() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"eu-west-1\"\n[admin_group]\nname = \"admins-{account_id}\"\nrequire_mfa = false\n",
    );
    let run = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stdout
            .contains(&format!("+ iam group \"admins-{}\"", acct.id)),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("home region eu-west-1"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn baseline_plan_applies_to_a_fresh_account() {
    let acct = Account::new().await;
    // The baseline has a [cost_report]: moto has no report API, the stub answers it.
    CurStub::install(&acct.proxy);
    let plan = acct.write_plan("baseline.toml", &baseline());
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_no_writes(&acct, &dry);
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    // What only a person can do stays listed, and keeps --plan at 2 until done.
    assert!(
        applied.stdout.contains("manual action"),
        "{}",
        applied.all()
    );
    assert!(
        applied
            .stdout
            .contains("! mfa device for iam user \"admin\""),
        "{}",
        applied.all()
    );
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 2, "{}", again.all());
    assert!(
        again
            .stdout
            .contains("Plan: 0 to create, 0 to change, 0 to delete, 1 manual action."),
        "{}",
        again.all()
    );
}

/// The console password delivered for the admin, from the 0600 file (no terminal here).
fn delivered_password(acct: &Account) -> String {
    let file = acct.path(&format!("aws-harden-{}-admin-password.txt", acct.id));
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim_end()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_password_meets_a_live_policy_stricter_than_the_plan() {
    // A policy the plan does not manage asks for 40 characters: a 24-character password would be
    // refused by IAM (PasswordPolicyViolation; moto does not check, so the length is checked here).
    let acct = Account::new().await;
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(40)
        .send()
        .await
        .unwrap();
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nmfa = false\n",
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(delivered_password(&acct).len() >= 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_the_plan_tightens_is_in_place_before_the_console_password() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nmfa = false\n\
         [password_policy]\nminimum_length = 32\n",
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let writes: Vec<String> = acct
        .proxy
        .writes()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    let at = |op: &str| {
        writes
            .iter()
            .position(|w| w == op)
            .unwrap_or_else(|| panic!("no {op}: {writes:?}"))
    };
    assert!(
        at("UpdateAccountPasswordPolicy") < at("CreateLoginProfile"),
        "{writes:?}"
    );
    assert!(delivered_password(&acct).len() >= 32);
}

/// Secrets never reach logs: the whole apply at debug level (`-vv`, every AWS call logged) without a
/// terminal; then at a terminal, where the password is shown on purpose, exactly once, and no file.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_logs_even_at_debug_level() {
    let acct = Account::new().await;
    // The admin's access key is made only once the admin has an MFA device.
    acct.iam()
        .create_user()
        .user_name("admin")
        .send()
        .await
        .unwrap();
    acct.enable_virtual_mfa("admin").await;
    let plan = acct.write_plan(
        "p.toml",
        &common::IAM_ONLY.replace(
            "mfa = false",
            "mfa = false\naccess_key = true\naccess_key_profile = \"admin-keys\"",
        ),
    );
    let run = acct.run(&["-f", &plan, "--yes", "-vv"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    // The deliberate CIS 1.15 finding is said, not hidden.
    assert!(
        run.stdout
            .contains("CIS 1.15 flags any group with a *:* policy attached"),
        "{}",
        run.all()
    );
    // Debug logging was on: every call is in it.
    assert!(run.stderr.contains("CreateAccessKey"), "{}", run.all());
    assert!(run.stderr.contains("CreateLoginProfile"), "{}", run.all());
    let password =
        std::fs::read_to_string(acct.path(&format!("aws-harden-{}-admin-password.txt", acct.id)))
            .unwrap();
    let password = password.trim();
    let sent = acct
        .proxy
        .calls()
        .into_iter()
        .find(|c| c.operation == "CreateLoginProfile")
        .and_then(|c| c.params.into_iter().find(|(k, _)| k == "Password"))
        .unwrap()
        .1;
    assert_eq!(password, sent);
    let creds = std::fs::read_to_string(acct.path("aws-credentials")).unwrap();
    let secret = creds
        .lines()
        .find_map(|l| l.strip_prefix("aws_secret_access_key = "))
        .unwrap();
    for (what, s) in [("password", password), ("access key secret", secret)] {
        assert!(
            !run.stdout.contains(s) && !run.stderr.contains(s),
            "the {what} was logged\n{}",
            run.all()
        );
    }

    // At a terminal (stdout and stderr merged): shown once, on purpose, and written nowhere.
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", common::IAM_ONLY);
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["-f", &plan, "-vv"], &[]);
        pty.answer(
            &[("Apply these changes?", "y")],
            "Saved it? Press Enter to go on",
        );
        pty.send("\r");
        pty.expect("Apply complete:");
        pty.wait()
    });
    assert_eq!(code, 0, "{out}");
    let sent = acct
        .proxy
        .calls()
        .into_iter()
        .find(|c| c.operation == "CreateLoginProfile")
        .and_then(|c| c.params.into_iter().find(|(k, _)| k == "Password"))
        .unwrap()
        .1;
    assert!(
        out.contains("CreateLoginProfile"),
        "debug logging on\n{out}"
    );
    assert_eq!(out.matches(&sent).count(), 1, "{out}");
    let files: Vec<String> = std::fs::read_dir(acct.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.contains("password"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_url_uses_the_account_alias() {
    // IAM user guide, "Your AWS account ID and its alias": with an alias, IAM users sign in at
    // https://ALIAS.signin.aws.amazon.com/console. moto serves CreateAccountAlias and ListAccountAliases.
    let acct = Account::new().await;
    let alias = format!("acme-{}", acct.id);
    acct.iam()
        .create_account_alias()
        .account_alias(&alias)
        .send()
        .await
        .unwrap();
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nmfa = false\n",
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let url = format!("https://{alias}.signin.aws.amazon.com/console");
    assert!(run.all().contains(&url), "{url} not shown\n{}", run.all());
    assert!(
        !run.all().contains(&format!("https://{}.signin", acct.id)),
        "{}",
        run.all()
    );
}

/// Every field the README's "JSON output" table documents is in the documents a dry run and an
/// apply print (issue 30), and every top-level field the table names is one this test checks, so a
/// field documented later without a check here fails.
#[tokio::test(flavor = "multi_thread")]
async fn the_json_document_has_every_field_the_readme_documents() {
    const TOP: [&str; 11] = [
        "account_id",
        "caller",
        "plan_file",
        "home_region",
        "mode",
        "changes[]",
        "notices[]",
        "summary",
        "pending",
        "result",
        "stats",
    ];
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("## JSON output")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .expect("the README's JSON output section");
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('|').nth(1).unwrap();
        // Top-level names: the backticked words outside parentheses.
        let mut depth = 0;
        let mut outside = String::new();
        for ch in first.chars() {
            match ch {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => outside.push(ch),
                _ => {}
            }
        }
        for name in outside.split('`').skip(1).step_by(2) {
            let name = name.trim_end_matches(" (apply)");
            assert!(
                TOP.contains(&name),
                "README documents `{name}`: check it here"
            );
        }
    }

    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        &format!("{IAM_ONLY}[ebs_encryption]\n").replace(
            "home_region = \"us-east-1\"\n",
            "home_region = \"us-east-1\"\nregions = [\"us-east-1\", \"eu-west-1\"]\n",
        ),
    );
    // A region an SCP closes gives a notice (a warning) to check its fields.
    acct.proxy.deny_region("eu-west-1");
    let dry = acct.run(&["--plan", "-f", &plan, "--output", "json"]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    let doc: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let has = |v: &serde_json::Value, path: &str| {
        let mut at = v;
        for key in path.split('.') {
            at = match key.parse::<usize>() {
                Ok(i) => &at[i],
                Err(_) => {
                    assert!(
                        at.get(key).is_some(),
                        "{path}: no `{key}` in {}",
                        serde_json::to_string_pretty(at).unwrap()
                    );
                    &at[key]
                }
            };
        }
    };
    for path in [
        "account_id",
        "caller.arn",
        "caller.kind",
        "caller.partition",
        "caller.access_key_id",
        "caller.temporary",
        "caller.mfa_session",
        "caller.credential_source",
        "plan_file",
        "home_region",
        "mode",
        "changes.0.control",
        "changes.0.resource",
        "changes.0.action",
        "changes.0.fields.0.field",
        "changes.0.fields.0.before",
        "changes.0.fields.0.after",
        "changes.0.cis",
        "changes.0.stage",
        "notices.0.control",
        "notices.0.level",
        "notices.0.message",
        "notices.0.cis",
        "summary.create",
        "summary.update",
        "summary.delete",
        "summary.manual",
        "pending",
        "stats.calls",
        "stats.attempts",
        "stats.writes",
        "stats.seconds",
        "stats.operations.0.service",
        "stats.operations.0.operation",
        "stats.operations.0.write",
    ] {
        has(&doc, path);
    }
    let regional = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == "ebs_encryption")
        .expect("a regional change");
    assert_eq!(regional["region"], "us-east-1");
    assert!(regional["note"].is_string(), "{regional}");
    assert!(
        doc["changes"][0].get("region").is_none(),
        "absent for the rest"
    );

    let applied = acct.run(&["-f", &plan, "--yes", "--output", "json"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let doc: serde_json::Value = serde_json::from_str(&applied.stdout).unwrap();
    for path in [
        "result.succeeded",
        "result.summary.create",
        "result.applied",
        "result.failed",
        "result.not_attempted",
        "result.not_verified",
        "result.verification_error",
        "result.manual",
        "result.stale",
        "result.interrupted",
        "result.messages",
    ] {
        has(&doc, path);
    }
}
