use serde_json::{Value, json};

use super::apply::culprit;
use super::*;
use crate::aws::Caller;
use crate::bucket::{self, KmsKey};
use crate::bucket::{AccessLogging, Encryption};
use crate::change::{Action, Diff};
use crate::controls::control::DiffContext;
use crate::plan::{Plan, parse};
use crate::policy;

const ACCOUNT: &str = "123456789012";
const TRAIL_ARN: &str = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/aws-harden";
const KEY_ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn plan(extra: &str) -> Plan {
    parse(&format!(
        "version = 1\nhome_region = \"eu-west-1\"\n[cloudtrail]\n{extra}"
    ))
    .unwrap()
    .pipe_resolve()
}

trait Resolve {
    fn pipe_resolve(self) -> Plan;
}
impl Resolve for Plan {
    fn pipe_resolve(self) -> Plan {
        crate::plan::resolve(
            &self,
            &crate::plan::Placeholders {
                account_id: ACCOUNT.into(),
                home_region: "eu-west-1".into(),
            },
        )
        .unwrap()
    }
}

fn caller() -> Caller {
    Caller::from_arn(ACCOUNT, "arn:aws:iam::123456789012:user/alice", None, false)
}

fn ctx<'a>(plan: &'a Plan, caller: &'a Caller) -> DiffContext<'a> {
    DiffContext {
        plan,
        caller,
        interactive: false,
        written: &[],
    }
}

fn good_trail() -> TrailState {
    TrailState {
        name: "aws-harden".into(),
        arn: TRAIL_ARN.into(),
        home_region: "eu-west-1".into(),
        bucket: "aws-harden-trail-123456789012-eu-west-1".into(),
        s3_key_prefix: None,
        multi_region: true,
        organization: false,
        global_service_events: true,
        log_file_validation: true,
        kms_key_id: Some(KEY_ARN.into()),
        logging: true,
        management_events: true,
        read_error: None,
        delivery_error: None,
        advanced_selectors: Vec::new(),
    }
}

#[test]
fn a_key_that_is_not_enabled_is_a_manual_action_and_nothing_is_written_to_it() {
    let p = plan("");
    let c = caller();
    for (state, hint) in [
        ("PendingDeletion", "Cancel key deletion"),
        ("Disabled", "Enable"),
    ] {
        let mut o = converged(&p);
        let k = o.key.as_mut().unwrap();
        k.enabled = false;
        k.state = state.into();
        // As observed: rotation and policy cannot be read from such a key.
        k.rotation = false;
        k.policy = None;
        let d = diff(&ctx(&p, &c), &o);
        let key_changes: Vec<_> = d
            .changes
            .iter()
            .filter(|c| c.resource.starts_with("kms key"))
            .collect();
        assert_eq!(key_changes.len(), 1, "{key_changes:#?}");
        assert_eq!(key_changes[0].action, Action::Manual);
        assert!(key_changes[0].note.as_deref().unwrap().contains(hint));
    }
}

#[test]
fn advanced_selectors_are_kept_and_management_events_added() {
    let p = plan("");
    let c = caller();
    let mut o = converged(&p);
    let data_events = AdvancedSelector {
        name: Some("S3 data events".into()),
        fields: vec![
            FieldSelector {
                field: "eventCategory".into(),
                equals: vec!["Data".into()],
                ..FieldSelector::default()
            },
            FieldSelector {
                field: "resources.type".into(),
                equals: vec!["AWS::S3::Object".into()],
                ..FieldSelector::default()
            },
        ],
    };
    let t = o.trail.as_mut().unwrap();
    t.management_events = false;
    t.advanced_selectors = vec![data_events.clone()];
    let d = diff(&ctx(&p, &c), &o);
    let ops = all_ops(&d);
    assert!(
        ops.contains(&Op::PutAdvancedEventSelectors {
            trail: "aws-harden".into(),
            selectors: vec![data_events, AdvancedSelector::management_events()],
        }),
        "{ops:#?}"
    );
    assert!(
        !ops.iter()
            .any(|op| matches!(op, Op::PutEventSelectors { .. }))
    );
}

#[test]
fn a_delivery_error_stands_until_a_later_attempt_succeeds() {
    let err = Some("AccessDenied");
    assert_eq!(failing_delivery(None, None, None), None);
    assert_eq!(failing_delivery(Some(""), None, None), None);
    // No attempt times: the error stands (a success nobody reported is not assumed).
    assert_eq!(
        failing_delivery(err, None, None).as_deref(),
        Some("AccessDenied")
    );
    let (attempt, before, after) = (
        Some("2026-12-01T10:05:00Z"),
        Some("2026-12-01T09:00:00Z"),
        Some("2026-12-01T10:05:00Z"),
    );
    assert!(failing_delivery(err, attempt, before).is_some());
    assert!(failing_delivery(err, attempt, after).is_none());
}

#[test]
fn a_trail_that_does_not_deliver_is_pending_or_awaited_right_after_a_write() {
    let p = plan("");
    let c = caller();
    let mut o = converged(&p);
    assert!(diff(&ctx(&p, &c), &o).changes.is_empty());
    o.trail.as_mut().unwrap().delivery_error = Some("NoSuchBucket".into());
    let d = diff(&ctx(&p, &c), &o);
    assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
    assert_eq!(d.changes[0].action, Action::Manual);
    let note = d.changes[0].note.as_deref().unwrap();
    assert!(
        note.contains("NoSuchBucket") && note.contains("does not exist"),
        "{note}"
    );
    // Right after this run wrote to the trail: a warning, nothing pending.
    let written = [ControlId::Cloudtrail];
    let after = DiffContext {
        written: &written,
        ..ctx(&p, &c)
    };
    let d = diff(&after, &o);
    assert!(d.changes.is_empty());
    assert!(
        d.notices
            .iter()
            .any(|n| n.message.contains("awaiting the next delivery"))
    );
}

/// The account after an apply, with every document as AWS returns it.
fn converged(p: &Plan) -> Observed {
    let ct = p.cloudtrail().unwrap();
    let (_, spec) = bucket_specs(ct, "eu-west-1", &caller(), KmsKey::Arn(KEY_ARN.into()));
    let mut statements = vec![bucket::tls_only_statement("aws", &spec.name)];
    statements.extend(spec.statements.clone());
    // As returned: service principals as lists, and the any-principal in its other spelling.
    for s in &mut statements {
        if s["Principal"] == json!({"AWS": "*"}) {
            s["Principal"] = json!("*");
        } else {
            s["Principal"]["Service"] = json!([s["Principal"]["Service"].clone()]);
        }
    }
    // KMS returns the account principal as written; IAM-style rewrite of a bare ID also ok.
    let mut kp = key_policy("aws", ACCOUNT, TRAIL_ARN);
    kp["Statement"][0]["Principal"]["AWS"] = json!(ACCOUNT);
    Observed {
        key: Some(KeyState {
            arn: KEY_ARN.into(),
            enabled: true,
            state: "Enabled".into(),
            customer_managed: true,
            rotation: true,
            policy: Some(kp.to_string()),
        }),
        trail: Some(good_trail()),
        other_trails: vec![],
        bucket: bucket::Observed {
            exists: true,
            public_access_block: Some([true; 4]),
            object_ownership: Some("BucketOwnerEnforced".into()),
            encryption: Some(bucket::LiveEncryption {
                algorithm: "aws:kms".into(),
                kms_key_id: Some(KEY_ARN.into()),
            }),
            versioning: Some("Enabled".into()),
            policy: Some(json!({"Version": "2012-10-17", "Statement": statements}).to_string()),
            lifecycle_rules: vec![bucket::LifecycleRule {
                id: Some(bucket::RETENTION_RULE_ID.into()),
                status: "Enabled".into(),
                expiration: Some(bucket::LifecycleExpiration {
                    // retention_days = 365 is the whole lifetime: 364 + 1.
                    days: Some(364),
                    ..Default::default()
                }),
                noncurrent_version_expiration: Some(bucket::NoncurrentVersionExpiration {
                    noncurrent_days: Some(1),
                    newer_noncurrent_versions: None,
                }),
                ..Default::default()
            }],
            logging: None,
        },
        access_log_bucket: None,
    }
}

/// Every write, in order, with the ops of merged changes flattened.
fn all_ops(d: &Diff<Op>) -> Vec<Op> {
    d.changes.iter().flat_map(|c| c.ops.clone()).collect()
}

fn ops(d: &Diff<Op>) -> Vec<String> {
    let name = |debug: String| debug.split(['(', ' ', '{']).next().unwrap().to_string();
    all_ops(d)
        .iter()
        .map(|op| match op {
            Op::Bucket(op) => name(format!("Bucket::{op:?}")),
            op => name(format!("{op:?}")),
        })
        .collect()
}

#[test]
fn a_key_problem_is_never_blamed_on_the_bucket() {
    let trail = trail_arn("aws", "us-east-1", ACCOUNT, "aws-harden");
    let required = key_policy("aws", ACCOUNT, &trail);
    let enabled = || Ok(Some("Enabled".to_string()));
    let as_live = |doc: &Value| Ok(Some(doc.to_string()));
    // Disabled or pending deletion: the key, whatever its policy says.
    for state in ["Disabled", "PendingDeletion"] {
        let v = culprit(
            "k",
            "b",
            Ok(Some(state.into())),
            as_live(&required),
            &required,
        );
        assert!(
            v.contains("KMS key k is at fault") && v.contains(state),
            "{v}"
        );
    }
    // The policy CloudTrail needs, but without the Bucket Key decrypt statement: the key.
    let mut no_decrypt = required.clone();
    no_decrypt["Statement"].as_array_mut().unwrap().pop();
    let v = culprit("k", "b", enabled(), as_live(&no_decrypt), &required);
    assert!(v.contains("KMS key k is at fault"), "{v}");
    // Everything needed, plus a statement someone added: the bucket.
    let mut extra = required.clone();
    extra["Statement"].as_array_mut().unwrap().push(json!({
            "Sid": "Auditors", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/Audit"},
            "Action": "kms:DescribeKey", "Resource": "*"}));
    let v = culprit("k", "b", enabled(), as_live(&extra), &required);
    assert!(v.contains("bucket b is at fault"), "{v}");
    // A policy that could not be read: not the bucket.
    let v = culprit("k", "b", enabled(), Err("AccessDenied".into()), &required);
    assert!(!v.contains("bucket b is at fault"), "{v}");
}

#[test]
fn key_policy_is_the_documented_one() {
    let p = key_policy("aws", ACCOUNT, TRAIL_ARN);
    let s = p["Statement"].as_array().unwrap();
    // The account keeps control through IAM.
    assert_eq!(s[0]["Effect"], "Allow");
    assert_eq!(
        s[0]["Principal"],
        json!({"AWS": "arn:aws:iam::123456789012:root"})
    );
    assert_eq!(s[0]["Action"], "kms:*");
    assert_eq!(s[0]["Resource"], "*");
    // CloudTrail may generate data keys: for this trail, for this account's trails' context.
    assert_eq!(
        s[1]["Principal"],
        json!({"Service": "cloudtrail.amazonaws.com"})
    );
    assert_eq!(s[1]["Action"], "kms:GenerateDataKey*");
    assert_eq!(s[1]["Resource"], "*");
    assert_eq!(
        s[1]["Condition"],
        json!({
            "StringEquals": {"aws:SourceArn": TRAIL_ARN},
            "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:123456789012:trail/*"}
        })
    );
    // The wildcard context never sits under StringEquals (it would never match).
    for st in s {
        if let Some(eq) = st["Condition"]["StringEquals"].as_object() {
            assert!(
                eq.values().all(|v| !v.as_str().unwrap().contains('*')),
                "{st}"
            );
        }
    }
    assert_eq!(
        s[2]["Principal"],
        json!({"Service": "cloudtrail.amazonaws.com"})
    );
    assert_eq!(s[2]["Action"], "kms:DescribeKey");
    assert_eq!(
        s[2]["Condition"],
        json!({"StringEquals": {"aws:SourceArn": TRAIL_ARN}})
    );
    // With S3 Bucket Keys, the account's principals may decrypt, only this account's trail logs.
    assert_eq!(s[3]["Principal"], json!({"AWS": "*"}));
    assert_eq!(s[3]["Action"], "kms:Decrypt");
    assert_eq!(
        s[3]["Condition"],
        json!({
            "StringEquals": {"kms:CallerAccount": ACCOUNT},
            "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:123456789012:trail/*"}
        })
    );
    assert_eq!(s.len(), 4, "no other grant: {p:#}");
}

#[test]
fn bucket_statements_are_the_documented_ones() {
    let s = trail_bucket_statements("aws", ACCOUNT, "b", TRAIL_ARN);
    assert_eq!(s[0]["Sid"], "AWSCloudTrailAclCheck20150319");
    assert_eq!(
        s[0]["Principal"],
        json!({"Service": "cloudtrail.amazonaws.com"})
    );
    assert_eq!(s[0]["Action"], "s3:GetBucketAcl");
    assert_eq!(s[0]["Resource"], "arn:aws:s3:::b");
    assert_eq!(
        s[0]["Condition"],
        json!({"StringEquals": {"aws:SourceArn": TRAIL_ARN}})
    );
    assert_eq!(s[1]["Sid"], "AWSCloudTrailWrite20150319");
    assert_eq!(
        s[1]["Principal"],
        json!({"Service": "cloudtrail.amazonaws.com"})
    );
    assert_eq!(s[1]["Action"], "s3:PutObject");
    assert_eq!(s[1]["Resource"], "arn:aws:s3:::b/AWSLogs/123456789012/*");
    assert_eq!(
        s[1]["Condition"],
        json!({"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN}})
    );
}

#[test]
fn fresh_account_orders_key_bucket_policy_before_trail() {
    let p = plan("");
    let c = caller();
    let d = diff(&ctx(&p, &c), &Observed::default());
    let order = ops(&d);
    let pos = |name: &str| {
        order
            .iter()
            .position(|o| o == name)
            .unwrap_or_else(|| panic!("{name} in {order:?}"))
    };
    assert!(pos("CreateKey") < pos("CreateTrail"));
    assert!(pos("Bucket::Create") < pos("Bucket::PutPolicy"));
    assert!(pos("Bucket::PutPolicy") < pos("CreateTrail"));
    assert!(pos("CreateTrail") < pos("PutEventSelectors"));
    assert!(pos("PutEventSelectors") < pos("StartLogging"));
    // Shown as one change per resource: key, bucket, bucket policy, trail.
    let resources: Vec<&str> = d.changes.iter().map(|c| c.resource.as_str()).collect();
    assert_eq!(
        resources,
        [
            "kms key \"alias/aws-harden-cloudtrail\"",
            "s3 bucket \"aws-harden-trail-123456789012-eu-west-1\"",
            "s3 bucket policy \"aws-harden-trail-123456789012-eu-west-1\"",
            "cloudtrail trail \"aws-harden\"",
        ]
    );
    assert!(d.changes.iter().all(|c| c.action == Action::Create));
    // The key policy is written with the key itself.
    let all = all_ops(&d);
    let create_key = all
        .iter()
        .find_map(|op| match op {
            Op::CreateKey { policy, .. } => Some(policy.clone()),
            _ => None,
        })
        .unwrap();
    assert!(policy::live_matches(
        &create_key,
        &key_policy("aws", ACCOUNT, TRAIL_ARN)
    ));
    // The bucket is encrypted with the key created in the same run, by alias reference.
    assert!(all.iter().any(|op| matches!(op,
            Op::Bucket(bucket::Op::Encrypt { encryption: Encryption::SseKms(KmsKey::Alias(a)), .. })
            if a == "alias/aws-harden-cloudtrail")));
}

#[test]
fn converged_account_as_aws_returns_it_has_no_changes() {
    let p = plan("");
    let c = caller();
    let d = diff(&ctx(&p, &c), &converged(&p));
    assert!(d.changes.is_empty(), "{:#?}", d.changes);
}

#[test]
fn each_trail_and_key_drift_is_a_named_change() {
    let p = plan("");
    let c = caller();
    type Edit = fn(&mut Observed);
    let cases: [(&str, &str, Edit); 8] = [
        ("UpdateTrail", "s3 key prefix", |o| {
            o.trail.as_mut().unwrap().s3_key_prefix = Some("elsewhere".into())
        }),
        ("UpdateTrail", "s3 bucket", |o| {
            o.trail.as_mut().unwrap().bucket = "another-bucket".into()
        }),
        ("StartLogging", "logging", |o| {
            o.trail.as_mut().unwrap().logging = false
        }),
        ("UpdateTrail", "log file validation", |o| {
            o.trail.as_mut().unwrap().log_file_validation = false
        }),
        ("UpdateTrail", "multi-region", |o| {
            o.trail.as_mut().unwrap().multi_region = false
        }),
        ("UpdateTrail", "kms key", |o| {
            o.trail.as_mut().unwrap().kms_key_id = None
        }),
        ("EnableKeyRotation", "automatic rotation", |o| {
            o.key.as_mut().unwrap().rotation = false
        }),
        ("PutKeyPolicy", "key policy", |o| {
            o.key.as_mut().unwrap().policy = Some(
                    json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]})
                        .to_string(),
                )
        }),
    ];
    for (op, field, edit) in cases {
        let mut o = converged(&p);
        edit(&mut o);
        let d = diff(&ctx(&p, &c), &o);
        assert_eq!(ops(&d), [op], "{field}");
        assert!(
            d.changes[0].fields.iter().any(|f| f.field == field),
            "{field}: {:#?}",
            d.changes[0]
        );
        assert_eq!(d.changes[0].action, Action::Update);
    }
}

#[test]
fn a_trail_meeting_the_plan_is_adopted_and_one_falling_short_is_not() {
    let p = plan("");
    let c = caller();
    let other = TrailState {
        name: "org-audit".into(),
        arn: "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-audit".into(),
        home_region: "us-east-1".into(),
        bucket: "someone-elses-bucket".into(),
        kms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/x".into()),
        ..good_trail()
    };
    let o = Observed {
        other_trails: vec![other.clone()],
        ..Observed::default()
    };
    let d = diff(&ctx(&p, &c), &o);
    assert!(d.changes.is_empty(), "{:#?}", d.changes);
    assert!(d.notices[0].message.contains("adopted"), "{:?}", d.notices);

    let unreadable = Observed {
        other_trails: vec![TrailState {
            read_error: Some("AccessDenied".into()),
            ..other.clone()
        }],
        ..Observed::default()
    };
    let d = diff(&ctx(&p, &c), &unreadable);
    assert!(ops(&d).contains(&"CreateTrail".to_string()));
    assert!(
        d.notices
            .iter()
            .any(|n| n.message.contains("could not be read (AccessDenied)")),
        "{:?}",
        d.notices
    );

    let no_adopt = plan("adopt_existing = false\n");
    let d = diff(&ctx(&no_adopt, &c), &o);
    assert!(ops(&d).contains(&"CreateTrail".to_string()));

    let short = Observed {
        other_trails: vec![TrailState {
            multi_region: false,
            ..other
        }],
        ..Observed::default()
    };
    let d = diff(&ctx(&p, &c), &short);
    assert!(ops(&d).contains(&"CreateTrail".to_string()));
    assert!(
        d.notices
            .iter()
            .any(|n| n.message.contains("org-audit falls short")
                && n.message.contains("multi-region")),
        "{:?}",
        d.notices
    );
}

#[test]
fn access_log_bucket_gets_the_logging_statement_and_sse_s3() {
    let p = plan("access_log_bucket = \"logs-{account_id}\"\n");
    let ct = p.cloudtrail().unwrap();
    let (log, trail) = bucket_specs(ct, "eu-west-1", &caller(), KmsKey::Arn(KEY_ARN.into()));
    let log = log.unwrap();
    assert_eq!(log.name, "logs-123456789012");
    assert_eq!(log.encryption, Encryption::SseS3);
    assert_eq!(
        log.statements[0]["Principal"],
        json!({"Service": "logging.s3.amazonaws.com"})
    );
    assert_eq!(
        log.statements[0]["Resource"],
        "arn:aws:s3:::logs-123456789012/aws-harden-trail-123456789012-eu-west-1/*"
    );
    assert_eq!(
        trail.access_logging,
        Some(AccessLogging {
            target_bucket: "logs-123456789012".into(),
            target_prefix: "aws-harden-trail-123456789012-eu-west-1/".into()
        })
    );
    let d = diff(&ctx(&p, &caller()), &Observed::default());
    let order = ops(&d);
    let first_log = d
        .changes
        .iter()
        .position(|c| c.resource.contains("logs-123456789012"))
        .unwrap();
    let trail_logging = order
        .iter()
        .position(|o| o == "Bucket::PutLogging")
        .unwrap();
    assert!(first_log < trail_logging);
}

#[test]
fn an_organization_trail_from_another_account_covers_this_one_and_no_second_trail_is_made() {
    let p = plan("");
    let c = caller();
    let org_trail = TrailState {
        name: "org-trail".into(),
        arn: "arn:aws:cloudtrail:us-east-1:999999999999:trail/org-trail".into(),
        organization: true,
        // Its status cannot be read from a member account.
        read_error: Some("TrailNotFoundException".into()),
        logging: false,
        ..good_trail()
    };
    let o = Observed {
        other_trails: vec![org_trail.clone()],
        ..Observed::default()
    };
    let d = diff(&ctx(&p, &c), &o);
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert!(
        d.notices[0]
            .message
            .contains("organization trail org-trail"),
        "{:?}",
        d.notices
    );
    assert!(d.checks().iter().all(|k| k.passed));
    // Not an organization trail, or one of this account's own: the plan's trail is made.
    for other in [
        TrailState {
            organization: false,
            ..org_trail.clone()
        },
        TrailState {
            arn: format!(
                "arn:aws:cloudtrail:us-east-1:{}:trail/org-trail",
                c.account_id
            ),
            ..org_trail
        },
    ] {
        let o = Observed {
            other_trails: vec![other],
            ..Observed::default()
        };
        assert!(!diff(&ctx(&p, &c), &o).changes.is_empty());
    }
}
