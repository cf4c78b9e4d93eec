use aws_sdk_s3::types::{
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration,
};
use serde_json::{Value, json};

use super::apply::rule_to_sdk;
use super::diff::live_retention;
use super::documents::retention_rule;
use super::observe::{rule_from_sdk, versioning_from_xml};
use super::*;
use crate::aws::Caller;
use crate::change::{Action, ControlId, Diff};
use crate::policy;

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
fn ops(d: &Diff<Op>) -> Vec<Op> {
    d.changes.iter().flat_map(|c| c.ops.clone()).collect()
}

#[test]
fn versioning_status_from_raw_xml() {
    let moto = r#"<?xml version="1.0" encoding="utf-8"?>
<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></GetBucketVersioningResponse>"#;
    assert_eq!(versioning_from_xml(moto).as_deref(), Some("Enabled"));
    let never = r#"<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#;
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
fn a_buckets_checks_name_it_with_its_region_and_fail_with_its_changes() {
    let checks = |o: &Observed| {
        diff(ControlId::Cloudtrail, &spec(), o, &caller())
            .checks()
            .into_iter()
            .map(|c| (c.identity("123456789012"), c.passed))
            .collect::<Vec<_>>()
    };
    let id = |r: &str| format!("123456789012/eu-west-1/cloudtrail/{r}");
    assert_eq!(
        checks(&hardened()),
        [
            (id("s3 bucket \"audit-bucket\""), true),
            (id("s3 bucket policy \"audit-bucket\""), true)
        ]
    );
    assert_eq!(
        checks(&Observed::default()),
        [
            (id("s3 bucket \"audit-bucket\""), false),
            (id("s3 bucket policy \"audit-bucket\""), false)
        ]
    );
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
                    json!({"Statement": [tls_only_statement("aws", "audit-bucket")]}).to_string(),
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
                    narrowed.filter = Some(super::lifecycle::LifecycleRuleFilter {
                        prefix: Some("only/".into()),
                        ..Default::default()
                    });
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
    // As S3 is sent it: the plain rule through apply's conversion.
    let rule = rule_to_sdk(&retention_rule(Retention::lifetime(365))).unwrap();
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
    let keep = rule_to_sdk(&retention_rule(Retention::noncurrent_only(30))).unwrap();
    assert!(keep.expiration().is_none());
    assert_eq!(
        keep.noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(30)
    );
    // Read back as observe does.
    assert_eq!(
        live_retention(&[rule_from_sdk(&keep).unwrap()]),
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
        lifecycle_rules: vec![rule_from_sdk(&old).unwrap()],
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
    let other = rule_from_sdk(
        &LifecycleRule::builder()
            .id("theirs")
            .status(ExpirationStatus::Enabled)
            .build()
            .unwrap(),
    )
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

#[test]
fn lifecycle_rules_convert_to_plain_data_and_back_without_loss() {
    // Someone else's rule with every element S3 has: written back exactly as it was read.
    let tag = |k: &str| {
        aws_sdk_s3::types::Tag::builder()
            .key(k)
            .value("v")
            .build()
            .unwrap()
    };
    let date = aws_smithy_types::DateTime::from_secs(1_767_225_600);
    #[allow(deprecated)]
    let full = LifecycleRule::builder()
        .id("theirs")
        .prefix("legacy/")
        .filter(
            LifecycleRuleFilter::builder()
                .prefix("logs/")
                .tag(tag("one"))
                .object_size_greater_than(1)
                .object_size_less_than(2)
                .and(
                    aws_sdk_s3::types::LifecycleRuleAndOperator::builder()
                        .prefix("and/")
                        .tags(tag("a"))
                        .tags(tag("b"))
                        .object_size_greater_than(3)
                        .object_size_less_than(4)
                        .build(),
                )
                .build(),
        )
        .status(ExpirationStatus::Disabled)
        .expiration(
            LifecycleExpiration::builder()
                .date(date)
                .days(5)
                .expired_object_delete_marker(true)
                .build(),
        )
        .transitions(
            aws_sdk_s3::types::Transition::builder()
                .date(date)
                .days(6)
                .storage_class(aws_sdk_s3::types::TransitionStorageClass::Glacier)
                .build(),
        )
        .transitions(
            aws_sdk_s3::types::Transition::builder()
                .days(7)
                .storage_class(aws_sdk_s3::types::TransitionStorageClass::from("NEW_CLASS"))
                .build(),
        )
        .noncurrent_version_transitions(
            aws_sdk_s3::types::NoncurrentVersionTransition::builder()
                .noncurrent_days(8)
                .storage_class(aws_sdk_s3::types::TransitionStorageClass::DeepArchive)
                .newer_noncurrent_versions(9)
                .build(),
        )
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(10)
                .newer_noncurrent_versions(11)
                .build(),
        )
        .abort_incomplete_multipart_upload(
            aws_sdk_s3::types::AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(12)
                .build(),
        )
        .build()
        .unwrap();
    let plain = rule_from_sdk(&full).unwrap();
    assert_eq!(
        plain.expiration.as_ref().unwrap().date.as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    assert_eq!(rule_to_sdk(&plain).unwrap(), full);
    for rule in [
        retention_rule(Retention::lifetime(365)),
        retention_rule(Retention::noncurrent_only(30)),
    ] {
        assert_eq!(rule_from_sdk(&rule_to_sdk(&rule).unwrap()).unwrap(), rule);
    }
}
