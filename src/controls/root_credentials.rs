//! Member accounts' root credentials, removed centrally (`[root] centralized = true`, `--org` only;
//! CIS 1.3 no root access keys, 1.6 avoid root use). With the Organization's centralized root
//! access (IAM user guide, "Centrally manage root access for member accounts"), the management
//! account acts as a member's root user through `sts:AssumeRoot`, one task at a time, and removes
//! the password, access keys and signing certificates, and deactivates MFA devices: nobody can
//! sign in as that root any more.
//!
//! The control has two parts, by context (`Aws::central_root`):
//! - the management account: `iam:ListOrganizationsFeatures`, and the changes that turn the two
//!   features on (trusted access for IAM first), applied before any member's;
//! - a member: its root credentials, read through an audit session (`IAMAuditRootUserCredentials`)
//!   and deleted through one delete session (`IAMDeleteRootUserCredentials`). Before the features
//!   are on nothing can be read: the change is then "every root credential", found and deleted
//!   when applying, and checked exactly afterwards.

use aws_sdk_iam::types::FeatureType;

use crate::aws::central_root::{AUDIT_TASK, CentralRoot, MemberRoot, Reach};
use crate::aws::{Aws, SdkResultExt, absent_on, error_code, when_visible};
use crate::change::{Action, Change, ControlId, Diff, Notice, Stage};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::named("root_credentials");
const CIS: &[&str] = &["1.3", "1.6"];
/// IAM's service principal, for trusted access in Organizations.
const IAM_PRINCIPAL: &str = "iam.amazonaws.com";

/// The checks, one per kind of credential (the changes name the same resources).
const PASSWORD: &str = "root password";
const ACCESS_KEYS: &str = "root access keys";
const CERTIFICATES: &str = "root signing certificates";
const MFA_DEVICES: &str = "root MFA devices";
/// The one check (and change) while the credentials cannot be told apart yet.
const EVERY_CREDENTIAL: &str = "root credentials";
const FEATURES: &str = "centralized root access";

/// Members' root credentials, removed through `sts:AssumeRoot`.
pub struct RootCredentials;

impl Control for RootCredentials {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "Member root credentials (centralized root access)";
    const CIS: &'static [&'static str] = CIS;
    const PLAN_TABLE: &'static str = "root";
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.root().is_some_and(|r| r.centralized)
    }
    async fn observe(aws: &Aws, _plan: &Plan) -> anyhow::Result<Observed> {
        observe(aws).await
    }
    fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
        diff(ctx, observed)
    }
    async fn apply(aws: &Aws, op: &Op, _io: &dyn Interaction) -> anyhow::Result<()> {
        apply(aws, op).await
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    /// An account with no part in it: the management account as a target of its own (its root is
    /// not a member's), or a run without `--org`.
    NotAMember,
    /// The management account: the Organization's features.
    Features(Features),
    /// A member that cannot be reached from this caller: why.
    Unreachable(String),
    /// A member's root credentials. `exact`: the changes name each one (the features were on when
    /// the run began). `credentials` is `None` while the features are off (nothing can be read).
    Member {
        exact: bool,
        credentials: Option<RootCredentialSet>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// The account running `--org`.
    pub caller_account: String,
    /// The Organization's management account.
    pub management_id: String,
    pub read: FeaturesRead,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FeaturesRead {
    /// `ListOrganizationsFeatures` answered: the features on.
    Enabled(Vec<String>),
    /// `ServiceAccessNotEnabledException`: IAM has no trusted access in Organizations yet.
    TrustedAccessOff,
    /// `AccountNotManagementOrDelegatedAdministratorException`.
    NotManagementOrDelegated,
}

/// What a member's root user still has (read without a user name, inside a root session).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RootCredentialSet {
    pub password: bool,
    pub access_keys: Vec<String>,
    pub certificates: Vec<String>,
    pub mfa_devices: Vec<String>,
}

impl RootCredentialSet {
    fn is_empty(&self) -> bool {
        *self == RootCredentialSet::default()
    }

    /// The deletions that leave root with nothing, in their order: the password, the access
    /// keys, the signing certificates, and last the MFA devices (root keeps its MFA until it has
    /// no password left to sign in with). The diff shows these; "every root credential" applies
    /// them after reading.
    fn deletions(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        if self.password {
            ops.push(Op::DeleteLoginProfile);
        }
        ops.extend(self.access_keys.iter().map(|key_id| Op::DeleteAccessKey {
            key_id: key_id.clone(),
        }));
        ops.extend(
            self.certificates
                .iter()
                .map(|certificate_id| Op::DeleteSigningCertificate {
                    certificate_id: certificate_id.clone(),
                }),
        );
        ops.extend(
            self.mfa_devices
                .iter()
                .map(|serial| Op::DeactivateMfaDevice {
                    serial: serial.clone(),
                }),
        );
        ops
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Management account: `organizations:EnableAWSServiceAccess` for `iam.amazonaws.com`.
    EnableTrustedAccess,
    /// Management account: `iam:EnableOrganizationsRootCredentialsManagement`.
    EnableRootCredentialsManagement,
    /// Management account: `iam:EnableOrganizationsRootSessions` (what AssumeRoot needs).
    EnableRootSessions,
    /// Member, as root: `DeleteLoginProfile` without a user name.
    DeleteLoginProfile,
    DeleteAccessKey {
        key_id: String,
    },
    DeleteSigningCertificate {
        certificate_id: String,
    },
    /// Last of a member's: only once root cannot sign in with a password.
    DeactivateMfaDevice {
        serial: String,
    },
    /// Member whose credentials could not be read before the features were on: list them in the
    /// delete session and delete each, in the order above.
    DeleteEveryRootCredential,
}

pub async fn observe(aws: &Aws) -> anyhow::Result<Observed> {
    match aws.central_root.as_deref() {
        None => Ok(Observed::NotAMember),
        Some(CentralRoot::Management { management_id }) => Ok(Observed::Features(Features {
            caller_account: aws.account_id().to_string(),
            management_id: management_id.clone(),
            read: read_features(aws).await?,
        })),
        Some(CentralRoot::Member(member)) => observe_member(aws, member).await,
    }
}

/// `iam:ListOrganizationsFeatures` (IAM API reference): the features on, or why not readable.
pub async fn read_features(aws: &Aws) -> anyhow::Result<FeaturesRead> {
    match aws.iam.list_organizations_features().send().await {
        Ok(out) => {
            let mut on: Vec<String> = out
                .enabled_features
                .unwrap_or_default()
                .iter()
                .map(|f| f.as_str().to_string())
                .collect();
            on.sort();
            Ok(FeaturesRead::Enabled(on))
        }
        Err(e) => match error_code(&e) {
            Some("ServiceAccessNotEnabledException") => Ok(FeaturesRead::TrustedAccessOff),
            Some("AccountNotManagementOrDelegatedAdministratorException") => {
                Ok(FeaturesRead::NotManagementOrDelegated)
            }
            _ => Err(e).describe(
                "reading the Organization's centralized root access features (iam:ListOrganizationsFeatures)",
            ),
        },
    }
}

async fn observe_member(aws: &Aws, member: &MemberRoot) -> anyhow::Result<Observed> {
    if let Reach::Unavailable(why) = &member.reach {
        return Ok(Observed::Unreachable(why.clone()));
    }
    let exact = member.reach == Reach::Ready;
    if !member.features_on() {
        return Ok(Observed::Member {
            exact,
            credentials: None,
        });
    }
    let iam = member.iam_as_root(aws, AUDIT_TASK).await?;
    Ok(Observed::Member {
        exact,
        credentials: Some(read_credentials(&iam, &member.account).await?),
    })
}

/// The root user's credentials, each read without a user name inside a root session (IAM API
/// reference: "When you make this request with root user credentials, you must use an AssumeRoot
/// session to omit the user name"): GetLoginProfile (NoSuchEntity: no password),
/// ListAccessKeys, ListSigningCertificates, ListMFADevices, all at once.
async fn read_credentials(
    iam: &aws_sdk_iam::Client,
    account: &str,
) -> anyhow::Result<RootCredentialSet> {
    let (profile, keys, certificates, devices) = tokio::join!(
        iam.get_login_profile().send(),
        iam.list_access_keys()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>(),
        iam.list_signing_certificates()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>(),
        iam.list_mfa_devices()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>(),
    );
    let password = absent_on(
        profile,
        &["NoSuchEntity"],
        format!("reading the root password of account {account} (GetLoginProfile)"),
    )?
    .is_some();
    let mut access_keys: Vec<String> = keys
        .describe(format!("listing the root access keys of account {account}"))?
        .into_iter()
        .filter_map(|k| k.access_key_id)
        .collect();
    let mut certificates: Vec<String> = certificates
        .describe(format!(
            "listing the root signing certificates of account {account}"
        ))?
        .into_iter()
        .map(|c| c.certificate_id)
        .collect();
    let mut mfa_devices: Vec<String> = devices
        .describe(format!("listing the root MFA devices of account {account}"))?
        .into_iter()
        .map(|d| d.serial_number)
        .collect();
    access_keys.sort();
    certificates.sort();
    mfa_devices.sort();
    Ok(RootCredentialSet {
        password,
        access_keys,
        certificates,
        mfa_devices,
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    match observed {
        Observed::NotAMember => d.notice(Notice::info(
            CONTROL,
            "centralized = true covers member accounts: this account is not one (the management account's own \
             root follows the [root] steps).",
        )),
        Observed::Features(f) => diff_features(&mut d, f),
        Observed::Unreachable(why) => {
            d.checked(CONTROL, EVERY_CREDENTIAL, CIS);
            d.push(
                Change::manual(CONTROL, EVERY_CREDENTIAL)
                    .field("root credentials", Some("unknown"), Some("none"))
                    .cis(CIS)
                    .note(why.clone()),
            );
        }
        Observed::Member {
            exact: true,
            credentials: Some(set),
        } => diff_each(&mut d, set),
        Observed::Member { credentials, .. } => {
            d.checked(CONTROL, EVERY_CREDENTIAL, CIS);
            // Nothing could be read when the change was shown, so it stands as shown until it is
            // applied (the check just before writing reads the features on, and must not call
            // the account changed); the check after applying decides from what is left.
            let verifying = ctx.written.contains(&CONTROL);
            if verifying && credentials.as_ref().is_some_and(RootCredentialSet::is_empty) {
                return d;
            }
            d.push(
                Change::new(
                    CONTROL,
                    EVERY_CREDENTIAL,
                    Action::Delete,
                    Op::DeleteEveryRootCredential,
                )
                .field(
                    "root credentials",
                    Some("unknown until centralized root access is on"),
                    Some("none"),
                )
                .cis(CIS)
                .stage(Stage::RootKeys)
                .note(
                    "Centralized root access is turned on first (the management account's changes); then, in one \
                     AssumeRoot session, every root password, access key and signing certificate found is deleted \
                     and MFA devices deactivated, and the account is read again to check none is left.",
                ),
            );
        }
    }
    d
}

/// The management account: each missing feature is a change, trusted access for IAM first.
fn diff_features(d: &mut Diff<Op>, f: &Features) {
    d.checked(CONTROL, FEATURES, CIS);
    let (trusted, on): (bool, &[String]) = match &f.read {
        FeaturesRead::Enabled(on) => (true, on),
        FeaturesRead::TrustedAccessOff => (false, &[]),
        FeaturesRead::NotManagementOrDelegated => {
            d.push(run_from(
                f,
                "This account is neither the management account nor IAM's delegated administrator",
            ));
            return;
        }
    };
    let missing: Vec<(FeatureType, Op)> = [
        (
            FeatureType::RootCredentialsManagement,
            Op::EnableRootCredentialsManagement,
        ),
        (FeatureType::RootSessions, Op::EnableRootSessions),
    ]
    .into_iter()
    .filter(|(feature, _)| !on.iter().any(|o| o == feature.as_str()))
    .collect();
    if trusted && missing.is_empty() {
        return;
    }
    // Only the management account can turn them on (CallerIsNotManagementAccountException).
    if f.caller_account != f.management_id {
        d.push(run_from(
            f,
            "Only the management account can turn centralized root access on",
        ));
        return;
    }
    if !trusted {
        d.push(
            Change::new(CONTROL, FEATURES, Action::Update, Op::EnableTrustedAccess)
                .field(
                    "trusted access for iam.amazonaws.com",
                    Some("off"),
                    Some("on"),
                )
                .cis(CIS),
        );
    }
    for (feature, op) in missing {
        d.push(
            Change::new(CONTROL, FEATURES, Action::Update, op)
                .field(feature.as_str(), Some("off"), Some("on"))
                .cis(CIS),
        );
    }
}

/// A manual action naming the account to run from.
fn run_from(f: &Features, why: &str) -> Change<Op> {
    Change::manual(CONTROL, FEATURES)
        .field("run from", Some(f.caller_account.as_str()), Some(f.management_id.as_str()))
        .cis(CIS)
        .note(format!(
            "{why} (account {} runs this). Run aws-harden --org from the management account {} (or, for reading \
             and deleting members' root credentials once both features are on, from the account it made IAM's \
             delegated administrator).",
            f.caller_account, f.management_id
        ))
}

/// Features on: one change per credential, in `deletions` order.
fn diff_each(d: &mut Diff<Op>, set: &RootCredentialSet) {
    for resource in [PASSWORD, ACCESS_KEYS, CERTIFICATES, MFA_DEVICES] {
        d.checked(CONTROL, resource, CIS);
    }
    for op in set.deletions() {
        let (resource, field, id) = match &op {
            Op::DeleteLoginProfile => (PASSWORD, "password", "present"),
            Op::DeleteAccessKey { key_id } => (ACCESS_KEYS, "access key", key_id.as_str()),
            Op::DeleteSigningCertificate { certificate_id } => {
                (CERTIFICATES, "signing certificate", certificate_id.as_str())
            }
            Op::DeactivateMfaDevice { serial } => (MFA_DEVICES, "MFA device", serial.as_str()),
            _ => continue,
        };
        let mut change = Change::new(CONTROL, resource, Action::Delete, op.clone())
            .field(field, Some(id), None::<String>)
            .cis(CIS)
            .stage(Stage::RootKeys);
        if resource == MFA_DEVICES {
            change = change.note(
                "Deactivated after the password is gone: this root can no longer sign in at all.",
            );
        }
        d.push(change);
    }
}

pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::EnableTrustedAccess => {
            // EnableAWSServiceAccess (Organizations API reference): trusted access for IAM.
            aws.organizations()
                .enable_aws_service_access()
                .service_principal(IAM_PRINCIPAL)
                .send()
                .await
                .describe("turning on trusted access for IAM in Organizations (EnableAWSServiceAccess iam.amazonaws.com)")?;
        }
        // IAM API reference, EnableOrganizationsRootCredentialsManagement / ...RootSessions: no
        // input. Right after trusted access is turned on, IAM may not see it yet.
        Op::EnableRootCredentialsManagement => {
            when_visible(
                &["ServiceAccessNotEnabledException"],
                "EnableOrganizationsRootCredentialsManagement",
                || aws.iam.enable_organizations_root_credentials_management().send(),
            )
            .await
            .describe("turning on root credentials management (iam:EnableOrganizationsRootCredentialsManagement)")?;
        }
        Op::EnableRootSessions => {
            when_visible(
                &["ServiceAccessNotEnabledException"],
                "EnableOrganizationsRootSessions",
                || aws.iam.enable_organizations_root_sessions().send(),
            )
            .await
            .describe("turning on privileged root actions (iam:EnableOrganizationsRootSessions)")?;
        }
        member_op => {
            let Some(CentralRoot::Member(member)) = aws.central_root.as_deref() else {
                anyhow::bail!(
                    "deleting a member's root credentials needs --org with [root] centralized = true (a saved change cannot do it)"
                );
            };
            if !member.features_on() {
                anyhow::bail!(
                    "centralized root access is not on in the Organization (the management account's changes did not \
                     succeed): account {}'s root credentials were not touched",
                    member.account
                );
            }
            let iam = member.delete_session(aws).await?;
            delete(&iam, &member.account, member_op).await?;
        }
    }
    Ok(())
}

/// One deletion in a member's delete session. Already gone (NoSuchEntity) counts as done.
async fn delete(iam: &aws_sdk_iam::Client, account: &str, op: &Op) -> anyhow::Result<()> {
    const GONE: &[&str] = &["NoSuchEntity"];
    match op {
        Op::DeleteLoginProfile => {
            absent_on(
                iam.delete_login_profile().send().await,
                GONE,
                format!("deleting the root password of account {account} (DeleteLoginProfile)"),
            )?;
        }
        Op::DeleteAccessKey { key_id } => {
            absent_on(
                iam.delete_access_key().access_key_id(key_id).send().await,
                GONE,
                format!("deleting root access key {key_id} of account {account}"),
            )?;
        }
        Op::DeleteSigningCertificate { certificate_id } => {
            absent_on(
                iam.delete_signing_certificate()
                    .certificate_id(certificate_id)
                    .send()
                    .await,
                GONE,
                format!("deleting root signing certificate {certificate_id} of account {account}"),
            )?;
        }
        Op::DeactivateMfaDevice { serial } => {
            absent_on(
                iam.deactivate_mfa_device()
                    .serial_number(serial)
                    .send()
                    .await,
                GONE,
                format!("deactivating root MFA device {serial} of account {account}"),
            )?;
            // A virtual device outlives its deactivation, unassigned: deleted too, so none is left
            // behind (IAM API reference, DeleteVirtualMFADevice: "You must deactivate a user's
            // virtual MFA device before you can delete it"; the delete task policy allows it).
            // Hardware and FIDO devices have serials that are not ARNs and nothing to delete.
            if serial.starts_with("arn:") && serial.contains(":mfa/") {
                absent_on(
                    iam.delete_virtual_mfa_device()
                        .serial_number(serial)
                        .send()
                        .await,
                    GONE,
                    format!("deleting root's virtual MFA device {serial} of account {account}"),
                )?;
            }
        }
        Op::DeleteEveryRootCredential => {
            // The delete task allows the same reads as the audit task.
            let set = read_credentials(iam, account).await?;
            let ops = set.deletions();
            for op in &ops {
                Box::pin(delete(iam, account, op)).await?;
            }
        }
        Op::EnableTrustedAccess | Op::EnableRootCredentialsManagement | Op::EnableRootSessions => {
            anyhow::bail!(
                "{op:?} is the management account's, not a member's (a bug in aws-harden)"
            )
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::control::diff_for_tests;

    const PLAN: &str = "[root]\ncentralized = true\n";

    fn diff_of(observed: &Observed) -> Diff<Op> {
        diff_for_tests(PLAN, |ctx| diff(ctx, observed))
    }

    fn features(caller: &str, read: FeaturesRead) -> Observed {
        Observed::Features(Features {
            caller_account: caller.into(),
            management_id: "111111111111".into(),
            read,
        })
    }

    fn ops(d: &Diff<Op>) -> Vec<Op> {
        d.changes.iter().flat_map(|c| c.ops.clone()).collect()
    }

    #[test]
    fn every_credential_is_one_deletion_and_mfa_goes_last() {
        let d = diff_of(&Observed::Member {
            exact: true,
            credentials: Some(RootCredentialSet {
                password: true,
                access_keys: vec!["AKIA1".into(), "AKIA2".into()],
                certificates: vec!["CERT1".into()],
                mfa_devices: vec!["arn:aws:iam::2:mfa/root".into()],
            }),
        });
        assert_eq!(
            ops(&d),
            [
                Op::DeleteLoginProfile,
                Op::DeleteAccessKey {
                    key_id: "AKIA1".into()
                },
                Op::DeleteAccessKey {
                    key_id: "AKIA2".into()
                },
                Op::DeleteSigningCertificate {
                    certificate_id: "CERT1".into()
                },
                Op::DeactivateMfaDevice {
                    serial: "arn:aws:iam::2:mfa/root".into()
                },
            ]
        );
        // After every other control is verified (they take access away from root).
        assert!(
            d.changes
                .iter()
                .all(|c| c.stage == Stage::RootKeys && c.action == Action::Delete)
        );
        // Each failed check names its credential kind.
        let checks = d.checks();
        assert_eq!(checks.iter().filter(|c| !c.passed).count(), 4, "{checks:?}");
        // None left: in line, four passed checks.
        let clean = diff_of(&Observed::Member {
            exact: true,
            credentials: Some(RootCredentialSet::default()),
        });
        assert!(clean.changes.is_empty());
        assert_eq!(clean.checks().iter().filter(|c| c.passed).count(), 4);
    }

    #[test]
    fn before_the_features_are_on_the_change_is_every_credential_and_unknown_is_not_none() {
        // Nothing readable yet: one deletion of whatever is found when applying.
        let d = diff_of(&Observed::Member {
            exact: false,
            credentials: None,
        });
        assert_eq!(ops(&d), [Op::DeleteEveryRootCredential]);
        // The check just before writing reads the features on: the same change, whatever it
        // finds (the account did not change, it just became readable).
        for found in [
            RootCredentialSet::default(),
            RootCredentialSet {
                access_keys: vec!["AKIA1".into()],
                ..RootCredentialSet::default()
            },
        ] {
            let before_writing = diff_of(&Observed::Member {
                exact: false,
                credentials: Some(found),
            });
            assert_eq!(before_writing.changes, d.changes);
        }
        // The check after writing decides from what is left: in line once none is, pending while
        // any is.
        let written = [CONTROL];
        let after = |credentials: RootCredentialSet| {
            diff_for_tests(PLAN, |ctx| {
                diff(
                    &DiffContext {
                        written: &written,
                        ..ctx.clone()
                    },
                    &Observed::Member {
                        exact: false,
                        credentials: Some(credentials),
                    },
                )
            })
        };
        assert!(after(RootCredentialSet::default()).changes.is_empty());
        let left = after(RootCredentialSet {
            password: true,
            ..RootCredentialSet::default()
        });
        assert_eq!(ops(&left), [Op::DeleteEveryRootCredential]);
    }

    #[test]
    fn missing_features_are_changes_on_the_management_account_trusted_access_first() {
        let d = diff_of(&features("111111111111", FeaturesRead::TrustedAccessOff));
        assert_eq!(
            ops(&d),
            [
                Op::EnableTrustedAccess,
                Op::EnableRootCredentialsManagement,
                Op::EnableRootSessions
            ]
        );
        let one = diff_of(&features(
            "111111111111",
            FeaturesRead::Enabled(vec!["RootCredentialsManagement".into()]),
        ));
        assert_eq!(ops(&one), [Op::EnableRootSessions]);
        let both = diff_of(&features(
            "111111111111",
            FeaturesRead::Enabled(vec![
                "RootCredentialsManagement".into(),
                "RootSessions".into(),
            ]),
        ));
        assert!(both.changes.is_empty());
    }

    #[test]
    fn another_account_gets_a_manual_action_naming_the_management_account() {
        for (caller, read) in [
            ("222222222222", FeaturesRead::NotManagementOrDelegated),
            // A delegated administrator reads the features but cannot turn them on.
            ("333333333333", FeaturesRead::Enabled(vec![])),
        ] {
            let d = diff_of(&features(caller, read));
            assert_eq!(d.changes.len(), 1);
            let c = &d.changes[0];
            assert_eq!(c.action, Action::Manual);
            assert!(c.ops.is_empty());
            let note = c.note.as_ref().unwrap();
            assert!(note.contains("management account 111111111111"), "{note}");
            assert!(note.contains(caller), "{note}");
        }
        let d = diff_of(&Observed::Unreachable("run from 111111111111".into()));
        assert_eq!(d.changes[0].action, Action::Manual);
    }
}
