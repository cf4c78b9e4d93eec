//! Partitions (issue 29): the global APIs aws-harden uses (AWS Budgets, Account Management, the
//! Cost and Usage Report) follow the caller's partition as botocore's `endpoints.json` describes
//! it. moto serves the aws-cn and aws-us-gov partitions by signing region (its GetCallerIdentity
//! answers `arn:aws-cn:...` there), so a China or GovCloud caller is run end to end.

use crate::common;

use common::Account;

fn plan(region: &str) -> String {
    format!(
        "version = 1\nhome_region = \"{region}\"\nregions = [\"{region}\"]\n\
         [budget]\namount = 20\nemail = \"billing@example.com\"\n\
         [security_contact]\nname = \"Sec\"\ntitle = \"Security\"\n\
         email = \"security@example.com\"\nphone = \"+14155550100\"\n"
    )
}

/// aws-cn: Budgets and Account Management exist and are signed as cn-northwest-1 (their
/// `aws-cn-global` endpoint's region); nothing is signed for us-east-1.
#[tokio::test(flavor = "multi_thread")]
async fn a_china_caller_reaches_the_global_apis_in_cn_northwest_1() {
    let acct = Account::new().await;
    let plan = acct.write_plan("cn.toml", &plan("cn-northwest-1"));
    let run = acct
        .run_with(
            &["--plan", "-f", &plan],
            &[("AWS_REGION", "cn-northwest-1")],
        )
        .await;
    assert_eq!(
        run.code,
        2,
        "the budget and the contact are missing\n{}",
        run.all()
    );
    let calls = acct.proxy.calls();
    let global: Vec<(String, String)> = calls
        .iter()
        .filter(|c| ["budgets", "account"].contains(&c.service.as_str()))
        .map(|c| (c.operation.clone(), c.region.clone()))
        .collect();
    assert!(
        global.iter().any(|(op, _)| op == "DescribeBudget")
            && global.iter().any(|(op, _)| op == "GetAlternateContact"),
        "{global:?}"
    );
    assert!(
        global.iter().all(|(_, region)| region == "cn-northwest-1"),
        "{global:?}"
    );
    assert!(
        calls.iter().all(|c| c.region != "us-east-1"),
        "{}",
        acct.proxy.describe()
    );
}

/// aws-us-gov has none of the three: the control says so, naming the partition, before any call
/// to them; the run exits 1.
#[tokio::test(flavor = "multi_thread")]
async fn a_govcloud_caller_is_told_before_any_call_to_an_api_its_partition_lacks() {
    let acct = Account::new().await;
    let plan = acct.write_plan("gov.toml", &plan("us-gov-west-1"));
    let run = acct
        .run_with(&["--plan", "-f", &plan], &[("AWS_REGION", "us-gov-west-1")])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    // Observing stops at the first control that cannot be read (either of the two).
    let all = run.all();
    assert!(
        all.contains("[budget]: AWS Budgets does not exist in partition aws-us-gov")
            || all.contains(
                "[security_contact]: Account Management does not exist in partition aws-us-gov"
            ),
        "{all}"
    );
    let global: Vec<String> = acct
        .proxy
        .calls()
        .into_iter()
        .filter(|c| ["budgets", "account"].contains(&c.service.as_str()))
        .map(|c| c.operation)
        .collect();
    assert!(global.is_empty(), "{global:?}");
}
