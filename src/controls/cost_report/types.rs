//! The plain data the parts share: what observe finds, what diff produces for apply.

use crate::bucket;
use crate::change::ControlId;

/// The control's name (its `Control::ID`).
pub(super) const CONTROL: ControlId = ControlId::named("cost_report");
/// The only region the Cost and Usage Report API (and so its `aws:SourceArn`s) lives in.
pub(super) const CUR_REGION: &str = "us-east-1";

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

pub(super) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}
