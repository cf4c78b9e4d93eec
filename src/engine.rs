//! The engine: observe every managed control concurrently, diff (pure), and apply the changes in
//! order — re-checking before each control's writes that the account still is as shown, stopping
//! the ordinary writes at the first failure, verifying by observing again, and taking access away
//! only at the very end, once what that depends on (`depends_on`) is verified: a failure elsewhere
//! (a trail, one region's guardrail, a budget) is reported but does not keep root's keys in place.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;

use crate::aws::Aws;
use crate::change::{self, ControlId, Notice, Stage, Summary};
use crate::controls::{self, Change, Diff, DiffContext, Observation};
use crate::interact::{Interaction, Interrupt};
use crate::plan::Plan;

/// Progress of a run, as the engine reports it; only `ui` implements it.
pub trait Reporter: Send + Sync {
    /// A phase begins ("Observing the account", "Verifying").
    fn phase(&self, text: &str);
    /// A phase ended.
    fn phase_done(&self);
    /// A change starts being applied.
    fn change_started(&self, change: &Change);
    /// A change finished; `Err` carries the failure message.
    fn change_finished(&self, change: &Change, result: Result<(), &str>);
}

/// Reports nothing: for work whose progress is reported elsewhere (each account of an `--org` run
/// is one line of the fan-out's progress).
pub struct Silent;

impl Reporter for Silent {
    fn phase(&self, _text: &str) {}
    fn phase_done(&self) {}
    fn change_started(&self, _change: &Change) {}
    fn change_finished(&self, _change: &Change, _result: Result<(), &str>) {}
}

/// What a run found: the account, the plan (placeholders expanded) and the changes it implies.
#[derive(Clone, Debug)]
pub struct Assessment {
    pub plan: Plan,
    pub observed: Vec<Observation>,
    pub changes: Vec<Change>,
    pub notices: Vec<Notice>,
    /// Every check the diffs made, passed or failed (for reports that list passes too).
    pub checks: Vec<change::Check>,
    /// Controls the plan does not manage.
    pub unmanaged: Vec<ControlId>,
    pub interactive: bool,
}

impl Assessment {
    /// An assessment of nothing observed, with a diff's changes, notices and checks (for tests of
    /// the views).
    #[cfg(test)]
    pub fn of_diff(d: Diff) -> Assessment {
        Assessment {
            plan: crate::plan::parse("version = 1\nhome_region = \"us-east-1\"\n").unwrap(),
            observed: vec![],
            checks: d.checks(),
            changes: d.changes,
            notices: d.notices,
            unmanaged: vec![],
            interactive: false,
        }
    }

    /// For the report views' tests: EBS checked in us-east-1, eu-west-1 not checked at all (an
    /// error notice, as a region a missing permission refused).
    #[cfg(test)]
    pub fn sample_unchecked_region() -> Assessment {
        let mut d = Diff::default();
        d.checked_in(
            Some("us-east-1"),
            ControlId::EbsEncryption,
            "ebs default encryption",
            &[],
        );
        d.notice(crate::change::Notice::error(
            ControlId::EbsEncryption,
            "region eu-west-1 not checked: AccessDenied",
        ));
        Assessment::of_diff(d)
    }

    /// For the report views' tests: user bob's missing MFA, accepted until 2027-01-31.
    #[cfg(test)]
    pub fn sample_accepted() -> Assessment {
        let mut d = Diff::default();
        d.accepted(
            ControlId::IamUsers,
            "iam user \"bob\"",
            &["2.10"],
            crate::change::Accepted {
                finding: "mfa: console password without MFA".into(),
                reason: "break-glass".into(),
                until: "2027-01-31".into(),
            },
        );
        Assessment::of_diff(d)
    }

    /// The diff the report views' tests share: an admin group in line, a password policy that
    /// differs in one field.
    #[cfg(test)]
    pub fn sample_diff() -> Diff {
        use crate::change::Action;
        let mut d = Diff::default();
        d.checked(ControlId::AdminGroup, "iam group \"Admins\"", &["1.14"]);
        d.checked(
            ControlId::PasswordPolicy,
            "account password policy",
            &["1.7"],
        );
        d.push(
            Change::with_ops(
                ControlId::PasswordPolicy,
                "account password policy",
                Action::Update,
                vec![],
            )
            .field("minimum_length", Some("8"), Some("14")),
        );
        d
    }

    pub fn summary(&self) -> Summary {
        Summary::of(&self.changes)
    }
    /// The changes a failed check is about: what differs, for reports that list checks.
    pub fn changes_for<'a>(&'a self, check: &'a change::Check) -> impl Iterator<Item = &'a Change> {
        self.changes.iter().filter(|c| check.is_about(c))
    }
    pub fn pending(&self) -> bool {
        !self.changes.is_empty()
    }
    /// Something could not be checked (`NoticeLevel::Error`): the run exits 1 whatever else it did.
    pub fn has_errors(&self) -> bool {
        self.notices
            .iter()
            .any(|n| n.level == change::NoticeLevel::Error)
    }
    /// Some change is aws-harden's to make (not only manual actions): there is something to apply.
    pub fn applicable(&self) -> bool {
        self.changes.iter().any(|c| !c.is_manual())
    }
}

/// Observe every managed control at once (reads only; writes are refused while observing).
pub async fn observe_all(
    aws: &Aws,
    plan: &Plan,
    ids: &[ControlId],
) -> anyhow::Result<Vec<Observation>> {
    aws.calls.set_read_only(true);
    let results = join_all(ids.iter().map(|&id| controls::observe(id, aws, plan))).await;
    aws.calls.set_read_only(false);
    results.into_iter().collect()
}

/// Diff every observation: pure.
pub fn diff_all(ctx: &DiffContext, observed: &[Observation]) -> Diff {
    let mut all = Diff::default();
    for o in observed {
        all.extend(controls::diff(ctx, o));
    }
    // Stable: stage first, then control order, then the order the control produced.
    all.changes.sort_by_key(|c| (c.stage, c.control));
    all
}

/// Observe and diff.
pub async fn assess(
    aws: &Aws,
    plan: &Plan,
    interactive: bool,
    reporter: &dyn Reporter,
) -> anyhow::Result<Assessment> {
    assess_controls(aws, plan, controls::managed(plan), interactive, reporter).await
}

/// Observe and diff only `ids` (the management account's part in a control under `--org`).
pub async fn assess_controls(
    aws: &Aws,
    plan: &Plan,
    ids: Vec<ControlId>,
    interactive: bool,
    reporter: &dyn Reporter,
) -> anyhow::Result<Assessment> {
    reporter.phase("Observing the account");
    let observed = observe_all(aws, plan, &ids).await;
    reporter.phase_done();
    let observed = observed?;
    let ctx = DiffContext {
        plan,
        caller: &aws.caller,
        interactive,
        written: &[],
    };
    let d = diff_all(&ctx, &observed);
    Ok(Assessment {
        plan: plan.clone(),
        observed,
        checks: d.checks(),
        changes: d.changes,
        notices: d.notices,
        unmanaged: ControlId::ALL
            .into_iter()
            .filter(|id| !ids.contains(id))
            .collect(),
        interactive,
    })
}

/// How an apply ended.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ApplyReport {
    /// Changes that were applied successfully, in order.
    pub applied: Vec<Change>,
    /// Each change whose write (or re-check before it) failed, and why, in order. No ordinary
    /// change after the first was attempted; the stages that take access away still ran if it was
    /// not one of theirs (`depends_on`), and may have failed too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
    /// Changes not attempted (after a failure, a refusal or an interruption).
    pub not_attempted: Vec<Change>,
    /// Manual actions that remain for a person.
    pub manual: Vec<Change>,
    /// Changes that were applied but did not show when observed again.
    pub not_verified: Vec<Change>,
    /// Observing again after the writes failed (a read error): the changes made are unverified,
    /// not known to be wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_error: Option<String>,
    /// The account changed between the changes shown and the write: nothing more was written.
    pub stale: bool,
    /// Ctrl-C stopped the apply after the call in flight.
    pub interrupted: bool,
    /// Things to tell the person at the end (what changed for them, how to carry on).
    pub messages: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub change: Change,
    pub error: String,
}

impl ApplyReport {
    /// The first failure (what stopped the ordinary writes), if any.
    pub fn failed(&self) -> Option<&Failure> {
        self.failures.first()
    }
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty()
            && !self.stale
            && !self.interrupted
            && self.not_verified.is_empty()
            && self.verification_error.is_none()
    }
    pub fn summary(&self) -> Summary {
        Summary::of(&self.applied)
    }
}

/// The controls a stage that takes access away depends on: the admin path (the group with its
/// policy, the account's password policy the admin's password is made under, the admin user with
/// its password, its MFA). It must be applied and verified before the MFA guard locks the caller in
/// or root loses a key; no other control's failure holds those back.
pub fn depends_on(stage: Stage) -> &'static [ControlId] {
    match stage {
        Stage::Main => &[],
        Stage::LockIn | Stage::RootKeys | Stage::RootSelfKey => &[
            ControlId::AdminGroup,
            ControlId::PasswordPolicy,
            ControlId::AdminUser,
            ControlId::AdminMfa,
        ],
    }
}

fn applied_in(report: &ApplyReport, stage: Stage) -> bool {
    report.applied.iter().any(|c| c.stage == stage)
}

fn non_manual(changes: &[Change]) -> Vec<Change> {
    changes.iter().filter(|c| !c.is_manual()).cloned().collect()
}

/// Apply the assessed changes.
pub async fn apply(
    aws: &Aws,
    assessment: &Assessment,
    reporter: &dyn Reporter,
    io: &dyn Interaction,
    interrupt: &Interrupt,
) -> ApplyReport {
    let plan = &assessment.plan;
    let ctx = DiffContext {
        plan,
        caller: &aws.caller,
        interactive: assessment.interactive,
        written: &[],
    };
    let mut report = ApplyReport {
        manual: assessment
            .changes
            .iter()
            .filter(|c| c.is_manual())
            .cloned()
            .collect(),
        ..ApplyReport::default()
    };
    let todo = non_manual(&assessment.changes);
    // What is still to do, per control: the re-check compares a fresh diff with exactly this.
    let mut remaining: BTreeMap<ControlId, Vec<Change>> = BTreeMap::new();
    for c in &todo {
        remaining.entry(c.control).or_default().push(c.clone());
    }
    let mut checked: Option<(Stage, ControlId)> = None;
    let mut verified_main = false;
    // An ordinary write failed: no ordinary change after it is attempted.
    let mut ordinary_failed = false;

    for (i, change) in todo.iter().enumerate() {
        let stop =
            |report: &mut ApplyReport| report.not_attempted.extend(todo[i..].iter().cloned());
        if interrupt.is_set() {
            report.interrupted = true;
            stop(&mut report);
            return report;
        }
        if change.stage == Stage::Main && ordinary_failed {
            report.not_attempted.push(change.clone());
            continue;
        }
        // Before anything that takes access away: every earlier write verified, and what this
        // stage depends on in line. A failure or an unverified change elsewhere is reported (the
        // run exits 1) but holds nothing back.
        if change.stage > Stage::Main && !verified_main {
            verified_main = true;
            if let Err(e) = verify(
                aws,
                &ctx,
                &remaining,
                &mut report,
                reporter,
                Verify::Everything,
            )
            .await
            {
                report.verification_error = Some(format!("{e:#}"));
            }
            let needed = depends_on(change.stage);
            let holding: Vec<&str> = report
                .not_verified
                .iter()
                .map(|c| c.control)
                .chain(report.failures.iter().map(|f| f.change.control))
                .chain(
                    report
                        .not_attempted
                        .iter()
                        .filter(|c| c.stage == Stage::Main)
                        .map(|c| c.control),
                )
                .filter(|c| needed.contains(c))
                .map(|c| c.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if report.verification_error.is_some() || !holding.is_empty() {
                let why = match holding.is_empty() {
                    true => "the account could not be observed again".to_string(),
                    false => format!(
                        "{}: failed, not attempted or not in line when observed again",
                        holding.join(", ")
                    ),
                };
                report.messages.push(format!(
                    "Nothing that takes access away was attempted because earlier changes were not \
                     verified: the admin path must be in line first ({why})."
                ));
                stop(&mut report);
                return report;
            }
        }
        // Before a control's first write in a stage: is the account still as shown?
        if checked != Some((change.stage, change.control)) {
            checked = Some((change.stage, change.control));
            let expected = remaining.get(&change.control).cloned().unwrap_or_default();
            match recheck(aws, &ctx, change.control).await {
                Ok(fresh) if fresh == expected => {}
                Ok(_) => {
                    report.stale = true;
                    report.messages.push(format!(
                        "The account changed since the plan was shown ({}); nothing more was written. Run again.",
                        change.control.as_str()
                    ));
                    stop(&mut report);
                    return report;
                }
                Err(e) => {
                    report.failures.push(Failure {
                        change: change.clone(),
                        error: format!("re-checking before writing: {e:#}"),
                    });
                    if change.stage == Stage::Main {
                        ordinary_failed = true;
                        report.not_attempted.push(change.clone());
                        continue;
                    }
                    stop(&mut report);
                    return report;
                }
            }
        }
        reporter.change_started(change);
        match apply_ops(aws, change, io).await {
            Ok(()) => {
                reporter.change_finished(change, Ok(()));
                report.applied.push(change.clone());
                if let Some(list) = remaining.get_mut(&change.control)
                    && let Some(pos) = list.iter().position(|c| c == change)
                {
                    list.remove(pos);
                }
            }
            Err(e) => {
                let msg = format!("{e:#}");
                reporter.change_finished(change, Err(&msg));
                report.failures.push(Failure {
                    change: change.clone(),
                    error: msg,
                });
                if change.stage == Stage::Main {
                    ordinary_failed = true;
                    continue;
                }
                report.not_attempted.extend(todo[i + 1..].iter().cloned());
                return report;
            }
        }
    }
    if ordinary_failed && !verified_main {
        // A failed ordinary write and nothing that takes access away: the run ends at the failure
        // as it always did (no verification of a half-made apply; the next run observes it).
        return report;
    }
    if !verified_main {
        if let Err(e) = verify(
            aws,
            &ctx,
            &remaining,
            &mut report,
            reporter,
            Verify::Written,
        )
        .await
        {
            report.verification_error = Some(format!("{e:#}"));
        }
    } else if applied_in(&report, Stage::RootKeys)
        && !applied_in(&report, Stage::LockIn)
        && !applied_in(&report, Stage::RootSelfKey)
    {
        // Root signing with temporary credentials (CloudShell) deleted root's keys but not its own
        // credentials, so it can still look: the keys must be gone from ListAccessKeys and from
        // GetAccountSummary's AccountAccessKeysPresent.
        match verify(aws, &ctx, &remaining, &mut report, reporter, Verify::RootKeys).await {
            Err(e) => report.verification_error = Some(format!("{e:#}")),
            Ok(()) if report.not_verified.is_empty() => report.messages.push(
                "Verified: root has no access keys (ListAccessKeys lists none; GetAccountSummary reports \
                 AccountAccessKeysPresent = 0)."
                    .into(),
            ),
            Ok(()) => {}
        }
    }
    report
}

/// A change's ops, in order; the first failure stops it.
async fn apply_ops(aws: &Aws, change: &Change, io: &dyn Interaction) -> anyhow::Result<()> {
    for op in &change.ops {
        controls::apply(aws, op, io).await?;
    }
    Ok(())
}

async fn recheck(aws: &Aws, ctx: &DiffContext<'_>, id: ControlId) -> anyhow::Result<Vec<Change>> {
    let observed = observe_all(aws, ctx.plan, &[id]).await?;
    Ok(non_manual(&diff_all(ctx, &observed).changes))
}

/// What a verification observes again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verify {
    /// The controls that were changed: every applied change must be gone.
    Written,
    /// Before anything that takes access away, every managed control, changed or not: the admin
    /// group and user must be in line before root loses its keys.
    Everything,
    /// After root's keys were deleted by a caller whose credentials still work: the controls
    /// written in that stage. Anything newly pending there (a manual action too) is unverified.
    RootKeys,
}

/// Observe controls again (see `Verify`) and record what did not take effect.
async fn verify(
    aws: &Aws,
    ctx: &DiffContext<'_>,
    remaining: &BTreeMap<ControlId, Vec<Change>>,
    report: &mut ApplyReport,
    reporter: &dyn Reporter,
    check: Verify,
) -> anyhow::Result<()> {
    let mut ids: Vec<ControlId> = match check {
        Verify::Everything => controls::managed(ctx.plan),
        Verify::Written => report.applied.iter().map(|c| c.control).collect(),
        Verify::RootKeys => report
            .applied
            .iter()
            .filter(|c| c.stage == Stage::RootKeys)
            .map(|c| c.control)
            .collect(),
    };
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let written: Vec<ControlId> = report.applied.iter().map(|c| c.control).collect();
    let ctx = &DiffContext {
        written: &written,
        ..ctx.clone()
    };
    reporter.phase("Verifying");
    // IAM is eventually consistent: a read right after a write may not show it yet. Look again
    // with backoff, for at most CONSISTENCY_WAIT, before calling a change unverified.
    let deadline = tokio::time::Instant::now() + crate::aws::CONSISTENCY_WAIT;
    let mut delay = std::time::Duration::from_millis(250);
    let (unverified, new_manual) = loop {
        let observed = match observe_all(aws, ctx.plan, &ids).await {
            Ok(o) => o,
            Err(e) => {
                reporter.phase_done();
                return Err(e);
            }
        };
        let fresh = diff_all(ctx, &observed).changes;
        let unverified: Vec<Change> = non_manual(&fresh)
            .into_iter()
            .filter(|c| !remaining.get(&c.control).is_some_and(|r| r.contains(c)))
            .collect();
        // A manual action that was not pending before the writes (the MFA guard failing IAM's
        // simulator, say) is news the person must get, not something to stay quiet about.
        let new_manual: Vec<Change> = fresh
            .into_iter()
            .filter(|c| c.is_manual())
            .filter(|c| {
                !report
                    .manual
                    .iter()
                    .any(|m| m.control == c.control && m.located() == c.located())
            })
            .collect();
        let settled = unverified.is_empty() && new_manual.is_empty();
        if settled || tokio::time::Instant::now() + delay >= deadline {
            break (unverified, new_manual);
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    };
    reporter.phase_done();
    report.not_verified.extend(unverified);
    if check == Verify::RootKeys {
        report.not_verified.extend(new_manual);
    } else {
        report.manual.extend(new_manual);
    }
    Ok(())
}
