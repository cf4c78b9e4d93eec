//! Reads only: the KMS key, every trail (the plan's and the others) and the buckets.

use aws_sdk_cloudtrail::types::ReadWriteType;

use super::documents::{bucket_specs, trail_arn};
use super::types::{AdvancedSelector, FieldSelector, KeyState, Observed, TrailState};
use crate::aws::{Aws, SdkResultExt, absent_on};
use crate::bucket::{self, KmsKey};
use crate::plan::Plan;

impl AdvancedSelector {
    pub(super) fn from_sdk(
        a: &aws_sdk_cloudtrail::types::AdvancedEventSelector,
    ) -> AdvancedSelector {
        AdvancedSelector {
            name: a.name().map(str::to_string),
            fields: a
                .field_selectors()
                .iter()
                .map(|f| FieldSelector {
                    field: f.field().to_string(),
                    equals: f.equals().to_vec(),
                    starts_with: f.starts_with().to_vec(),
                    ends_with: f.ends_with().to_vec(),
                    not_equals: f.not_equals().to_vec(),
                    not_starts_with: f.not_starts_with().to_vec(),
                    not_ends_with: f.not_ends_with().to_vec(),
                })
                .collect(),
        }
    }
}

pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(ct) = plan.cloudtrail() else {
        return Ok(Observed::default());
    };
    let (log_spec, trail_spec) = bucket_specs(
        ct,
        &plan.home_region,
        &aws.caller,
        KmsKey::Alias(ct.kms_key_alias.clone()),
    );
    let want_arn = trail_arn(
        &aws.caller.partition,
        &plan.home_region,
        aws.account_id(),
        &ct.trail_name,
    );
    let (key, trails, bucket, access_log_bucket) = tokio::try_join!(
        observe_key(aws, &ct.kms_key_alias),
        observe_trails(aws, &want_arn),
        bucket::observe(aws, &trail_spec),
        async {
            match &log_spec {
                Some(spec) => bucket::observe(aws, spec).await.map(Some),
                None => Ok(None),
            }
        },
    )?;
    let (mine, other_trails): (Vec<TrailState>, Vec<TrailState>) =
        trails.into_iter().partition(|t| t.arn == want_arn);
    if let Some(t) = other_trails.iter().find(|t| t.name == ct.trail_name) {
        anyhow::bail!(
            "a CloudTrail trail named {} already exists with home region {}, the plan's home_region is {}: \
             change trail_name or home_region in the plan",
            t.name,
            t.home_region,
            plan.home_region
        );
    }
    Ok(Observed {
        key,
        trail: mine.into_iter().next(),
        other_trails,
        bucket,
        access_log_bucket,
    })
}

async fn observe_key(aws: &Aws, alias: &str) -> anyhow::Result<Option<KeyState>> {
    let Some(described) = absent_on(
        aws.kms.describe_key().key_id(alias).send().await,
        &["NotFoundException"],
        format!("reading KMS key {alias}"),
    )?
    else {
        return Ok(None);
    };
    let Some(meta) = described.key_metadata else {
        return Ok(None);
    };
    let key_id = meta.key_id.clone();
    let customer_managed = meta.key_manager.as_ref().map(|m| m.as_str()) == Some("CUSTOMER");
    let state = meta
        .key_state
        .as_ref()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "unknown".into());
    // A key that is not enabled answers KMSInvalidStateException to these reads (KMS developer guide,
    // "Key states of AWS KMS keys"): the diff says what to do instead.
    let (rotation, policy) = if customer_managed && state == "Enabled" {
        tokio::try_join!(
            async {
                aws.kms
                    .get_key_rotation_status()
                    .key_id(&key_id)
                    .send()
                    .await
                    .describe(format!("reading the rotation status of KMS key {alias}"))
                    .map(|r| r.key_rotation_enabled)
            },
            async {
                aws.kms
                    .get_key_policy()
                    .key_id(&key_id)
                    .policy_name("default")
                    .send()
                    .await
                    .describe(format!("reading the key policy of KMS key {alias}"))
                    .map(|p| p.policy)
            }
        )?
    } else {
        (false, None)
    };
    Ok(Some(KeyState {
        arn: meta.arn.unwrap_or_default(),
        enabled: meta.enabled,
        state,
        customer_managed,
        rotation,
        policy,
    }))
}

type TrailReads = (
    aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput,
    aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput,
);

/// A trail's status and event selectors, by ARN, through its home region's client.
async fn read_trail(
    ct: &aws_sdk_cloudtrail::Client,
    arn: &str,
    name: &str,
) -> anyhow::Result<TrailReads> {
    tokio::try_join!(
        async {
            ct.get_trail_status()
                .name(arn)
                .send()
                .await
                .describe(format!("reading the status of trail {name}"))
        },
        async {
            ct.get_event_selectors()
                .trail_name(arn)
                .send()
                .await
                .describe(format!("reading the event selectors of trail {name}"))
        }
    )
}

async fn observe_trails(aws: &Aws, plan_trail_arn: &str) -> anyhow::Result<Vec<TrailState>> {
    // The planned trail is read by ARN alongside the listing (one round trip, not two); it answers
    // TrailNotFoundException when it does not exist (GetTrailStatus, CloudTrail API reference).
    let mine = async {
        let (status, selectors) = tokio::join!(
            aws.cloudtrail
                .get_trail_status()
                .name(plan_trail_arn)
                .send(),
            aws.cloudtrail
                .get_event_selectors()
                .trail_name(plan_trail_arn)
                .send()
        );
        let what = format!("reading the planned trail {plan_trail_arn}");
        let status = absent_on(status, &["TrailNotFoundException"], &what)?;
        let selectors = absent_on(selectors, &["TrailNotFoundException"], &what)?;
        Ok::<_, anyhow::Error>(status.zip(selectors))
    };
    let (described, mine) = tokio::join!(
        async {
            aws.cloudtrail
                .describe_trails()
                .include_shadow_trails(true)
                .send()
                .await
                .describe("listing CloudTrail trails")
        },
        mine
    );
    let (described, mine) = (described?, mine?);
    let trails: Vec<_> = described
        .trail_list
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.name.is_some() && t.trail_arn.is_some())
        .collect();
    // The other trails' reads all at once, one client per home region (a trail is managed from it).
    let mut clients: std::collections::BTreeMap<String, aws_sdk_cloudtrail::Client> =
        std::collections::BTreeMap::new();
    for t in &trails {
        let region = t
            .home_region
            .clone()
            .unwrap_or_else(|| aws.home_region.clone());
        clients.entry(region.clone()).or_insert_with(|| {
            if region == aws.home_region {
                aws.cloudtrail.clone()
            } else {
                aws.in_home_region(&region).cloudtrail
            }
        });
    }
    let mine = &mine;
    let reads = futures_util::future::join_all(trails.iter().map(|t| {
        let arn = t.trail_arn.clone().unwrap_or_default();
        let name = t.name.clone().unwrap_or_default();
        let region = t
            .home_region
            .clone()
            .unwrap_or_else(|| aws.home_region.clone());
        let ct = clients[&region].clone();
        async move {
            match mine {
                Some(read) if arn == plan_trail_arn => Ok(read.clone()),
                _ => read_trail(&ct, &arn, &name).await,
            }
        }
    }))
    .await;
    let mut out = Vec::new();
    for (t, read) in trails.into_iter().zip(reads) {
        let (Some(name), Some(arn)) = (t.name.clone(), t.trail_arn.clone()) else {
            continue;
        };
        let home_region = t
            .home_region
            .clone()
            .unwrap_or_else(|| aws.home_region.clone());
        let (logging, management_events, read_error, delivery_error, advanced_selectors) =
            match read {
                Ok((status, selectors)) => (
                    status.is_logging.unwrap_or(false),
                    records_management_events(&selectors),
                    None,
                    failing_delivery(
                        status.latest_delivery_error.as_deref(),
                        status.latest_delivery_attempt_time.as_deref(),
                        status.latest_delivery_attempt_succeeded.as_deref(),
                    ),
                    selectors
                        .advanced_event_selectors()
                        .iter()
                        .map(AdvancedSelector::from_sdk)
                        .collect(),
                ),
                // Only the plan's own trail must be readable; another one is just not adopted.
                Err(e) if arn != plan_trail_arn => {
                    (false, false, Some(format!("{e:#}")), None, Vec::new())
                }
                Err(e) => return Err(e),
            };
        out.push(TrailState {
            name,
            arn,
            home_region,
            bucket: t.s3_bucket_name.clone().unwrap_or_default(),
            s3_key_prefix: t.s3_key_prefix.clone().filter(|p| !p.is_empty()),
            multi_region: t.is_multi_region_trail.unwrap_or(false),
            organization: t.is_organization_trail.unwrap_or(false),
            global_service_events: t.include_global_service_events.unwrap_or(false),
            log_file_validation: t.log_file_validation_enabled.unwrap_or(false),
            kms_key_id: t.kms_key_id.clone().filter(|k| !k.is_empty()),
            logging,
            management_events,
            read_error,
            delivery_error,
            advanced_selectors,
        });
    }
    Ok(out)
}

/// The trail's last delivery error, unless a delivery attempt succeeded after it (GetTrailStatus,
/// CloudTrail API reference: `LatestDeliveryError`, `LatestDeliveryAttemptTime`,
/// `LatestDeliveryAttemptSucceeded`, ISO 8601 strings). Without the attempt times, the error stands:
/// a success nobody reported is not assumed.
pub fn failing_delivery(
    error: Option<&str>,
    last_attempt: Option<&str>,
    last_success: Option<&str>,
) -> Option<String> {
    let error = error.map(str::trim).filter(|e| !e.is_empty())?;
    let recovered = match (last_attempt, last_success) {
        (Some(attempt), Some(success)) if !success.is_empty() => success >= attempt,
        _ => false,
    };
    (!recovered).then(|| error.to_string())
}

/// Management events, read and write, from basic or advanced event selectors.
fn records_management_events(
    s: &aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput,
) -> bool {
    let basic = s.event_selectors().iter().any(|e| {
        e.include_management_events() == Some(true)
            && e.read_write_type() == Some(&ReadWriteType::All)
            && e.exclude_management_event_sources().is_empty()
    });
    let advanced = s.advanced_event_selectors().iter().any(|a| {
        let fields = a.field_selectors();
        fields
            .iter()
            .any(|f| f.field() == "eventCategory" && f.equals() == ["Management"])
            && fields.iter().all(|f| f.field() == "eventCategory")
    });
    basic || advanced
}
