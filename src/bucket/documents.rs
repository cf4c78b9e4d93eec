//! The documents this module writes: the bucket ARN, the policy statements and the merged
//! policy, and the retention lifecycle rule.

use serde_json::{Value, json};

use super::lifecycle::{
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use super::types::{RETENTION_RULE_ID, Retention, TLS_ONLY_SID};

pub fn bucket_arn(partition: &str, name: &str) -> String {
    format!("arn:{partition}:s3:::{name}")
}

/// Deny every request not made over TLS (CIS 2.1.1), on the bucket and its objects.
pub fn tls_only_statement(partition: &str, name: &str) -> Value {
    let arn = bucket_arn(partition, name);
    json!({
        "Sid": TLS_ONLY_SID,
        "Effect": "Deny",
        // The same as "*"; written this way because S3 returns it so, and moto's logging-target
        // check crashes on a string principal.
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// The statement a server-access-logging target bucket needs (with `BucketOwnerEnforced` ACL
/// grants are disabled): `logging.s3.amazonaws.com` may put objects under the prefix, only for the
/// source bucket in this account.
pub fn access_log_delivery_statement(
    partition: &str,
    account_id: &str,
    target_bucket: &str,
    target_prefix: &str,
    source_bucket: &str,
) -> Value {
    json!({
        "Sid": "S3ServerAccessLogsPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": format!("{}/{target_prefix}*", bucket_arn(partition, target_bucket)),
        "Condition": {
            "ArnLike": {"aws:SourceArn": bucket_arn(partition, source_bucket)},
            "StringEquals": {"aws:SourceAccount": account_id}
        }
    })
}

/// The desired policy document: our statements (TLS-only deny + the control's, in that order)
/// followed by every statement someone else added, as S3 returned them.
pub(super) fn merged_policy(owned: &[Value], foreign: &[Value]) -> Value {
    let mut statements: Vec<Value> = owned.to_vec();
    statements.extend(foreign.iter().cloned());
    json!({"Version": "2012-10-17", "Statement": statements})
}

pub(super) fn retention_rule(r: Retention) -> LifecycleRule {
    LifecycleRule {
        id: Some(RETENTION_RULE_ID.to_string()),
        filter: Some(LifecycleRuleFilter {
            prefix: Some(String::new()),
            ..LifecycleRuleFilter::default()
        }),
        status: "Enabled".to_string(),
        noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
            noncurrent_days: Some(r.noncurrent_days as i32),
            newer_noncurrent_versions: None,
        }),
        expiration: r.current_days.map(|days| LifecycleExpiration {
            days: Some(days as i32),
            ..LifecycleExpiration::default()
        }),
        ..LifecycleRule::default()
    }
}
