//! GuardDuty in every region of the plan's `regions`: a detector, enabled, with each protection
//! plan set explicitly (the plan's `features` on, the others off) rather than left to whatever
//! defaults AWS picks for a new detector. Paid after a 30-day trial; off in the baseline.
//! A region has at most one detector (GuardDuty API reference, CreateDetector).

use std::collections::BTreeMap;

use aws_sdk_guardduty::types::{DetectorFeature, DetectorFeatureConfiguration, FeatureStatus};

use crate::aws::{Aws, PerRegion, RegionError, SdkResultExt};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::controls::regional::diff_each_region;
use crate::interact::Interaction;
use crate::plan::{GUARDDUTY_FEATURES, Plan};

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
    /// `CreateDetector` with `Enable` and every feature of `GUARDDUTY_FEATURES` set.
    Create {
        region: String,
        features: BTreeMap<String, bool>,
    },
    /// `UpdateDetector`: enable it and set every feature.
    Update {
        region: String,
        detector_id: String,
        features: BTreeMap<String, bool>,
    },
}

/// Per region, at once: `ListDetectors`, then `GetDetector` for the one there is.
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let regions = aws.plan_regions(&plan.regions).await?;
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
    let wanted: BTreeMap<String, bool> = GUARDDUTY_FEATURES
        .iter()
        .map(|f| (f.to_string(), plan.features.iter().any(|p| p == f)))
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
            let mut differs = false;
            if det.status.as_deref() != Some("ENABLED") {
                differs = true;
                change = change.field("Status", det.status.as_deref(), Some("ENABLED"));
            }
            for (name, on) in &wanted {
                let before = det.features.get(name).map(String::as_str);
                if before != Some(status(*on)) {
                    differs = true;
                    change = change.field(name, before, Some(status(*on)));
                }
            }
            differs.then_some(change)
        },
    );
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

    fn diff_of(regions: PerRegion<Option<Detector>>) -> Diff<Op> {
        diff_for_tests("[guardduty]\n", |ctx| diff(ctx, &Observed { regions }))
    }

    fn as_planned(status: &str) -> Option<Detector> {
        Some(Detector {
            id: "d1".into(),
            status: Some(status.into()),
            features: GUARDDUTY_FEATURES
                .iter()
                .map(|f| {
                    let on = *f != "RUNTIME_MONITORING";
                    (
                        f.to_string(),
                        if on { "ENABLED" } else { "DISABLED" }.into(),
                    )
                })
                .collect(),
        })
    }

    #[test]
    fn each_region_needs_an_enabled_detector_with_every_feature_set() {
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
        assert!(matches!(&d.changes[1].ops[0], Op::Create { features, .. }
            if features.len() == GUARDDUTY_FEATURES.len() && !features["RUNTIME_MONITORING"]));
        // A feature GuardDuty did not list is unknown: set again.
        assert_eq!(d.changes[2].fields.len(), 1);
    }
}
