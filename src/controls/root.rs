//! The root user (CIS 1.3 no root access keys, 1.4 root MFA, 1.5 hardware MFA, 1.6 avoid root use).
//!
//! Live reads decide: `GetAccountSummary` (keys present, MFA enabled, password present) and, when the
//! caller is root, `ListAccessKeys` without a user name (root's own keys). The credential report is
//! only history (when root was last used): it can be four hours old, so it never decides anything.
//!
//! What the tool can do depends on who calls. Only root can delete root's keys: then the keys go
//! last, the one this run signs with as the very last write of all. Anyone else gets manual steps.
//! Root MFA has no API at all: always a manual action, which an interactive run can wait for.

use aws_sdk_iam::types::{AssignmentStatusType, SummaryKeyType};

use crate::aws::central_root::CentralRoot;
use crate::aws::{Aws, SdkResultExt};
use crate::change::{Action, Change, ControlId, Diff, Notice, Stage};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::named("root");

/// The root user: no access keys, MFA on.
pub struct Root;

impl Control for Root {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "Root user";
    const CIS: &'static [&'static str] = &["1.3", "1.4", "1.5", "1.6"];
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.root().is_some()
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
/// The resource name of the root MFA manual action (also how an interactive run finds it).
pub const ROOT_MFA_RESOURCE: &str = "mfa for the root user";

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// `AccountAccessKeysPresent`; `None` when the summary did not say (unknown, never "no").
    pub access_keys_present: Option<bool>,
    /// `AccountMFAEnabled`; `None` when the summary did not say.
    pub mfa_enabled: Option<bool>,
    /// `AccountPasswordPresent`: without a password root cannot sign in to the console. `None` when
    /// the summary did not say: then root may have a password, and may have none.
    pub password_present: Option<bool>,
    /// Root's access key IDs, read only when the caller is root (nobody else can list them).
    pub root_keys: Option<Vec<String>>,
    /// Root has a virtual (not hardware) MFA device assigned.
    pub virtual_mfa: bool,
    /// From the credential report; `None` when no report could be read.
    pub history: Option<RootHistory>,
    /// A member under `--org` whose root credentials the `root_credentials` control removes
    /// through AssumeRoot (`[root] centralized = true`): nothing is read here, nothing is manual.
    pub centrally_managed: bool,
}

/// When root was last used, from the credential report's `<root_account>` row.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RootHistory {
    pub password_last_used: Option<String>,
    pub access_key_last_used: Vec<String>,
    /// When the report was generated (it lags up to four hours).
    pub generated: Option<String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Delete one of root's access keys (only works when signed in as root).
    DeleteAccessKey {
        key_id: String,
        /// The key this run signs with: nothing works after it.
        own: bool,
    },
}

/// `GetAccountSummary`: the live truth about root's keys, MFA and password.
async fn account_summary(
    aws: &Aws,
) -> anyhow::Result<std::collections::HashMap<SummaryKeyType, i32>> {
    let summary = aws
        .iam
        .get_account_summary()
        .send()
        .await
        .describe("reading the account summary (GetAccountSummary)")?;
    Ok(summary.summary_map.unwrap_or_default())
}

pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    if plan.root().is_none() {
        return Ok(Observed::default());
    }
    // A member context exists only under `--org` with `[root] centralized = true`.
    if matches!(aws.central_root.as_deref(), Some(CentralRoot::Member(_))) {
        return Ok(Observed {
            centrally_managed: true,
            ..Observed::default()
        });
    }
    // All at once: none of these waits for another (one round trip, not four).
    let root_keys = async {
        if !aws.caller.is_root() {
            return Ok(None);
        }
        // Without a user name, ListAccessKeys lists the keys of the caller: root.
        let keys = aws
            .iam
            .list_access_keys()
            .send()
            .await
            .describe("listing the root user's access keys")?;
        let mut ids: Vec<String> = keys
            .access_key_metadata
            .into_iter()
            .filter_map(|k| k.access_key_id)
            .collect();
        ids.sort();
        Ok::<_, anyhow::Error>(Some(ids))
    };
    // Best effort, for the CIS 1.5 notice only; read whatever the summary says about MFA.
    let virtual_mfa = async { root_has_virtual_mfa(aws).await.unwrap_or(false) };
    let (summary, root_keys, virtual_mfa, history) = tokio::join!(
        account_summary(aws),
        root_keys,
        virtual_mfa,
        credential_report_history(aws)
    );
    let summary = summary?;
    let flag = |k: SummaryKeyType| summary.get(&k).map(|v| *v > 0);
    let mfa_enabled = flag(SummaryKeyType::AccountMfaEnabled);
    Ok(Observed {
        access_keys_present: flag(SummaryKeyType::AccountAccessKeysPresent),
        mfa_enabled,
        password_present: flag(SummaryKeyType::AccountPasswordPresent),
        root_keys: root_keys?,
        virtual_mfa: mfa_enabled == Some(true) && virtual_mfa,
        history,
        centrally_managed: false,
    })
}

/// Root's virtual MFA device shows in `ListVirtualMFADevices` assigned to the root ARN; a hardware
/// device does not. Best effort: it only feeds an information notice (CIS 1.5).
async fn root_has_virtual_mfa(aws: &Aws) -> anyhow::Result<bool> {
    let devices = aws
        .iam
        .list_virtual_mfa_devices()
        .assignment_status(AssignmentStatusType::Assigned)
        // Paginated: root's device may be on any page.
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .describe("listing virtual MFA devices")?;
    Ok(devices
        .iter()
        .filter_map(|d| d.user.as_ref())
        .any(|u| u.arn.ends_with(":root")))
}

/// History only, never a decision: any problem reading the report just means no history. The
/// report is the run's one (`Aws::credential_report`, shared with `iam_users`).
async fn credential_report_history(aws: &Aws) -> Option<RootHistory> {
    let report = aws.credential_report().await.ok()?;
    let mut history = root_history(&report.rows)?;
    history.generated = report
        .generated
        .map(|t| aws_smithy_types::DateTime::from_secs(t as i64).to_string());
    Some(history)
}

/// The `<root_account>` row of a credential report (CSV, header first).
pub fn parse_root_history(csv_bytes: &[u8]) -> Option<RootHistory> {
    root_history(&crate::aws::credential_report::parse(csv_bytes).ok()?)
}

/// The `<root_account>` row among a report's rows.
fn root_history(rows: &[std::collections::BTreeMap<String, String>]) -> Option<RootHistory> {
    let root = rows
        .iter()
        .find(|r| r.get("user").map(String::as_str) == Some("<root_account>"))?;
    // "N/A", "no_information", "not_supported": the report's ways of saying "never / unknown".
    let when = |column: &str| {
        let v = root.get(column)?.trim();
        v.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
            .then(|| v.to_string())
    };
    Some(RootHistory {
        password_last_used: when("password_last_used"),
        access_key_last_used: ["access_key_1_last_used_date", "access_key_2_last_used_date"]
            .iter()
            .filter_map(|c| when(c))
            .collect(),
        generated: None,
    })
}

const DELETE_KEYS_STEPS: &str = "Only the root user can delete root's access keys. Sign in to the console as the root user \
(https://console.aws.amazon.com/, \"Root user\"), open the account menu > Security credentials, and under \"Access \
keys\" choose Actions > Delete for each key (deactivate it first if you want to check nothing breaks). Or run \
aws-harden as root in AWS CloudShell (open it from the console while signed in as root): it deletes root's keys \
itself, with no key of its own.";

const ROOT_MFA_STEPS: &str = "AWS has no API for this. Sign in to the console as the root user, open the account menu > \
Security credentials, and under \"Multi-factor authentication (MFA)\" choose \"Assign MFA device\" (a passkey or \
security key is best, an authenticator app works). Then re-run aws-harden.";

/// Root's access keys as a manual action (CIS 1.3): what the account says now, and what it must say.
fn root_keys_pending(before: &str, after: &str) -> Change<Op> {
    Change::manual(CONTROL, "root access keys")
        .field("access keys present", Some(before), Some(after))
        .cis(&["1.3"])
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.root() else {
        return d;
    };
    if observed.centrally_managed {
        d.notice(Notice::info(
            CONTROL,
            "This member's root credentials are removed centrally (root_credentials, through sts:AssumeRoot): \
             without a password root cannot sign in, which meets CIS 1.4, and the console steps do not apply.",
        ));
        return d;
    }
    let caller = ctx.caller;
    if plan.delete_access_keys {
        d.checked(CONTROL, "root access keys", &["1.3"]);
    }
    if plan.require_mfa {
        d.checked(CONTROL, ROOT_MFA_RESOURCE, &["1.4", "1.5"]);
    }
    if plan.delete_access_keys {
        match &observed.root_keys {
            Some(keys) if caller.is_root() => {
                // The list and the account summary must agree that root has no key: after
                // deleting them the run checks both (an unknown summary is not "none").
                if keys.is_empty() && observed.access_keys_present != Some(false) {
                    let said = match observed.access_keys_present {
                        Some(_) => "1",
                        None => "nothing",
                    };
                    d.push(root_keys_pending(said, "0").note(format!(
                            "ListAccessKeys lists no root access key, but GetAccountSummary's \
                             AccountAccessKeysPresent says {said}. Right after a deletion AWS may take a moment \
                             to catch up: run again. If it stays, check root user > Security credentials in \
                             the console."
                        )),
                    );
                }
                let own = caller.access_key_id.as_deref();
                // Other keys first, then the one this run signs with as the last write of all.
                let mut ordered: Vec<(&String, bool)> =
                    keys.iter().map(|k| (k, Some(k.as_str()) == own)).collect();
                ordered.sort_by_key(|(_, is_own)| *is_own);
                // Root without a console password and no admin user in the plan: the key this run
                // signs with may be the only way into the account. Never take it away here.
                // An unknown password counts as "may have none".
                let only_way_in =
                    observed.password_present != Some(true) && ctx.plan.admin_user().is_none();
                for (key, is_own) in ordered {
                    if is_own && only_way_in {
                        d.push(
                            Change::manual(CONTROL, format!("root access key \"{key}\""))
                            .field("access key", Some(key), None::<String>)
                            .cis(&["1.3"])
                            .note(
                                "Not deleted: root has no console password and this plan manages no admin user, so \
                                 this key may be your only way into the account. Add an [admin_user] (or another \
                                 administrator) and run again, or delete the key yourself once you have one.",
                            ),
                        );
                        continue;
                    }
                    let mut change = Change::new(
                        CONTROL,
                        format!("root access key \"{key}\""),
                        Action::Delete,
                        Op::DeleteAccessKey {
                            key_id: key.clone(),
                            own: is_own,
                        },
                    )
                    .field("access key", Some(key), None::<String>)
                    .cis(&["1.3"]);
                    change = if is_own {
                        change.stage(Stage::RootSelfKey).note(
                            "This run signs with this key: it is deleted as the very last write, only if everything \
                             before succeeded and was verified. It cannot be checked afterwards, and these credentials \
                             stop working.",
                        )
                    } else {
                        change.stage(Stage::RootKeys)
                    };
                    d.push(change);
                }
            }
            _ if observed.access_keys_present != Some(false) => {
                let before = if observed.access_keys_present.is_some() {
                    "yes"
                } else {
                    "unknown (the account summary did not say)"
                };
                d.push(root_keys_pending(before, "no").note(format!(
                    "You run this as {}; {DELETE_KEYS_STEPS}",
                    caller.describe()
                )));
            }
            _ => {}
        }
    }
    let deletes_keys = d.changes.iter().any(|c| c.action == Action::Delete);
    if deletes_keys && ctx.plan.admin_user().is_none() {
        d.notice(Notice::warning(
            CONTROL,
            "This plan manages no admin user: once root's access keys are gone, make sure you still have a way \
             in (an IAM user or role with administrator access, or root's console password).",
        ));
    }
    if plan.require_mfa {
        if observed.mfa_enabled == Some(true) {
            if observed.virtual_mfa {
                d.notice(
                    Notice::info(
                        CONTROL,
                        "Root uses a virtual MFA device; CIS 1.5 (Level 2) asks for a hardware device (security key) on root.",
                    )
                    .cis(&["1.5"]),
                );
            }
        } else if observed.password_present == Some(false) {
            d.notice(
                Notice::info(
                    CONTROL,
                    "Root has no MFA but also no password (as with centralized root access): it cannot sign in to the \
                     console, which meets CIS 1.4.",
                )
                .cis(&["1.4"]),
            );
        } else {
            d.push(
                Change::manual(CONTROL, ROOT_MFA_RESOURCE)
                .field(
                    "mfa enabled",
                    Some(match observed.mfa_enabled {
                        Some(_) => "no",
                        None => "unknown",
                    }),
                    Some("yes"),
                )
                .cis(&["1.4", "1.5"])
                .note(if observed.mfa_enabled.is_none() || observed.password_present.is_none() {
                    format!(
                        "GetAccountSummary did not report {}, so aws-harden cannot confirm that root has MFA or \
                         cannot sign in; unknown is never compliant. {ROOT_MFA_STEPS}",
                        [
                            observed.mfa_enabled.is_none().then_some("AccountMFAEnabled"),
                            observed.password_present.is_none().then_some("AccountPasswordPresent"),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" or ")
                    )
                } else {
                    ROOT_MFA_STEPS.to_string()
                }),
            );
        }
    }
    if caller.is_root() && caller.temporary {
        d.notice(Notice::info(
            CONTROL,
            "Root signs with temporary credentials (as in CloudShell), not with an access key: the safest way to \
             do step 1, the one run as root. No root key is needed, and any that exist are deleted last.",
        ));
    }
    if caller.is_root() {
        d.notice(
            Notice::warning(
                CONTROL,
                "You are running this as the root user. CIS 1.6: use root only for the few tasks that need it; \
                 afterwards work as the admin user.",
            )
            .cis(&["1.6"]),
        );
    }
    if let Some(h) = &observed.history {
        let used = match (&h.password_last_used, h.access_key_last_used.iter().max()) {
            (None, None) => "never (per the credential report)".to_string(),
            (p, k) => [
                p.as_ref().map(|p| format!("console {p}")),
                k.map(|k| format!("access key {k}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        };
        let generated = h
            .generated
            .as_ref()
            .map(|g| format!(" (report of {g}; it lags up to 4 hours)"))
            .unwrap_or_default();
        d.notice(
            Notice::info(CONTROL, format!("Root last used: {used}{generated}.")).cis(&["1.6"]),
        );
    }
    d
}

pub async fn apply(aws: &Aws, op: &Op, io: &dyn Interaction) -> anyhow::Result<()> {
    match op {
        Op::DeleteAccessKey { key_id, own } => {
            if io.is_interactive() {
                let question = if *own {
                    format!(
                        "Delete root access key {key_id}? This run signs with it: afterwards these credentials no longer work."
                    )
                } else {
                    format!("Delete root access key {key_id}?")
                };
                if !io.confirm(&question, false)? {
                    anyhow::bail!("you declined: root access key {key_id} was kept");
                }
            }
            aws.iam
                .delete_access_key()
                .access_key_id(key_id)
                .send()
                .await
                .describe(format!("deleting root access key {key_id}"))?;
            if *own {
                io.message(&format!(
                    "Root access key {key_id} is deleted: the credentials this run used no longer work (this cannot \
                     be verified with them). Carry on as the admin user: sign in to the console with its password, \
                     set up its MFA, and re-run aws-harden with the admin's profile and an MFA code."
                ));
            }
        }
    }
    Ok(())
}
/// Whether root can no longer sign in without MFA: MFA is on, or root has no password.
pub async fn root_mfa_enabled(aws: &Aws) -> anyhow::Result<bool> {
    let summary = account_summary(aws).await?;
    let flag = |k| summary.get(&k).copied();
    Ok(
        flag(SummaryKeyType::AccountMfaEnabled).is_some_and(|v| v > 0)
            || flag(SummaryKeyType::AccountPasswordPresent) == Some(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Caller;
    use crate::plan::parse;

    fn plan() -> Plan {
        parse("version = 1\nhome_region = \"us-east-1\"\n[root]\n").unwrap()
    }

    fn root(key: &str) -> Caller {
        Caller::from_arn(
            "123456789012",
            "arn:aws:iam::123456789012:root",
            Some(key.into()),
            false,
        )
    }

    fn user() -> Caller {
        Caller::from_arn(
            "123456789012",
            "arn:aws:iam::123456789012:user/admin",
            Some("AKIAUSER".into()),
            false,
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

    fn with_keys(keys: Option<Vec<&str>>) -> Observed {
        Observed {
            access_keys_present: Some(true),
            mfa_enabled: Some(true),
            password_present: Some(true),
            root_keys: keys.map(|k| k.into_iter().map(String::from).collect()),
            ..Observed::default()
        }
    }

    #[test]
    fn root_caller_deletes_other_keys_then_its_own_last() {
        let p = plan();
        let c = root("AKIAOWN");
        let d = diff(&ctx(&p, &c), &with_keys(Some(vec!["AKIAOWN", "AKIAOTHER"])));
        let got: Vec<_> = d
            .changes
            .iter()
            .map(|c| (c.resource.as_str(), c.action, c.stage))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "root access key \"AKIAOTHER\"",
                    Action::Delete,
                    Stage::RootKeys
                ),
                (
                    "root access key \"AKIAOWN\"",
                    Action::Delete,
                    Stage::RootSelfKey
                ),
            ]
        );
        assert!(
            d.notices
                .iter()
                .any(|n| n.message.contains("no admin user"))
        );
        assert_eq!(
            d.changes[1].ops,
            [Op::DeleteAccessKey {
                key_id: "AKIAOWN".into(),
                own: true
            }]
        );
    }

    #[test]
    fn the_own_key_is_never_deleted_when_it_may_be_the_only_way_in() {
        let p = plan();
        let c = root("AKIAOWN");
        let mut o = with_keys(Some(vec!["AKIAOWN", "AKIAOTHER"]));
        o.password_present = Some(false);
        let d = diff(&ctx(&p, &c), &o);
        let own = d
            .changes
            .iter()
            .find(|c| c.resource.contains("AKIAOWN"))
            .unwrap();
        assert_eq!(own.action, Action::Manual);
        assert!(own.ops.is_empty());
        assert!(
            own.note
                .as_ref()
                .unwrap()
                .contains("only way into the account")
        );
        // Other keys still go; with a password (console access) the own key goes too.
        assert!(
            d.changes
                .iter()
                .any(|c| c.resource.contains("AKIAOTHER") && c.action == Action::Delete)
        );
        o.password_present = Some(true);
        let d = diff(&ctx(&p, &c), &o);
        assert!(d.changes.iter().all(|c| c.action == Action::Delete));
    }

    /// The exception is only for a plan with no admin user: with one planned (built and verified
    /// before any root key goes), root without a password loses its own key too.
    #[test]
    fn with_an_admin_user_planned_the_own_key_goes_even_without_a_root_password() {
        let p = parse("version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nmfa = false\n[root]\n")
            .unwrap();
        let c = root("AKIAOWN");
        for password in [Some(false), None] {
            let mut o = with_keys(Some(vec!["AKIAOWN", "AKIAOTHER"]));
            o.password_present = password;
            let d = diff(&ctx(&p, &c), &o);
            let own = d
                .changes
                .iter()
                .find(|c| c.resource.contains("AKIAOWN"))
                .unwrap();
            assert_eq!(own.action, Action::Delete, "{password:?}");
        }
    }

    #[test]
    fn no_root_keys_means_nothing_to_do() {
        let p = plan();
        let c = root("AKIAOWN");
        let mut o = with_keys(Some(vec![]));
        o.access_keys_present = Some(false);
        assert!(diff(&ctx(&p, &c), &o).changes.is_empty());
        let u = user();
        assert!(diff(&ctx(&p, &u), &o).changes.is_empty());
    }

    /// Root's list is empty but the account summary still counts a key (or says nothing): not
    /// "none" until both agree, so the check after deleting them cannot pass on the list alone.
    #[test]
    fn an_empty_list_needs_the_summary_to_agree() {
        let p = plan();
        let c = root("ASIATEMP");
        for (present, said) in [(Some(true), "1"), (None, "nothing")] {
            let mut o = with_keys(Some(vec![]));
            o.access_keys_present = present;
            let d = diff(&ctx(&p, &c), &o);
            assert_eq!(d.changes.len(), 1, "{present:?}");
            let change = &d.changes[0];
            assert_eq!(change.action, Action::Manual);
            assert_eq!(change.resource, "root access keys");
            assert!(
                change
                    .note
                    .as_ref()
                    .unwrap()
                    .contains(&format!("AccountAccessKeysPresent says {said}")),
                "{change:?}"
            );
        }
    }

    #[test]
    fn non_root_caller_gets_console_steps() {
        let p = plan();
        for caller in [
            user(),
            Caller::from_arn(
                "123456789012",
                "arn:aws:sts::123456789012:assumed-role/Admin/s",
                None,
                true,
            ),
        ] {
            let d = diff(&ctx(&p, &caller), &with_keys(None));
            assert_eq!(d.changes.len(), 1, "{caller:?}");
            let c = &d.changes[0];
            assert_eq!(c.action, Action::Manual);
            assert!(c.ops.is_empty());
            assert!(c.note.as_ref().unwrap().contains("Security credentials"));
        }
    }

    #[test]
    fn root_mfa_stays_pending_when_the_summary_is_silent() {
        let p = plan();
        let u = user();
        // No AccountPasswordPresent: not "no password", so not "CIS 1.4 met".
        let o = Observed {
            mfa_enabled: Some(false),
            access_keys_present: Some(false),
            ..Observed::default()
        };
        let d = diff(&ctx(&p, &u), &o);
        assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
        assert_eq!(d.changes[0].resource, ROOT_MFA_RESOURCE);
        assert!(
            d.changes[0]
                .note
                .as_ref()
                .unwrap()
                .contains("AccountPasswordPresent")
        );
        assert!(d.notices.iter().all(|n| !n.message.contains("no password")));
        // No AccountMFAEnabled either: unknown, never compliant.
        let silent = Observed {
            access_keys_present: Some(false),
            ..Observed::default()
        };
        let d = diff(&ctx(&p, &u), &silent);
        assert_eq!(d.changes[0].fields[0].before.as_deref(), Some("unknown"));
        // No AccountAccessKeysPresent: root's keys are a pending manual action, not "none".
        let keys_unknown = Observed {
            mfa_enabled: Some(true),
            password_present: Some(true),
            ..Observed::default()
        };
        let d = diff(&ctx(&p, &u), &keys_unknown);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].resource, "root access keys");
    }

    #[test]
    fn an_unknown_password_keeps_the_key_that_may_be_the_only_way_in() {
        let p = plan();
        let c = root("AKIAOWN");
        let mut o = with_keys(Some(vec!["AKIAOWN"]));
        o.password_present = None;
        let d = diff(&ctx(&p, &c), &o);
        let own = d
            .changes
            .iter()
            .find(|c| c.resource.contains("AKIAOWN"))
            .unwrap();
        assert_eq!(own.action, Action::Manual);
    }

    #[test]
    fn root_mfa_manual_until_enabled_or_no_password() {
        let p = plan();
        let u = user();
        let mut o = Observed {
            password_present: Some(true),
            access_keys_present: Some(false),
            ..Observed::default()
        };
        let d = diff(&ctx(&p, &u), &o);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].resource, ROOT_MFA_RESOURCE);
        assert_eq!(d.changes[0].action, Action::Manual);
        o.mfa_enabled = Some(true);
        assert!(diff(&ctx(&p, &u), &o).changes.is_empty());
        o.mfa_enabled = Some(false);
        o.password_present = Some(false);
        let d = diff(&ctx(&p, &u), &o);
        assert!(d.changes.is_empty());
        assert!(d.notices.iter().any(|n| n.message.contains("no password")));
    }

    #[test]
    fn disabled_settings_change_nothing() {
        let p = parse(
            "version = 1\nhome_region = \"us-east-1\"\n[root]\ndelete_access_keys = false\nrequire_mfa = false\n",
        )
        .unwrap();
        let c = root("AKIAOWN");
        let mut o = with_keys(Some(vec!["AKIAOWN"]));
        o.mfa_enabled = Some(false);
        assert!(diff(&ctx(&p, &c), &o).changes.is_empty());
    }

    /// The credential report as IAM delivers it (header and column order of the real format).
    pub const REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::123456789012:root,2024-01-02T10:00:00+00:00,not_supported,2026-11-20T08:15:00+00:00,not_supported,not_supported,false,true,2024-01-02T10:05:00+00:00,2026-11-28T22:01:00+00:00,us-east-1,iam,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
admin,arn:aws:iam::123456789012:user/admin,2026-11-28T22:00:00+00:00,true,no_information,2026-11-28T22:00:00+00:00,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

    #[test]
    fn credential_report_root_row_is_history_only() {
        let h = parse_root_history(REPORT.as_bytes()).unwrap();
        assert_eq!(
            h.password_last_used.as_deref(),
            Some("2026-11-20T08:15:00+00:00")
        );
        assert_eq!(h.access_key_last_used, vec!["2026-11-28T22:01:00+00:00"]);
        // A report without a root row (moto's) gives no history rather than an error.
        let no_root = REPORT.lines().take(1).collect::<Vec<_>>().join("\n");
        assert_eq!(parse_root_history(no_root.as_bytes()), None);
        // History never turns into a change: the same observation with and without it.
        let p = plan();
        let u = user();
        let mut o = with_keys(None);
        o.access_keys_present = Some(false);
        let without = diff(&ctx(&p, &u), &o);
        o.history = Some(h);
        let with = diff(&ctx(&p, &u), &o);
        assert_eq!(with.changes, without.changes);
        assert!(
            with.notices
                .iter()
                .any(|n| n.message.contains("2026-11-28T22:01:00"))
        );
    }
}
