//! The IAM actions each read needs, so that `--plan` can run under a least-privilege, read-only
//! role (a scheduled drift check in CI, say). One row per operation aws-harden reads with: the
//! service as the SDK names it (its metadata), the operation, and the IAM action from the Service Authorization
//! Reference ("Actions, resources, and condition keys for ..."), `None` where AWS checks none.
//! They are not always the operation's name: `HeadBucket` needs `s3:ListBucket` (HeadBucket, S3
//! API reference), `GetBucketEncryption` needs `s3:GetEncryptionConfiguration`, and STS's
//! `GetCallerIdentity` needs no permission at all (GetCallerIdentity, STS API reference: "No
//! permissions are required to perform this operation").
//!
//! A test runs `--plan` on fresh and hardened accounts and fails if any operation the run makes
//! is missing here; `aws-harden policy --plan-only` prints the policy built from this table.

use serde_json::{Value, json};

/// (service, operation, IAM action).
pub const READS: &[(&str, &str, Option<&str>)] = &[
    // STS: identifying the caller needs no permission; an MFA session is not policy-controlled
    // (GetSessionToken, STS API reference: "You cannot use policies to control authentication
    // operations").
    ("sts", "GetCallerIdentity", None),
    ("sts", "GetSessionToken", None),
    // EC2 ("Actions defined by Amazon EC2"): the regions the account can use, and the regional
    // guardrails' settings (ebs_encryption, imds_defaults), read in every region.
    ("ec2", "DescribeRegions", Some("ec2:DescribeRegions")),
    (
        "ec2",
        "GetEbsEncryptionByDefault",
        Some("ec2:GetEbsEncryptionByDefault"),
    ),
    (
        "ec2",
        "GetEbsDefaultKmsKeyId",
        Some("ec2:GetEbsDefaultKmsKeyId"),
    ),
    (
        "ec2",
        "GetInstanceMetadataDefaults",
        Some("ec2:GetInstanceMetadataDefaults"),
    ),
    // `--org`, in the management account (Service Authorization Reference, "Actions defined by
    // AWS Organizations"): the Organization and its accounts, and a role session in each member.
    // AssumeRole writes nothing; what the session may do is the member role's own policy (give a
    // drift check a read-only role there: --role-name).
    (
        "organizations",
        "DescribeOrganization",
        Some("organizations:DescribeOrganization"),
    ),
    (
        "organizations",
        "ListAccounts",
        Some("organizations:ListAccounts"),
    ),
    (
        "organizations",
        "ListOrganizationalUnitsForParent",
        Some("organizations:ListOrganizationalUnitsForParent"),
    ),
    (
        "organizations",
        "ListAccountsForParent",
        Some("organizations:ListAccountsForParent"),
    ),
    ("sts", "AssumeRole", Some("sts:AssumeRole")),
    // `[root] centralized = true` (IAM user guide, "Centrally manage root access for member
    // accounts"): the Organization's features, and an audit session as each member's root. The
    // policy grants AssumeRoot only with the audit task (`plan_only_policy`); the reads inside the
    // session (GetLoginProfile, ListAccessKeys, ListSigningCertificates, ListMFADevices, without a
    // user name) are the task policy's, not the caller's.
    (
        "iam",
        "ListOrganizationsFeatures",
        Some("iam:ListOrganizationsFeatures"),
    ),
    ("sts", "AssumeRoot", Some(ASSUME_ROOT)),
    (
        "iam",
        "ListSigningCertificates",
        Some("iam:ListSigningCertificates"),
    ),
    // IAM (Service Authorization Reference, "Actions defined by AWS Identity and Access
    // Management"): the action names equal the operation names.
    (
        "iam",
        "GetAccountPasswordPolicy",
        Some("iam:GetAccountPasswordPolicy"),
    ),
    ("iam", "GetAccountSummary", Some("iam:GetAccountSummary")),
    (
        "iam",
        "GenerateCredentialReport",
        Some("iam:GenerateCredentialReport"),
    ),
    (
        "iam",
        "GetCredentialReport",
        Some("iam:GetCredentialReport"),
    ),
    ("iam", "GetGroup", Some("iam:GetGroup")),
    ("iam", "GetGroupPolicy", Some("iam:GetGroupPolicy")),
    (
        "iam",
        "ListAttachedGroupPolicies",
        Some("iam:ListAttachedGroupPolicies"),
    ),
    ("iam", "ListGroupPolicies", Some("iam:ListGroupPolicies")),
    ("iam", "GetUser", Some("iam:GetUser")),
    ("iam", "ListGroupsForUser", Some("iam:ListGroupsForUser")),
    ("iam", "GetLoginProfile", Some("iam:GetLoginProfile")),
    ("iam", "ListAccessKeys", Some("iam:ListAccessKeys")),
    // iam_users: the users' policies, who has AWSCloudShellFullAccess, the server certificates.
    (
        "iam",
        "GetAccountAuthorizationDetails",
        Some("iam:GetAccountAuthorizationDetails"),
    ),
    (
        "iam",
        "ListEntitiesForPolicy",
        Some("iam:ListEntitiesForPolicy"),
    ),
    (
        "iam",
        "ListServerCertificates",
        Some("iam:ListServerCertificates"),
    ),
    ("iam", "ListMFADevices", Some("iam:ListMFADevices")),
    (
        "iam",
        "ListVirtualMFADevices",
        Some("iam:ListVirtualMFADevices"),
    ),
    ("iam", "ListAccountAliases", Some("iam:ListAccountAliases")),
    (
        "iam",
        "SimulatePrincipalPolicy",
        Some("iam:SimulatePrincipalPolicy"),
    ),
    // KMS ("Actions defined by AWS Key Management Service").
    ("kms", "DescribeKey", Some("kms:DescribeKey")),
    ("kms", "GetKeyPolicy", Some("kms:GetKeyPolicy")),
    (
        "kms",
        "GetKeyRotationStatus",
        Some("kms:GetKeyRotationStatus"),
    ),
    ("kms", "ListAliases", Some("kms:ListAliases")),
    ("kms", "ListResourceTags", Some("kms:ListResourceTags")),
    // CloudTrail ("Actions defined by AWS CloudTrail").
    (
        "cloudtrail",
        "DescribeTrails",
        Some("cloudtrail:DescribeTrails"),
    ),
    ("cloudtrail", "GetTrail", Some("cloudtrail:GetTrail")),
    (
        "cloudtrail",
        "GetTrailStatus",
        Some("cloudtrail:GetTrailStatus"),
    ),
    (
        "cloudtrail",
        "GetEventSelectors",
        Some("cloudtrail:GetEventSelectors"),
    ),
    ("cloudtrail", "ListTags", Some("cloudtrail:ListTags")),
    // S3 ("Actions defined by Amazon S3"): several differ from the operation's name.
    ("s3", "HeadBucket", Some("s3:ListBucket")),
    ("s3", "GetBucketLocation", Some("s3:GetBucketLocation")),
    (
        "s3",
        "GetBucketEncryption",
        Some("s3:GetEncryptionConfiguration"),
    ),
    ("s3", "GetBucketVersioning", Some("s3:GetBucketVersioning")),
    ("s3", "GetBucketPolicy", Some("s3:GetBucketPolicy")),
    (
        "s3",
        "GetPublicAccessBlock",
        Some("s3:GetBucketPublicAccessBlock"),
    ),
    (
        "s3",
        "GetBucketOwnershipControls",
        Some("s3:GetBucketOwnershipControls"),
    ),
    (
        "s3",
        "GetBucketLifecycleConfiguration",
        Some("s3:GetLifecycleConfiguration"),
    ),
    ("s3", "GetBucketLogging", Some("s3:GetBucketLogging")),
    ("s3", "GetBucketTagging", Some("s3:GetBucketTagging")),
    ("s3", "GetBucketAcl", Some("s3:GetBucketAcl")),
    // S3 Control, the account's Block Public Access: the action is named for the account, not
    // the operation (GetPublicAccessBlock in the S3 Control API reference: "you must have the
    // s3:GetAccountPublicAccessBlock permission"; "Actions defined by Amazon S3").
    (
        "S3 Control",
        "GetPublicAccessBlock",
        Some("s3:GetAccountPublicAccessBlock"),
    ),
    // The support role (IAM, as above).
    ("iam", "GetRole", Some("iam:GetRole")),
    (
        "iam",
        "ListAttachedRolePolicies",
        Some("iam:ListAttachedRolePolicies"),
    ),
    // Alternate contacts ("Actions defined by AWS Account Management").
    (
        "Account",
        "GetAlternateContact",
        Some("account:GetAlternateContact"),
    ),
    // AWS Budgets ("Actions defined by AWS Budget Service"): one action, ViewBudget, allows
    // every Describe* of a budget and its notifications and subscribers.
    ("Budgets", "DescribeBudget", Some("budgets:ViewBudget")),
    (
        "Budgets",
        "DescribeNotificationsForBudget",
        Some("budgets:ViewBudget"),
    ),
    (
        "Budgets",
        "DescribeSubscribersForNotification",
        Some("budgets:ViewBudget"),
    ),
    // GuardDuty ("Actions defined by Amazon GuardDuty").
    (
        "GuardDuty",
        "ListDetectors",
        Some("guardduty:ListDetectors"),
    ),
    ("GuardDuty", "GetDetector", Some("guardduty:GetDetector")),
    // IAM Access Analyzer ("Actions defined by IAM Access Analyzer").
    (
        "AccessAnalyzer",
        "ListAnalyzers",
        Some("access-analyzer:ListAnalyzers"),
    ),
    // Cost and Usage Report ("Actions defined by AWS Cost and Usage Report").
    (
        "Cost and Usage Report Service",
        "DescribeReportDefinitions",
        Some("cur:DescribeReportDefinitions"),
    ),
];

/// The IAM action a read needs: `Some(None)` for a read AWS checks no permission for, `None` for
/// an operation not in the table.
pub fn action_for(service: &str, operation: &str) -> Option<Option<&'static str>> {
    READS
        .iter()
        .find(|(s, o, _)| s.eq_ignore_ascii_case(service) && *o == operation)
        .map(|(_, _, a)| *a)
}

/// The least-privilege identity policy for `--plan`: every action in the table, read-only, on
/// every resource (the reads name resources the plan chooses, so no narrower ARN fits every plan).
///
/// `sts:AssumeRoot` is granted in a statement of its own, only with the audit task policy
/// (condition key `sts:TaskPolicyArn`, Service Authorization Reference, "Actions defined by AWS
/// Security Token Service"): with this policy a session into a member's root can read its
/// credentials, never delete them.
pub fn plan_only_policy() -> Value {
    let mut actions: Vec<&str> = READS
        .iter()
        .filter_map(|(_, _, a)| *a)
        .filter(|a| *a != ASSUME_ROOT)
        .collect();
    actions.sort_unstable();
    actions.dedup();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AwsHardenPlanOnly",
            "Effect": "Allow",
            "Action": actions,
            "Resource": "*"
        }, {
            "Sid": "AwsHardenAuditMemberRoots",
            "Effect": "Allow",
            "Action": ASSUME_ROOT,
            "Resource": "*",
            "Condition": {"StringLike": {
                "sts:TaskPolicyArn": "arn:*:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
            }}
        }]
    })
}

const ASSUME_ROOT: &str = "sts:AssumeRoot";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_a_read_and_the_policy_grants_exactly_the_tables_actions() {
        let policy = plan_only_policy();
        let mut granted: Vec<&str> = policy["Statement"][0]["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        // AssumeRoot only with the audit task: its session reads, the delete task's would not.
        let root = &policy["Statement"][1];
        assert_eq!(
            root["Condition"]["StringLike"]["sts:TaskPolicyArn"],
            "arn:*:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
        );
        granted.push(root["Action"].as_str().unwrap());
        granted.sort_unstable();
        let mut table: Vec<&str> = READS.iter().filter_map(|(_, _, a)| *a).collect();
        table.sort_unstable();
        table.dedup();
        assert_eq!(granted, table);
        for action in granted {
            let name = action.split(':').nth(1).unwrap();
            assert!(
                [
                    "Get",
                    "List",
                    "Describe",
                    "View",
                    "Simulate",
                    "Generate",
                    "AssumeRole",
                    "AssumeRoot"
                ]
                .iter()
                .any(|p| name.starts_with(p)),
                "{action} is not a read"
            );
        }
        assert_eq!(action_for("s3", "HeadBucket"), Some(Some("s3:ListBucket")));
        assert_eq!(action_for("sts", "GetCallerIdentity"), Some(None));
        assert_eq!(action_for("iam", "CreateUser"), None);
    }
}
