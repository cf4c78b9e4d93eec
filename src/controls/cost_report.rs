//! Not built yet: see the open issue for this control. Plans that enable it are refused before any
//! AWS call (see `plan::validate`).

use crate::aws::Aws;
use crate::change::Diff;
use crate::controls::DiffContext;
use crate::plan::Plan;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {}

pub async fn observe(_aws: &Aws, _plan: &Plan) -> anyhow::Result<Observed> {
    Ok(Observed {})
}

pub fn diff(_ctx: &DiffContext, _observed: &Observed) -> Diff {
    Diff::default()
}

pub async fn apply(_aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match *op {}
}
