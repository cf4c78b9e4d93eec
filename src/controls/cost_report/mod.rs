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
mod types;

use crate::aws::Aws;
use crate::change::{ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::Plan;

pub use apply::apply;
pub use diff::{billing_access_steps, desired, diff};
pub use documents::{bucket_spec, delivery_statements};
pub use observe::observe;
pub use types::*;

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
