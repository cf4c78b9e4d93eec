//! The people's credentials, re-checked on every run (CIS AWS Foundations v7.0: 2.10 MFA for
//! console users, 2.11 credentials unused for `unused_days`, 2.12 access keys rotated within
//! `max_key_age_days` and one active key a user, 2.13 permissions only through groups, 2.17
//! expired server certificates, 2.20 AWSCloudShellFullAccess restricted).
//!
//! What was used when comes from the IAM credential report (`Aws::credential_report`, read once
//! a run), which IAM reuses for up to four hours: the report's time is shown, and a fix made by
//! hand shows within that time. Ages are measured to the run's own clock. With
//! `deactivate_unused`, the users with an unused credential are also read live (`ListAccessKeys`,
//! `GetLoginProfile`, `ListMFADevices`): the key IDs apply needs, and what the verification after
//! it must see. Policies come from `GetAccountAuthorizationDetails` (users),
//! `ListEntitiesForPolicy` (CloudShell) and `ListServerCertificates`.
//!
//! Every finding is a manual action naming the user and the credential, unless the plan says
//! `deactivate_unused = true`: then an unused access key is deactivated (never deleted: a person
//! can turn it back on), an unused console password removed and an expired server certificate
//! deleted. The run's own user and aws-harden's admin are never changed. `[[iam_users.exception]]`
//! entries accept a finding until a date.

use std::collections::BTreeMap;

use aws_sdk_iam::types::{EntityType, StatusType};
use futures_util::StreamExt as _;

use crate::aws::credential_report::CredentialReport;
use crate::aws::{Aws, SdkResultExt, absent_on};
use crate::change::{Accepted, Action, Change, ControlId, Diff, Notice};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::dates::{parse_date, parse_utc_time};
use crate::plan::{IamUsersException, Plan};

const CONTROL: ControlId = ControlId::named("iam_users");
const CIS: &[&str] = &["2.10", "2.11", "2.12", "2.13", "2.17", "2.20"];
const DAY: u64 = 86_400;
/// Users whose keys, password and MFA devices are read live at once (three reads each).
const LIVE_READS_AT_ONCE: usize = 8;

/// The people's credentials.
pub struct IamUsers;

impl Control for IamUsers {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "IAM users' credentials";
    const CIS: &'static [&'static str] = CIS;
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.iam_users().is_some()
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

/// A time as the credential report writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Stamp {
    /// Seconds since 1970.
    At(u64),
    /// `N/A`: never (no such credential, or never used).
    NotApplicable,
    /// `no_information`: not used since IAM began tracking it (October 2014).
    NoInformation,
    /// Anything else, as written: unknown.
    Unreadable(String),
}

impl Stamp {
    fn of(text: Option<&String>) -> Stamp {
        match text.map(String::as_str) {
            Some("N/A") => Stamp::NotApplicable,
            Some("no_information") => Stamp::NoInformation,
            Some(t) => {
                parse_utc_time(t).map_or_else(|| Stamp::Unreadable(t.to_string()), Stamp::At)
            }
            None => Stamp::Unreadable("(column missing)".into()),
        }
    }
}

/// `true` / `false` as the report writes them; anything else (`not_supported`, missing) unknown.
fn flag(text: Option<&String>) -> Option<bool> {
    // The user guide writes TRUE / FALSE; reports (and moto) write them in lower case.
    match text.map(|t| t.to_ascii_lowercase()).as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

/// One access key's columns (`access_key_N_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct ReportKey {
    pub active: Option<bool>,
    /// When the key was made (`last_rotated`: "created or last changed").
    pub created: Stamp,
    pub last_used: Stamp,
}

/// One user's row.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportUser {
    pub name: String,
    pub password_enabled: Option<bool>,
    pub password_last_used: Stamp,
    pub password_last_changed: Stamp,
    pub mfa_active: Option<bool>,
    pub keys: [ReportKey; 2],
}

impl ReportUser {
    fn of(row: &BTreeMap<String, String>) -> Option<ReportUser> {
        let name = row.get("user")?.clone();
        let key = |n: u8| ReportKey {
            active: flag(row.get(&format!("access_key_{n}_active"))),
            created: Stamp::of(row.get(&format!("access_key_{n}_last_rotated"))),
            last_used: Stamp::of(row.get(&format!("access_key_{n}_last_used_date"))),
        };
        Some(ReportUser {
            name,
            password_enabled: flag(row.get("password_enabled")),
            password_last_used: Stamp::of(row.get("password_last_used")),
            password_last_changed: Stamp::of(row.get("password_last_changed")),
            mfa_active: flag(row.get("mfa_active")),
            keys: [key(1), key(2)],
        })
    }
}

/// An access key as `ListAccessKeys` answers it now.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveKey {
    pub id: String,
    pub active: bool,
    /// `CreateDate`, seconds since 1970.
    pub created: Option<u64>,
}

/// What is true of a flagged user now (the report may be hours old).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Live {
    pub keys: Vec<LiveKey>,
    /// `GetLoginProfile` found a console password.
    pub password: bool,
    pub mfa_devices: usize,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// When this run read the account (seconds since 1970): ages are measured to it.
    pub now: u64,
    /// When IAM made the report (`GeneratedTime`; `None` if left out), and its users (root's row
    /// left out).
    pub generated: Option<u64>,
    pub users: Vec<ReportUser>,
    /// Rows the report had that this build could not read (no `user`).
    pub unreadable_rows: usize,
    /// Per user, live: only users the report flags are read.
    pub live: BTreeMap<String, Live>,
    /// Users with inline or attached policies: name and the policies' names.
    pub direct_policies: BTreeMap<String, Vec<String>>,
    /// Users, groups and roles with `AWSCloudShellFullAccess` attached: ("user", name) etc.
    pub cloudshell: Vec<(String, String)>,
    /// Server certificates: name and expiration (seconds since 1970; `None` if left out).
    pub certificates: Vec<(String, Option<u64>)>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `UpdateAccessKey` with `Status = Inactive`: reversible, unlike a delete.
    DeactivateKey { user: String, access_key_id: String },
    /// `DeleteLoginProfile`: the user can no longer sign in to the console.
    RemovePassword { user: String },
    /// `DeleteServerCertificate`.
    DeleteServerCertificate { name: String },
}

/// `arn:PARTITION:iam::aws:policy/AWSCloudShellFullAccess` (AWS Managed Policy Reference).
fn cloudshell_arn(partition: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/AWSCloudShellFullAccess")
}

/// The report first, with the policies, CloudShell's entities and the certificates at once; then,
/// for each user the report flags, what is true now.
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(p) = plan.iam_users() else {
        return Ok(Observed::default());
    };
    let (report, direct, cloudshell, certificates) = tokio::join!(
        aws.credential_report(),
        direct_policies(aws),
        cloudshell_entities(aws),
        server_certificates(aws)
    );
    let report: std::sync::Arc<CredentialReport> = report?;
    let mut users = Vec::new();
    let mut unreadable_rows = 0;
    for row in &report.rows {
        match ReportUser::of(row) {
            Some(u) if u.name == "<root_account>" => {}
            Some(u) => users.push(u),
            None => unreadable_rows += 1,
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // With deactivate_unused, the users with an unused credential are read live: what apply would
    // change, and what the verification after it must see (the report may be hours old). Without
    // it nothing is changed, and the report alone is read: calls do not grow with the users.
    let admin = plan.admin_user().map(|a| a.name.as_str());
    let flagged: Vec<String> = match p.deactivate_unused {
        true => users
            .iter()
            .filter(|u| findings_of(u, admin, now, p).iter().any(|f| f.unused))
            .map(|u| u.name.clone())
            .collect(),
        false => Vec::new(),
    };
    // A few users at a time: IAM throttles a burst of hundreds of reads.
    let live: Vec<anyhow::Result<Live>> = futures_util::stream::iter(flagged.clone())
        .map(|name| async move { live_state(aws, &name).await })
        .buffered(LIVE_READS_AT_ONCE)
        .collect()
        .await;
    Ok(Observed {
        now,
        generated: report.generated,
        live: flagged
            .into_iter()
            .zip(live)
            .map(|(name, live)| live.map(|l| (name, l)))
            .collect::<anyhow::Result<_>>()?,
        users,
        unreadable_rows,
        direct_policies: direct?,
        cloudshell: cloudshell?,
        certificates: certificates?,
    })
}

/// A user's keys, password and MFA devices now (IAM API reference: ListAccessKeys,
/// GetLoginProfile (NoSuchEntity: no password), ListMFADevices).
async fn live_state(aws: &Aws, user: &str) -> anyhow::Result<Live> {
    let (keys, login, mfa) = tokio::join!(
        aws.iam.list_access_keys().user_name(user).send(),
        aws.iam.get_login_profile().user_name(user).send(),
        aws.iam.list_mfa_devices().user_name(user).send(),
    );
    let keys = keys.describe(format!(
        "listing the access keys of IAM user {user} (ListAccessKeys)"
    ))?;
    let login = absent_on(
        login,
        &["NoSuchEntity"],
        format!("reading the console password of IAM user {user} (GetLoginProfile)"),
    )?;
    let mfa = mfa.describe(format!(
        "listing the MFA devices of IAM user {user} (ListMFADevices)"
    ))?;
    Ok(Live {
        keys: keys
            .access_key_metadata
            .iter()
            .filter_map(|k| {
                Some(LiveKey {
                    id: k.access_key_id.clone()?,
                    active: k.status.as_ref() == Some(&StatusType::Active),
                    created: k.create_date.and_then(|d| u64::try_from(d.secs()).ok()),
                })
            })
            .collect(),
        password: login.is_some(),
        mfa_devices: mfa.mfa_devices.len(),
    })
}

/// Users with inline or attached policies (`GetAccountAuthorizationDetails`, `Filter = User`:
/// every user with both kinds in one paginated read).
async fn direct_policies(aws: &Aws) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let pages = aws
        .iam
        .get_account_authorization_details()
        .filter(EntityType::User)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .describe("reading the users' policies (GetAccountAuthorizationDetails)")?;
    let mut direct = BTreeMap::new();
    for user in pages.iter().flat_map(|p| p.user_detail_list()) {
        let names: Vec<String> = user
            .user_policy_list()
            .iter()
            .filter_map(|p| p.policy_name.clone())
            .chain(
                user.attached_managed_policies()
                    .iter()
                    .filter_map(|p| p.policy_name.clone()),
            )
            .collect();
        if let (Some(name), false) = (&user.user_name, names.is_empty()) {
            direct.insert(name.clone(), names);
        }
    }
    Ok(direct)
}

/// Who has `AWSCloudShellFullAccess` (`ListEntitiesForPolicy`; NoSuchEntity: a partition without
/// the policy, so nobody).
async fn cloudshell_entities(aws: &Aws) -> anyhow::Result<Vec<(String, String)>> {
    let arn = cloudshell_arn(&aws.caller.partition);
    let pages = absent_on(
        aws.iam
            .list_entities_for_policy()
            .policy_arn(&arn)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await,
        &["NoSuchEntity"],
        "listing who has AWSCloudShellFullAccess (ListEntitiesForPolicy)",
    )?
    .unwrap_or_default();
    let mut found = Vec::new();
    for page in &pages {
        found.extend(
            page.policy_users()
                .iter()
                .filter_map(|u| Some(("user".to_string(), u.user_name.clone()?))),
        );
        found.extend(
            page.policy_groups()
                .iter()
                .filter_map(|g| Some(("group".to_string(), g.group_name.clone()?))),
        );
        found.extend(
            page.policy_roles()
                .iter()
                .filter_map(|r| Some(("role".to_string(), r.role_name.clone()?))),
        );
    }
    Ok(found)
}

/// `ListServerCertificates`: each certificate's name and `Expiration`.
async fn server_certificates(aws: &Aws) -> anyhow::Result<Vec<(String, Option<u64>)>> {
    let list = aws
        .iam
        .list_server_certificates()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .describe("listing IAM server certificates (ListServerCertificates)")?;
    Ok(list
        .iter()
        .map(|c| {
            (
                c.server_certificate_name.clone(),
                c.expiration.and_then(|d| u64::try_from(d.secs()).ok()),
            )
        })
        .collect())
}

/// One thing wrong with a user's credentials, as the report shows it.
#[derive(Clone, Debug, PartialEq)]
struct Finding {
    /// `password`, `access_key_1`, `access_key_2`, `mfa` (the names exceptions use).
    credential: &'static str,
    what: String,
    /// A credential unused long enough that `deactivate_unused` may act on it.
    unused: bool,
}

/// The finding of a user with both keys active (filed under `access_key_2`, the newer one).
const TWO_KEYS: &str = "two active access keys (one at most, but while rotating)";

/// Days between `then` and `now`.
fn days_since(now: u64, then: u64) -> u64 {
    now.saturating_sub(then) / DAY
}

/// Since when a credential has not been used: its last use, or, never used, its own creation
/// (never the user's: a password set yesterday for an old user is not unused). `None`: unknown.
fn idle_since(last_used: &Stamp, created: &Stamp) -> Option<u64> {
    match (last_used, created) {
        (Stamp::At(t), _) => Some(*t),
        (Stamp::NotApplicable | Stamp::NoInformation, Stamp::At(t)) => Some(*t),
        _ => None,
    }
}

/// What the report shows wrong with `user` at `now`. `admin`: aws-harden's admin user, whose MFA
/// `admin_mfa` covers.
fn findings_of(
    user: &ReportUser,
    admin: Option<&str>,
    now: u64,
    p: &crate::plan::IamUsersPlan,
) -> Vec<Finding> {
    let mut found = Vec::new();
    let unused_days = u64::from(p.unused_days);
    if user.password_enabled == Some(true) {
        match idle_since(&user.password_last_used, &user.password_last_changed) {
            Some(t) if days_since(now, t) > unused_days => found.push(Finding {
                credential: "password",
                what: format!("console password unused for {} days", days_since(now, t)),
                unused: true,
            }),
            Some(_) => {}
            None => found.push(Finding {
                credential: "password",
                what: "console password: when it was last used cannot be read from the report"
                    .into(),
                unused: false,
            }),
        }
        if user.mfa_active != Some(true) && admin != Some(user.name.as_str()) {
            found.push(Finding {
                credential: "mfa",
                what: "console password without MFA".into(),
                unused: false,
            });
        }
    } else if user.password_enabled.is_none() {
        found.push(Finding {
            credential: "password",
            what: "whether the user has a console password cannot be read from the report".into(),
            unused: false,
        });
    }
    let active: Vec<usize> = (0..2)
        .filter(|&i| user.keys[i].active != Some(false))
        .collect();
    for &i in &active {
        let key = &user.keys[i];
        let credential = ["access_key_1", "access_key_2"][i];
        if key.active.is_none() {
            found.push(Finding {
                credential,
                what: format!("{credential}: whether it is active cannot be read from the report"),
                unused: false,
            });
            continue;
        }
        match idle_since(&key.last_used, &key.created) {
            Some(t) if days_since(now, t) > unused_days => found.push(Finding {
                credential,
                what: format!(
                    "{credential} active and unused for {} days",
                    days_since(now, t)
                ),
                unused: true,
            }),
            Some(_) => {}
            None => found.push(Finding {
                credential,
                what: format!("{credential}: when it was last used cannot be read from the report"),
                unused: false,
            }),
        }
        if let Stamp::At(made) = key.created
            && days_since(now, made) > u64::from(p.max_key_age_days)
        {
            found.push(Finding {
                credential,
                what: format!(
                    "{credential} is {} days old (rotate within {})",
                    days_since(now, made),
                    p.max_key_age_days
                ),
                unused: false,
            });
        }
    }
    if active.len() == 2 && user.keys.iter().all(|k| k.active == Some(true)) {
        found.push(Finding {
            credential: "access_key_2",
            what: TWO_KEYS.into(),
            unused: false,
        });
    }
    found
}

/// The exception that covers `credential` of `user`, if any: of several, the one that lasts
/// longest (a general one that expired must not hide a specific one that holds).
fn exception_for<'a>(
    exceptions: &'a [IamUsersException],
    user: &str,
    credential: &str,
) -> Option<&'a IamUsersException> {
    exceptions
        .iter()
        .filter(|e| e.user == user && e.credential.as_deref().is_none_or(|c| c == credential))
        .max_by_key(|e| parse_date(&e.expires))
}

const STEPS_MFA: &str = "Have the user sign in and assign an MFA device (IAM console > Users > the user > \
Security credentials > Assign MFA device), or remove the console password if the user does not need it.";
const STEPS_KEY: &str = "Rotate or remove the key: create a new one, move its users to it, then `aws iam \
update-access-key --user-name USER --access-key-id ID --status Inactive`, and delete it once nothing breaks \
(`aws iam delete-access-key`). Or set deactivate_unused = true in [iam_users] for unused keys.";
const STEPS_PASSWORD: &str = "Remove the unused console password: `aws iam delete-login-profile --user-name USER` \
(IAM console > Users > the user > Security credentials > Manage console access > Disable). Or set \
deactivate_unused = true in [iam_users].";
const STEPS_POLICIES: &str = "Grant permissions through groups only: add the user to a group with these \
permissions, then detach the managed policies (`aws iam detach-user-policy`) and delete the inline ones \
(`aws iam delete-user-policy`).";
const STEPS_CLOUDSHELL: &str = "Detach AWSCloudShellFullAccess (it allows file transfer in and out of \
CloudShell): `aws iam detach-user-policy` / `detach-group-policy` / `detach-role-policy` with its ARN, and grant \
a narrower CloudShell policy where it is needed.";

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(p) = ctx.plan.iam_users() else {
        return d;
    };
    let now = observed.now;
    let today = (now / DAY) as i64;
    d.notice(Notice::info(
        CONTROL,
        match observed.generated {
            Some(t) => format!(
                "people's credentials from the IAM credential report of {} UTC (IAM reuses a report \
                 for up to 4 hours: a fix made since shows within that time)",
                show_time(t)
            ),
            None => "people's credentials from the IAM credential report (its time was not given)"
                .to_string(),
        },
    ));
    if observed.unreadable_rows > 0 {
        d.undecided(CONTROL, "iam credential report", CIS);
    }
    let admin = ctx.plan.admin_user().map(|a| a.name.as_str());
    let own = ctx.caller.user_name();
    let never_changed = |user: &str| Some(user) == admin || Some(user) == own;
    // An exception covers a finding until its date (the check passes, carrying it); after it, the
    // finding stands and is said.
    let excepted = |d: &mut Diff<Op>, user: &str, credential: &str, finding: &str| -> bool {
        let Some(e) = exception_for(&p.exceptions, user, credential) else {
            return false;
        };
        let expires = parse_date(&e.expires).unwrap_or(i64::MIN);
        if today <= expires {
            d.accepted(
                CONTROL,
                format!("iam user {user:?}"),
                CIS,
                Accepted {
                    finding: format!("{credential}: {finding}"),
                    reason: e.reason.clone(),
                    until: e.expires.clone(),
                },
            );
            d.notice(Notice::info(
                CONTROL,
                format!(
                    "iam user {user:?}, {credential}: accepted until {} ({})",
                    e.expires, e.reason
                ),
            ));
            true
        } else {
            d.notice(Notice::warning(
                CONTROL,
                format!(
                    "iam user {user:?}, {credential}: the exception expired on {} ({}): the finding is back",
                    e.expires, e.reason
                ),
            ));
            false
        }
    };
    for user in &observed.users {
        let resource = format!("iam user {:?}", user.name);
        d.checked(CONTROL, &resource, CIS);
        let live = observed.live.get(&user.name);
        for f in findings_of(user, admin, now, p) {
            // What a person fixed since the report was made is not asked of them again.
            if live.is_some_and(|l| fixed_since(l, user, &f)) {
                continue;
            }
            if excepted(&mut d, &user.name, f.credential, &f.what) {
                continue;
            }
            d.push(finding_change(
                &resource,
                user,
                &f,
                live,
                p,
                never_changed(&user.name),
            ));
        }
        if let Some(names) = observed.direct_policies.get(&user.name)
            && !excepted(
                &mut d,
                &user.name,
                "policies",
                &format!("policies attached: {}", names.join(", ")),
            )
        {
            d.push(
                Change::manual(CONTROL, &resource)
                    .field(
                        "policies",
                        Some(names.join(", ")),
                        Some("through groups only"),
                    )
                    .note(STEPS_POLICIES)
                    .cis(&["2.13"]),
            );
        }
    }
    for (kind, name) in &observed.cloudshell {
        if kind == "user"
            && excepted(
                &mut d,
                name,
                "cloudshell",
                "AWSCloudShellFullAccess attached",
            )
        {
            continue;
        }
        let resource = format!("iam {kind} {name:?}");
        d.checked(CONTROL, &resource, &["2.20"]);
        d.push(
            Change::manual(CONTROL, &resource)
                .field(
                    "AWSCloudShellFullAccess",
                    Some("attached"),
                    Some("detached"),
                )
                .note(STEPS_CLOUDSHELL)
                .cis(&["2.20"]),
        );
    }
    for (name, expiration) in &observed.certificates {
        let resource = format!("iam server certificate {name:?}");
        match expiration {
            Some(t) if *t > now => d.checked(CONTROL, &resource, &["2.17"]),
            Some(_) if p.deactivate_unused => d.push(
                Change::new(
                    CONTROL,
                    &resource,
                    Action::Delete,
                    Op::DeleteServerCertificate { name: name.clone() },
                )
                .field("Expiration", Some("expired"), None::<&str>)
                .cis(&["2.17"]),
            ),
            Some(_) => d.push(
                Change::manual(CONTROL, &resource)
                    .field("Expiration", Some("expired"), Some("deleted"))
                    .note(format!("Delete it: `aws iam delete-server-certificate --server-certificate-name {name}`"))
                    .cis(&["2.17"]),
            ),
            None => d.undecided(CONTROL, &resource, &["2.17"]),
        }
    }
    for e in &p.exceptions {
        let known = observed.users.iter().any(|u| u.name == e.user);
        if !known {
            d.notice(Notice::warning(
                CONTROL,
                format!(
                    "[[iam_users.exception]] for user {:?}: no such user in the credential report",
                    e.user
                ),
            ));
        }
    }
    d
}

/// Whether what `f` found is no longer so (`live`, read after the report).
fn fixed_since(live: &Live, user: &ReportUser, f: &Finding) -> bool {
    if f.what == TWO_KEYS {
        return live.keys.iter().filter(|k| k.active).count() < 2;
    }
    match f.credential {
        "password" => !live.password,
        "mfa" => !live.password || live.mfa_devices > 0,
        key => {
            let i = usize::from(key == "access_key_2");
            match matching_key(live, &user.keys[i]) {
                Some(k) => !k.active,
                // The key the report names is gone, or cannot be told apart: a fixed key is
                // gone; one that cannot be told apart stays a finding.
                None => live.keys.iter().all(|k| !k.active),
            }
        }
    }
}

/// The live key the report's column describes: the one made at the same second (`last_rotated`
/// is the key's creation). `None` when none or several match.
fn matching_key<'a>(live: &'a Live, key: &ReportKey) -> Option<&'a LiveKey> {
    let Stamp::At(made) = key.created else {
        return None;
    };
    let mut same = live.keys.iter().filter(|k| k.created == Some(made));
    match (same.next(), same.next()) {
        (Some(k), None) => Some(k),
        _ => None,
    }
}

/// A finding as a change: the write `deactivate_unused` allows when the live key or password is
/// known (never for the run's own user or aws-harden's admin), else a manual action with the steps.
fn finding_change(
    resource: &str,
    user: &ReportUser,
    f: &Finding,
    live: Option<&Live>,
    p: &crate::plan::IamUsersPlan,
    never_changed: bool,
) -> Change<Op> {
    let cis: &[&str] = match f.credential {
        "mfa" => &["2.10"],
        _ if f.unused => &["2.11"],
        _ => &["2.12"],
    };
    let automatic = p.deactivate_unused && f.unused && !never_changed;
    let name = user.name.clone();
    let op = match (automatic, f.credential, live) {
        (true, "password", Some(l)) if l.password => Some(Op::RemovePassword { user: name }),
        (true, "access_key_1" | "access_key_2", Some(l)) => {
            let i = usize::from(f.credential == "access_key_2");
            matching_key(l, &user.keys[i])
                .filter(|k| k.active)
                .map(|k| Op::DeactivateKey {
                    user: name,
                    access_key_id: k.id.clone(),
                })
        }
        _ => None,
    };
    match op {
        Some(op @ Op::DeactivateKey { .. }) => {
            let Op::DeactivateKey { access_key_id, .. } = &op else {
                unreachable!()
            };
            let field = format!("{} ({access_key_id})", f.credential);
            Change::new(CONTROL, resource, Action::Update, op.clone())
                .field(&field, Some(&f.what), Some("Inactive"))
                .cis(cis)
        }
        Some(op) => Change::new(CONTROL, resource, Action::Update, op)
            .field(f.credential, Some(&f.what), Some("removed"))
            .cis(cis),
        None => {
            let steps = match f.credential {
                "mfa" => STEPS_MFA,
                "password" => STEPS_PASSWORD,
                _ => STEPS_KEY,
            };
            let after = match f.credential {
                "mfa" => "an MFA device",
                _ if f.unused => "used, or removed",
                _ => "rotated",
            };
            let mut steps = steps.to_string();
            if never_changed && p.deactivate_unused && f.unused {
                steps = format!(
                    "aws-harden never changes the user it runs as or its admin user. {steps}"
                );
            }
            Change::manual(CONTROL, resource)
                .field(f.credential, Some(&f.what), Some(after))
                .note(steps)
                .cis(cis)
        }
    }
}

/// IAM API reference: `UpdateAccessKey` (Status Inactive), `DeleteLoginProfile` and
/// `DeleteServerCertificate`; NoSuchEntity (already gone, or an earlier attempt's answer lost)
/// counts as done, and the verification reads it again.
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::DeactivateKey {
            user,
            access_key_id,
        } => {
            aws.iam
                .update_access_key()
                .user_name(user)
                .access_key_id(access_key_id)
                .status(StatusType::Inactive)
                .send()
                .await
                .describe(format!(
                    "deactivating access key {access_key_id} of IAM user {user} (UpdateAccessKey)"
                ))?;
        }
        Op::RemovePassword { user } => {
            absent_on(
                aws.iam.delete_login_profile().user_name(user).send().await,
                &["NoSuchEntity"],
                format!("removing the console password of IAM user {user} (DeleteLoginProfile)"),
            )?;
        }
        Op::DeleteServerCertificate { name } => {
            absent_on(
                aws.iam
                    .delete_server_certificate()
                    .server_certificate_name(name)
                    .send()
                    .await,
                &["NoSuchEntity"],
                format!("deleting IAM server certificate {name} (DeleteServerCertificate)"),
            )?;
        }
    }
    Ok(())
}

/// Seconds since 1970 as `YYYY-MM-DD HH:MM`.
fn show_time(secs: u64) -> String {
    let (y, m, d) = crate::plan::dates::civil_from_days((secs / DAY) as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs % DAY / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests;
