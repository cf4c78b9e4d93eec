//! Pure: from the plan and what was observed to changes. No SDK type here.

use super::documents::bucket_spec;
use super::types::{CONTROL, Definition, Observed, Op, Reports, sorted};
use crate::bucket;
use crate::change::{Action, Change, Diff, Notice};
use crate::controls::control::DiffContext;
use crate::plan::{
    CostReportPlan, CurArtifact, CurCompression, CurFormat, CurTimeUnit, CurVersioning,
};

/// The definition the plan asks for (the bucket in the home region), in the CUR API's spellings
/// (`TimeUnit`, `ReportFormat`, `CompressionFormat`, `ReportVersioning`, `AdditionalArtifact`,
/// `SchemaElement`; a unit test pins each to the SDK's).
pub fn desired(r: &CostReportPlan, home_region: &str) -> Definition {
    let time_unit = match r.time_unit {
        CurTimeUnit::Hourly => "HOURLY",
        CurTimeUnit::Daily => "DAILY",
        CurTimeUnit::Monthly => "MONTHLY",
    };
    let format = match r.format {
        CurFormat::Parquet => "Parquet",
        CurFormat::Csv => "textORcsv",
    };
    let compression = match r.compression() {
        CurCompression::Parquet => "Parquet",
        CurCompression::Gzip => "GZIP",
        CurCompression::Zip => "ZIP",
    };
    let versioning = match r.versioning {
        CurVersioning::OverwriteReport => "OVERWRITE_REPORT",
        CurVersioning::CreateNewReport => "CREATE_NEW_REPORT",
    };
    let artifacts = r
        .artifacts
        .iter()
        .map(|a| match a {
            CurArtifact::Athena => "ATHENA",
            CurArtifact::Redshift => "REDSHIFT",
            CurArtifact::Quicksight => "QUICKSIGHT",
        })
        .map(str::to_string)
        .collect();
    let schema = if r.include_resources {
        vec!["RESOURCES".to_string()]
    } else {
        Vec::new()
    };
    Definition {
        name: r.report_name.clone(),
        time_unit: time_unit.into(),
        format: format.into(),
        compression: compression.into(),
        schema_elements: schema,
        bucket: r.bucket.clone(),
        prefix: r.s3_prefix.clone(),
        region: home_region.into(),
        artifacts: sorted(artifacts),
        refresh_closed_reports: Some(r.refresh_closed_reports),
        versioning: Some(versioning.into()),
    }
}

impl Definition {
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

/// A report whose last delivery failed is not in line: a pending manual action with what the status
/// means (Cost and Usage Report user guide, troubleshooting). Right after this run wrote to the report
/// or its bucket, a warning: the next delivery is up to a day away.
fn delivery_check(ctx: &DiffContext, d: &mut Diff<Op>, want: &Definition, status: Option<&String>) {
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
        Change::manual(CONTROL, format!("cost and usage report \"{}\" delivery", want.name))
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

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.cost_report() else {
        return d;
    };
    let want = desired(plan, &ctx.plan.home_region);
    // The bucket first: its policy must admit the billing service before the report is defined.
    let spec = bucket_spec(plan, &ctx.plan.home_region, ctx.caller);
    d.extend(bucket::diff(CONTROL, &spec, &observed.bucket, ctx.caller).map_ops(Op::Bucket));
    d.checked(CONTROL, resource(&want.name), &[]);
    d.checked(CONTROL, format!("{} delivery", resource(&want.name)), &[]);
    let reports = match &observed.reports {
        Reports::Denied { code } => {
            d.push(
                Change::manual(CONTROL, resource(&want.name))
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
                Op::PutReport(want.clone()),
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
                    Op::ModifyReport(want.clone()),
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
                    Op::DeleteReport { name: name.clone() },
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
