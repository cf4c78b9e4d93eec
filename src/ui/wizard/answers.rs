//! The answers and the plan they make: pure.

use crate::controls::Observation;
use crate::engine::Assessment;
use crate::plan::{
    AdminGroupPlan, AdminUserPlan, CloudTrailPlan, CostReportPlan, CurFormat, EbsEncryptionPlan,
    ImdsDefaultsPlan, PLAN_VERSION, PasswordPolicyPlan, Plan, Regions, RootPlan,
    S3PublicAccessPlan,
};

/// A question about a control: not asked (left out of the plan), declined, or accepted.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice<T> {
    /// Not asked: the plan leaves the control out.
    NotOffered,
    /// Asked and declined: written as `enabled = false`, so the decision is on record.
    Off,
    On(T),
}

/// The trail bucket's access logs go here when the person says yes (as in plans/baseline.toml).
pub const ACCESS_LOG_BUCKET: &str = "aws-harden-access-logs-{account_id}-{home_region}";

/// CloudTrail's questions.
#[derive(Clone, Debug, PartialEq)]
pub struct TrailAnswers {
    /// Log retention in days (0: forever).
    pub retention_days: u32,
    /// Server access logging of the trail bucket into a second bucket (CIS 3.4).
    pub access_logging: bool,
}

/// Everything the plan depends on: what the wizard asked, or its defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Answers {
    pub home_region: String,
    pub group_name: String,
    pub user_name: String,
    /// Require (and enroll) an MFA device for the admin user; the group's MFA policy follows it.
    pub admin_mfa: bool,
    pub password_policy: PasswordPolicyPlan,
    /// The account-level S3 Block Public Access (all four settings; nothing more to choose).
    pub s3_public_access: Choice<()>,
    /// EBS encryption by default in every region, with the AWS managed key.
    pub ebs_encryption: Choice<()>,
    /// IMDSv2 required by default for new instances in every region (hop limit 2).
    pub imds_defaults: Choice<()>,
    pub cloudtrail: Choice<TrailAnswers>,
    /// Cost and Usage Report, with its format (`parquet` or `csv`).
    pub cost_report: Choice<CurFormat>,
    /// Root user: MFA required (a manual step); `true` also removes its access keys.
    pub root: Choice<bool>,
}

/// The plan the answers describe. Keys not asked about take the documented defaults.
pub fn build_plan(a: &Answers) -> Plan {
    fn section<T, A>(choice: &Choice<A>, off: T, on: impl FnOnce(&A) -> T) -> Option<T> {
        match choice {
            Choice::NotOffered => None,
            Choice::Off => Some(off),
            Choice::On(v) => Some(on(v)),
        }
    }
    Plan {
        version: PLAN_VERSION,
        home_region: a.home_region.clone(),
        regions: Regions::default(),
        admin_group: Some(AdminGroupPlan {
            name: a.group_name.clone(),
            require_mfa: a.admin_mfa,
            ..AdminGroupPlan::default()
        }),
        admin_user: Some(AdminUserPlan {
            name: a.user_name.clone(),
            mfa: a.admin_mfa,
            ..AdminUserPlan::default()
        }),
        password_policy: Some(a.password_policy.clone()),
        s3_public_access: section(
            &a.s3_public_access,
            S3PublicAccessPlan { enabled: false },
            |_| S3PublicAccessPlan::default(),
        ),
        ebs_encryption: section(
            &a.ebs_encryption,
            EbsEncryptionPlan {
                enabled: false,
                ..EbsEncryptionPlan::default()
            },
            |_| EbsEncryptionPlan::default(),
        ),
        imds_defaults: section(
            &a.imds_defaults,
            ImdsDefaultsPlan {
                enabled: false,
                ..ImdsDefaultsPlan::default()
            },
            |_| ImdsDefaultsPlan::default(),
        ),
        cloudtrail: section(
            &a.cloudtrail,
            CloudTrailPlan {
                enabled: false,
                ..CloudTrailPlan::default()
            },
            |t| CloudTrailPlan {
                retention_days: t.retention_days,
                access_log_bucket: if t.access_logging {
                    ACCESS_LOG_BUCKET.to_string()
                } else {
                    String::new()
                },
                ..CloudTrailPlan::default()
            },
        ),
        cost_report: section(
            &a.cost_report,
            CostReportPlan {
                enabled: false,
                ..CostReportPlan::default()
            },
            |&format| CostReportPlan {
                format,
                // Athena integration needs Parquet; a CSV report gets no integration files.
                artifacts: match format {
                    CurFormat::Parquet => CostReportPlan::default().artifacts,
                    CurFormat::Csv => Vec::new(),
                },
                ..CostReportPlan::default()
            },
        ),
        root: section(
            &a.root,
            RootPlan {
                enabled: false,
                ..RootPlan::default()
            },
            |&delete_access_keys| RootPlan {
                delete_access_keys,
                ..RootPlan::default()
            },
        ),
    }
}

/// The recommended answers, before looking at the account.
pub fn recommended(home_region: &str) -> Answers {
    Answers {
        home_region: home_region.to_string(),
        group_name: AdminGroupPlan::default().name,
        user_name: AdminUserPlan::default().name,
        admin_mfa: true,
        password_policy: PasswordPolicyPlan::default(),
        s3_public_access: Choice::On(()),
        ebs_encryption: Choice::On(()),
        imds_defaults: Choice::On(()),
        cloudtrail: Choice::On(TrailAnswers {
            retention_days: CloudTrailPlan::default().retention_days,
            access_logging: true,
        }),
        cost_report: Choice::On(CostReportPlan::default().format),
        root: Choice::On(true),
    }
}

/// Defaults fitting what the survey found: the recommendation, except that an existing password
/// policy at least as strict as CIS is kept rather than replaced. (An admin user that already has an
/// MFA device is not asked about MFA at all: see `ask`.)
pub fn defaults(recommended: &Answers, survey: &Assessment) -> Answers {
    let mut a = recommended.clone();
    for o in &survey.observed {
        if let Observation::PasswordPolicy(p) = o
            && let Some(live) = &p.policy
            && is_at_least_cis(live)
        {
            a.password_policy = PasswordPolicyPlan {
                enabled: true,
                ..live.clone()
            };
        }
    }
    a
}

fn is_at_least_cis(p: &PasswordPolicyPlan) -> bool {
    let cis = PasswordPolicyPlan::default();
    p.minimum_length >= cis.minimum_length
        && p.password_reuse_prevention >= cis.password_reuse_prevention
}
