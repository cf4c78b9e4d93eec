//! Pure: from the spec and what was observed to at most two changes. No SDK type here.

use std::collections::BTreeSet;

use serde_json::Value;

use super::documents::{merged_policy, retention_rule, tls_only_statement};
use super::lifecycle::LifecycleRule;
use super::types::{
    AccessLogging, BucketSpec, Encryption, KmsKey, LiveEncryption, Observed, Op, RETENTION_RULE_ID,
    Retention, TLS_ONLY_SID,
};
use crate::aws::Caller;
use crate::change::{Action, Change, ControlId, Diff, Notice};
use crate::policy;
use crate::policy::same_statement;

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

/// Our rule as a `Retention`, if the live rule is ours, enabled, covers the whole bucket and expires
/// noncurrent versions; `Some(None)` when it is ours but anything else.
pub(super) fn live_retention(rules: &[LifecycleRule]) -> Option<Option<Retention>> {
    let rule = rules
        .iter()
        .find(|r| r.id.as_deref() == Some(RETENTION_RULE_ID))?;
    let expiration = rule.expiration.as_ref();
    // An Expiration element with no Days (a date, or only the delete-marker flag) is not ours.
    let current_days = match expiration {
        None => Some(None),
        Some(e) => e.days.map(|d| Some(d as u32)),
    };
    let noncurrent = rule
        .noncurrent_version_expiration
        .as_ref()
        .and_then(|e| e.noncurrent_days);
    // The whole bucket: no prefix, tag or size filter narrowing the rule (the top-level prefix
    // is deprecated but still honoured by S3, so it counts too).
    let legacy_prefix = rule.prefix.as_deref().unwrap_or("").to_string();
    let whole_bucket = legacy_prefix.is_empty()
        && rule.filter.as_ref().is_none_or(|f| {
            f.prefix.as_deref().unwrap_or("").is_empty()
                && f.tag.is_none()
                && f.and.is_none()
                && f.object_size_greater_than.is_none()
                && f.object_size_less_than.is_none()
        });
    let ok = rule.status == "Enabled" && whole_bucket;
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
/// settings (every field that differs, its ops written in order), then one for its policy. The
/// owning control wraps the ops into its own (`Diff::map_ops`).
pub fn diff(
    control: ControlId,
    spec: &BucketSpec,
    observed: &Observed,
    caller: &Caller,
) -> Diff<Op> {
    let mut d = Diff::default();
    let region = Some(spec.region.as_str());
    d.checked_in(
        region,
        control,
        format!("s3 bucket \"{}\"", spec.name),
        &["2.1.4"],
    );
    let policy = format!("s3 bucket policy \"{}\"", spec.name);
    d.checked_in(region, control, policy, &["2.1.1"]);
    let parts = settings_changes(control, spec, observed);
    if !parts.is_empty() {
        let action = if observed.exists {
            Action::Update
        } else {
            Action::Create
        };
        let mut merged = Change::with_ops(
            control,
            format!("s3 bucket \"{}\"", spec.name),
            action,
            Vec::new(),
        );
        for part in parts {
            merged.fields.extend(part.fields);
            for id in part.cis {
                if !merged.cis.contains(&id) {
                    merged.cis.push(id);
                }
            }
            merged.ops.extend(part.ops);
        }
        d.push(merged);
    }
    policy_diff(control, spec, observed, caller, &mut d);
    d
}

/// One change per setting that differs, in the order they must be written.
fn settings_changes(control: ControlId, spec: &BucketSpec, observed: &Observed) -> Vec<Change<Op>> {
    let mut d = Diff::default();
    let name = spec.name.clone();
    let region = spec.region.clone();
    let resource = format!("s3 bucket \"{name}\"");
    let change = |action: Action, op: Op| Change::new(control, &resource, action, op);
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
        .filter(|r| r.id.as_deref() != Some(RETENTION_RULE_ID))
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
    d: &mut Diff<Op>,
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
        Op::PutPolicy {
            name: name.clone(),
            region: spec.region.clone(),
            document: merged_policy(&owned, &foreign).to_string(),
        },
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
