//! End-to-end: the Cost and Usage Report control with the real binary. S3 is moto; the report API
//! is the loopback STUB in tests/common/cur_stub.rs (no emulator serves it), answered by the same
//! recording proxy so every call is counted alike.

use crate::common;

use common::{Account, CurStub, assert_no_writes};
use serde_json::json;

const PLAN: &str = "version = 1\nhome_region = \"us-east-1\"\n[cost_report]\n";
const REPORT: &str = "aws-harden-cur";

fn bucket(acct: &Account) -> String {
    format!("aws-harden-cur-{}-us-east-1", acct.id)
}

/// The operations the proxy saw for one service, in order.
fn ops(acct: &Account, service: &str) -> Vec<String> {
    acct.proxy
        .calls()
        .into_iter()
        .filter(|c| c.service == service)
        .map(|c| c.operation)
        .collect()
}

fn cur_writes(acct: &Account) -> Vec<String> {
    acct.proxy
        .writes()
        .into_iter()
        .filter(|c| c.service == "cur")
        .map(|c| c.operation)
        .collect()
}

/// The report bucket in moto: SSE-S3, and a policy with the TLS-only deny and the scoped delivery
/// statements for the billing services.
async fn assert_bucket_hardened(acct: &Account, name: &str) {
    let s3 = acct.s3();
    let enc = s3
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
        .expect("encryption configured");
    let rule = &enc.server_side_encryption_configuration.unwrap().rules[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default
            .as_ref()
            .unwrap()
            .sse_algorithm
            .as_str(),
        "AES256"
    );
    let policy = s3
        .get_bucket_policy()
        .bucket(name)
        .send()
        .await
        .expect("a bucket policy")
        .policy
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let statements = doc["Statement"].as_array().unwrap();
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no {sid} in {doc}"))
    };
    assert_eq!(by_sid("DenyInsecureTransport")["Effect"], "Deny");
    let deliver = by_sid("BillingReportsDeliver");
    assert_eq!(deliver["Action"], "s3:PutObject");
    assert_eq!(deliver["Resource"], json!(format!("arn:aws:s3:::{name}/*")));
    assert_eq!(
        deliver["Condition"]["ArnLike"]["aws:SourceArn"][0],
        json!(format!("arn:aws:cur:us-east-1:{}:definition/*", acct.id))
    );
    assert_eq!(
        deliver["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!(acct.id)
    );
    let check = by_sid("BillingReportsCheckBucketPolicy");
    assert_eq!(
        check["Action"],
        json!(["s3:GetBucketAcl", "s3:GetBucketPolicy"])
    );
    assert_eq!(check["Resource"], json!(format!("arn:aws:s3:::{name}")));
}

async fn applied(acct: &Account, plan: &str) -> common::Run {
    let run = acct.run(&["-f", plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_the_report_then_a_rerun_writes_nothing() {
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    let plan = acct.write_plan("p.toml", PLAN);

    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    for expected in [
        "+ cost and usage report \"aws-harden-cur\"",
        "time unit: (none) -> \"HOURLY\"",
        "format: (none) -> \"Parquet\"",
        "artifacts: (none) -> \"ATHENA\"",
        &format!("s3 bucket: (none) -> \"{}\"", bucket(&acct)),
    ] {
        assert!(
            dry.stdout.contains(expected),
            "missing {expected:?}\n{}",
            dry.all()
        );
    }
    assert_eq!(ops(&acct, "cur"), vec!["DescribeReportDefinitions"]);
    assert_no_writes(&acct, &dry);
    assert!(stub.reports().is_empty());

    acct.proxy.clear();
    applied(&acct, &plan).await;
    assert_eq!(cur_writes(&acct), vec!["PutReportDefinition"]);
    // The bucket, and the policy admitting the billing service, exist before the report is defined.
    let writes: Vec<String> = acct
        .proxy
        .writes()
        .into_iter()
        .map(|c| format!("{} {}", c.service, c.operation))
        .collect();
    let at = |op: &str| {
        writes
            .iter()
            .position(|w| w == op)
            .unwrap_or_else(|| panic!("no {op} in {writes:?}"))
    };
    assert!(at("s3 PUT") < at("s3 PUT ?policy"), "{writes:?}");
    assert!(
        at("s3 PUT ?policy") < at("cur PutReportDefinition"),
        "{writes:?}"
    );
    assert_eq!(
        writes.last().unwrap(),
        "cur PutReportDefinition",
        "{writes:?}"
    );
    assert_bucket_hardened(&acct, &bucket(&acct)).await;
    let def = stub.report(REPORT).expect("the report was stored");
    assert_eq!(def["TimeUnit"], "HOURLY");
    assert_eq!(def["Format"], "Parquet");
    assert_eq!(def["Compression"], "Parquet");
    assert_eq!(def["AdditionalSchemaElements"], json!(["RESOURCES"]));
    assert_eq!(def["AdditionalArtifacts"], json!(["ATHENA"]));
    assert_eq!(def["S3Bucket"], json!(bucket(&acct)));
    assert_eq!(def["S3Prefix"], "cur");
    assert_eq!(def["S3Region"], "us-east-1");
    assert_eq!(def["RefreshClosedReports"], true);
    assert_eq!(def["ReportVersioning"], "OVERWRITE_REPORT");

    acct.proxy.clear();
    let again = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stdout.contains("No changes."), "{}", again.all());
    assert_no_writes(&acct, &again);

    acct.proxy.clear();
    let second = applied(&acct, &plan).await;
    assert_no_writes(&acct, &second);
    assert!(
        !ops(&acct, "cur").is_empty(),
        "the re-run did read the reports: {:?}",
        acct.proxy.calls()
    );
}

/// The definition reached the service, its answer was lost: the SDK's retry meets
/// `DuplicateReportNameException`. That is the state asked for (a bug convergence found once),
/// and the definition stored is the planned one.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_put_report_definition_answer_counts_as_done() {
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    acct.proxy.fail_on(
        common::proxy::Which::Nth("PutReportDefinition", 1),
        common::proxy::Fault::LostResponse,
    );
    let plan = acct.write_plan("p.toml", PLAN);
    let run = applied(&acct, &plan).await;
    let puts: Vec<_> = acct
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "PutReportDefinition")
        .map(|c| c.status)
        .collect();
    // Lost, then refused as a duplicate: the stub stored the first.
    assert_eq!(puts, [0, 400], "{}", run.all());
    assert_eq!(stub.reports().len(), 1);
    assert_eq!(stub.report(REPORT).unwrap()["TimeUnit"], "HOURLY");
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_in_the_definition_is_modified_in_place() {
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    let plan = acct.write_plan("p.toml", PLAN);
    applied(&acct, &plan).await;

    // Changed in the console.
    stub.set_field(REPORT, "TimeUnit", json!("DAILY"));
    stub.set_field(REPORT, "RefreshClosedReports", json!(false));

    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout.contains(
            "~ cost and usage report \"aws-harden-cur\"\n      time unit: \"DAILY\" -> \"HOURLY\"\n      refresh closed reports: \"false\" -> \"true\"\n"
        ),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout.contains("Plan: 0 to create, 1 to change"),
        "{}",
        dry.all()
    );
    assert_no_writes(&acct, &dry);

    acct.proxy.clear();
    applied(&acct, &plan).await;
    assert_eq!(cur_writes(&acct), vec!["ModifyReportDefinition"]);
    assert_eq!(acct.proxy.writes().len(), 1, "{:?}", acct.proxy.writes());
    let def = stub.report(REPORT).unwrap();
    assert_eq!(def["TimeUnit"], "HOURLY");
    assert_eq!(def["RefreshClosedReports"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_report_is_created_again() {
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    let plan = acct.write_plan("p.toml", PLAN);
    applied(&acct, &plan).await;

    stub.remove(REPORT).expect("stored");
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout
            .contains("+ cost and usage report \"aws-harden-cur\""),
        "{}",
        dry.all()
    );
    acct.proxy.clear();
    applied(&acct, &plan).await;
    assert_eq!(cur_writes(&acct), vec!["PutReportDefinition"]);
    assert!(stub.report(REPORT).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn other_reports_are_left_alone_unless_listed_for_deletion() {
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    for name in ["old-cur", "finance-cur"] {
        stub.insert(json!({
            "ReportName": name, "TimeUnit": "DAILY", "Format": "textORcsv", "Compression": "GZIP",
            "AdditionalSchemaElements": [], "S3Bucket": "elsewhere", "S3Prefix": "x",
            "S3Region": "us-east-1"
        }));
    }
    let plan = acct.write_plan("p.toml", PLAN);
    let run = applied(&acct, &plan).await;
    assert!(
        run.stdout
            .contains("left alone (not in this plan): finance-cur, old-cur"),
        "{}",
        run.all()
    );
    assert_eq!(stub.reports().len(), 3);

    let plan = acct.write_plan(
        "delete.toml",
        &format!("{PLAN}delete_reports = [\"old-cur\"]\n"),
    );
    acct.proxy.clear();
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(
        dry.stdout.contains("- cost and usage report \"old-cur\""),
        "{}",
        dry.all()
    );
    acct.proxy.clear();
    applied(&acct, &plan).await;
    assert_eq!(cur_writes(&acct), vec!["DeleteReportDefinition"]);
    let left: Vec<String> = stub.reports().into_keys().collect();
    assert_eq!(left, vec!["aws-harden-cur", "finance-cur"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn billing_access_denied_is_a_manual_action_not_a_crash() {
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    stub.deny_access(true);
    let plan = acct.write_plan("p.toml", PLAN);

    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 2, "{}", dry.all());
    for expected in [
        "! cost and usage report \"aws-harden-cur\"",
        "AccessDeniedException",
        "IAM user and role access to Billing information",
        "Activate IAM Access",
    ] {
        assert!(
            dry.stdout.contains(expected),
            "missing {expected:?}\n{}",
            dry.all()
        );
    }
    assert!(!dry.stderr.contains("panicked"), "{}", dry.all());

    acct.proxy.clear();
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("1 manual action remains"),
        "{}",
        run.all()
    );
    assert!(cur_writes(&acct).is_empty(), "{:?}", acct.proxy.calls());
    assert!(stub.reports().is_empty());
    // The bucket does not need billing access: it is ready for when the report can be created.
    assert_bucket_hardened(&acct, &bucket(&acct)).await;

    // Once root turns the switch on, the next run creates the report.
    stub.deny_access(false);
    acct.proxy.clear();
    applied(&acct, &plan).await;
    assert_eq!(cur_writes(&acct), vec!["PutReportDefinition"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_go_through_us_east_1_whatever_the_home_region() {
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    let plan = acct.write_plan(
        "p.toml",
        "version = 1\nhome_region = \"eu-west-1\"\n[cost_report]\n",
    );
    let run = acct
        .run(&["-f", &plan, "--yes", "--region", "eu-west-1"])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let regions = stub.regions();
    assert!(!regions.is_empty());
    assert!(regions.iter().all(|r| r == "us-east-1"), "{regions:?}");
    let def = stub.report(REPORT).unwrap();
    assert_eq!(def["S3Region"], "eu-west-1");
    let location = acct
        .s3()
        .get_bucket_location()
        .bucket(format!("aws-harden-cur-{}-eu-west-1", acct.id))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location.location_constraint.map(|l| l.as_str().to_string()),
        Some("eu-west-1".to_string())
    );
    assert_eq!(
        def["S3Bucket"],
        json!(format!("aws-harden-cur-{}-eu-west-1", acct.id))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prefix_ending_in_slash_is_refused_before_any_call() {
    let acct = Account::new().await;
    CurStub::install(&acct.proxy);
    let plan = acct.write_plan("slash.toml", &format!("{PLAN}s3_prefix = \"cur/\"\n"));
    let run = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    for expected in [
        "slash.toml",
        "cost_report.s3_prefix",
        "cur/",
        "s3-prefix-trailing-slash",
    ] {
        assert!(
            run.stderr.contains(expected),
            "missing {expected:?}\n{}",
            run.all()
        );
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.all());
    assert!(acct.proxy.calls().is_empty(), "{:?}", acct.proxy.calls());
}

/// The stub speaks the protocol the SDK expects, including AWS's error codes.
#[tokio::test(flavor = "multi_thread")]
async fn the_stub_answers_with_the_sdk_s_error_types() {
    use aws_sdk_costandusagereport::types::{
        CompressionFormat, ReportDefinition, ReportFormat, TimeUnit,
    };
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    let conf = aws_sdk_costandusagereport::config::Builder::from(&acct.sdk())
        .endpoint_url(&acct.proxy.url)
        .build();
    let cur = aws_sdk_costandusagereport::Client::from_conf(conf);
    let def = |name: &str| {
        ReportDefinition::builder()
            .report_name(name)
            .time_unit(TimeUnit::Daily)
            .format(ReportFormat::Csv)
            .compression(CompressionFormat::Gzip)
            .set_additional_schema_elements(Some(vec![]))
            .s3_bucket("b")
            .s3_prefix("p")
            .s3_region("us-east-1".into())
            .build()
            .unwrap()
    };
    cur.put_report_definition()
        .report_definition(def("r1"))
        .send()
        .await
        .unwrap();
    let dup = cur
        .put_report_definition()
        .report_definition(def("r1"))
        .send()
        .await
        .unwrap_err();
    assert!(
        dup.as_service_error()
            .is_some_and(|e| e.is_duplicate_report_name_exception()),
        "{dup:?}"
    );
    let unknown = cur
        .modify_report_definition()
        .report_name("nope")
        .report_definition(def("nope"))
        .send()
        .await
        .unwrap_err();
    assert!(
        unknown
            .as_service_error()
            .is_some_and(|e| e.is_validation_exception()),
        "{unknown:?}"
    );
    let gone = cur
        .delete_report_definition()
        .report_name("nope")
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_validation_exception()),
        "{gone:?}"
    );
    for n in 2..=5 {
        cur.put_report_definition()
            .report_definition(def(&format!("r{n}")))
            .send()
            .await
            .unwrap();
    }
    let limit = cur
        .put_report_definition()
        .report_definition(def("r6"))
        .send()
        .await
        .unwrap_err();
    assert!(
        limit
            .as_service_error()
            .is_some_and(|e| e.is_report_limit_reached_exception()),
        "{limit:?}"
    );
    // Pages of at most five, all found through the paginator.
    let all: Vec<String> = cur
        .describe_report_definitions()
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .flat_map(|p| p.report_definitions())
        .map(|d| d.report_name().to_string())
        .collect();
    assert_eq!(all, vec!["r1", "r2", "r3", "r4", "r5"]);
    assert_eq!(stub.reports().len(), 5);
    let calls: Vec<String> = acct.proxy.calls().into_iter().map(|c| c.service).collect();
    assert!(calls.iter().all(|s| s == "cur"), "{calls:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_whose_last_delivery_failed_is_pending_with_its_meaning() {
    // DescribeReportDefinitions answers ReportStatus.lastStatus (CUR API reference): SUCCESS,
    // ERROR_PERMISSIONS or ERROR_NO_BUCKET. The stub (moto has no CUR API) stores what AWS would say.
    let acct = Account::new().await;
    let stub = CurStub::install(&acct.proxy);
    let plan = acct.write_plan("p.toml", PLAN);
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    stub.set_field(REPORT, "ReportStatus", json!({"lastStatus": "SUCCESS"}));
    let dry = acct.run(&["--plan", "-f", &plan]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
    for (status, meaning) in [
        ("ERROR_NO_BUCKET", "does not exist"),
        ("ERROR_PERMISSIONS", "billingreports.amazonaws.com"),
    ] {
        stub.set_field(
            REPORT,
            "ReportStatus",
            json!({"lastStatus": status, "lastDelivery": "20261201T000000Z"}),
        );
        acct.proxy.clear();
        let dry = acct.run(&["--plan", "-f", &plan]).await;
        assert_eq!(dry.code, 2, "{}", dry.all());
        assert!(
            dry.stdout.contains(status) && dry.stdout.contains(meaning),
            "{}",
            dry.all()
        );
        assert_no_writes(&acct, &dry);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_bucket_keeps_reports_and_expires_old_versions() {
    // Each refresh of an OVERWRITE_REPORT report leaves a noncurrent version in the versioned bucket.
    let acct = Account::new().await;
    let _stub = CurStub::install(&acct.proxy);
    let plan = acct.write_plan("p.toml", &format!("{PLAN}noncurrent_version_days = 45\n"));
    let applied = acct.run(&["-f", &plan, "--yes"]).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let ours = acct.retention_rule(&bucket(&acct)).await;
    assert!(
        ours.expiration().is_none(),
        "current reports are kept: {ours:?}"
    );
    assert_eq!(
        ours.noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(45)
    );
}
