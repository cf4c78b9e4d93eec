//! Billing visibility: a Cost and Usage Report (legacy CUR API) delivered to the control's own
//! hardened bucket. The report API exists only in us-east-1 (`aws.cur` is built for it whatever
//! the home region); the bucket lives in the home region.
//!
//! A report definition is identified by its name: a missing one is created, a differing one is
//! modified field by field, and report definitions the plan does not name are left alone unless
//! listed in `delete_reports`. IAM identities can read billing data only after the root user
//! turns on "IAM user and role access to Billing information" (console only): when AWS refuses
//! the read, that is a manual action with the console steps, not an error.

use aws_sdk_costandusagereport::types::{
    AdditionalArtifact, AwsRegion, CompressionFormat, ReportDefinition, ReportFormat,
    ReportVersioning, SchemaElement, TimeUnit,
};

use serde_json::{Value, json};

use crate::aws::{Aws, Caller, SdkResultExt, created_or_exists, error_code, sdk_error};
use crate::bucket::{self, BucketSpec, Encryption};
use crate::change::{Action, Change, ControlId, Diff, Notice};
use crate::controls::DiffContext;
use crate::plan::{
    CostReportPlan, CurArtifact, CurCompression, CurFormat, CurTimeUnit, CurVersioning, Plan,
};

const CONTROL: ControlId = ControlId::CostReport;
/// The only region the Cost and Usage Report API (and so its `aws:SourceArn`s) lives in.
const CUR_REGION: &str = "us-east-1";
/// Error codes meaning "this identity may not read billing data".
const ACCESS_DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
];

/// A report definition as plain data, in AWS's spellings. Lists are sorted: AWS treats them as
/// sets, so order is never drift.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Definition {
    pub name: String,
    pub time_unit: String,
    pub format: String,
    pub compression: String,
    pub schema_elements: Vec<String>,
    pub bucket: String,
    pub prefix: String,
    pub region: String,
    pub artifacts: Vec<String>,
    pub refresh_closed_reports: Option<bool>,
    pub versioning: Option<String>,
}

/// What the account has.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    pub bucket: bucket::Observed,
    pub reports: Reports,
    /// `ReportStatus.lastStatus` by report name, where AWS gave one (SUCCESS, ERROR_PERMISSIONS,
    /// ERROR_NO_BUCKET: DescribeReportDefinitions, CUR API reference).
    pub last_status: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reports {
    /// Every report definition in the account, by name order.
    Readable(Vec<Definition>),
    /// AWS refused to list them (`code`: its error code).
    Denied { code: String },
}

impl Default for Reports {
    fn default() -> Self {
        Reports::Readable(Vec::new())
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    PutReport(Definition),
    ModifyReport(Definition),
    DeleteReport { name: String },
}

/// The statements that let AWS deliver reports into the bucket: the legacy CUR service
/// (`billingreports`) and Data Exports (`bcm-data-exports`, CUR 2.0), so the same bucket serves a
/// later move to Data Exports. AWS checks the policy (`GetBucketPolicy`) when the report is
/// defined and writes objects (`PutObject`) on delivery. Scoped to this account's own report
/// definitions and exports: `aws:SourceAccount` is exact (StringEquals); the `aws:SourceArn`s end
/// in `/*`, which only a `*Like` operator matches (ArnLike), whatever some AWS examples show.
pub fn delivery_statements(partition: &str, account_id: &str, bucket_name: &str) -> Vec<Value> {
    let arn = bucket::bucket_arn(partition, bucket_name);
    let condition = json!({
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": [
            format!("arn:{partition}:cur:{CUR_REGION}:{account_id}:definition/*"),
            format!("arn:{partition}:bcm-data-exports:{CUR_REGION}:{account_id}:export/*"),
        ]}
    });
    let principal =
        json!({"Service": ["billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com"]});
    vec![
        // The legacy CUR set-up page ("Setting up an Amazon S3 bucket for Cost and Usage Reports") lists
        // s3:GetBucketAcl and s3:GetBucketPolicy on the bucket. The Sid stays as first written, so a bucket
        // set up before GetBucketAcl was added has this statement updated, not a second one left behind.
        json!({
            "Sid": "BillingReportsCheckBucketPolicy",
            "Effect": "Allow",
            "Principal": principal,
            "Action": ["s3:GetBucketAcl", "s3:GetBucketPolicy"],
            "Resource": arn,
            "Condition": condition,
        }),
        json!({
            "Sid": "BillingReportsDeliver",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:PutObject",
            "Resource": format!("{arn}/*"),
            "Condition": condition,
        }),
    ]
}

/// The report's own bucket: hardened, SSE-S3 (so no KMS key policy has to admit the billing
/// service), in the home region, objects kept (no expiry: closed months are not delivered again).
pub fn bucket_spec(r: &CostReportPlan, home_region: &str, caller: &Caller) -> BucketSpec {
    BucketSpec {
        name: r.bucket.clone(),
        region: home_region.to_string(),
        encryption: Encryption::SseS3,
        // Reports are kept; each refresh of an OVERWRITE_REPORT report leaves an old version behind.
        retention: Some(bucket::Retention::noncurrent_only(
            r.noncurrent_version_days,
        )),
        statements: delivery_statements(&caller.partition, &caller.account_id, &r.bucket),
        access_logging: None,
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The definition the plan asks for (the bucket in the home region).
pub fn desired(r: &CostReportPlan, home_region: &str) -> Definition {
    let time_unit = match r.time_unit {
        CurTimeUnit::Hourly => TimeUnit::Hourly,
        CurTimeUnit::Daily => TimeUnit::Daily,
        CurTimeUnit::Monthly => TimeUnit::Monthly,
    };
    let format = match r.format {
        CurFormat::Parquet => ReportFormat::Parquet,
        CurFormat::Csv => ReportFormat::Csv,
    };
    let compression = match r.compression() {
        CurCompression::Parquet => CompressionFormat::Parquet,
        CurCompression::Gzip => CompressionFormat::Gzip,
        CurCompression::Zip => CompressionFormat::Zip,
    };
    let versioning = match r.versioning {
        CurVersioning::OverwriteReport => ReportVersioning::OverwriteReport,
        CurVersioning::CreateNewReport => ReportVersioning::CreateNewReport,
    };
    let artifacts = r
        .artifacts
        .iter()
        .map(|a| match a {
            CurArtifact::Athena => AdditionalArtifact::Athena,
            CurArtifact::Redshift => AdditionalArtifact::Redshift,
            CurArtifact::Quicksight => AdditionalArtifact::Quicksight,
        })
        .map(|a| a.as_str().to_string())
        .collect();
    let schema = if r.include_resources {
        vec![SchemaElement::Resources.as_str().to_string()]
    } else {
        Vec::new()
    };
    Definition {
        name: r.report_name.clone(),
        time_unit: time_unit.as_str().into(),
        format: format.as_str().into(),
        compression: compression.as_str().into(),
        schema_elements: schema,
        bucket: r.bucket.clone(),
        prefix: r.s3_prefix.clone(),
        region: home_region.into(),
        artifacts: sorted(artifacts),
        refresh_closed_reports: Some(r.refresh_closed_reports),
        versioning: Some(versioning.as_str().into()),
    }
}

impl From<&ReportDefinition> for Definition {
    fn from(d: &ReportDefinition) -> Self {
        Definition {
            name: d.report_name().into(),
            time_unit: d.time_unit().as_str().into(),
            format: d.format().as_str().into(),
            compression: d.compression().as_str().into(),
            schema_elements: sorted(
                d.additional_schema_elements()
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
            ),
            bucket: d.s3_bucket().into(),
            prefix: d.s3_prefix().into(),
            region: d.s3_region().as_str().into(),
            artifacts: sorted(
                d.additional_artifacts()
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
            ),
            refresh_closed_reports: d.refresh_closed_reports(),
            versioning: d.report_versioning().map(|v| v.as_str().to_string()),
        }
    }
}

impl Definition {
    fn to_sdk(&self) -> anyhow::Result<ReportDefinition> {
        ReportDefinition::builder()
            .report_name(&self.name)
            .time_unit(TimeUnit::from(self.time_unit.as_str()))
            .format(ReportFormat::from(self.format.as_str()))
            .compression(CompressionFormat::from(self.compression.as_str()))
            .set_additional_schema_elements(Some(
                self.schema_elements
                    .iter()
                    .map(|s| SchemaElement::from(s.as_str()))
                    .collect(),
            ))
            .s3_bucket(&self.bucket)
            .s3_prefix(&self.prefix)
            .s3_region(AwsRegion::from(self.region.as_str()))
            .set_additional_artifacts(Some(
                self.artifacts
                    .iter()
                    .map(|s| AdditionalArtifact::from(s.as_str()))
                    .collect(),
            ))
            .set_refresh_closed_reports(self.refresh_closed_reports)
            .set_report_versioning(self.versioning.as_deref().map(ReportVersioning::from))
            .build()
            .map_err(|e| anyhow::anyhow!("building report definition {}: {e}", self.name))
    }

    /// Field-level differences, as (field, before, after), in a fixed order.
    fn differences(&self, desired: &Definition) -> Vec<(&'static str, String, String)> {
        let list = |v: &[String]| {
            if v.is_empty() {
                "(none)".to_string()
            } else {
                v.join(", ")
            }
        };
        let opt_bool = |v: Option<bool>| v.map_or("(unset)".into(), |b| b.to_string());
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
        let pairs = [
            (
                "time unit",
                self.time_unit.clone(),
                desired.time_unit.clone(),
            ),
            ("format", self.format.clone(), desired.format.clone()),
            (
                "compression",
                self.compression.clone(),
                desired.compression.clone(),
            ),
            (
                "schema elements",
                list(&self.schema_elements),
                list(&desired.schema_elements),
            ),
            ("s3 bucket", self.bucket.clone(), desired.bucket.clone()),
            ("s3 prefix", self.prefix.clone(), desired.prefix.clone()),
            ("s3 region", self.region.clone(), desired.region.clone()),
            ("artifacts", list(&self.artifacts), list(&desired.artifacts)),
            (
                "refresh closed reports",
                opt_bool(self.refresh_closed_reports),
                opt_bool(desired.refresh_closed_reports),
            ),
            (
                "versioning",
                opt(&self.versioning),
                opt(&desired.versioning),
            ),
        ];
        pairs.into_iter().filter(|(_, a, b)| a != b).collect()
    }
}

pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(r) = plan.cost_report() else {
        return Ok(Observed::default());
    };
    let spec = bucket_spec(r, &plan.home_region, &aws.caller);
    let (bucket, pages) = tokio::join!(
        bucket::observe(aws, &spec),
        aws.cur
            .describe_report_definitions()
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
    );
    let bucket = bucket?;
    let mut last_status = std::collections::BTreeMap::new();
    let reports = match pages {
        Ok(pages) => {
            for r in pages.iter().flat_map(|p| p.report_definitions()) {
                if let Some(status) = r.report_status().and_then(|s| s.last_status()) {
                    last_status.insert(r.report_name.clone(), status.as_str().to_string());
                }
            }
            let mut defs: Vec<Definition> = pages
                .iter()
                .flat_map(|p| p.report_definitions())
                .map(Definition::from)
                .collect();
            defs.sort_by(|a, b| a.name.cmp(&b.name));
            Reports::Readable(defs)
        }
        Err(e) => match error_code(&e) {
            Some(code) if ACCESS_DENIED.contains(&code) => Reports::Denied { code: code.into() },
            _ => {
                return Err(sdk_error(
                    "listing Cost and Usage Report definitions (us-east-1)",
                    e,
                ));
            }
        },
    };
    Ok(Observed {
        bucket,
        reports,
        last_status,
    })
}

/// A report whose last delivery failed is not in line: a pending manual action with what the status
/// means (Cost and Usage Report user guide, troubleshooting). Right after this run wrote to the report
/// or its bucket, a warning: the next delivery is up to a day away.
fn delivery_check(ctx: &DiffContext, d: &mut Diff, want: &Definition, status: Option<&String>) {
    let meaning = match status.map(String::as_str) {
        Some("ERROR_PERMISSIONS") => format!(
            "AWS could not write the last report to s3://{}: the bucket policy does not let billingreports.amazonaws.com \
             s3:PutObject (and s3:GetBucketAcl, s3:GetBucketPolicy) for this account's report definitions",
            want.bucket
        ),
        Some("ERROR_NO_BUCKET") => format!("the bucket {} does not exist (deleted?)", want.bucket),
        _ => return,
    };
    let status = status.expect("matched above");
    if ctx.written.contains(&CONTROL) {
        d.notice(Notice::warning(
            CONTROL,
            format!(
                "report {} last failed to deliver ({status}: {meaning}). This run changed the report or its bucket: the \
                 next delivery can be up to a day away; run --plan again then.",
                want.name
            ),
        ));
        return;
    }
    d.push(
        Change::new(
            CONTROL,
            format!("cost and usage report \"{}\" delivery", want.name),
            Action::Manual,
            super::Op::Manual,
        )
        .field("last status", Some(status), Some("SUCCESS"))
        .note(format!(
            "{meaning}. Fix it (applying this plan sets the bucket and its policy as needed), then wait: AWS delivers \
             reports up to once a day, and this stays pending until a delivery succeeds."
        )),
    );
}

fn resource(name: &str) -> String {
    format!("cost and usage report \"{name}\"")
}

/// The console steps that let IAM identities read billing data.
pub fn billing_access_steps(caller: &str, code: &str) -> String {
    format!(
        "AWS refused to list Cost and Usage Reports for {caller} ({code}). IAM users and roles can read billing data \
         only after the root user turns it on, in the console (there is no API): sign in as the root user, open \
         https://console.aws.amazon.com/billing/home#/account, under \"IAM user and role access to Billing information\" \
         choose Edit, select \"Activate IAM Access\" and choose Update. Your identity also needs cur:* permissions \
         (AdministratorAccess has them). Then run aws-harden again to create the report."
    )
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.cost_report() else {
        return d;
    };
    let want = desired(plan, &ctx.plan.home_region);
    // The bucket first: its policy must admit the billing service before the report is defined.
    let spec = bucket_spec(plan, &ctx.plan.home_region, ctx.caller);
    d.extend(bucket::diff(CONTROL, &spec, &observed.bucket, ctx.caller));
    let reports = match &observed.reports {
        Reports::Denied { code } => {
            d.push(
                Change::new(
                    CONTROL,
                    resource(&want.name),
                    Action::Manual,
                    super::Op::Manual,
                )
                .field("billing access for IAM", Some("off"), Some("on"))
                .note(if ctx.caller.is_root() {
                    format!(
                        "AWS refused to list Cost and Usage Reports for the root user ({code}): the root user \
                         needs no billing-access switch, so most likely a service control policy of your \
                         organization denies cur:* to this account. Ask its administrators, then run aws-harden again."
                    )
                } else {
                    billing_access_steps(&ctx.caller.describe(), code)
                }),
            );
            return d;
        }
        Reports::Readable(r) => r,
    };
    match reports.iter().find(|r| r.name == want.name) {
        None => {
            let mut change = Change::new(
                CONTROL,
                resource(&want.name),
                Action::Create,
                super::Op::CostReport(Op::PutReport(want.clone())),
            );
            for (field, _, after) in Definition::default().differences(&want) {
                change = change.field(field, None::<String>, Some(after));
            }
            d.push(change);
        }
        Some(live) => {
            delivery_check(ctx, &mut d, &want, observed.last_status.get(&want.name));
            let fields = live.differences(&want);
            if !fields.is_empty() {
                let mut change = Change::new(
                    CONTROL,
                    resource(&want.name),
                    Action::Update,
                    super::Op::CostReport(Op::ModifyReport(want.clone())),
                );
                for (field, before, after) in fields {
                    change = change.field(field, Some(before), Some(after));
                }
                d.push(change);
            }
        }
    }
    for name in &plan.delete_reports {
        if let Some(old) = reports.iter().find(|r| &r.name == name) {
            d.push(
                Change::new(
                    CONTROL,
                    resource(name),
                    Action::Delete,
                    super::Op::CostReport(Op::DeleteReport { name: name.clone() }),
                )
                .field("s3 bucket", Some(&old.bucket), None::<String>)
                .note("listed in cost_report.delete_reports"),
            );
        }
    }
    let others: Vec<&str> = reports
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| *n != want.name && !plan.delete_reports.iter().any(|x| x == n))
        .collect();
    if !others.is_empty() {
        d.notice(Notice::info(
            CONTROL,
            format!(
                "Other Cost and Usage Report definitions, left alone (not in this plan): {}",
                others.join(", ")
            ),
        ));
    }
    d
}

pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::PutReport(def) => {
            let created = aws
                .cur
                .put_report_definition()
                .report_definition(def.to_sdk()?)
                .tags(
                    aws_sdk_costandusagereport::types::Tag::builder()
                        .key(crate::aws::MANAGED_BY_TAG.0)
                        .value(crate::aws::MANAGED_BY_TAG.1)
                        .build()?,
                )
                .send()
                .await;
            // A retried create whose first answer was lost finds the report made; the
            // verification checks its settings like any other.
            created_or_exists(
                created,
                &["DuplicateReportNameException"],
                format!("creating Cost and Usage Report {}", def.name),
            )?;
        }
        Op::ModifyReport(def) => {
            aws.cur
                .modify_report_definition()
                .report_name(&def.name)
                .report_definition(def.to_sdk()?)
                .send()
                .await
                .describe(format!("modifying Cost and Usage Report {}", def.name))?;
        }
        Op::DeleteReport { name } => {
            aws.cur
                .delete_report_definition()
                .report_name(name)
                .send()
                .await
                .describe(format!("deleting Cost and Usage Report {name}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Caller;
    use crate::plan::parse;

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

    fn full(p: &Plan, reports: Reports) -> Diff {
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
    fn run(p: &Plan, reports: Reports) -> Diff {
        let mut d = full(p, reports);
        d.changes
            .retain(|c| !matches!(c.op, crate::controls::Op::Bucket(_)));
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
            &c.op,
            crate::controls::Op::CostReport(Op::PutReport(def)) if *def == live(&p)
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
            &c.op,
            crate::controls::Op::CostReport(Op::ModifyReport(def)) if *def == live(&p)
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
            &d.changes[0].op,
            crate::controls::Op::CostReport(Op::DeleteReport { name }) if name == "someone-elses"
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
        assert_eq!(c.op, crate::controls::Op::Manual);
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
        assert!(matches!(
            last.op,
            crate::controls::Op::CostReport(Op::PutReport(_))
        ));
        let policy = d
            .changes
            .iter()
            .find_map(|c| match &c.op {
                crate::controls::Op::Bucket(bucket::Op::PutPolicy { document, .. }) => {
                    Some(document.clone())
                }
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
            .flat_map(|c| match &c.op {
                crate::controls::Op::Bucket(bucket::Op::Steps(ops)) => ops.iter().collect(),
                crate::controls::Op::Bucket(op) => vec![op],
                _ => vec![],
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
        assert!(
            d.changes
                .iter()
                .any(|c| matches!(c.op, crate::controls::Op::Bucket(_)))
        );
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
        let report_changes = |ctx: &DiffContext, o: &Observed| -> Vec<Change> {
            diff(ctx, o)
                .changes
                .into_iter()
                .filter(|c| !matches!(c.op, crate::controls::Op::Bucket(_)))
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
}
