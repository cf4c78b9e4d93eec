//! The plan checks of the guardrails for people and money (`access_analyzer`, `guardduty`,
//! `support_role`, `security_contact`, `budget`): names by the shared name rules, contacts and the
//! budget by their own. The wizard checks typed values with the same functions.

use super::error::PlanError;
use super::names::{NameRule, check_known_list, check_name, iam_char, iam_name_ok};
use super::types::*;

type Result<T> = std::result::Result<T, PlanError>;

const ANALYZER_NAME: NameRule = NameRule {
    key: "access_analyzer.name",
    check: is_valid_analyzer_name,
    what: "is not a valid analyzer name: 1-255 of letters, digits and _.-, starting with a letter \
           (Access Analyzer CreateAnalyzer analyzerName)",
    allowed: |c| c.is_ascii_alphanumeric() || "_.-".contains(c),
};
const ROLE_NAME: NameRule = NameRule {
    key: "support_role.name",
    check: |s| iam_name_ok(s, 64),
    what: "is not a valid IAM role name: 1-64 characters of letters, digits and +=,.@_-",
    allowed: iam_char,
};
const BUDGET_NAME: NameRule = NameRule {
    key: "budget.name",
    check: |s| {
        (1..=100).contains(&s.chars().count())
            && !s.contains([':', '\\'])
            && !s.contains("/action/")
    },
    what: "must be 1-100 characters without : or \\ (AWS Budgets BudgetName)",
    allowed: |c| c != ':' && c != '\\',
};

/// The guardrails for people and money: access_analyzer, guardduty, support_role,
/// security_contact, budget. Contacts and the budget are checked only when enabled (the wizard
/// writes a declined one as `enabled = false` with nothing else).
pub(super) fn check_static(plan: &Plan) -> Result<()> {
    if let Some(a) = &plan.access_analyzer {
        check_name(&ANALYZER_NAME, &a.name)?;
    }
    if let Some(r) = &plan.support_role {
        check_name(&ROLE_NAME, &r.name)?;
    }
    if let Some(g) = &plan.guardduty {
        let problem = format!(
            "is not a GuardDuty protection plan this aws-harden sets; known: {}",
            GUARDDUTY_FEATURES.join(", ")
        );
        check_known_list(
            "guardduty.features",
            &g.features,
            GUARDDUTY_FEATURES,
            &problem,
        )?;
        check_known_list(
            "guardduty.disabled_features",
            &g.disabled_features,
            GUARDDUTY_FEATURES,
            &problem,
        )?;
        if let Some(both) = g.features.iter().find(|f| g.disabled_features.contains(f)) {
            return Err(PlanError::invalid(
                "guardduty.disabled_features",
                both.as_str(),
                "is also in guardduty.features: a protection plan is either on or off",
            ));
        }
        for (region, list) in &g.features_not_offered {
            let key = format!("guardduty.features_not_offered.{region}");
            check_known_list(&key, list, GUARDDUTY_FEATURES, &problem)?;
            let named = |f: &String| g.features.contains(f) || g.disabled_features.contains(f);
            if let Some(stray) = list.iter().find(|f| !named(f)) {
                return Err(PlanError::invalid(
                    &key,
                    stray.as_str(),
                    "is in neither guardduty.features nor guardduty.disabled_features: there is \
                     nothing to leave out",
                ));
            }
        }
    }
    if let Some(u) = plan.iam_users() {
        check_iam_users(u)?;
    }
    if let Some(c) = plan.security_contact() {
        for (_, key, contact) in c.contacts() {
            check_contact(key, &contact)?;
        }
    }
    if let Some(b) = plan.budget() {
        check_budget(b)?;
    }
    Ok(())
}

/// Access Analyzer names: `[A-Za-z][A-Za-z0-9_.-]*`, 1-255 (API reference, CreateAnalyzer).
fn is_valid_analyzer_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// An e-mail address as AWS's alternate contacts accept it (Account Management API reference,
/// `AlternateContact.EmailAddress`: `[\w+=.#|!&-]+@[\w.-]+\.[\w]+`), at most 254 characters.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && local.chars().all(|c| word(c) || "+=.#|!&-".contains(c))
        && !host.is_empty()
        && host.chars().all(|c| word(c) || ".-".contains(c))
        && !tld.is_empty()
        && tld.chars().all(word)
}

/// E.164 (ITU-T): `+`, then a country code and number of at most 15 digits, not starting with 0.
fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// A budget amount: a decimal number greater than 0 (`20`, `20.5`), as AWS Budgets' `Spend.Amount`.
pub fn budget_amount(s: &str) -> Option<f64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| *v > 0.0 && v.is_finite())
}

/// One alternate-contact field of the contact at `key`, by its rule (Account Management
/// PutAlternateContact).
fn check_contact_field(key: &str, field: &str, value: &str) -> Result<()> {
    let (ok, problem) = match field {
        "name" => (
            (1..=64).contains(&value.chars().count()),
            "must be 1-64 characters (Account Management PutAlternateContact Name)",
        ),
        "title" => (
            (1..=50).contains(&value.chars().count()),
            "must be 1-50 characters (Account Management PutAlternateContact Title), e.g. \
             \"Security lead\"",
        ),
        "email" => (
            is_email(value),
            "is not an e-mail address such as \"security@example.com\"",
        ),
        _ => (
            is_e164(value),
            "is not an E.164 phone number: + and the country code, then the number, digits \
             only, at most 15 (e.g. \"+14155550100\")",
        ),
    };
    match ok {
        true => Ok(()),
        false => Err(PlanError::invalid(
            &format!("{key}.{field}"),
            value,
            problem,
        )),
    }
}

fn check_contact(key: &str, c: &ContactPlan) -> Result<()> {
    for (field, value) in [
        ("name", &c.name),
        ("title", &c.title),
        ("email", &c.email),
        ("phone", &c.phone),
    ] {
        check_contact_field(key, field, value)?;
    }
    Ok(())
}

/// The security contact's fields, with the errors a plan file gets (the wizard checks typed values).
pub fn check_security_contact_name(v: &str) -> Result<()> {
    check_contact_field("security_contact", "name", v)
}
pub fn check_security_contact_title(v: &str) -> Result<()> {
    check_contact_field("security_contact", "title", v)
}
pub fn check_security_contact_email(v: &str) -> Result<()> {
    check_contact_field("security_contact", "email", v)
}
pub fn check_security_contact_phone(v: &str) -> Result<()> {
    check_contact_field("security_contact", "phone", v)
}

/// `budget.amount`, with the error a plan file gets (the wizard checks the typed amount).
pub fn check_budget_amount(amount: &str) -> Result<()> {
    match budget_amount(amount) {
        Some(_) => Ok(()),
        None => Err(PlanError::invalid(
            "budget.amount",
            amount,
            "must be a number greater than 0, such as 20 or \"20.50\" (the monthly limit)",
        )),
    }
}

/// `budget.email`, with the error a plan file gets (the wizard checks the typed address).
pub fn check_budget_email(email: &str) -> Result<()> {
    match is_email(email) {
        true => Ok(()),
        false => Err(PlanError::invalid(
            "budget.email",
            email,
            "is not an e-mail address such as \"billing@example.com\" (who the alerts go to)",
        )),
    }
}

/// `[iam_users]`: day counts a person can mean, and exceptions that name a user, a known
/// credential, a reason and a real date.
fn check_iam_users(u: &IamUsersPlan) -> Result<()> {
    for (key, days) in [
        ("iam_users.unused_days", u.unused_days),
        ("iam_users.max_key_age_days", u.max_key_age_days),
    ] {
        if !(1..=3650).contains(&days) {
            return Err(PlanError::invalid(
                key,
                days.to_string(),
                "must be a number of days from 1 to 3650",
            ));
        }
    }
    for e in &u.exceptions {
        if !iam_name_ok(&e.user, 64) {
            return Err(PlanError::invalid(
                "iam_users.exception.user",
                e.user.as_str(),
                "is not an IAM user name (1-64 of A-Za-z0-9+=,.@_-)",
            ));
        }
        if let Some(c) = &e.credential
            && !IAM_USERS_CREDENTIALS.contains(&c.as_str())
        {
            return Err(PlanError::invalid(
                "iam_users.exception.credential",
                c.as_str(),
                &format!("is not one of {}", IAM_USERS_CREDENTIALS.join(", ")),
            ));
        }
        if e.reason.trim().is_empty() {
            return Err(PlanError::invalid(
                "iam_users.exception.reason",
                e.reason.as_str(),
                "must say why the finding is accepted",
            ));
        }
        if super::dates::parse_date(&e.expires).is_none() {
            return Err(PlanError::invalid(
                "iam_users.exception.expires",
                e.expires.as_str(),
                "must be a date, YYYY-MM-DD (UTC), after which the finding comes back",
            ));
        }
    }
    Ok(())
}

fn check_budget(b: &BudgetPlan) -> Result<()> {
    check_name(&BUDGET_NAME, &b.name)?;
    check_budget_amount(&b.amount.0)?;
    if b.currency != "USD" {
        return Err(PlanError::invalid(
            "budget.currency",
            b.currency.as_str(),
            "must be \"USD\": AWS Budgets' cost budgets are in US dollars",
        ));
    }
    check_budget_email(&b.email)
}

#[cfg(test)]
mod tests {
    use crate::plan::parse;

    const BASE: &str = "version = 1\nhome_region = \"us-east-1\"\n";

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_guardrails_names_and_features_follow_their_rules() {
        for (table, key, value, rule) in [
            (
                "access_analyzer",
                "name",
                "1st",
                "is not a valid analyzer name",
            ),
            ("access_analyzer", "name", "a b", "character ' ' (U+0020)"),
            (
                "support_role",
                "name",
                "role/x",
                "is not a valid IAM role name",
            ),
            (
                "budget",
                "name",
                "a:b",
                "must be 1-100 characters without :",
            ),
        ] {
            let extra = match table {
                "budget" => "amount = 20\nemail = \"b@example.com\"\n",
                _ => "",
            };
            let e = err(&format!("{BASE}[{table}]\n{key} = {value:?}\n{extra}"));
            assert!(e.contains(&format!("{table}.{key} = {value:?}")), "{e}");
            assert!(e.contains(rule), "{e}");
        }
        let e = err(&format!(
            "{BASE}[guardduty]\nfeatures = [\"S3_DATA_EVENTS\", \"DNS_LOGS\"]\n"
        ));
        assert!(
            e.contains("guardduty.features = \"DNS_LOGS\": is not a GuardDuty"),
            "{e}"
        );
        let e = err(&format!(
            "{BASE}[guardduty]\nfeatures = [\"S3_DATA_EVENTS\", \"S3_DATA_EVENTS\"]\n"
        ));
        assert!(e.contains("is listed twice"), "{e}");
        // A region AWS does not offer a feature in: a known region, a feature the plan names.
        let not_offered = |table: &str| {
            format!(
                "{BASE}[guardduty]\nfeatures = [\"S3_DATA_EVENTS\"]\n\
                 [guardduty.features_not_offered]\n{table}\n"
            )
        };
        assert!(parse(&not_offered("\"eu-west-1\" = [\"S3_DATA_EVENTS\"]")).is_ok());
        let e = err(&not_offered("\"eu-west-9\" = [\"S3_DATA_EVENTS\"]"));
        assert!(
            e.contains("guardduty.features_not_offered = \"eu-west-9\": is not an AWS region"),
            "{e}"
        );
        let e = err(&not_offered("\"eu-west-1\" = [\"RDS_LOGIN_EVENTS\"]"));
        assert!(
            e.contains(
                "guardduty.features_not_offered.eu-west-1 = \"RDS_LOGIN_EVENTS\": is in neither"
            ),
            "{e}"
        );
        let e = err(&not_offered("\"eu-west-1\" = [\"DNS_LOGS\"]"));
        assert!(e.contains("is not a GuardDuty protection plan"), "{e}");
        // [iam_users]: days in range, exceptions with a known credential and a real date.
        let users = |body: &str| format!("{BASE}[iam_users]\n{body}");
        assert!(parse(&users("unused_days = 30\n")).is_ok());
        let e = err(&users("unused_days = 0\n"));
        assert!(
            e.contains("iam_users.unused_days = \"0\": must be a number of days"),
            "{e}"
        );
        let exception = |fields: &str| {
            users(&format!(
                "[[iam_users.exception]]\nuser = \"bob\"\nreason = \"break-glass\"\n{fields}\n"
            ))
        };
        assert!(
            parse(&exception(
                "expires = \"2027-01-31\"\ncredential = \"password\""
            ))
            .is_ok()
        );
        let e = err(&exception("expires = \"2027-02-30\""));
        assert!(
            e.contains("iam_users.exception.expires = \"2027-02-30\": must be a date"),
            "{e}"
        );
        let e = err(&exception("expires = \"2027-01-31\"\ncredential = \"key\""));
        assert!(
            e.contains("iam_users.exception.credential = \"key\": is not one of"),
            "{e}"
        );
        let e = err(&exception(""));
        assert!(e.contains("expires"), "{e}");
        let e = err(&format!("{BASE}regions = [\"eu-west-1\", \"eu-west-1\"]\n"));
        assert!(
            e.contains("regions = \"eu-west-1\": is listed twice"),
            "{e}"
        );
        // A declined contact or budget carries no data and is not checked.
        assert!(
            parse(&format!(
                "{BASE}[security_contact]\nenabled = false\n[budget]\nenabled = false\n"
            ))
            .is_ok()
        );
    }
}
