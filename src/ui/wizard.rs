//! The setup wizard: what `aws-harden` does at a terminal without `-f`. It observes the account the
//! way every run does (`engine::assess`, on the recommended plan), says in a few lines what it found,
//! asks only what it must with defaults fitting what it found, and saves the plan in `plans/`. The
//! caller then shows the changes exactly as `--plan` would and asks whether to apply.
//!
//! Split in two: `defaults` and `build_plan` are pure (unit-tested); `run` asks the questions.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::aws::Aws;
use crate::change::{Action, Change, ControlId};
use crate::controls::{Observation, cloudtrail, cost_report, root};
use crate::ctrl_c::CtrlC;
use crate::engine::{self, Assessment};
use crate::plan::{
    self, AdminGroupPlan, AdminUserPlan, CloudTrailPlan, CostReportPlan, CurFormat, PLAN_VERSION,
    PasswordPolicyPlan, Placeholders, Plan, RootPlan,
};
use crate::ui::progress::Progress;
use crate::ui::prompt;

/// Where plans live, relative to the working directory.
pub const PLAN_DIR: &str = "plans";

/// The first line of a plan the wizard writes: how a later run recognises it.
fn marker_line(account_id: &str) -> String {
    format!("# aws-harden plan for account {account_id}, written by the setup wizard.")
}

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
        cloudtrail: Choice::On(TrailAnswers {
            retention_days: CloudTrailPlan::default().retention_days,
            access_logging: true,
        }),
        cost_report: Choice::On(CostReportPlan::default().format),
        root: Choice::On(true),
    }
}

/// What the survey of the account (the recommended plan, assessed) says about each control.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub control: ControlId,
    pub status: String,
}

/// A few lines on what the account has, from the assessment of the recommended plan: for each
/// control, what is there in plain words and how far it is from the recommendation. Differences
/// are counted only for things that exist: a missing trail is "no trail", not 19 differences.
pub fn findings(survey: &Assessment) -> Vec<Finding> {
    let plan = &survey.plan;
    let group = plan.admin_group_name().unwrap_or_default();
    let user = plan
        .admin_user
        .as_ref()
        .map(|u| u.name.as_str())
        .unwrap_or_default();
    survey
        .observed
        .iter()
        .map(|o| {
            let control = o.control();
            let changes: Vec<&Change> = survey
                .changes
                .iter()
                .filter(|c| c.control == control)
                .collect();
            let differ = differences(&changes);
            let status = match o {
                Observation::AdminGroup(g) if g.group.is_none() => {
                    format!("no group named \"{group}\"")
                }
                Observation::AdminGroup(_) if changes.is_empty() => {
                    format!("\"{group}\" exists, as recommended")
                }
                Observation::AdminGroup(_) => {
                    format!(
                        "\"{group}\" exists; {} from the recommendation (only those would change)",
                        count(&changes)
                    )
                }
                Observation::AdminUser(u) if u.user.is_none() => {
                    format!("no IAM user named \"{user}\"")
                }
                Observation::AdminUser(_) if changes.is_empty() => {
                    format!("\"{user}\" exists, as recommended")
                }
                Observation::AdminUser(_) => {
                    format!(
                        "\"{user}\" exists; {} from the recommendation (only those would change)",
                        count(&changes)
                    )
                }
                Observation::AdminMfa(m) if m.devices.is_empty() => {
                    format!("\"{user}\" has no MFA device")
                }
                Observation::AdminMfa(_) => format!("\"{user}\" has an MFA device"),
                Observation::PasswordPolicy(p) if p.policy.is_none() => "none set".to_string(),
                Observation::Cloudtrail(t) => {
                    let name = plan.cloudtrail().map(|c| c.trail_name.as_str());
                    format!("{}{differ}", trail_status(t, name, changes.is_empty()))
                }
                Observation::CostReport(r) => {
                    let name = plan.cost_report().map(|c| c.report_name.as_str());
                    format!("{}{differ}", report_status(r, name, changes.is_empty()))
                }
                Observation::Root(r) => root_status(r),
                _ if changes.is_empty() => "in place, as recommended".to_string(),
                _ if changes.iter().all(|c| c.is_manual()) => "needs a manual step".to_string(),
                _ => format!("set up; {} from the recommendation", count(&changes)),
            };
            Finding { control, status }
        })
        .collect()
}

/// "N differences": each changed field, or the change itself when it has none.
fn count(changes: &[&Change]) -> String {
    let n: usize = changes.iter().map(|c| c.fields.len().max(1)).sum();
    format!("{n} {}", if n == 1 { "difference" } else { "differences" })
}

/// For controls made of several resources: the differences in those that exist (what is
/// missing is said in words by the caller), or nothing.
fn differences(changes: &[&Change]) -> String {
    let existing: Vec<&Change> = changes
        .iter()
        .copied()
        .filter(|c| matches!(c.action, Action::Update | Action::Delete))
        .collect();
    if existing.is_empty() {
        String::new()
    } else {
        format!(
            "; {} from the recommendation in what exists",
            count(&existing)
        )
    }
}

fn trail_status(t: &cloudtrail::Observed, name: Option<&str>, in_line: bool) -> String {
    let name = name.unwrap_or_default();
    let multi = |t: &cloudtrail::TrailState| t.multi_region;
    match &t.trail {
        Some(tr) if !multi(tr) => format!("a trail (\"{name}\") that is not multi-region"),
        Some(_) if in_line => format!("trail \"{name}\", as recommended"),
        Some(_) => format!("trail \"{name}\", not all as recommended"),
        None => match t.other_trails.iter().find(|o| multi(o)) {
            Some(o) if in_line => format!("trail \"{}\", as recommended (used as it is)", o.name),
            Some(o) => format!(
                "a multi-region trail (\"{}\") short of the recommendation",
                o.name
            ),
            None => match t.other_trails.first() {
                Some(o) => format!("a trail (\"{}\") that is not multi-region", o.name),
                None => "no trail".to_string(),
            },
        },
    }
}

fn report_status(r: &cost_report::Observed, name: Option<&str>, in_line: bool) -> String {
    let name = name.unwrap_or_default();
    match &r.reports {
        cost_report::Reports::Denied { .. } => {
            "cannot be read: billing access for IAM is off (a manual step for root)".to_string()
        }
        cost_report::Reports::Readable(defs) => {
            match (defs.iter().any(|d| d.name == name), defs.len()) {
                (false, 0) => "no report".to_string(),
                (false, n) => format!(
                    "no report named \"{name}\" ({n} other {})",
                    if n == 1 { "report" } else { "reports" }
                ),
                (true, _) if in_line => format!("report \"{name}\", as recommended"),
                (true, _) => format!("report \"{name}\", not all as recommended"),
            }
        }
    }
}

/// Root is never "as recommended" unless its MFA is known to be on.
fn root_status(r: &root::Observed) -> String {
    let keys = match r.access_keys_present {
        Some(true) => "has access keys (CIS 1.3: none)",
        Some(false) => "no access keys",
        None => "access keys unknown (AWS did not say)",
    };
    let mfa = match (r.mfa_enabled, r.password_present) {
        (Some(true), _) => "MFA on",
        (_, Some(false)) => "no MFA, but no console password either",
        (None, _) => "MFA unknown (AWS did not say; a manual check in the console)",
        _ => "no MFA (a manual step in the console)",
    };
    format!("{keys}; {mfa}")
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

/// The admin user named `name` already has an MFA device (from the survey, which looked at the
/// recommended name only).
fn has_mfa_device(survey: &Assessment, name: &str) -> bool {
    survey
        .plan
        .admin_user
        .as_ref()
        .is_some_and(|u| u.name == name)
        && survey.observed.iter().any(|o| match o {
            Observation::AdminMfa(m) => !m.devices.is_empty(),
            _ => false,
        })
}

/// The plan file text: a header saying what it is and how to use it, then the plan.
pub fn plan_text(account_id: &str, path: &Path, plan: &Plan) -> String {
    format!(
        "{}\n# Check the account against it: aws-harden --plan -f {p}\n# Apply it again (repairs drift): aws-harden -f {p}\n# Every key is explained in plans/baseline.toml and in the README.\n\n{}",
        marker_line(account_id),
        plan::to_toml(plan),
        p = path.display()
    )
}

/// A plan the wizard saved earlier for this account: `plans/<account>.toml`, or any plan in
/// `plans/` that starts with the wizard's line for this account.
pub fn find_saved_plan(dir: &Path, account_id: &str) -> Option<PathBuf> {
    let by_name = dir.join(format!("{account_id}.toml"));
    if by_name.is_file() {
        return Some(by_name);
    }
    let marker = marker_line(account_id);
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| t.lines().next() == Some(marker.as_str()))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Write `text` to `path` whole or not at all: into a new temporary file beside it, flushed to
/// disk, then renamed over the target (atomic on one file system).
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// How the wizard ended.
#[derive(Debug)]
pub enum Ending {
    /// A plan was saved (or a saved one chosen): check the account against it and offer to apply.
    Plan(PathBuf),
    /// The person chose not to save a plan. Nothing was written.
    NotSaved,
}

/// Ask the questions and save the plan. Nothing is written to AWS here, and nothing to disk until
/// the last step; Ctrl-C at any point ends with `ctrl_c::Interrupted`.
pub async fn run(aws: &Aws, progress: &Progress, ctrl_c: &CtrlC) -> anyhow::Result<Ending> {
    let q: &mut dyn Ask = &mut AtTerminal;
    let account_id = aws.account_id().to_string();
    eprintln!(
        "Setting up account {account_id}, signed in as {} ({}).",
        aws.caller.describe(),
        aws.caller.arn
    );
    let dir = Path::new(PLAN_DIR);
    if let Some(saved) = find_saved_plan(dir, &account_id) {
        let again = q.yes_no(
            &format!(
                "A plan for this account is saved in {}. Check the account against it?",
                saved.display()
            ),
            true,
        )?;
        if again {
            return Ok(Ending::Plan(saved));
        }
    }

    // Look at the account the way every run does: the recommended plan, assessed (reads only).
    let recommended = recommended(&aws.home_region);
    let ph = Placeholders {
        account_id: account_id.clone(),
        home_region: aws.home_region.clone(),
    };
    let probe = plan::resolve(&build_plan(&recommended), &ph)?;
    let survey = ctrl_c
        .or_interrupted(engine::assess(aws, &probe, true, progress))
        .await?;
    eprintln!("\nFound (compared with the recommended settings):");
    for f in findings(&survey) {
        eprintln!("  {:<22} {}", f.control.title(), f.status);
    }
    eprintln!(
        "Regional resources go in {} (from your AWS configuration; --region to change).\n",
        aws.home_region
    );

    let answers = ask(q, &defaults(&recommended, &survey), &survey)?;
    let plan = build_plan(&answers);
    // The same validation as `-f`: a plan the wizard writes always loads.
    let check = plan_text(&account_id, Path::new("x.toml"), &plan);
    plan::parse(&check).context("the wizard built an invalid plan (a bug in aws-harden)")?;

    let Some(path) = ask_path(q, dir, &account_id)? else {
        return Ok(Ending::NotSaved);
    };
    write_atomically(&path, &plan_text(&account_id, &path, &plan))?;
    eprintln!("Saved the plan to {}.\n", path.display());
    Ok(Ending::Plan(path))
}

/// A plan-file check as a prompt validator: the same rule and the same message.
fn validator(
    check: fn(&str) -> Result<(), plan::PlanError>,
) -> impl Fn(&str) -> Result<(), String> {
    move |s| check(s).map_err(|e| e.to_string())
}

/// The kinds of question the wizard asks: at the terminal (`AtTerminal`), or scripted in tests.
pub trait Ask {
    /// A line of text, `default` on Enter, asked again until `validate` passes.
    fn text(
        &mut self,
        question: &str,
        default: &str,
        validate: &dyn Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String>;
    fn yes_no(&mut self, question: &str, default: bool) -> anyhow::Result<bool>;
    /// One of `items`, by index.
    fn choose(&mut self, question: &str, items: &[&str], default: usize) -> anyhow::Result<usize>;
    /// Tell the person something between questions.
    fn say(&mut self, text: &str);

    /// A whole number, asked again until it is one and `validate` passes.
    fn number(
        &mut self,
        question: &str,
        default: u32,
        validate: &dyn Fn(u32) -> Result<(), String>,
    ) -> anyhow::Result<u32> {
        let answer = self.text(question, &default.to_string(), &|s| {
            validate(
                s.parse()
                    .map_err(|_| format!("\"{s}\" is not a whole number"))?,
            )
        })?;
        Ok(answer.parse().expect("validated as a number"))
    }
}

/// Questions at the terminal (dialoguer, on stderr).
pub struct AtTerminal;

impl Ask for AtTerminal {
    fn text(
        &mut self,
        question: &str,
        default: &str,
        validate: &dyn Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String> {
        prompt::text(question, default, validate)
    }
    fn yes_no(&mut self, question: &str, default: bool) -> anyhow::Result<bool> {
        prompt::yes_no(question, default)
    }
    fn choose(&mut self, question: &str, items: &[&str], default: usize) -> anyhow::Result<usize> {
        prompt::choose(question, items, default)
    }
    fn say(&mut self, text: &str) {
        eprintln!("{text}");
    }
}

/// The questions, each with its default. Questions about controls this version does not offer
/// (`Choice::NotOffered` in `d`) are not asked.
pub fn ask(q: &mut dyn Ask, d: &Answers, survey: &Assessment) -> anyhow::Result<Answers> {
    let mut a = d.clone();
    a.group_name = q.text(
        "Admin group name",
        &d.group_name,
        &validator(plan::check_group_name),
    )?;
    a.user_name = q.text(
        "Admin user name (the IAM user you use instead of root)",
        &d.user_name,
        &validator(plan::check_user_name),
    )?;
    a.admin_mfa = if has_mfa_device(survey, &a.user_name) {
        q.say(&format!(
            "  {} already has an MFA device: it stays required.",
            a.user_name
        ));
        true
    } else {
        q.yes_no(
            &format!(
                "Require MFA for {} and set it up during apply (an authenticator app)?",
                a.user_name
            ),
            d.admin_mfa,
        )?
    };
    if a.admin_mfa {
        q.say(
            "  The admin group's MFA guard then denies everything without MFA. Access keys can do nothing without \
             an MFA session, not even enroll a device: enroll it here during apply, or in the console.",
        );
    }
    if let Choice::On(t) = &d.cloudtrail {
        a.cloudtrail = if q.yes_no(
            "Turn on CloudTrail (every region, logs encrypted in an S3 bucket)?",
            true,
        )? {
            let retention_days = q.number(
                "Keep CloudTrail logs for how many days (0 = forever)",
                t.retention_days,
                &|_| Ok(()),
            )?;
            let access_logging = q.yes_no(
                "Also log each access to the trail's bucket (CIS 3.4)? Costs a second S3 bucket: its storage only",
                t.access_logging,
            )?;
            Choice::On(TrailAnswers {
                retention_days,
                access_logging,
            })
        } else {
            Choice::Off
        };
    }
    if let Choice::On(format) = &d.cost_report {
        a.cost_report = if q.yes_no(
            "Set up a Cost and Usage Report (detailed billing delivered to S3)?",
            true,
        )? {
            let formats = [CurFormat::Parquet, CurFormat::Csv];
            let labels = ["parquet (for Athena)", "csv"];
            let default = formats.iter().position(|f| f == format).unwrap_or(0);
            let i = q.choose("Report format", &labels, default)?;
            Choice::On(formats[i])
        } else {
            Choice::Off
        };
    }
    if let Choice::On(delete) = d.root {
        a.root = Choice::On(q.yes_no(
            "Remove the root user's access keys (CIS 1.3; only root itself can, so otherwise a manual step)?",
            delete,
        )?);
    }
    a.password_policy = ask_password_policy(q, &d.password_policy)?;
    Ok(a)
}

fn ask_password_policy(
    q: &mut dyn Ask,
    d: &PasswordPolicyPlan,
) -> anyhow::Result<PasswordPolicyPlan> {
    let cis = PasswordPolicyPlan::default();
    let presets = [
        "CIS: 14+ characters, upper and lower case, digits, symbols, 24 remembered, no expiry",
        "Custom: choose the length, reuse and expiry",
    ];
    let default = if *d == cis { 0 } else { 1 };
    if q.choose("Password policy", &presets, default)? == 0 {
        return Ok(cis);
    }
    // Each value is checked with the plan's own validation as it is typed.
    let check = |p: PasswordPolicyPlan| plan::check_password_policy(&p).map_err(|e| e.to_string());
    let mut p = d.clone();
    p.minimum_length = q.number("Minimum password length", d.minimum_length, &|n| {
        check(PasswordPolicyPlan {
            minimum_length: n,
            ..cis.clone()
        })
    })?;
    p.password_reuse_prevention = q.number(
        "Previous passwords that cannot be reused (0 = no check)",
        d.password_reuse_prevention,
        &|n| {
            check(PasswordPolicyPlan {
                password_reuse_prevention: n,
                ..cis.clone()
            })
        },
    )?;
    p.max_password_age_days = q.number(
        "Days until a password expires (0 = never)",
        d.max_password_age_days,
        &|n| {
            check(PasswordPolicyPlan {
                max_password_age_days: n,
                ..cis.clone()
            })
        },
    )?;
    Ok(p)
}

/// Where to save: `plans/<account>.toml` by default; an existing file is only replaced when the
/// person says so. `None`: they chose not to save.
fn ask_path(q: &mut dyn Ask, dir: &Path, account_id: &str) -> anyhow::Result<Option<PathBuf>> {
    let mut default = dir.join(format!("{account_id}.toml")).display().to_string();
    loop {
        let answer = q.text("Save the plan as", &default, &|s| {
            if s.ends_with(".toml") {
                Ok(())
            } else {
                Err("a plan file name ends in .toml".into())
            }
        })?;
        let path = PathBuf::from(&answer);
        if !path.exists() {
            return Ok(Some(path));
        }
        if q.yes_no(&format!("{} exists. Replace it?", path.display()), false)? {
            return Ok(Some(path));
        }
        if !q.yes_no("Save under another name?", true)? {
            return Ok(None);
        }
        default = answer;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Action;
    use crate::controls::{admin_mfa, password_policy};

    fn all_offered() -> Answers {
        Answers {
            home_region: "eu-west-1".into(),
            group_name: "Admins".into(),
            user_name: "alice".into(),
            admin_mfa: true,
            password_policy: PasswordPolicyPlan::default(),
            cloudtrail: Choice::On(TrailAnswers {
                retention_days: 90,
                access_logging: false,
            }),
            cost_report: Choice::On(CurFormat::Csv),
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
        assert_eq!(plan.cloudtrail().unwrap().retention_days, 90);
        assert_eq!(plan.cost_report().unwrap().format, CurFormat::Csv);
        assert!(plan.cost_report().unwrap().artifacts.is_empty());
        let root = plan.root().unwrap();
        assert!(!root.delete_access_keys);
        assert!(root.require_mfa);
    }

    #[test]
    fn declined_is_recorded_and_not_offered_is_left_out() {
        let mut a = all_offered();
        a.cloudtrail = Choice::Off;
        a.cost_report = Choice::NotOffered;
        a.admin_mfa = false;
        let plan = build_plan(&a);
        assert!(plan.cloudtrail.as_ref().is_some_and(|t| !t.enabled));
        assert!(plan.cloudtrail().is_none());
        assert!(plan.cost_report.is_none());
        assert!(!plan.admin_user().unwrap().mfa);
        assert!(!plan.admin_group().unwrap().require_mfa);
    }

    #[test]
    fn recommended_plan_passes_the_plan_validation() {
        // The wizard's recommended plan loads with `-f` and manages every control.
        let plan = build_plan(&recommended("us-east-1"));
        let text = plan_text("123456789012", Path::new("plans/x.toml"), &plan);
        let parsed = plan::parse(&text).unwrap();
        assert_eq!(parsed, plan);
        assert_eq!(crate::controls::managed(&plan), ControlId::ALL.to_vec());
    }

    #[test]
    fn plan_text_starts_with_the_marker_and_round_trips() {
        let plan = build_plan(&recommended("us-east-1"));
        let text = plan_text("123456789012", Path::new("plans/123456789012.toml"), &plan);
        assert!(text.starts_with(
            "# aws-harden plan for account 123456789012, written by the setup wizard.\n"
        ));
        assert!(text.contains("aws-harden -f plans/123456789012.toml"));
        assert!(text.contains("[admin_group]\n"), "{text}");
    }

    fn survey(observed: Vec<Observation>, changes: Vec<Change>) -> Assessment {
        Assessment {
            plan: build_plan(&recommended("us-east-1")),
            observed,
            changes,
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
        use crate::controls::Op;
        let s = survey(
            vec![
                Observation::AdminMfa(admin_mfa::Observed {
                    devices: vec!["arn:aws:iam::1:mfa/a".into()],
                }),
                Observation::PasswordPolicy(password_policy::Observed::default()),
            ],
            vec![Change::new(
                ControlId::PasswordPolicy,
                "account password policy",
                Action::Create,
                Op::Manual,
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
                Change::new(ControlId::AdminGroup, "g", Action::Update, Op::Manual).field(
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
        write_atomically(&other, &plan_text("123456789012", &other, &plan)).unwrap();
        assert_eq!(find_saved_plan(dir.path(), "123456789012"), Some(other));
        assert_eq!(find_saved_plan(dir.path(), "999999999999"), None);
        let by_name = dir.path().join("123456789012.toml");
        std::fs::write(&by_name, "version = 1\n").unwrap();
        assert_eq!(find_saved_plan(dir.path(), "123456789012"), Some(by_name));
    }

    #[test]
    fn atomic_write_leaves_only_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("p.toml");
        write_atomically(&path, "one").unwrap();
        write_atomically(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("p.toml")]);
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
        fn choose(
            &mut self,
            question: &str,
            items: &[&str],
            default: usize,
        ) -> anyhow::Result<usize> {
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
        fn yes_no(&mut self, _: &str, default: bool) -> anyhow::Result<bool> {
            Ok(default)
        }
        fn choose(&mut self, _: &str, _: &[&str], default: usize) -> anyhow::Result<usize> {
            Ok(default)
        }
        fn say(&mut self, _: &str) {}
    }

    #[test]
    fn all_defaults_give_the_baseline_on_every_table_it_has() {
        let baseline =
            plan::parse(include_str!("../../plans/baseline.toml")).expect("baseline parses");
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
            cloudtrail,
            cost_report,
            root
        );
        // Every table the plan type has is compared: a new control must be added above.
        assert_eq!(
            compared,
            ControlId::ALL.len() - 1,
            "admin_mfa is admin_user.mfa"
        );
    }

    #[test]
    fn a_declined_control_is_written_enabled_false() {
        let mut q = Script::new(&[
            ("Admin group name", ""),
            ("Admin user name", ""),
            ("Require MFA", ""),
            ("Turn on CloudTrail", "n"),
            ("Cost and Usage Report", "n"),
            ("root user's access keys", ""),
            ("Password policy", ""),
        ]);
        let a = ask(&mut q, &recommended("us-east-1"), &empty_survey()).unwrap();
        let text = plan_text("123456789012", Path::new("plans/x.toml"), &build_plan(&a));
        for table in ["[cloudtrail]", "[cost_report]"] {
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
            ("Turn on CloudTrail", ""),
            ("Keep CloudTrail logs", ""),
            (
                "log each access to the trail's bucket (CIS 3.4)? Costs a second S3 bucket",
                "n",
            ),
            ("Cost and Usage Report", ""),
            ("Report format", ""),
            ("root user's access keys", ""),
            ("Password policy", ""),
        ]);
        let a = ask(&mut q, &recommended("us-east-1"), &empty_survey()).unwrap();
        let trail = build_plan(&a).cloudtrail.unwrap();
        assert!(trail.enabled);
        assert_eq!(trail.access_log_bucket, "");
    }

    fn change(control: ControlId, action: Action, fields: usize) -> Change {
        let mut c = Change::new(control, "r", action, crate::controls::Op::Manual);
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
            cloudtrail: Choice::NotOffered,
            cost_report: Choice::NotOffered,
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
            ("Turn on CloudTrail", ""),
            ("Keep CloudTrail logs", "30"),
            ("log each access to the trail's bucket", "n"),
            ("Cost and Usage Report", "y"),
            ("Report format", "csv"),
            ("root user's access keys", "n"),
            ("Password policy", ""),
        ]);
        let a = ask(&mut q, &d, &empty_survey()).unwrap();
        assert!(q.answers.is_empty(), "not asked: {:?}", q.answers);
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
}
