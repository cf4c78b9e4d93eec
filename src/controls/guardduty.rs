//! GuardDuty in every region of the plan's `regions`: a detector, enabled, with the plan's
//! `features` on and its `disabled_features` off. Turning off a protection someone enabled on
//! purpose is not hardening: every other feature `GetDetector` reports (the data sources GuardDuty
//! always reads, one added to the API after this build) is left as it is and shown. Paid after a
//! 30-day trial; off in the baseline.
//! A region has at most one detector (GuardDuty API reference, CreateDetector).

use std::collections::BTreeMap;

use aws_sdk_guardduty::types::{DetectorFeature, DetectorFeatureConfiguration, FeatureStatus};

use aws_sdk_guardduty::error::{ProvideErrorMetadata, SdkError};

use crate::aws::{Aws, PerRegion, RegionError, error_code};
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
    // A feature the plan says AWS does not offer in a region is neither set nor compared there.
    let not_offered = |region: &str| plan.features_not_offered.get(region).cloned();
    let wanted_in = |region: &str| {
        let mut here = wanted.clone();
        for f in not_offered(region).unwrap_or_default() {
            here.remove(&f);
        }
        here
    };
    diff_each_region(
        &mut d,
        (CONTROL, RESOURCE, CIS),
        &observed.regions,
        |region, live| {
            let wanted = wanted_in(region);
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
        let crate::aws::InRegion::Read(live) = answer else {
            continue;
        };
        if let Some(list) = not_offered(region) {
            d.notice(Notice::info(
                CONTROL,
                format!(
                    "in {region}, not set (guardduty.features_not_offered): {}",
                    list.join(", ")
                ),
            ));
        }
        let Some(det) = live else {
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

/// A refused `CreateDetector` / `UpdateDetector`: AWS's `BadRequestException` message, when that
/// is what it answered, and the whole error.
struct Refusal {
    bad_request: Option<String>,
    error: anyhow::Error,
}

fn refusal<E, R>(e: SdkError<E, R>, what: String) -> Refusal
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let bad_request = match error_code(&e) {
        Some("BadRequestException") => Some(e.message().unwrap_or_default().to_string()),
        _ => None,
    };
    Refusal {
        bad_request,
        error: crate::aws::sdk_error(what, e),
    }
}

/// GuardDuty API reference: `CreateDetector` and `UpdateDetector`, each with `Enable` and every
/// feature named (UpdateDetector changes only the features it names).
async fn send(
    aws: &Aws,
    op: &Op,
    wanted: &BTreeMap<String, bool>,
) -> std::result::Result<(), Refusal> {
    match op {
        Op::Create { region, .. } => aws
            .client_in::<aws_sdk_guardduty::Client>(region)
            .create_detector()
            .enable(true)
            .set_features(Some(features(wanted)))
            .tags(crate::aws::MANAGED_BY_TAG.0, crate::aws::MANAGED_BY_TAG.1)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                refusal(
                    e,
                    format!("creating a GuardDuty detector in {region} (GuardDuty CreateDetector)"),
                )
            }),
        Op::Update {
            region,
            detector_id,
            ..
        } => aws
            .client_in::<aws_sdk_guardduty::Client>(region)
            .update_detector()
            .detector_id(detector_id)
            .enable(true)
            .set_features(Some(features(wanted)))
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                refusal(
                    e,
                    format!(
                        "enabling GuardDuty detector {detector_id} in {region} (GuardDuty UpdateDetector)"
                    ),
                )
            }),
    }
}

/// The features of `sent` that an error message names, each as a whole word.
fn features_named(message: &str, sent: &BTreeMap<String, bool>) -> Vec<String> {
    let words: Vec<&str> = message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    sent.keys()
        .filter(|f| words.contains(&f.as_str()))
        .cloned()
        .collect()
}

/// Sets the detector. Some features are not offered in every region (UpdateDetector: "some data
/// sources might not be available in all the Amazon Web Services Regions"); when AWS refuses the
/// request with a `BadRequestException` naming features it was sent, the request is made once more
/// without them, so the detector and the other features are still set, and the step fails naming
/// them and the plan key that records the decision (`features_not_offered`): reported, never sent
/// again and again. What the message says is not documented: one that names no feature sent is an
/// ordinary failure.
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    let (Op::Create { region, features }
    | Op::Update {
        region, features, ..
    }) = op;
    let refusal = match send(aws, op, features).await {
        Ok(()) => return Ok(()),
        Err(refusal) => refusal,
    };
    let Some(message) = refusal.bad_request else {
        return Err(refusal.error);
    };
    let rejected = features_named(&message, features);
    if rejected.is_empty() {
        return Err(refusal.error);
    }
    let mut rest = features.clone();
    rest.retain(|f, _| !rejected.contains(f));
    send(aws, op, &rest).await.map_err(|r| r.error)?;
    let quoted: Vec<String> = rejected.iter().map(|f| format!("{f:?}")).collect();
    Err(anyhow::anyhow!(
        "GuardDuty in {region} refused {} (BadRequestException: {message}); the detector and \
         the other features were set. If AWS does not offer it in {region}, record that in the \
         plan so it is no longer sent there: [guardduty.features_not_offered] {region:?} = [{}]",
        rejected.join(", "),
        quoted.join(", ")
    ))
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

    /// A feature the plan says AWS does not offer in a region is neither sent nor compared there,
    /// and is shown; elsewhere it is set as usual.
    #[test]
    fn a_feature_not_offered_in_a_region_is_neither_sent_nor_compared_there() {
        let mut without = as_planned("ENABLED").unwrap();
        without.features.remove("RDS_LOGIN_EVENTS");
        let d = diff_in(
            "[guardduty.features_not_offered]\n\"eu-west-1\" = [\"RDS_LOGIN_EVENTS\"]\n",
            vec![
                ("eu-west-1".into(), InRegion::Read(Some(without.clone()))),
                ("us-east-1".into(), InRegion::Read(Some(without))),
                ("us-east-2".into(), InRegion::Read(None)),
            ],
        );
        assert_eq!(d.changes.len(), 2, "{:?}", d.changes);
        assert!(
            matches!(&d.changes[0].ops[0], Op::Update { region, features, .. }
            if region == "us-east-1" && features.contains_key("RDS_LOGIN_EVENTS"))
        );
        assert!(matches!(&d.changes[1].ops[0], Op::Create { features, .. }
            if features.contains_key("RDS_LOGIN_EVENTS")));
        let shown = format!("{:?}", d.notices);
        assert!(
            shown.contains(
                "in eu-west-1, not set (guardduty.features_not_offered): RDS_LOGIN_EVENTS"
            ),
            "{shown}"
        );
    }

    #[test]
    fn a_refusal_names_the_features_it_was_sent_as_whole_words() {
        let sent: BTreeMap<String, bool> = [("S3_DATA_EVENTS", true), ("EKS_AUDIT_LOGS", true)]
            .map(|(f, on)| (f.to_string(), on))
            .into();
        assert_eq!(
            features_named(
                "The feature EKS_AUDIT_LOGS is not available in this Region.",
                &sent
            ),
            ["EKS_AUDIT_LOGS"]
        );
        assert!(features_named("NOT_S3_DATA_EVENTS is unknown", &sent).is_empty());
        assert!(features_named("The request is rejected.", &sent).is_empty());
    }
}
