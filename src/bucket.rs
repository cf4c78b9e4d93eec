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
//!    order by one `Op::Steps`) and `s3 bucket policy "NAME"`. They carry
//!    `controls::Op::Bucket(bucket::Op)`, so `controls::apply` runs them; `Change::control` says
//!    which control owns the bucket. Put the bucket's changes before anything that needs the bucket
//!    (the engine applies a control's changes in the order its diff produced them); a bucket that
//!    receives another bucket's access logs goes first.
//!
//! `diff` is pure and deterministic (the engine re-diffs before writing and compares). The
//! statement helpers ([`tls_only_statement`], [`access_log_delivery_statement`]) and
//! [`grants_outside_account`] are public for controls' own unit tests. A control's `Observed` that
//! holds a bucket's state is large: box it in `controls::Observation` (clippy says so).
//! Example: `controls::cloudtrail`.

use std::collections::BTreeSet;

use anyhow::{anyhow, bail};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketLoggingStatus,
    BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter, LoggingEnabled, NoncurrentVersionExpiration,
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, VersioningConfiguration,
};
use serde_json::{Value, json};

use crate::aws::{Aws, Caller, SdkResultExt, absent_on, error_chain};
use crate::change::{Action, Change, ControlId, Diff, Notice};
use crate::policy;
use crate::policy::same_statement;

/// The `Sid` of the TLS-only deny this module always puts in the policy.
pub const TLS_ONLY_SID: &str = "DenyInsecureTransport";
/// The `ID` of the lifecycle rule this module owns.
pub const RETENTION_RULE_ID: &str = "aws-harden-retention";

/// Default encryption of the bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3 (`AES256`).
    SseS3,
    /// SSE-KMS with a customer-managed key.
    SseKms(KmsKey),
}

/// A KMS key as the owning control knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KmsKey {
    /// The key exists: its ARN.
    Arn(String),
    /// The key is created in this same run: resolved to the key ARN at apply time (S3 is given the
    /// key ARN, never the alias, so the setting does not follow a re-pointed alias).
    Alias(String),
}

/// Server access logging of this bucket into another (CIS 3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Several of the others, in order (never nested).
    Steps(Vec<Op>),
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

/// The S3 client for the bucket's region.
fn client(aws: &Aws, region: &str) -> aws_sdk_s3::Client {
    if region == aws.home_region {
        aws.s3.clone()
    } else {
        aws.in_home_region(region).s3
    }
}

/// Read the bucket's state (reads only). A bucket of that name owned by another account, or in
/// another region, is an error: the plan must name another bucket.
pub async fn observe(aws: &Aws, spec: &BucketSpec) -> anyhow::Result<Observed> {
    let s3 = client(aws, &spec.region);
    let name = spec.name.as_str();
    let owner = aws.account_id();
    let what = |s: &str| format!("reading the {s} of s3 bucket {name}");
    // Every read goes out with HeadBucket, in one round trip: when the bucket is missing (or not
    // ours), their errors are simply not looked at.
    let details = async {
        tokio::try_join!(
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
        )
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
            .unwrap_or_default(),
        logging: logging.logging_enabled.map(|l| AccessLogging {
            target_bucket: l.target_bucket,
            target_prefix: l.target_prefix,
        }),
    })
}

/// The `<Status>` of a `GetBucketVersioning` answer; `None` when versioning was never enabled.
fn versioning_from_xml(body: &str) -> Option<String> {
    let start = body.find("<Status>")? + "<Status>".len();
    let end = start + body[start..].find("</Status>")?;
    Some(body[start..end].trim().to_string()).filter(|s| !s.is_empty())
}

fn sid(statement: &Value) -> Option<&str> {
    statement.get("Sid").and_then(Value::as_str)
}

/// A one-line summary of a statement for the changes view.
pub fn summarize(statement: &Value) -> String {
    let list = |v: Option<&Value>| match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let principal = match statement.get("Principal") {
        Some(Value::Object(kinds)) => kinds
            .values()
            .map(|v| list(Some(v)))
            .collect::<Vec<_>>()
            .join(","),
        other => list(other),
    };
    format!(
        "{} {} {}",
        list(statement.get("Effect")),
        principal,
        list(statement.get("Action"))
    )
}

/// Does a statement grant anything to a principal outside `account_id`? Deny statements never do;
/// service principals act for this account (our own statements scope them with conditions).
pub fn grants_outside_account(statement: &Value, account_id: &str) -> bool {
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return false;
    }
    let foreign = |id: &str| {
        id == "*" || {
            let account = id.split(':').nth(4).unwrap_or(id);
            account != account_id
        }
    };
    let principals = |v: &Value| -> Vec<String> {
        match v {
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(String::from))
                .collect(),
            Value::String(s) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    match statement.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(kinds)) => kinds.iter().any(|(kind, ids)| match kind.as_str() {
            "AWS" => principals(ids).iter().any(|id| foreign(id)),
            "Service" => false,
            // Federated users and canonical user IDs are not this account's IAM principals.
            _ => true,
        }),
        // NotPrincipal with Allow grants to everyone else.
        _ => statement.get("NotPrincipal").is_some(),
    }
}

/// The desired policy document: our statements (TLS-only deny + the control's, in that order)
/// followed by every statement someone else added, as S3 returned them.
fn merged_policy(owned: &[Value], foreign: &[Value]) -> Value {
    let mut statements: Vec<Value> = owned.to_vec();
    statements.extend(foreign.iter().cloned());
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn retention_rule(r: Retention) -> LifecycleRule {
    let mut rule = LifecycleRule::builder()
        .id(RETENTION_RULE_ID)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .status(ExpirationStatus::Enabled)
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(r.noncurrent_days as i32)
                .build(),
        );
    if let Some(days) = r.current_days {
        rule = rule.expiration(LifecycleExpiration::builder().days(days as i32).build());
    }
    rule.build().expect("id and status are set")
}

/// Our rule as a `Retention`, if the live rule is ours, enabled, covers the whole bucket and expires
/// noncurrent versions; `Some(None)` when it is ours but anything else.
fn live_retention(rules: &[LifecycleRule]) -> Option<Option<Retention>> {
    let rule = rules.iter().find(|r| r.id() == Some(RETENTION_RULE_ID))?;
    let expiration = rule.expiration();
    // An Expiration element with no Days (a date, or only the delete-marker flag) is not ours.
    let current_days = match expiration {
        None => Some(None),
        Some(e) => e.days().map(|d| Some(d as u32)),
    };
    let noncurrent = rule
        .noncurrent_version_expiration()
        .and_then(|e| e.noncurrent_days());
    // The whole bucket: no prefix, tag or size filter narrowing the rule (the top-level prefix
    // is deprecated but still honoured by S3, so it counts too).
    #[allow(deprecated)]
    let legacy_prefix = rule.prefix().unwrap_or("").to_string();
    let whole_bucket = legacy_prefix.is_empty()
        && rule.filter().is_none_or(|f| {
            f.prefix().unwrap_or("").is_empty()
                && f.tag().is_none()
                && f.and().is_none()
                && f.object_size_greater_than().is_none()
                && f.object_size_less_than().is_none()
        });
    let ok = *rule.status() == ExpirationStatus::Enabled && whole_bucket;
    Some(match (ok, current_days, noncurrent) {
        (true, Some(current_days), Some(n)) => Some(Retention {
            current_days,
            noncurrent_days: n as u32,
        }),
        _ => None,
    })
}

fn encryption_matches(desired: &Encryption, live: Option<&LiveEncryption>) -> bool {
    let Some(live) = live else { return false };
    match desired {
        Encryption::SseS3 => live.algorithm == "AES256",
        Encryption::SseKms(KmsKey::Arn(arn)) => {
            live.algorithm == "aws:kms"
                && live
                    .kms_key_id
                    .as_deref()
                    .is_some_and(|id| id == arn || arn.ends_with(&format!("/{id}")))
        }
        // The key does not exist yet, so nothing live can name it.
        Encryption::SseKms(KmsKey::Alias(_)) => false,
    }
}

fn describe_encryption(e: &Encryption) -> String {
    match e {
        Encryption::SseS3 => "SSE-S3 (AES256)".into(),
        Encryption::SseKms(KmsKey::Arn(arn)) => format!("SSE-KMS {arn}"),
        Encryption::SseKms(KmsKey::Alias(alias)) => format!("SSE-KMS {alias}"),
    }
}

fn describe_live_encryption(e: &LiveEncryption) -> String {
    match &e.kms_key_id {
        Some(k) => format!("{} {k}", e.algorithm),
        None => e.algorithm.clone(),
    }
}

/// The changes that make the bucket match the spec: pure. At most two: one for the bucket and its
/// settings (every field that differs, written in order by one `Op::Steps`), then one for its policy.
pub fn diff(control: ControlId, spec: &BucketSpec, observed: &Observed, caller: &Caller) -> Diff {
    let mut d = Diff::default();
    let parts = settings_changes(control, spec, observed);
    if !parts.is_empty() {
        let action = if observed.exists {
            Action::Update
        } else {
            Action::Create
        };
        let mut steps = Vec::new();
        let mut merged = Change::new(
            control,
            format!("s3 bucket \"{}\"", spec.name),
            action,
            crate::controls::Op::Manual,
        );
        for part in parts {
            merged.fields.extend(part.fields);
            for id in part.cis {
                if !merged.cis.contains(&id) {
                    merged.cis.push(id);
                }
            }
            if let crate::controls::Op::Bucket(op) = part.op {
                steps.push(op);
            }
        }
        merged.op = crate::controls::Op::Bucket(if steps.len() == 1 {
            steps.remove(0)
        } else {
            Op::Steps(steps)
        });
        d.push(merged);
    }
    policy_diff(control, spec, observed, caller, &mut d);
    d
}

/// One change per setting that differs, in the order they must be written.
fn settings_changes(control: ControlId, spec: &BucketSpec, observed: &Observed) -> Vec<Change> {
    let mut d = Diff::default();
    let name = spec.name.clone();
    let region = spec.region.clone();
    let resource = format!("s3 bucket \"{name}\"");
    let change = |action: Action, op: Op| {
        Change::new(control, &resource, action, crate::controls::Op::Bucket(op))
    };
    let update_or_create = |present: bool| {
        if present && observed.exists {
            Action::Update
        } else {
            Action::Create
        }
    };

    if !observed.exists {
        d.push(
            change(
                Action::Create,
                Op::Create {
                    name: name.clone(),
                    region: region.clone(),
                },
            )
            .field("region", None::<String>, Some(&region)),
        );
    }

    if observed.public_access_block != Some([true; 4]) {
        let before = observed
            .public_access_block
            .map(|p| format!("{} of 4 on", p.iter().filter(|on| **on).count()));
        d.push(
            change(
                update_or_create(observed.public_access_block.is_some()),
                Op::BlockPublicAccess {
                    name: name.clone(),
                    region: region.clone(),
                },
            )
            .field("block public access", before, Some("all 4 on"))
            .cis(&["2.1.4"]),
        );
    }

    if observed.object_ownership.as_deref() != Some("BucketOwnerEnforced") {
        d.push(
            change(
                update_or_create(observed.object_ownership.is_some()),
                Op::OwnerEnforced {
                    name: name.clone(),
                    region: region.clone(),
                },
            )
            .field(
                "object ownership",
                observed.object_ownership.clone(),
                Some("BucketOwnerEnforced (ACLs disabled)"),
            ),
        );
    }

    if !encryption_matches(&spec.encryption, observed.encryption.as_ref()) {
        d.push(
            change(
                update_or_create(observed.encryption.is_some()),
                Op::Encrypt {
                    name: name.clone(),
                    region: region.clone(),
                    encryption: spec.encryption.clone(),
                },
            )
            .field(
                "default encryption",
                observed.encryption.as_ref().map(describe_live_encryption),
                Some(describe_encryption(&spec.encryption)),
            ),
        );
    }

    if observed.versioning.as_deref() != Some("Enabled") {
        d.push(
            change(
                update_or_create(observed.versioning.is_some()),
                Op::EnableVersioning {
                    name: name.clone(),
                    region: region.clone(),
                },
            )
            .field("versioning", observed.versioning.clone(), Some("Enabled")),
        );
    }

    let live = live_retention(&observed.lifecycle_rules);
    let others: Vec<LifecycleRule> = observed
        .lifecycle_rules
        .iter()
        .filter(|r| r.id() != Some(RETENTION_RULE_ID))
        .cloned()
        .collect();
    let days_text = |r: Option<Retention>| r.map(|r| r.describe());
    match (spec.retention, live) {
        (Some(want), Some(Some(have))) if have == want => {}
        (Some(days), live) => {
            let mut rules = others;
            rules.push(retention_rule(days));
            d.push(
                change(
                    update_or_create(live.is_some()),
                    Op::PutLifecycle {
                        name: name.clone(),
                        region: region.clone(),
                        rules,
                    },
                )
                .field(
                    &format!("lifecycle rule {RETENTION_RULE_ID}"),
                    live.map(|l| days_text(l).unwrap_or_else(|| "different".into())),
                    days_text(Some(days)),
                ),
            );
        }
        (None, Some(l)) => {
            let op = if others.is_empty() {
                Op::DeleteLifecycle {
                    name: name.clone(),
                    region: region.clone(),
                }
            } else {
                Op::PutLifecycle {
                    name: name.clone(),
                    region: region.clone(),
                    rules: others,
                }
            };
            d.push(change(Action::Delete, op).field(
                &format!("lifecycle rule {RETENTION_RULE_ID}"),
                Some(days_text(l).unwrap_or_else(|| "different".into())),
                None::<String>,
            ));
        }
        (None, None) => {}
    }

    if let Some(logging) = &spec.access_logging
        && observed.logging.as_ref() != Some(logging)
    {
        let text = |l: &AccessLogging| format!("s3://{}/{}", l.target_bucket, l.target_prefix);
        d.push(
            change(
                update_or_create(observed.logging.is_some()),
                Op::PutLogging {
                    name: name.clone(),
                    region: region.clone(),
                    logging: logging.clone(),
                },
            )
            .field(
                "server access logging",
                observed.logging.as_ref().map(text),
                Some(text(logging)),
            )
            .cis(&["3.4"]),
        );
    }
    d.changes
}

fn policy_diff(
    control: ControlId,
    spec: &BucketSpec,
    observed: &Observed,
    caller: &Caller,
    d: &mut Diff,
) {
    let name = &spec.name;
    let mut owned = vec![tls_only_statement(&caller.partition, name)];
    owned.extend(spec.statements.iter().cloned());
    let owned_sids: BTreeSet<&str> = owned.iter().filter_map(sid).collect();

    let live_doc = observed
        .policy
        .as_deref()
        .map(policy::parse_document)
        .transpose();
    let live_statements: Vec<Value> = match &live_doc {
        Ok(Some(doc)) => match doc.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(one) => vec![one.clone()],
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    let foreign: Vec<Value> = live_statements
        .iter()
        .filter(|s| !sid(s).is_some_and(|id| owned_sids.contains(id)))
        .cloned()
        .collect();
    for s in &foreign {
        let label = sid(s)
            .map(|x| format!("\"{x}\""))
            .unwrap_or_else(|| "without a Sid".into());
        let text = format!(
            "s3 bucket {name}: policy statement {label} ({}) was added outside aws-harden and is kept",
            summarize(s)
        );
        if grants_outside_account(s, &caller.account_id) {
            d.notice(Notice::warning(
                control,
                format!(
                    "{text}; it grants access to principals outside account {}: review it",
                    caller.account_id
                ),
            ));
        } else {
            d.notice(Notice::info(control, text));
        }
    }

    let mut change = Change::new(
        control,
        format!("s3 bucket policy \"{name}\""),
        if observed.policy.is_some() {
            Action::Update
        } else {
            Action::Create
        },
        crate::controls::Op::Bucket(Op::PutPolicy {
            name: name.clone(),
            region: spec.region.clone(),
            document: merged_policy(&owned, &foreign).to_string(),
        }),
    );
    if live_doc.is_err() {
        change = change.field("document", Some("unparseable"), Some("valid JSON"));
    }
    let mut differs = live_doc.is_err();
    for want in &owned {
        let id = sid(want).unwrap_or_default();
        let live = live_statements.iter().find(|s| sid(s) == Some(id));
        if live.is_some_and(|l| same_statement(l, want)) {
            continue;
        }
        differs = true;
        change = change.field(
            &format!("statement {id}"),
            live.map(|_| "different".to_string()),
            Some(summarize(want)),
        );
    }
    if differs {
        if owned_sids.contains(TLS_ONLY_SID) {
            change = change.cis(&["2.1.1"]);
        }
        d.push(change);
    }
}

/// Perform one write (or the steps, in order, stopping at the first failure).
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::Steps(steps) => {
            for step in steps {
                apply_one(aws, step).await?;
            }
            Ok(())
        }
        other => apply_one(aws, other).await,
    }
}

async fn apply_one(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    let owner = aws.account_id();
    match op {
        Op::Steps(_) => bail!("nested bucket steps (a bug in aws-harden)"),
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
                        .set_rules(Some(rules.clone()))
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

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "123456789012";

    fn caller() -> Caller {
        Caller::from_arn(ACCOUNT, "arn:aws:iam::123456789012:user/alice", None, false)
    }

    fn delivery() -> Value {
        json!({
            "Sid": "ServiceWrite",
            "Effect": "Allow",
            "Principal": {"Service": "example.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::audit-bucket/*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
        })
    }

    fn spec() -> BucketSpec {
        BucketSpec {
            name: "audit-bucket".into(),
            region: "eu-west-1".into(),
            encryption: Encryption::SseKms(KmsKey::Arn(
                "arn:aws:kms:eu-west-1:123456789012:key/k1".into(),
            )),
            retention: Some(Retention::lifetime(365)),
            statements: vec![delivery()],
            access_logging: None,
        }
    }

    /// The bucket as `spec()` leaves it, with the policy as S3 returns it: principals rewritten,
    /// one-element lists, statements reordered.
    fn hardened() -> Observed {
        let mut tls = tls_only_statement("aws", "audit-bucket");
        tls["Principal"] = json!("*");
        let mut del = delivery();
        del["Principal"] = json!({"Service": ["example.amazonaws.com"]});
        del["Action"] = json!(["s3:PutObject"]);
        Observed {
            exists: true,
            public_access_block: Some([true; 4]),
            object_ownership: Some("BucketOwnerEnforced".into()),
            encryption: Some(LiveEncryption {
                algorithm: "aws:kms".into(),
                kms_key_id: Some("arn:aws:kms:eu-west-1:123456789012:key/k1".into()),
            }),
            versioning: Some("Enabled".into()),
            policy: Some(json!({"Version": "2012-10-17", "Statement": [del, tls]}).to_string()),
            lifecycle_rules: vec![retention_rule(Retention::lifetime(365))],
            logging: None,
        }
    }

    /// Every write the changes make, in order.
    fn ops(d: &Diff) -> Vec<Op> {
        d.changes
            .iter()
            .flat_map(|c| match &c.op {
                crate::controls::Op::Bucket(Op::Steps(steps)) => steps.clone(),
                crate::controls::Op::Bucket(op) => vec![op.clone()],
                other => panic!("not a bucket op: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn versioning_status_from_raw_xml() {
        let moto = r#"<?xml version="1.0" encoding="utf-8"?>
<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></GetBucketVersioningResponse>"#;
        assert_eq!(versioning_from_xml(moto).as_deref(), Some("Enabled"));
        let never =
            r#"<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#;
        assert_eq!(versioning_from_xml(never), None);
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(check_name("aws-harden-trail-123456789012-us-east-1").is_ok());
        for bad in [
            "ab",
            &"a".repeat(64),
            "Upper",
            "has_underscore",
            "-leading",
            "trailing-",
            "with.dots",
            "xn--punycode",
            "sthree-x",
            "name-s3alias",
            "name--ol-s3",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn absent_bucket_is_created_then_hardened_in_order() {
        let d = diff(
            ControlId::Cloudtrail,
            &spec(),
            &Observed::default(),
            &caller(),
        );
        let kinds: Vec<&str> = ops(&d)
            .iter()
            .map(|o| match o {
                Op::Create { .. } => "create",
                Op::BlockPublicAccess { .. } => "bpa",
                Op::OwnerEnforced { .. } => "owner",
                Op::Encrypt { .. } => "encrypt",
                Op::EnableVersioning { .. } => "versioning",
                Op::PutPolicy { .. } => "policy",
                Op::PutLifecycle { .. } => "lifecycle",
                Op::DeleteLifecycle { .. } => "delete-lifecycle",
                Op::PutLogging { .. } => "logging",
                Op::Steps(_) => "steps",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "create",
                "bpa",
                "owner",
                "encrypt",
                "versioning",
                "lifecycle",
                "policy"
            ]
        );
        // Shown as two changes: the bucket with every setting as a field, then its policy.
        let resources: Vec<&str> = d.changes.iter().map(|c| c.resource.as_str()).collect();
        assert_eq!(
            resources,
            [
                "s3 bucket \"audit-bucket\"",
                "s3 bucket policy \"audit-bucket\""
            ]
        );
        assert_eq!(d.changes[0].fields.len(), 6, "{:#?}", d.changes[0].fields);
        assert!(d.changes.iter().all(|c| c.action == Action::Create));
        assert!(d.changes.iter().all(|c| c.control == ControlId::Cloudtrail));
    }

    #[test]
    fn hardened_bucket_as_s3_returns_it_has_no_diff() {
        let d = diff(ControlId::Cloudtrail, &spec(), &hardened(), &caller());
        assert!(d.changes.is_empty(), "{:#?}", d.changes);
        assert!(d.notices.is_empty(), "{:#?}", d.notices);
    }

    #[test]
    fn each_drift_is_one_named_change() {
        let cases: Vec<(&str, Observed)> = vec![
            (
                "block public access",
                Observed {
                    public_access_block: Some([true, true, false, true]),
                    ..hardened()
                },
            ),
            (
                "object ownership",
                Observed {
                    object_ownership: Some("ObjectWriter".into()),
                    ..hardened()
                },
            ),
            (
                "default encryption",
                Observed {
                    encryption: None,
                    ..hardened()
                },
            ),
            (
                "default encryption",
                Observed {
                    encryption: Some(LiveEncryption {
                        algorithm: "AES256".into(),
                        kms_key_id: None,
                    }),
                    ..hardened()
                },
            ),
            (
                "versioning",
                Observed {
                    versioning: Some("Suspended".into()),
                    ..hardened()
                },
            ),
            (
                "statement ServiceWrite",
                Observed {
                    policy: Some(
                        json!({"Statement": [tls_only_statement("aws", "audit-bucket")]})
                            .to_string(),
                    ),
                    ..hardened()
                },
            ),
            (
                "statement DenyInsecureTransport",
                Observed {
                    policy: None,
                    ..hardened()
                },
            ),
            (
                "lifecycle rule aws-harden-retention",
                Observed {
                    lifecycle_rules: vec![retention_rule(Retention::lifetime(30))],
                    ..hardened()
                },
            ),
            (
                "lifecycle rule aws-harden-retention",
                Observed {
                    lifecycle_rules: vec![{
                        let mut narrowed = retention_rule(Retention::lifetime(365));
                        narrowed.filter =
                            Some(LifecycleRuleFilter::builder().prefix("only/").build());
                        narrowed
                    }],
                    ..hardened()
                },
            ),
        ];
        for (field, observed) in cases {
            let d = diff(ControlId::Cloudtrail, &spec(), &observed, &caller());
            assert_eq!(d.changes.len(), 1, "{field}: {:#?}", d.changes);
            assert!(
                d.changes[0].fields.iter().any(|f| f.field == field),
                "{field}: {:#?}",
                d.changes[0]
            );
        }
    }

    #[test]
    fn foreign_statements_are_kept_and_reported() {
        let inside = json!({"Sid": "TeamRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/auditor"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::audit-bucket/*"});
        let outside = json!({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::audit-bucket/*"});
        let mut observed = hardened();
        // Our delivery statement removed by someone who added two of their own.
        observed.policy = Some(
            json!({"Statement": [tls_only_statement("aws", "audit-bucket"), inside.clone(), outside.clone()]})
                .to_string(),
        );
        let d = diff(ControlId::Cloudtrail, &spec(), &observed, &caller());
        assert_eq!(d.changes.len(), 1);
        let Op::PutPolicy { document, .. } = &ops(&d)[0] else {
            panic!("{:?}", d.changes)
        };
        let doc: Value = serde_json::from_str(document).unwrap();
        let want = json!({"Version": "2012-10-17", "Statement": [tls_only_statement("aws", "audit-bucket"), delivery(), inside, outside]});
        assert!(policy::equivalent(&doc, &want), "{doc:#}");
        assert_eq!(d.notices.len(), 2);
        let warn: Vec<_> = d
            .notices
            .iter()
            .filter(|n| n.level == crate::change::NoticeLevel::Warning)
            .collect();
        assert_eq!(warn.len(), 1);
        assert!(warn[0].message.contains("Partner"), "{}", warn[0].message);

        // With our statements restored, the foreign ones are no diff but still reported.
        let mut fixed = observed.clone();
        fixed.policy = Some(document.clone());
        let d = diff(ControlId::Cloudtrail, &spec(), &fixed, &caller());
        assert!(d.changes.is_empty(), "{:#?}", d.changes);
        assert_eq!(d.notices.len(), 2);
    }

    #[test]
    fn outside_grants() {
        let s = |p: Value| json!({"Effect": "Allow", "Principal": p, "Action": "s3:GetObject", "Resource": "*"});
        assert!(grants_outside_account(&s(json!("*")), ACCOUNT));
        assert!(grants_outside_account(&s(json!({"AWS": "*"})), ACCOUNT));
        assert!(grants_outside_account(
            &s(json!({"AWS": "999999999999"})),
            ACCOUNT
        ));
        assert!(!grants_outside_account(
            &s(json!({"AWS": ACCOUNT})),
            ACCOUNT
        ));
        assert!(!grants_outside_account(
            &s(json!({"AWS": ["arn:aws:iam::123456789012:user/x"]})),
            ACCOUNT
        ));
        assert!(!grants_outside_account(
            &s(json!({"Service": "cloudtrail.amazonaws.com"})),
            ACCOUNT
        ));
        let mut deny = s(json!("*"));
        deny["Effect"] = json!("Deny");
        assert!(!grants_outside_account(&deny, ACCOUNT));
    }

    #[test]
    fn tls_only_statement_is_the_documented_one() {
        // AWS: deny s3:* on the bucket and its objects when aws:SecureTransport is false.
        let s = tls_only_statement("aws", "b");
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(s["Principal"], json!({"AWS": "*"}));
        assert_eq!(s["Action"], "s3:*");
        assert_eq!(s["Resource"], json!(["arn:aws:s3:::b", "arn:aws:s3:::b/*"]));
        assert_eq!(
            s["Condition"],
            json!({"Bool": {"aws:SecureTransport": "false"}})
        );
    }

    #[test]
    fn access_log_statement_is_the_documented_one() {
        // AWS: logging.s3.amazonaws.com s3:PutObject on the target prefix, scoped to the source
        // bucket (ArnLike aws:SourceArn) and account (StringEquals aws:SourceAccount).
        let s = access_log_delivery_statement("aws", ACCOUNT, "logs", "trail/", "trail-bucket");
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(
            s["Principal"],
            json!({"Service": "logging.s3.amazonaws.com"})
        );
        assert_eq!(s["Action"], "s3:PutObject");
        assert_eq!(s["Resource"], "arn:aws:s3:::logs/trail/*");
        assert_eq!(
            s["Condition"],
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::trail-bucket"},
                   "StringEquals": {"aws:SourceAccount": ACCOUNT}})
        );
    }

    #[test]
    fn kms_key_created_in_the_same_run_is_written_by_alias_reference() {
        let mut s = spec();
        s.encryption = Encryption::SseKms(KmsKey::Alias("alias/k".into()));
        let d = diff(ControlId::Cloudtrail, &s, &hardened(), &caller());
        assert_eq!(
            ops(&d),
            [Op::Encrypt {
                name: "audit-bucket".into(),
                region: "eu-west-1".into(),
                encryption: Encryption::SseKms(KmsKey::Alias("alias/k".into())),
            }]
        );
    }

    #[test]
    fn retention_is_the_whole_lifetime_of_an_object() {
        // On a versioned bucket the current version's expiry only makes it noncurrent; the data goes
        // when the noncurrent expiry runs out: the two periods add up to the plan's days.
        let rule = retention_rule(Retention::lifetime(365));
        assert_eq!(rule.expiration().and_then(|e| e.days()), Some(364));
        assert_eq!(
            rule.noncurrent_version_expiration()
                .and_then(|e| e.noncurrent_days()),
            Some(1)
        );
        assert_eq!(
            Retention::lifetime(2),
            Retention {
                current_days: Some(1),
                noncurrent_days: 1
            }
        );
        assert!(
            Retention::lifetime(365)
                .describe()
                .contains("365 days in all")
        );
        // Reports: current versions kept, old versions expire.
        let keep = retention_rule(Retention::noncurrent_only(30));
        assert!(keep.expiration().is_none());
        assert_eq!(
            keep.noncurrent_version_expiration()
                .and_then(|e| e.noncurrent_days()),
            Some(30)
        );
        assert_eq!(
            live_retention(&[keep]),
            Some(Some(Retention::noncurrent_only(30)))
        );
    }

    #[test]
    fn the_old_rule_that_kept_logs_twice_as_long_is_drift() {
        // Before: current and noncurrent both 365, so a log lived about 730 days.
        let old = LifecycleRule::builder()
            .id(RETENTION_RULE_ID)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .status(ExpirationStatus::Enabled)
            .expiration(LifecycleExpiration::builder().days(365).build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(365)
                    .build(),
            )
            .build()
            .unwrap();
        let observed = Observed {
            lifecycle_rules: vec![old],
            ..hardened()
        };
        let d = diff(ControlId::Cloudtrail, &spec(), &observed, &caller());
        assert_eq!(d.changes.len(), 1, "{:#?}", d.changes);
        let f = &d.changes[0].fields[0];
        assert_eq!(f.field, "lifecycle rule aws-harden-retention");
        assert!(
            f.before.as_deref().unwrap().contains("730 days in all"),
            "{f:?}"
        );
        assert!(
            f.after.as_deref().unwrap().contains("365 days in all"),
            "{f:?}"
        );
    }

    #[test]
    fn removing_retention_keeps_other_rules() {
        let mut s = spec();
        s.retention = None;
        let other = LifecycleRule::builder()
            .id("theirs")
            .status(ExpirationStatus::Enabled)
            .build()
            .unwrap();
        let mut observed = hardened();
        observed.lifecycle_rules.push(other.clone());
        let d = diff(ControlId::Cloudtrail, &s, &observed, &caller());
        assert_eq!(
            ops(&d),
            [Op::PutLifecycle {
                name: "audit-bucket".into(),
                region: "eu-west-1".into(),
                rules: vec![other]
            }]
        );
    }
}
