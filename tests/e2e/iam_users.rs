//! `iam_users` end to end (issue 34): people's credentials made by hand, each reported by
//! `--plan` with the user named; `deactivate_unused` deactivates exactly the unused key; an
//! exception holds until its date.
//!
//! moto makes every key "now" and never lets time pass, so the proxy ages one key: it answers
//! `GetCredentialReport` with moto's report where that key's `access_key_1_last_rotated` is 200
//! days ago, and `ListAccessKeys` with that key's `CreateDate` the same (both as AWS writes them:
//! the report's ISO 8601 `+00:00`, the IAM API reference's `CreateDate` timestamp). Everything else is
//! moto's.

use aws_smithy_types::base64;

use crate::common;

use common::proxy::{Response, moto_iam};
use common::{Account, assert_no_writes};

const AGED_USER: &str = "old-key";
/// A user whose own old key signs a run: never deactivated, whatever the report says.
const CALLER: &str = "caller";
const AGED: [&str; 2] = [AGED_USER, CALLER];

/// 200 days before now, as (report form, API form).
fn long_ago() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 200 * 86_400;
    let (y, m, d) = aws_harden::plan::dates::civil_from_days((secs / 86_400) as i64);
    let date = format!("{y:04}-{m:02}-{d:02}T00:00:00");
    (format!("{date}+00:00"), format!("{date}Z"))
}

/// The proxy's aging of the first key of each user in `AGED` (see the module's comment).
fn age_one_key(acct: &Account) {
    acct.proxy.hook_async(Box::new(|req, upstream| {
        let wanted = match req.operation.as_str() {
            "GetCredentialReport" => true,
            "ListAccessKeys" => req
                .param("UserName")
                .is_some_and(|u| AGED.contains(&u.as_str())),
            _ => false,
        };
        if !wanted {
            return None;
        }
        let (req, upstream) = (req.clone(), upstream.to_string());
        Some(Box::pin(async move {
            let params = req.params();
            let params: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let (status, mut body) = moto_iam(&upstream, &req, &params).await.unwrap();
            let (report_time, api_time) = long_ago();
            if status == 200 && req.operation == "ListAccessKeys" {
                let start = body.find("<CreateDate>").unwrap() + "<CreateDate>".len();
                let end = body[start..].find("</CreateDate>").unwrap() + start;
                body.replace_range(start..end, &api_time);
            }
            if status == 200 && req.operation == "GetCredentialReport" {
                let start = body.find("<Content>").unwrap() + "<Content>".len();
                let end = body[start..].find("</Content>").unwrap() + start;
                let csv = String::from_utf8(base64::decode(&body[start..end]).unwrap()).unwrap();
                let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
                let col = header
                    .iter()
                    .position(|h| *h == "access_key_1_last_rotated")
                    .unwrap();
                let aged: Vec<String> = csv
                    .lines()
                    .map(|line| {
                        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
                        if AGED.contains(&cells[0].as_str()) {
                            cells[col] = report_time.clone();
                            // A report up to 4 hours old: a key first used since reads N/A.
                            cells[col + 1] = "N/A".into();
                        }
                        cells.join(",")
                    })
                    .collect();
                body.replace_range(start..end, &base64::encode(aged.join("\n") + "\n"));
            }
            Response {
                status,
                content_type: "text/xml".into(),
                body,
            }
        }))
    }));
}

/// Users made by hand: an old unused key, two active keys, a direct policy, a console password
/// without MFA and CloudShell full access (on that user and on a role).
async fn people(acct: &Account) {
    let iam = acct.iam();
    acct.user_with_key(AGED_USER).await;
    acct.user_with_key("two-keys").await;
    iam.create_access_key()
        .user_name("two-keys")
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("direct").send().await.unwrap();
    iam.attach_user_policy()
        .user_name("direct")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("console").send().await.unwrap();
    iam.create_login_profile()
        .user_name("console")
        .password("Correct-Horse-Battery-9")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("console")
        .policy_arn("arn:aws:iam::aws:policy/AWSCloudShellFullAccess")
        .send()
        .await
        .unwrap();
    iam.create_role()
        .role_name("shell")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("shell")
        .policy_arn("arn:aws:iam::aws:policy/AWSCloudShellFullAccess")
        .send()
        .await
        .unwrap();
}

const PLAN: &str = "version = 1\nhome_region = \"us-east-1\"\n[iam_users]\n";

#[tokio::test(flavor = "multi_thread")]
async fn each_finding_is_named_and_only_the_unused_key_is_deactivated() {
    let acct = Account::new().await;
    people(&acct).await;
    let (key, secret) = acct.user_with_key(CALLER).await;
    age_one_key(&acct);
    let plan = acct.write_plan("p.toml", PLAN);
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_no_writes(&acct, &dry);
    for said in [
        "iam user \"old-key\"",
        "access_key_1 active and unused for 200 days",
        "access_key_1 is 200 days old",
        "iam user \"two-keys\"",
        "two active access keys",
        "iam user \"direct\"",
        "ReadOnlyAccess",
        "iam user \"console\"",
        "console password without MFA",
        "iam role \"shell\"",
        "AWSCloudShellFullAccess",
        "IAM credential report of",
    ] {
        assert!(dry.stdout.contains(said), "{said}\n{}", dry.all());
    }

    // deactivate_unused, run as `caller`, whose own key is just as old: exactly the other unused
    // key is made Inactive; the caller's is left, said as a manual action.
    let me = acct.as_user(&key, &secret);
    age_one_key(&me);
    let plan = me.write_plan("p.toml", &format!("{PLAN}deactivate_unused = true\n"));
    let run = me.run(&["-f", &plan, "--yes"]).await;
    assert_ne!(run.code, 1, "{}", run.all());
    let writes: Vec<String> = me.proxy.writes().into_iter().map(|c| c.operation).collect();
    assert_eq!(writes, ["UpdateAccessKey"], "{}", run.all());
    assert!(
        run.stdout.contains("never changes the user it runs as"),
        "{}",
        run.all()
    );
    let caller_keys = acct
        .iam()
        .list_access_keys()
        .user_name(CALLER)
        .send()
        .await
        .unwrap();
    assert_eq!(
        caller_keys.access_key_metadata()[0]
            .status()
            .map(|s| s.as_str()),
        Some("Active")
    );
    let keys = acct
        .iam()
        .list_access_keys()
        .user_name(AGED_USER)
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys.access_key_metadata()[0].status().map(|s| s.as_str()),
        Some("Inactive")
    );
    // The next dry run no longer asks for it (read live, whatever the report says).
    let plan = acct.write_plan("p.toml", &format!("{PLAN}deactivate_unused = true\n"));
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    let old_key_unused = dry
        .stdout
        .split("iam user ")
        .any(|block| block.starts_with("\"old-key\"") && block.contains("unused for 200 days"));
    assert!(!old_key_unused, "{}", dry.all());

    // An exception holds until its date; an expired one does not.
    let exception = |expires: &str| {
        format!(
            "{PLAN}[[iam_users.exception]]\nuser = \"console\"\ncredential = \"mfa\"\n\
             reason = \"break-glass account\"\nexpires = \"{expires}\"\n"
        )
    };
    let plan = acct.write_plan("p.toml", &exception("2999-12-31"));
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert!(
        !dry.stdout.contains("console password without MFA"),
        "{}",
        dry.all()
    );
    assert!(
        dry.all()
            .contains("accepted until 2999-12-31 (break-glass account)"),
        "{}",
        dry.all()
    );
    // Code scanning sees it as a suppressed result, with the reason and the date.
    let sarif = acct
        .run(&["--plan", "-f", &plan, "--output", "sarif"])
        .await;
    assert_eq!(sarif.code, 2, "{}", sarif.all());
    let log: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    let suppressed: Vec<&serde_json::Value> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1, "{}", sarif.stdout);
    assert_eq!(
        suppressed[0]["suppressions"][0]["justification"],
        "break-glass account (accepted until 2999-12-31)"
    );
    let plan = acct.write_plan("p.toml", &exception("2020-01-01"));
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert!(
        dry.stdout.contains("console password without MFA"),
        "{}",
        dry.all()
    );
    assert!(
        dry.all().contains("the exception expired on 2020-01-01"),
        "{}",
        dry.all()
    );
}
