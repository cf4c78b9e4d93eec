//! The account-level S3 Block Public Access (`s3_public_access`, CIS 2.1.4), end to end: the real
//! binary against moto through the recording proxy, writes counted by the proxy.

use crate::common;

use std::sync::{Arc, Mutex};

use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use common::proxy::{Fault, Which};
use common::{Account, assert_no_writes};

const PLAN: &str = r#"
version = 1
home_region = "us-east-1"
[s3_public_access]
"#;

/// The account's four settings straight from moto: `None` when none are set.
async fn settings(acct: &Account) -> Option<[bool; 4]> {
    let out = acct
        .s3control()
        .get_public_access_block()
        .account_id(&acct.id)
        .send()
        .await;
    let c = match out {
        Ok(o) => o.public_access_block_configuration?,
        Err(e)
            if e.as_service_error().is_some_and(|e| {
                e.meta().code() == Some("NoSuchPublicAccessBlockConfiguration")
            }) =>
        {
            return None;
        }
        Err(e) => panic!("moto's GetPublicAccessBlock: {e:?}"),
    };
    Some([
        c.block_public_acls.unwrap_or(false),
        c.ignore_public_acls.unwrap_or(false),
        c.block_public_policy.unwrap_or(false),
        c.restrict_public_buckets.unwrap_or(false),
    ])
}

/// The S3 Control calls the proxy saw: (operation, status).
fn s3control_calls(acct: &Account) -> Vec<(String, u16)> {
    acct.proxy
        .calls()
        .into_iter()
        .filter(|c| c.service == "s3control")
        .map(|c| (c.operation, c.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_account_gets_all_four_settings_and_then_matches_with_zero_writes() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    assert_eq!(settings(&acct).await, None, "a fresh account has none");
    // Only looks (never answers): where the requests arrive and which account they name.
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = seen.clone();
    acct.proxy.hook(Box::new(move |req| {
        if req.service == "s3control" {
            record.lock().unwrap().push((
                req.header("host").unwrap_or_default().to_string(),
                req.header("x-amz-account-id")
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
        None
    }));

    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    for expected in [
        "S3 Block Public Access (CIS 2.1.4)",
        "+ s3 account public access block\n      BlockPublicAcls: (none) -> \"true\"\n      \
         IgnorePublicAcls: (none) -> \"true\"\n      BlockPublicPolicy: (none) -> \"true\"\n      \
         RestrictPublicBuckets: (none) -> \"true\"\n",
        "Plan: 1 to create, 0 to change, 0 to delete, 0 manual actions.",
    ] {
        assert!(
            dry.stdout.contains(expected),
            "missing {expected:?}\n{}",
            dry.all()
        );
    }
    assert_no_writes(&acct, &dry);
    // "None set" is moto's 404 NoSuchPublicAccessBlockConfiguration, as AWS answers it.
    assert_eq!(
        s3control_calls(&acct),
        vec![("GetPublicAccessBlock".to_string(), 404)]
    );
    // The request went to the endpoint override's own host, naming the account in its header.
    let proxy_host = acct.proxy.url.trim_start_matches("http://").to_string();
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![(proxy_host, acct.id.clone())]
    );

    acct.proxy.clear();
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(
        applied
            .stdout
            .contains("Apply complete: 1 created, 0 changed, 0 deleted"),
        "{}",
        applied.all()
    );
    let writes: Vec<(String, String, u16)> = acct
        .proxy
        .writes()
        .into_iter()
        .map(|c| (c.service, c.operation, c.status))
        .collect();
    assert_eq!(
        writes,
        vec![(
            "s3control".to_string(),
            "PutPublicAccessBlock".to_string(),
            200
        )]
    );
    assert_eq!(settings(&acct).await, Some([true; 4]));

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
    assert_eq!(
        s3control_calls(&acct),
        vec![("GetPublicAccessBlock".to_string(), 200)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn block_public_access_turned_off_by_hand_is_reported_and_repaired() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);
    assert_eq!(settings(&acct).await, Some([true; 4]));

    // Two of the four turned off by hand, as in the console.
    acct.s3control()
        .put_public_access_block()
        .account_id(&acct.id)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();

    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout.contains(
            "~ s3 account public access block\n      BlockPublicPolicy: \"false\" -> \"true\"\n      \
             RestrictPublicBuckets: \"false\" -> \"true\"\n"
        ),
        "{}",
        dry.all()
    );
    assert!(
        !dry.stdout.contains("BlockPublicAcls:"),
        "only the settings that differ are named\n{}",
        dry.all()
    );
    assert!(
        dry.stdout
            .contains("Plan: 0 to create, 1 to change, 0 to delete, 0 manual actions."),
        "{}",
        dry.all()
    );
    assert_no_writes(&acct, &dry);

    acct.proxy.clear();
    let fix = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(fix.code, 0, "{}", fix.all());
    assert!(
        fix.stdout
            .contains("Apply complete: 0 created, 1 changed, 0 deleted"),
        "{}",
        fix.all()
    );
    assert_eq!(acct.proxy.writes().len(), 1, "{:?}", acct.proxy.writes());
    assert_eq!(settings(&acct).await, Some([true; 4]));

    // The whole configuration deleted: none set again, created again.
    acct.s3control()
        .delete_public_access_block()
        .account_id(&acct.id)
        .send()
        .await
        .unwrap();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout.contains("+ s3 account public access block\n"),
        "{}",
        dry.all()
    );
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);
    acct.proxy.clear();
    let after = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(after.code, 0, "{}", after.all());
    assert_no_writes(&acct, &after);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_that_fails_otherwise_is_an_error_never_a_pass() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    assert_eq!(acct.run(&["-f", &plan, "--yes"]).await.code, 0);
    // A role without s3:GetAccountPublicAccessBlock: AWS answers 403 AccessDenied.
    acct.proxy.fail_on(
        Which::Every("GetPublicAccessBlock"),
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 1, "{}", dry.all());
    assert!(
        dry.stderr.contains(
            "reading the account's S3 Block Public Access (s3control GetPublicAccessBlock)"
        ) && dry.stderr.contains("AccessDenied"),
        "{}",
        dry.all()
    );
    assert!(!dry.stdout.contains("No changes"), "{}", dry.all());
    assert_no_writes(&acct, &dry);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_write_says_an_organization_policy_may_manage_the_setting() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    // An account under an organization-level Block Public Access policy: AWS answers the write
    // 403 AccessDenied (PutPublicAccessBlock, S3 Control API reference).
    acct.proxy.fail_on(
        Which::Every("PutPublicAccessBlock"),
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all()
            .contains("organization-level S3 Block Public Access policy")
            && run.all().contains("s3:PutAccountPublicAccessBlock"),
        "{}",
        run.all()
    );
    assert_eq!(settings(&acct).await, None, "nothing was set");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_names_the_control_and_its_cis_id() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    let dry = acct.run(&["--plan", "--output", "json", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    let doc: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{doc}");
    assert_eq!(changes[0]["control"], "s3_public_access");
    assert_eq!(changes[0]["resource"], "s3 account public access block");
    assert_eq!(changes[0]["action"], "create");
    assert_eq!(changes[0]["cis"], serde_json::json!(["2.1.4"]));
    assert_eq!(changes[0]["fields"].as_array().unwrap().len(), 4);
    let ops: Vec<(&str, &str, bool)> = doc["stats"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["service"].as_str().unwrap(),
                o["operation"].as_str().unwrap(),
                o["write"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        ops.contains(&("S3 Control", "GetPublicAccessBlock", false)),
        "{ops:?}"
    );
}
