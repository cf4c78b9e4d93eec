//! The support role (CIS 1.16): an IAM role with the AWS managed policy `AWSSupportAccess`,
//! trusting this account, so whoever handles an incident with AWS Support assumes it rather than
//! holding support rights all the time. The trust policy requires MFA
//! (`aws:MultiFactorAuthPresent`), like the admin group's guard: a stolen access key cannot assume
//! it.

use serde_json::{Value, json};

use crate::aws::{Aws, MANAGED_BY_TAG, SdkResultExt, absent_on, created_or_exists};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::Plan;
use crate::policy;

const CONTROL: ControlId = ControlId::named("support_role");
const CIS: &[&str] = &["1.16"];

/// The support role.
pub struct SupportRole;

impl Control for SupportRole {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "AWS Support role";
    const CIS: &'static [&'static str] = CIS;
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.support_role().is_some()
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
    /// `None`: no role of the plan's name.
    pub role: Option<Role>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    /// The trust policy as IAM returned it (URL-encoded JSON); `None` if IAM left it out.
    pub trust_policy: Option<String>,
    /// The ARNs of the managed policies attached.
    pub attached: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `CreateRole` with the trust policy, tagged as aws-harden's.
    CreateRole { name: String, trust_policy: String },
    /// `UpdateAssumeRolePolicy`.
    SetTrust { name: String, trust_policy: String },
    /// `AttachRolePolicy`.
    AttachPolicy { name: String, policy_arn: String },
}

/// `arn:PARTITION:iam::aws:policy/AWSSupportAccess` (AWS Managed Policy Reference).
pub fn support_access_arn(partition: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/AWSSupportAccess")
}

/// Who may assume the role: principals of this account that the account's own policies allow
/// `sts:AssumeRole` on it (a role trusting `:root` delegates to IAM policies, IAM user guide
/// "IAM JSON policy elements: Principal"), and only with MFA.
pub fn trust_policy(partition: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        }]
    })
}

/// `GetRole` (NoSuchEntity: no role) and `ListAttachedRolePolicies` (IAM API reference).
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(p) = plan.support_role() else {
        return Ok(Observed::default());
    };
    let name = p.name.as_str();
    let role = absent_on(
        aws.iam.get_role().role_name(name).send().await,
        &["NoSuchEntity"],
        format!("reading IAM role {name} (GetRole)"),
    )?;
    let Some(role) = role else {
        return Ok(Observed { role: None });
    };
    let attached = aws
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .describe(format!(
            "listing the policies attached to IAM role {name} (ListAttachedRolePolicies)"
        ))?;
    Ok(Observed {
        role: Some(Role {
            trust_policy: role.role.and_then(|r| r.assume_role_policy_document),
            attached: attached.into_iter().filter_map(|a| a.policy_arn).collect(),
        }),
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(p) = ctx.plan.support_role() else {
        return d;
    };
    let name = p.name.clone();
    let resource = format!("iam role {name}");
    d.checked(CONTROL, &resource, CIS);
    let trust = trust_policy(&ctx.caller.partition, &ctx.caller.account_id);
    let trust_text = trust.to_string();
    let policy_arn = support_access_arn(&ctx.caller.partition);
    let attach = Op::AttachPolicy {
        name: name.clone(),
        policy_arn: policy_arn.clone(),
    };
    let Some(role) = &observed.role else {
        let create = Op::CreateRole {
            name: name.clone(),
            trust_policy: trust_text,
        };
        let change = Change::with_ops(CONTROL, &resource, Action::Create, vec![create, attach])
            .field(
                "TrustPolicy",
                None::<&str>,
                Some("this account's principals, with MFA"),
            )
            .field("AttachedPolicy", None::<&str>, Some("AWSSupportAccess"));
        d.push(change.cis(CIS));
        return d;
    };
    let mut change = Change::with_ops(CONTROL, &resource, Action::Update, vec![]);
    // Unknown is never in line: a trust policy IAM left out is set again.
    let trusted = role
        .trust_policy
        .as_deref()
        .is_some_and(|live| policy::live_matches(live, &trust));
    if !trusted {
        change = change.field(
            "TrustPolicy",
            Some(describe_trust(role.trust_policy.as_deref())),
            Some("this account's principals, with MFA"),
        );
        change.ops.push(Op::SetTrust {
            name: name.clone(),
            trust_policy: trust_text,
        });
    }
    if !role.attached.contains(&policy_arn) {
        change = change.field(
            "AttachedPolicy",
            Some("AWSSupportAccess missing"),
            Some("AWSSupportAccess"),
        );
        change.ops.push(attach);
    }
    if !change.ops.is_empty() {
        d.push(change.cis(CIS));
    }
    d
}

/// A live trust policy in words, for the field's "before".
fn describe_trust(live: Option<&str>) -> &'static str {
    match live.map(policy::parse_document) {
        None => "not returned by IAM",
        Some(Err(_)) => "unreadable",
        Some(Ok(_)) => "other principals or conditions",
    }
}

/// IAM API reference: `CreateRole` (EntityAlreadyExists when an earlier attempt's answer was
/// lost: the verification then checks the role), `UpdateAssumeRolePolicy`, `AttachRolePolicy`.
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::CreateRole { name, trust_policy } => {
            let tag = aws_sdk_iam::types::Tag::builder()
                .key(MANAGED_BY_TAG.0)
                .value(MANAGED_BY_TAG.1)
                .build()?;
            created_or_exists(
                aws.iam
                    .create_role()
                    .role_name(name)
                    .assume_role_policy_document(trust_policy)
                    .description(
                        "AWS Support access for incident handling (CIS 1.16); MFA required",
                    )
                    .tags(tag)
                    .send()
                    .await,
                &["EntityAlreadyExists"],
                format!("creating IAM role {name} (CreateRole)"),
            )?;
        }
        Op::SetTrust { name, trust_policy } => {
            aws.iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(trust_policy)
                .send()
                .await
                .describe(format!(
                    "setting the trust policy of IAM role {name} (UpdateAssumeRolePolicy)"
                ))?;
        }
        Op::AttachPolicy { name, policy_arn } => {
            aws.iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(policy_arn)
                .send()
                .await
                .describe(format!(
                    "attaching {policy_arn} to IAM role {name} (AttachRolePolicy)"
                ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::control::diff_for_tests;

    fn diff_of(observed: Observed) -> Diff<Op> {
        diff_for_tests("[support_role]\n", |ctx| diff(ctx, &observed))
    }

    fn encoded(doc: &Value) -> String {
        percent_encoding::utf8_percent_encode(&doc.to_string(), percent_encoding::NON_ALPHANUMERIC)
            .to_string()
    }

    #[test]
    fn a_missing_role_is_created_then_given_the_policy() {
        let d = diff_of(Observed { role: None });
        assert_eq!(d.changes.len(), 1);
        assert!(matches!(d.changes[0].ops[0], Op::CreateRole { .. }));
        assert_eq!(
            d.changes[0].ops[1],
            Op::AttachPolicy {
                name: "aws-support".into(),
                policy_arn: "arn:aws:iam::aws:policy/AWSSupportAccess".into()
            }
        );
    }

    #[test]
    fn the_trust_policy_is_compared_by_meaning() {
        let trust = trust_policy("aws", "1");
        // IAM answers URL-encoded, with a one-element list where we wrote a string.
        let mut reordered = trust.clone();
        reordered["Statement"][0]["Action"] = json!(["sts:AssumeRole"]);
        let d = diff_of(Observed {
            role: Some(Role {
                trust_policy: Some(encoded(&reordered)),
                attached: vec![support_access_arn("aws")],
            }),
        });
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        assert_eq!(d.checks().len(), 1);
    }

    #[test]
    fn a_trust_without_mfa_or_a_missing_policy_is_drift() {
        let mut no_mfa = trust_policy("aws", "1");
        no_mfa["Statement"][0]
            .as_object_mut()
            .unwrap()
            .remove("Condition");
        let d = diff_of(Observed {
            role: Some(Role {
                trust_policy: Some(encoded(&no_mfa)),
                attached: vec![],
            }),
        });
        assert_eq!(d.changes.len(), 1);
        let ops = &d.changes[0].ops;
        assert!(matches!(ops[0], Op::SetTrust { .. }), "{ops:?}");
        assert!(matches!(ops[1], Op::AttachPolicy { .. }), "{ops:?}");
        // Unknown is never in line.
        let d = diff_of(Observed {
            role: Some(Role {
                trust_policy: None,
                attached: vec![support_access_arn("aws")],
            }),
        });
        assert!(matches!(d.changes[0].ops[..], [Op::SetTrust { .. }]));
    }
}
