//! The regional guardrails (`ebs_encryption`, CIS 5.1.1; `imds_defaults`, CIS 5.7) in every
//! region, end to end: the real binary against moto through the recording proxy. moto serves
//! DescribeRegions and EBS encryption by default; the IMDS defaults and the default EBS key come
//! from the loopback stub (tests/common/ec2_stub.rs), which moto lacks. A region denied by an SCP
//! is the proxy's emulation (`Proxy::deny_region`), since moto evaluates no SCP.

use crate::common;

use std::collections::BTreeSet;

use common::{Account, assert_no_writes};

const PLAN: &str = r#"
version = 1
home_region = "us-east-1"
[ebs_encryption]
[imds_defaults]
"#;

async fn ebs_on(acct: &Account, region: &str) -> bool {
    acct.ec2(region)
        .get_ebs_encryption_by_default()
        .send()
        .await
        .expect("moto's GetEbsEncryptionByDefault")
        .ebs_encryption_by_default
        .expect("moto answers the flag")
}

/// The regions of the writes the proxy saw, by operation.
fn write_regions(acct: &Account, operation: &str) -> BTreeSet<String> {
    acct.proxy
        .writes()
        .into_iter()
        .filter(|c| c.operation == operation)
        .map(|c| c.region)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_region_is_listed_applied_and_then_in_line_with_zero_writes() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    let regions = acct.usable_regions().await;
    assert!(
        regions.len() > 10,
        "moto lists the usable regions: {regions:?}"
    );

    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_no_writes(&acct, &dry);
    // One line per region for each control (a flag or two differs), grouped by control.
    for r in &regions {
        for line in [
            format!(
                "~ ebs default encryption in {r}: EbsEncryptionByDefault: \"false\" -> \"true\""
            ),
            format!("~ instance metadata defaults in {r}"),
        ] {
            assert!(dry.stdout.contains(&line), "{line}\n{}", dry.all());
        }
    }
    let ebs_at = dry
        .stdout
        .find("EBS default encryption (CIS 5.1.1)")
        .unwrap();
    let imds_at = dry.stdout.find("IMDS defaults (IMDSv2) (CIS 5.7)").unwrap();
    let first_imds_line = dry.stdout.find("~ instance metadata defaults in").unwrap();
    let last_ebs_line = dry.stdout.rfind("~ ebs default encryption in").unwrap();
    assert!(ebs_at < last_ebs_line && last_ebs_line < imds_at && imds_at < first_imds_line);
    // The precedence caveat is said once per control, not once per region.
    assert_eq!(
        dry.stdout
            .matches("launch parameters and an AMI's ImdsSupport take precedence")
            .count(),
        1,
        "{}",
        dry.stdout
    );

    acct.proxy.clear();
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let all: BTreeSet<String> = regions.iter().cloned().collect();
    assert_eq!(write_regions(&acct, "EnableEbsEncryptionByDefault"), all);
    assert_eq!(write_regions(&acct, "ModifyInstanceMetadataDefaults"), all);
    // The default key was aws/ebs already: nothing else was written.
    let writes: BTreeSet<String> = acct
        .proxy
        .writes()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        writes,
        [
            "EnableEbsEncryptionByDefault",
            "ModifyInstanceMetadataDefaults"
        ]
        .map(String::from)
        .into(),
    );
    for r in &regions {
        assert!(ebs_on(&acct, r).await, "{r}");
        let imds = acct.ec2.imds(r);
        assert_eq!(imds.http_tokens.as_deref(), Some("required"), "{r}");
        assert_eq!(imds.hop_limit, Some(2), "{r}");
        assert_eq!(imds.http_tokens_enforced, None, "not asked for: left alone");
    }

    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);
    // Every region was read again: one DescribeRegions, three reads per region.
    let counts = acct.proxy.counts();
    assert_eq!(counts.get("ec2:DescribeRegions"), Some(&1), "{counts:?}");
    for op in [
        "GetEbsEncryptionByDefault",
        "GetEbsDefaultKmsKeyId",
        "GetInstanceMetadataDefaults",
    ] {
        assert_eq!(
            counts.get(&format!("ec2:{op}")),
            Some(&regions.len()),
            "{op}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_in_one_region_is_reported_with_its_region_and_repaired_there_only() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());

    // By hand: encryption off in eu-west-1, IMDSv1 allowed again in ap-south-1, and the default
    // key set to a customer key by its ARN in us-west-2.
    acct.ec2("eu-west-1")
        .disable_ebs_encryption_by_default()
        .send()
        .await
        .unwrap();
    acct.ec2
        .set_imds("ap-south-1", |d| d.http_tokens = Some("optional".into()));
    let key_arn = format!(
        "arn:aws:kms:us-west-2:{}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        acct.id
    );
    acct.ec2.set_ebs_key("us-west-2", &key_arn);

    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_no_writes(&acct, &dry);
    for line in [
        "~ ebs default encryption in eu-west-1: EbsEncryptionByDefault: \"false\" -> \"true\""
            .to_string(),
        "~ instance metadata defaults in ap-south-1: HttpTokens: \"optional\" -> \"required\""
            .to_string(),
        format!(
            "~ ebs default encryption in us-west-2: KmsKeyId: \"{key_arn}\" -> \"alias/aws/ebs\""
        ),
    ] {
        assert!(dry.stdout.contains(&line), "{line}\n{}", dry.all());
    }
    assert!(dry.stdout.contains("3 to change"), "{}", dry.stdout);

    acct.proxy.clear();
    let repaired = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(repaired.code, 0, "{}", repaired.all());
    let writes: Vec<(String, String)> = acct
        .proxy
        .writes()
        .into_iter()
        .map(|c| (c.operation, c.region))
        .collect();
    assert_eq!(
        writes.iter().cloned().collect::<BTreeSet<_>>(),
        [
            ("EnableEbsEncryptionByDefault", "eu-west-1"),
            ("ResetEbsDefaultKmsKeyId", "us-west-2"),
            ("ModifyInstanceMetadataDefaults", "ap-south-1"),
        ]
        .map(|(o, r)| (o.to_string(), r.to_string()))
        .into(),
        "only the drifted regions are written"
    );
    assert!(ebs_on(&acct, "eu-west-1").await);
    // After ResetEbsDefaultKmsKeyId, EC2 names the AWS managed key by its key ARN (AWS CLI example
    // reset-ebs-default-kms-key-id), no longer as alias/aws/ebs: still in line below.
    assert_eq!(
        acct.ec2.ebs_key("us-west-2"),
        acct.key_arn("us-west-2", "alias/aws/ebs").await
    );
    assert_eq!(
        acct.ec2.imds("ap-south-1").http_tokens.as_deref(),
        Some("required")
    );

    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chosen_key_and_enforcement_are_set_and_read_back_as_in_line() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        r#"
version = 1
home_region = "us-east-1"
regions = ["eu-west-1", "us-east-2"]
[ebs_encryption]
kms_key = "alias/ebs-default"
[imds_defaults]
hop_limit = 1
http_tokens_enforced = true
"#,
    );
    // The customer key, made by the person in each region (aws-harden does not make EBS keys).
    let mut keys = std::collections::BTreeMap::new();
    for r in ["eu-west-1", "us-east-2"] {
        keys.insert(r, acct.key_with_alias(r, "alias/ebs-default").await);
    }
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    for r in ["eu-west-1", "us-east-2"] {
        // EC2 answers the key ARN, not the alias it was set by (AWS CLI example
        // modify-ebs-default-kms-key-id): aws-harden compares by key, so this is in line below.
        assert_eq!(acct.ec2.ebs_key(r), keys[r]);
        let imds = acct.ec2.imds(r);
        assert_eq!(imds.hop_limit, Some(1));
        assert_eq!(imds.http_tokens_enforced.as_deref(), Some("enabled"));
    }
    // Only the listed regions were touched.
    let touched: BTreeSet<String> = acct
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.service == "ec2" && c.operation != "DescribeRegions")
        .map(|c| c.region)
        .collect();
    assert_eq!(touched, ["eu-west-1", "us-east-2"].map(String::from).into());

    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);
}

/// The plan's key alias missing in one region: never sent to EC2 (which accepts an unknown alias
/// and fails later), a manual action naming the region and the alias; the other region is set.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_alias_missing_in_a_region_is_a_manual_action_there_and_never_sent() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        r#"
version = 1
home_region = "us-east-1"
regions = ["eu-west-1", "us-east-2"]
[ebs_encryption]
kms_key = "alias/ebs-default"
"#,
    );
    let key = acct.key_with_alias("eu-west-1", "alias/ebs-default").await;
    let applied = acct.run(&["-f", &plan, "--yes", "--output", "json"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(acct.ec2.ebs_key("eu-west-1"), key);
    assert_eq!(
        write_regions(&acct, "ModifyEbsDefaultKmsKeyId"),
        ["eu-west-1".to_string()].into()
    );
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert_no_writes(&acct, &dry);
    assert!(
        dry.stdout
            .contains("the key alias alias/ebs-default does not exist in us-east-2"),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout.contains("! ebs default encryption in us-east-2"),
        "{}",
        dry.all()
    );
    assert!(!dry.stdout.contains("in eu-west-1"), "{}", dry.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_region_denied_by_policy_is_skipped_and_reported_and_the_others_go_on() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    acct.proxy.deny_region("eu-west-1");
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(
        applied
            .stdout
            .contains("region eu-west-1 skipped: denied by policy"),
        "{}",
        applied.all()
    );
    assert!(!write_regions(&acct, "EnableEbsEncryptionByDefault").contains("eu-west-1"));
    assert!(write_regions(&acct, "EnableEbsEncryptionByDefault").contains("eu-west-2"));
    assert!(!ebs_on(&acct, "eu-west-1").await, "never written");
    assert!(ebs_on(&acct, "eu-west-2").await);

    // The next check: every other region in line, the denied one said again, not counted as in
    // line nor as pending.
    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan, "--output", "json"]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_no_writes(&acct, &again);
    let v: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let notices = v["notices"].as_array().unwrap();
    let skipped: Vec<&serde_json::Value> = notices
        .iter()
        .filter(|n| n["message"].as_str().unwrap().contains("eu-west-1 skipped"))
        .collect();
    assert_eq!(skipped.len(), 2, "one per regional control: {notices:?}");
    assert!(skipped.iter().all(|n| n["level"] == "warning"));
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_in_every_region_is_a_missing_permission_not_a_skip() {
    let acct = Account::new().await;
    let plan = acct.write_plan("p.toml", PLAN);
    acct.proxy.hook(Box::new(|req| {
        (req.operation == "GetEbsEncryptionByDefault").then(|| {
            common::proxy::ec2_error(
                403,
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            )
        })
    }));
    let run = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    for part in [
        "access denied",
        "GetEbsEncryptionByDefault",
        "caller lacks this permission",
    ] {
        assert!(run.stdout.contains(part), "{part}\n{}", run.all());
    }
}

/// One region refused for a missing identity permission (not an Organization policy): nothing was
/// read there, so `--plan` exits 1 naming the region and the action, never "in line"; leaving the
/// region out with `exclude_regions` is the way to say it is closed on purpose.
#[tokio::test(flavor = "multi_thread")]
async fn a_region_refused_for_a_missing_permission_is_an_error_naming_it() {
    let acct = Account::new().await;
    let text = "version = 1\nhome_region = \"us-east-1\"\nregions = [\"us-east-1\", \"eu-west-1\"]\n[ebs_encryption]\n";
    let plan = acct.write_plan("p.toml", text);
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    // IAM user guide, "Access denied error messages": the identity-based wording.
    acct.proxy.hook(Box::new(|req| {
        (req.operation == "GetEbsEncryptionByDefault" && req.region == "eu-west-1").then(|| {
            common::proxy::ec2_error(
                403,
                "UnauthorizedOperation",
                "You are not authorized to perform this operation. User: \
                 arn:aws:sts::123456789012:assumed-role/audit/ci is not authorized to perform: \
                 ec2:GetEbsEncryptionByDefault because no identity-based policy allows the \
                 ec2:GetEbsEncryptionByDefault action",
            )
        })
    }));
    // And by hand, encryption off in the other region: still reported and repaired.
    acct.ec2("us-east-1")
        .disable_ebs_encryption_by_default()
        .send()
        .await
        .unwrap();
    acct.proxy.clear();
    let run = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert_no_writes(&acct, &run);
    for part in [
        "error: region eu-west-1 not checked",
        "GetEbsEncryptionByDefault",
        "exclude_regions",
        "~ ebs default encryption in us-east-1",
    ] {
        assert!(run.stdout.contains(part), "{part}\n{}", run.all());
    }
    acct.proxy.clear();
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(
        applied.code,
        1,
        "the region not checked fails the run\n{}",
        applied.all()
    );
    assert!(ebs_on(&acct, "us-east-1").await, "{}", applied.all());
    // Left out on purpose: the rest is read and in line.
    let excluded = acct.write_plan(
        "q.toml",
        &text.replace(
            "[ebs_encryption]",
            "exclude_regions = [\"eu-west-1\"]\n[ebs_encryption]",
        ),
    );
    acct.proxy.clear();
    let run = acct.run(&["--plan", "-f", &excluded]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        acct.proxy.calls().iter().all(|c| c.region != "eu-west-1"),
        "{:?}",
        acct.proxy.calls()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_region_that_is_not_one_fails_before_any_call_and_one_not_enabled_before_any_write() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\nregions = [\"eu-west-1\", \"eu-west-9\"]\n[ebs_encryption]\n",
    );
    let run = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    for part in ["p.toml", "regions", "eu-west-9", "not an AWS region"] {
        assert!(run.stderr.contains(part), "{part}\n{}", run.all());
    }
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());

    // ap-east-1 needs an opt-in, which moto's account has not given.
    let plan = acct.write_plan(
        "q.toml",
        "version = 1\nhome_region = \"us-east-1\"\nregions = [\"ap-east-1\"]\n[ebs_encryption]\n",
    );
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    for part in ["regions", "ap-east-1", "not enabled", "not-opted-in"] {
        assert!(run.stderr.contains(part), "{part}\n{}", run.all());
    }
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_set_by_a_declarative_policy_are_a_manual_action_never_written() {
    let acct = Account::new().await;
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"us-east-1\"\nregions = [\"eu-west-1\"]\n[imds_defaults]\n",
    );
    acct.ec2.set_imds("eu-west-1", |d| {
        d.http_tokens = Some("optional".into());
        d.hop_limit = Some(2);
        d.managed_by_policy = Some("Managed by your organization's declarative policy".into());
    });
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "a manual action is pending: {}", dry.all());
    assert!(
        dry.stdout
            .contains("! instance metadata defaults in eu-west-1"),
        "{}",
        dry.all()
    );
    assert!(dry.stdout.contains("declarative policy"), "{}", dry.all());
    // Apply leaves it to a person: nothing written, the manual action listed.
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("declarative policy"), "{}", run.all());
    assert!(acct.proxy.writes().is_empty(), "{:?}", acct.proxy.writes());
}
