//! Performance by counts (never by the clock): a dry run of the baseline makes a bounded number of
//! calls, and that number does not grow with the number of IAM users in the account.

use crate::common;

use common::{Account, CurStub};
use futures_util::StreamExt;

/// The budget for a `--plan` of plans/baseline.toml on a hardened account, besides the regional
/// reads: the spine issue's 50, plus the reads added on purpose since: 6 `SimulatePrincipalPolicy`
/// proving the MFA guard (issue 10), `DescribeRegions` (issue 13, and the regions of issue 16),
/// s3control `GetPublicAccessBlock` for the account's Block Public Access (issue 16), the support
/// role's `GetRole` and `ListAttachedRolePolicies` (issue 17). Measured: 54 (with root's MFA on,
/// its virtual device is looked up too). Issue 34's `iam_users`: `GetAccountAuthorizationDetails`,
/// `ListEntitiesForPolicy`, `ListServerCertificates` (the credential report is read once, shared
/// with root's history).
const MAX_ACCOUNT_CALLS: usize = 63;
/// The regional guardrails' reads in each region: EBS encryption by default, its key and the
/// plan's key resolved by KMS (issue 29: keys compared by key ARN), the IMDS defaults (issue 16),
/// the region's analyzers (issue 17).
const REGIONAL_READS: [&str; 5] = [
    "ec2:GetEbsEncryptionByDefault",
    "ec2:GetEbsDefaultKmsKeyId",
    "kms:DescribeKey",
    "ec2:GetInstanceMetadataDefaults",
    "access-analyzer:ListAnalyzers",
];
const CALLS_PER_REGION: usize = REGIONAL_READS.len();

#[tokio::test(flavor = "multi_thread")]
async fn plan_call_count_is_bounded_and_independent_of_the_number_of_users() {
    let acct = Account::new().await;
    // moto has no Cost and Usage Report API: the test stub answers it (tests/common/cur_stub.rs).
    let _stub = CurStub::install(&acct.proxy);
    let plan = acct.write_plan("baseline.toml", &common::baseline_in_every_region());
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());

    acct.proxy.clear();
    let few = acct.run(&["--plan", "-f", &plan, "--output", "json"]).await;
    assert_eq!(
        few.code,
        2,
        "only the manual MFA step remains\n{}",
        few.all()
    );
    let with_few = acct.proxy.counts();
    let total: usize = with_few.values().sum();
    let regions = acct.usable_regions().await.len();
    let budget = MAX_ACCOUNT_CALLS + CALLS_PER_REGION * regions;
    assert!(
        total <= budget,
        "{total} calls, {regions} regions: {with_few:?}"
    );
    // Exactly the regional reads in every region but the home region, where the trail's key is
    // also described (KMS DescribeKey).
    let calls = acct.proxy.calls();
    for region in acct.usable_regions().await {
        let n = calls
            .iter()
            .filter(|c| c.region == region)
            .filter(|c| REGIONAL_READS.contains(&format!("{}:{}", c.service, c.operation).as_str()))
            .count();
        match region.as_str() {
            "us-east-1" => assert!(n >= CALLS_PER_REGION, "{region}: {n}: {with_few:?}"),
            _ => assert_eq!(n, CALLS_PER_REGION, "{region}: {with_few:?}"),
        }
    }
    assert!(acct.proxy.writes().is_empty());
    // The binary's own count (--output json stats) agrees with the proxy's.
    let doc: serde_json::Value = serde_json::from_str(&few.stdout).unwrap();
    assert_eq!(doc["stats"]["calls"], total, "{with_few:?}");
    assert_eq!(doc["stats"]["writes"], 0);

    // The human --stats line says the same.
    acct.proxy.clear();
    let human = acct.run(&["--plan", "-f", &plan, "--stats"]).await;
    assert_eq!(human.code, 2, "{}", human.all());
    assert!(
        human
            .stdout
            .contains(&format!("Stats: {total} calls, 0 writes, ")),
        "{}",
        human.all()
    );

    // 500 more users, made straight in moto.
    let iam = acct.iam();
    let made: Vec<_> = futures_util::stream::iter(0..500)
        .map(|i| {
            let iam = iam.clone();
            async move {
                iam.create_user()
                    .user_name(format!("user-{i:03}"))
                    .send()
                    .await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(made.iter().all(|r| r.is_ok()), "creating users in moto");

    acct.proxy.clear();
    let many = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(many.code, 2, "{}", many.all());
    assert_eq!(
        acct.proxy.counts(),
        with_few,
        "calls by operation, 0 vs 500 extra users"
    );
}

/// The most waves a dry run of the baseline may take on a hardened account: the caller, then every
/// read that needs only the caller, then the reads that need those answers (a KMS key's policy and
/// rotation need its ID; IAM's simulator needs nothing more, but a user with a path needs its ARN).
const MAX_WAVES: usize = 3;

/// Answers wait until the binary has sent nothing for this long.
const QUIET_MS: u64 = 1_500;

/// The waves of a dry run of `plan` on an account where it was applied, with every answer held until
/// the binary has gone quiet (`Proxy::hold_until_quiet`): it has sent everything it can send,
/// however busy the machine, so the waves count what waits for what, not how fast this machine is.
async fn dry_run_waves(plan_text: &str) -> usize {
    let acct = Account::new().await;
    let _stub = CurStub::install(&acct.proxy);
    let plan = acct.write_plan("baseline.toml", plan_text);
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    acct.proxy.clear();
    acct.proxy
        .hold_until_quiet(std::time::Duration::from_millis(QUIET_MS));
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(
        dry.code,
        2,
        "only the manual MFA step remains\n{}",
        dry.all()
    );
    // Counted only if no wave had a gap as long as the quiet time (from the proxy's request times).
    let waves = acct
        .proxy
        .waves_sent_within(std::time::Duration::from_millis(QUIET_MS));
    eprintln!("waves: {waves}, calls: {}", acct.proxy.calls().len());
    assert!(
        waves <= MAX_WAVES,
        "{waves} waves: {:#?}",
        acct.proxy.calls_by_wave()
    );
    waves
}

/// Wall time at 50 ms per call is paid per wave, not per call: waves are counted at the proxy, so a
/// loaded machine cannot fail this test (issue 21). The regional guardrails, reading every region,
/// add no wave (issue 16): their reads go out with the others that need only the region list.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_of_the_baseline_takes_at_most_three_waves_and_every_region_adds_none() {
    let with_regions = common::baseline_in_every_region();
    let without = ["[ebs_encryption]", "[imds_defaults]", "[access_analyzer]"]
        .iter()
        .fold(with_regions.clone(), |text, table| {
            let at = text.find(table).expect("the baseline has the table");
            let (head, tail) = text.split_at(at);
            format!(
                "{head}{}",
                tail.replacen("enabled = true", "enabled = false", 1)
            )
        });
    let off = |t: &str| t.matches("enabled = false").count();
    assert_eq!(off(&without), off(&with_regions) + 3);
    let (a, b) = tokio::join!(dry_run_waves(&with_regions), dry_run_waves(&without));
    assert_eq!(a, b, "waves with the regional guardrails vs without");
}
