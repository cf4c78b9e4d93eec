//! The writes: one `Op` (or its steps) at a time.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::types::{EventSelector, ReadWriteType};
use serde_json::Value;

use super::documents::{key_policy, trail_arn};
use super::types::{AdvancedSelector, Op, TrailSettings};
use crate::aws::{Aws, SdkResultExt, created_or_exists, error_chain, error_code};
use crate::bucket::{self, KmsKey};
use crate::kms;
use crate::policy;

impl AdvancedSelector {
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

/// Bounded backoff for CloudTrail's checks of a just-written bucket or key policy.
const POLICY_RETRY_DELAYS: [u64; 5] = [1, 2, 4, 8, 15];

pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::Bucket(op) => bucket::apply(aws, op).await?,
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
pub(super) fn culprit(
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
