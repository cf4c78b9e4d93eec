//! `--org`: the plan in every selected account of the Organization. Observe them all (N at once,
//! each through its role), show every account's changes and the totals, ask once, apply them all
//! (N at once), and show each account's result. An account's failure stays in that account.

use std::sync::Arc;

use super::{Outcome, Session, assess_account, placeholders};
use crate::aws::central_root::{CentralRoot, FeaturesGate, MemberRoot, Reach};
use crate::aws::{Aws, CallLog};
use crate::change::ControlId;
use crate::engine::{self, Silent};
use crate::interact::Interaction;
use crate::org::{self, Assessed, Finished, MemberAccount, MemberRun, targets};
use crate::plan::{self, LoadedPlan};
use crate::settings::Mode;
use crate::ui::org::{OrgFacts, OrgProgress};
use crate::ui::terminal::Terminal;

impl Session {
    pub(super) async fn run_org(
        &self,
        management: &Aws,
        loaded: &LoadedPlan,
    ) -> anyhow::Result<Outcome> {
        let org = self.settings.org.as_ref().expect("--org settings");
        let centralized = loaded.plan.root().is_some_and(|r| r.centralized);
        if centralized && management.caller.is_root() {
            // AssumeRoot (STS API reference): "You cannot use root user credentials to make this call."
            anyhow::bail!(
                "{}: [root] centralized = true needs sts:AssumeRoot, which the root user cannot call (STS API \
                 reference, AssumeRoot), and you run this as the root user of account {}. Run --org as an IAM \
                 user or role of the management account that is allowed sts:AssumeRoot. Nothing was changed.",
                loaded.path.display(),
                management.account_id()
            );
        }
        let (management_id, listed) = self
            .ctrl_c
            .or_interrupted(targets::list(management, org.selection.ou.as_deref()))
            .await?;
        let accounts =
            targets::choose(listed, &management_id, &org.selection).map_err(anyhow::Error::msg)?;
        if accounts.is_empty() {
            anyhow::bail!(
                "--org: no account selected (the Organization's ACTIVE accounts, less the management \
                 account unless --include-management, narrowed by --ou, --accounts, --exclude and \
                 --shard); nothing was changed"
            );
        }
        let progress = OrgProgress::new(self.settings.caps.stderr_tty);
        let management_id = management_id.as_str();
        // Centralized root access: the management account's features first, since how each
        // member's root is reached depends on them. Its changes, if any, are an account block of
        // their own, shown first and applied before any member's.
        let (prerequisites, central) = match centralized {
            true => {
                let (block, reach) = self
                    .ctrl_c
                    .or_interrupted(async {
                        Ok(self
                            .assess_central_root(management, management_id, loaded)
                            .await)
                    })
                    .await?;
                let gate = FeaturesGate::new(reach == Reach::Ready);
                (block, Some((reach, gate)))
            }
            false => (None, None),
        };
        let central = central.as_ref();
        let observe = |_: usize, account: MemberAccount| async move {
            let result = self
                .assess_member(management, management_id, &account, loaded, central)
                .await
                .map_err(|e| format!("{e:#}"));
            MemberRun { account, result }
        };
        let mut members = self
            .ctrl_c
            .or_interrupted(async {
                Ok(org::for_each_account(
                    &accounts,
                    org.jobs,
                    "Observing",
                    &progress,
                    observe,
                    |m: &MemberRun| (m.finished(), status_line(m)),
                )
                .await)
            })
            .await?;
        // The management account's block (when it has something to show) goes first.
        let first_member = usize::from(prerequisites.is_some());
        members.splice(0..0, prerequisites);
        let plan_file = loaded.path.display().to_string();
        let facts = |seconds| OrgFacts {
            management,
            plan_file: &plan_file,
            plan_text: &loaded.text,
            seconds,
            stats: self.settings.stats,
        };
        org.view.assessed(&facts(self.elapsed()), &members);
        let failed = members.iter().any(|m| m.finished() == Finished::Failed);
        let pending = members.iter().any(|m| m.finished() != Finished::InLine);
        let applicable = members
            .iter()
            .any(|m| m.result.as_ref().is_ok_and(|a| a.assessment.applicable()));
        if self.settings.mode == Mode::DryRun || !applicable {
            org.view
                .finished(&facts(self.elapsed()), &members, "plan")?;
            return Ok(if failed {
                Outcome::Failed
            } else if pending && self.settings.mode == Mode::DryRun {
                Outcome::Pending
            } else {
                Outcome::Success
            });
        }
        // One confirmation for every account, after all of them were shown.
        let terminal = self.terminal()?;
        let accounts_with_changes = members
            .iter()
            .filter(|m| matches!(m.finished(), Finished::Changes(_)))
            .count();
        if self.settings.mode == Mode::ApplyAsking
            && !terminal.confirm(
                &format!("Apply these changes to {accounts_with_changes} accounts?"),
                false,
            )?
        {
            eprintln!("Nothing was changed.");
            return Ok(if failed {
                Outcome::Failed
            } else {
                Outcome::Success
            });
        }
        // Every account's apply runs unattended: the one question was asked above.
        let unattended = Terminal {
            assume_yes: true,
            ..terminal
        };
        let on_ctrl_c = {
            let ctrl_c = self.ctrl_c.clone();
            tokio::spawn(async move {
                ctrl_c.pressed().await;
                eprintln!("\nInterrupted: every account stops after its call in flight.");
            })
        };
        // The management account's changes first: no AssumeRoot before the features are on.
        if first_member == 1
            && let Ok(a) = &mut members[0].result
            && a.assessment.applicable()
        {
            let report = engine::apply(
                &a.aws,
                &a.assessment,
                &Silent,
                &unattended,
                self.ctrl_c.interrupt(),
            )
            .await;
            if report.succeeded()
                && let Some((_, gate)) = central
            {
                gate.open();
            }
            a.report = Some(report);
        }
        let to_apply: Vec<MemberAccount> = members[first_member..]
            .iter()
            .map(|m| m.account.clone())
            .collect();
        let reports = {
            let members = &members;
            let unattended = &unattended;
            org::for_each_account(
                &to_apply,
                org.jobs,
                "Applying",
                &progress,
                |i, _account| async move {
                    match &members[first_member + i].result {
                        Ok(a) if a.assessment.applicable() => Some(
                            engine::apply(
                                &a.aws,
                                &a.assessment,
                                &Silent,
                                unattended,
                                self.ctrl_c.interrupt(),
                            )
                            .await,
                        ),
                        _ => None,
                    }
                },
                |r: &Option<engine::ApplyReport>| match r {
                    None => (Finished::InLine, "nothing to apply".to_string()),
                    Some(r) if !r.succeeded() => (
                        Finished::Failed,
                        format!(
                            "failed: {}{}",
                            r.failed()
                                .map_or_else(|| "not verified".to_string(), |f| f.error.clone()),
                            match r.failures.len() {
                                0 | 1 => String::new(),
                                n => format!(" (and {} more)", n - 1),
                            }
                        ),
                    ),
                    Some(r) => (
                        Finished::Changes(r.applied.len()),
                        format!("{} applied", r.applied.len()),
                    ),
                },
            )
            .await
        };
        on_ctrl_c.abort();
        for (m, report) in members[first_member..].iter_mut().zip(reports) {
            if let Ok(a) = &mut m.result {
                a.report = report;
            }
        }
        org.view
            .finished(&facts(self.elapsed()), &members, "apply")?;
        let apply_failed = members.iter().any(|m| m.finished() == Finished::Failed);
        Ok(if self.ctrl_c.is_pressed() {
            Outcome::Interrupted
        } else if apply_failed {
            Outcome::Failed
        } else {
            Outcome::Success
        })
    }

    /// One account: its context (the management account's own, or a role session), then its
    /// assessment, keeping only the changes.
    async fn assess_member(
        &self,
        management: &Aws,
        management_id: &str,
        account: &MemberAccount,
        loaded: &LoadedPlan,
        central: Option<&(Reach, FeaturesGate)>,
    ) -> anyhow::Result<Assessed> {
        let org = self.settings.org.as_ref().expect("--org settings");
        let mut aws = if account.id == management.account_id() {
            Aws::for_caller(
                management.sdk.clone(),
                management.caller.clone(),
                Arc::new(CallLog::default()),
            )
        } else {
            org::session::member(
                management,
                &account.id,
                &org.role_name,
                org.external_id.as_deref(),
                management_id,
            )
            .await?
        };
        // A member's root is reached through the management account (not the management
        // account's own root, which is no member's).
        if let Some((reach, gate)) = central
            && account.id != management_id
        {
            aws.central_root = Some(Arc::new(CentralRoot::Member(Box::new(MemberRoot::new(
                management,
                &account.id,
                reach.clone(),
                gate,
            )))));
        }
        let (aws, mut assessment) = assess_account(&aws, loaded, false, &Silent).await?;
        assessment.observed = Vec::new();
        Ok(Assessed {
            aws,
            assessment,
            report: None,
        })
    }

    /// The management account's part in centralized root access: the Organization's features
    /// (`root_credentials` in the management context), and from them how members' roots are
    /// reached. The block is `None` when the features are on (nothing to show).
    async fn assess_central_root(
        &self,
        management: &Aws,
        management_id: &str,
        loaded: &LoadedPlan,
    ) -> (Option<MemberRun>, Reach) {
        let result = async {
            let mut aws = management.clone();
            aws.central_root = Some(Arc::new(CentralRoot::Management {
                management_id: management_id.to_string(),
            }));
            let resolved = plan::resolve(&loaded.plan, &placeholders(&aws, loaded))
                .map_err(|e| e.in_file(&loaded.path))?;
            let aws = aws.in_home_region(&resolved.home_region);
            let assessment = engine::assess_controls(
                &aws,
                &resolved,
                vec![ControlId::RootCredentials],
                false,
                &Silent,
            )
            .await?;
            // The block is about this one control: "not managed" would list every other.
            let assessment = engine::Assessment {
                unmanaged: Vec::new(),
                ..assessment
            };
            anyhow::Ok(Assessed {
                aws,
                assessment,
                report: None,
            })
        }
        .await
        .map_err(|e| format!("{e:#}"));
        let reach = match &result {
            Err(_) => Reach::Unavailable(
                "The Organization's centralized root access could not be read: see the error of the first \
                 account block (centralized root access). Run again once it is mended."
                    .into(),
            ),
            Ok(a) => match a.assessment.changes.iter().find(|c| c.is_manual()) {
                Some(manual) => Reach::Unavailable(manual.note.clone().unwrap_or_default()),
                None if a.assessment.pending() => Reach::AfterPrerequisites,
                None => Reach::Ready,
            },
        };
        let whose = match management.account_id() == management_id {
            true => "management account",
            false => "this account, not the management account",
        };
        let block = (reach != Reach::Ready).then(|| MemberRun {
            account: MemberAccount {
                id: management.account_id().to_string(),
                name: format!("{whose}: centralized root access"),
            },
            result,
        });
        (block, reach)
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// One line about an observed account, for progress off a terminal.
fn status_line(m: &MemberRun) -> String {
    match &m.result {
        Err(e) => format!("error: {e}"),
        Ok(a) if !a.assessment.pending() => "in line".into(),
        Ok(a) => {
            let s = a.assessment.summary();
            format!(
                "{} to create, {} to change, {} to delete, {} manual",
                s.create, s.update, s.delete, s.manual
            )
        }
    }
}
