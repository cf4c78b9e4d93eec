//! The plan file's shape. Every table rejects unknown keys (a typo must never silently turn a
//! control off). A missing table means the control is not managed; a present table is managed unless
//! it says `enabled = false`. Missing keys take the recommended value shown in `plans/baseline.toml`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const PLAN_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Plan format version; must be 1.
    pub version: u32,
    /// Where regional resources (trail, buckets, key) live, whatever `--region` a run uses.
    pub home_region: String,
    /// The regions regional controls (`ebs_encryption`, `imds_defaults`) act in: `"all"` (every
    /// region the account can use) or a list.
    #[serde(default, skip_serializing_if = "Regions::is_all")]
    pub regions: Regions,
    /// Regions left out of `regions` (a Control Tower region deny, say: a region a person knows
    /// the Organization closes). Left out, never read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_group: Option<AdminGroupPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user: Option<AdminUserPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicyPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_public_access: Option<S3PublicAccessPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_encryption: Option<EbsEncryptionPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imds_defaults: Option<ImdsDefaultsPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_analyzer: Option<AccessAnalyzerPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardduty: Option<GuardDutyPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_role: Option<SupportRolePlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_users: Option<IamUsersPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_contact: Option<SecurityContactPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<RootPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudtrail: Option<CloudTrailPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_report: Option<CostReportPlan>,
}

/// The section if present and enabled.
fn managed<T>(section: &Option<T>, enabled: impl Fn(&T) -> bool) -> Option<&T> {
    section.as_ref().filter(|s| enabled(s))
}

impl Plan {
    pub fn admin_group(&self) -> Option<&AdminGroupPlan> {
        managed(&self.admin_group, |s| s.enabled)
    }
    pub fn admin_user(&self) -> Option<&AdminUserPlan> {
        managed(&self.admin_user, |s| s.enabled)
    }
    pub fn password_policy(&self) -> Option<&PasswordPolicyPlan> {
        managed(&self.password_policy, |s| s.enabled)
    }
    pub fn s3_public_access(&self) -> Option<&S3PublicAccessPlan> {
        managed(&self.s3_public_access, |s| s.enabled)
    }
    pub fn ebs_encryption(&self) -> Option<&EbsEncryptionPlan> {
        managed(&self.ebs_encryption, |s| s.enabled)
    }
    pub fn imds_defaults(&self) -> Option<&ImdsDefaultsPlan> {
        managed(&self.imds_defaults, |s| s.enabled)
    }
    pub fn access_analyzer(&self) -> Option<&AccessAnalyzerPlan> {
        managed(&self.access_analyzer, |s| s.enabled)
    }
    pub fn guardduty(&self) -> Option<&GuardDutyPlan> {
        managed(&self.guardduty, |s| s.enabled)
    }
    pub fn support_role(&self) -> Option<&SupportRolePlan> {
        managed(&self.support_role, |s| s.enabled)
    }
    pub fn iam_users(&self) -> Option<&IamUsersPlan> {
        managed(&self.iam_users, |s| s.enabled)
    }
    pub fn security_contact(&self) -> Option<&SecurityContactPlan> {
        managed(&self.security_contact, |s| s.enabled)
    }
    pub fn budget(&self) -> Option<&BudgetPlan> {
        managed(&self.budget, |s| s.enabled)
    }
    pub fn root(&self) -> Option<&RootPlan> {
        managed(&self.root, |s| s.enabled)
    }
    pub fn cloudtrail(&self) -> Option<&CloudTrailPlan> {
        managed(&self.cloudtrail, |s| s.enabled)
    }
    pub fn cost_report(&self) -> Option<&CostReportPlan> {
        managed(&self.cost_report, |s| s.enabled)
    }
    /// The group the admin user joins: the admin group's name (managed or not).
    pub fn admin_group_name(&self) -> Option<&str> {
        self.admin_group.as_ref().map(|g| g.name.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminGroupPlan {
    pub enabled: bool,
    /// IAM group name (1-128 of `A-Za-z0-9+=,.@_-`; placeholders allowed).
    pub name: String,
    /// Attach the AWS-managed `AdministratorAccess` policy.
    pub administrator_access: bool,
    /// Add the inline policy that denies everything but MFA set-up until the caller signs in with MFA.
    pub require_mfa: bool,
}

impl Default for AdminGroupPlan {
    fn default() -> Self {
        AdminGroupPlan {
            enabled: true,
            name: "Administrators".into(),
            administrator_access: true,
            require_mfa: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminUserPlan {
    pub enabled: bool,
    /// IAM user name (1-64 of `A-Za-z0-9+=,.@_-`; placeholders allowed).
    pub name: String,
    /// Give the user a console password (generated; shown once; changed at first sign-in).
    pub console_access: bool,
    /// Enroll a virtual MFA device for the user (at a terminal; a manual action otherwise).
    pub mfa: bool,
    /// Create one access key and store it as a profile in the AWS shared credentials file.
    /// Off by default: CIS 1.10 discourages keys at initial set-up for console users, and the key
    /// needs an MFA session to do anything once the admin group requires MFA.
    pub access_key: bool,
    /// Profile name for that access key.
    pub access_key_profile: String,
}

impl Default for AdminUserPlan {
    fn default() -> Self {
        AdminUserPlan {
            enabled: true,
            name: "admin".into(),
            console_access: true,
            mfa: true,
            access_key: false,
            access_key_profile: "aws-harden-admin".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicyPlan {
    pub enabled: bool,
    /// 6-128; CIS 1.7 asks for at least 14.
    pub minimum_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub allow_users_to_change_password: bool,
    /// Days until a password expires, 1-1095; 0 means passwords never expire.
    pub max_password_age_days: u32,
    /// How many previous passwords cannot be reused, 1-24; 0 means no check. CIS 1.8 asks for 24.
    pub password_reuse_prevention: u32,
    /// Expired passwords can only be reset by an administrator.
    pub hard_expiry: bool,
}

impl Default for PasswordPolicyPlan {
    fn default() -> Self {
        PasswordPolicyPlan {
            enabled: true,
            minimum_length: 14,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            allow_users_to_change_password: true,
            max_password_age_days: 0,
            password_reuse_prevention: 24,
            hard_expiry: false,
        }
    }
}

/// The account-level S3 Block Public Access (CIS 2.1.4): all four settings on. Nothing else to
/// choose: a setting left off is how buckets become public.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3PublicAccessPlan {
    pub enabled: bool,
}

impl Default for S3PublicAccessPlan {
    fn default() -> Self {
        S3PublicAccessPlan { enabled: true }
    }
}

/// `regions = "all"` or `regions = ["us-east-1", ...]`, as written; `check_static` accepts only
/// the word `all` and lists of known region codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Regions {
    Word(String),
    List(Vec<String>),
}

impl Default for Regions {
    fn default() -> Self {
        Regions::Word("all".into())
    }
}

impl Regions {
    pub fn is_all(&self) -> bool {
        matches!(self, Regions::Word(w) if w == "all")
    }
    /// The listed regions; `None` for every usable region.
    pub fn list(&self) -> Option<&[String]> {
        match self {
            Regions::List(l) => Some(l),
            Regions::Word(_) => None,
        }
    }
}

/// EBS encryption by default (CIS 5.1.1) in every region of `regions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EbsEncryptionPlan {
    pub enabled: bool,
    /// The default key for new volumes, as an alias name (`alias/NAME`: one name means the same
    /// thing in every region; a key ID or ARN belongs to one region). `None`: the AWS managed key
    /// `alias/aws/ebs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

impl Default for EbsEncryptionPlan {
    fn default() -> Self {
        EbsEncryptionPlan {
            enabled: true,
            kms_key: None,
        }
    }
}

/// The region's instance metadata defaults for new instances (CIS 5.7): IMDSv2 required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImdsDefaultsPlan {
    pub enabled: bool,
    /// `HttpPutResponseHopLimit`, 1-64; 2 lets a container on the instance reach IMDSv2.
    pub hop_limit: u32,
    /// `HttpTokensEnforced`: `true` refuses launches that ask for IMDSv1, `false` allows them;
    /// absent leaves the account's setting as it is (opt-in: enforcing breaks such launches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_tokens_enforced: Option<bool>,
}

impl Default for ImdsDefaultsPlan {
    fn default() -> Self {
        ImdsDefaultsPlan {
            enabled: true,
            hop_limit: 2,
            http_tokens_enforced: None,
        }
    }
}

/// An IAM Access Analyzer for external access (type `ACCOUNT`, free) in every region of `regions`
/// (CIS 1.19). Never an unused-access analyzer: those are billed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessAnalyzerPlan {
    pub enabled: bool,
    /// The analyzer's name where aws-harden creates one. Any active analyzer of type `ACCOUNT` or
    /// `ORGANIZATION` in a region already covers it.
    pub name: String,
}

impl Default for AccessAnalyzerPlan {
    fn default() -> Self {
        AccessAnalyzerPlan {
            enabled: true,
            name: "aws-harden".into(),
        }
    }
}

/// The GuardDuty protection plans a plan may turn on or off: the `DetectorFeature` enum of
/// CreateDetector and UpdateDetector (GuardDuty API reference; botocore's current model adds
/// `AI_PROTECTION` and `AI_ANALYST`). `EKS_RUNTIME_MONITORING` is left out: `RUNTIME_MONITORING`
/// replaces it, and a detector takes only one of the two. A feature `GetDetector` reports that is
/// not here (the data sources GuardDuty always reads, `FLOW_LOGS`, `CLOUD_TRAIL`, `DNS_LOGS`, or
/// one added to the API after this build) is left as it is and shown.
pub const GUARDDUTY_FEATURES: &[&str] = &[
    "S3_DATA_EVENTS",
    "EKS_AUDIT_LOGS",
    "EBS_MALWARE_PROTECTION",
    "RDS_LOGIN_EVENTS",
    "LAMBDA_NETWORK_LOGS",
    "RUNTIME_MONITORING",
    "AI_PROTECTION",
    "AI_ANALYST",
];

/// A GuardDuty detector, enabled, in every region of `regions`, with the plan's `features` on and
/// its `disabled_features` off. Every other protection plan is left as it is (someone may have
/// turned it on on purpose). Paid after a 30-day trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardDutyPlan {
    pub enabled: bool,
    /// The protection plans turned on.
    pub features: Vec<String>,
    /// The protection plans turned off; none by default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disabled_features: Vec<String>,
    /// Per region, the protection plans AWS does not offer there (its UpdateDetector rejected
    /// them): neither set nor compared in that region, and shown. A person's decision, written in
    /// the plan, so a rejected feature is not sent again on every run (issue 29).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub features_not_offered: BTreeMap<String, Vec<String>>,
}

impl Default for GuardDutyPlan {
    /// What the console turns on for a new detector, but Runtime Monitoring (an agent on each
    /// host) and the AI protections (newer, billed on their own).
    fn default() -> Self {
        GuardDutyPlan {
            enabled: true,
            features: [
                "S3_DATA_EVENTS",
                "EKS_AUDIT_LOGS",
                "EBS_MALWARE_PROTECTION",
                "RDS_LOGIN_EVENTS",
                "LAMBDA_NETWORK_LOGS",
            ]
            .map(String::from)
            .to_vec(),
            disabled_features: Vec::new(),
            features_not_offered: BTreeMap::new(),
        }
    }
}

/// A role with the AWS managed policy `AWSSupportAccess`, trusting this account (CIS 1.16): who
/// handles an incident with AWS Support assumes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupportRolePlan {
    pub enabled: bool,
    pub name: String,
}

impl Default for SupportRolePlan {
    fn default() -> Self {
        SupportRolePlan {
            enabled: true,
            name: "aws-support".into(),
        }
    }
}

/// The people's credentials, re-checked on every run from the IAM credential report (CIS v7.0 2.10
/// MFA for console users, 2.11 unused credentials, 2.12 key rotation and one active key, 2.13
/// permissions through groups, 2.17 expired server certificates, 2.20 CloudShell full access).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IamUsersPlan {
    pub enabled: bool,
    /// A credential not used for more days than this is unused (CIS: 45).
    pub unused_days: u32,
    /// An active access key older than this many days is due for rotation (CIS: 90).
    pub max_key_age_days: u32,
    /// Deactivate unused access keys, remove unused console passwords and delete expired server
    /// certificates; otherwise each is a manual action.
    pub deactivate_unused: bool,
    /// Findings a person accepted, each until a date.
    #[serde(rename = "exception", skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<IamUsersException>,
}

impl Default for IamUsersPlan {
    fn default() -> Self {
        IamUsersPlan {
            enabled: true,
            unused_days: 45,
            max_key_age_days: 90,
            deactivate_unused: false,
            exceptions: Vec::new(),
        }
    }
}

/// The credentials an exception can name (`IamUsersException::credential`).
pub const IAM_USERS_CREDENTIALS: &[&str] = &[
    "password",
    "access_key_1",
    "access_key_2",
    "mfa",
    "policies",
    "cloudshell",
];

/// `[[iam_users.exception]]`: a user's finding (one credential's, or all of the user's) that a
/// person accepted, for a reason, until `expires` (a date, `YYYY-MM-DD`, UTC): after it the
/// finding comes back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamUsersException {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    pub reason: String,
    pub expires: String,
}

/// One alternate contact (Account Management API, `PutAlternateContact`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPlan {
    pub name: String,
    pub title: String,
    pub email: String,
    /// E.164: `+` and the country code, then the number, digits only.
    pub phone: String,
}

/// The account's alternate contacts (CIS 1.2): SECURITY, and optionally BILLING and OPERATIONS.
/// The security contact's four keys sit in the table itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityContactPlan {
    pub enabled: bool,
    // Left out when empty: a declined contact is written as `enabled = false` alone.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<ContactPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<ContactPlan>,
}

impl Default for SecurityContactPlan {
    fn default() -> Self {
        SecurityContactPlan {
            enabled: true,
            name: String::new(),
            title: String::new(),
            email: String::new(),
            phone: String::new(),
            billing: None,
            operations: None,
        }
    }
}

impl SecurityContactPlan {
    /// Each contact the plan sets, with its `AlternateContactType` and its plan key.
    pub fn contacts(&self) -> Vec<(&'static str, &'static str, ContactPlan)> {
        let security = ContactPlan {
            name: self.name.clone(),
            title: self.title.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
        };
        let mut all = vec![("SECURITY", "security_contact", security)];
        if let Some(b) = &self.billing {
            all.push(("BILLING", "security_contact.billing", b.clone()));
        }
        if let Some(o) = &self.operations {
            all.push(("OPERATIONS", "security_contact.operations", o.clone()));
        }
        all
    }
}

/// A monthly cost budget with e-mail alerts at 80% and 100% of actual spend and 100% of
/// forecasted spend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetPlan {
    pub enabled: bool,
    pub name: String,
    /// The monthly limit, a decimal number greater than 0 (a TOML number or string).
    #[serde(skip_serializing_if = "BudgetAmount::is_empty")]
    pub amount: BudgetAmount,
    /// Only `USD`: AWS Budgets' cost budgets are in US dollars.
    pub currency: String,
    /// Who the alerts go to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email: String,
}

impl Default for BudgetPlan {
    fn default() -> Self {
        BudgetPlan {
            enabled: true,
            name: "aws-harden-monthly".into(),
            amount: BudgetAmount(String::new()),
            currency: "USD".into(),
            email: String::new(),
        }
    }
}

/// A budget amount as written: `amount = 20`, `amount = 20.5` or `amount = "20.50"`. Kept as
/// text; `validate` checks it is a number greater than 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct BudgetAmount(pub String);

impl BudgetAmount {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for BudgetAmount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Int(i64),
            Float(f64),
            Text(String),
        }
        Ok(BudgetAmount(match Written::deserialize(d)? {
            Written::Int(i) => i.to_string(),
            Written::Float(f) => f.to_string(),
            Written::Text(t) => t,
        }))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RootPlan {
    pub enabled: bool,
    /// Remove the root user's access keys (CIS 1.3). Only the root user itself can; for anyone else
    /// this is a manual action.
    pub delete_access_keys: bool,
    /// Require MFA on the root user (CIS 1.4). AWS has no API to enable it: a manual action until done.
    pub require_mfa: bool,
    /// Under `--org`: remove each member's root credentials (password, access keys, signing
    /// certificates, MFA devices) through `sts:AssumeRoot`, turning on the Organization's
    /// centralized root access first when it is off.
    pub centralized: bool,
}

impl Default for RootPlan {
    fn default() -> Self {
        RootPlan {
            enabled: true,
            delete_access_keys: true,
            require_mfa: true,
            centralized: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudTrailPlan {
    pub enabled: bool,
    /// Trail name (3-128 of letters, digits and `._-`; placeholders allowed).
    pub trail_name: String,
    /// Bucket the trail logs into, in `home_region` (S3 naming rules, no dots; placeholders
    /// allowed). Hardened by `crate::bucket`.
    pub bucket: String,
    /// Alias of the customer-managed KMS key that encrypts the logs (`alias/...`, not
    /// `alias/aws/...`); created with its key policy when missing.
    pub kms_key_alias: String,
    /// Expire log objects and their noncurrent versions after this many days; 0 keeps them
    /// forever; at most 36500.
    pub retention_days: u32,
    /// Adopt another trail that already meets the plan (multi-region, global service events,
    /// validation, KMS, logging, management events) instead of creating a second one.
    pub adopt_existing: bool,
    /// Server access logging for the trail bucket into this second hardened bucket (CIS 3.4);
    /// empty: off. Must differ from `bucket`.
    pub access_log_bucket: String,
}

impl Default for CloudTrailPlan {
    fn default() -> Self {
        CloudTrailPlan {
            enabled: true,
            trail_name: "aws-harden".into(),
            bucket: "aws-harden-trail-{account_id}-{home_region}".into(),
            kms_key_alias: "alias/aws-harden-cloudtrail".into(),
            retention_days: 365,
            adopt_existing: true,
            access_log_bucket: String::new(),
        }
    }
}

/// How often the report's line items are aggregated (`TimeUnit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CurTimeUnit {
    Hourly,
    Daily,
    Monthly,
}

/// The report's file format (`Format`: `Parquet` or `textORcsv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CurFormat {
    Parquet,
    Csv,
}

/// The report's compression (`Compression`: `Parquet`, `GZIP` or `ZIP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CurCompression {
    Parquet,
    Gzip,
    Zip,
}

/// Extra files AWS delivers so a service can load the report (`AdditionalArtifacts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CurArtifact {
    Athena,
    Redshift,
    Quicksight,
}

/// Whether each update overwrites the previous version (`ReportVersioning`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CurVersioning {
    OverwriteReport,
    CreateNewReport,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostReportPlan {
    pub enabled: bool,
    /// Report name: 1-256 of `A-Za-z0-9!-_.*'()` (placeholders allowed). The report's identity:
    /// renaming creates a new report and leaves the old one alone (see `delete_reports`).
    pub report_name: String,
    /// Bucket the report is delivered to, in `home_region` (S3 naming rules; placeholders allowed).
    pub bucket: String,
    /// Key prefix inside the bucket: up to 256 of `A-Za-z0-9!-_.*'()/`, not ending in `/`.
    pub s3_prefix: String,
    pub time_unit: CurTimeUnit,
    pub format: CurFormat,
    /// Parquet for the parquet format; gzip or zip for csv. Missing: parquet / gzip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<CurCompression>,
    /// Integration files: ATHENA (alone, parquet), or REDSHIFT and/or QUICKSIGHT (csv).
    pub artifacts: Vec<CurArtifact>,
    /// Include resource IDs (the RESOURCES schema element).
    pub include_resources: bool,
    /// Refresh reports of closed months when AWS applies late charges, refunds or credits.
    pub refresh_closed_reports: bool,
    pub versioning: CurVersioning,
    /// Report definitions to delete if they exist (after renaming `report_name`, say). No other
    /// report definition is ever deleted.
    pub delete_reports: Vec<String>,
    /// Days an old version of a report object (left by a refresh or an overwrite) is kept in the
    /// versioned bucket; current reports are kept forever. 1-36500.
    pub noncurrent_version_days: u32,
}

impl CostReportPlan {
    /// The compression in effect: as set, or the one that goes with the format.
    pub fn compression(&self) -> CurCompression {
        self.compression.unwrap_or(match self.format {
            CurFormat::Parquet => CurCompression::Parquet,
            CurFormat::Csv => CurCompression::Gzip,
        })
    }
}

impl Default for CostReportPlan {
    fn default() -> Self {
        CostReportPlan {
            enabled: true,
            report_name: "aws-harden-cur".into(),
            bucket: "aws-harden-cur-{account_id}-{home_region}".into(),
            s3_prefix: "cur".into(),
            time_unit: CurTimeUnit::Hourly,
            format: CurFormat::Parquet,
            compression: None,
            artifacts: vec![CurArtifact::Athena],
            include_resources: true,
            refresh_closed_reports: true,
            versioning: CurVersioning::OverwriteReport,
            delete_reports: Vec::new(),
            noncurrent_version_days: 30,
        }
    }
}
