//! Reads only: the bucket's state, every setting in one round trip.

use anyhow::{anyhow, bail};

use aws_sdk_s3::types as s3;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use super::client::client;
use super::lifecycle::{
    AbortIncompleteMultipartUpload, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator,
    LifecycleRuleFilter, NoncurrentVersionExpiration, NoncurrentVersionTransition, Tag, Transition,
};
use super::types::{AccessLogging, BucketSpec, LiveEncryption, Observed};
use crate::aws::{Aws, SdkResultExt, absent_on, error_chain};

/// Read the bucket's state (reads only). A bucket of that name owned by another account, or in
/// another region, is an error: the plan must name another bucket.
pub async fn observe(aws: &Aws, spec: &BucketSpec) -> anyhow::Result<Observed> {
    let s3 = client(aws, &spec.region);
    let name = spec.name.as_str();
    let owner = aws.account_id();
    let what = |s: &str| format!("reading the {s} of s3 bucket {name}");
    // Every read goes out with HeadBucket, in one round trip: when the bucket is missing (or not
    // ours), their errors are simply not looked at. `join!`, not `try_join!`: the first error
    // (NoSuchBucket) must not cancel reads already on their way, or the run's record of its calls
    // and AWS's would differ.
    let details = async {
        let (pab, ownership, encryption, versioning, policy, lifecycle, logging) = tokio::join!(
            async {
                absent_on(
                    s3.get_public_access_block()
                        .bucket(name)
                        .expected_bucket_owner(owner)
                        .send()
                        .await,
                    &["NoSuchPublicAccessBlockConfiguration"],
                    what("public access block"),
                )
            },
            async {
                absent_on(
                    s3.get_bucket_ownership_controls()
                        .bucket(name)
                        .expected_bucket_owner(owner)
                        .send()
                        .await,
                    &["OwnershipControlsNotFoundError"],
                    what("ownership controls"),
                )
            },
            async {
                absent_on(
                    s3.get_bucket_encryption()
                        .bucket(name)
                        .expected_bucket_owner(owner)
                        .send()
                        .await,
                    &["ServerSideEncryptionConfigurationNotFoundError"],
                    what("default encryption"),
                )
            },
            async {
                match s3
                    .get_bucket_versioning()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                {
                    Ok(v) => Ok(v.status.map(|s| s.as_str().to_string())),
                    Err(e) => match e
                        .raw_response()
                        .filter(|r| r.status().is_success())
                        .and_then(|r| r.body().bytes())
                    {
                        // A 200 answer the SDK could not parse: some S3 emulators (moto 5.2.5)
                        // name the root element differently; the Status element inside is the same.
                        Some(body) => Ok(versioning_from_xml(&String::from_utf8_lossy(body))),
                        None => Err(anyhow!("{}: {}", what("versioning"), error_chain(&e))),
                    },
                }
            },
            async {
                absent_on(
                    s3.get_bucket_policy()
                        .bucket(name)
                        .expected_bucket_owner(owner)
                        .send()
                        .await,
                    &["NoSuchBucketPolicy"],
                    what("policy"),
                )
            },
            async {
                absent_on(
                    s3.get_bucket_lifecycle_configuration()
                        .bucket(name)
                        .expected_bucket_owner(owner)
                        .send()
                        .await,
                    &["NoSuchLifecycleConfiguration"],
                    what("lifecycle configuration"),
                )
            },
            async {
                s3.get_bucket_logging()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                    .describe(what("access logging"))
            },
        );
        anyhow::Ok((
            pab?,
            ownership?,
            encryption?,
            versioning?,
            policy?,
            lifecycle?,
            logging?,
        ))
    };
    let (head, details) = tokio::join!(
        s3.head_bucket()
            .bucket(name)
            .expected_bucket_owner(owner)
            .send(),
        details
    );
    let head = match head {
        Ok(h) => h,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
            return Ok(Observed::default());
        }
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            if status == Some(403) {
                // A HEAD answer has no body: 403 is either a foreign owner (ExpectedBucketOwner refused) or a
                // caller this account's policies (an SCP, a permissions boundary, the bucket policy) deny.
                bail!(
                    "s3 bucket {name}: access denied (HTTP 403), or the bucket is owned by another account than {owner}. \
                     Check that this identity may s3:ListBucket on it (an SCP, a permissions boundary or the bucket \
                     policy may deny it) and, with `aws s3api head-bucket --bucket {name} --expected-bucket-owner {owner}` \
                     from an administrator, who owns it. If another account owns it, it would never receive this \
                     account's data: choose another bucket name in the plan."
                );
            }
            if status == Some(301) {
                bail!(
                    "s3 bucket {name} exists in a region other than {} (buckets cannot move): choose another bucket name",
                    spec.region
                );
            }
            // A HEAD answer has no body, so no error code: the HTTP status is all S3 says.
            let status = status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
            return Err(anyhow!(
                "reading s3 bucket {name}{status}: {}",
                error_chain(&e)
            ));
        }
    };
    if let Some(region) = head.bucket_region()
        && region != spec.region
    {
        bail!(
            "s3 bucket {name} is in region {region}, the plan wants {} (buckets cannot move): choose another bucket name or home_region",
            spec.region
        );
    }
    let (pab, ownership, encryption, versioning, policy, lifecycle, logging) = details?;
    Ok(Observed {
        exists: true,
        public_access_block: pab
            .and_then(|p| p.public_access_block_configuration)
            .map(|c| {
                [
                    c.block_public_acls.unwrap_or(false),
                    c.ignore_public_acls.unwrap_or(false),
                    c.block_public_policy.unwrap_or(false),
                    c.restrict_public_buckets.unwrap_or(false),
                ]
            }),
        object_ownership: ownership
            .and_then(|o| o.ownership_controls)
            .and_then(|c| c.rules.into_iter().next())
            .map(|r| r.object_ownership.as_str().to_string()),
        encryption: encryption
            .and_then(|e| e.server_side_encryption_configuration)
            .and_then(|c| c.rules.into_iter().next())
            .and_then(|r| r.apply_server_side_encryption_by_default)
            .map(|d| LiveEncryption {
                algorithm: d.sse_algorithm.as_str().to_string(),
                kms_key_id: d.kms_master_key_id,
            }),
        versioning,
        policy: policy.and_then(|p| p.policy),
        lifecycle_rules: lifecycle
            .map(|l| l.rules.unwrap_or_default())
            .unwrap_or_default()
            .iter()
            .map(rule_from_sdk)
            .collect::<anyhow::Result<_>>()
            .map_err(|e| anyhow!("{}: {e:#}", what("lifecycle configuration")))?,
        logging: logging.logging_enabled.map(|l| AccessLogging {
            target_bucket: l.target_bucket,
            target_prefix: l.target_prefix,
        }),
    })
}

/// The `<Status>` of a `GetBucketVersioning` answer; `None` when versioning was never enabled.
pub(super) fn versioning_from_xml(body: &str) -> Option<String> {
    let start = body.find("<Status>")? + "<Status>".len();
    let end = start + body[start..].find("</Status>")?;
    Some(body[start..end].trim().to_string()).filter(|s| !s.is_empty())
}

/// A lifecycle rule as S3 returned it, as plain data: every element, so that a rule someone else
/// added is written back as it was.
pub(super) fn rule_from_sdk(r: &s3::LifecycleRule) -> anyhow::Result<LifecycleRule> {
    let date = |d: Option<&DateTime>| d.map(|d| d.fmt(Format::DateTime)).transpose();
    let tag = |t: &s3::Tag| Tag {
        key: t.key.clone(),
        value: t.value.clone(),
    };
    let expiration = match &r.expiration {
        Some(e) => Some(LifecycleExpiration {
            date: date(e.date.as_ref())?,
            days: e.days,
            expired_object_delete_marker: e.expired_object_delete_marker,
        }),
        None => None,
    };
    let transitions = r
        .transitions()
        .iter()
        .map(|t| {
            Ok(Transition {
                date: date(t.date.as_ref())?,
                days: t.days,
                storage_class: t.storage_class.as_ref().map(|c| c.as_str().to_string()),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    // The top-level prefix is deprecated but still honoured by S3, so it is kept.
    #[allow(deprecated)]
    let prefix = r.prefix.clone();
    Ok(LifecycleRule {
        id: r.id.clone(),
        prefix,
        filter: r.filter.as_ref().map(|f| LifecycleRuleFilter {
            prefix: f.prefix.clone(),
            tag: f.tag.as_ref().map(tag),
            object_size_greater_than: f.object_size_greater_than,
            object_size_less_than: f.object_size_less_than,
            and: f.and.as_ref().map(|a| LifecycleRuleAndOperator {
                prefix: a.prefix.clone(),
                tags: a.tags().iter().map(tag).collect(),
                object_size_greater_than: a.object_size_greater_than,
                object_size_less_than: a.object_size_less_than,
            }),
        }),
        status: r.status.as_str().to_string(),
        expiration,
        transitions,
        noncurrent_version_transitions: r
            .noncurrent_version_transitions()
            .iter()
            .map(|t| NoncurrentVersionTransition {
                noncurrent_days: t.noncurrent_days,
                storage_class: t.storage_class.as_ref().map(|c| c.as_str().to_string()),
                newer_noncurrent_versions: t.newer_noncurrent_versions,
            })
            .collect(),
        noncurrent_version_expiration: r.noncurrent_version_expiration.as_ref().map(|e| {
            NoncurrentVersionExpiration {
                noncurrent_days: e.noncurrent_days,
                newer_noncurrent_versions: e.newer_noncurrent_versions,
            }
        }),
        abort_incomplete_multipart_upload: r.abort_incomplete_multipart_upload.as_ref().map(|a| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: a.days_after_initiation,
            }
        }),
    })
}
