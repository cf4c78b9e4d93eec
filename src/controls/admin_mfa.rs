//! MFA for the admin user (CIS 1.9). Until terminal enrollment lands (issue 3), a user without an
//! MFA device is a manual action with the console steps, pending until done.

use crate::aws::{Aws, absent_on};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::DiffContext;
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::AdminMfa;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// Serial numbers of the user's MFA devices; empty when the user does not exist yet.
    pub devices: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {}

pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(u) = &plan.admin_user else {
        return Ok(Observed::default());
    };
    let devices = absent_on(
        aws.iam.list_mfa_devices().user_name(&u.name).send().await,
        &["NoSuchEntity"],
        format!("listing the MFA devices of IAM user {}", u.name),
    )?;
    Ok(Observed {
        devices: devices
            .map(|d| d.mfa_devices.into_iter().map(|m| m.serial_number).collect())
            .unwrap_or_default(),
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff {
    let mut d = Diff::default();
    let Some(user) = ctx.plan.admin_user().filter(|u| u.mfa) else {
        return d;
    };
    if observed.devices.is_empty() {
        let name = &user.name;
        d.push(
            Change::new(CONTROL, format!("mfa device for iam user \"{name}\""), Action::Manual, super::Op::Manual)
                .cis(&["1.9"])
                .note(format!(
                    "Sign in to the console as {name}, open Security credentials, and under \"Multi-factor \
                     authentication (MFA)\" choose \"Assign MFA device\" (authenticator app or security key)."
                )),
        );
    }
    d
}

pub async fn apply(_aws: &Aws, op: &Op, _io: &dyn Interaction) -> anyhow::Result<()> {
    match *op {}
}
