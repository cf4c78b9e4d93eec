//! The documents the trail needs: its ARN, the KMS key policy, the bucket-policy statements, and
//! the buckets' specs.

use serde_json::{Value, json};

use crate::aws::Caller;
use crate::bucket::{self, AccessLogging, BucketSpec, Encryption, KmsKey};
use crate::plan::CloudTrailPlan;

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
