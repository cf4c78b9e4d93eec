//! The report's bucket: the statements that let AWS deliver into it, and its spec.

use serde_json::{Value, json};

use super::types::CUR_REGION;
use crate::aws::Caller;
use crate::bucket::{self, BucketSpec, Encryption};
use crate::plan::CostReportPlan;

/// The statements that let AWS deliver reports into the bucket: the legacy CUR service
/// (`billingreports`) and Data Exports (`bcm-data-exports`, CUR 2.0), so the same bucket serves a
/// later move to Data Exports. AWS checks the policy (`GetBucketPolicy`) when the report is
/// defined and writes objects (`PutObject`) on delivery. Scoped to this account's own report
/// definitions and exports: `aws:SourceAccount` is exact (StringEquals); the `aws:SourceArn`s end
/// in `/*`, which only a `*Like` operator matches (ArnLike), whatever some AWS examples show.
pub fn delivery_statements(partition: &str, account_id: &str, bucket_name: &str) -> Vec<Value> {
    let arn = bucket::bucket_arn(partition, bucket_name);
    let condition = json!({
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": [
            format!("arn:{partition}:cur:{CUR_REGION}:{account_id}:definition/*"),
            format!("arn:{partition}:bcm-data-exports:{CUR_REGION}:{account_id}:export/*"),
        ]}
    });
    let principal =
        json!({"Service": ["billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com"]});
    vec![
        // The legacy CUR set-up page ("Setting up an Amazon S3 bucket for Cost and Usage Reports") lists
        // s3:GetBucketAcl and s3:GetBucketPolicy on the bucket. The Sid stays as first written, so a bucket
        // set up before GetBucketAcl was added has this statement updated, not a second one left behind.
        json!({
            "Sid": "BillingReportsCheckBucketPolicy",
            "Effect": "Allow",
            "Principal": principal,
            "Action": ["s3:GetBucketAcl", "s3:GetBucketPolicy"],
            "Resource": arn,
            "Condition": condition,
        }),
        json!({
            "Sid": "BillingReportsDeliver",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:PutObject",
            "Resource": format!("{arn}/*"),
            "Condition": condition,
        }),
    ]
}

/// The report's own bucket: hardened, SSE-S3 (so no KMS key policy has to admit the billing
/// service), in the home region, objects kept (no expiry: closed months are not delivered again).
pub fn bucket_spec(r: &CostReportPlan, home_region: &str, caller: &Caller) -> BucketSpec {
    BucketSpec {
        name: r.bucket.clone(),
        region: home_region.to_string(),
        encryption: Encryption::SseS3,
        // Reports are kept; each refresh of an OVERWRITE_REPORT report leaves an old version behind.
        retention: Some(bucket::Retention::noncurrent_only(
            r.noncurrent_version_days,
        )),
        statements: delivery_statements(&caller.partition, &caller.account_id, &r.bucket),
        access_logging: None,
    }
}
