//! CloudTrail (CIS 3.1, 3.2, 3.4, 3.5, 3.6): a multi-region trail with global service events, log
//! file validation and management events (read and write), logging, encrypted with a
//! customer-managed KMS key that rotates, into a hardened bucket (`crate::bucket`), optionally with
//! server access logging into a second hardened bucket.
//!
//! Order of writes (the order `diff` produces): the KMS key (created with its policy) and its
//! rotation, the access-log bucket, the trail bucket with its policy, then the trail, its event
//! selectors and `StartLogging`. Both policies therefore exist before `CreateTrail`; a fresh bucket
//! policy can still take seconds to be honoured, so CloudTrail's "insufficient policy" answers are
//! retried with bounded backoff.
//!
//! The parts: `documents` (the key policy and the trail bucket's statements), `observe` (reads
//! only), `diff` (pure, no SDK type), `apply` (the writes).

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
pub use diff::diff;
pub use documents::{bucket_specs, key_policy, trail_arn, trail_bucket_statements};
pub use observe::{failing_delivery, observe};
pub use types::*;

/// A multi-region CloudTrail trail with its KMS key and hardened buckets.
pub struct Cloudtrail;

impl Control for Cloudtrail {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "CloudTrail";
    const CIS: &'static [&'static str] = &["3.1", "3.2", "3.4", "3.5", "3.6"];
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.cloudtrail().is_some()
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
