//! The admin IAM user: exists, belongs to the admin group, and can sign in to the console with a
//! generated password that must be changed at first sign-in. An existing login profile is never
//! touched: a re-run must not reset a person's password.

use rand::Rng;
use rand::seq::SliceRandom;

use crate::aws::{Aws, SdkResultExt, absent_on, created_or_exists, when_visible};
use crate::change::{Action, Change, ControlId, Diff, Notice};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::named("admin_user");

/// The admin IAM user: console access, group membership, no stray access keys.
pub struct AdminUser;

impl Control for AdminUser {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "Admin user";
    const CIS: &'static [&'static str] = &["1.6", "1.10", "1.14"];
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.admin_user().is_some()
    }
    async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
        observe(aws, plan).await
    }
    fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
        diff(ctx, observed)
    }
    async fn apply(aws: &Aws, op: &Op, io: &dyn Interaction) -> anyhow::Result<()> {
        apply(aws, op, io).await
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    pub user: Option<UserState>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct UserState {
    pub has_login_profile: bool,
    pub groups: Vec<String>,
    pub access_key_ids: Vec<String>,
    /// The user has an MFA device (read only when the plan asks for an access key).
    pub has_mfa_device: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    CreateUser {
        user: String,
    },
    CreateLoginProfile {
        user: String,
        /// The plan's minimum password length (0 when it manages no policy). The live policy is read
        /// at apply too; this covers a policy written a moment ago that a read may not show yet.
        min_length: u32,
    },
    AddToGroup {
        user: String,
        group: String,
    },
    /// Create an access key and store it as a profile in the shared credentials file.
    CreateAccessKey {
        user: String,
        profile: String,
    },
}

pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(u) = &plan.admin_user else {
        return Ok(Observed::default());
    };
    let name = u.name.as_str();
    // All at once, not "does the user exist?" first: one round trip instead of two. For a user
    // that does not exist each read answers NoSuchEntity.
    let (exists, profile, groups, keys, devices) = tokio::try_join!(
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
        },
        async {
            if !u.access_key {
                return Ok(None);
            }
            absent_on(
                aws.iam.list_mfa_devices().user_name(name).send().await,
                &["NoSuchEntity"],
                format!("listing the MFA devices of IAM user {name}"),
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
            has_mfa_device: devices.is_some_and(|d| !d.mfa_devices.is_empty()),
        }),
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.admin_user() else {
        return d;
    };
    let name = &plan.name;
    let resource = format!("iam user \"{name}\"");
    d.checked(CONTROL, &resource, &["1.6", "1.14"]);
    if plan.console_access {
        d.checked(CONTROL, format!("iam login profile \"{name}\""), &[]);
    }
    if plan.access_key {
        d.checked(CONTROL, format!("iam access key for \"{name}\""), &["1.10"]);
    }
    if observed.user.is_none() {
        d.push(
            Change::new(
                CONTROL,
                &resource,
                Action::Create,
                Op::CreateUser { user: name.clone() },
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
                    Op::CreateLoginProfile {
                        user: name.clone(),
                        min_length: ctx
                            .plan
                            .password_policy()
                            .map(|p| p.minimum_length)
                            .unwrap_or(0),
                    },
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
                Op::AddToGroup {
                    user: name.clone(),
                    group: group.to_string(),
                },
            )
            .field("groups", None::<String>, Some(group))
            .cis(&["1.14"]),
        );
    }
    if plan.access_key && state.access_key_ids.is_empty() && !state.has_mfa_device {
        // A key on an admin without a device could never get an MFA session, and is the start of every
        // way around an MFA guard: it waits until the user has one.
        d.push(
            Change::manual(CONTROL, format!("iam access key for \"{name}\""))
            .field(
                "stored as profile",
                None::<String>,
                Some(&plan.access_key_profile),
            )
            .cis(&["1.10"])
            .note(format!(
                "Created only once {name} has an MFA device. Enroll it first (aws-harden does at a terminal; or \
                 sign in to the console as {name}, Security credentials, Assign MFA device), then run again."
            )),
        );
    } else if plan.access_key && state.access_key_ids.is_empty() {
        d.push(
            Change::new(
                CONTROL,
                format!("iam access key for \"{name}\""),
                Action::Create,
                Op::CreateAccessKey {
                    user: name.clone(),
                    profile: plan.access_key_profile.clone(),
                },
            )
            .field(
                "stored as profile",
                None::<String>,
                Some(&plan.access_key_profile),
            )
            .cis(&["1.10"])
            .note(
                "The secret goes only into the AWS shared credentials file (mode 0600). Once the admin group \
                 requires MFA the key does nothing without an MFA session: aws-harden asks for a code, other tools \
                 need `aws sts get-session-token`.",
            ),
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

pub async fn apply(aws: &Aws, op: &Op, io: &dyn Interaction) -> anyhow::Result<()> {
    match op {
        Op::CreateUser { user } => {
            created_or_exists(
                aws.iam
                    .create_user()
                    .user_name(user)
                    .tags(
                        aws_sdk_iam::types::Tag::builder()
                            .key(crate::aws::MANAGED_BY_TAG.0)
                            .value(crate::aws::MANAGED_BY_TAG.1)
                            .build()?,
                    )
                    .send()
                    .await,
                &["EntityAlreadyExists"],
                format!("creating IAM user {user}"),
            )?;
        }
        Op::CreateLoginProfile { user, min_length } => {
            // The live policy, which may be stricter than the plan (and which a plan that tightens it
            // has already set: password_policy is applied before admin_user). GetAccountPasswordPolicy
            // answers NoSuchEntity when none is set (IAM API reference).
            let live = absent_on(
                aws.iam.get_account_password_policy().send().await,
                &["NoSuchEntity"],
                "reading the account password policy",
            )?;
            let min = live
                .and_then(|p| p.password_policy)
                .and_then(|p| p.minimum_password_length)
                .unwrap_or(0)
                .max(0) as usize;
            // Every character class is always included, so any policy's class rules are met.
            let password = generate_password(min.max(*min_length as usize).max(24));
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
            if !created_or_exists(created, &["EntityAlreadyExists"], &what)? {
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
            let signin = aws.signin_url().await;
            let where_ = io.deliver_secret(
                &format!(
                    "Console password for IAM user {user} (sign in at {signin}; you must change it at first sign-in)"
                ),
                &format!("aws-harden-{account}-{user}-password"),
                &password,
            )?;
            if let Some(w) = where_ {
                io.message(&w);
            }
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
        Op::CreateAccessKey { user, profile } => {
            let out = aws
                .iam
                .create_access_key()
                .user_name(user)
                .send()
                .await
                .describe(format!("creating an access key for IAM user {user}"))?;
            let key = out
                .access_key
                .ok_or_else(|| anyhow::anyhow!("CreateAccessKey returned no key"))?;
            let key_id = key.access_key_id.clone();
            // Stored first: AWS shows the secret only now, so it must not be lost if waiting fails.
            let path = credentials_file_path()?;
            store_profile(&path, profile, &key_id, &key.secret_access_key)?;
            io.message(&format!(
                "Access key {key_id} of IAM user {user} stored as profile \"{profile}\" in {} (mode 0600).",
                path.display()
            ));
            let creds = aws_credential_types::Credentials::new(
                key_id.clone(),
                key.secret_access_key,
                None,
                None,
                "aws-harden-new-key",
            );
            wait_until_key_works(aws, creds, user, &key_id).await?;
        }
    }
    Ok(())
}

/// Pauses between tries of a new access key: IAM takes a few seconds to propagate one.
const KEY_WAITS_MS: [u64; 4] = [1000, 2000, 4000, 8000];

/// Call STS with the new key until it works (bounded, with backoff).
async fn wait_until_key_works(
    aws: &Aws,
    creds: aws_credential_types::Credentials,
    user: &str,
    key_id: &str,
) -> anyhow::Result<()> {
    let mut caller = aws.caller.clone();
    caller.access_key_id = Some(key_id.to_string());
    let with_key = aws.with_credentials(creds, caller);
    let mut last = String::new();
    for (attempt, wait) in std::iter::once(0).chain(KEY_WAITS_MS).enumerate() {
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        match with_key.sts.get_caller_identity().send().await {
            Ok(id) if id.arn().is_some_and(|a| a.ends_with(&format!("/{user}"))) => {
                return Ok(());
            }
            Ok(id) => last = format!("it identifies as {}", id.arn().unwrap_or("?")),
            Err(e) => last = crate::aws::error_chain(&e),
        }
        tracing::info!(attempt, %last, "new access key not usable yet");
    }
    let total: u64 = KEY_WAITS_MS.iter().sum::<u64>() / 1000;
    anyhow::bail!(
        "the new access key {key_id} of IAM user {user} did not work within {total} s ({last}). It is stored; check \
         later with `aws sts get-caller-identity --profile ...`. Nothing that takes access away was attempted."
    )
}

/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`, as the AWS CLI and SDKs read it.
pub fn credentials_file_path() -> anyhow::Result<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE").filter(|p| !p.is_empty()) {
        return Ok(p.into());
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow::anyhow!("HOME is not set: cannot find ~/.aws/credentials"))?;
    Ok(std::path::Path::new(&home).join(".aws").join("credentials"))
}

/// Set one profile in an INI-style credentials file, leaving every other line as it was. The
/// file is replaced atomically by a new one with mode 0600.
pub fn store_profile(
    path: &std::path::Path,
    profile: &str,
    key_id: &str,
    secret: &str,
) -> anyhow::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
    };
    let text = with_profile(&existing, profile, key_id, secret);
    crate::files::write_atomically(path, &text, crate::files::Access::Private)
}

/// The credentials file text with `[profile]` holding exactly this key (other keys of that
/// profile, such as a region, are kept; other profiles are untouched).
pub fn with_profile(existing: &str, profile: &str, key_id: &str, secret: &str) -> String {
    let header = |l: &str| {
        let t = l.trim();
        (t.starts_with('[') && t.ends_with(']')).then(|| t[1..t.len() - 1].trim().to_string())
    };
    let ours = [
        format!("aws_access_key_id = {key_id}"),
        format!("aws_secret_access_key = {secret}"),
    ];
    let replaced = |l: &str| {
        let k = l.split('=').next().unwrap_or("").trim();
        [
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
        ]
        .contains(&k)
    };
    let mut out: Vec<String> = Vec::new();
    let mut in_ours = false;
    let mut found = false;
    for line in existing.lines() {
        if let Some(name) = header(line) {
            in_ours = name == profile;
            out.push(line.to_string());
            if in_ours {
                found = true;
                out.extend(ours.iter().cloned());
            }
            continue;
        }
        if in_ours && replaced(line) {
            continue;
        }
        out.push(line.to_string());
    }
    if !found {
        if out.last().is_some_and(|l| !l.trim().is_empty()) {
            out.push(String::new());
        }
        out.push(format!("[{profile}]"));
        out.extend(ours.iter().cloned());
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
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
    fn profile_is_added_or_replaced_and_others_kept() {
        let before = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[aws-harden-admin]\nregion = eu-west-1\naws_access_key_id = OLD\naws_secret_access_key = OLDS\naws_session_token = T\n[z]\nx = 1\n";
        let after = with_profile(before, "aws-harden-admin", "NEW", "NEWS");
        assert_eq!(
            after,
            "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[aws-harden-admin]\naws_access_key_id = NEW\naws_secret_access_key = NEWS\nregion = eu-west-1\n[z]\nx = 1\n"
        );
        assert_eq!(
            with_profile("", "p", "K", "S"),
            "[p]\naws_access_key_id = K\naws_secret_access_key = S\n"
        );
        assert_eq!(
            with_profile("[a]\nx = 1", "p", "K", "S"),
            "[a]\nx = 1\n\n[p]\naws_access_key_id = K\naws_secret_access_key = S\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("credentials");
        store_profile(&path, "p", "K", "S").unwrap();
        store_profile(&path, "q", "K2", "S2").unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[p]\naws_access_key_id = K\n") && text.contains("[q]"));
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
            written: &[],
        };
        let observed = Observed {
            user: Some(UserState {
                has_login_profile: true,
                groups: vec!["Administrators".into()],
                access_key_ids: vec![],
                has_mfa_device: false,
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
                has_mfa_device: false,
            }),
        };
        let d = diff(&ctx, &removed);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(
            d.changes[0].ops,
            [Op::AddToGroup {
                user: "admin".into(),
                group: "Administrators".into()
            }]
        );
    }

    #[test]
    fn the_access_key_waits_for_an_mfa_device() {
        let plan = parse(
            "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\naccess_key = true\n",
        )
        .unwrap();
        let caller = Caller::from_arn("1", "arn:aws:iam::123456789012:user/x", None, false);
        let ctx = DiffContext {
            plan: &plan,
            caller: &caller,
            interactive: true,
            written: &[],
        };
        let mut state = UserState {
            has_login_profile: true,
            groups: vec!["Administrators".into()],
            access_key_ids: vec![],
            has_mfa_device: false,
        };
        let key = |state: &UserState| {
            diff(
                &ctx,
                &Observed {
                    user: Some(state.clone()),
                },
            )
            .changes
            .into_iter()
            .find(|c| c.resource.contains("access key"))
            .unwrap()
        };
        let pending = key(&state);
        assert_eq!(pending.action, Action::Manual);
        assert!(pending.note.unwrap().contains("MFA device"));
        // A user that does not exist yet has no device either.
        let fresh = diff(&ctx, &Observed::default());
        assert!(
            fresh
                .changes
                .iter()
                .any(|c| c.resource.contains("access key") && c.action == Action::Manual)
        );
        state.has_mfa_device = true;
        let create = key(&state);
        assert_eq!(create.action, Action::Create);
        assert!(matches!(create.ops[..], [Op::CreateAccessKey { .. }]));
    }
}
