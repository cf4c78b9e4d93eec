//! The questions: the kinds the wizard asks (`Ask`, at the terminal or scripted in tests), and
//! what it asks, each with its default.

use std::path::{Path, PathBuf};

use super::answers::{Answers, BudgetAnswers, Choice, ContactAnswers, TrailAnswers};
use crate::controls::Observation;
use crate::engine::Assessment;
use crate::plan::{self, CurFormat, PasswordPolicyPlan};
use crate::ui::prompt;

/// The admin user named `name` already has an MFA device (from the survey, which looked at the
/// recommended name only).
pub(super) fn has_mfa_device(survey: &Assessment, name: &str) -> bool {
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
    ask_admin(q, d, survey, &mut a)?;
    if d.s3_public_access != Choice::NotOffered {
        a.s3_public_access = ask_s3_public_access(q)?;
    }
    if d.ebs_encryption != Choice::NotOffered {
        a.ebs_encryption = yes_no_choice(
            q,
            "Encrypt new EBS volumes by default in every region (CIS 5.1.1; the AWS managed key, free)?",
        )?;
    }
    if d.imds_defaults != Choice::NotOffered {
        a.imds_defaults = yes_no_choice(
            q,
            "Require IMDSv2 for new EC2 instances by default in every region (CIS 5.7; launch settings and AMIs can still override it)?",
        )?;
    }
    if let Choice::On(t) = &d.cloudtrail {
        a.cloudtrail = ask_cloudtrail(q, t)?;
    }
    if let Choice::On(format) = &d.cost_report {
        a.cost_report = ask_cost_report(q, format)?;
    }
    if d.access_analyzer != Choice::NotOffered {
        a.access_analyzer = yes_no_choice(
            q,
            "Turn on IAM Access Analyzer in every region (CIS 1.19; free: it reports what is shared outside the account)?",
        )?;
    }
    if d.guardduty != Choice::NotOffered {
        let on = q.yes_no(
            "Turn on GuardDuty threat detection in every region (paid after a 30-day free trial: it spots stolen keys and compromised instances)?",
            matches!(d.guardduty, Choice::On(_)),
        )?;
        a.guardduty = if on { Choice::On(()) } else { Choice::Off };
    }
    if d.support_role != Choice::NotOffered {
        a.support_role = yes_no_choice(
            q,
            "Create an AWS Support role for incident handling (CIS 1.16; free: whoever handles a case assumes it, with MFA)?",
        )?;
    }
    if let Choice::On(deactivate) = d.iam_users {
        // Everyone's credentials are checked either way; the one choice is whether unused ones
        // are turned off or only reported.
        let on = q.yes_no(
            "Deactivate other people's access keys and console passwords unused for 45 days (CIS 2.11; everyone's credentials are checked on every run either way, and yours and the admin's are never changed)?",
            deactivate,
        )?;
        a.iam_users = Choice::On(on);
    }
    if let Choice::On(c) = &d.security_contact {
        a.security_contact = ask_security_contact(q, c)?;
    }
    if let Choice::On(b) = &d.budget {
        let suggested_email = match &a.security_contact {
            Choice::On(c) if b.email.is_empty() => c.email.clone(),
            _ => b.email.clone(),
        };
        a.budget = ask_budget(q, b, &suggested_email)?;
    }
    if let Choice::On(delete) = d.root {
        a.root = ask_root(q, delete)?;
    }
    a.password_policy = ask_password_policy(q, &d.password_policy)?;
    Ok(a)
}

/// The admin group and user, and the user's MFA (the group's MFA guard follows it).
fn ask_admin(
    q: &mut dyn Ask,
    d: &Answers,
    survey: &Assessment,
    a: &mut Answers,
) -> anyhow::Result<()> {
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
    Ok(())
}

fn ask_s3_public_access(q: &mut dyn Ask) -> anyhow::Result<Choice<()>> {
    yes_no_choice(
        q,
        "Turn on S3 Block Public Access for the whole account (CIS 2.1.4: no bucket can then be made public by an ACL or a policy)?",
    )
}

/// A control with nothing to choose but on (the default) or off.
fn yes_no_choice(q: &mut dyn Ask, question: &str) -> anyhow::Result<Choice<()>> {
    Ok(match q.yes_no(question, true)? {
        true => Choice::On(()),
        false => Choice::Off,
    })
}

fn ask_security_contact(
    q: &mut dyn Ask,
    d: &ContactAnswers,
) -> anyhow::Result<Choice<ContactAnswers>> {
    if !q.yes_no(
        "Set a security contact, so AWS can reach a person about a security issue in this account (CIS 1.2; free; a name, e-mail and phone)?",
        true,
    )? {
        return Ok(Choice::Off);
    }
    Ok(Choice::On(ContactAnswers {
        name: q.text(
            "Security contact's name",
            &d.name,
            &validator(plan::check_security_contact_name),
        )?,
        title: q.text(
            "Security contact's title",
            &d.title,
            &validator(plan::check_security_contact_title),
        )?,
        email: q.text(
            "Security contact's e-mail",
            &d.email,
            &validator(plan::check_security_contact_email),
        )?,
        phone: q.text(
            "Security contact's phone, in E.164 form (+ and the country code, e.g. +14155550100)",
            &d.phone,
            &validator(plan::check_security_contact_phone),
        )?,
    }))
}

fn ask_budget(
    q: &mut dyn Ask,
    d: &BudgetAnswers,
    email: &str,
) -> anyhow::Result<Choice<BudgetAnswers>> {
    if !q.yes_no(
        "Set a monthly cost budget with e-mail alerts at 80% and 100% of spend (free: budgets without actions cost nothing; it warns before a surprise bill)?",
        true,
    )? {
        return Ok(Choice::Off);
    }
    Ok(Choice::On(BudgetAnswers {
        amount: q.text(
            "Monthly budget in USD (a small amount makes the first alert come early)",
            &d.amount,
            &validator(plan::check_budget_amount),
        )?,
        email: q.text(
            "E-mail for the budget alerts",
            email,
            &validator(plan::check_budget_email),
        )?,
    }))
}

fn ask_cloudtrail(q: &mut dyn Ask, t: &TrailAnswers) -> anyhow::Result<Choice<TrailAnswers>> {
    if !q.yes_no(
        "Turn on CloudTrail (every region, logs encrypted in an S3 bucket)?",
        true,
    )? {
        return Ok(Choice::Off);
    }
    let retention_days = q.number(
        "Keep CloudTrail logs for how many days (0 = forever)",
        t.retention_days,
        &|_| Ok(()),
    )?;
    let access_logging = q.yes_no(
        "Also log each access to the trail's bucket (CIS 3.4)? Costs a second S3 bucket: its storage only",
        t.access_logging,
    )?;
    Ok(Choice::On(TrailAnswers {
        retention_days,
        access_logging,
    }))
}

fn ask_cost_report(q: &mut dyn Ask, format: &CurFormat) -> anyhow::Result<Choice<CurFormat>> {
    if !q.yes_no(
        "Set up a Cost and Usage Report (detailed billing delivered to S3)?",
        true,
    )? {
        return Ok(Choice::Off);
    }
    let formats = [CurFormat::Parquet, CurFormat::Csv];
    let labels = ["parquet (for Athena)", "csv"];
    let default = formats.iter().position(|f| f == format).unwrap_or(0);
    let i = q.choose("Report format", &labels, default)?;
    Ok(Choice::On(formats[i]))
}

fn ask_root(q: &mut dyn Ask, delete: bool) -> anyhow::Result<Choice<bool>> {
    Ok(Choice::On(q.yes_no(
        "Remove the root user's access keys (CIS 1.3; only root itself can, so otherwise a manual step)?",
        delete,
    )?))
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
pub(super) fn ask_path(
    q: &mut dyn Ask,
    dir: &Path,
    account_id: &str,
) -> anyhow::Result<Option<PathBuf>> {
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
