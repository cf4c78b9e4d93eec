//! Plan validation: static checks before any AWS call, name checks after placeholder expansion.

use std::path::{Path, PathBuf};

use super::cost_report;
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

/// CloudTrail trail names: 3-128 of letters, digits, `._-`, starting and ending with a letter or
/// digit, without adjacent punctuation (`my-_trail`, `my..trail`).
pub fn is_valid_trail_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=128).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !b
            .windows(2)
            .any(|w| !w[0].is_ascii_alphanumeric() && !w[1].is_ascii_alphanumeric())
}

/// KMS alias names: `alias/` then 1-250 of letters, digits, `/_-`; `alias/aws/` is AWS's own.
pub fn is_valid_kms_alias(alias: &str) -> bool {
    alias.strip_prefix("alias/").is_some_and(|rest| {
        (1..=250).contains(&rest.len())
            && !rest.starts_with("aws/")
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    })
}

const TRAIL_NAME: NameRule = NameRule {
    key: "cloudtrail.trail_name",
    check: is_valid_trail_name,
    what: "is not a valid CloudTrail trail name: 3-128 letters, digits and ._-, beginning and ending with a letter \
           or digit, no two punctuation marks in a row",
};
const TRAIL_BUCKET: NameRule = NameRule {
    key: "cloudtrail.bucket",
    check: |s| check_bucket_name(s).is_ok(),
    what: BUCKET_RULES,
};
const ACCESS_LOG_BUCKET: NameRule = NameRule {
    key: "cloudtrail.access_log_bucket",
    check: |s| check_bucket_name(s).is_ok(),
    what: BUCKET_RULES,
};
const KMS_ALIAS: NameRule = NameRule {
    key: "cloudtrail.kms_key_alias",
    check: is_valid_kms_alias,
    what: "is not a usable KMS alias: \"alias/\" then letters, digits and /_- (not \"alias/aws/...\", AWS's own)",
};
/// S3's naming rules (see `bucket::check_name`), as one sentence for error messages.
pub const BUCKET_RULES: &str = "is not a valid S3 bucket name: 3-63 lowercase letters, digits and hyphens, beginning and \
                                ending with a letter or digit (no dots; not xn--..., sthree-..., ...-s3alias)";

/// The admin group name rule, with the error a plan file gets (the wizard checks typed names).
pub fn check_group_name(name: &str) -> Result<()> {
    check_name(&GROUP_NAME, name)
}

/// The admin user name rule, with the error a plan file gets (the wizard checks typed names).
pub fn check_user_name(name: &str) -> Result<()> {
    check_name(&USER_NAME, name)
}

/// Every (key, value) that may hold placeholders, with the rule that applies once expanded.
fn named_values(plan: &Plan) -> Vec<(&NameRule, &str)> {
    let mut v = Vec::new();
    if let Some(t) = &plan.cloudtrail {
        v.push((&TRAIL_NAME, t.trail_name.as_str()));
        v.push((&TRAIL_BUCKET, t.bucket.as_str()));
        v.push((&KMS_ALIAS, t.kms_key_alias.as_str()));
        if !t.access_log_bucket.is_empty() {
            v.push((&ACCESS_LOG_BUCKET, t.access_log_bucket.as_str()));
        }
    }
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
    if let Some(t) = &plan.cloudtrail {
        check_cloudtrail(t)?;
    }
    if let Some(r) = &plan.cost_report {
        cost_report::check_static(r, &plan.home_region)?;
    }
    Ok(())
}

/// S3's bucket naming rules (general purpose buckets), plus one of ours: no dots, because a dotted
/// name breaks TLS certificate matching under virtual-hosted addressing. `Err` says what is wrong.
pub fn check_bucket_name(name: &str) -> std::result::Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3-63 characters long".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        return Err("may hold only lowercase letters, digits and hyphens".into());
    }
    if name.contains('.') {
        return Err("must not contain dots (they break TLS with virtual-hosted addressing)".into());
    }
    let first_last_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_last_ok(name.chars().next()) || !first_last_ok(name.chars().last()) {
        return Err("must begin and end with a letter or digit".into());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("must not begin with {prefix:?} (reserved by S3)"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("must not end with {suffix:?} (reserved by S3)"));
        }
    }
    Ok(())
}

/// Range checks for a password policy (also used by the wizard on each typed value).
pub fn check_password_policy(p: &PasswordPolicyPlan) -> Result<()> {
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

fn check_cloudtrail(t: &CloudTrailPlan) -> Result<()> {
    if t.retention_days == 1 || t.retention_days > 36_500 {
        return Err(PlanError::invalid(
            "cloudtrail.retention_days",
            t.retention_days,
            "must be 0 (keep forever) or 2-36500 days (the whole lifetime of a log file: S3 expires it after at \
             least a day, and the old version that leaves after at least one more)",
        ));
    }
    if t.access_log_bucket == t.bucket {
        return Err(PlanError::invalid(
            "cloudtrail.access_log_bucket",
            &t.access_log_bucket,
            "must differ from cloudtrail.bucket (a bucket logging into itself logs its own log writes forever)",
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
        r.delete_reports.iter_mut().for_each(x);
    }
    Ok(p)
}

/// Checks on expanded names. Runs before the first write.
pub fn check_resolved(plan: &Plan) -> Result<()> {
    for (rule, value) in named_values(plan) {
        check_name(rule, value)?;
    }
    if let Some(t) = &plan.cloudtrail {
        check_cloudtrail(t)?;
    }
    if let Some(r) = &plan.cost_report {
        cost_report::check_resolved(r)?;
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
    fn trail_names_and_kms_aliases() {
        assert!(is_valid_trail_name("aws-harden"));
        assert!(is_valid_trail_name("My_Trail.2"));
        for bad in [
            "ab",
            "-x-trail",
            "trail-",
            "my-_trail",
            "my..trail",
            "has space",
            &"t".repeat(129),
        ] {
            assert!(!is_valid_trail_name(bad), "{bad}");
        }
        assert!(is_valid_kms_alias("alias/aws-harden-cloudtrail"));
        assert!(is_valid_kms_alias("alias/team/trail_key"));
        for bad in [
            "aws-harden",
            "alias/",
            "alias/aws/cloudtrail",
            "alias/has space",
        ] {
            assert!(!is_valid_kms_alias(bad), "{bad}");
        }
    }

    #[test]
    fn cloudtrail_keys_are_checked_and_expanded_names_rechecked() {
        let base = "version = 1\nhome_region = \"us-east-1\"\n[cloudtrail]\n";
        assert!(parse(base).is_ok(), "the defaults are valid");
        assert!(err(&format!("{base}bucket = \"My.Bucket\"\n")).contains("cloudtrail.bucket"));
        assert!(
            err(&format!(
                "{base}access_log_bucket = \"aws-harden-trail-{{account_id}}-{{home_region}}\"\n"
            ))
            .contains("must differ")
        );
        let plan = parse(&format!(
            "{base}bucket = \"{}-{{account_id}}\"\n",
            "b".repeat(55)
        ))
        .unwrap();
        let ph = Placeholders {
            account_id: "123456789012".into(),
            home_region: "us-east-1".into(),
        };
        let e = crate::plan::resolve(&plan, &ph).unwrap_err().to_string();
        assert!(e.contains("cloudtrail.bucket") && e.contains("3-63"), "{e}");
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
