//! The writes: one `Op` (or its steps) at a time, each passing this account as
//! `ExpectedBucketOwner`.

use anyhow::{anyhow, bail};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketLoggingStatus,
    BucketVersioningStatus, CreateBucketConfiguration, LoggingEnabled, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    VersioningConfiguration,
};

use aws_sdk_s3::types as s3;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use super::client::client;
use super::lifecycle::{LifecycleRule, Tag};
use super::types::{Encryption, KmsKey, Op};
use crate::aws::{Aws, SdkResultExt, error_chain};

/// Perform one write.
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    let owner = aws.account_id();
    match op {
        Op::Create { name, region } => {
            let mut req = client(aws, region)
                .create_bucket()
                .bucket(name)
                .object_ownership(ObjectOwnership::BucketOwnerEnforced);
            // us-east-1 is the default location and must not be named.
            if region != "us-east-1" {
                req = req.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region.as_str()))
                        .build(),
                );
            }
            match req.send().await {
                Ok(_) => {}
                Err(e) if crate::aws::error_code(&e) == Some("BucketAlreadyOwnedByYou") => {}
                Err(e) if crate::aws::error_code(&e) == Some("BucketAlreadyExists") => {
                    bail!(
                        "creating s3 bucket {name}: the name is taken by another AWS account; choose another bucket name in the plan"
                    )
                }
                Err(e) => return Err(anyhow!("creating s3 bucket {name}: {}", error_chain(&e))),
            }
            // Only on a bucket this run created (PutBucketTagging replaces the whole tag set).
            let (key, value) = crate::aws::MANAGED_BY_TAG;
            client(aws, region)
                .put_bucket_tagging()
                .bucket(name)
                .expected_bucket_owner(aws.account_id())
                .tagging(
                    aws_sdk_s3::types::Tagging::builder()
                        .tag_set(
                            aws_sdk_s3::types::Tag::builder()
                                .key(key)
                                .value(value)
                                .build()?,
                        )
                        .build()?,
                )
                .send()
                .await
                .describe(format!("tagging s3 bucket {name} {key}={value}"))?;
        }
        Op::BlockPublicAccess { name, region } => {
            client(aws, region)
                .put_public_access_block()
                .bucket(name)
                .expected_bucket_owner(owner)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .describe(format!("blocking public access to s3 bucket {name}"))?;
        }
        Op::OwnerEnforced { name, region } => {
            client(aws, region)
                .put_bucket_ownership_controls()
                .bucket(name)
                .expected_bucket_owner(owner)
                .ownership_controls(
                    OwnershipControls::builder()
                        .rules(
                            OwnershipControlsRule::builder()
                                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                                .build()?,
                        )
                        .build()?,
                )
                .send()
                .await
                .describe(format!("setting object ownership of s3 bucket {name}"))?;
        }
        Op::Encrypt {
            name,
            region,
            encryption,
        } => {
            let by_default = match encryption {
                Encryption::SseS3 => ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()?,
                Encryption::SseKms(key) => {
                    let arn = match key {
                        KmsKey::Arn(arn) => arn.clone(),
                        KmsKey::Alias(alias) => resolve_alias(aws, alias).await?,
                    };
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::AwsKms)
                        .kms_master_key_id(arn)
                        .build()?
                }
            };
            client(aws, region)
                .put_bucket_encryption()
                .bucket(name)
                .expected_bucket_owner(owner)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(
                            ServerSideEncryptionRule::builder()
                                .apply_server_side_encryption_by_default(by_default)
                                // S3 Bucket Keys cut KMS requests (and cost) for objects others put.
                                .bucket_key_enabled(matches!(encryption, Encryption::SseKms(_)))
                                .build(),
                        )
                        .build()?,
                )
                .send()
                .await
                .describe(format!("setting default encryption of s3 bucket {name}"))?;
        }
        Op::EnableVersioning { name, region } => {
            client(aws, region)
                .put_bucket_versioning()
                .bucket(name)
                .expected_bucket_owner(owner)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .describe(format!("enabling versioning of s3 bucket {name}"))?;
        }
        Op::PutPolicy {
            name,
            region,
            document,
        } => {
            client(aws, region)
                .put_bucket_policy()
                .bucket(name)
                .expected_bucket_owner(owner)
                .policy(document)
                .send()
                .await
                .describe(format!("putting the policy of s3 bucket {name}"))?;
        }
        Op::PutLifecycle {
            name,
            region,
            rules,
        } => {
            client(aws, region)
                .put_bucket_lifecycle_configuration()
                .bucket(name)
                .expected_bucket_owner(owner)
                .lifecycle_configuration(
                    BucketLifecycleConfiguration::builder()
                        .set_rules(Some(
                            rules
                                .iter()
                                .map(rule_to_sdk)
                                .collect::<anyhow::Result<_>>()?,
                        ))
                        .build()?,
                )
                .send()
                .await
                .describe(format!("putting the lifecycle rules of s3 bucket {name}"))?;
        }
        Op::DeleteLifecycle { name, region } => {
            client(aws, region)
                .delete_bucket_lifecycle()
                .bucket(name)
                .expected_bucket_owner(owner)
                .send()
                .await
                .describe(format!("removing the lifecycle rules of s3 bucket {name}"))?;
        }
        Op::PutLogging {
            name,
            region,
            logging,
        } => {
            client(aws, region)
                .put_bucket_logging()
                .bucket(name)
                .expected_bucket_owner(owner)
                .bucket_logging_status(
                    BucketLoggingStatus::builder()
                        .logging_enabled(
                            LoggingEnabled::builder()
                                .target_bucket(&logging.target_bucket)
                                .target_prefix(&logging.target_prefix)
                                .build()?,
                        )
                        .build(),
                )
                .send()
                .await
                .describe(format!(
                    "turning on server access logging of s3 bucket {name}"
                ))?;
        }
    }
    Ok(())
}

/// The key ARN an alias points to (a read, at apply time).
pub async fn resolve_alias(aws: &Aws, alias: &str) -> anyhow::Result<String> {
    // An alias made a moment ago may not resolve yet (KMS is eventually consistent).
    let what = format!("reading KMS key {alias}");
    let out = crate::kms::when_key_visible(&what, || aws.kms.describe_key().key_id(alias).send())
        .await
        .describe(what)?;
    out.key_metadata
        .and_then(|m| m.arn)
        .ok_or_else(|| anyhow!("KMS key {alias} has no ARN in DescribeKey's answer"))
}

/// A plain lifecycle rule as the SDK writes it (the inverse of `observe`'s `rule_from_sdk`).
pub(super) fn rule_to_sdk(r: &LifecycleRule) -> anyhow::Result<s3::LifecycleRule> {
    let date = |d: &Option<String>| {
        d.as_deref()
            .map(|d| DateTime::from_str(d, Format::DateTime))
            .transpose()
    };
    let tag = |t: &Tag| s3::Tag::builder().key(&t.key).value(&t.value).build();
    fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
        (!v.is_empty()).then_some(v)
    }
    let filter = match &r.filter {
        Some(f) => Some(
            s3::LifecycleRuleFilter::builder()
                .set_prefix(f.prefix.clone())
                .set_tag(f.tag.as_ref().map(tag).transpose()?)
                .set_object_size_greater_than(f.object_size_greater_than)
                .set_object_size_less_than(f.object_size_less_than)
                .set_and(match &f.and {
                    Some(a) => Some(
                        s3::LifecycleRuleAndOperator::builder()
                            .set_prefix(a.prefix.clone())
                            .set_tags(non_empty(a.tags.iter().map(tag).collect::<Result<_, _>>()?))
                            .set_object_size_greater_than(a.object_size_greater_than)
                            .set_object_size_less_than(a.object_size_less_than)
                            .build(),
                    ),
                    None => None,
                })
                .build(),
        ),
        None => None,
    };
    let expiration = match &r.expiration {
        Some(e) => Some(
            s3::LifecycleExpiration::builder()
                .set_date(date(&e.date)?)
                .set_days(e.days)
                .set_expired_object_delete_marker(e.expired_object_delete_marker)
                .build(),
        ),
        None => None,
    };
    let transitions = r
        .transitions
        .iter()
        .map(|t| {
            Ok(s3::Transition::builder()
                .set_date(date(&t.date)?)
                .set_days(t.days)
                .set_storage_class(
                    t.storage_class
                        .as_deref()
                        .map(s3::TransitionStorageClass::from),
                )
                .build())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let noncurrent_transitions = r
        .noncurrent_version_transitions
        .iter()
        .map(|t| {
            s3::NoncurrentVersionTransition::builder()
                .set_noncurrent_days(t.noncurrent_days)
                .set_storage_class(
                    t.storage_class
                        .as_deref()
                        .map(s3::TransitionStorageClass::from),
                )
                .set_newer_noncurrent_versions(t.newer_noncurrent_versions)
                .build()
        })
        .collect();
    // The top-level prefix is deprecated but still honoured by S3: a rule read with one keeps it.
    #[allow(deprecated)]
    let rule = s3::LifecycleRule::builder().set_prefix(r.prefix.clone());
    Ok(rule
        .set_id(r.id.clone())
        .set_filter(filter)
        .status(s3::ExpirationStatus::from(r.status.as_str()))
        .set_expiration(expiration)
        .set_transitions(non_empty(transitions))
        .set_noncurrent_version_transitions(non_empty(noncurrent_transitions))
        .set_noncurrent_version_expiration(r.noncurrent_version_expiration.as_ref().map(|e| {
            s3::NoncurrentVersionExpiration::builder()
                .set_noncurrent_days(e.noncurrent_days)
                .set_newer_noncurrent_versions(e.newer_noncurrent_versions)
                .build()
        }))
        .set_abort_incomplete_multipart_upload(r.abort_incomplete_multipart_upload.as_ref().map(
            |a| {
                s3::AbortIncompleteMultipartUpload::builder()
                    .set_days_after_initiation(a.days_after_initiation)
                    .build()
            },
        ))
        .build()?)
}
