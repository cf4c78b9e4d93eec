//! What every control is: one type implementing `Control`, listed once in the registry
//! (`controls/mod.rs`). A control has three parts:
//! - `observe`: reads only, returns what the account has, projected into plain types;
//! - `diff`: pure, from the plan and what was observed to changes (no I/O; unit-tested), together
//!   with the checks it made (`Diff::checked`);
//! - `apply`: performs one op, the plain-data description of a write that `diff` produced. It
//!   needs nothing but the op (no plan), so a saved change can be applied as it is.

use std::fmt::Debug;
use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::aws::{Aws, Caller};
use crate::change::{ControlId, Diff};
use crate::interact::Interaction;
use crate::plan::Plan;

pub trait Control {
    /// The name in plan files, output and JSON.
    const ID: ControlId;
    /// A short human title for headings.
    const TITLE: &'static str;
    /// The CIS AWS Foundations Benchmark v5.0 recommendations the control serves.
    const CIS: &'static [&'static str];
    /// The plan file's table that configures it (reports point there).
    const PLAN_TABLE: &'static str = Self::ID.as_str();
    /// What `observe` found: plain data, no SDK types.
    type Observed: Clone + Debug + PartialEq + Send + Sync;
    /// One write: plain, serializable data, no SDK types.
    type Op: Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync;

    /// Whether the plan manages this control.
    fn managed(plan: &Plan) -> bool;
    /// Read what the account has. Reads only: the engine refuses writes while observing.
    fn observe(
        aws: &Aws,
        plan: &Plan,
    ) -> impl Future<Output = anyhow::Result<Self::Observed>> + Send;
    /// From the plan and what was observed to changes: pure.
    fn diff(ctx: &DiffContext, observed: &Self::Observed) -> Diff<Self::Op>;
    /// Perform one op. `io` is for the writes that need a person (an MFA code, a secret to hand
    /// over); the others ignore it.
    fn apply(
        aws: &Aws,
        op: &Self::Op,
        io: &dyn Interaction,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Everything `diff` may depend on besides the observation: all of it plain data.
#[derive(Clone, Debug)]
pub struct DiffContext<'a> {
    /// The plan with placeholders expanded.
    pub plan: &'a Plan,
    pub caller: &'a Caller,
    /// A person is at the terminal and may be asked things during apply (not under `--yes`).
    pub interactive: bool,
    /// The controls this run has just written to (set only by the verification after apply): what
    /// depends on a later delivery (a trail's logs) cannot be judged yet.
    pub written: &'a [ControlId],
}

/// For unit tests: `diff` run against a plan of `tables` (after `version = 1` and `home_region =
/// "us-east-1"`), called by an IAM user of account 1, not interactive, nothing written yet.
#[cfg(test)]
pub fn diff_for_tests<O>(tables: &str, diff: impl FnOnce(&DiffContext) -> Diff<O>) -> Diff<O> {
    let text = format!("version = 1\nhome_region = \"us-east-1\"\n{tables}");
    let plan = crate::plan::parse(&text).expect("a test plan parses");
    let caller = Caller::from_arn("1", "arn:aws:iam::123456789012:user/x", None, false);
    diff(&DiffContext {
        plan: &plan,
        caller: &caller,
        interactive: false,
        written: &[],
    })
}
