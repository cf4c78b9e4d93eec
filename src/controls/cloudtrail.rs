//! CloudTrail (CIS 3.1, 3.2, 3.4, 3.5, 3.6): a multi-region trail with global service events, log
//! file validation and management events (read and write), logging, encrypted with a
//! customer-managed KMS key that rotates, into a hardened bucket (`crate::bucket`), optionally with
//! server access logging into a second hardened bucket.
//!
//! Order of writes (the order `diff` produces): the KMS key (created with its policy) and its
//! rotation, the access-log bucket, the trail bucket with its policy, then the trail, its event
//! selectors and `StartLogging`. Both policies therefore exist before `CreateTrail`; a fresh bucket
//! policy can still take seconds to be honoured, so CloudTrail's "insufficient policy" answers are
//! retried with bounded backoff.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::types::{EventSelector, ReadWriteType};
use serde_json::{Value, json};

use crate::aws::{
    Aws, Caller, SdkResultExt, absent_on, created_or_exists, error_chain, error_code,
};
use crate::bucket::{self, AccessLogging, BucketSpec, Encryption, KmsKey};
use crate::change::{Action, Change, ControlId, Diff, Notice};
use crate::controls::DiffContext;
use crate::kms;
use crate::plan::{CloudTrailPlan, Plan};
use crate::policy;

const CONTROL: ControlId = ControlId::Cloudtrail;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// The key the plan's alias points to.
    pub key: Option<KeyState>,
    /// The plan's trail (by ARN: name and home region).
    pub trail: Option<TrailState>,
    /// Every other trail the account has (for adoption and honest notices).
    pub other_trails: Vec<TrailState>,
    pub bucket: bucket::Observed,
    /// The access-log bucket, when the plan names one.
    pub access_log_bucket: Option<bucket::Observed>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct KeyState {
    pub arn: String,
    pub enabled: bool,
    /// `KeyState` as KMS spells it (`Enabled`, `Disabled`, `PendingDeletion`, ...). Only an enabled key
    /// can be rotated, have its policy read, or encrypt logs.
    pub state: String,
    pub customer_managed: bool,
    pub rotation: bool,
    /// The `default` key policy as KMS returned it.
    pub policy: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrailState {
    pub name: String,
    pub arn: String,
    pub home_region: String,
    pub bucket: String,
    /// A key prefix moves the logs out of `AWSLogs/ACCOUNT/`, where the bucket policy lets
    /// CloudTrail write.
    pub s3_key_prefix: Option<String>,
    pub multi_region: bool,
    pub global_service_events: bool,
    pub log_file_validation: bool,
    pub kms_key_id: Option<String>,
    pub logging: bool,
    /// Management events, read and write, are recorded.
    pub management_events: bool,
    /// Another account's trail (an organization trail seen from a member account, say) whose
    /// status could not be read: never adopted.
    pub read_error: Option<String>,
    /// `LatestDeliveryError` with no successful delivery attempt after it: logs are not arriving.
    pub delivery_error: Option<String>,
    /// The trail's advanced event selectors (empty when it uses basic ones).
    pub advanced_selectors: Vec<AdvancedSelector>,
}

/// An advanced event selector as plain data, in CloudTrail's field names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdvancedSelector {
    pub name: Option<String>,
    pub fields: Vec<FieldSelector>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

impl AdvancedSelector {
    /// All management events, read and write ("Logging management events", CloudTrail user guide).
    pub fn management_events() -> AdvancedSelector {
        AdvancedSelector {
            name: Some("Management events (aws-harden)".into()),
            fields: vec![FieldSelector {
                field: "eventCategory".into(),
                equals: vec!["Management".into()],
                ..FieldSelector::default()
            }],
        }
    }

    fn from_sdk(a: &aws_sdk_cloudtrail::types::AdvancedEventSelector) -> AdvancedSelector {
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

    fn to_sdk(&self) -> anyhow::Result<aws_sdk_cloudtrail::types::AdvancedEventSelector> {
        let mut b =
            aws_sdk_cloudtrail::types::AdvancedEventSelector::builder().set_name(self.name.clone());
        for f in &self.fields {
            let opt = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
            b = b.field_selectors(
                aws_sdk_cloudtrail::types::AdvancedFieldSelector::builder()
                    .field(&f.field)
                    .set_equals(opt(&f.equals))
                    .set_starts_with(opt(&f.starts_with))
                    .set_ends_with(opt(&f.ends_with))
                    .set_not_equals(opt(&f.not_equals))
                    .set_not_starts_with(opt(&f.not_starts_with))
                    .set_not_ends_with(opt(&f.not_ends_with))
                    .build()?,
            );
        }
        Ok(b.build()?)
    }
}

/// A trail's settings as the plan wants them (every boolean on).
#[derive(Clone, Debug, PartialEq)]
pub struct TrailSettings {
    pub name: String,
    pub bucket: String,
    pub kms_key: KmsKey,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Several of the others, in order (never nested): one change shown, several writes.
    Steps(Vec<Op>),
    /// `CreateKey` with the policy, then `CreateAlias`.
    CreateKey {
        alias: String,
        policy: String,
    },
    EnableKeyRotation {
        alias: String,
    },
    PutKeyPolicy {
        alias: String,
        policy: String,
    },
    /// `CreateTrail`; a trail of that name created meanwhile (`TrailAlreadyExists`) is updated.
    CreateTrail(TrailSettings),
    UpdateTrail(TrailSettings),
    /// Management events, read and write.
    PutEventSelectors {
        trail: String,
    },
    /// The trail's advanced event selectors as they are, plus one recording management events: a
    /// trail uses basic or advanced selectors, and putting basic ones would drop the advanced ones
    /// (PutEventSelectors, CloudTrail API reference).
    PutAdvancedEventSelectors {
        trail: String,
        selectors: Vec<AdvancedSelector>,
    },
    StartLogging {
        trail: String,
    },
}

pub fn trail_arn(partition: &str, region: &str, account_id: &str, name: &str) -> String {
    format!("arn:{partition}:cloudtrail:{region}:{account_id}:trail/{name}")
}

/// The key policy: the account keeps full control through IAM (without this statement the key
/// becomes unmanageable), and CloudTrail may generate data keys and describe the key only for this
/// trail, encrypting only with an encryption context naming one of this account's trails.
/// Follows "Configure AWS KMS key policies for CloudTrail" in the CloudTrail user guide.
pub fn key_policy(partition: &str, account_id: &str, trail_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": "aws-harden-cloudtrail-key",
        "Statement": [
            {
                "Sid": "EnableIAMUserPermissions",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{partition}:iam::{account_id}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "AllowCloudTrailToEncryptLogs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": trail_arn},
                    // A wildcard ARN: StringLike, never StringEquals (which would never match).
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn":
                            format!("arn:{partition}:cloudtrail:*:{account_id}:trail/*")
                    }
                }
            },
            {
                "Sid": "AllowCloudTrailToDescribeKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}
            },
            {
                // Listed as required "if you are using an existing S3 bucket with an S3 Bucket Key"
                // (same page): principals of this account may decrypt, only CloudTrail log data of
                // this account's trails.
                "Sid": "AllowAccountToDecryptCloudTrailLogs",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account_id},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn":
                            format!("arn:{partition}:cloudtrail:*:{account_id}:trail/*")
                    }
                }
            }
        ]
    })
}

/// CloudTrail's two bucket-policy statements (names as AWS documents them), scoped to this trail.
pub fn trail_bucket_statements(
    partition: &str,
    account_id: &str,
    bucket: &str,
    trail_arn: &str,
) -> Vec<Value> {
    let arn = bucket::bucket_arn(partition, bucket);
    vec![
        json!({
            "Sid": "AWSCloudTrailAclCheck20150319",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": arn,
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}
        }),
        json!({
            "Sid": "AWSCloudTrailWrite20150319",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": format!("{arn}/AWSLogs/{account_id}/*"),
            "Condition": {"StringEquals": {
                "s3:x-amz-acl": "bucket-owner-full-control",
                "aws:SourceArn": trail_arn
            }}
        }),
    ]
}

/// The buckets the plan wants: (access-log bucket, trail bucket).
pub fn bucket_specs(
    plan: &CloudTrailPlan,
    home_region: &str,
    caller: &Caller,
    key: KmsKey,
) -> (Option<BucketSpec>, BucketSpec) {
    let p = caller.partition.as_str();
    let account = caller.account_id.as_str();
    let arn = trail_arn(p, home_region, account, &plan.trail_name);
    // retention_days is the whole lifetime of a log file, old versions included.
    let expire =
        (plan.retention_days > 0).then(|| bucket::Retention::lifetime(plan.retention_days));
    let logging = (!plan.access_log_bucket.is_empty()).then(|| AccessLogging {
        target_bucket: plan.access_log_bucket.clone(),
        target_prefix: format!("{}/", plan.bucket),
    });
    let log_spec = logging.as_ref().map(|l| BucketSpec {
        name: l.target_bucket.clone(),
        region: home_region.to_string(),
        // Server access logs can only be delivered to a bucket encrypted with SSE-S3.
        encryption: Encryption::SseS3,
        retention: expire,
        statements: vec![bucket::access_log_delivery_statement(
            p,
            account,
            &l.target_bucket,
            &l.target_prefix,
            &plan.bucket,
        )],
        access_logging: None,
    });
    let trail_spec = BucketSpec {
        name: plan.bucket.clone(),
        region: home_region.to_string(),
        encryption: Encryption::SseKms(key),
        retention: expire,
        statements: trail_bucket_statements(p, account, &plan.bucket, &arn),
        access_logging: logging,
    };
    (log_spec, trail_spec)
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

/// A trail set up as planned that does not deliver its logs is not in line: a pending manual action
/// naming the error and its likely cause. Right after this run wrote to the trail, its bucket or key,
/// the next delivery (every few minutes) has not happened yet: a warning instead.
fn delivery_check(ctx: &DiffContext, d: &mut Diff, t: &TrailState) {
    let Some(error) = &t.delivery_error else {
        return;
    };
    let cause = delivery_cause(error, &t.bucket);
    if ctx.written.contains(&CONTROL) {
        d.notice(
            Notice::warning(
                CONTROL,
                format!(
                    "trail {} last failed to deliver logs ({error}; likely {cause}). This run changed the trail, its \
                     bucket or key: awaiting the next delivery (every few minutes); run --plan again shortly to confirm.",
                    t.name
                ),
            )
            .cis(&["3.1"]),
        );
        return;
    }
    d.push(
        Change::new(
            CONTROL,
            format!("cloudtrail trail \"{}\" log delivery", t.name),
            Action::Manual,
            super::Op::Manual,
        )
        .field("latest delivery error", Some(error), None::<String>)
        .cis(&["3.1"])
        .note(format!(
            "CloudTrail could not deliver logs to {} ({error}) and no delivery succeeded since. Likely cause: {cause}. \
             Once fixed, CloudTrail delivers again within minutes; run --plan again to confirm.",
            t.bucket
        )),
    );
}

/// What a delivery error most likely means, for a person.
fn delivery_cause(error: &str, bucket: &str) -> String {
    let e = error.to_ascii_lowercase();
    if e.contains("nosuchbucket") {
        format!("the bucket {bucket} does not exist (deleted?)")
    } else if e.contains("kms") {
        "the KMS key: its policy must let cloudtrail.amazonaws.com kms:GenerateDataKey*, and it must be enabled".into()
    } else if e.contains("accessdenied") {
        format!(
            "the bucket policy of {bucket} (cloudtrail.amazonaws.com needs s3:PutObject on AWSLogs/ACCOUNT/*), or the \
             KMS key policy for an encrypted trail"
        )
    } else {
        format!("the bucket {bucket}, its policy or the trail's KMS key")
    }
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

/// What a trail lacks against the plan: (field, live, wanted). `bucket` and `key_arn` are checked
/// only when given (an adopted trail may log into its own bucket with its own key).
fn shortfalls(
    t: &TrailState,
    bucket: Option<&str>,
    key_arn: Option<&str>,
) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let mut flag = |field: &'static str, ok: bool, live: bool| {
        if !ok {
            out.push((field, live.to_string(), "true".to_string()));
        }
    };
    flag("multi-region", t.multi_region, t.multi_region);
    flag(
        "global service events",
        t.global_service_events,
        t.global_service_events,
    );
    flag(
        "log file validation",
        t.log_file_validation,
        t.log_file_validation,
    );
    if let Some(b) = bucket {
        if t.bucket != b {
            out.push(("s3 bucket", t.bucket.clone(), b.to_string()));
        }
        if let Some(prefix) = &t.s3_key_prefix {
            out.push(("s3 key prefix", prefix.clone(), "(none)".to_string()));
        }
    }
    let key_ok = match key_arn {
        Some(arn) => t
            .kms_key_id
            .as_deref()
            .is_some_and(|k| k == arn || arn.ends_with(&format!("/{k}"))),
        None => t.kms_key_id.is_some(),
    };
    if !key_ok {
        out.push((
            "kms key",
            t.kms_key_id.clone().unwrap_or_else(|| "(none)".into()),
            key_arn.unwrap_or("a customer-managed key").to_string(),
        ));
    }
    out
}

/// A trail that meets the plan in everything but its name, bucket and key.
fn adoptable(t: &TrailState) -> bool {
    t.read_error.is_none()
        && shortfalls(t, None, None).is_empty()
        && t.logging
        && t.management_events
}

pub fn diff(ctx: &DiffContext, o: &Observed) -> Diff {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.cloudtrail() else {
        return d;
    };
    let caller = ctx.caller;
    let home = &ctx.plan.home_region;
    let arn = trail_arn(
        &caller.partition,
        home,
        &caller.account_id,
        &plan.trail_name,
    );

    if o.trail.is_none()
        && plan.adopt_existing
        && let Some(t) = o.other_trails.iter().find(|t| adoptable(t))
    {
        d.notice(
            Notice::info(
                CONTROL,
                format!(
                    "trail {} ({}) already meets the plan (multi-region, global service events, log file validation, \
                     KMS, logging, management events): adopted instead of creating {} (a second trail of management \
                     events is billed). Its bucket {} and key are not managed by this plan.",
                    t.name, t.arn, plan.trail_name, t.bucket
                ),
            )
            .cis(&["3.1", "3.2", "3.5"]),
        );
        delivery_check(ctx, &mut d, t);
        return d;
    }
    for t in &o.other_trails {
        let mut lacks: Vec<String> = shortfalls(t, None, None)
            .into_iter()
            .map(|(f, _, _)| f.to_string())
            .collect();
        if !t.logging {
            lacks.push("logging".into());
        }
        if !t.management_events {
            lacks.push("management events".into());
        }
        let what = if let Some(e) = &t.read_error {
            format!("could not be read ({e})")
        } else if lacks.is_empty() {
            "also meets the plan".to_string()
        } else {
            format!("falls short of the plan ({})", lacks.join(", "))
        };
        d.notice(Notice::warning(
            CONTROL,
            format!(
                "trail {} {what}; it is left as it is and {} is managed instead. A second trail recording management \
                 events is billed: delete one of them if you do not need both.",
                t.name, plan.trail_name
            ),
        ));
    }

    // The KMS key.
    let alias = plan.kms_key_alias.clone();
    let key_resource = format!("kms key \"{alias}\"");
    let desired_key_policy = key_policy(&caller.partition, &caller.account_id, &arn);
    let key_op = |op: Op| super::Op::Cloudtrail(op);
    match &o.key {
        None => {
            d.push(
                Change::new(
                    CONTROL,
                    &key_resource,
                    Action::Create,
                    key_op(Op::CreateKey {
                        alias: alias.clone(),
                        policy: desired_key_policy.to_string(),
                    }),
                )
                .field("key", None::<String>, Some("customer-managed, symmetric"))
                .field(
                    "key policy",
                    None::<String>,
                    Some("account via IAM; CloudTrail for this trail only"),
                )
                .cis(&["3.5"]),
            );
            d.push(
                Change::new(
                    CONTROL,
                    &key_resource,
                    Action::Create,
                    key_op(Op::EnableKeyRotation {
                        alias: alias.clone(),
                    }),
                )
                .field("automatic rotation", None::<String>, Some("on"))
                .cis(&["3.6"]),
            );
        }
        Some(k) if !k.customer_managed => {
            d.push(
                Change::new(CONTROL, &key_resource, Action::Manual, super::Op::Manual)
                    .note(format!(
                        "{alias} points to an AWS-managed key; CIS 3.5 needs a customer-managed key. Choose another \
                         kms_key_alias in the plan."
                    ))
                    .cis(&["3.5"]),
            );
        }
        Some(k) if !k.enabled || k.state != "Enabled" => {
            // Nothing else can be written to it (rotation, policy): KMSInvalidStateException.
            let what = match k.state.as_str() {
                "PendingDeletion" => {
                    "scheduled for deletion: cancel the deletion in the KMS console (Key actions > \
                                      Cancel key deletion), then enable it"
                        .to_string()
                }
                "Disabled" => {
                    "disabled: enable it in the KMS console (Key actions > Enable)".to_string()
                }
                other => format!(
                    "in state {other}, not Enabled: make it usable or choose another kms_key_alias"
                ),
            };
            d.push(
                Change::new(CONTROL, &key_resource, Action::Manual, super::Op::Manual)
                    .field("key state", Some(&k.state), Some("Enabled"))
                    .note(format!(
                        "The key behind {alias} is {what}. Until then CloudTrail cannot encrypt with it, and aws-harden \
                         changes nothing on it."
                    ))
                    .cis(&["3.5"]),
            );
        }
        Some(k) => {
            if !k.rotation {
                d.push(
                    Change::new(
                        CONTROL,
                        &key_resource,
                        Action::Update,
                        key_op(Op::EnableKeyRotation {
                            alias: alias.clone(),
                        }),
                    )
                    .field("automatic rotation", Some("off"), Some("on"))
                    .cis(&["3.6"]),
                );
            }
            let policy_ok = k
                .policy
                .as_deref()
                .is_some_and(|p| policy::live_matches(p, &desired_key_policy));
            if !policy_ok {
                d.push(
                    Change::new(
                        CONTROL,
                        &key_resource,
                        Action::Update,
                        key_op(Op::PutKeyPolicy {
                            alias: alias.clone(),
                            policy: desired_key_policy.to_string(),
                        }),
                    )
                    .field(
                        "key policy",
                        Some("different"),
                        Some("account via IAM; CloudTrail for this trail only"),
                    )
                    .cis(&["3.5"]),
                );
            }
        }
    }

    // The buckets: the access-log target first, so the trail bucket can log into it.
    let key_ref = match &o.key {
        Some(k) => KmsKey::Arn(k.arn.clone()),
        None => KmsKey::Alias(alias.clone()),
    };
    let (log_spec, trail_spec) = bucket_specs(plan, home, caller, key_ref.clone());
    if let Some(spec) = &log_spec {
        let observed = o.access_log_bucket.clone().unwrap_or_default();
        d.extend(bucket::diff(CONTROL, spec, &observed, caller));
    }
    d.extend(bucket::diff(CONTROL, &trail_spec, &o.bucket, caller));

    // The trail.
    let settings = TrailSettings {
        name: plan.trail_name.clone(),
        bucket: plan.bucket.clone(),
        kms_key: key_ref,
    };
    let resource = format!("cloudtrail trail \"{}\"", plan.trail_name);
    let key_arn = o.key.as_ref().map(|k| k.arn.as_str());
    match &o.trail {
        None => {
            d.push(
                Change::new(
                    CONTROL,
                    &resource,
                    Action::Create,
                    super::Op::Cloudtrail(Op::CreateTrail(settings)),
                )
                .field("s3 bucket", None::<String>, Some(&plan.bucket))
                .field("multi-region", None::<String>, Some("true"))
                .field("global service events", None::<String>, Some("true"))
                .field("log file validation", None::<String>, Some("true"))
                .field("kms key", None::<String>, Some(&alias))
                .cis(&["3.1", "3.2", "3.5"]),
            );
            d.push(
                Change::new(
                    CONTROL,
                    &resource,
                    Action::Create,
                    super::Op::Cloudtrail(Op::PutEventSelectors {
                        trail: plan.trail_name.clone(),
                    }),
                )
                .field("management events", None::<String>, Some("read and write"))
                .cis(&["3.1"]),
            );
            d.push(
                Change::new(
                    CONTROL,
                    &resource,
                    Action::Create,
                    super::Op::Cloudtrail(Op::StartLogging {
                        trail: plan.trail_name.clone(),
                    }),
                )
                .field("logging", None::<String>, Some("on"))
                .cis(&["3.1"]),
            );
        }
        Some(t) => {
            let lacks = shortfalls(t, Some(&plan.bucket), key_arn);
            if !lacks.is_empty() {
                let mut c = Change::new(
                    CONTROL,
                    &resource,
                    Action::Update,
                    super::Op::Cloudtrail(Op::UpdateTrail(settings)),
                )
                .cis(&["3.1", "3.2", "3.5"]);
                for (field, before, after) in lacks {
                    c = c.field(field, Some(before), Some(after));
                }
                d.push(c);
            }
            if !t.management_events {
                let op = if t.advanced_selectors.is_empty() {
                    Op::PutEventSelectors {
                        trail: plan.trail_name.clone(),
                    }
                } else {
                    let mut selectors = t.advanced_selectors.clone();
                    selectors.push(AdvancedSelector::management_events());
                    Op::PutAdvancedEventSelectors {
                        trail: plan.trail_name.clone(),
                        selectors,
                    }
                };
                d.push(
                    Change::new(
                        CONTROL,
                        &resource,
                        Action::Update,
                        super::Op::Cloudtrail(op),
                    )
                    .field(
                        "management events",
                        Some("not all recorded"),
                        Some("read and write"),
                    )
                    .cis(&["3.1"]),
                );
            }
            if !t.logging {
                d.push(
                    Change::new(
                        CONTROL,
                        &resource,
                        Action::Update,
                        super::Op::Cloudtrail(Op::StartLogging {
                            trail: plan.trail_name.clone(),
                        }),
                    )
                    .field("logging", Some("off"), Some("on"))
                    .cis(&["3.1"]),
                );
            }
        }
    }
    d.changes = merge_by_resource(std::mem::take(&mut d.changes));
    if let Some(t) = &o.trail {
        delivery_check(ctx, &mut d, t);
    }
    if plan.access_log_bucket.is_empty() {
        d.notice(
            Notice::info(
                CONTROL,
                "server access logging of the trail bucket is off (access_log_bucket is empty); CIS 3.4 asks for it",
            )
            .cis(&["3.4"]),
        );
    }
    d
}

/// Consecutive writes on the same key or trail become one change (all fields, one `Op::Steps`),
/// so the trail reads as one resource, like the buckets do.
fn merge_by_resource(changes: Vec<Change>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    for c in changes {
        let Some(prev) = out.last_mut() else {
            out.push(c);
            continue;
        };
        let (super::Op::Cloudtrail(prev_op), super::Op::Cloudtrail(op)) = (&prev.op, &c.op) else {
            out.push(c);
            continue;
        };
        if prev.resource != c.resource {
            out.push(c);
            continue;
        }
        let mut steps = match prev_op {
            Op::Steps(s) => s.clone(),
            other => vec![other.clone()],
        };
        steps.push(op.clone());
        prev.op = super::Op::Cloudtrail(Op::Steps(steps));
        if prev.action != c.action {
            prev.action = Action::Update;
        }
        prev.fields.extend(c.fields);
        for id in c.cis {
            if !prev.cis.contains(&id) {
                prev.cis.push(id);
            }
        }
    }
    out
}

/// Bounded backoff for CloudTrail's checks of a just-written bucket or key policy.
const POLICY_RETRY_DELAYS: [u64; 5] = [1, 2, 4, 8, 15];

pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::Steps(steps) => {
            for step in steps {
                apply_one(aws, step).await?;
            }
            Ok(())
        }
        other => apply_one(aws, other).await,
    }
}

async fn apply_one(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::Steps(_) => anyhow::bail!("nested trail steps (a bug in aws-harden)"),
        Op::CreateKey { alias, policy } => {
            let key_id = kms::create_tagged_key(
                aws,
                alias,
                &format!("aws-harden: encrypts CloudTrail logs ({alias})"),
                policy,
            )
            .await?;
            // A retried CreateAlias whose first answer was lost finds the alias made: fine (the
            // verification then checks which key it names). The key may not be visible yet.
            created_or_exists(
                kms::when_key_visible(&format!("naming KMS key {key_id} {alias}"), || {
                    aws.kms
                        .create_alias()
                        .alias_name(alias)
                        .target_key_id(&key_id)
                        .send()
                })
                .await,
                &["AlreadyExistsException"],
                format!(
                    "naming KMS key {key_id} {alias} (the key exists without the alias: schedule its deletion or \
                     alias it by hand)"
                ),
            )?;
        }
        Op::EnableKeyRotation { alias } => {
            let arn = bucket::resolve_alias(aws, alias).await?;
            let what = format!("turning on rotation of KMS key {alias}");
            kms::when_key_visible(&what, || aws.kms.enable_key_rotation().key_id(&arn).send())
                .await
                .describe(what)?;
        }
        Op::PutKeyPolicy { alias, policy } => {
            let arn = bucket::resolve_alias(aws, alias).await?;
            let what = format!("putting the key policy of KMS key {alias}");
            kms::when_key_visible(&what, || {
                aws.kms
                    .put_key_policy()
                    .key_id(&arn)
                    .policy_name("default")
                    .policy(policy)
                    .send()
            })
            .await
            .describe(what)?;
        }
        Op::CreateTrail(s) | Op::UpdateTrail(s) => {
            let key_arn = match &s.kms_key {
                KmsKey::Arn(a) => a.clone(),
                KmsKey::Alias(alias) => bucket::resolve_alias(aws, alias).await?,
            };
            write_trail(aws, s, &key_arn, matches!(op, Op::CreateTrail(_))).await?;
        }
        Op::PutEventSelectors { trail } => {
            aws.cloudtrail
                .put_event_selectors()
                .trail_name(trail)
                .event_selectors(
                    EventSelector::builder()
                        .read_write_type(ReadWriteType::All)
                        .include_management_events(true)
                        .build(),
                )
                .send()
                .await
                .describe(format!("recording management events in trail {trail}"))?;
        }
        Op::PutAdvancedEventSelectors { trail, selectors } => {
            let sdk = selectors
                .iter()
                .map(AdvancedSelector::to_sdk)
                .collect::<anyhow::Result<Vec<_>>>()?;
            aws.cloudtrail
                .put_event_selectors()
                .trail_name(trail)
                .set_advanced_event_selectors(Some(sdk))
                .send()
                .await
                .describe(format!(
                    "adding management events to the advanced event selectors of trail {trail}"
                ))?;
        }
        Op::StartLogging { trail } => {
            aws.cloudtrail
                .start_logging()
                .name(trail)
                .send()
                .await
                .describe(format!("starting logging of trail {trail}"))?;
        }
    }
    Ok(())
}

/// What went wrong when CloudTrail refuses a policy, for a person.
enum PolicyRefusal {
    Bucket(String),
    Encryption(String),
    /// `KmsKeyNotFoundException`: a key created a moment ago, not yet visible to CloudTrail (KMS is
    /// eventually consistent), or a key that is really gone.
    KeyNotFound(String),
}

/// `CreateTrail` (or `UpdateTrail`), retrying CloudTrail's policy checks with bounded backoff.
async fn write_trail(
    aws: &Aws,
    s: &TrailSettings,
    key_arn: &str,
    create: bool,
) -> anyhow::Result<()> {
    let mut create = create;
    let mut attempt = 0;
    let managed_by = aws_sdk_cloudtrail::types::Tag::builder()
        .key(crate::aws::MANAGED_BY_TAG.0)
        .value(crate::aws::MANAGED_BY_TAG.1)
        .build()?;
    loop {
        // The error's code and message, alike for both calls.
        fn failure<E, R>(e: SdkError<E, R>) -> (Option<String>, String)
        where
            E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
            R: std::fmt::Debug + Send + Sync + 'static,
        {
            (error_code(&e).map(str::to_string), error_chain(&e))
        }
        let result = if create {
            aws.cloudtrail
                .create_trail()
                .name(&s.name)
                .tags_list(managed_by.clone())
                .s3_bucket_name(&s.bucket)
                .is_multi_region_trail(true)
                .include_global_service_events(true)
                .enable_log_file_validation(true)
                .kms_key_id(key_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(failure)
        } else {
            aws.cloudtrail
                .update_trail()
                .name(&s.name)
                .s3_bucket_name(&s.bucket)
                // No prefix: the bucket policy allows AWSLogs/ACCOUNT/* only.
                .s3_key_prefix("")
                .is_multi_region_trail(true)
                .include_global_service_events(true)
                .enable_log_file_validation(true)
                .kms_key_id(key_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(failure)
        };
        let refusal = match result {
            Ok(()) => return Ok(()),
            // A half-finished earlier run (or a concurrent one) created it: carry on with an update.
            Err((Some(code), _)) if create && code == "TrailAlreadyExistsException" => {
                create = false;
                continue;
            }
            Err((Some(code), msg)) if code == "InsufficientS3BucketPolicyException" => {
                PolicyRefusal::Bucket(msg)
            }
            Err((Some(code), msg)) if code == "InsufficientEncryptionPolicyException" => {
                PolicyRefusal::Encryption(msg)
            }
            Err((Some(code), msg)) if code == "KmsKeyNotFoundException" => {
                PolicyRefusal::KeyNotFound(msg)
            }
            Err((_, msg)) => {
                let doing = if create { "creating" } else { "updating" };
                return Err(anyhow!("{doing} trail {}: {msg}", s.name));
            }
        };
        if let Some(delay) = POLICY_RETRY_DELAYS.get(attempt) {
            attempt += 1;
            tracing::info!(attempt, delay, "CloudTrail refused a policy; retrying");
            tokio::time::sleep(Duration::from_secs(*delay)).await;
            continue;
        }
        return Err(match refusal {
            PolicyRefusal::Bucket(msg) => anyhow!(
                "CloudTrail cannot write to s3 bucket {} (InsufficientS3BucketPolicyException, still after {} retries): \
                 the bucket policy must allow cloudtrail.amazonaws.com s3:GetBucketAcl and s3:PutObject on \
                 {}/AWSLogs/{}/* for this trail; check that nobody changed it. {msg}",
                s.bucket,
                POLICY_RETRY_DELAYS.len(),
                s.bucket,
                aws.account_id()
            ),
            PolicyRefusal::KeyNotFound(msg) => anyhow!(
                "CloudTrail cannot find the KMS key {key_arn} (KmsKeyNotFoundException, still after {} retries): \
                 check that it exists, is enabled and is in {}. {msg}",
                POLICY_RETRY_DELAYS.len(),
                aws.home_region
            ),
            PolicyRefusal::Encryption(msg) => {
                let culprit = encryption_culprit(aws, s, key_arn).await;
                anyhow!(
                    "CloudTrail cannot encrypt with the KMS key or use the bucket (InsufficientEncryptionPolicyException, \
                     still after {} retries): {culprit}. {msg}",
                    POLICY_RETRY_DELAYS.len()
                )
            }
        });
    }
}

/// Which of the two is at fault after `InsufficientEncryptionPolicyException`: the key (its state,
/// or a policy missing what CloudTrail needs) or the bucket. Reads the key back; the verdict is
/// `culprit`'s.
async fn encryption_culprit(aws: &Aws, s: &TrailSettings, key_arn: &str) -> String {
    let trail = trail_arn(
        &aws.caller.partition,
        &aws.home_region,
        aws.account_id(),
        &s.name,
    );
    let required = key_policy(&aws.caller.partition, aws.account_id(), &trail);
    let (described, live) = tokio::join!(
        aws.kms.describe_key().key_id(key_arn).send(),
        aws.kms
            .get_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .send()
    );
    let state = described
        .map(|d| {
            d.key_metadata
                .and_then(|m| m.key_state)
                .map(|k| k.as_str().to_string())
        })
        .map_err(|e| error_chain(&e));
    let live = live.map(|p| p.policy).map_err(|e| error_chain(&e));
    culprit(key_arn, &s.bucket, state, live, &required)
}

/// The verdict, pure: the key is blamed unless it is enabled and its policy holds every statement
/// CloudTrail needs (by meaning; other statements may be there too). Only then is it the bucket.
fn culprit(
    key_arn: &str,
    bucket: &str,
    state: Result<Option<String>, String>,
    live_policy: Result<Option<String>, String>,
    required: &Value,
) -> String {
    match state {
        Ok(Some(s)) if s == "Enabled" => {}
        Ok(Some(s)) => {
            return format!(
                "the KMS key {key_arn} is at fault: it is {s}, not Enabled (enable it, or cancel its deletion)"
            );
        }
        Ok(None) => return format!("the KMS key {key_arn} is at fault: KMS did not say its state"),
        Err(e) => return format!("probably the KMS key {key_arn}: it could not be read ({e})"),
    }
    match live_policy {
        Ok(Some(raw))
            if policy::parse_document(&raw)
                .is_ok_and(|live| policy::contains_statements(&live, required)) =>
        {
            format!(
                "the key {key_arn} is enabled and its policy lets CloudTrail use it, so the bucket {bucket} is at fault \
                 (its default encryption or policy)"
            )
        }
        Ok(_) => format!(
            "the KMS key {key_arn} is at fault: its key policy does not let cloudtrail.amazonaws.com \
             kms:GenerateDataKey* and kms:DescribeKey for this trail, or the account kms:Decrypt (needed with S3 \
             Bucket Keys)"
        ),
        Err(e) => {
            format!("probably the KMS key {key_arn}: its policy could not be read back ({e})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::parse;

    const ACCOUNT: &str = "123456789012";
    const TRAIL_ARN: &str = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/aws-harden";
    const KEY_ARN: &str =
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn plan(extra: &str) -> Plan {
        parse(&format!(
            "version = 1\nhome_region = \"eu-west-1\"\n[cloudtrail]\n{extra}"
        ))
        .unwrap()
        .pipe_resolve()
    }

    trait Resolve {
        fn pipe_resolve(self) -> Plan;
    }
    impl Resolve for Plan {
        fn pipe_resolve(self) -> Plan {
            crate::plan::resolve(
                &self,
                &crate::plan::Placeholders {
                    account_id: ACCOUNT.into(),
                    home_region: "eu-west-1".into(),
                },
            )
            .unwrap()
        }
    }

    fn caller() -> Caller {
        Caller::from_arn(ACCOUNT, "arn:aws:iam::123456789012:user/alice", None, false)
    }

    fn ctx<'a>(plan: &'a Plan, caller: &'a Caller) -> DiffContext<'a> {
        DiffContext {
            plan,
            caller,
            interactive: false,
            written: &[],
        }
    }

    fn good_trail() -> TrailState {
        TrailState {
            name: "aws-harden".into(),
            arn: TRAIL_ARN.into(),
            home_region: "eu-west-1".into(),
            bucket: "aws-harden-trail-123456789012-eu-west-1".into(),
            s3_key_prefix: None,
            multi_region: true,
            global_service_events: true,
            log_file_validation: true,
            kms_key_id: Some(KEY_ARN.into()),
            logging: true,
            management_events: true,
            read_error: None,
            delivery_error: None,
            advanced_selectors: Vec::new(),
        }
    }

    #[test]
    fn a_key_that_is_not_enabled_is_a_manual_action_and_nothing_is_written_to_it() {
        let p = plan("");
        let c = caller();
        for (state, hint) in [
            ("PendingDeletion", "Cancel key deletion"),
            ("Disabled", "Enable"),
        ] {
            let mut o = converged(&p);
            let k = o.key.as_mut().unwrap();
            k.enabled = false;
            k.state = state.into();
            // As observed: rotation and policy cannot be read from such a key.
            k.rotation = false;
            k.policy = None;
            let d = diff(&ctx(&p, &c), &o);
            let key_changes: Vec<_> = d
                .changes
                .iter()
                .filter(|c| c.resource.starts_with("kms key"))
                .collect();
            assert_eq!(key_changes.len(), 1, "{key_changes:#?}");
            assert_eq!(key_changes[0].action, Action::Manual);
            assert!(key_changes[0].note.as_deref().unwrap().contains(hint));
        }
    }

    #[test]
    fn advanced_selectors_are_kept_and_management_events_added() {
        let p = plan("");
        let c = caller();
        let mut o = converged(&p);
        let data_events = AdvancedSelector {
            name: Some("S3 data events".into()),
            fields: vec![
                FieldSelector {
                    field: "eventCategory".into(),
                    equals: vec!["Data".into()],
                    ..FieldSelector::default()
                },
                FieldSelector {
                    field: "resources.type".into(),
                    equals: vec!["AWS::S3::Object".into()],
                    ..FieldSelector::default()
                },
            ],
        };
        let t = o.trail.as_mut().unwrap();
        t.management_events = false;
        t.advanced_selectors = vec![data_events.clone()];
        let d = diff(&ctx(&p, &c), &o);
        let ops = all_ops(&d);
        assert!(
            ops.contains(&super::super::Op::Cloudtrail(
                Op::PutAdvancedEventSelectors {
                    trail: "aws-harden".into(),
                    selectors: vec![data_events, AdvancedSelector::management_events()],
                }
            )),
            "{ops:#?}"
        );
        assert!(!ops.iter().any(|op| matches!(
            op,
            super::super::Op::Cloudtrail(Op::PutEventSelectors { .. })
        )));
    }

    #[test]
    fn a_delivery_error_stands_until_a_later_attempt_succeeds() {
        let err = Some("AccessDenied");
        assert_eq!(failing_delivery(None, None, None), None);
        assert_eq!(failing_delivery(Some(""), None, None), None);
        // No attempt times: the error stands (a success nobody reported is not assumed).
        assert_eq!(
            failing_delivery(err, None, None).as_deref(),
            Some("AccessDenied")
        );
        let (attempt, before, after) = (
            Some("2026-12-01T10:05:00Z"),
            Some("2026-12-01T09:00:00Z"),
            Some("2026-12-01T10:05:00Z"),
        );
        assert!(failing_delivery(err, attempt, before).is_some());
        assert!(failing_delivery(err, attempt, after).is_none());
    }

    #[test]
    fn a_trail_that_does_not_deliver_is_pending_or_awaited_right_after_a_write() {
        let p = plan("");
        let c = caller();
        let mut o = converged(&p);
        assert!(diff(&ctx(&p, &c), &o).changes.is_empty());
        o.trail.as_mut().unwrap().delivery_error = Some("NoSuchBucket".into());
        let d = diff(&ctx(&p, &c), &o);
        assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
        assert_eq!(d.changes[0].action, Action::Manual);
        let note = d.changes[0].note.as_deref().unwrap();
        assert!(
            note.contains("NoSuchBucket") && note.contains("does not exist"),
            "{note}"
        );
        // Right after this run wrote to the trail: a warning, nothing pending.
        let written = [ControlId::Cloudtrail];
        let after = DiffContext {
            written: &written,
            ..ctx(&p, &c)
        };
        let d = diff(&after, &o);
        assert!(d.changes.is_empty());
        assert!(
            d.notices
                .iter()
                .any(|n| n.message.contains("awaiting the next delivery"))
        );
    }

    /// The account after an apply, with every document as AWS returns it.
    fn converged(p: &Plan) -> Observed {
        let ct = p.cloudtrail().unwrap();
        let (_, spec) = bucket_specs(ct, "eu-west-1", &caller(), KmsKey::Arn(KEY_ARN.into()));
        let mut statements = vec![bucket::tls_only_statement("aws", &spec.name)];
        statements.extend(spec.statements.clone());
        // As returned: service principals as lists, and the any-principal in its other spelling.
        for s in &mut statements {
            if s["Principal"] == json!({"AWS": "*"}) {
                s["Principal"] = json!("*");
            } else {
                s["Principal"]["Service"] = json!([s["Principal"]["Service"].clone()]);
            }
        }
        // KMS returns the account principal as written; IAM-style rewrite of a bare ID also ok.
        let mut kp = key_policy("aws", ACCOUNT, TRAIL_ARN);
        kp["Statement"][0]["Principal"]["AWS"] = json!(ACCOUNT);
        Observed {
            key: Some(KeyState {
                arn: KEY_ARN.into(),
                enabled: true,
                state: "Enabled".into(),
                customer_managed: true,
                rotation: true,
                policy: Some(kp.to_string()),
            }),
            trail: Some(good_trail()),
            other_trails: vec![],
            bucket: bucket::Observed {
                exists: true,
                public_access_block: Some([true; 4]),
                object_ownership: Some("BucketOwnerEnforced".into()),
                encryption: Some(bucket::LiveEncryption {
                    algorithm: "aws:kms".into(),
                    kms_key_id: Some(KEY_ARN.into()),
                }),
                versioning: Some("Enabled".into()),
                policy: Some(json!({"Version": "2012-10-17", "Statement": statements}).to_string()),
                lifecycle_rules: vec![
                    aws_sdk_s3::types::LifecycleRule::builder()
                        .id(bucket::RETENTION_RULE_ID)
                        .status(aws_sdk_s3::types::ExpirationStatus::Enabled)
                        .expiration(
                            // retention_days = 365 is the whole lifetime: 364 + 1.
                            aws_sdk_s3::types::LifecycleExpiration::builder()
                                .days(364)
                                .build(),
                        )
                        .noncurrent_version_expiration(
                            aws_sdk_s3::types::NoncurrentVersionExpiration::builder()
                                .noncurrent_days(1)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                ],
                logging: None,
            },
            access_log_bucket: None,
        }
    }

    /// Every write, in order, with the steps of merged changes flattened.
    fn all_ops(d: &Diff) -> Vec<super::super::Op> {
        use super::super::Op as Any;
        d.changes
            .iter()
            .flat_map(|c| match &c.op {
                Any::Cloudtrail(Op::Steps(s)) => s.iter().cloned().map(Any::Cloudtrail).collect(),
                Any::Bucket(bucket::Op::Steps(s)) => s.iter().cloned().map(Any::Bucket).collect(),
                other => vec![other.clone()],
            })
            .collect()
    }

    fn ops(d: &Diff) -> Vec<String> {
        d.changes
            .iter()
            .flat_map(|c| {
                let name = |debug: String| debug.split(['(', ' ', '{']).next().unwrap().to_string();
                match &c.op {
                    super::super::Op::Cloudtrail(Op::Steps(steps)) => {
                        steps.iter().map(|op| name(format!("{op:?}"))).collect()
                    }
                    super::super::Op::Cloudtrail(op) => vec![name(format!("{op:?}"))],
                    super::super::Op::Bucket(bucket::Op::Steps(steps)) => steps
                        .iter()
                        .map(|op| name(format!("Bucket::{op:?}")))
                        .collect(),
                    super::super::Op::Bucket(op) => vec![name(format!("Bucket::{op:?}"))],
                    other => vec![format!("{other:?}")],
                }
            })
            .collect()
    }

    #[test]
    fn a_key_problem_is_never_blamed_on_the_bucket() {
        let trail = trail_arn("aws", "us-east-1", ACCOUNT, "aws-harden");
        let required = key_policy("aws", ACCOUNT, &trail);
        let enabled = || Ok(Some("Enabled".to_string()));
        let as_live = |doc: &Value| Ok(Some(doc.to_string()));
        // Disabled or pending deletion: the key, whatever its policy says.
        for state in ["Disabled", "PendingDeletion"] {
            let v = culprit(
                "k",
                "b",
                Ok(Some(state.into())),
                as_live(&required),
                &required,
            );
            assert!(
                v.contains("KMS key k is at fault") && v.contains(state),
                "{v}"
            );
        }
        // The policy CloudTrail needs, but without the Bucket Key decrypt statement: the key.
        let mut no_decrypt = required.clone();
        no_decrypt["Statement"].as_array_mut().unwrap().pop();
        let v = culprit("k", "b", enabled(), as_live(&no_decrypt), &required);
        assert!(v.contains("KMS key k is at fault"), "{v}");
        // Everything needed, plus a statement someone added: the bucket.
        let mut extra = required.clone();
        extra["Statement"].as_array_mut().unwrap().push(json!({
            "Sid": "Auditors", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/Audit"},
            "Action": "kms:DescribeKey", "Resource": "*"}));
        let v = culprit("k", "b", enabled(), as_live(&extra), &required);
        assert!(v.contains("bucket b is at fault"), "{v}");
        // A policy that could not be read: not the bucket.
        let v = culprit("k", "b", enabled(), Err("AccessDenied".into()), &required);
        assert!(!v.contains("bucket b is at fault"), "{v}");
    }

    #[test]
    fn key_policy_is_the_documented_one() {
        let p = key_policy("aws", ACCOUNT, TRAIL_ARN);
        let s = p["Statement"].as_array().unwrap();
        // The account keeps control through IAM.
        assert_eq!(s[0]["Effect"], "Allow");
        assert_eq!(
            s[0]["Principal"],
            json!({"AWS": "arn:aws:iam::123456789012:root"})
        );
        assert_eq!(s[0]["Action"], "kms:*");
        assert_eq!(s[0]["Resource"], "*");
        // CloudTrail may generate data keys: for this trail, for this account's trails' context.
        assert_eq!(
            s[1]["Principal"],
            json!({"Service": "cloudtrail.amazonaws.com"})
        );
        assert_eq!(s[1]["Action"], "kms:GenerateDataKey*");
        assert_eq!(s[1]["Resource"], "*");
        assert_eq!(
            s[1]["Condition"],
            json!({
                "StringEquals": {"aws:SourceArn": TRAIL_ARN},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:123456789012:trail/*"}
            })
        );
        // The wildcard context never sits under StringEquals (it would never match).
        for st in s {
            if let Some(eq) = st["Condition"]["StringEquals"].as_object() {
                assert!(
                    eq.values().all(|v| !v.as_str().unwrap().contains('*')),
                    "{st}"
                );
            }
        }
        assert_eq!(
            s[2]["Principal"],
            json!({"Service": "cloudtrail.amazonaws.com"})
        );
        assert_eq!(s[2]["Action"], "kms:DescribeKey");
        assert_eq!(
            s[2]["Condition"],
            json!({"StringEquals": {"aws:SourceArn": TRAIL_ARN}})
        );
        // With S3 Bucket Keys, the account's principals may decrypt, only this account's trail logs.
        assert_eq!(s[3]["Principal"], json!({"AWS": "*"}));
        assert_eq!(s[3]["Action"], "kms:Decrypt");
        assert_eq!(
            s[3]["Condition"],
            json!({
                "StringEquals": {"kms:CallerAccount": ACCOUNT},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:123456789012:trail/*"}
            })
        );
        assert_eq!(s.len(), 4, "no other grant: {p:#}");
    }

    #[test]
    fn bucket_statements_are_the_documented_ones() {
        let s = trail_bucket_statements("aws", ACCOUNT, "b", TRAIL_ARN);
        assert_eq!(s[0]["Sid"], "AWSCloudTrailAclCheck20150319");
        assert_eq!(
            s[0]["Principal"],
            json!({"Service": "cloudtrail.amazonaws.com"})
        );
        assert_eq!(s[0]["Action"], "s3:GetBucketAcl");
        assert_eq!(s[0]["Resource"], "arn:aws:s3:::b");
        assert_eq!(
            s[0]["Condition"],
            json!({"StringEquals": {"aws:SourceArn": TRAIL_ARN}})
        );
        assert_eq!(s[1]["Sid"], "AWSCloudTrailWrite20150319");
        assert_eq!(
            s[1]["Principal"],
            json!({"Service": "cloudtrail.amazonaws.com"})
        );
        assert_eq!(s[1]["Action"], "s3:PutObject");
        assert_eq!(s[1]["Resource"], "arn:aws:s3:::b/AWSLogs/123456789012/*");
        assert_eq!(
            s[1]["Condition"],
            json!({"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN}})
        );
    }

    #[test]
    fn fresh_account_orders_key_bucket_policy_before_trail() {
        let p = plan("");
        let c = caller();
        let d = diff(&ctx(&p, &c), &Observed::default());
        let order = ops(&d);
        let pos = |name: &str| {
            order
                .iter()
                .position(|o| o == name)
                .unwrap_or_else(|| panic!("{name} in {order:?}"))
        };
        assert!(pos("CreateKey") < pos("CreateTrail"));
        assert!(pos("Bucket::Create") < pos("Bucket::PutPolicy"));
        assert!(pos("Bucket::PutPolicy") < pos("CreateTrail"));
        assert!(pos("CreateTrail") < pos("PutEventSelectors"));
        assert!(pos("PutEventSelectors") < pos("StartLogging"));
        // Shown as one change per resource: key, bucket, bucket policy, trail.
        let resources: Vec<&str> = d.changes.iter().map(|c| c.resource.as_str()).collect();
        assert_eq!(
            resources,
            [
                "kms key \"alias/aws-harden-cloudtrail\"",
                "s3 bucket \"aws-harden-trail-123456789012-eu-west-1\"",
                "s3 bucket policy \"aws-harden-trail-123456789012-eu-west-1\"",
                "cloudtrail trail \"aws-harden\"",
            ]
        );
        assert!(d.changes.iter().all(|c| c.action == Action::Create));
        // The key policy is written with the key itself.
        let all = all_ops(&d);
        let create_key = all
            .iter()
            .find_map(|op| match op {
                super::super::Op::Cloudtrail(Op::CreateKey { policy, .. }) => Some(policy.clone()),
                _ => None,
            })
            .unwrap();
        assert!(policy::live_matches(
            &create_key,
            &key_policy("aws", ACCOUNT, TRAIL_ARN)
        ));
        // The bucket is encrypted with the key created in the same run, by alias reference.
        assert!(all.iter().any(|op| matches!(op,
            super::super::Op::Bucket(bucket::Op::Encrypt { encryption: Encryption::SseKms(KmsKey::Alias(a)), .. })
            if a == "alias/aws-harden-cloudtrail")));
    }

    #[test]
    fn converged_account_as_aws_returns_it_has_no_changes() {
        let p = plan("");
        let c = caller();
        let d = diff(&ctx(&p, &c), &converged(&p));
        assert!(d.changes.is_empty(), "{:#?}", d.changes);
    }

    #[test]
    fn each_trail_and_key_drift_is_a_named_change() {
        let p = plan("");
        let c = caller();
        type Edit = fn(&mut Observed);
        let cases: [(&str, &str, Edit); 8] = [
            ("UpdateTrail", "s3 key prefix", |o| {
                o.trail.as_mut().unwrap().s3_key_prefix = Some("elsewhere".into())
            }),
            ("UpdateTrail", "s3 bucket", |o| {
                o.trail.as_mut().unwrap().bucket = "another-bucket".into()
            }),
            ("StartLogging", "logging", |o| {
                o.trail.as_mut().unwrap().logging = false
            }),
            ("UpdateTrail", "log file validation", |o| {
                o.trail.as_mut().unwrap().log_file_validation = false
            }),
            ("UpdateTrail", "multi-region", |o| {
                o.trail.as_mut().unwrap().multi_region = false
            }),
            ("UpdateTrail", "kms key", |o| {
                o.trail.as_mut().unwrap().kms_key_id = None
            }),
            ("EnableKeyRotation", "automatic rotation", |o| {
                o.key.as_mut().unwrap().rotation = false
            }),
            ("PutKeyPolicy", "key policy", |o| {
                o.key.as_mut().unwrap().policy = Some(
                    json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]})
                        .to_string(),
                )
            }),
        ];
        for (op, field, edit) in cases {
            let mut o = converged(&p);
            edit(&mut o);
            let d = diff(&ctx(&p, &c), &o);
            assert_eq!(ops(&d), [op], "{field}");
            assert!(
                d.changes[0].fields.iter().any(|f| f.field == field),
                "{field}: {:#?}",
                d.changes[0]
            );
            assert_eq!(d.changes[0].action, Action::Update);
        }
    }

    #[test]
    fn a_trail_meeting_the_plan_is_adopted_and_one_falling_short_is_not() {
        let p = plan("");
        let c = caller();
        let other = TrailState {
            name: "org-audit".into(),
            arn: "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-audit".into(),
            home_region: "us-east-1".into(),
            bucket: "someone-elses-bucket".into(),
            kms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/x".into()),
            ..good_trail()
        };
        let o = Observed {
            other_trails: vec![other.clone()],
            ..Observed::default()
        };
        let d = diff(&ctx(&p, &c), &o);
        assert!(d.changes.is_empty(), "{:#?}", d.changes);
        assert!(d.notices[0].message.contains("adopted"), "{:?}", d.notices);

        let unreadable = Observed {
            other_trails: vec![TrailState {
                read_error: Some("AccessDenied".into()),
                ..other.clone()
            }],
            ..Observed::default()
        };
        let d = diff(&ctx(&p, &c), &unreadable);
        assert!(ops(&d).contains(&"CreateTrail".to_string()));
        assert!(
            d.notices
                .iter()
                .any(|n| n.message.contains("could not be read (AccessDenied)")),
            "{:?}",
            d.notices
        );

        let no_adopt = plan("adopt_existing = false\n");
        let d = diff(&ctx(&no_adopt, &c), &o);
        assert!(ops(&d).contains(&"CreateTrail".to_string()));

        let short = Observed {
            other_trails: vec![TrailState {
                multi_region: false,
                ..other
            }],
            ..Observed::default()
        };
        let d = diff(&ctx(&p, &c), &short);
        assert!(ops(&d).contains(&"CreateTrail".to_string()));
        assert!(
            d.notices
                .iter()
                .any(|n| n.message.contains("org-audit falls short")
                    && n.message.contains("multi-region")),
            "{:?}",
            d.notices
        );
    }

    #[test]
    fn access_log_bucket_gets_the_logging_statement_and_sse_s3() {
        let p = plan("access_log_bucket = \"logs-{account_id}\"\n");
        let ct = p.cloudtrail().unwrap();
        let (log, trail) = bucket_specs(ct, "eu-west-1", &caller(), KmsKey::Arn(KEY_ARN.into()));
        let log = log.unwrap();
        assert_eq!(log.name, "logs-123456789012");
        assert_eq!(log.encryption, Encryption::SseS3);
        assert_eq!(
            log.statements[0]["Principal"],
            json!({"Service": "logging.s3.amazonaws.com"})
        );
        assert_eq!(
            log.statements[0]["Resource"],
            "arn:aws:s3:::logs-123456789012/aws-harden-trail-123456789012-eu-west-1/*"
        );
        assert_eq!(
            trail.access_logging,
            Some(AccessLogging {
                target_bucket: "logs-123456789012".into(),
                target_prefix: "aws-harden-trail-123456789012-eu-west-1/".into()
            })
        );
        let d = diff(&ctx(&p, &caller()), &Observed::default());
        let order = ops(&d);
        let first_log = d
            .changes
            .iter()
            .position(|c| c.resource.contains("logs-123456789012"))
            .unwrap();
        let trail_logging = order
            .iter()
            .position(|o| o == "Bucket::PutLogging")
            .unwrap();
        assert!(first_log < trail_logging);
    }
}
