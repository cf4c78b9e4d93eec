//! Plan validation: static checks before any AWS call, name checks after placeholder expansion.

use super::cost_report;
use super::error::PlanError;
use super::guardrails;
use super::names::{
    NameRule, bucket_char, check_bucket_name, check_known_list, check_name, iam_char, iam_name_ok,
};
use super::placeholders::{self, Placeholders};
use super::types::*;

type Result<T> = std::result::Result<T, PlanError>;

const NAME_CHARS: &str = "letters, digits and +=,.@_-";

/// IAM user names: 1-64 characters of `[A-Za-z0-9+=,.@_-]`.
pub fn is_valid_user_name(name: &str) -> bool {
    iam_name_ok(name, 64)
}

/// IAM group names: 1-128 characters of `[A-Za-z0-9+=,.@_-]`.
pub fn is_valid_group_name(name: &str) -> bool {
    iam_name_ok(name, 128)
}

/// A region code such as `us-east-1`, `ap-southeast-2` or `us-gov-west-1`:
/// `^[a-z]{2}(-[a-z]+)+-[0-9]+$`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(lower)
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn has_placeholder(s: &str) -> bool {
    s.contains('{')
}

const GROUP_NAME: NameRule = NameRule {
    key: "admin_group.name",
    check: is_valid_group_name,
    what: "is not a valid IAM group name: 1-128 characters of letters, digits and +=,.@_-",
    allowed: iam_char,
};
const USER_NAME: NameRule = NameRule {
    key: "admin_user.name",
    check: is_valid_user_name,
    what: "is not a valid IAM user name: 1-64 characters of letters, digits and +=,.@_-",
    allowed: iam_char,
};
const PROFILE_NAME: NameRule = NameRule {
    key: "admin_user.access_key_profile",
    check: |s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    },
    what: "is not a usable profile name: letters, digits and -_. only",
    allowed: |c| c.is_ascii_alphanumeric() || "-_.".contains(c),
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

/// The AWS managed key EBS uses when no other is set.
pub const EBS_MANAGED_KEY: &str = "alias/aws/ebs";

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
    allowed: |c| c.is_ascii_alphanumeric() || "._-".contains(c),
};
const TRAIL_BUCKET: NameRule = NameRule {
    key: "cloudtrail.bucket",
    check: |s| check_bucket_name(s).is_ok(),
    what: BUCKET_RULES,
    allowed: bucket_char,
};
const ACCESS_LOG_BUCKET: NameRule = NameRule {
    key: "cloudtrail.access_log_bucket",
    check: |s| check_bucket_name(s).is_ok(),
    what: BUCKET_RULES,
    allowed: bucket_char,
};
const KMS_ALIAS: NameRule = NameRule {
    key: "cloudtrail.kms_key_alias",
    check: is_valid_kms_alias,
    what: "is not a usable KMS alias: \"alias/\" then letters, digits and /_- (not \"alias/aws/...\", AWS's own)",
    allowed: |c| c.is_ascii_alphanumeric() || "/_-".contains(c),
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
    // Names with placeholders are checked now too, with stand-ins: the account ID is always
    // 12 digits and home_region is known.
    let stand_ins = placeholders::stand_ins(&plan.home_region);
    for (rule, value) in named_values(plan) {
        placeholders::check(rule.key, value)?;
        if has_placeholder(value) {
            let expanded = placeholders::expand(value, &stand_ins);
            check_name(rule, &expanded).map_err(|e| e.quoting_as_written(value))?;
        } else {
            check_name(rule, value)?;
        }
    }
    check_buckets_distinct(plan, false)?;
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
        cost_report::check_static(r, &plan.home_region, &stand_ins)?;
    }
    check_regions(&plan.regions)?;
    check_exclude_regions(&plan.regions, &plan.exclude_regions)?;
    if let Some(g) = &plan.guardduty
        && let Some(region) = g
            .features_not_offered
            .keys()
            .find(|r| !KNOWN_REGIONS.contains(&r.as_str()))
    {
        return Err(PlanError::invalid(
            "guardduty.features_not_offered",
            region.as_str(),
            "is not an AWS region code such as \"eu-west-1\"",
        ));
    }
    guardrails::check_static(plan)?;
    if let Some(e) = &plan.ebs_encryption {
        check_ebs_encryption(e)?;
    }
    if let Some(i) = &plan.imds_defaults
        && !(1..=64).contains(&i.hop_limit)
    {
        return Err(PlanError::invalid(
            "imds_defaults.hop_limit",
            i.hop_limit,
            "must be 1-64 (EC2 ModifyInstanceMetadataDefaults HttpPutResponseHopLimit); 2 lets \
             containers on the instance reach IMDSv2",
        ));
    }
    Ok(())
}

/// Every region code of the AWS partitions this build knows (EC2 DescribeRegions, late 2026). A
/// region AWS adds later is reached with `regions = "all"`, or by a newer aws-harden.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// `regions`: the word "all", or a list of known region codes without repeats.
fn check_regions(regions: &Regions) -> Result<()> {
    let list = match regions {
        Regions::Word(w) if w == "all" => return Ok(()),
        Regions::Word(w) => {
            return Err(PlanError::invalid(
                "regions",
                w.as_str(),
                "must be \"all\" (every region the account can use) or a list such as \
                 [\"us-east-1\", \"eu-west-1\"]",
            ));
        }
        Regions::List(l) => l,
    };
    if list.is_empty() {
        return Err(PlanError::invalid(
            "regions",
            "[]",
            "lists no region: regional controls would act nowhere; write \"all\" or name regions",
        ));
    }
    check_known_list(
        "regions",
        list,
        KNOWN_REGIONS,
        "is not an AWS region code such as \"eu-west-1\" (regions = \"all\" covers regions \
         newer than this aws-harden)",
    )
}

/// `exclude_regions`: known region codes without repeats, never every region `regions` lists.
fn check_exclude_regions(regions: &Regions, excluded: &[String]) -> Result<()> {
    if excluded.is_empty() {
        return Ok(());
    }
    check_known_list(
        "exclude_regions",
        excluded,
        KNOWN_REGIONS,
        "is not an AWS region code such as \"eu-west-1\"",
    )?;
    if let Some(list) = regions.list()
        && list.iter().all(|r| excluded.contains(r))
    {
        return Err(PlanError::invalid(
            "exclude_regions",
            excluded.join(", "),
            "leaves out every region `regions` lists: regional controls would act nowhere",
        ));
    }
    Ok(())
}

/// `ebs_encryption.kms_key`: an alias name, the same in every region.
fn check_ebs_encryption(e: &EbsEncryptionPlan) -> Result<()> {
    match e.kms_key.as_deref() {
        None | Some(EBS_MANAGED_KEY) => Ok(()),
        Some(k) if is_valid_kms_alias(k) => Ok(()),
        Some(k) => Err(PlanError::invalid(
            "ebs_encryption.kms_key",
            k,
            "must be a KMS alias name such as \"alias/ebs-default\" (alias/ then 1-250 of letters, \
             digits and /_-), or \"alias/aws/ebs\": one alias names a key in every region, a key \
             ID or ARN only in its own",
        )),
    }
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
    Ok(())
}

/// The trail's bucket, its access-log bucket and the report bucket are three different buckets:
/// each gets its own policy, encryption and retention, and a bucket logging into itself logs its
/// own log writes forever. `resolved`: the names are expanded (`logs-{account_id}` and
/// `logs-123456789012` are one bucket in that account).
fn check_buckets_distinct(plan: &Plan, resolved: bool) -> Result<()> {
    let mut buckets: Vec<(&str, &str)> = Vec::new();
    if let Some(t) = plan.cloudtrail() {
        buckets.push(("cloudtrail.bucket", &t.bucket));
        if !t.access_log_bucket.is_empty() {
            buckets.push(("cloudtrail.access_log_bucket", &t.access_log_bucket));
        }
    }
    if let Some(r) = plan.cost_report() {
        buckets.push(("cost_report.bucket", &r.bucket));
    }
    for (i, (key, name)) in buckets.iter().enumerate() {
        if let Some((first, _)) = buckets[..i].iter().find(|(_, n)| n == name) {
            let how = if resolved {
                " once placeholders are expanded"
            } else {
                ""
            };
            return Err(PlanError::invalid(
                key,
                *name,
                &format!(
                    "is the same bucket as {first}{how}: cloudtrail.bucket, cloudtrail.access_log_bucket and \
                     cost_report.bucket must be three different buckets"
                ),
            ));
        }
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
    check_buckets_distinct(plan, true)?;
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
            .contains("same bucket as cloudtrail.bucket")
        );
        // Too long once expanded: known before any call (an account ID is 12 digits).
        let e = err(&format!(
            "{base}bucket = \"{}-{{account_id}}\"\n",
            "b".repeat(55)
        ));
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
        // u32's parser takes these; the region shape does not.
        assert!(!is_region("us-east-+1"));
        assert!(!is_region("us-east- 1"));
        assert!(!is_region("us--1"));
        assert!(!is_region("use-east-1"));
        assert!(!is_region("us-east-"));
        assert!(!is_region("us-éast-1"));
    }

    const BASE: &str = "version = 1\nhome_region = \"us-east-1\"\n";

    #[test]
    fn placeholder_names_are_checked_offline_and_quoted_as_written() {
        for (table, key, value) in [
            ("cloudtrail", "bucket", "Bad_Bucket-{account_id}"),
            ("cloudtrail", "kms_key_alias", "alias/aws/{home_region}"),
            ("cloudtrail", "trail_name", "-{account_id}"),
            ("cost_report", "bucket", "Bad-{account_id}"),
            ("cost_report", "report_name", "r {account_id}"),
            (
                "admin_group",
                "name",
                "g{account_id}{account_id}{account_id}{account_id}{account_id}{account_id}{account_id}{account_id}{account_id}{account_id}{account_id}",
            ),
        ] {
            let e = err(&format!("{BASE}[{table}]\n{key} = {value:?}\n"));
            assert!(e.contains(&format!("{table}.{key} = {value:?}")), "{e}");
            assert!(!e.contains("000000000000"), "the stand-in leaked: {e}");
        }
        // A placeholder name that is fine once expanded passes.
        assert!(
            parse(&format!(
                "{BASE}[cloudtrail]\nbucket = \"logs-{{account_id}}-{{home_region}}\"\n"
            ))
            .is_ok()
        );
    }

    #[test]
    fn the_three_buckets_differ() {
        let e = err(&format!(
            "{BASE}[cloudtrail]\nbucket = \"logs-{{account_id}}\"\n[cost_report]\nbucket = \"logs-{{account_id}}\"\n"
        ));
        assert!(
            e.contains("cost_report.bucket") && e.contains("same bucket as cloudtrail.bucket"),
            "{e}"
        );
        let e = err(&format!(
            "{BASE}[cloudtrail]\nbucket = \"a-logs\"\naccess_log_bucket = \"a-logs\"\n"
        ));
        assert!(e.contains("cloudtrail.access_log_bucket"), "{e}");
        // Equal only once expanded: an error at resolve (right after GetCallerIdentity).
        let plan = parse(&format!(
            "{BASE}[cloudtrail]\nbucket = \"logs-{{account_id}}\"\n[cost_report]\nbucket = \"logs-123456789012\"\n"
        ))
        .unwrap();
        let ph = Placeholders {
            account_id: "123456789012".into(),
            home_region: "us-east-1".into(),
        };
        let e = crate::plan::resolve(&plan, &ph).unwrap_err().to_string();
        assert!(
            e.contains("same bucket as cloudtrail.bucket once placeholders are expanded"),
            "{e}"
        );
        // A disabled control's bucket does not count.
        assert!(parse(&format!(
            "{BASE}[cloudtrail]\nbucket = \"x-logs\"\n[cost_report]\nenabled = false\nbucket = \"x-logs\"\n"
        ))
        .is_ok());
    }

    #[test]
    fn numbers_are_not_quoted_and_long_values_are_cut() {
        let e = err(&format!("{BASE}[password_policy]\nminimum_length = 129\n"));
        assert!(e.contains("minimum_length = 129:"), "{e}");
        let long = "x".repeat(100_000);
        let e = err(&format!("{BASE}[admin_group]\nname = \"{long} \"\n"));
        assert!(e.len() < 1000, "{} bytes", e.len());
        assert!(e.contains("(100001 characters)"), "{e}");
    }

    #[test]
    fn homoglyph_is_named_with_its_position() {
        // Cyrillic 'А' (U+0410) in place of the Latin 'A'.
        let e = err(&format!("{BASE}[admin_group]\nname = \"\u{410}dmins\"\n"));
        assert!(e.contains("U+0410") && e.contains("position 1"), "{e}");
        let e = err(&format!(
            "{BASE}[cloudtrail]\nbucket = \"my-bucket-\u{430}\"\n"
        ));
        assert!(e.contains("U+0430") && e.contains("position 11"), "{e}");
    }

    #[test]
    fn array_of_tables_says_table() {
        let e = err(&format!("{BASE}[[admin_group]]\nname = \"x\"\n"));
        assert!(
            e.contains("admin_group must be a table") && e.contains("[admin_group]"),
            "{e}"
        );
        assert!(!e.contains("invalid type"), "{e}");
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
        let e = err(&long);
        assert!(e.contains("admin_user.name"), "{e}");
    }
}
