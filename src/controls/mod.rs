//! The controls. Each file is one control with three parts:
//! - `observe`: reads only, returns what the account has;
//! - `diff`: pure, from the plan and what was observed to changes (no I/O; unit-tested);
//! - `apply`: performs one `Op`, the plain-data description of a write that `diff` produced.
//!
//! This module dispatches to them so the engine can treat every control alike.

pub mod admin_group;
pub mod admin_mfa;
pub mod admin_user;
pub mod cloudtrail;
pub mod cost_report;
pub mod mfa_guard;
pub mod password_policy;
pub mod root;

use crate::aws::{Aws, Caller};
use crate::change::{ControlId, Diff};
use crate::interact::Interaction;
use crate::plan::Plan;

/// What apply does for one change: plain data, produced by `diff`.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Op {
    /// Nothing to run: a manual action a person takes.
    #[default]
    Manual,
    AdminGroup(admin_group::Op),
    AdminUser(admin_user::Op),
    AdminMfa(admin_mfa::Op),
    PasswordPolicy(password_policy::Op),
    Cloudtrail(cloudtrail::Op),
    CostReport(cost_report::Op),
    Root(root::Op),
    /// A write on a hardened audit bucket (`crate::bucket`); the change's `control` owns it.
    Bucket(crate::bucket::Op),
}

/// What one control observed.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    AdminGroup(admin_group::Observed),
    AdminUser(admin_user::Observed),
    AdminMfa(admin_mfa::Observed),
    PasswordPolicy(password_policy::Observed),
    /// Boxed: it holds two buckets' worth of state.
    Cloudtrail(Box<cloudtrail::Observed>),
    CostReport(cost_report::Observed),
    Root(root::Observed),
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

/// The controls the plan manages, in apply order.
pub fn managed(plan: &Plan) -> Vec<ControlId> {
    ControlId::ALL
        .into_iter()
        .filter(|id| match id {
            ControlId::AdminGroup => plan.admin_group().is_some(),
            ControlId::AdminUser => plan.admin_user().is_some(),
            ControlId::AdminMfa => plan.admin_user().is_some_and(|u| u.mfa),
            ControlId::PasswordPolicy => plan.password_policy().is_some(),
            ControlId::Cloudtrail => plan.cloudtrail().is_some(),
            ControlId::CostReport => plan.cost_report().is_some(),
            ControlId::Root => plan.root().is_some(),
        })
        .collect()
}

/// Observe one control (reads only).
pub async fn observe(id: ControlId, aws: &Aws, plan: &Plan) -> anyhow::Result<Observation> {
    Ok(match id {
        ControlId::AdminGroup => Observation::AdminGroup(admin_group::observe(aws, plan).await?),
        ControlId::AdminUser => Observation::AdminUser(admin_user::observe(aws, plan).await?),
        ControlId::AdminMfa => Observation::AdminMfa(admin_mfa::observe(aws, plan).await?),
        ControlId::PasswordPolicy => {
            Observation::PasswordPolicy(password_policy::observe(aws, plan).await?)
        }
        ControlId::Cloudtrail => {
            Observation::Cloudtrail(Box::new(cloudtrail::observe(aws, plan).await?))
        }
        ControlId::CostReport => Observation::CostReport(cost_report::observe(aws, plan).await?),
        ControlId::Root => Observation::Root(root::observe(aws, plan).await?),
    })
}

/// Diff one control: pure.
pub fn diff(ctx: &DiffContext, observation: &Observation) -> Diff {
    match observation {
        Observation::AdminGroup(o) => admin_group::diff(ctx, o),
        Observation::AdminUser(o) => admin_user::diff(ctx, o),
        Observation::AdminMfa(o) => admin_mfa::diff(ctx, o),
        Observation::PasswordPolicy(o) => password_policy::diff(ctx, o),
        Observation::Cloudtrail(o) => cloudtrail::diff(ctx, o),
        Observation::CostReport(o) => cost_report::diff(ctx, o),
        Observation::Root(o) => root::diff(ctx, o),
    }
}

impl Observation {
    pub fn control(&self) -> ControlId {
        match self {
            Observation::AdminGroup(_) => ControlId::AdminGroup,
            Observation::AdminUser(_) => ControlId::AdminUser,
            Observation::AdminMfa(_) => ControlId::AdminMfa,
            Observation::PasswordPolicy(_) => ControlId::PasswordPolicy,
            Observation::Cloudtrail(_) => ControlId::Cloudtrail,
            Observation::CostReport(_) => ControlId::CostReport,
            Observation::Root(_) => ControlId::Root,
        }
    }
}

/// Perform one write.
pub async fn apply(aws: &Aws, op: &Op, io: &dyn Interaction) -> anyhow::Result<()> {
    match op {
        Op::Manual => Ok(()),
        Op::AdminGroup(op) => admin_group::apply(aws, op).await,
        Op::AdminUser(op) => admin_user::apply(aws, op, io).await,
        Op::AdminMfa(op) => admin_mfa::apply(aws, op, io).await,
        Op::PasswordPolicy(op) => password_policy::apply(aws, op).await,
        Op::Cloudtrail(op) => cloudtrail::apply(aws, op).await,
        Op::CostReport(op) => cost_report::apply(aws, op).await,
        Op::Root(op) => root::apply(aws, op, io).await,
        Op::Bucket(op) => crate::bucket::apply(aws, op).await,
    }
}
