//! A hardened S3 bucket that holds audit data (CloudTrail logs, cost reports, access logs): THE one
//! implementation, used by every control that owns such a bucket.
//!
//! What "hardened" means here, every item observed, diffed and repaired:
//! - all four Block Public Access settings on (CIS 2.1.4);
//! - object ownership `BucketOwnerEnforced` (ACLs disabled);
//! - default encryption: SSE-S3, or SSE-KMS with a given customer-managed key;
//! - versioning on;
//! - a bucket policy holding a TLS-only deny (CIS 2.1.1) plus the delivery statements the owning
//!   control passes in. The tool owns statements by `Sid`: statements someone else added are kept
//!   (merged, never clobbered) and listed as notices; one granting access outside this account is a
//!   warning;
//! - optionally an expiry lifecycle rule (`aws-harden-retention`; other rules are kept) and server
//!   access logging into another bucket (CIS 3.4).
//!
//! Every S3 call on the bucket passes `ExpectedBucketOwner` = this account, so a bucket of that name
//! owned by someone else is a clear error in `observe`, never a destination for our data.
//! (`CreateBucket` has no such parameter; it fails with `BucketAlreadyExists` instead.)
//!
//! How a control uses it (each control owns its own bucket):
//! 1. build a [`BucketSpec`] from its plan (name expanded and validated, see [`check_name`]; region =
//!    the plan's home region; its own delivery statements, each with a unique `Sid`);
//! 2. `observe`: `bucket::observe(aws, &spec).await?` and keep the [`Observed`] in its observation;
//! 3. `diff`: `d.extend(bucket::diff(CONTROL, &spec, &observed, ctx.caller))`: at most two
//!    changes, `s3 bucket "NAME"` (creation and every setting that differs, as fields, written in
//!    order as the change's ops) and `s3 bucket policy "NAME"`. Their ops are `bucket::Op`s: the
//!    control wraps them into its own op (`Diff::map_ops(Op::Bucket)`) and its apply hands them to
//!    `bucket::apply`; `Change::control` says which control owns the bucket. Put the bucket's changes before anything that needs the bucket
//!    (the engine applies a control's changes in the order its diff produced them); a bucket that
//!    receives another bucket's access logs goes first.
//!
//! `diff` is pure and deterministic (the engine re-diffs before writing and compares). The
//! statement helpers ([`tls_only_statement`], [`access_log_delivery_statement`]) and
//! [`grants_outside_account`] are public for controls' own unit tests. A control's `Observed` that
//! holds a bucket's state is large: box it in `controls::Observation` (clippy says so).
//! Example: `controls::cloudtrail`.
//!
//! The parts: `documents` (the policy statements and the lifecycle rule this module writes),
//! `lifecycle` (lifecycle rules as plain data), `observe` (reads only), `diff` (pure, no SDK type),
//! `apply` (the writes).

mod apply;
mod diff;
mod documents;
mod lifecycle;
mod observe;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::aws::Aws;

pub use apply::{apply, resolve_alias};
pub use diff::{diff, grants_outside_account, summarize};
pub use documents::{access_log_delivery_statement, bucket_arn, tls_only_statement};
pub use lifecycle::{
    AbortIncompleteMultipartUpload, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator,
    LifecycleRuleFilter, NoncurrentVersionExpiration, NoncurrentVersionTransition, Tag, Transition,
};
pub use observe::observe;

/// The `Sid` of the TLS-only deny this module always puts in the policy.
pub const TLS_ONLY_SID: &str = "DenyInsecureTransport";
/// The `ID` of the lifecycle rule this module owns.
pub const RETENTION_RULE_ID: &str = "aws-harden-retention";

/// Default encryption of the bucket.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Encryption {
    /// SSE-S3 (`AES256`).
    SseS3,
    /// SSE-KMS with a customer-managed key.
    SseKms(KmsKey),
}

/// A KMS key as the owning control knows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KmsKey {
    /// The key exists: its ARN.
    Arn(String),
    /// The key is created in this same run: resolved to the key ARN at apply time (S3 is given the
    /// key ARN, never the alias, so the setting does not follow a re-pointed alias).
    Alias(String),
}

/// Server access logging of this bucket into another (CIS 3.4).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessLogging {
    pub target_bucket: String,
    /// Key prefix in the target bucket, e.g. `"trail-bucket/"`.
    pub target_prefix: String,
}

/// How long a versioned bucket keeps data. Expiring a current version only adds a delete marker: the
/// data lives on as a noncurrent version, and `NoncurrentVersionExpiration` counts its days from then
/// (S3 user guide, "Lifecycle configuration elements" and "Expiring objects"). So an object's whole
/// lifetime is the two periods added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Current versions expire (become noncurrent) after this many days; `None` keeps them.
    pub current_days: Option<u32>,
    /// A version is deleted this many days after it became noncurrent.
    pub noncurrent_days: u32,
}

impl Retention {
    /// Every version of an object gone `days` after it was written (S3 rounds each step up to the next
    /// midnight UTC): current versions expire after `days - 1`, and the noncurrent version that leaves
    /// one day later. `days` is at least 2 (plan validation), as each step takes at least a day.
    pub fn lifetime(days: u32) -> Retention {
        Retention {
            current_days: Some(days.saturating_sub(1).max(1)),
            noncurrent_days: 1,
        }
    }

    /// Current versions kept; a version that was overwritten or deleted goes after `days`.
    pub fn noncurrent_only(days: u32) -> Retention {
        Retention {
            current_days: None,
            noncurrent_days: days,
        }
    }

    fn describe(&self) -> String {
        match self.current_days {
            Some(c) => format!(
                "expire after {c} days, old versions {} day(s) later ({} days in all)",
                self.noncurrent_days,
                c + self.noncurrent_days
            ),
            None => format!(
                "keep current versions, expire old versions after {} days",
                self.noncurrent_days
            ),
        }
    }
}

/// What the bucket should be.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketSpec {
    /// Expanded and validated with [`check_name`].
    pub name: String,
    pub region: String,
    pub encryption: Encryption,
    /// How long objects are kept (the `aws-harden-retention` rule); `None` keeps everything forever.
    pub retention: Option<Retention>,
    /// The owning control's own statements, each with a `Sid` unique in the policy. The TLS-only
    /// deny is added here; do not pass it.
    pub statements: Vec<Value>,
    pub access_logging: Option<AccessLogging>,
}

/// What the bucket is. Everything `None` when the bucket does not exist.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    pub exists: bool,
    /// `[BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets]`.
    pub public_access_block: Option<[bool; 4]>,
    pub object_ownership: Option<String>,
    pub encryption: Option<LiveEncryption>,
    /// `Enabled`, `Suspended`, or `None` (never enabled).
    pub versioning: Option<String>,
    /// The policy as S3 returned it.
    pub policy: Option<String>,
    pub lifecycle_rules: Vec<LifecycleRule>,
    pub logging: Option<AccessLogging>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveEncryption {
    /// `AES256`, `aws:kms`, `aws:kms:dsse`.
    pub algorithm: String,
    pub kms_key_id: Option<String>,
}

/// One write on the bucket (or several, in order). Every variant names the bucket; each call
/// passes this account as `ExpectedBucketOwner`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    Create {
        name: String,
        region: String,
    },
    BlockPublicAccess {
        name: String,
        region: String,
    },
    OwnerEnforced {
        name: String,
        region: String,
    },
    Encrypt {
        name: String,
        region: String,
        encryption: Encryption,
    },
    EnableVersioning {
        name: String,
        region: String,
    },
    PutPolicy {
        name: String,
        region: String,
        document: String,
    },
    PutLifecycle {
        name: String,
        region: String,
        rules: Vec<LifecycleRule>,
    },
    DeleteLifecycle {
        name: String,
        region: String,
    },
    PutLogging {
        name: String,
        region: String,
        logging: AccessLogging,
    },
}

/// S3's bucket naming rules: they live with the plan's validation (the plan module stands
/// alone, for the fuzz target); the bucket module uses the same rules.
pub use crate::plan::check_bucket_name as check_name;

/// The S3 client for the bucket's region.
fn client(aws: &Aws, region: &str) -> aws_sdk_s3::Client {
    if region == aws.home_region {
        aws.s3.clone()
    } else {
        aws.in_home_region(region).s3
    }
}
