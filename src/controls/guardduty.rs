//! GuardDuty in every region of the plan's `regions`: a detector, enabled, with the plan's
//! `features` on and its `disabled_features` off. Turning off a protection someone enabled on
//! purpose is not hardening: every other feature `GetDetector` reports (the data sources GuardDuty
//! always reads, one added to the API after this build) is left as it is and shown. Paid after a
//! 30-day trial; off in the baseline.
//! A region has at most one detector (GuardDuty API reference, CreateDetector).

use std::collections::BTreeMap;

use aws_sdk_guardduty::types::{DetectorFeature, DetectorFeatureConfiguration, FeatureStatus};

use crate::aws::{Aws, PerRegion, RegionError, SdkResultExt};
use crate::change::{Action, Change, ControlId, Diff, Notice};
use crate::controls::control::{Control, DiffContext};
use crate::controls::regional::diff_each_region;
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::named("guardduty");
const RESOURCE: &str = "guardduty detector";
const CIS: &[&str] = &[];

/// A GuardDuty detector per region.
pub struct GuardDuty;

impl Control for GuardDuty {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "GuardDuty";
    const CIS: &'static [&'static str] = CIS;
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.guardduty().is_some()
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

/// A region's detector as GuardDuty answered it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Detector {
    pub id: String,
    /// `ENABLED` or `DISABLED`; `None` if left out.
    pub status: Option<String>,
    /// Each protection plan's status by name, as `GetDetector` lists them.
    pub features: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// Per region: the detector, or `None` when the region has none.
    pub regions: PerRegion<Option<Detector>>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `CreateDetector` with `Enable` and the plan's features set (on or off); AWS turns on the
    /// ones not named, but `RUNTIME_MONITORING` (CreateDetector).
    Create {
        region: String,
        features: BTreeMap<String, bool>,
    },
    /// `UpdateDetector`: enable it and set the features named (it changes only those).
    Update {
        region: String,
        detector_id: String,
        features: BTreeMap<String, bool>,
    },
}

/// Per region, at once: `ListDetectors`, then `GetDetector` for the one there is.
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let regions = aws.plan_regions(plan).await?;
    let regions = aws
        .read_each_region(
            &regions,
            "reading GuardDuty detectors",
            |gd: aws_sdk_guardduty::Client, region| async move {
                let what = |call| format!("reading GuardDuty in {region} ({call})");
                let list = gd
                    .list_detectors()
                    .send()
                    .await
                    .map_err(|e| RegionError::of(e, what("ListDetectors")))?;
                let Some(id) = list.detector_ids().first() else {
                    return Ok(None);
                };
                let got = gd
                    .get_detector()
                    .detector_id(id)
                    .send()
                    .await
                    .map_err(|e| RegionError::of(e, what("GetDetector")))?;
                Ok(Some(Detector {
                    id: id.clone(),
                    status: got.status().map(|s| s.as_str().to_string()),
                    features: got
                        .features()
                        .iter()
                        .filter_map(|f| {
                            Some((
                                f.name()?.as_str().to_string(),
                                f.status()?.as_str().to_string(),
                            ))
                        })
                        .collect(),
                }))
            },
        )
        .await?;
    Ok(Observed { regions })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.guardduty() else {
        return d;
    };
    // The plan's features: on, or off when it names them so. No other is ever set.
    let wanted: BTreeMap<String, bool> = plan
        .features
        .iter()
        .map(|f| (f.clone(), true))
        .chain(plan.disabled_features.iter().map(|f| (f.clone(), false)))
        .collect();
    let status = |on: bool| if on { "ENABLED" } else { "DISABLED" };
    diff_each_region(
        &mut d,
        (CONTROL, RESOURCE, CIS),
        &observed.regions,
        |region, live| {
            let Some(det) = live else {
                let mut change = Change::new(
                    CONTROL,
                    RESOURCE,
                    Action::Create,
                    Op::Create {
                        region: region.to_string(),
                        features: wanted.clone(),
                    },
                )
                .field("Status", None::<&str>, Some("ENABLED"));
                for (name, on) in &wanted {
                    change = change.field(name, None::<&str>, Some(status(*on)));
                }
                return Some(change.note("paid after a 30-day free trial"));
            };
            let mut fields = Vec::new();
            if det.status.as_deref() != Some("ENABLED") {
                fields.push(("Status".to_string(), det.status.clone()));
            }
            for (name, on) in &wanted {
                let before = det.features.get(name);
                // Not listed: unknown, never "as planned".
                if before.map(String::as_str) != Some(status(*on)) {
                    fields.push((name.clone(), before.cloned()));
                }
            }
            if fields.is_empty() {
                return None;
            }
            // Every feature the plan names is sent, the differing ones and the rest (setting one
            // as it is changes nothing), and no other: UpdateDetector changes only those it names.
            let mut change = Change::new(
                CONTROL,
                RESOURCE,
                Action::Update,
                Op::Update {
                    region: region.to_string(),
                    detector_id: det.id.clone(),
                    features: wanted.clone(),
                },
            );
            for (name, before) in fields {
                let after = match wanted.get(&name) {
                    Some(on) => status(*on),
                    None => "ENABLED",
                };
                change = change.field(&name, before.as_deref(), Some(after));
            }
            Some(change)
        },
    );
    // What the plan does not name is left as it is, and said, so nobody thinks it was checked.
    for (region, answer) in &observed.regions {
        let crate::aws::InRegion::Read(Some(det)) = answer else {
            continue;
        };
        let others: Vec<String> = det
            .features
            .iter()
            .filter(|(name, _)| !wanted.contains_key(*name))
            .map(|(name, s)| format!("{name} {s}"))
            .collect();
        if !others.is_empty() {
            d.notice(Notice::info(
                CONTROL,
                format!(
                    "in {region}, left as they are (not in the plan): {}",
                    others.join(", ")
                ),
            ));
        }
    }
    d
}

fn features(wanted: &BTreeMap<String, bool>) -> Vec<DetectorFeatureConfiguration> {
    wanted
        .iter()
        .map(|(name, on)| {
            DetectorFeatureConfiguration::builder()
                .name(DetectorFeature::from(name.as_str()))
                .status(match on {
                    true => FeatureStatus::Enabled,
                    false => FeatureStatus::Disabled,
                })
                .build()
        })
        .collect()
}

/// GuardDuty API reference: `CreateDetector` and `UpdateDetector`, each with `Enable` and every
/// feature named (UpdateDetector changes only the features it names).
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::Create {
            region,
            features: f,
        } => {
            aws.client_in::<aws_sdk_guardduty::Client>(region)
                .create_detector()
                .enable(true)
                .set_features(Some(features(f)))
                .tags(crate::aws::MANAGED_BY_TAG.0, crate::aws::MANAGED_BY_TAG.1)
                .send()
                .await
                .describe(format!(
                    "creating a GuardDuty detector in {region} (GuardDuty CreateDetector)"
                ))?;
        }
        Op::Update {
            region,
            detector_id,
            features: f,
        } => {
            aws.client_in::<aws_sdk_guardduty::Client>(region)
                .update_detector()
                .detector_id(detector_id)
                .enable(true)
                .set_features(Some(features(f)))
                .send()
                .await
                .describe(format!(
                    "enabling GuardDuty detector {detector_id} in {region} (GuardDuty UpdateDetector)"
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
    use crate::plan::GUARDDUTY_FEATURES;

    fn diff_in(plan: &str, regions: PerRegion<Option<Detector>>) -> Diff<Op> {
        diff_for_tests(&format!("[guardduty]\n{plan}"), |ctx| {
            diff(ctx, &Observed { regions })
        })
    }

    fn diff_of(regions: PerRegion<Option<Detector>>) -> Diff<Op> {
        diff_in("", regions)
    }

    /// Every feature GetDetector can list, the plan's default ones on, the others off, plus the
    /// data sources GuardDuty always reads.
    fn as_planned(status: &str) -> Option<Detector> {
        let on = crate::plan::GuardDutyPlan::default().features;
        Some(Detector {
            id: "d1".into(),
            status: Some(status.into()),
            features: GUARDDUTY_FEATURES
                .iter()
                .chain(&["FLOW_LOGS", "CLOUD_TRAIL", "DNS_LOGS"])
                .map(|f| {
                    let state = match on.iter().any(|o| o == f) {
                        true => "ENABLED",
                        false => "DISABLED",
                    };
                    (f.to_string(), state.to_string())
                })
                .collect(),
        })
    }

    #[test]
    fn each_region_needs_an_enabled_detector_with_the_plans_features() {
        let mut missing_feature = as_planned("ENABLED");
        missing_feature
            .as_mut()
            .unwrap()
            .features
            .remove("S3_DATA_EVENTS");
        let d = diff_of(vec![
            ("eu-west-1".into(), InRegion::Read(as_planned("ENABLED"))),
            ("us-east-1".into(), InRegion::Read(as_planned("DISABLED"))),
            ("us-east-2".into(), InRegion::Read(None)),
            ("us-west-2".into(), InRegion::Read(missing_feature)),
        ]);
        assert_eq!(d.checks().len(), 4);
        assert_eq!(d.changes.len(), 3, "{:?}", d.changes);
        assert_eq!(d.changes[0].fields.len(), 1, "only the status differs");
        // A new detector: the plan's features named, nothing else.
        assert!(matches!(&d.changes[1].ops[0], Op::Create { features, .. }
            if features.len() == 5 && features.values().all(|on| *on)));
        // A feature GuardDuty did not list is unknown: set again, with the plan's others, never
        // one the plan does not name.
        assert_eq!(d.changes[2].fields.len(), 1);
        assert!(matches!(&d.changes[2].ops[0], Op::Update { features, .. }
            if features.len() == 5 && !features.contains_key("RUNTIME_MONITORING")));
    }

    /// A protection someone turned on (Runtime Monitoring), one this build does not know and the
    /// data sources are left as they are and shown; only `disabled_features` turns one off.
    #[test]
    fn features_the_plan_does_not_name_are_left_and_shown() {
        let mut det = as_planned("ENABLED").unwrap();
        det.features
            .insert("RUNTIME_MONITORING".into(), "ENABLED".into());
        det.features
            .insert("SOME_FUTURE_PROTECTION".into(), "ENABLED".into());
        let d = diff_of(vec![(
            "eu-west-1".into(),
            InRegion::Read(Some(det.clone())),
        )]);
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        let shown = format!("{:?}", d.notices);
        for f in [
            "RUNTIME_MONITORING ENABLED",
            "SOME_FUTURE_PROTECTION ENABLED",
            "FLOW_LOGS",
        ] {
            assert!(shown.contains(f), "{f}: {shown}");
        }
        let d = diff_in(
            "disabled_features = [\"RUNTIME_MONITORING\"]\n",
            vec![("eu-west-1".into(), InRegion::Read(Some(det)))],
        );
        assert_eq!(d.changes.len(), 1);
        assert!(matches!(&d.changes[0].ops[0], Op::Update { features, .. }
            if features.len() == 6 && !features["RUNTIME_MONITORING"]));
    }
}
