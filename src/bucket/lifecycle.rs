//! A bucket's lifecycle rules as plain data, in S3's element names (`LifecycleRule`, S3 API
//! reference). Every element S3 has is kept, not only those of the `aws-harden-retention` rule:
//! rules someone else added are written back as they were read. Dates are ISO 8601 (RFC 3339)
//! strings; `Status` and storage classes are S3's spellings. `observe` converts from the SDK,
//! `apply` back to it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: Option<String>,
    /// The top-level `Prefix`: deprecated, but still honoured by S3.
    pub prefix: Option<String>,
    pub filter: Option<LifecycleRuleFilter>,
    /// `Enabled` or `Disabled`.
    pub status: String,
    pub expiration: Option<LifecycleExpiration>,
    pub transitions: Vec<Transition>,
    pub noncurrent_version_transitions: Vec<NoncurrentVersionTransition>,
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    pub abort_incomplete_multipart_upload: Option<AbortIncompleteMultipartUpload>,
}

/// Which objects a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LifecycleRuleFilter {
    pub prefix: Option<String>,
    pub tag: Option<Tag>,
    pub object_size_greater_than: Option<i64>,
    pub object_size_less_than: Option<i64>,
    pub and: Option<LifecycleRuleAndOperator>,
}

/// Several filter conditions, all of which must hold.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LifecycleRuleAndOperator {
    pub prefix: Option<String>,
    pub tags: Vec<Tag>,
    pub object_size_greater_than: Option<i64>,
    pub object_size_less_than: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// When current versions expire: after `days`, or on `date`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LifecycleExpiration {
    pub date: Option<String>,
    pub days: Option<i32>,
    pub expired_object_delete_marker: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Transition {
    pub date: Option<String>,
    pub days: Option<i32>,
    pub storage_class: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NoncurrentVersionTransition {
    pub noncurrent_days: Option<i32>,
    pub storage_class: Option<String>,
    pub newer_noncurrent_versions: Option<i32>,
}

/// A version is deleted `noncurrent_days` after it became noncurrent.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NoncurrentVersionExpiration {
    pub noncurrent_days: Option<i32>,
    pub newer_noncurrent_versions: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AbortIncompleteMultipartUpload {
    pub days_after_initiation: Option<i32>,
}
