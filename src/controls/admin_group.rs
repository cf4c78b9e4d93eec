//! The admin group: `AdministratorAccess` attached, plus an inline policy that denies almost
//! everything until the caller signs in with MFA (CIS 1.14 permissions through groups; 1.9 MFA).

use serde_json::{Value, json};

use crate::aws::{Aws, SdkResultExt, absent_on, created_or_exists, when_visible};
use crate::change::{Action, Change, ControlId, Diff, Notice, Stage};
use crate::controls::DiffContext;
use crate::plan::Plan;
use crate::policy;

const CONTROL: ControlId = ControlId::AdminGroup;
const CIS: &[&str] = &["1.14"];
/// Name of the inline policy this tool owns on the group.
pub const MFA_POLICY_NAME: &str = "aws-harden-require-mfa";

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    pub group: Option<GroupState>,
    /// The caller is an IAM user who is already a member of the group.
    pub caller_is_member: bool,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct GroupState {
    pub attached_policy_arns: Vec<String>,
    /// The inline MFA policy's document as IAM returned it (URL-encoded), if present.
    pub mfa_policy: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    CreateGroup {
        group: String,
    },
    AttachPolicy {
        group: String,
        policy_arn: String,
    },
    PutInlinePolicy {
        group: String,
        policy_name: String,
        document: String,
    },
}

pub fn administrator_access_arn(partition: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/AdministratorAccess")
}

/// Deny everything except what a person needs to sign in the first time and set up their own MFA,
/// unless the request was made with MFA. Based on AWS's documented example
/// ("allows MFA-authenticated IAM users to manage their own MFA device"), with two deliberate
/// additions to the exempt actions: `iam:ChangePassword` and `iam:GetAccountPasswordPolicy`, because
/// a new admin must change the generated password at first sign-in, before having MFA; without them
/// the new admin is locked out. `sts:GetSessionToken` stays exempt so long-term keys can obtain an
/// MFA session.
pub fn require_mfa_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyAllExceptMfaSetupUnlessSignedInWithMfa",
            "Effect": "Deny",
            "NotAction": [
                "iam:ChangePassword",
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetAccountPasswordPolicy",
                "iam:GetUser",
                "iam:ListMFADevices",
                "iam:ListUsers",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken"
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
        }]
    })
}

pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(g) = &plan.admin_group else {
        return Ok(Observed::default());
    };
    let name = g.name.as_str();
    // All at once, not "does the group exist?" first: one round trip instead of two. For a group
    // that does not exist each read answers NoSuchEntity.
    let group_fut = async {
        let (exists, attached, inline) = tokio::try_join!(
            async {
                absent_on(
                    aws.iam
                        .get_group()
                        .group_name(name)
                        .max_items(1)
                        .send()
                        .await,
                    &["NoSuchEntity"],
                    format!("reading IAM group {name}"),
                )
            },
            async {
                absent_on(
                    aws.iam
                        .list_attached_group_policies()
                        .group_name(name)
                        .into_paginator()
                        .items()
                        .send()
                        .collect::<Result<Vec<_>, _>>()
                        .await,
                    &["NoSuchEntity"],
                    format!("listing policies attached to IAM group {name}"),
                )
            },
            async {
                absent_on(
                    aws.iam
                        .get_group_policy()
                        .group_name(name)
                        .policy_name(MFA_POLICY_NAME)
                        .send()
                        .await,
                    &["NoSuchEntity"],
                    format!("reading inline policy {MFA_POLICY_NAME} of IAM group {name}"),
                )
            }
        )?;
        if exists.is_none() {
            return Ok::<_, anyhow::Error>(None);
        }
        Ok(Some(GroupState {
            attached_policy_arns: attached
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.policy_arn)
                .collect(),
            mfa_policy: inline.map(|p| p.policy_document),
        }))
    };
    let member_fut = async {
        let Some(user) = aws.caller.user_name() else {
            return Ok::<_, anyhow::Error>(false);
        };
        let groups = absent_on(
            aws.iam.list_groups_for_user().user_name(user).send().await,
            &["NoSuchEntity"],
            format!("listing the groups of IAM user {user}"),
        )?;
        Ok(groups.is_some_and(|g| g.groups.iter().any(|x| x.group_name == name)))
    };
    let (group, caller_is_member) = tokio::try_join!(group_fut, member_fut)?;
    Ok(Observed {
        group,
        caller_is_member,
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.admin_group() else {
        return d;
    };
    let name = &plan.name;
    let resource = format!("iam group \"{name}\"");
    let group = observed.group.clone();
    if group.is_none() {
        d.push(
            Change::new(
                CONTROL,
                &resource,
                Action::Create,
                super::Op::AdminGroup(Op::CreateGroup {
                    group: name.clone(),
                }),
            )
            .field("name", None::<String>, Some(name))
            .cis(CIS),
        );
    }
    let state = group.unwrap_or_default();
    if plan.administrator_access {
        let arn = administrator_access_arn(&ctx.caller.partition);
        if !state.attached_policy_arns.contains(&arn) {
            d.push(
                Change::new(
                    CONTROL,
                    &resource,
                    Action::Update,
                    super::Op::AdminGroup(Op::AttachPolicy {
                        group: name.clone(),
                        policy_arn: arn.clone(),
                    }),
                )
                .field(
                    "attached policy",
                    None::<String>,
                    Some("AdministratorAccess"),
                )
                .cis(CIS),
            );
        }
        d.notice(
            Notice::info(
                CONTROL,
                format!(
                    "CIS 1.15 flags any group with a *:* policy attached, so {name} with AdministratorAccess is reported by \
                     scanners; this is the deliberate admin path, guarded by the MFA requirement."
                ),
            )
            .cis(&["1.15"]),
        );
    }
    if plan.require_mfa {
        let desired = require_mfa_policy();
        let matches = state
            .mfa_policy
            .as_deref()
            .is_some_and(|live| policy::live_matches(live, &desired));
        if !matches {
            let action = if state.mfa_policy.is_some() {
                Action::Update
            } else {
                Action::Create
            };
            let before = state.mfa_policy.as_ref().map(|_| "a different document");
            let mut change = Change::new(
                CONTROL,
                format!("iam group policy \"{name}/{MFA_POLICY_NAME}\""),
                action,
                super::Op::AdminGroup(Op::PutInlinePolicy {
                    group: name.clone(),
                    policy_name: MFA_POLICY_NAME.into(),
                    document: desired.to_string(),
                }),
            )
            .field(
                "document",
                before,
                Some("deny all but MFA set-up and password change unless signed in with MFA"),
            )
            .cis(&["1.9", "1.14"]);
            if caller_locked_out(ctx, observed) {
                let who = ctx.caller.describe();
                change = change.stage(Stage::LockIn).note(format!(
                    "You run this as {who}, a member of {name} (or about to be), signing without an MFA session. This policy \
                     denies such calls, so it is attached as the very last write. Afterwards your access keys do nothing \
                     until you use an MFA session: re-run aws-harden at a terminal (it asks for an MFA code) or pass \
                     --mfa-code."
                ));
            }
            d.push(change);
        }
    }
    d
}

/// Would the MFA policy cut off the credentials this run uses?
fn caller_locked_out(ctx: &DiffContext, observed: &Observed) -> bool {
    let Some(user) = ctx.caller.user_name() else {
        return false;
    };
    if ctx.caller.mfa_session {
        return false;
    }
    let joins = ctx.plan.admin_user().is_some_and(|u| u.name == user);
    observed.caller_is_member || joins
}

pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::CreateGroup { group } => {
            created_or_exists(
                aws.iam.create_group().group_name(group).send().await,
                &["EntityAlreadyExists"],
                format!("creating IAM group {group}"),
            )?;
        }
        Op::AttachPolicy { group, policy_arn } => {
            let what = format!("attaching {policy_arn} to IAM group {group}");
            // The group may have been created a moment ago.
            when_visible(&["NoSuchEntity"], &what, || {
                aws.iam
                    .attach_group_policy()
                    .group_name(group)
                    .policy_arn(policy_arn)
                    .send()
            })
            .await
            .describe(what)?;
        }
        Op::PutInlinePolicy {
            group,
            policy_name,
            document,
        } => {
            let what = format!("putting inline policy {policy_name} on IAM group {group}");
            when_visible(&["NoSuchEntity"], &what, || {
                aws.iam
                    .put_group_policy()
                    .group_name(group)
                    .policy_name(policy_name)
                    .policy_document(document)
                    .send()
            })
            .await
            .describe(what)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Caller;
    use crate::plan::parse;

    fn plan() -> Plan {
        parse("version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nname = \"alice\"\n").unwrap()
    }

    fn role() -> Caller {
        Caller::from_arn(
            "123456789012",
            "arn:aws:sts::123456789012:assumed-role/Deploy/s",
            None,
            true,
        )
    }

    fn ctx<'a>(plan: &'a Plan, caller: &'a Caller) -> DiffContext<'a> {
        DiffContext {
            plan,
            caller,
            interactive: false,
        }
    }

    fn in_line(doc: String) -> Observed {
        Observed {
            group: Some(GroupState {
                attached_policy_arns: vec![administrator_access_arn("aws")],
                mfa_policy: Some(doc),
            }),
            caller_is_member: false,
        }
    }

    #[test]
    fn fresh_account_creates_group_attaches_and_puts_policy() {
        let (p, c) = (plan(), role());
        let d = diff(&ctx(&p, &c), &Observed::default());
        let actions: Vec<_> = d.changes.iter().map(|c| c.action).collect();
        assert_eq!(
            actions,
            vec![Action::Create, Action::Update, Action::Create]
        );
        assert!(d.changes.iter().all(|c| c.stage == Stage::Main));
    }

    #[test]
    fn url_encoded_reordered_live_policy_is_no_drift() {
        let (p, c) = (plan(), role());
        // As IAM returns it: URL-encoded, with a different order of actions and keys.
        let mut doc = require_mfa_policy();
        doc["Statement"][0]["NotAction"]
            .as_array_mut()
            .unwrap()
            .reverse();
        let live: String = percent_encoding::utf8_percent_encode(
            &doc.to_string(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        assert!(diff(&ctx(&p, &c), &in_line(live)).changes.is_empty());
    }

    #[test]
    fn changed_policy_is_an_update() {
        let (p, c) = (plan(), role());
        let mut doc = require_mfa_policy();
        doc["Statement"][0]["NotAction"]
            .as_array_mut()
            .unwrap()
            .push(json!("s3:*"));
        let d = diff(&ctx(&p, &c), &in_line(doc.to_string()));
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].action, Action::Update);
    }

    #[test]
    fn caller_joining_the_group_gets_the_policy_last() {
        let p = plan();
        let alice = Caller::from_arn(
            "123456789012",
            "arn:aws:iam::123456789012:user/alice",
            None,
            false,
        );
        let d = diff(&ctx(&p, &alice), &Observed::default());
        let policy = d
            .changes
            .iter()
            .find(|c| c.resource.contains(MFA_POLICY_NAME))
            .unwrap();
        assert_eq!(policy.stage, Stage::LockIn);
        assert!(policy.note.as_ref().unwrap().contains("MFA session"));

        let bob = Caller::from_arn(
            "123456789012",
            "arn:aws:iam::123456789012:user/bob",
            None,
            false,
        );
        let member = Observed {
            caller_is_member: true,
            ..Observed::default()
        };
        assert!(
            diff(&ctx(&p, &bob), &member)
                .changes
                .iter()
                .any(|c| c.stage == Stage::LockIn)
        );
        let outsider = diff(&ctx(&p, &bob), &Observed::default());
        assert!(outsider.changes.iter().all(|c| c.stage == Stage::Main));

        let mut with_mfa = alice.clone();
        with_mfa.mfa_session = true;
        assert!(
            diff(&ctx(&p, &with_mfa), &Observed::default())
                .changes
                .iter()
                .all(|c| c.stage == Stage::Main)
        );
    }

    #[test]
    fn the_policy_lets_a_new_admin_change_the_first_password() {
        let doc = require_mfa_policy();
        let exempt = doc["Statement"][0]["NotAction"].as_array().unwrap();
        for needed in [
            "iam:ChangePassword",
            "iam:GetAccountPasswordPolicy",
            "sts:GetSessionToken",
            "iam:EnableMFADevice",
        ] {
            assert!(exempt.contains(&json!(needed)), "{needed}");
        }
    }
}
