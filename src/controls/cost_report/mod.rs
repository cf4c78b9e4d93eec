//! Billing visibility: a Cost and Usage Report (legacy CUR API) delivered to the control's own
//! hardened bucket. The report API exists only in us-east-1 (`aws.cur` is built for it whatever
//! the home region); the bucket lives in the home region.
//!
//! A report definition is identified by its name: a missing one is created, a differing one is
//! modified field by field, and report definitions the plan does not name are left alone unless
//! listed in `delete_reports`. IAM identities can read billing data only after the root user
//! turns on "IAM user and role access to Billing information" (console only): when AWS refuses
//! the read, that is a manual action with the console steps, not an error.
//!
//! The parts: `documents` (the bucket's delivery statements and spec), `observe` (reads only),
//! `diff` (pure, no SDK type), `apply` (the writes).

mod apply;
mod diff;
mod documents;
mod observe;
#[cfg(test)]
mod tests;

use crate::aws::Aws;
use crate::bucket;
use crate::change::{ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::Plan;

pub use apply::apply;
pub use diff::{billing_access_steps, desired, diff};
pub use documents::{bucket_spec, delivery_statements};
pub use observe::observe;

const CONTROL: ControlId = ControlId::named("cost_report");

/// A Cost and Usage Report delivered to a hardened bucket.
pub struct CostReport;

impl Control for CostReport {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "Cost and Usage Report";
    const CIS: &'static [&'static str] = &[];
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.cost_report().is_some()
    }
    async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
        observe(aws, plan).await
    }
    fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
        diff(ctx, observed)
    }
    async fn apply(aws: &Aws, op: &Op, _io: &dyn Interaction) -> anyhow::Result<()> {
        apply(aws, op).await
    }
}
/// The only region the Cost and Usage Report API (and so its `aws:SourceArn`s) lives in.
const CUR_REGION: &str = "us-east-1";

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
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A write on the report's hardened bucket (`crate::bucket`).
    Bucket(bucket::Op),
    PutReport(Definition),
    ModifyReport(Definition),
    DeleteReport {
        name: String,
    },
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}
