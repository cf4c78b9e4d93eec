//! The admin group: `AdministratorAccess` attached, plus an inline policy that denies almost
//! everything until the caller signs in with MFA (CIS 1.14 permissions through groups; 1.9 MFA).

use serde_json::{Value, json};

use crate::aws::{Aws, SdkResultExt, absent_on, created_or_exists, when_visible};
use crate::change::{Action, Change, ControlId, Diff, Notice, Stage};
use crate::controls::control::{Control, DiffContext};
use crate::controls::mfa_guard;
use crate::interact::Interaction;
use crate::plan::Plan;
use crate::policy;

const CONTROL: ControlId = ControlId::named("admin_group");

/// The admin group, its AdministratorAccess attachment and its MFA guard.
pub struct AdminGroup;

impl Control for AdminGroup {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "Admin group";
    const CIS: &'static [&'static str] = &["1.9", "1.14", "1.15"];
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.admin_group().is_some()
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
const CIS: &[&str] = &["1.14"];
/// Name of the inline policy this tool owns on the group.
pub const MFA_POLICY_NAME: &str = "aws-harden-require-mfa";

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    pub group: Option<GroupState>,
    /// The caller is an IAM user who is already a member of the group.
    pub caller_is_member: bool,
    /// How IAM's simulator decided the guard's cases for the admin user.
    pub guard: Guard,
}

/// The MFA guard's live check (`mfa_guard`).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Guard {
    /// Not checked: the plan requires no MFA, or manages no admin user to simulate.
    #[default]
    NotChecked,
    /// The admin user does not exist or is not in the group yet: those changes are pending (admin_user),
    /// and verification after apply checks the guard.
    UserNotMember,
    /// IAM's decisions for every case and sign-in.
    Simulated(Vec<mfa_guard::Outcome>),
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct GroupState {
    pub attached_policy_arns: Vec<String>,
    /// ARNs of the group's members.
    pub member_arns: Vec<String>,
    /// The inline MFA policy's document as IAM returned it (URL-encoded), if present.
    pub mfa_policy: Option<String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// The MFA guard. Based on AWS's documented example ("allows MFA-authenticated IAM users to manage their
/// own MFA device", IAM user guide, example policies), with these deliberate differences:
/// - `iam:ChangePassword` and `iam:GetAccountPasswordPolicy` are exempt from the first deny, so a new
///   admin can change the generated password at first sign-in, before having MFA (else: locked out).
/// - `sts:GetSessionToken` is listed for clarity; STS evaluates no policy for it anyway (GetSessionToken,
///   STS API reference: "You cannot use policies to control authentication operations").
/// - Long-term access keys (where `aws:MultiFactorAuthPresent` is absent, AWS global condition keys page)
///   may not manage MFA devices or passwords at all (`Null` = true): otherwise whoever holds an admin's
///   key could enroll that user's first device and then call GetSessionToken with it: full admin. AWS's
///   bulletin AWS-2023-001 closed only the second-device variant. A console sign-in has the key present
///   (`false`), so it can still enroll its first device and change its first password. Temporary
///   credentials from GetSessionToken *without* MFA also carry `false`, but AWS refuses every IAM call
///   made with them (GetSessionToken, STS API reference), so they cannot enroll a device either.
/// - Without MFA, device enablement, resync, listing and the password change work only on the caller's
///   own user (`NotResource`); creating a virtual device stays open on `mfa/*` (an unassigned device
///   grants nothing, and the console lets users name it).
///
/// Whether the guard holds is then checked in the live account by IAM's simulator (`mfa_guard`).
pub fn require_mfa_policy(partition: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
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
            },
            {
                "Sid": "DenyMfaAndPasswordChangesToLongTermKeys",
                "Effect": "Deny",
                "Action": [
                    "iam:ChangePassword",
                    "iam:CreateVirtualMFADevice",
                    "iam:DeactivateMFADevice",
                    "iam:DeleteVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:ResyncMFADevice"
                ],
                "Resource": "*",
                "Condition": {"Null": {"aws:MultiFactorAuthPresent": "true"}}
            },
            {
                "Sid": "DenyOtherUsersMfaAndPasswordUnlessSignedInWithMfa",
                "Effect": "Deny",
                "Action": [
                    "iam:ChangePassword",
                    "iam:EnableMFADevice",
                    "iam:GetUser",
                    "iam:ListMFADevices",
                    "iam:ResyncMFADevice"
                ],
                "NotResource": format!("arn:{partition}:iam::{account}:user/${{aws:username}}"),
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
            }
        ]
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
                        .into_paginator()
                        .send()
                        .collect::<Result<Vec<_>, _>>()
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
        let Some(pages) = exists else {
            return Ok::<_, anyhow::Error>(None);
        };
        Ok(Some(GroupState {
            member_arns: pages
                .into_iter()
                .flat_map(|p| p.users)
                .map(|u| u.arn)
                .collect(),
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
    // The simulation goes out with the other reads, for the ARN the user has when created without a
    // path; answered NoSuchEntity when the user does not exist yet.
    let admin = plan
        .admin_user
        .as_ref()
        .filter(|_| g.require_mfa)
        .map(|u| u.name.as_str());
    let guard_fut = async {
        let Some(user) = admin else {
            return Ok::<_, anyhow::Error>(None);
        };
        let arn = mfa_guard::target_arn(
            mfa_guard::Target::OwnUser,
            &aws.caller.partition,
            aws.account_id(),
            user,
        );
        let outcomes = mfa_guard::simulate(aws, &arn, user).await?;
        Ok(Some((arn, outcomes)))
    };
    let (group, caller_is_member, simulated) = tokio::try_join!(group_fut, member_fut, guard_fut)?;
    let guard = match (admin, simulated) {
        (Some(user), Some((arn, outcomes))) => {
            let member = group.as_ref().and_then(|g| {
                g.member_arns
                    .iter()
                    .find(|a| a.rsplit('/').next() == Some(user))
            });
            match (member, outcomes) {
                (None, _) => Guard::UserNotMember,
                (Some(a), Some(outcomes)) if *a == arn => Guard::Simulated(outcomes),
                // A user with a path has another ARN: simulate again with the real one.
                (Some(a), _) => match mfa_guard::simulate(aws, a, user).await? {
                    Some(outcomes) => Guard::Simulated(outcomes),
                    None => Guard::UserNotMember,
                },
            }
        }
        _ => Guard::NotChecked,
    };
    Ok(Observed {
        group,
        caller_is_member,
        guard,
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.admin_group() else {
        return d;
    };
    let name = &plan.name;
    let resource = format!("iam group \"{name}\"");
    d.checked(CONTROL, &resource, CIS);
    if plan.require_mfa {
        d.checked(
            CONTROL,
            format!("iam group policy \"{name}/{MFA_POLICY_NAME}\""),
            &["1.9", "1.14"],
        );
        // The guard's live behaviour, as IAM's simulator decided it; undecided (a failed check)
        // while the admin user is not there to simulate.
        if let Some(user) = ctx.plan.admin_user() {
            let guard = format!("mfa guard for iam user \"{}\"", user.name);
            match observed.guard {
                Guard::Simulated(_) => d.checked(CONTROL, guard, &["1.9"]),
                Guard::NotChecked | Guard::UserNotMember => d.undecided(CONTROL, guard, &["1.9"]),
            }
        }
    }
    let group = observed.group.clone();
    if group.is_none() {
        d.push(
            Change::new(
                CONTROL,
                &resource,
                Action::Create,
                Op::CreateGroup {
                    group: name.clone(),
                },
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
                    Op::AttachPolicy {
                        group: name.clone(),
                        policy_arn: arn.clone(),
                    },
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
        let desired = require_mfa_policy(&ctx.caller.partition, &ctx.caller.account_id);
        let failures = match &observed.guard {
            Guard::Simulated(outcomes) => mfa_guard::failures(outcomes),
            Guard::NotChecked | Guard::UserNotMember => Vec::new(),
        };
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
                Op::PutInlinePolicy {
                    group: name.clone(),
                    policy_name: MFA_POLICY_NAME.into(),
                    document: desired.to_string(),
                },
            )
            .field(
                "document",
                before,
                Some(
                    "without MFA: deny all but setting up your own MFA and password in the console; long-term keys \
                     may do nothing",
                ),
            )
            .cis(&["1.9", "1.14"]);
            // What IAM's simulator says the live guard lets through now: the reason for the change. A
            // notice, not fields: the change must stay the same while the simulation's input changes
            // during apply (the user joining the group), or the re-check before writing calls it stale.
            if !failures.is_empty() {
                d.notice(
                    Notice::warning(
                        CONTROL,
                        format!(
                            "IAM's policy simulator says the live MFA guard does not hold: {}.",
                            failures
                                .iter()
                                .map(|f| format!(
                                    "{} is {}, must be {}",
                                    f.name(),
                                    f.got,
                                    f.expected
                                ))
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    )
                    .cis(&["1.9"]),
                );
            }
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
        } else if !failures.is_empty() {
            let user = ctx
                .plan
                .admin_user()
                .map(|u| u.name.as_str())
                .unwrap_or_default();
            let mut change = Change::manual(CONTROL, format!("mfa guard for iam user \"{user}\""))
            .cis(&["1.9"])
            .note(format!(
                "IAM's policy simulator (SimulatePrincipalPolicy) decides these cases for {user} otherwise than the \
                 guard requires, although {MFA_POLICY_NAME} on {name} is as planned. Something else decides them: \
                 another policy on {user} or its groups, a permissions boundary, or a service control policy. Try \
                 the cases in the IAM policy simulator in the console, fix the cause, and run again."
            ));
            for f in &failures {
                change = change.field(&f.name(), Some(&f.got), Some(f.expected));
            }
            d.push(change);
        }
        if ctx.plan.admin_user().is_none() {
            d.notice(Notice::info(
                CONTROL,
                format!(
                    "The MFA guard on {name} is checked with IAM's policy simulator for the admin user; this plan \
                     manages none, so only the policy document was compared."
                ),
            ));
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
            written: &[],
        }
    }

    fn in_line(doc: String) -> Observed {
        Observed {
            group: Some(GroupState {
                attached_policy_arns: vec![administrator_access_arn("aws")],
                member_arns: vec!["arn:aws:iam::123456789012:user/alice".into()],
                mfa_policy: Some(doc),
            }),
            caller_is_member: false,
            guard: Guard::NotChecked,
        }
    }

    /// IAM's decisions: as specified, except a long-term key may enable its own device (the old guard).
    fn simulated(hole: bool) -> Guard {
        use mfa_guard::{CASES, Outcome, SignIn, Target};
        Guard::Simulated(
            CASES
                .into_iter()
                .flat_map(|case| {
                    SignIn::ALL
                        .into_iter()
                        .enumerate()
                        .map(move |(i, sign_in)| {
                            let open = hole
                                && sign_in == SignIn::LongTermKey
                                && case.action == "iam:EnableMFADevice"
                                && case.target == Target::OwnUser;
                            let allowed = case.allowed[i] || open;
                            Outcome {
                                case,
                                sign_in,
                                decision: Some(
                                    if allowed { "allowed" } else { "explicitDeny" }.into(),
                                ),
                            }
                        })
                })
                .collect(),
        )
    }

    #[test]
    fn a_guard_iam_lets_through_is_a_manual_change_naming_the_case() {
        let (p, c) = (plan(), role());
        let doc = require_mfa_policy("aws", "123456789012").to_string();
        let mut o = in_line(doc);
        o.guard = simulated(false);
        assert!(
            diff(&ctx(&p, &c), &o).changes.is_empty(),
            "as specified: in line"
        );
        o.guard = simulated(true);
        let d = diff(&ctx(&p, &c), &o);
        assert_eq!(d.changes.len(), 1);
        let change = &d.changes[0];
        assert_eq!(change.action, Action::Manual);
        assert_eq!(change.resource, "mfa guard for iam user \"alice\"");
        assert_eq!(change.fields.len(), 1);
        assert_eq!(
            change.fields[0].field,
            "long-term access key: iam:EnableMFADevice on own user"
        );
        assert_eq!(change.fields[0].before.as_deref(), Some("allowed"));
        assert_eq!(change.fields[0].after.as_deref(), Some("denied"));
    }

    #[test]
    fn a_guard_failing_with_the_old_document_is_named_beside_the_repair() {
        let (p, c) = (plan(), role());
        let mut old = require_mfa_policy("aws", "123456789012");
        old["Statement"] = json!([old["Statement"][0].clone()]);
        let mut o = in_line(old.to_string());
        o.guard = simulated(true);
        let d = diff(&ctx(&p, &c), &o);
        assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
        assert_eq!(d.changes[0].action, Action::Update);
        assert!(d.notices.iter().any(|n| n.message.contains(
            "long-term access key: iam:EnableMFADevice on own user is allowed, must be denied"
        )));
        // The repair itself does not depend on the simulation (the re-check before writing compares it).
        o.guard = Guard::UserNotMember;
        assert_eq!(diff(&ctx(&p, &c), &o).changes, d.changes);
    }

    #[test]
    fn a_guard_not_yet_simulable_adds_no_change_of_its_own() {
        let (p, c) = (plan(), role());
        let mut o = in_line(require_mfa_policy("aws", "123456789012").to_string());
        o.guard = Guard::UserNotMember;
        assert!(diff(&ctx(&p, &c), &o).changes.is_empty());
    }

    #[test]
    fn the_guard_names_the_account_and_partition_of_the_caller() {
        let doc = require_mfa_policy("aws-cn", "210987654321");
        assert_eq!(
            doc["Statement"][2]["NotResource"],
            json!("arn:aws-cn:iam::210987654321:user/${aws:username}")
        );
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
        let mut doc = require_mfa_policy("aws", "123456789012");
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
        let mut doc = require_mfa_policy("aws", "123456789012");
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
        let doc = require_mfa_policy("aws", "123456789012");
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
