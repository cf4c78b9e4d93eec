//! The name rules shared by every name a plan holds: S3 bucket names, IAM names, and the name
//! check that says which character is not allowed; and lists of known values.

use super::error::{PlanError, bad_char};

type Result<T> = std::result::Result<T, PlanError>;

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

pub fn bucket_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

pub fn iam_name_ok(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// A name check: run now when the value has no placeholder, else after expansion.
pub struct NameRule {
    pub key: &'static str,
    pub check: fn(&str) -> bool,
    pub what: &'static str,
    /// The characters the name may hold: the first other one is named in the error.
    pub allowed: fn(char) -> bool,
}

pub fn check_name(rule: &NameRule, value: &str) -> Result<()> {
    if !(rule.check)(value) {
        let problem = match bad_char(value, rule.allowed) {
            Some(bad) => format!("{}; {bad}", rule.what),
            None => rule.what.to_string(),
        };
        return Err(PlanError::invalid(rule.key, value, &problem));
    }
    Ok(())
}

pub fn iam_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// A list at `key` whose every item is one of `known`, none twice; `unknown` says what an item
/// not known is not.
pub fn check_known_list(key: &str, list: &[String], known: &[&str], unknown: &str) -> Result<()> {
    for (i, item) in list.iter().enumerate() {
        if !known.contains(&item.as_str()) {
            return Err(PlanError::invalid(key, item.as_str(), unknown));
        }
        if list[..i].contains(item) {
            return Err(PlanError::invalid(key, item.as_str(), "is listed twice"));
        }
    }
    Ok(())
}
