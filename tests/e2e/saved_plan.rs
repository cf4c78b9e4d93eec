//! Saved plans, terraform's `plan -out` / `apply PLANFILE`: `--plan -f PLAN --out FILE` saves the
//! changes, `aws-harden apply FILE` applies exactly those, or refuses with nothing written. The real
//! binary against moto, through the recording proxy, which counts calls and writes by itself.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Account, CurStub, IAM_ONLY, Run, assert_no_writes, baseline};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Save the changes of `plan_text` from a dry run: (the saved file, the run).
async fn save(acct: &Account, plan_text: &str) -> (PathBuf, Run) {
    let plan = acct.write_plan("p.toml", plan_text);
    let out = acct.path("changes.json");
    acct.proxy.clear();
    let run = acct
        .run(&["--plan", "-f", &plan, "--out", out.to_str().unwrap()])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert_no_writes(acct, &run);
    (out, run)
}

async fn apply(acct: &Account, file: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["apply", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    acct.run(&args).await
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, doc: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
}

/// Recompute `sha256` as the README documents it, independently of aws-harden's code: SHA-256 of
/// the document without `sha256` as compact JSON with every object's keys sorted (serde_json's
/// own map is sorted: this crate graph does not turn on its `preserve_order`), in lowercase hex.
fn rehash(doc: &mut Value) {
    let object = doc.as_object_mut().unwrap();
    object.remove("sha256");
    let canonical = serde_json::to_string(&*object).unwrap();
    let hex: String = Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    object.insert("sha256".into(), Value::String(hex));
}

/// The API operation each op of the IAM controls makes (one call each).
fn operation_of(op: &Value) -> &'static str {
    let (control, inner) = op.as_object().unwrap().iter().next().unwrap();
    let name = inner.as_object().unwrap().keys().next().unwrap();
    match (control.as_str(), name.as_str()) {
        ("admin_group", "create_group") => "CreateGroup",
        ("admin_group", "attach_policy") => "AttachGroupPolicy",
        ("admin_group", "put_inline_policy") => "PutGroupPolicy",
        ("password_policy", "put") => "UpdateAccountPasswordPolicy",
        ("admin_user", "create_user") => "CreateUser",
        ("admin_user", "create_login_profile") => "CreateLoginProfile",
        ("admin_user", "add_to_group") => "AddUserToGroup",
        other => panic!("no operation known for op {other:?}"),
    }
}

/// Every object key in the document, at any depth.
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| keys(i, out)),
        _ => {}
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Calls made by a refused run: nothing but identifying the caller (and the MFA-device read that
/// goes out with it for long-term keys), all reads.
fn assert_only_identified(acct: &Account, run: &Run) {
    let calls: Vec<String> = acct
        .proxy
        .calls()
        .iter()
        .map(|c| c.operation.clone())
        .collect();
    assert!(
        calls
            .iter()
            .all(|c| c == "GetCallerIdentity" || c == "ListMFADevices"),
        "{calls:?}\n{}",
        run.all()
    );
    assert_no_writes(acct, run);
}

#[tokio::test(flavor = "multi_thread")]
async fn save_then_apply_writes_exactly_the_saved_ops() {
    let acct = Account::new().await;
    // A readable file of that name is replaced by a private one.
    let out = acct.path("changes.json");
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();

    let (file, saved) = save(&acct, IAM_ONLY).await;
    assert_eq!(file, out);
    assert!(
        saved
            .stdout
            .contains("Plan: 5 to create, 2 to change, 0 to delete, 0 manual actions."),
        "the usual output too\n{}",
        saved.all()
    );
    assert!(
        saved
            .stderr
            .contains(&format!("Saved the changes to {}", file.display())),
        "{}",
        saved.all()
    );
    assert_eq!(mode(&file), 0o600);

    let doc = read_json(&file);
    assert_eq!(doc["format"], "aws-harden-changes");
    assert_eq!(doc["version"], 2);
    let created = doc["created_at"].as_str().unwrap();
    assert!(
        created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );
    assert_eq!(doc["account_id"], acct.id.as_str());
    assert!(
        doc["caller_arn"]
            .as_str()
            .unwrap()
            .contains(&format!("{}:assumed-role/aws-harden-test", acct.id)),
        "{doc}"
    );
    assert_eq!(doc["access_key_id"], acct.access_key_id.as_str());
    assert_eq!(doc["plan_text"], IAM_ONLY, "the plan's text, not its path");
    assert!(doc["plan_file"].as_str().unwrap().ends_with("p.toml"));
    let sha = doc["sha256"].as_str().unwrap();
    assert!(
        sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sha}"
    );
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 7, "{doc}");
    let policy = changes
        .iter()
        .find(|c| c["resource"] == "account password policy")
        .unwrap();
    assert_eq!(policy["action"], "create");
    assert!(
        policy["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field"] == "minimum_length" && f["before"].is_null() && f["after"] == "14"),
        "fields with their before values\n{policy}"
    );
    // No secret: not the caller's, and no field that could hold one.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&acct.secret_access_key));
    assert!(!text.contains(acct.session_token.as_deref().unwrap()));
    let mut all_keys = Vec::new();
    keys(&doc, &mut all_keys);
    for secret in [
        "password",
        "secret",
        "secret_access_key",
        "session_token",
        "seed",
    ] {
        assert!(!all_keys.iter().any(|k| k == secret), "{secret}: {doc}");
    }

    let expected: Vec<&str> = changes
        .iter()
        .flat_map(|c| c["ops"].as_array().unwrap())
        .map(operation_of)
        .collect();
    acct.proxy.clear();
    let applied = apply(&acct, &file, &["--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(
        applied
            .stdout
            .contains("Apply complete: 5 created, 2 changed, 0 deleted"),
        "{}",
        applied.all()
    );
    let writes: Vec<String> = acct
        .proxy
        .writes()
        .iter()
        .map(|c| c.operation.clone())
        .collect();
    assert_eq!(writes, expected, "the writes are the saved ops, in order");

    acct.proxy.clear();
    let plan = acct.path("p.toml");
    let after = acct.run(&["--plan", "-f", plan.to_str().unwrap()]).await;
    assert_eq!(after.code, 0, "{}", after.all());

    // Applied once: the account no longer gives these changes, so a second apply is refused.
    acct.proxy.clear();
    let again = apply(&acct, &file, &["--yes"]).await;
    assert_eq!(again.code, 1, "{}", again.all());
    assert!(
        again.stderr.contains(
            "it matches the plan now and needs no change (were these changes applied already?)"
        ),
        "{}",
        again.all()
    );
    assert_no_writes(&acct, &again);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_baseline_saved_and_applied_round_trips_every_op() {
    let acct = Account::new().await;
    CurStub::install(&acct.proxy);
    let (file, _) = save(&acct, &baseline()).await;
    let ops = read_json(&file)["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ops"].as_array().unwrap().len())
        .sum::<usize>();
    acct.proxy.clear();
    let applied = apply(&acct, &file, &["--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(
        acct.proxy.writes().len() >= ops,
        "{ops} ops, writes: {:?}",
        acct.proxy.writes()
    );
    let plan = acct.path("p.toml");
    let again = acct.run(&["--plan", "-f", plan.to_str().unwrap()]).await;
    assert_eq!(again.code, 2, "{}", again.all());
    assert!(
        again
            .stdout
            .contains("Plan: 0 to create, 0 to change, 0 to delete, 1 manual action."),
        "only the admin's MFA is left\n{}",
        again.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_after_saving_is_refused_with_nothing_written() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);
    let set_length = |length: i32| {
        let iam = acct.iam();
        async move {
            iam.update_account_password_policy()
                .minimum_password_length(length)
                .password_reuse_prevention(24)
                .require_symbols(true)
                .require_numbers(true)
                .require_uppercase_characters(true)
                .require_lowercase_characters(true)
                .allow_users_to_change_password(true)
                .send()
                .await
                .unwrap();
        }
    };
    set_length(8).await;
    let (file, saved) = save(&acct, IAM_ONLY).await;
    assert!(
        saved.stdout.contains("minimum_length: \"8\" -> \"14\""),
        "{}",
        saved.all()
    );

    // Changed again by hand, as if in the console.
    set_length(10).await;
    acct.proxy.clear();
    let refused = apply(&acct, &file, &["--yes"]).await;
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains(&format!(
            "the account changed since {} was saved: account password policy (password_policy) has minimum_length \"10\" now, \"8\" when saved. Nothing was written.",
            file.display()
        )),
        "{}",
        refused.all()
    );
    assert_no_writes(&acct, &refused);
    let live = acct
        .iam()
        .get_account_password_policy()
        .send()
        .await
        .unwrap()
        .password_policy
        .unwrap();
    assert_eq!(live.minimum_password_length, Some(10));

    // Deleted by hand: the update it saved is a create now.
    acct.iam()
        .delete_account_password_policy()
        .send()
        .await
        .unwrap();
    acct.proxy.clear();
    let refused = apply(&acct, &file, &["--yes"]).await;
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains(
            "account password policy (password_policy) was saved as ~ update, and is now + create"
        ),
        "{}",
        refused.all()
    );
    assert_no_writes(&acct, &refused);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_edited_file_is_refused_before_any_call() {
    let acct = Account::new().await;
    let (file, _) = save(&acct, IAM_ONLY).await;
    let original = read_json(&file);
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 3] = [
        ("a field's value", |d| {
            let policy = d["changes"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|c| c["resource"] == "account password policy")
                .unwrap();
            policy["ops"][0]["password_policy"]["put"]["minimum_length"] = 6.into();
        }),
        ("the plan", |d| {
            d["plan_text"] = IAM_ONLY.replace("mfa = false", "mfa = true").into();
        }),
        ("the caller", |d| {
            d["caller_arn"] = "arn:aws:iam::123456789012:user/mallory".into();
        }),
    ];
    for (what, edit) in edits {
        let mut doc = original.clone();
        edit(&mut doc);
        write_json(&file, &doc);
        acct.proxy.clear();
        let run = apply(&acct, &file, &["--yes"]).await;
        assert_eq!(run.code, 1, "{what}: {}", run.all());
        assert!(
            run.stderr.contains(&format!(
                "{} was changed after it was saved",
                file.display()
            )),
            "{what}: {}",
            run.all()
        );
        assert!(
            acct.proxy.calls().is_empty(),
            "{what}: {:?}",
            acct.proxy.calls()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_version_is_refused_naming_the_file_and_the_version() {
    let acct = Account::new().await;
    let (file, _) = save(&acct, IAM_ONLY).await;
    let mut doc = read_json(&file);
    doc["version"] = 3.into();
    rehash(&mut doc);
    write_json(&file, &doc);
    acct.proxy.clear();
    let run = apply(&acct, &file, &["--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "{}: saved-changes version 3 is not one this aws-harden reads (it reads version 2)",
            file.display()
        )),
        "{}",
        run.all()
    );
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_older_than_max_age_is_refused_and_the_hash_is_as_documented() {
    let acct = Account::new().await;
    let (file, _) = save(&acct, IAM_ONLY).await;
    let mut doc = read_json(&file);
    doc["created_at"] = "2000-01-01T00:00:00Z".into();
    rehash(&mut doc);
    write_json(&file, &doc);

    acct.proxy.clear();
    let old = apply(&acct, &file, &["--yes"]).await;
    assert_eq!(old.code, 1, "{}", old.all());
    assert!(
        old.stderr
            .contains("(at 2000-01-01T00:00:00Z), more than --max-age 1h 0m")
            && old.stderr.contains("Save the changes again"),
        "{}",
        old.all()
    );
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());

    for bad in ["5x", "1h30m", "-1h"] {
        let run = apply(&acct, &file, &["--yes", &format!("--max-age={bad}")]).await;
        assert_eq!(run.code, 1, "{bad}: {}", run.all());
        assert!(
            run.stderr.contains(&format!("'{bad}'")) && run.stderr.contains("--max-age"),
            "{bad}: {}",
            run.all()
        );
    }
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());

    // With a max age that covers it, the same file applies: the test's hash, made as the README
    // says, is the one aws-harden computes.
    let applied = apply(&acct, &file, &["--yes", "--max-age", "20000d"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(acct.proxy.writes().len(), 7, "{:?}", acct.proxy.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn another_caller_or_account_is_refused_with_nothing_written() {
    let acct = Account::new().await;
    let (key_a, secret_a) = acct.user_with_key("operator").await;
    let operator = acct.as_user(&key_a, &secret_a);
    let (file, _) = save(&operator, IAM_ONLY).await;
    let user_arn = format!("arn:aws:iam::{}:user/operator", acct.id);
    assert_eq!(read_json(&file)["caller_arn"], user_arn.as_str());

    // Another principal of the same account.
    acct.proxy.clear();
    let run = apply(&acct, &file, &["--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "{} was saved by {user_arn}, but this run signs as arn:aws:sts::{}:assumed-role/aws-harden-test/",
            file.display(),
            acct.id
        )),
        "{}",
        run.all()
    );
    assert_only_identified(&acct, &run);

    // The same user with its other access key.
    let key_b = acct
        .iam()
        .create_access_key()
        .user_name("operator")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let other_key = acct.as_user(&key_b.access_key_id, &key_b.secret_access_key);
    let run = apply(&other_key, &file, &["--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "signing with access key ID {key_a}, but this run signs with access key ID {}",
            key_b.access_key_id
        )),
        "{}",
        run.all()
    );
    assert_only_identified(&other_key, &run);

    // Another account.
    let elsewhere = Account::new().await;
    let run = apply(&elsewhere, &file, &["--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "was saved for account {}, but these credentials are for account {}",
            acct.id, elsewhere.id
        )),
        "{}",
        run.all()
    );
    assert_only_identified(&elsewhere, &run);

    // The caller that saved it applies it.
    operator.proxy.clear();
    let run = apply(&operator, &file, &["--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(operator.proxy.writes().len(), 7, "{}", run.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_make_no_call() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", IAM_ONLY);
    let out = acct.path("changes.json");
    let out = out.to_str().unwrap();
    // --out saves what a dry run shows: without --plan (or a plan file) it is a usage error.
    for args in [
        &["-f", plan.as_str(), "--out", out][..],
        &["-f", plan.as_str(), "--yes", "--out", out][..],
        &["--plan", "--out", out][..],
    ] {
        let run = acct.run(args).await;
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert!(
            run.stderr.contains("required arguments were not provided"),
            "{args:?}: {}",
            run.all()
        );
    }
    assert!(!Path::new(out).exists());

    let (file, _) = save(&acct, IAM_ONLY).await;
    let file = file.to_str().unwrap();
    acct.proxy.clear();
    for (args, says) in [
        (
            &["apply", file][..],
            "not a terminal, so nobody can confirm the changes",
        ),
        (
            &["apply", file, "--output", "json"][..],
            "applying with it needs --yes",
        ),
        (
            &["-f", plan.as_str(), "apply", file, "--yes"][..],
            "takes its plan from that file: -f and --plan do not go with it",
        ),
        (
            &["apply", file, "--plan"][..],
            "unexpected argument '--plan'",
        ),
        (
            &["apply", "missing.json", "--yes"][..],
            "cannot read the saved changes missing.json",
        ),
        (&["apply", plan.as_str(), "--yes"][..], "not JSON"),
    ] {
        let run = acct.run(args).await;
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert!(run.stderr.contains(says), "{args:?}: {}", run.all());
    }
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn at_a_terminal_apply_shows_the_changes_and_asks() {
    let acct = Account::new().await;
    let (file, _) = save(&acct, IAM_ONLY).await;
    acct.proxy.clear();
    let (code, out) = tokio::task::block_in_place(|| {
        let mut pty = acct.run_pty(&["apply", file.to_str().unwrap()], &[]);
        pty.answer(&[("Apply these changes?", "n")], "Nothing was changed.");
        pty.wait()
    });
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("+ account password policy"), "{out}");
    assert!(
        out.contains(&format!(
            "To apply later: aws-harden apply {}",
            file.display()
        )),
        "{out}"
    );
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_saved_at_a_terminal_are_not_applied_unattended_when_they_differ() {
    let acct = Account::new().await;
    // At a terminal the admin's MFA is enrolled there; unattended it is a manual action.
    let plan_text = "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nconsole_access = false\n";
    let plan = acct.write_plan("p.toml", plan_text);
    let file = acct.path("changes.json");
    let (code, out) = tokio::task::block_in_place(|| {
        acct.run_pty(
            &["--plan", "-f", &plan, "--out", file.to_str().unwrap()],
            &[],
        )
        .wait()
    });
    assert_eq!(code, 2, "{out}");
    assert_eq!(read_json(&file)["interactive"], true);
    acct.proxy.clear();
    let run = apply(&acct, &file, &["--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "{} was saved for a person at a terminal, and this apply is for an unattended run (--yes, or no terminal)",
            file.display()
        )) && run.stderr.contains("mfa device for iam user \"admin\""),
        "{}",
        run.all()
    );
    assert_no_writes(&acct, &run);
}
