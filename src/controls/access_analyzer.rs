//! IAM Access Analyzer (CIS 1.19) in every region of the plan's `regions`: an analyzer of
//! external access, which reports what in the account is shared outside it. Type `ACCOUNT` (free);
//! never an unused-access analyzer, which is billed. An active analyzer of type `ACCOUNT` or
//! `ORGANIZATION` already in the region covers it, whatever its name.

use crate::aws::{Aws, PerRegion, RegionError, SdkResultExt, created_or_exists};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::controls::regional::diff_each_region;
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::named("access_analyzer");
const RESOURCE: &str = "access analyzer";
const CIS: &[&str] = &["1.19"];

/// An external-access analyzer per region.
pub struct AccessAnalyzer;

impl Control for AccessAnalyzer {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "IAM Access Analyzer";
    const CIS: &'static [&'static str] = CIS;
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.access_analyzer().is_some()
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

/// One analyzer as `ListAnalyzers` summarizes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Analyzer {
    pub name: String,
    /// `ACCOUNT`, `ORGANIZATION`, `ACCOUNT_UNUSED_ACCESS`, ...
    pub kind: String,
    /// `ACTIVE`, `CREATING`, `DISABLED` or `FAILED`.
    pub status: String,
}

impl Analyzer {
    /// Analyzes external access (an unused-access analyzer does not).
    fn external(&self) -> bool {
        matches!(self.kind.as_str(), "ACCOUNT" | "ORGANIZATION")
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// Per region: every analyzer there.
    pub regions: PerRegion<Vec<Analyzer>>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `CreateAnalyzer` of type `ACCOUNT`.
    Create { region: String, name: String },
    /// `DeleteAnalyzer`: aws-harden's own analyzer that failed, before it is made again.
    Delete { region: String, name: String },
}

/// Per region, at once: `ListAnalyzers` without a type filter, every page (IAM Access Analyzer
/// API reference).
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let regions = aws.plan_regions(plan).await?;
    let regions = aws
        .read_each_region(
            &regions,
            "reading IAM Access Analyzer",
            |aa: aws_sdk_accessanalyzer::Client, region| async move {
                let pages = aa
                    .list_analyzers()
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(|e| {
                        RegionError::of(
                            e,
                            format!("reading IAM Access Analyzer in {region} (ListAnalyzers)"),
                        )
                    })?;
                Ok(pages
                    .into_iter()
                    .map(|a| Analyzer {
                        name: a.name().to_string(),
                        kind: a.r#type().as_str().to_string(),
                        status: a.status().as_str().to_string(),
                    })
                    .collect())
            },
        )
        .await?;
    Ok(Observed { regions })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.access_analyzer() else {
        return d;
    };
    let just_written = ctx.written.contains(&CONTROL);
    diff_each_region(
        &mut d,
        (CONTROL, RESOURCE, CIS),
        &observed.regions,
        |region, analyzers| {
            if analyzers
                .iter()
                .any(|a| a.external() && a.status == "ACTIVE")
            {
                return None;
            }
            let create = Op::Create {
                region: region.to_string(),
                name: plan.name.clone(),
            };
            let ours = analyzers.iter().find(|a| a.name == plan.name);
            // One account-level analyzer per type and region (IAM user guide, "IAM Access Analyzer
            // quotas"): another ACCOUNT analyzer that is not active blocks a new one, so AWS
            // would refuse CreateAnalyzer. A person fixes or deletes it.
            let blocking = analyzers
                .iter()
                .find(|a| a.kind == "ACCOUNT" && a.name != plan.name);
            let change = match (ours, blocking) {
                (None, Some(other)) => Change::manual(CONTROL, RESOURCE)
                    .field(
                        &format!("Analyzer {}", other.name),
                        Some(&other.status),
                        Some("ACTIVE"),
                    )
                    .note(format!(
                        "analyzer {} (type ACCOUNT) is {} and takes the region's one account-level \
                         analyzer: a new one would be refused. Delete it (aws accessanalyzer \
                         delete-analyzer --analyzer-name {} --region {region}) or get it working",
                        other.name, other.status, other.name
                    )),
                (None, None) => Change::new(CONTROL, RESOURCE, Action::Create, create)
                    .field("Name", None::<&str>, Some(&plan.name))
                    .field("Type", None::<&str>, Some("ACCOUNT")),
                // Made by this run and still starting: the next run judges it.
                (Some(a), _) if a.status == "CREATING" && just_written => return None,
                (Some(a), _) if a.status == "CREATING" => Change::manual(CONTROL, RESOURCE)
                    .field("Status", Some("CREATING"), Some("ACTIVE"))
                    .note("still being created: run again in a minute"),
                // Failed, disabled, or another type under our name: made again.
                (Some(a), _) => Change::with_ops(
                    CONTROL,
                    RESOURCE,
                    Action::Update,
                    vec![
                        Op::Delete {
                            region: region.to_string(),
                            name: plan.name.clone(),
                        },
                        create,
                    ],
                )
                .field("Type", Some(&a.kind), Some("ACCOUNT"))
                .field("Status", Some(&a.status), Some("ACTIVE")),
            };
            Some(change)
        },
    );
    d
}

/// IAM Access Analyzer API reference: `CreateAnalyzer` (`ConflictException` when one of that name
/// exists: an earlier attempt's lost answer; the verification checks it), `DeleteAnalyzer`.
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::Create { region, name } => {
            created_or_exists(
                aws.client_in::<aws_sdk_accessanalyzer::Client>(region)
                    .create_analyzer()
                    .analyzer_name(name)
                    .r#type(aws_sdk_accessanalyzer::types::Type::Account)
                    .tags(crate::aws::MANAGED_BY_TAG.0, crate::aws::MANAGED_BY_TAG.1)
                    .send()
                    .await,
                &["ConflictException"],
                format!("creating IAM Access Analyzer {name} in {region} (CreateAnalyzer)"),
            )?;
        }
        Op::Delete { region, name } => {
            aws.client_in::<aws_sdk_accessanalyzer::Client>(region)
                .delete_analyzer()
                .analyzer_name(name)
                .send()
                .await
                .describe(format!(
                    "deleting IAM Access Analyzer {name} in {region} (DeleteAnalyzer)"
                ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::InRegion;
    use crate::controls::control::diff_for_tests;

    fn diff_of(regions: PerRegion<Vec<Analyzer>>) -> Diff<Op> {
        diff_for_tests("[access_analyzer]\n", |ctx| {
            diff(ctx, &Observed { regions })
        })
    }

    fn analyzer(name: &str, kind: &str, status: &str) -> Analyzer {
        Analyzer {
            name: name.into(),
            kind: kind.into(),
            status: status.into(),
        }
    }

    #[test]
    fn any_active_external_access_analyzer_covers_a_region() {
        let d = diff_of(vec![
            (
                "eu-west-1".into(),
                InRegion::Read(vec![analyzer("org", "ORGANIZATION", "ACTIVE")]),
            ),
            (
                "us-east-1".into(),
                InRegion::Read(vec![analyzer("unused", "ACCOUNT_UNUSED_ACCESS", "ACTIVE")]),
            ),
            ("us-east-2".into(), InRegion::Read(vec![])),
            (
                "us-west-2".into(),
                InRegion::Read(vec![analyzer("aws-harden", "ACCOUNT", "FAILED")]),
            ),
        ]);
        assert_eq!(d.checks().len(), 4);
        assert_eq!(d.changes.len(), 3, "{:?}", d.changes);
        // An unused-access analyzer does not count, and none is ever created.
        assert_eq!(d.changes[0].region.as_deref(), Some("us-east-1"));
        assert!(matches!(&d.changes[0].ops[..], [Op::Create { .. }]));
        assert!(matches!(
            &d.changes[2].ops[..],
            [Op::Delete { .. }, Op::Create { .. }]
        ));
    }

    #[test]
    fn one_still_creating_is_pending() {
        let d = diff_of(vec![(
            "us-east-1".into(),
            InRegion::Read(vec![analyzer("aws-harden", "ACCOUNT", "CREATING")]),
        )]);
        assert!(d.changes[0].is_manual());
    }

    /// The quota of one account-level analyzer per region: another one that is not active is a
    /// manual action naming it, never a CreateAnalyzer AWS refuses.
    #[test]
    fn another_account_analyzer_not_active_is_a_manual_action_naming_it() {
        for status in ["FAILED", "DISABLED", "CREATING"] {
            let d = diff_of(vec![(
                "us-east-1".into(),
                InRegion::Read(vec![analyzer("theirs", "ACCOUNT", status)]),
            )]);
            assert_eq!(d.changes.len(), 1);
            assert!(d.changes[0].is_manual() && d.changes[0].ops.is_empty());
            assert!(format!("{:?}", d.changes[0]).contains("analyzer theirs (type ACCOUNT)"));
        }
    }
}
