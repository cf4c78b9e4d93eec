//! The answers and the plan they make: pure.

use crate::controls::Observation;
use crate::engine::Assessment;
use crate::plan::{
    AccessAnalyzerPlan, AdminGroupPlan, AdminUserPlan, BudgetAmount, BudgetPlan, CloudTrailPlan,
    CostReportPlan, CurFormat, EbsEncryptionPlan, GuardDutyPlan, IamUsersPlan, ImdsDefaultsPlan,
    PLAN_VERSION, PasswordPolicyPlan, Plan, Regions, RootPlan, S3PublicAccessPlan,
    SecurityContactPlan, SupportRolePlan,
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

/// The security contact's four answers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactAnswers {
    pub name: String,
    pub title: String,
    pub email: String,
    pub phone: String,
}

/// The budget's answers.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetAnswers {
    /// The monthly limit in USD, as typed.
    pub amount: String,
    pub email: String,
}

/// The amount the wizard suggests: small, so the first alert comes early in a new account.
pub const SUGGESTED_BUDGET: &str = "20";

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
    /// An external-access analyzer in every region (free).
    pub access_analyzer: Choice<()>,
    /// GuardDuty in every region (paid after a 30-day trial; off unless chosen).
    pub guardduty: Choice<()>,
    /// The AWS Support role.
    pub support_role: Choice<()>,
    /// The people's credentials re-checked on every run; `true`: unused ones are deactivated.
    pub iam_users: Choice<bool>,
    /// The security alternate contact (the person's own data: asked, never assumed).
    pub security_contact: Choice<ContactAnswers>,
    /// The monthly budget and who its alerts go to.
    pub budget: Choice<BudgetAnswers>,
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
        exclude_regions: Vec::new(),
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
        access_analyzer: section(
            &a.access_analyzer,
            AccessAnalyzerPlan {
                enabled: false,
                ..AccessAnalyzerPlan::default()
            },
            |_| AccessAnalyzerPlan::default(),
        ),
        guardduty: section(
            &a.guardduty,
            GuardDutyPlan {
                enabled: false,
                ..GuardDutyPlan::default()
            },
            |_| GuardDutyPlan::default(),
        ),
        support_role: section(
            &a.support_role,
            SupportRolePlan {
                enabled: false,
                ..SupportRolePlan::default()
            },
            |_| SupportRolePlan::default(),
        ),
        iam_users: section(
            &a.iam_users,
            IamUsersPlan {
                enabled: false,
                ..IamUsersPlan::default()
            },
            |&deactivate_unused| IamUsersPlan {
                deactivate_unused,
                ..IamUsersPlan::default()
            },
        ),
        security_contact: section(
            &a.security_contact,
            SecurityContactPlan {
                enabled: false,
                ..SecurityContactPlan::default()
            },
            |c| SecurityContactPlan {
                name: c.name.clone(),
                title: c.title.clone(),
                email: c.email.clone(),
                phone: c.phone.clone(),
                ..SecurityContactPlan::default()
            },
        ),
        budget: section(
            &a.budget,
            BudgetPlan {
                enabled: false,
                ..BudgetPlan::default()
            },
            |b| BudgetPlan {
                amount: BudgetAmount(b.amount.clone()),
                email: b.email.clone(),
                ..BudgetPlan::default()
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
        access_analyzer: Choice::On(()),
        guardduty: Choice::Off,
        support_role: Choice::On(()),
        iam_users: Choice::On(false),
        security_contact: Choice::On(ContactAnswers {
            title: "Security".into(),
            ..ContactAnswers::default()
        }),
        budget: Choice::On(BudgetAnswers {
            amount: SUGGESTED_BUDGET.into(),
            email: String::new(),
        }),
        root: Choice::On(true),
    }
}

/// Defaults fitting what the survey found: the recommendation, except that an existing password
/// policy at least as strict as CIS is kept rather than replaced. (An admin user that already has an
/// MFA device is not asked about MFA at all: see `ask`.)
pub fn defaults(recommended: &Answers, survey: &Assessment) -> Answers {
    let mut a = recommended.clone();
    for o in &survey.observed {
        match o {
            Observation::PasswordPolicy(p) => {
                if let Some(live) = p.policy.as_ref().filter(|l| is_at_least_cis(l)) {
                    a.password_policy = PasswordPolicyPlan {
                        enabled: true,
                        ..live.clone()
                    };
                }
            }
            // What is set already is offered again, so Enter keeps it.
            Observation::SecurityContact(c) => {
                let live = c.contacts.iter().find(|(k, _)| k == "SECURITY");
                if let (Choice::On(d), Some((_, Some(live)))) = (&mut a.security_contact, live) {
                    let keep = |l: &Option<String>, d: &mut String| {
                        if let Some(v) = l {
                            *d = v.clone();
                        }
                    };
                    keep(&live.name, &mut d.name);
                    keep(&live.title, &mut d.title);
                    keep(&live.email, &mut d.email);
                    keep(&live.phone, &mut d.phone);
                }
            }
            Observation::Budget(b) => {
                if let (Choice::On(d), Some(live)) = (&mut a.budget, &b.budget) {
                    if let Some(amount) = &live.amount {
                        d.amount = amount.clone();
                    }
                    if let Some(email) = live.notifications.iter().find_map(|n| n.emails.first()) {
                        d.email = email.clone();
                    }
                }
            }
            _ => {}
        }
    }
    a
}

fn is_at_least_cis(p: &PasswordPolicyPlan) -> bool {
    let cis = PasswordPolicyPlan::default();
    p.minimum_length >= cis.minimum_length
        && p.password_reuse_prevention >= cis.password_reuse_prevention
}
