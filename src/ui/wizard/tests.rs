use super::questions::has_mfa_device;
use super::*;
use crate::change::{Action, ControlId};
use crate::controls::Change;
use crate::controls::{
    Observation, admin_mfa, cloudtrail, cost_report, password_policy, root, s3_public_access,
};
use crate::engine::Assessment;
use crate::plan::{CurFormat, PasswordPolicyPlan};

fn all_offered() -> Answers {
    Answers {
        home_region: "eu-west-1".into(),
        group_name: "Admins".into(),
        user_name: "alice".into(),
        admin_mfa: true,
        password_policy: PasswordPolicyPlan::default(),
        s3_public_access: Choice::On(()),
        ebs_encryption: Choice::On(()),
        imds_defaults: Choice::Off,
        cloudtrail: Choice::On(TrailAnswers {
            retention_days: 90,
            access_logging: false,
        }),
        cost_report: Choice::On(CurFormat::Csv),
        access_analyzer: Choice::On(()),
        guardduty: Choice::Off,
        support_role: Choice::On(()),
        iam_users: Choice::On(true),
        security_contact: Choice::On(ContactAnswers {
            name: "Sec".into(),
            title: "Security".into(),
            email: "sec@example.com".into(),
            phone: "+14155550100".into(),
        }),
        budget: Choice::Off,
        root: Choice::On(false),
    }
}

#[test]
fn answers_become_plan_sections() {
    let plan = build_plan(&all_offered());
    assert_eq!(plan.home_region, "eu-west-1");
    assert_eq!(plan.admin_group().unwrap().name, "Admins");
    assert!(plan.admin_group().unwrap().require_mfa);
    assert_eq!(plan.admin_user().unwrap().name, "alice");
    assert!(plan.admin_user().unwrap().mfa);
    assert!(plan.s3_public_access().is_some());
    assert!(plan.ebs_encryption().is_some());
    assert!(plan.imds_defaults.as_ref().is_some_and(|s| !s.enabled));
    assert!(plan.imds_defaults().is_none());
    assert_eq!(plan.cloudtrail().unwrap().retention_days, 90);
    assert_eq!(plan.cost_report().unwrap().format, CurFormat::Csv);
    assert!(plan.cost_report().unwrap().artifacts.is_empty());
    assert!(plan.access_analyzer().is_some() && plan.support_role().is_some());
    assert!(plan.iam_users().unwrap().deactivate_unused);
    assert!(plan.guardduty.as_ref().is_some_and(|g| !g.enabled));
    assert_eq!(plan.security_contact().unwrap().phone, "+14155550100");
    assert!(plan.budget.as_ref().is_some_and(|b| !b.enabled));
    let root = plan.root().unwrap();
    assert!(!root.delete_access_keys);
    assert!(root.require_mfa);
}

#[test]
fn declined_is_recorded_and_not_offered_is_left_out() {
    let mut a = all_offered();
    a.cloudtrail = Choice::Off;
    a.cost_report = Choice::NotOffered;
    a.s3_public_access = Choice::Off;
    a.admin_mfa = false;
    let plan = build_plan(&a);
    assert!(plan.s3_public_access.as_ref().is_some_and(|s| !s.enabled));
    assert!(plan.s3_public_access().is_none());
    assert!(plan.cloudtrail.as_ref().is_some_and(|t| !t.enabled));
    assert!(plan.cloudtrail().is_none());
    assert!(plan.cost_report.is_none());
    assert!(!plan.admin_user().unwrap().mfa);
    assert!(!plan.admin_group().unwrap().require_mfa);
}

#[test]
fn recommended_plan_passes_the_plan_validation() {
    // The wizard's recommended plan, with the person's own data answered, loads with `-f` and
    // manages every control (GuardDuty, paid, only when chosen).
    let mut a = recommended("us-east-1");
    a.guardduty = Choice::On(());
    a.security_contact = all_offered().security_contact;
    a.budget = Choice::On(BudgetAnswers {
        amount: "20".into(),
        email: "bills@example.com".into(),
    });
    let plan = build_plan(&a);
    let text = plan_text("123456789012", Path::new("plans/x.toml"), &plan);
    let parsed = plan::parse(&text).unwrap();
    assert_eq!(parsed, plan);
    // Every control but root_credentials ([root] centralized), which works only with --org.
    let mut all = ControlId::ALL.to_vec();
    all.retain(|id| *id != ControlId::RootCredentials);
    assert_eq!(crate::controls::managed(&plan), all);
}

#[test]
fn plan_text_starts_with_the_marker_and_round_trips() {
    let plan = build_plan(&recommended("us-east-1"));
    let text = plan_text("123456789012", Path::new("plans/123456789012.toml"), &plan);
    assert!(
        text.starts_with(
            "# aws-harden plan for account 123456789012, written by the setup wizard.\n"
        )
    );
    assert!(text.contains("aws-harden -f plans/123456789012.toml"));
    assert!(text.contains("[admin_group]\n"), "{text}");
}

fn survey(observed: Vec<Observation>, changes: Vec<Change>) -> Assessment {
    Assessment {
        plan: build_plan(&recommended("us-east-1")),
        observed,
        changes,
        checks: vec![],
        notices: vec![],
        unmanaged: vec![],
        interactive: true,
    }
}

#[test]
fn a_policy_stricter_than_cis_is_kept_a_weaker_one_is_not() {
    let strict = PasswordPolicyPlan {
        minimum_length: 20,
        max_password_age_days: 90,
        ..PasswordPolicyPlan::default()
    };
    let s = survey(
        vec![Observation::PasswordPolicy(password_policy::Observed {
            policy: Some(strict.clone()),
        })],
        vec![],
    );
    let rec = recommended("us-east-1");
    assert_eq!(defaults(&rec, &s).password_policy, strict);
    let weak = PasswordPolicyPlan {
        minimum_length: 8,
        ..PasswordPolicyPlan::default()
    };
    let s = survey(
        vec![Observation::PasswordPolicy(password_policy::Observed {
            policy: Some(weak),
        })],
        vec![],
    );
    assert_eq!(
        defaults(&rec, &s).password_policy,
        PasswordPolicyPlan::default()
    );
}

#[test]
fn findings_say_what_is_missing_and_what_is_in_place() {
    let s = survey(
        vec![
            Observation::AdminMfa(admin_mfa::Observed {
                devices: vec!["arn:aws:iam::1:mfa/a".into()],
            }),
            Observation::PasswordPolicy(password_policy::Observed::default()),
        ],
        vec![Change::with_ops(
            ControlId::PasswordPolicy,
            "account password policy",
            Action::Create,
            Vec::new(),
        )],
    );
    assert_eq!(
        findings(&s),
        vec![
            Finding {
                control: ControlId::AdminMfa,
                status: "\"admin\" has an MFA device".into()
            },
            Finding {
                control: ControlId::PasswordPolicy,
                status: "none set".into()
            },
        ]
    );
    assert!(has_mfa_device(&s, "admin"));

    let existing = survey(
        vec![Observation::AdminGroup(
            crate::controls::admin_group::Observed {
                group: Some(Default::default()),
                ..Default::default()
            },
        )],
        vec![
            Change::with_ops(ControlId::AdminGroup, "g", Action::Update, Vec::new()).field(
                "attached policy",
                None::<String>,
                Some("AdministratorAccess"),
            ),
        ],
    );
    assert_eq!(
        findings(&existing)[0].status,
        "\"Administrators\" exists; 1 difference from the recommendation (only those would change)"
    );
    assert!(!has_mfa_device(&s, "someone-else"));
}

#[test]
fn saved_plans_are_found_by_name_or_marker() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(find_saved_plan(dir.path(), "123456789012"), None);
    let plan = build_plan(&recommended("us-east-1"));
    let other = dir.path().join("mine.toml");
    crate::files::write_atomically(
        &other,
        &plan_text("123456789012", &other, &plan),
        crate::files::Access::Shared,
    )
    .unwrap();
    assert_eq!(find_saved_plan(dir.path(), "123456789012"), Some(other));
    assert_eq!(find_saved_plan(dir.path(), "999999999999"), None);
    let by_name = dir.path().join("123456789012.toml");
    std::fs::write(&by_name, "version = 1\n").unwrap();
    assert_eq!(find_saved_plan(dir.path(), "123456789012"), Some(by_name));
}

/// Answers read from a script, in order, each checked to be for the question expected. An
/// answer that fails validation is recorded and the question is asked again, as at a terminal.
struct Script {
    answers: std::collections::VecDeque<(&'static str, &'static str)>,
    asked: Vec<String>,
    errors: Vec<String>,
}

impl Script {
    fn new(answers: &[(&'static str, &'static str)]) -> Script {
        Script {
            answers: answers.iter().copied().collect(),
            asked: vec![],
            errors: vec![],
        }
    }
    fn next(&mut self, question: &str) -> &'static str {
        self.asked.push(question.to_string());
        let (key, answer) = self
            .answers
            .pop_front()
            .unwrap_or_else(|| panic!("no answer scripted for {question:?}"));
        assert!(
            question.contains(key),
            "asked {question:?}, scripted {key:?}"
        );
        answer
    }
}

impl Ask for Script {
    fn text(
        &mut self,
        question: &str,
        default: &str,
        validate: &dyn Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String> {
        loop {
            let a = self.next(question);
            let a = if a.is_empty() { default } else { a };
            match validate(a) {
                Ok(()) => return Ok(a.to_string()),
                Err(e) => self.errors.push(e),
            }
        }
    }
    fn yes_no(&mut self, question: &str, default: bool) -> anyhow::Result<bool> {
        Ok(match self.next(question) {
            "" => default,
            a => a == "y",
        })
    }
    fn choose(&mut self, question: &str, items: &[&str], default: usize) -> anyhow::Result<usize> {
        Ok(match self.next(question) {
            "" => default,
            a => items
                .iter()
                .position(|i| i.starts_with(a))
                .expect("an item"),
        })
    }
    fn say(&mut self, _text: &str) {}
}

fn empty_survey() -> Assessment {
    survey(vec![], vec![])
}

/// Enter at every question: the wizard's own defaults.
struct EnterEverywhere;

impl Ask for EnterEverywhere {
    fn text(
        &mut self,
        _: &str,
        default: &str,
        _: &dyn Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String> {
        Ok(default.to_string())
    }
    fn yes_no(&mut self, question: &str, default: bool) -> anyhow::Result<bool> {
        // The two questions that need the person's own data (a contact, a budget address) have
        // no default answers to give: declined here, as the baseline leaves them out.
        let own_data = ["Set a security contact", "Set a monthly cost budget"];
        Ok(default && !own_data.iter().any(|q| question.starts_with(q)))
    }
    fn choose(&mut self, _: &str, _: &[&str], default: usize) -> anyhow::Result<usize> {
        Ok(default)
    }
    fn say(&mut self, _: &str) {}
}

#[test]
fn all_defaults_give_the_baseline_on_every_table_it_has() {
    let baseline =
        plan::parse(include_str!("../../../plans/baseline.toml")).expect("baseline parses");
    let rec = recommended(&baseline.home_region);
    let a = ask(
        &mut EnterEverywhere,
        &defaults(&rec, &empty_survey()),
        &empty_survey(),
    )
    .unwrap();
    // As written to the file and read back, like `-f` would.
    let text = plan_text("123456789012", Path::new("plans/x.toml"), &build_plan(&a));
    let wizard = plan::parse(&text).unwrap();
    assert_eq!(wizard.home_region, baseline.home_region);
    let mut compared = 0;
    macro_rules! same {
            ($($table:ident),*) => {$(
                if baseline.$table.is_some() {
                    compared += 1;
                    assert_eq!(wizard.$table, baseline.$table, "[{}]", stringify!($table));
                }
            )*};
        }
    same!(
        admin_group,
        admin_user,
        password_policy,
        s3_public_access,
        ebs_encryption,
        imds_defaults,
        access_analyzer,
        guardduty,
        support_role,
        iam_users,
        cloudtrail,
        cost_report,
        root
    );
    assert_eq!(wizard.regions, baseline.regions);
    // Every table the plan type has is compared: a new control must be added above.
    assert_eq!(
        compared,
        ControlId::ALL.len() - 4,
        "admin_mfa is admin_user.mfa; root_credentials is root.centralized (--org only); \
         security_contact and budget need the person's data and are \
         not in the baseline"
    );
    // Declined, they are on record as such.
    assert!(wizard.security_contact.is_some_and(|c| !c.enabled));
    assert!(wizard.budget.is_some_and(|b| !b.enabled));
}

#[test]
fn a_declined_control_is_written_enabled_false() {
    let mut q = Script::new(&[
        ("Admin group name", ""),
        ("Admin user name", ""),
        ("Require MFA", ""),
        ("S3 Block Public Access", "n"),
        ("Encrypt new EBS volumes", "n"),
        ("Require IMDSv2", "n"),
        ("Turn on CloudTrail", "n"),
        ("Cost and Usage Report", "n"),
        ("IAM Access Analyzer", "n"),
        ("GuardDuty", "n"),
        ("AWS Support role", "n"),
        ("unused for 45 days", "n"),
        ("security contact", "n"),
        ("monthly cost budget", "n"),
        ("root user's access keys", ""),
        ("Password policy", ""),
    ]);
    let a = ask(&mut q, &recommended("us-east-1"), &empty_survey()).unwrap();
    let text = plan_text("123456789012", Path::new("plans/x.toml"), &build_plan(&a));
    for table in [
        "[s3_public_access]",
        "[ebs_encryption]",
        "[imds_defaults]",
        "[access_analyzer]",
        "[guardduty]",
        "[support_role]",
        "[cloudtrail]",
        "[cost_report]",
    ] {
        assert!(
            text.contains(&format!("{table}\nenabled = false\n")),
            "{table}\n{text}"
        );
    }
    // Access logging declined: the trail is on, its access log bucket is not.
    let mut q = Script::new(&[
        ("Admin group name", ""),
        ("Admin user name", ""),
        ("Require MFA", ""),
        ("S3 Block Public Access", ""),
        ("Encrypt new EBS volumes", ""),
        ("Require IMDSv2", ""),
        ("Turn on CloudTrail", ""),
        ("Keep CloudTrail logs", ""),
        (
            "log each access to the trail's bucket (CIS 3.4)? Costs a second S3 bucket",
            "n",
        ),
        ("Cost and Usage Report", ""),
        ("Report format", ""),
        ("IAM Access Analyzer", ""),
        ("GuardDuty", ""),
        ("AWS Support role", ""),
        ("unused for 45 days", ""),
        ("security contact", "n"),
        ("monthly cost budget", "n"),
        ("root user's access keys", ""),
        ("Password policy", ""),
    ]);
    let a = ask(&mut q, &recommended("us-east-1"), &empty_survey()).unwrap();
    let plan = build_plan(&a);
    assert!(plan.s3_public_access().is_some(), "Enter keeps it on");
    assert!(plan.access_analyzer().is_some(), "Enter keeps it on");
    assert!(plan.guardduty().is_none(), "paid: Enter keeps it off");
    // A declined contact and budget are written as `enabled = false` and nothing else.
    let text = plan_text("123456789012", Path::new("plans/x.toml"), &plan);
    for table in ["[security_contact]", "[budget]"] {
        let at = text.find(table).unwrap();
        let rest = &text[at + table.len()..];
        let section = &rest[..rest.find("\n[").unwrap_or(rest.len())];
        assert!(!section.contains("email"), "{table}{section}");
        assert!(
            section.starts_with("\nenabled = false\n"),
            "{table}{section}"
        );
    }
    let trail = plan.cloudtrail.unwrap();
    assert!(trail.enabled);
    assert_eq!(trail.access_log_bucket, "");
}

fn change(control: ControlId, action: Action, fields: usize) -> Change {
    let mut c = Change::with_ops(control, "r", action, Vec::new());
    for i in 0..fields {
        c = c.field(&format!("f{i}"), None::<String>, Some("x"));
    }
    c
}

fn status_of(observed: Observation, changes: Vec<Change>) -> String {
    findings(&survey(vec![observed], changes)).remove(0).status
}

#[test]
fn first_run_findings_say_what_is_there_and_count_only_what_exists() {
    // A fresh account: nothing exists, so nothing "differs".
    let trail = status_of(
        Observation::Cloudtrail(Box::default()),
        vec![
            change(ControlId::Cloudtrail, Action::Create, 12),
            change(ControlId::Cloudtrail, Action::Create, 7),
        ],
    );
    assert_eq!(trail, "no trail");
    let report = status_of(
        Observation::CostReport(cost_report::Observed::default()),
        vec![change(ControlId::CostReport, Action::Create, 18)],
    );
    assert_eq!(report, "no report");

    // A single-region trail of someone else's, and a key of ours with rotation off.
    let single = cloudtrail::TrailState {
        name: "old".into(),
        arn: "arn:aws:cloudtrail:us-east-1:1:trail/old".into(),
        home_region: "us-east-1".into(),
        bucket: "b".into(),
        s3_key_prefix: None,
        multi_region: false,
        organization: false,
        global_service_events: true,
        log_file_validation: false,
        kms_key_id: None,
        logging: true,
        management_events: true,
        read_error: None,
        delivery_error: None,
        advanced_selectors: Vec::new(),
    };
    let trail = status_of(
        Observation::Cloudtrail(Box::new(cloudtrail::Observed {
            other_trails: vec![single.clone()],
            ..Default::default()
        })),
        vec![
            change(ControlId::Cloudtrail, Action::Create, 9),
            change(ControlId::Cloudtrail, Action::Update, 1),
        ],
    );
    assert_eq!(
        trail,
        "a trail (\"old\") that is not multi-region; 1 difference from the recommendation in what exists"
    );
    let ours = status_of(
        Observation::Cloudtrail(Box::new(cloudtrail::Observed {
            trail: Some(cloudtrail::TrailState {
                name: "aws-harden".into(),
                multi_region: true,
                ..single
            }),
            ..Default::default()
        })),
        vec![change(ControlId::Cloudtrail, Action::Update, 2)],
    );
    assert_eq!(
        ours,
        "trail \"aws-harden\", not all as recommended; 2 differences from the recommendation in what exists"
    );
}

#[test]
fn s3_block_public_access_findings() {
    let none = status_of(
        Observation::S3PublicAccess(s3_public_access::Observed::default()),
        vec![change(ControlId::S3PublicAccess, Action::Create, 4)],
    );
    assert_eq!(
        none,
        "none set: only each bucket's own settings block public access"
    );
    let all_on = s3_public_access::Observed {
        block: Some(s3_public_access::Settings::ALL_ON),
    };
    let on = status_of(Observation::S3PublicAccess(all_on), vec![]);
    assert_eq!(on, "in place, as recommended");
    let one_off = s3_public_access::Observed {
        block: Some(s3_public_access::Settings {
            block_public_policy: false,
            ..s3_public_access::Settings::ALL_ON
        }),
    };
    let partly = status_of(
        Observation::S3PublicAccess(one_off),
        vec![change(ControlId::S3PublicAccess, Action::Update, 1)],
    );
    assert_eq!(partly, "set up; 1 difference from the recommendation");
}

#[test]
fn root_is_not_as_recommended_while_its_mfa_is_off() {
    let unknown = status_of(Observation::Root(root::Observed::default()), vec![]);
    assert_eq!(
        unknown,
        "access keys unknown (AWS did not say); MFA unknown (AWS did not say; a manual check in the console)"
    );
    let fresh = status_of(
        Observation::Root(root::Observed {
            mfa_enabled: Some(false),
            password_present: Some(false),
            access_keys_present: Some(false),
            ..Default::default()
        }),
        vec![],
    );
    assert_eq!(
        fresh,
        "no access keys; no MFA, but no console password either"
    );
    let with_password = status_of(
        Observation::Root(root::Observed {
            mfa_enabled: Some(false),
            password_present: Some(true),
            access_keys_present: Some(true),
            ..Default::default()
        }),
        vec![change(ControlId::Root, Action::Manual, 1)],
    );
    assert_eq!(
        with_password,
        "has access keys (CIS 1.3: none); no MFA (a manual step in the console)"
    );
    let done = status_of(
        Observation::Root(root::Observed {
            mfa_enabled: Some(true),
            password_present: Some(true),
            access_keys_present: Some(false),
            ..Default::default()
        }),
        vec![],
    );
    assert_eq!(done, "no access keys; MFA on");
    for s in [unknown, fresh, with_password] {
        assert!(!s.contains("as recommended"), "{s}");
    }
}

/// The recommendation with only the IAM questions, whatever this version supports: these
/// tests must not change when a control lands.
fn iam_only() -> Answers {
    Answers {
        s3_public_access: Choice::NotOffered,
        ebs_encryption: Choice::NotOffered,
        imds_defaults: Choice::NotOffered,
        cloudtrail: Choice::NotOffered,
        cost_report: Choice::NotOffered,
        access_analyzer: Choice::NotOffered,
        guardduty: Choice::NotOffered,
        support_role: Choice::NotOffered,
        iam_users: Choice::NotOffered,
        security_contact: Choice::NotOffered,
        budget: Choice::NotOffered,
        root: Choice::NotOffered,
        ..recommended("us-east-1")
    }
}

#[test]
fn every_question_when_every_control_is_offered() {
    let mut d = recommended("us-east-1");
    d.cost_report = Choice::On(CurFormat::Parquet);
    d.root = Choice::On(true);
    let mut q = Script::new(&[
        ("Admin group name", ""),
        ("Admin user name", "alice"),
        ("Require MFA for alice", ""),
        ("S3 Block Public Access", "y"),
        ("Encrypt new EBS volumes", "y"),
        ("Require IMDSv2", "y"),
        ("Turn on CloudTrail", ""),
        ("Keep CloudTrail logs", "30"),
        ("log each access to the trail's bucket", "n"),
        ("Cost and Usage Report", "y"),
        ("Report format", "csv"),
        ("IAM Access Analyzer", "y"),
        ("GuardDuty", "y"),
        ("AWS Support role", "y"),
        ("unused for 45 days", "y"),
        ("security contact", "y"),
        ("Security contact's name", "Sec Team"),
        ("Security contact's title", ""),
        ("Security contact's e-mail", "not-an-address"),
        ("Security contact's e-mail", "sec@example.com"),
        ("Security contact's phone", "555-0100"),
        ("Security contact's phone", "+14155550100"),
        ("monthly cost budget", "y"),
        ("Monthly budget in USD", "0"),
        ("Monthly budget in USD", "15.5"),
        ("E-mail for the budget alerts", ""),
        ("root user's access keys", "n"),
        ("Password policy", ""),
    ]);
    let a = ask(&mut q, &d, &empty_survey()).unwrap();
    assert!(q.answers.is_empty(), "not asked: {:?}", q.answers);
    assert_eq!(a.guardduty, Choice::On(()));
    assert_eq!(
        a.security_contact,
        Choice::On(ContactAnswers {
            name: "Sec Team".into(),
            title: "Security".into(),
            email: "sec@example.com".into(),
            phone: "+14155550100".into(),
        })
    );
    // The budget's address defaults to the security contact's.
    assert_eq!(
        a.budget,
        Choice::On(BudgetAnswers {
            amount: "15.5".into(),
            email: "sec@example.com".into(),
        })
    );
    assert_eq!(a.group_name, "Administrators");
    assert_eq!(a.user_name, "alice");
    assert!(a.admin_mfa);
    assert_eq!(
        a.cloudtrail,
        Choice::On(TrailAnswers {
            retention_days: 30,
            access_logging: false
        })
    );
    assert_eq!(a.s3_public_access, Choice::On(()));
    assert_eq!(a.cost_report, Choice::On(CurFormat::Csv));
    assert_eq!(a.root, Choice::On(false));
    assert_eq!(a.password_policy, PasswordPolicyPlan::default());
    let plan = build_plan(&a);
    assert_eq!(plan.cloudtrail().unwrap().retention_days, 30);
    assert_eq!(plan.cloudtrail().unwrap().access_log_bucket, "");
    assert!(!plan.root().unwrap().delete_access_keys);
}

#[test]
fn declining_trail_and_report_skips_their_follow_up_questions() {
    let mut d = iam_only();
    d.cloudtrail = recommended("us-east-1").cloudtrail;
    d.cost_report = Choice::On(CurFormat::Parquet);
    let mut q = Script::new(&[
        ("Admin group name", ""),
        ("Admin user name", ""),
        ("Require MFA", "n"),
        ("Turn on CloudTrail", "n"),
        ("Cost and Usage Report", "n"),
        ("Password policy", ""),
    ]);
    let a = ask(&mut q, &d, &empty_survey()).unwrap();
    assert_eq!((a.cloudtrail, a.cost_report), (Choice::Off, Choice::Off));
    assert!(!a.admin_mfa);
}

#[test]
fn controls_not_offered_are_not_asked_about() {
    let d = iam_only();
    let mut q = Script::new(&[
        ("Admin group name", ""),
        ("Admin user name", ""),
        ("Require MFA", ""),
        ("Password policy", ""),
    ]);
    let a = ask(&mut q, &d, &empty_survey()).unwrap();
    assert_eq!(a, d);
    assert_eq!(q.asked.len(), 4, "{:?}", q.asked);
}

#[test]
fn bad_values_are_asked_again_with_the_plan_rules() {
    let d = iam_only();
    let mut q = Script::new(&[
        ("Admin group name", "has space"),
        ("Admin group name", "Admins"),
        ("Admin user name", "a/b"),
        ("Admin user name", "bob"),
        ("Require MFA", ""),
        ("Password policy", "Custom"),
        ("Minimum password length", "5"),
        ("Minimum password length", "ten"),
        ("Minimum password length", "16"),
        ("Previous passwords", "25"),
        ("Previous passwords", ""),
        ("Days until a password expires", "2000"),
        ("Days until a password expires", "90"),
    ]);
    let a = ask(&mut q, &d, &empty_survey()).unwrap();
    assert_eq!(a.group_name, "Admins");
    assert_eq!(a.user_name, "bob");
    assert_eq!(a.password_policy.minimum_length, 16);
    assert_eq!(a.password_policy.password_reuse_prevention, 24);
    assert_eq!(a.password_policy.max_password_age_days, 90);
    assert_eq!(q.errors.len(), 6, "{:?}", q.errors);
    assert_eq!(
        q.errors[0],
        "admin_group.name = \"has space\": is not a valid IAM group name: 1-128 characters of letters, digits and +=,.@_-; \
             character ' ' (U+0020) at position 4 is not allowed"
    );
    assert!(q.errors[1].contains("is not a valid IAM user name: 1-64"));
    assert!(q.errors[2].contains("must be 6-128"));
    assert!(q.errors[3].contains("\"ten\" is not a whole number"));
    assert!(q.errors[4].contains("must be 0 (off) or 1-24"));
    assert!(q.errors[5].contains("must be 0 (never expire) or 1-1095"));
}

#[test]
fn an_admin_with_an_mfa_device_is_not_asked_about_mfa() {
    let s = survey(
        vec![Observation::AdminMfa(admin_mfa::Observed {
            devices: vec!["arn:aws:iam::1:mfa/a".into()],
        })],
        vec![],
    );
    let mut q = Script::new(&[
        ("Admin group name", ""),
        ("Admin user name", ""),
        ("Password policy", ""),
    ]);
    let a = ask(&mut q, &iam_only(), &s).unwrap();
    assert!(a.admin_mfa);
}

#[test]
fn an_existing_file_is_replaced_only_when_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("123456789012.toml");
    std::fs::write(&taken, "keep").unwrap();
    let mut q = Script::new(&[
        ("Save the plan as", ""),
        ("exists. Replace it?", ""),
        ("Save under another name?", ""),
        ("Save the plan as", "x.txt"),
        ("Save the plan as", "other.toml"),
    ]);
    let path = ask_path(&mut q, dir.path(), "123456789012").unwrap();
    assert_eq!(path, Some(PathBuf::from("other.toml")));
    assert_eq!(q.errors, vec!["a plan file name ends in .toml"]);
    let mut q = Script::new(&[("Save the plan as", ""), ("exists. Replace it?", "y")]);
    assert_eq!(
        ask_path(&mut q, dir.path(), "123456789012").unwrap(),
        Some(taken)
    );
}
