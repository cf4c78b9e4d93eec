//! Golden JSON for every op. Saved changes (terraform's `plan -out`) will store ops in this form, so
//! it is a file format: a change here must be deliberate (and the format's version raised), never
//! a side effect of renaming a field. Each op of each control appears once below.

use crate::bucket::{self, AccessLogging, Encryption, KmsKey};
use crate::change::{Action, Change, ControlId, Stage};
use crate::controls::{
    Op, access_analyzer, admin_group, admin_mfa, admin_user, budget, cloudtrail, cost_report,
    ebs_encryption, guardduty, iam_users, imds_defaults, password_policy, root, root_credentials,
    s3_public_access, security_contact, support_role,
};
use crate::plan::PasswordPolicyPlan;

fn s(v: &str) -> String {
    v.to_string()
}

/// One sample of each op, in registry order.
fn samples() -> Vec<Op> {
    let (name, region) = (s("audit-bucket"), s("eu-west-1"));
    let bucket_ops = vec![
        bucket::Op::Create {
            name: name.clone(),
            region: region.clone(),
        },
        bucket::Op::BlockPublicAccess {
            name: name.clone(),
            region: region.clone(),
        },
        bucket::Op::OwnerEnforced {
            name: name.clone(),
            region: region.clone(),
        },
        bucket::Op::Encrypt {
            name: name.clone(),
            region: region.clone(),
            encryption: Encryption::SseKms(KmsKey::Alias(s("alias/trail"))),
        },
        bucket::Op::Encrypt {
            name: name.clone(),
            region: region.clone(),
            encryption: Encryption::SseS3,
        },
        bucket::Op::EnableVersioning {
            name: name.clone(),
            region: region.clone(),
        },
        bucket::Op::PutPolicy {
            name: name.clone(),
            region: region.clone(),
            document: s(r#"{"Version":"2012-10-17","Statement":[]}"#),
        },
        bucket::Op::PutLifecycle {
            name: name.clone(),
            region: region.clone(),
            rules: vec![bucket::LifecycleRule {
                id: Some(s("aws-harden-retention")),
                filter: Some(bucket::LifecycleRuleFilter {
                    prefix: Some(s("")),
                    ..Default::default()
                }),
                status: s("Enabled"),
                expiration: Some(bucket::LifecycleExpiration {
                    days: Some(365),
                    ..Default::default()
                }),
                noncurrent_version_expiration: Some(bucket::NoncurrentVersionExpiration {
                    noncurrent_days: Some(30),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        },
        bucket::Op::DeleteLifecycle {
            name: name.clone(),
            region: region.clone(),
        },
        bucket::Op::PutLogging {
            name: name.clone(),
            region: region.clone(),
            logging: AccessLogging {
                target_bucket: s("log-bucket"),
                target_prefix: s("audit-bucket/"),
            },
        },
    ];
    let trail = cloudtrail::TrailSettings {
        name: s("aws-harden"),
        bucket: name.clone(),
        kms_key: KmsKey::Arn(s("arn:aws:kms:eu-west-1:123456789012:key/k1")),
    };
    let report = cost_report::Definition {
        name: s("aws-harden"),
        time_unit: s("DAILY"),
        format: s("Parquet"),
        compression: s("Parquet"),
        schema_elements: vec![s("RESOURCES")],
        bucket: s("cur-bucket"),
        prefix: s("cur"),
        region: s("us-east-1"),
        artifacts: vec![s("ATHENA")],
        refresh_closed_reports: Some(true),
        versioning: Some(s("OVERWRITE_REPORT")),
    };
    let mut ops = vec![
        Op::AdminGroup(admin_group::Op::CreateGroup {
            group: s("Administrators"),
        }),
        Op::AdminGroup(admin_group::Op::AttachPolicy {
            group: s("Administrators"),
            policy_arn: s("arn:aws:iam::aws:policy/AdministratorAccess"),
        }),
        Op::AdminGroup(admin_group::Op::PutInlinePolicy {
            group: s("Administrators"),
            policy_name: s("aws-harden-require-mfa"),
            document: s(r#"{"Version":"2012-10-17","Statement":[]}"#),
        }),
        Op::PasswordPolicy(password_policy::Op::Put(PasswordPolicyPlan::default())),
        Op::AdminUser(admin_user::Op::CreateUser { user: s("admin") }),
        Op::AdminUser(admin_user::Op::CreateLoginProfile {
            user: s("admin"),
            min_length: 14,
        }),
        Op::AdminUser(admin_user::Op::AddToGroup {
            user: s("admin"),
            group: s("Administrators"),
        }),
        Op::AdminUser(admin_user::Op::CreateAccessKey {
            user: s("admin"),
            profile: s("admin"),
        }),
        Op::AdminMfa(admin_mfa::Op::EnrollVirtual { user: s("admin") }),
        Op::S3PublicAccess(s3_public_access::Op::Put(
            s3_public_access::Settings::ALL_ON,
        )),
        Op::Cloudtrail(cloudtrail::Op::CreateKey {
            alias: s("alias/trail"),
            policy: s(r#"{"Version":"2012-10-17","Statement":[]}"#),
        }),
        Op::Cloudtrail(cloudtrail::Op::EnableKeyRotation {
            alias: s("alias/trail"),
        }),
        Op::Cloudtrail(cloudtrail::Op::PutKeyPolicy {
            alias: s("alias/trail"),
            policy: s(r#"{"Version":"2012-10-17","Statement":[]}"#),
        }),
        Op::Cloudtrail(cloudtrail::Op::CreateTrail(trail.clone())),
        Op::Cloudtrail(cloudtrail::Op::UpdateTrail(trail)),
        Op::Cloudtrail(cloudtrail::Op::PutEventSelectors {
            trail: s("aws-harden"),
        }),
        Op::Cloudtrail(cloudtrail::Op::PutAdvancedEventSelectors {
            trail: s("aws-harden"),
            selectors: vec![cloudtrail::AdvancedSelector::management_events()],
        }),
        Op::Cloudtrail(cloudtrail::Op::StartLogging {
            trail: s("aws-harden"),
        }),
    ];
    ops.extend(
        bucket_ops
            .iter()
            .cloned()
            .map(|op| Op::Cloudtrail(cloudtrail::Op::Bucket(op))),
    );
    ops.extend([
        Op::CostReport(cost_report::Op::Bucket(bucket_ops[0].clone())),
        Op::CostReport(cost_report::Op::PutReport(report.clone())),
        Op::CostReport(cost_report::Op::ModifyReport(report)),
        Op::CostReport(cost_report::Op::DeleteReport {
            name: s("someone-elses"),
        }),
        Op::EbsEncryption(ebs_encryption::Op::Enable {
            region: s("eu-west-1"),
        }),
        Op::EbsEncryption(ebs_encryption::Op::SetKey {
            region: s("eu-west-1"),
            alias: s("alias/ebs-default"),
        }),
        Op::EbsEncryption(ebs_encryption::Op::ResetKey {
            region: s("eu-west-1"),
        }),
        Op::ImdsDefaults(imds_defaults::Op::Require {
            region: s("eu-west-1"),
            hop_limit: 2,
            http_tokens_enforced: Some(true),
        }),
        Op::AccessAnalyzer(access_analyzer::Op::Create {
            region: s("eu-west-1"),
            name: s("aws-harden"),
        }),
        Op::AccessAnalyzer(access_analyzer::Op::Delete {
            region: s("eu-west-1"),
            name: s("aws-harden"),
        }),
        Op::Guardduty(guardduty::Op::Create {
            region: s("eu-west-1"),
            features: [
                (s("S3_DATA_EVENTS"), true),
                (s("RUNTIME_MONITORING"), false),
            ]
            .into(),
        }),
        Op::Guardduty(guardduty::Op::Update {
            region: s("eu-west-1"),
            detector_id: s("12abc34d567e8fa901bc2d34e56789f0"),
            features: [(s("S3_DATA_EVENTS"), true)].into(),
        }),
        Op::SupportRole(support_role::Op::CreateRole {
            name: s("aws-support"),
            trust_policy: s("{}"),
        }),
        Op::SupportRole(support_role::Op::SetTrust {
            name: s("aws-support"),
            trust_policy: s("{}"),
        }),
        Op::SupportRole(support_role::Op::AttachPolicy {
            name: s("aws-support"),
            policy_arn: s("arn:aws:iam::aws:policy/AWSSupportAccess"),
        }),
        Op::IamUsers(iam_users::Op::DeactivateKey {
            user: s("old-key"),
            access_key_id: s("AKIAIOSFODNN7EXAMPLE"),
        }),
        Op::IamUsers(iam_users::Op::RemovePassword { user: s("console") }),
        Op::IamUsers(iam_users::Op::DeleteServerCertificate {
            name: s("old-cert"),
        }),
        Op::SecurityContact(security_contact::Op::Put {
            kind: s("SECURITY"),
            name: s("Sec Team"),
            title: s("Security"),
            email: s("sec@example.com"),
            phone: s("+14155550100"),
        }),
        Op::Budget(budget::Op::CreateBudget {
            name: s("aws-harden-monthly"),
            amount: s("20"),
            email: s("bills@example.com"),
        }),
        Op::Budget(budget::Op::UpdateBudget {
            name: s("aws-harden-monthly"),
            amount: s("30"),
        }),
        Op::Budget(budget::Op::CreateAlert {
            name: s("aws-harden-monthly"),
            alert: budget::ALERTS[0],
            email: s("bills@example.com"),
        }),
        Op::Budget(budget::Op::AddSubscriber {
            name: s("aws-harden-monthly"),
            alert: budget::ALERTS[2],
            email: s("bills@example.com"),
        }),
        Op::RootCredentials(root_credentials::Op::EnableTrustedAccess),
        Op::RootCredentials(root_credentials::Op::EnableRootCredentialsManagement),
        Op::RootCredentials(root_credentials::Op::EnableRootSessions),
        Op::RootCredentials(root_credentials::Op::DeleteLoginProfile),
        Op::RootCredentials(root_credentials::Op::DeleteAccessKey {
            key_id: s("AKIAEXAMPLE"),
        }),
        Op::RootCredentials(root_credentials::Op::DeleteSigningCertificate {
            certificate_id: s("CERTEXAMPLE"),
        }),
        Op::RootCredentials(root_credentials::Op::DeactivateMfaDevice {
            serial: s("arn:aws:iam::111111111111:mfa/root-account-mfa-device"),
        }),
        Op::RootCredentials(root_credentials::Op::DeleteEveryRootCredential),
        Op::Root(root::Op::DeleteAccessKey {
            key_id: s("AKIAEXAMPLE"),
            own: false,
        }),
    ]);
    ops
}

/// The samples above as JSON, one per line.
const GOLDEN: &str = include_str!("golden_ops.jsonl");

#[test]
fn every_op_has_its_golden_json_and_reads_back() {
    let ops = samples();
    let actual: Vec<String> = ops
        .iter()
        .map(|op| serde_json::to_string(op).unwrap())
        .collect();
    let golden: Vec<&str> = GOLDEN.lines().collect();
    assert_eq!(
        actual.join("\n"),
        golden.join("\n"),
        "the ops' JSON changed: if on purpose, raise the saved-changes format version and update \
         src/controls/golden_ops.jsonl"
    );
    for (op, line) in ops.iter().zip(&golden) {
        let back: Op = serde_json::from_str(line).unwrap();
        assert_eq!(&back, op);
    }
}

#[test]
fn the_samples_cover_every_op() {
    // A new op variant without a sample fails here: its name is not among the samples'.
    let names: std::collections::BTreeSet<String> = samples()
        .iter()
        .map(|op| {
            let json = serde_json::to_value(op).unwrap();
            let (control, inner) = json.as_object().unwrap().iter().next().unwrap();
            let variant = match inner {
                serde_json::Value::Object(o) => o.keys().next().unwrap().clone(),
                serde_json::Value::String(v) => v.clone(),
                other => panic!("{other}"),
            };
            format!("{control}.{variant}")
        })
        .collect();
    let per_control = |c: &str| names.iter().filter(|n| n.starts_with(c)).count();
    // The variant counts of each control's Op (bucket ops count once per owner that uses them).
    assert_eq!(per_control("admin_group."), 3);
    assert_eq!(per_control("password_policy."), 1);
    assert_eq!(per_control("admin_user."), 4);
    assert_eq!(per_control("admin_mfa."), 1);
    assert_eq!(per_control("s3_public_access."), 1);
    assert_eq!(per_control("cloudtrail."), 9);
    assert_eq!(per_control("cost_report."), 4);
    assert_eq!(per_control("ebs_encryption."), 3);
    assert_eq!(per_control("imds_defaults."), 1);
    assert_eq!(per_control("access_analyzer."), 2);
    assert_eq!(per_control("guardduty."), 2);
    assert_eq!(per_control("support_role."), 3);
    assert_eq!(per_control("iam_users."), 3);
    assert_eq!(per_control("security_contact."), 1);
    assert_eq!(per_control("budget."), 4);
    assert_eq!(per_control("root_credentials."), 8);
    assert_eq!(per_control("root."), 1);
    for id in ControlId::ALL {
        assert!(per_control(&format!("{}.", id.as_str())) > 0, "{id:?}");
    }
}

#[test]
fn a_change_reads_back_as_it_was_written() {
    let change = Change::new(
        ControlId::AdminGroup,
        "iam group \"Administrators\"",
        Action::Create,
        Op::AdminGroup(admin_group::Op::CreateGroup {
            group: s("Administrators"),
        }),
    )
    .field("name", None::<String>, Some("Administrators"))
    .cis(&["1.14"])
    .note("why")
    .stage(Stage::LockIn);
    let json = serde_json::to_string(&change).unwrap();
    assert_eq!(
        json,
        r#"{"control":"admin_group","resource":"iam group \"Administrators\"","action":"create","fields":[{"field":"name","before":null,"after":"Administrators"}],"cis":["1.14"],"note":"why","stage":"lock_in","ops":[{"admin_group":{"create_group":{"group":"Administrators"}}}]}"#
    );
    let back: crate::controls::Change = serde_json::from_str(&json).unwrap();
    assert_eq!(back, change);
}
