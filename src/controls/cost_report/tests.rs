use serde_json::{Value, json};

use super::*;
use crate::aws::Caller;
use crate::bucket;
use crate::bucket::Encryption;
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::DiffContext;
use crate::plan::{Plan, parse};

fn plan(extra: &str) -> Plan {
    parse(&format!(
        "version = 1\nhome_region = \"eu-west-1\"\n[cost_report]\nbucket = \"cur-bucket\"\n{extra}"
    ))
    .unwrap()
}

fn caller() -> Caller {
    Caller::from_arn(
        "123456789012",
        "arn:aws:iam::123456789012:user/alice",
        None,
        false,
    )
}

/// A change to the bucket (the bucket module's own tests cover those).
fn is_bucket(c: &Change<Op>) -> bool {
    c.ops.iter().any(|op| matches!(op, Op::Bucket(_)))
}

/// The one op of a change that has exactly one.
fn the_op(c: &Change<Op>) -> &Op {
    assert_eq!(c.ops.len(), 1, "{c:?}");
    &c.ops[0]
}

fn full(p: &Plan, reports: Reports) -> Diff<Op> {
    let c = caller();
    let ctx = DiffContext {
        plan: p,
        caller: &c,
        interactive: false,
        written: &[],
    };
    diff(
        &ctx,
        &Observed {
            reports,
            ..Observed::default()
        },
    )
}

/// The report's changes only (the bucket module's own tests cover the bucket's).
fn run(p: &Plan, reports: Reports) -> Diff<Op> {
    let mut d = full(p, reports);
    d.changes.retain(|c| !is_bucket(c));
    d
}

fn live(p: &Plan) -> Definition {
    desired(p.cost_report().unwrap(), &p.home_region)
}

#[test]
fn desired_follows_the_plan_in_aws_spellings() {
    let p = plan("");
    let d = live(&p);
    assert_eq!(d.time_unit, "HOURLY");
    assert_eq!(d.format, "Parquet");
    assert_eq!(d.compression, "Parquet");
    assert_eq!(d.schema_elements, vec!["RESOURCES"]);
    assert_eq!(d.artifacts, vec!["ATHENA"]);
    assert_eq!(d.region, "eu-west-1");
    assert_eq!(d.versioning.as_deref(), Some("OVERWRITE_REPORT"));
    let csv = live(&plan(
        "format = \"csv\"\nartifacts = [\"REDSHIFT\"]\ninclude_resources = false\n",
    ));
    assert_eq!(
        (csv.format.as_str(), csv.compression.as_str()),
        ("textORcsv", "GZIP")
    );
    assert!(csv.schema_elements.is_empty());
    // The SDK accepts what desired() builds.
    assert_eq!(Definition::from(&d.to_sdk().unwrap()), d);
}

#[test]
fn missing_report_is_created_with_every_field() {
    let p = plan("");
    let d = run(&p, Reports::Readable(vec![]));
    assert_eq!(d.changes.len(), 1);
    let c = &d.changes[0];
    assert_eq!(c.action, Action::Create);
    assert_eq!(c.resource, "cost and usage report \"aws-harden-cur\"");
    assert!(c.fields.iter().all(|f| f.before.is_none()));
    assert!(
        c.fields
            .iter()
            .any(|f| f.field == "s3 bucket" && f.after.as_deref() == Some("cur-bucket"))
    );
    assert!(matches!(
        the_op(c),
        Op::PutReport(def) if *def == live(&p)
    ));
}

#[test]
fn matching_report_is_no_change_whatever_list_order() {
    let p = plan("format = \"csv\"\nartifacts = [\"REDSHIFT\", \"QUICKSIGHT\"]\n");
    let mut same = live(&p);
    same.artifacts.reverse();
    let same = Definition::from(&same.to_sdk().unwrap());
    let d = run(&p, Reports::Readable(vec![same]));
    assert!(d.changes.is_empty(), "{:?}", d.changes);
}

#[test]
fn differing_report_is_modified_field_by_field() {
    let p = plan("");
    let mut drifted = live(&p);
    drifted.time_unit = "DAILY".into();
    drifted.refresh_closed_reports = Some(false);
    let d = run(&p, Reports::Readable(vec![drifted]));
    assert_eq!(d.changes.len(), 1);
    let c = &d.changes[0];
    assert_eq!(c.action, Action::Update);
    let fields: Vec<_> = c
        .fields
        .iter()
        .map(|f| {
            (
                f.field.as_str(),
                f.before.as_deref().unwrap(),
                f.after.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        vec![
            ("time unit", "DAILY", "HOURLY"),
            ("refresh closed reports", "false", "true")
        ]
    );
    assert!(matches!(
        the_op(c),
        Op::ModifyReport(def) if *def == live(&p)
    ));
}

#[test]
fn other_reports_are_left_alone_unless_listed_for_deletion() {
    let p = plan("");
    let mut other = live(&p);
    other.name = "someone-elses".into();
    let d = run(&p, Reports::Readable(vec![live(&p), other.clone()]));
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert!(d.notices[0].message.contains("someone-elses"));

    let p = plan("delete_reports = [\"someone-elses\", \"never-existed\"]\n");
    let d = run(&p, Reports::Readable(vec![live(&p), other]));
    assert_eq!(d.changes.len(), 1);
    assert_eq!(d.changes[0].action, Action::Delete);
    assert!(matches!(
        the_op(&d.changes[0]),
        Op::DeleteReport { name } if name == "someone-elses"
    ));
    assert!(d.notices.is_empty());
}

#[test]
fn billing_access_denied_is_a_manual_action_with_console_steps() {
    let p = plan("");
    let d = run(
        &p,
        Reports::Denied {
            code: "AccessDeniedException".into(),
        },
    );
    assert_eq!(d.changes.len(), 1);
    let c = &d.changes[0];
    assert_eq!(c.action, Action::Manual);
    assert!(c.ops.is_empty());
    let note = c.note.as_deref().unwrap();
    assert!(note.contains("IAM user and role access to Billing information"));
    assert!(note.contains("Activate IAM Access"));
    assert!(note.contains("IAM user alice"));
}

#[test]
fn the_bucket_and_its_delivery_policy_come_before_the_report() {
    let p = plan("");
    let d = full(&p, Reports::Readable(vec![]));
    let last = d.changes.last().unwrap();
    assert!(matches!(the_op(last), Op::PutReport(_)));
    let policy = d
        .changes
        .iter()
        .flat_map(|c| &c.ops)
        .find_map(|op| match op {
            Op::Bucket(bucket::Op::PutPolicy { document, .. }) => Some(document.clone()),
            _ => None,
        })
        .expect("a bucket policy change");
    let doc: Value = serde_json::from_str(&policy).unwrap();
    let statements = doc["Statement"].as_array().unwrap();
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("{sid} in {doc}"))
    };
    assert_eq!(by_sid(bucket::TLS_ONLY_SID)["Effect"], "Deny");
    let get = by_sid("BillingReportsCheckBucketPolicy");
    assert_eq!(
        get["Action"],
        json!(["s3:GetBucketAcl", "s3:GetBucketPolicy"])
    );
    assert_eq!(get["Resource"], "arn:aws:s3:::cur-bucket");
    let put = by_sid("BillingReportsDeliver");
    assert_eq!(put["Action"], "s3:PutObject");
    assert_eq!(put["Resource"], "arn:aws:s3:::cur-bucket/*");
    for s in [get, put] {
        assert_eq!(
            s["Principal"]["Service"],
            json!([
                "billingreports.amazonaws.com",
                "bcm-data-exports.amazonaws.com"
            ])
        );
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
        let arns = s["Condition"]["ArnLike"]["aws:SourceArn"]
            .as_array()
            .unwrap();
        assert_eq!(
            arns,
            &vec![
                json!("arn:aws:cur:us-east-1:123456789012:definition/*"),
                json!("arn:aws:bcm-data-exports:us-east-1:123456789012:export/*")
            ]
        );
        // Values ending in /* match only under a *Like operator.
        assert!(
            s["Condition"]
                .get("StringEquals")
                .unwrap()
                .get("aws:SourceArn")
                .is_none()
        );
    }
    // SSE-S3: no key policy has to admit the billing service.
    let steps: Vec<&bucket::Op> = d
        .changes
        .iter()
        .flat_map(|c| &c.ops)
        .filter_map(|op| match op {
            Op::Bucket(op) => Some(op),
            _ => None,
        })
        .collect();
    assert!(steps.iter().any(|op| matches!(
        op,
        bucket::Op::Encrypt {
            encryption: Encryption::SseS3,
            ..
        }
    )));
}

#[test]
fn root_denied_points_at_the_organization_not_the_switch() {
    let p = plan("");
    let root = Caller::from_arn(
        "123456789012",
        "arn:aws:iam::123456789012:root",
        None,
        false,
    );
    let ctx = DiffContext {
        plan: &p,
        caller: &root,
        interactive: false,
        written: &[],
    };
    let d = diff(
        &ctx,
        &Observed {
            bucket: bucket::Observed::default(),
            reports: Reports::Denied {
                code: "AccessDeniedException".into(),
            },
            ..Observed::default()
        },
    );
    let note = d.changes.last().unwrap().note.clone().unwrap();
    assert!(note.contains("service control policy"), "{note}");
    assert!(!note.contains("Activate IAM Access"), "{note}");
}

#[test]
fn billing_access_denied_still_prepares_the_bucket() {
    let p = plan("");
    let d = full(
        &p,
        Reports::Denied {
            code: "AccessDeniedException".into(),
        },
    );
    assert!(d.changes.iter().any(is_bucket));
    assert_eq!(d.changes.last().unwrap().action, Action::Manual);
}

#[test]
fn a_report_whose_last_delivery_failed_is_pending_until_it_succeeds() {
    let p = plan("");
    let c = caller();
    let observed = |status: &str| Observed {
        reports: Reports::Readable(vec![live(&p)]),
        last_status: [(live(&p).name, status.to_string())].into(),
        ..Observed::default()
    };
    let report_changes = |ctx: &DiffContext, o: &Observed| -> Vec<Change<Op>> {
        diff(ctx, o)
            .changes
            .into_iter()
            .filter(|c| !is_bucket(c))
            .collect()
    };
    let ctx = DiffContext {
        plan: &p,
        caller: &c,
        interactive: false,
        written: &[],
    };
    assert!(report_changes(&ctx, &observed("SUCCESS")).is_empty());
    for (status, meaning) in [
        ("ERROR_PERMISSIONS", "billingreports.amazonaws.com"),
        ("ERROR_NO_BUCKET", "does not exist"),
    ] {
        let changes = report_changes(&ctx, &observed(status));
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].action, Action::Manual);
        let note = changes[0].note.as_deref().unwrap();
        assert!(
            note.contains(meaning) && note.contains("once a day"),
            "{note}"
        );
    }
    let written = [ControlId::CostReport];
    let after = DiffContext {
        written: &written,
        ..ctx.clone()
    };
    let d = diff(&after, &observed("ERROR_PERMISSIONS"));
    assert!(d.changes.iter().all(|c| c.action != Action::Manual));
    assert!(
        d.notices
            .iter()
            .any(|n| n.message.contains("up to a day away"))
    );
}

#[test]
fn diff_is_deterministic() {
    let p = plan("");
    let mut drifted = live(&p);
    drifted.format = "textORcsv".into();
    let obs = Reports::Readable(vec![drifted]);
    assert_eq!(run(&p, obs.clone()), run(&p, obs));
}

#[test]
fn desired_spells_every_plan_value_as_the_sdk_does() {
    use aws_sdk_costandusagereport::types::{
        AdditionalArtifact, CompressionFormat, ReportFormat, ReportVersioning, SchemaElement,
        TimeUnit,
    };

    use crate::plan::{
        CostReportPlan, CurArtifact, CurCompression, CurFormat, CurTimeUnit, CurVersioning,
    };
    let base = plan("").cost_report().unwrap().clone();
    let want = |r: CostReportPlan| desired(&r, "eu-west-1");
    for (unit, sdk) in [
        (CurTimeUnit::Hourly, TimeUnit::Hourly),
        (CurTimeUnit::Daily, TimeUnit::Daily),
        (CurTimeUnit::Monthly, TimeUnit::Monthly),
    ] {
        let r = CostReportPlan {
            time_unit: unit,
            ..base.clone()
        };
        assert_eq!(want(r).time_unit, sdk.as_str());
    }
    for (format, sdk) in [
        (CurFormat::Parquet, ReportFormat::Parquet),
        (CurFormat::Csv, ReportFormat::Csv),
    ] {
        let r = CostReportPlan {
            format,
            ..base.clone()
        };
        assert_eq!(want(r).format, sdk.as_str());
    }
    for (compression, sdk) in [
        (CurCompression::Parquet, CompressionFormat::Parquet),
        (CurCompression::Gzip, CompressionFormat::Gzip),
        (CurCompression::Zip, CompressionFormat::Zip),
    ] {
        let r = CostReportPlan {
            compression: Some(compression),
            ..base.clone()
        };
        assert_eq!(want(r).compression, sdk.as_str());
    }
    for (versioning, sdk) in [
        (
            CurVersioning::OverwriteReport,
            ReportVersioning::OverwriteReport,
        ),
        (
            CurVersioning::CreateNewReport,
            ReportVersioning::CreateNewReport,
        ),
    ] {
        let r = CostReportPlan {
            versioning,
            ..base.clone()
        };
        assert_eq!(want(r).versioning.as_deref(), Some(sdk.as_str()));
    }
    for (artifact, sdk) in [
        (CurArtifact::Athena, AdditionalArtifact::Athena),
        (CurArtifact::Redshift, AdditionalArtifact::Redshift),
        (CurArtifact::Quicksight, AdditionalArtifact::Quicksight),
    ] {
        let r = CostReportPlan {
            artifacts: vec![artifact],
            ..base.clone()
        };
        assert_eq!(want(r).artifacts, [sdk.as_str()]);
    }
    let r = CostReportPlan {
        include_resources: true,
        ..base.clone()
    };
    assert_eq!(want(r).schema_elements, [SchemaElement::Resources.as_str()]);
}
