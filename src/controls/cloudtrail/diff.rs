//! Pure: from the plan and what was observed to changes. No SDK type here.

use super::documents::{bucket_specs, key_policy, trail_arn};
use super::types::{AdvancedSelector, CONTROL, Observed, Op, TrailSettings, TrailState};
use crate::bucket::{self, KmsKey};
use crate::change::{Action, Change, Diff, Notice};
use crate::controls::control::DiffContext;
use crate::policy;

/// A trail set up as planned that does not deliver its logs is not in line: a pending manual action
/// naming the error and its likely cause. Right after this run wrote to the trail, its bucket or key,
/// the next delivery (every few minutes) has not happened yet: a warning instead.
fn delivery_check(ctx: &DiffContext, d: &mut Diff<Op>, t: &TrailState) {
    let Some(error) = &t.delivery_error else {
        return;
    };
    let cause = delivery_cause(error, &t.bucket);
    if ctx.written.contains(&CONTROL) {
        d.notice(
            Notice::warning(
                CONTROL,
                format!(
                    "trail {} last failed to deliver logs ({error}; likely {cause}). This run changed the trail, its \
                     bucket or key: awaiting the next delivery (every few minutes); run --plan again shortly to confirm.",
                    t.name
                ),
            )
            .cis(&["3.1"]),
        );
        return;
    }
    d.push(
        Change::manual(CONTROL, format!("cloudtrail trail \"{}\" log delivery", t.name))
        .field("latest delivery error", Some(error), None::<String>)
        .cis(&["3.1"])
        .note(format!(
            "CloudTrail could not deliver logs to {} ({error}) and no delivery succeeded since. Likely cause: {cause}. \
             Once fixed, CloudTrail delivers again within minutes; run --plan again to confirm.",
            t.bucket
        )),
    );
}

/// What a delivery error most likely means, for a person.
fn delivery_cause(error: &str, bucket: &str) -> String {
    let e = error.to_ascii_lowercase();
    if e.contains("nosuchbucket") {
        format!("the bucket {bucket} does not exist (deleted?)")
    } else if e.contains("kms") {
        "the KMS key: its policy must let cloudtrail.amazonaws.com kms:GenerateDataKey*, and it must be enabled".into()
    } else if e.contains("accessdenied") {
        format!(
            "the bucket policy of {bucket} (cloudtrail.amazonaws.com needs s3:PutObject on AWSLogs/ACCOUNT/*), or the \
             KMS key policy for an encrypted trail"
        )
    } else {
        format!("the bucket {bucket}, its policy or the trail's KMS key")
    }
}

/// What a trail lacks against the plan: (field, live, wanted). `bucket` and `key_arn` are checked
/// only when given (an adopted trail may log into its own bucket with its own key).
fn shortfalls(
    t: &TrailState,
    bucket: Option<&str>,
    key_arn: Option<&str>,
) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let mut flag = |field: &'static str, ok: bool, live: bool| {
        if !ok {
            out.push((field, live.to_string(), "true".to_string()));
        }
    };
    flag("multi-region", t.multi_region, t.multi_region);
    flag(
        "global service events",
        t.global_service_events,
        t.global_service_events,
    );
    flag(
        "log file validation",
        t.log_file_validation,
        t.log_file_validation,
    );
    if let Some(b) = bucket {
        if t.bucket != b {
            out.push(("s3 bucket", t.bucket.clone(), b.to_string()));
        }
        if let Some(prefix) = &t.s3_key_prefix {
            out.push(("s3 key prefix", prefix.clone(), "(none)".to_string()));
        }
    }
    let key_ok = match key_arn {
        Some(arn) => t
            .kms_key_id
            .as_deref()
            .is_some_and(|k| k == arn || arn.ends_with(&format!("/{k}"))),
        None => t.kms_key_id.is_some(),
    };
    if !key_ok {
        out.push((
            "kms key",
            t.kms_key_id.clone().unwrap_or_else(|| "(none)".into()),
            key_arn.unwrap_or("a customer-managed key").to_string(),
        ));
    }
    out
}

/// A trail that meets the plan in everything but its name, bucket and key.
fn adoptable(t: &TrailState) -> bool {
    t.read_error.is_none()
        && shortfalls(t, None, None).is_empty()
        && t.logging
        && t.management_events
}

pub fn diff(ctx: &DiffContext, o: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.cloudtrail() else {
        return d;
    };
    let caller = ctx.caller;
    let home = &ctx.plan.home_region;
    let arn = trail_arn(
        &caller.partition,
        home,
        &caller.account_id,
        &plan.trail_name,
    );

    if o.trail.is_none()
        && plan.adopt_existing
        && let Some(t) = o.other_trails.iter().find(|t| adoptable(t))
    {
        d.notice(
            Notice::info(
                CONTROL,
                format!(
                    "trail {} ({}) already meets the plan (multi-region, global service events, log file validation, \
                     KMS, logging, management events): adopted instead of creating {} (a second trail of management \
                     events is billed). Its bucket {} and key are not managed by this plan.",
                    t.name, t.arn, plan.trail_name, t.bucket
                ),
            )
            .cis(&["3.1", "3.2", "3.5"]),
        );
        delivery_check(ctx, &mut d, t);
        return d;
    }
    // An organization trail made in another account (the management account) records this
    // account's events in every region: no second trail here (CloudTrail user guide, "Creating a
    // trail for an organization"). It is managed, and its delivery checked, from that account.
    if o.trail.is_none()
        && let Some(t) = o.other_trails.iter().find(|t| {
            t.organization && t.multi_region && !t.arn.contains(&format!(":{}:", caller.account_id))
        })
    {
        d.notice(
            Notice::info(
                CONTROL,
                format!(
                    "organization trail {} ({}) records this account's events in every region: no trail \
                     of its own is created (a second copy of management events is billed). It is \
                     managed, and its delivery checked, from the account that owns it.",
                    t.name, t.arn
                ),
            )
            .cis(&["3.1"]),
        );
        d.checked(
            CONTROL,
            format!("cloudtrail organization trail \"{}\"", t.name),
            &["3.1"],
        );
        return d;
    }
    for t in &o.other_trails {
        let mut lacks: Vec<String> = shortfalls(t, None, None)
            .into_iter()
            .map(|(f, _, _)| f.to_string())
            .collect();
        if !t.logging {
            lacks.push("logging".into());
        }
        if !t.management_events {
            lacks.push("management events".into());
        }
        let what = if let Some(e) = &t.read_error {
            format!("could not be read ({e})")
        } else if lacks.is_empty() {
            "also meets the plan".to_string()
        } else {
            format!("falls short of the plan ({})", lacks.join(", "))
        };
        d.notice(Notice::warning(
            CONTROL,
            format!(
                "trail {} {what}; it is left as it is and {} is managed instead. A second trail recording management \
                 events is billed: delete one of them if you do not need both.",
                t.name, plan.trail_name
            ),
        ));
    }

    // The KMS key.
    let alias = plan.kms_key_alias.clone();
    let key_resource = format!("kms key \"{alias}\"");
    d.checked_in(Some(home), CONTROL, &key_resource, &["3.5", "3.6"]);
    let desired_key_policy = key_policy(&caller.partition, &caller.account_id, &arn);
    match &o.key {
        None => {
            d.push(
                Change::new(
                    CONTROL,
                    &key_resource,
                    Action::Create,
                    Op::CreateKey {
                        alias: alias.clone(),
                        policy: desired_key_policy.to_string(),
                    },
                )
                .field("key", None::<String>, Some("customer-managed, symmetric"))
                .field(
                    "key policy",
                    None::<String>,
                    Some("account via IAM; CloudTrail for this trail only"),
                )
                .cis(&["3.5"]),
            );
            d.push(
                Change::new(
                    CONTROL,
                    &key_resource,
                    Action::Create,
                    Op::EnableKeyRotation {
                        alias: alias.clone(),
                    },
                )
                .field("automatic rotation", None::<String>, Some("on"))
                .cis(&["3.6"]),
            );
        }
        Some(k) if !k.customer_managed => {
            d.push(
                Change::manual(CONTROL, &key_resource)
                    .note(format!(
                        "{alias} points to an AWS-managed key; CIS 3.5 needs a customer-managed key. Choose another \
                         kms_key_alias in the plan."
                    ))
                    .cis(&["3.5"]),
            );
        }
        Some(k) if !k.enabled || k.state != "Enabled" => {
            // Nothing else can be written to it (rotation, policy): KMSInvalidStateException.
            let what = match k.state.as_str() {
                "PendingDeletion" => {
                    "scheduled for deletion: cancel the deletion in the KMS console (Key actions > \
                                      Cancel key deletion), then enable it"
                        .to_string()
                }
                "Disabled" => {
                    "disabled: enable it in the KMS console (Key actions > Enable)".to_string()
                }
                other => format!(
                    "in state {other}, not Enabled: make it usable or choose another kms_key_alias"
                ),
            };
            d.push(
                Change::manual(CONTROL, &key_resource)
                    .field("key state", Some(&k.state), Some("Enabled"))
                    .note(format!(
                        "The key behind {alias} is {what}. Until then CloudTrail cannot encrypt with it, and aws-harden \
                         changes nothing on it."
                    ))
                    .cis(&["3.5"]),
            );
        }
        Some(k) => {
            if !k.rotation {
                d.push(
                    Change::new(
                        CONTROL,
                        &key_resource,
                        Action::Update,
                        Op::EnableKeyRotation {
                            alias: alias.clone(),
                        },
                    )
                    .field("automatic rotation", Some("off"), Some("on"))
                    .cis(&["3.6"]),
                );
            }
            let policy_ok = k
                .policy
                .as_deref()
                .is_some_and(|p| policy::live_matches(p, &desired_key_policy));
            if !policy_ok {
                d.push(
                    Change::new(
                        CONTROL,
                        &key_resource,
                        Action::Update,
                        Op::PutKeyPolicy {
                            alias: alias.clone(),
                            policy: desired_key_policy.to_string(),
                        },
                    )
                    .field(
                        "key policy",
                        Some("different"),
                        Some("account via IAM; CloudTrail for this trail only"),
                    )
                    .cis(&["3.5"]),
                );
            }
        }
    }

    // The buckets: the access-log target first, so the trail bucket can log into it.
    let key_ref = match &o.key {
        Some(k) => KmsKey::Arn(k.arn.clone()),
        None => KmsKey::Alias(alias.clone()),
    };
    let (log_spec, trail_spec) = bucket_specs(plan, home, caller, key_ref.clone());
    if let Some(spec) = &log_spec {
        let observed = o.access_log_bucket.clone().unwrap_or_default();
        d.extend(bucket::diff(CONTROL, spec, &observed, caller).map_ops(Op::Bucket));
    }
    d.extend(bucket::diff(CONTROL, &trail_spec, &o.bucket, caller).map_ops(Op::Bucket));

    // The trail.
    let settings = TrailSettings {
        name: plan.trail_name.clone(),
        bucket: plan.bucket.clone(),
        kms_key: key_ref,
    };
    let resource = format!("cloudtrail trail \"{}\"", plan.trail_name);
    d.checked_in(Some(home), CONTROL, &resource, &["3.1", "3.2", "3.5"]);
    let delivery = format!("{resource} log delivery");
    d.checked_in(Some(home), CONTROL, delivery, &["3.1"]);
    let key_arn = o.key.as_ref().map(|k| k.arn.as_str());
    match &o.trail {
        None => {
            d.push(
                Change::new(
                    CONTROL,
                    &resource,
                    Action::Create,
                    Op::CreateTrail(settings),
                )
                .field("s3 bucket", None::<String>, Some(&plan.bucket))
                .field("multi-region", None::<String>, Some("true"))
                .field("global service events", None::<String>, Some("true"))
                .field("log file validation", None::<String>, Some("true"))
                .field("kms key", None::<String>, Some(&alias))
                .cis(&["3.1", "3.2", "3.5"]),
            );
            d.push(
                Change::new(
                    CONTROL,
                    &resource,
                    Action::Create,
                    Op::PutEventSelectors {
                        trail: plan.trail_name.clone(),
                    },
                )
                .field("management events", None::<String>, Some("read and write"))
                .cis(&["3.1"]),
            );
            d.push(
                Change::new(
                    CONTROL,
                    &resource,
                    Action::Create,
                    Op::StartLogging {
                        trail: plan.trail_name.clone(),
                    },
                )
                .field("logging", None::<String>, Some("on"))
                .cis(&["3.1"]),
            );
        }
        Some(t) => {
            let lacks = shortfalls(t, Some(&plan.bucket), key_arn);
            if !lacks.is_empty() {
                let mut c = Change::new(
                    CONTROL,
                    &resource,
                    Action::Update,
                    Op::UpdateTrail(settings),
                )
                .cis(&["3.1", "3.2", "3.5"]);
                for (field, before, after) in lacks {
                    c = c.field(field, Some(before), Some(after));
                }
                d.push(c);
            }
            if !t.management_events {
                let op = if t.advanced_selectors.is_empty() {
                    Op::PutEventSelectors {
                        trail: plan.trail_name.clone(),
                    }
                } else {
                    let mut selectors = t.advanced_selectors.clone();
                    selectors.push(AdvancedSelector::management_events());
                    Op::PutAdvancedEventSelectors {
                        trail: plan.trail_name.clone(),
                        selectors,
                    }
                };
                d.push(
                    Change::new(CONTROL, &resource, Action::Update, op)
                        .field(
                            "management events",
                            Some("not all recorded"),
                            Some("read and write"),
                        )
                        .cis(&["3.1"]),
                );
            }
            if !t.logging {
                d.push(
                    Change::new(
                        CONTROL,
                        &resource,
                        Action::Update,
                        Op::StartLogging {
                            trail: plan.trail_name.clone(),
                        },
                    )
                    .field("logging", Some("off"), Some("on"))
                    .cis(&["3.1"]),
                );
            }
        }
    }
    d.changes = merge_by_resource(std::mem::take(&mut d.changes));
    if let Some(t) = &o.trail {
        delivery_check(ctx, &mut d, t);
    }
    if plan.access_log_bucket.is_empty() {
        d.notice(
            Notice::info(
                CONTROL,
                "server access logging of the trail bucket is off (access_log_bucket is empty); CIS 3.4 asks for it",
            )
            .cis(&["3.4"]),
        );
    }
    d
}

/// Consecutive writes on the same key or trail become one change (all fields, the ops in order),
/// so the trail reads as one resource, like the buckets do. Bucket changes are already one per
/// resource, and manual actions have nothing to write.
fn merge_by_resource(changes: Vec<Change<Op>>) -> Vec<Change<Op>> {
    let mergeable =
        |c: &Change<Op>| !c.ops.is_empty() && !c.ops.iter().any(|op| matches!(op, Op::Bucket(_)));
    let mut out: Vec<Change<Op>> = Vec::new();
    for c in changes {
        let Some(prev) = out.last_mut() else {
            out.push(c);
            continue;
        };
        if !mergeable(prev) || !mergeable(&c) || prev.resource != c.resource {
            out.push(c);
            continue;
        }
        prev.ops.extend(c.ops);
        if prev.action != c.action {
            prev.action = Action::Update;
        }
        prev.fields.extend(c.fields);
        for id in c.cis {
            if !prev.cis.contains(&id) {
                prev.cis.push(id);
            }
        }
    }
    out
}
