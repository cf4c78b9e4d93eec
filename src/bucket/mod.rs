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
mod client;
mod diff;
mod documents;
mod lifecycle;
mod observe;
#[cfg(test)]
mod tests;
mod types;

pub use apply::{apply, resolve_alias};
pub use diff::{diff, grants_outside_account, summarize};
pub use documents::{access_log_delivery_statement, bucket_arn, tls_only_statement};
pub use lifecycle::{
    AbortIncompleteMultipartUpload, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator,
    LifecycleRuleFilter, NoncurrentVersionExpiration, NoncurrentVersionTransition, Tag, Transition,
};
pub use observe::observe;
pub use types::*;

/// S3's bucket naming rules: they live with the plan's validation (the plan module stands
/// alone, for the fuzz target); the bucket module uses the same rules.
pub use crate::plan::check_bucket_name as check_name;
