//! The admin IAM user: exists, belongs to the admin group, and can sign in to the console with a
//! generated password that must be changed at first sign-in. An existing login profile is never
//! touched: a re-run must not reset a person's password.

use rand::Rng;
use rand::seq::SliceRandom;

use crate::aws::{Aws, SdkResultExt, absent_on, created_or_exists, when_visible};
use crate::change::{Action, Change, ControlId, Diff, Notice};
use crate::controls::DiffContext;
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::AdminUser;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    pub user: Option<UserState>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct UserState {
    pub has_login_profile: bool,
    pub groups: Vec<String>,
    pub access_key_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    CreateUser { user: String },
    CreateLoginProfile { user: String },
    AddToGroup { user: String, group: String },
}

pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(u) = &plan.admin_user else {
        return Ok(Observed::default());
    };
    let name = u.name.as_str();
    // All at once, not "does the user exist?" first: one round trip instead of two. For a user
    // that does not exist each read answers NoSuchEntity.
    let (exists, profile, groups, keys) = tokio::try_join!(
        async {
            absent_on(
                aws.iam.get_user().user_name(name).send().await,
                &["NoSuchEntity"],
                format!("reading IAM user {name}"),
            )
        },
        async {
            absent_on(
                aws.iam.get_login_profile().user_name(name).send().await,
                &["NoSuchEntity"],
                format!("reading the console login profile of IAM user {name}"),
            )
        },
        async {
            absent_on(
                aws.iam
                    .list_groups_for_user()
                    .user_name(name)
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await,
                &["NoSuchEntity"],
                format!("listing the groups of IAM user {name}"),
            )
        },
        async {
            absent_on(
                aws.iam.list_access_keys().user_name(name).send().await,
                &["NoSuchEntity"],
                format!("listing the access keys of IAM user {name}"),
            )
        }
    )?;
    if exists.is_none() {
        return Ok(Observed { user: None });
    }
    let groups = groups.unwrap_or_default();
    let keys = keys.map(|k| k.access_key_metadata).unwrap_or_default();
    Ok(Observed {
        user: Some(UserState {
            has_login_profile: profile.is_some(),
            groups: groups.into_iter().map(|g| g.group_name).collect(),
            access_key_ids: keys.into_iter().filter_map(|k| k.access_key_id).collect(),
        }),
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.admin_user() else {
        return d;
    };
    let name = &plan.name;
    let resource = format!("iam user \"{name}\"");
    let op = |op: Op| super::Op::AdminUser(op);
    if observed.user.is_none() {
        d.push(
            Change::new(
                CONTROL,
                &resource,
                Action::Create,
                op(Op::CreateUser { user: name.clone() }),
            )
            .field("name", None::<String>, Some(name))
            .cis(&["1.6"]),
        );
    }
    let state = observed.user.clone().unwrap_or_default();
    if plan.console_access {
        if !state.has_login_profile {
            d.push(
                Change::new(
                    CONTROL,
                    format!("iam login profile \"{name}\""),
                    Action::Create,
                    op(Op::CreateLoginProfile { user: name.clone() }),
                )
                .field(
                    "console password",
                    None::<String>,
                    Some("(generated, shown once)"),
                )
                .field("password reset required", None::<String>, Some("true")),
            );
        }
    } else if state.has_login_profile {
        d.notice(Notice::info(
            CONTROL,
            format!("{name} has console access although the plan says console_access = false; aws-harden never removes it."),
        ));
    }
    if let Some(group) = ctx.plan.admin_group_name()
        && !state.groups.iter().any(|g| g == group)
    {
        d.push(
            Change::new(
                CONTROL,
                &resource,
                Action::Update,
                op(Op::AddToGroup {
                    user: name.clone(),
                    group: group.to_string(),
                }),
            )
            .field("groups", None::<String>, Some(group))
            .cis(&["1.14"]),
        );
    }
    if !state.access_key_ids.is_empty() && !plan.access_key {
        d.notice(
            Notice::warning(
                CONTROL,
                format!(
                    "{name} has {} access key(s) although the plan does not ask for one (CIS 1.10); aws-harden leaves them.",
                    state.access_key_ids.len()
                ),
            )
            .cis(&["1.10"]),
        );
    }
    d
}

/// Characters IAM accepts in passwords as "symbols".
const SYMBOLS: &[u8] = b"!@#$%^&*()_+-=[]{}|'";

/// A random password of `len` characters with at least one of each class, meeting any IAM
/// password policy of that length.
pub fn generate_password(len: usize) -> String {
    let classes: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        SYMBOLS,
    ];
    let mut rng = rand::rng();
    let mut chars: Vec<u8> = classes
        .iter()
        .map(|c| c[rng.random_range(0..c.len())])
        .collect();
    let all: Vec<u8> = classes.concat();
    while chars.len() < len.max(classes.len()) {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    String::from_utf8(chars).expect("ASCII")
}

pub async fn apply(aws: &Aws, plan: &Plan, op: &Op, io: &dyn Interaction) -> anyhow::Result<()> {
    match op {
        Op::CreateUser { user } => {
            created_or_exists(
                aws.iam
                    .create_user()
                    .user_name(user)
                    .tags(
                        aws_sdk_iam::types::Tag::builder()
                            .key("managed-by")
                            .value("aws-harden")
                            .build()?,
                    )
                    .send()
                    .await,
                format!("creating IAM user {user}"),
            )?;
        }
        Op::CreateLoginProfile { user } => {
            let min = plan
                .password_policy()
                .map(|p| p.minimum_length as usize)
                .unwrap_or(0);
            let password = generate_password(min.max(24));
            let what = format!("creating the console login profile of IAM user {user}");
            // The user may have been created a moment ago.
            let created = when_visible(&["NoSuchEntity"], &what, || {
                aws.iam
                    .create_login_profile()
                    .user_name(user)
                    .password(&password)
                    .password_reset_required(true)
                    .send()
            })
            .await;
            if !created_or_exists(created, &what)? {
                // There was no login profile at the re-check a moment ago, so this is almost
                // surely this run's own first attempt, whose answer was lost. Set the password
                // again, or the one delivered below might not be the one that works.
                aws.iam
                    .update_login_profile()
                    .user_name(user)
                    .password(&password)
                    .password_reset_required(true)
                    .send()
                    .await
                    .describe(format!(
                        "setting the console password of IAM user {user} after a lost answer"
                    ))?;
            }
            let account = aws.account_id();
            let where_ = io.deliver_secret(
                &format!("Console password for IAM user {user} (sign in at https://{account}.signin.aws.amazon.com/console; you must change it at first sign-in)"),
                &format!("aws-harden-{account}-{user}-password"),
                &password,
            )?;
            io.message(&where_);
        }
        Op::AddToGroup { user, group } => {
            let what = format!("adding IAM user {user} to group {group}");
            when_visible(&["NoSuchEntity"], &what, || {
                aws.iam
                    .add_user_to_group()
                    .user_name(user)
                    .group_name(group)
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

    #[test]
    fn passwords_have_every_class_and_length() {
        for _ in 0..200 {
            let p = generate_password(24);
            assert_eq!(p.len(), 24);
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.bytes().any(|c| SYMBOLS.contains(&c)));
        }
        assert_ne!(generate_password(24), generate_password(24));
    }

    #[test]
    fn existing_login_profile_is_left_alone() {
        let plan = parse("version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\n")
            .unwrap();
        let caller = Caller::from_arn("1", "arn:aws:iam::123456789012:user/x", None, false);
        let ctx = DiffContext {
            plan: &plan,
            caller: &caller,
            interactive: false,
        };
        let observed = Observed {
            user: Some(UserState {
                has_login_profile: true,
                groups: vec!["Administrators".into()],
                access_key_ids: vec![],
            }),
        };
        assert!(diff(&ctx, &observed).changes.is_empty());
        let fresh = diff(&ctx, &Observed::default());
        assert_eq!(fresh.changes.len(), 3);
        let removed = Observed {
            user: Some(UserState {
                has_login_profile: true,
                groups: vec![],
                access_key_ids: vec![],
            }),
        };
        let d = diff(&ctx, &removed);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(
            d.changes[0].op,
            super::super::Op::AdminUser(Op::AddToGroup {
                user: "admin".into(),
                group: "Administrators".into()
            })
        );
    }
}
