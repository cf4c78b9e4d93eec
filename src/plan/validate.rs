//! Plan validation: static checks before any AWS call, name checks after placeholder expansion.

use std::path::{Path, PathBuf};

use super::placeholders::{self, Placeholders};
use super::types::*;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read plan file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Toml(String),
    #[error("{key} = {value:?}: {problem}")]
    Invalid {
        key: String,
        value: String,
        problem: String,
    },
    #[error("{}: {inner}", path.display())]
    InFile {
        path: PathBuf,
        inner: Box<PlanError>,
    },
}

impl PlanError {
    pub fn invalid(key: &str, value: impl std::fmt::Display, problem: &str) -> Self {
        PlanError::Invalid {
            key: key.to_string(),
            value: value.to_string(),
            problem: problem.to_string(),
        }
    }
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            PlanError::Read { .. } | PlanError::InFile { .. } => self,
            other => PlanError::InFile {
                path: path.to_path_buf(),
                inner: Box::new(other),
            },
        }
    }
}

type Result<T> = std::result::Result<T, PlanError>;

const NAME_CHARS: &str = "letters, digits and +=,.@_-";

fn iam_name_ok(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// IAM user names: 1-64 characters of `[A-Za-z0-9+=,.@_-]`.
pub fn is_valid_user_name(name: &str) -> bool {
    iam_name_ok(name, 64)
}

/// IAM group names: 1-128 characters of `[A-Za-z0-9+=,.@_-]`.
pub fn is_valid_group_name(name: &str) -> bool {
    iam_name_ok(name, 128)
}

/// A region code such as `us-east-1` or `ap-southeast-2`.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u32>().is_ok()
}

fn has_placeholder(s: &str) -> bool {
    s.contains('{')
}

/// A name check: run now when the value has no placeholder, else after expansion.
struct NameRule {
    key: &'static str,
    check: fn(&str) -> bool,
    what: &'static str,
}

fn check_name(rule: &NameRule, value: &str) -> Result<()> {
    if !(rule.check)(value) {
        return Err(PlanError::invalid(rule.key, value, rule.what));
    }
    Ok(())
}

const GROUP_NAME: NameRule = NameRule {
    key: "admin_group.name",
    check: is_valid_group_name,
    what: "is not a valid IAM group name: 1-128 characters of letters, digits and +=,.@_-",
};
const USER_NAME: NameRule = NameRule {
    key: "admin_user.name",
    check: is_valid_user_name,
    what: "is not a valid IAM user name: 1-64 characters of letters, digits and +=,.@_-",
};
const PROFILE_NAME: NameRule = NameRule {
    key: "admin_user.access_key_profile",
    check: |s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    },
    what: "is not a usable profile name: letters, digits and -_. only",
};

/// Every (key, value) that may hold placeholders, with the rule that applies once expanded.
fn named_values(plan: &Plan) -> Vec<(&NameRule, &str)> {
    let mut v = Vec::new();
    if let Some(g) = &plan.admin_group {
        v.push((&GROUP_NAME, g.name.as_str()));
    }
    if let Some(u) = &plan.admin_user {
        v.push((&USER_NAME, u.name.as_str()));
        v.push((&PROFILE_NAME, u.access_key_profile.as_str()));
    }
    v
}

/// Checks that need no AWS call. Runs before the first one.
pub fn check_static(plan: &Plan) -> Result<()> {
    if plan.version != PLAN_VERSION {
        return Err(PlanError::invalid(
            "version",
            plan.version,
            "unsupported plan version; this aws-harden reads version = 1",
        ));
    }
    if !is_region(&plan.home_region) {
        return Err(PlanError::invalid(
            "home_region",
            &plan.home_region,
            "is not an AWS region code such as \"us-east-1\"",
        ));
    }
    for (rule, value) in named_values(plan) {
        placeholders::check(rule.key, value)?;
        if !has_placeholder(value) {
            check_name(rule, value)?;
        }
    }
    if plan.admin_user().is_some() && plan.admin_group.is_none() {
        return Err(PlanError::invalid(
            "admin_user",
            "enabled",
            &format!(
                "needs an [admin_group] table: the admin user joins that group ({NAME_CHARS} names)"
            ),
        ));
    }
    if let Some(p) = &plan.password_policy {
        check_password_policy(p)?;
    }
    // Controls still being built: refuse rather than silently do nothing.
    for (table, managed) in [
        ("root", plan.root().is_some()),
        ("cloudtrail", plan.cloudtrail().is_some()),
        ("cost_report", plan.cost_report().is_some()),
    ] {
        if managed {
            return Err(PlanError::invalid(
                table,
                "enabled",
                "is not supported by this version of aws-harden yet",
            ));
        }
    }
    Ok(())
}

fn check_password_policy(p: &PasswordPolicyPlan) -> Result<()> {
    if !(6..=128).contains(&p.minimum_length) {
        return Err(PlanError::invalid(
            "password_policy.minimum_length",
            p.minimum_length,
            "must be 6-128 (CIS 1.7 asks for 14 or more)",
        ));
    }
    if p.max_password_age_days > 1095 {
        return Err(PlanError::invalid(
            "password_policy.max_password_age_days",
            p.max_password_age_days,
            "must be 0 (never expire) or 1-1095",
        ));
    }
    if p.password_reuse_prevention > 24 {
        return Err(PlanError::invalid(
            "password_policy.password_reuse_prevention",
            p.password_reuse_prevention,
            "must be 0 (off) or 1-24 (CIS 1.8 asks for 24)",
        ));
    }
    Ok(())
}

/// The plan with placeholders expanded in every name.
pub fn expand_all(plan: &Plan, ph: &Placeholders) -> Result<Plan> {
    let mut p = plan.clone();
    let x = |s: &mut String| *s = placeholders::expand(s, ph);
    if let Some(g) = &mut p.admin_group {
        x(&mut g.name);
    }
    if let Some(u) = &mut p.admin_user {
        x(&mut u.name);
        x(&mut u.access_key_profile);
    }
    if let Some(t) = &mut p.cloudtrail {
        x(&mut t.trail_name);
        x(&mut t.bucket);
        x(&mut t.kms_key_alias);
        x(&mut t.access_log_bucket);
    }
    if let Some(r) = &mut p.cost_report {
        x(&mut r.report_name);
        x(&mut r.bucket);
        x(&mut r.s3_prefix);
    }
    Ok(p)
}

/// Checks on expanded names. Runs before the first write.
pub fn check_resolved(plan: &Plan) -> Result<()> {
    for (rule, value) in named_values(plan) {
        check_name(rule, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::parse;

    #[test]
    fn iam_names() {
        assert!(is_valid_user_name("admin"));
        assert!(is_valid_user_name("a.b+c=d,e@f_g-h"));
        assert!(!is_valid_user_name(""));
        assert!(!is_valid_user_name("has space"));
        assert!(!is_valid_user_name(&"x".repeat(65)));
        assert!(is_valid_group_name(&"x".repeat(128)));
        assert!(!is_valid_group_name(&"x".repeat(129)));
    }

    #[test]
    fn regions() {
        assert!(is_region("us-east-1"));
        assert!(is_region("ap-southeast-2"));
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("useast1"));
        assert!(!is_region("US-EAST-1"));
        assert!(!is_region("us-east-x"));
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err("version = 1\nhome_region = \"us-east-1\"\n[admin_group]\nenabeld = false\n");
        assert!(e.contains("enabeld"), "{e}");
        assert!(e.contains("line 4"), "{e}");
    }

    #[test]
    fn unknown_table_is_named() {
        let e = err("version = 1\nhome_region = \"us-east-1\"\n[admin_gruop]\n");
        assert!(e.contains("admin_gruop"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let base = "version = 1\nhome_region = \"us-east-1\"\n";
        assert!(
            err(&format!("{base}[admin_group]\nname = \"bad name\"\n"))
                .contains("admin_group.name")
        );
        assert!(
            err(&format!(
                "{base}[admin_group]\n[admin_user]\nname = \"{}\"\n",
                "u".repeat(65)
            ))
            .contains("admin_user.name")
        );
        assert!(
            err(&format!("{base}[password_policy]\nminimum_length = 200\n"))
                .contains("minimum_length")
        );
        assert!(
            err(&format!(
                "{base}[password_policy]\npassword_reuse_prevention = 25\n"
            ))
            .contains("password_reuse_prevention")
        );
        assert!(
            err(&format!(
                "{base}[password_policy]\nmax_password_age_days = 2000\n"
            ))
            .contains("max_password_age_days")
        );
        assert!(err("version = 2\nhome_region = \"us-east-1\"\n").contains("version"));
        assert!(err("version = 1\nhome_region = \"mars\"\n").contains("home_region"));
        assert!(err(&format!("{base}[admin_user]\n")).contains("admin_group"));
        assert!(
            err(&format!("{base}[admin_group]\nname = \"g-{{acount}}\"\n"))
                .contains("unknown placeholder")
        );
    }

    #[test]
    fn wrong_type_names_line() {
        let e = err("version = 1\nhome_region = \"us-east-1\"\n[admin_group]\nenabled = \"yes\"\n");
        assert!(e.contains("line 4"), "{e}");
    }

    #[test]
    fn placeholder_names_checked_after_expansion() {
        let plan = parse("version = 1\nhome_region = \"us-east-1\"\n[admin_group]\nname = \"admins-{account_id}\"\n").unwrap();
        let ph = Placeholders {
            account_id: "123456789012".into(),
            home_region: "us-east-1".into(),
        };
        let resolved = crate::plan::resolve(&plan, &ph).unwrap();
        assert_eq!(resolved.admin_group.unwrap().name, "admins-123456789012");
        let long = format!(
            "version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\nname = \"{}{{account_id}}\"\n",
            "u".repeat(60)
        );
        let plan = parse(&long).unwrap();
        let e = crate::plan::resolve(&plan, &ph).unwrap_err().to_string();
        assert!(e.contains("admin_user.name"), "{e}");
    }
}
