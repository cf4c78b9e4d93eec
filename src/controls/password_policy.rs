//! The account password policy (CIS 1.7 length >= 14, 1.8 reuse prevention 24).

use crate::aws::{Aws, SdkResultExt, absent_on};
use crate::change::{Action, Change, ControlId, Diff, Notice};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::{PasswordPolicyPlan, Plan};

const CONTROL: ControlId = ControlId::named("password_policy");
const RESOURCE: &str = "account password policy";

/// The account password policy.
pub struct PasswordPolicy;

impl Control for PasswordPolicy {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "Password policy";
    const CIS: &'static [&'static str] = &["1.7", "1.8"];
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.password_policy().is_some()
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

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// `None`: no custom policy is set (`NoSuchEntity`), a state, not an error.
    pub policy: Option<PasswordPolicyPlan>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Put(PasswordPolicyPlan),
}

pub async fn observe(aws: &Aws, _plan: &Plan) -> anyhow::Result<Observed> {
    let live = absent_on(
        aws.iam.get_account_password_policy().send().await,
        &["NoSuchEntity"],
        "reading the account password policy",
    )?;
    Ok(Observed {
        policy: live
            .and_then(|o| o.password_policy)
            .map(|p| PasswordPolicyPlan {
                enabled: true,
                minimum_length: p.minimum_password_length.unwrap_or(6) as u32,
                require_uppercase: p.require_uppercase_characters,
                require_lowercase: p.require_lowercase_characters,
                require_numbers: p.require_numbers,
                require_symbols: p.require_symbols,
                allow_users_to_change_password: p.allow_users_to_change_password,
                max_password_age_days: p.max_password_age.unwrap_or(0) as u32,
                password_reuse_prevention: p.password_reuse_prevention.unwrap_or(0) as u32,
                hard_expiry: p.hard_expiry.unwrap_or(false),
            }),
    })
}

/// The fields as (name, value) pairs, for a field-level diff.
fn fields(p: &PasswordPolicyPlan) -> [(&'static str, String); 9] {
    [
        ("minimum_length", p.minimum_length.to_string()),
        ("require_uppercase", p.require_uppercase.to_string()),
        ("require_lowercase", p.require_lowercase.to_string()),
        ("require_numbers", p.require_numbers.to_string()),
        ("require_symbols", p.require_symbols.to_string()),
        (
            "allow_users_to_change_password",
            p.allow_users_to_change_password.to_string(),
        ),
        ("max_password_age_days", p.max_password_age_days.to_string()),
        (
            "password_reuse_prevention",
            p.password_reuse_prevention.to_string(),
        ),
        ("hard_expiry", p.hard_expiry.to_string()),
    ]
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.password_policy() else {
        return d;
    };
    d.checked(CONTROL, RESOURCE, &["1.7", "1.8"]);
    let desired = PasswordPolicyPlan {
        enabled: true,
        ..plan.clone()
    };
    let op = Op::Put(desired.clone());
    let mut change = match &observed.policy {
        None => {
            let mut c = Change::new(CONTROL, RESOURCE, Action::Create, op);
            for (name, value) in fields(&desired) {
                c = c.field(name, None::<String>, Some(value));
            }
            c
        }
        Some(live) if *live == desired => return with_notes(d, plan),
        Some(live) => {
            let mut c = Change::new(CONTROL, RESOURCE, Action::Update, op);
            for ((name, before), (_, after)) in fields(live).into_iter().zip(fields(&desired)) {
                if before != after {
                    c = c.field(name, Some(before), Some(after));
                }
            }
            c
        }
    };
    change = change.cis(&["1.7", "1.8"]);
    d.push(change);
    with_notes(d, plan)
}

fn with_notes(mut d: Diff<Op>, plan: &PasswordPolicyPlan) -> Diff<Op> {
    if plan.minimum_length < 14 {
        d.notice(
            Notice::warning(CONTROL, "minimum_length below 14 does not meet CIS 1.7").cis(&["1.7"]),
        );
    }
    if plan.password_reuse_prevention < 24 {
        d.notice(
            Notice::warning(
                CONTROL,
                "password_reuse_prevention below 24 does not meet CIS 1.8",
            )
            .cis(&["1.8"]),
        );
    }
    d
}

pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    let Op::Put(p) = op;
    let mut req = aws
        .iam
        .update_account_password_policy()
        .minimum_password_length(p.minimum_length as i32)
        .require_uppercase_characters(p.require_uppercase)
        .require_lowercase_characters(p.require_lowercase)
        .require_numbers(p.require_numbers)
        .require_symbols(p.require_symbols)
        .allow_users_to_change_password(p.allow_users_to_change_password)
        .hard_expiry(p.hard_expiry);
    // Zero means "off": AWS wants the field absent then.
    if p.max_password_age_days > 0 {
        req = req.max_password_age(p.max_password_age_days as i32);
    }
    if p.password_reuse_prevention > 0 {
        req = req.password_reuse_prevention(p.password_reuse_prevention as i32);
    }
    req.send()
        .await
        .describe("updating the account password policy")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Caller;
    use crate::plan::parse;

    #[test]
    fn field_level_diff() {
        let plan = parse("version = 1\nhome_region = \"us-east-1\"\n[password_policy]\n").unwrap();
        let caller = Caller::from_arn("1", "arn:aws:iam::123456789012:user/x", None, false);
        let ctx = DiffContext {
            plan: &plan,
            caller: &caller,
            interactive: false,
            written: &[],
        };
        let created = diff(&ctx, &Observed { policy: None });
        assert_eq!(created.changes[0].action, Action::Create);
        assert_eq!(created.changes[0].fields.len(), 9);

        let same = Observed {
            policy: Some(PasswordPolicyPlan::default()),
        };
        assert!(diff(&ctx, &same).changes.is_empty());

        let weaker = Observed {
            policy: Some(PasswordPolicyPlan {
                minimum_length: 8,
                ..PasswordPolicyPlan::default()
            }),
        };
        let d = diff(&ctx, &weaker);
        assert_eq!(d.changes[0].action, Action::Update);
        assert_eq!(d.changes[0].fields.len(), 1);
        assert_eq!(d.changes[0].fields[0].field, "minimum_length");
        assert_eq!(d.changes[0].fields[0].before.as_deref(), Some("8"));
        assert_eq!(d.changes[0].fields[0].after.as_deref(), Some("14"));
    }
}
