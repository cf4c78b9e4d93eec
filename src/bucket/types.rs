//! The plain data the parts share: what observe finds, what diff produces for apply.

use super::lifecycle::LifecycleRule;
use serde_json::Value;

/// The `Sid` of the TLS-only deny this module always puts in the policy.
pub const TLS_ONLY_SID: &str = "DenyInsecureTransport";
/// The `ID` of the lifecycle rule this module owns.
pub const RETENTION_RULE_ID: &str = "aws-harden-retention";

/// Default encryption of the bucket.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    /// SSE-S3 (`AES256`).
    SseS3,
    /// SSE-KMS with a customer-managed key.
    SseKms(KmsKey),
}

/// A KMS key as the owning control knows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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

    pub(super) fn describe(&self) -> String {
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

/// One write on the bucket. Every variant names the bucket; each call passes this account as
/// `ExpectedBucketOwner`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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
