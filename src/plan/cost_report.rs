//! Static rules for `[cost_report]`: every combination the Cost and Usage Report API documents
//! (or rejects with a bare `ValidationException`), checked before any AWS call so a plan never
//! fails half-applied. Each rule cites where AWS documents it, and each error names the rule.
//!
//! Where the API reference is silent, the AWS console's "Create report" form is the documentation
//! of record (`cur-create`); the Terraform AWS provider enforces the same combinations, learned
//! from that form, because the API answers them with an empty `ValidationException`.

use super::error::{PlanError, PlanValue, bad_char};
use super::names::{bucket_char, check_bucket_name};
use super::placeholders::{self, Placeholders};
use super::types::*;

type Result<T> = std::result::Result<T, PlanError>;

/// The API reference for the `ReportDefinition` data type.
const API_REPORT_DEFINITION: &str = "https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_cur_ReportDefinition.html";
/// The user guide's "Creating Cost and Usage Reports" (the console form's choices).
const GUIDE_CREATE: &str = "https://docs.aws.amazon.com/cur/latest/userguide/cur-create.html";
/// The user guide's "Querying Cost and Usage Reports using Amazon Athena".
const GUIDE_ATHENA: &str = "https://docs.aws.amazon.com/cur/latest/userguide/cur-query-athena.html";

/// One documented rule: a short ID (named in the error) and the page that documents it.
pub struct Rule {
    pub id: &'static str,
    pub doc: &'static str,
}

// ReportName: "Length Constraints: Maximum length of 256. Pattern: [0-9A-Za-z!\-_.*\'()]+"
// (API_cur_ReportDefinition).
pub const REPORT_NAME: Rule = Rule {
    id: "report-name",
    doc: API_REPORT_DEFINITION,
};
// S3Prefix: "Maximum length of 256. Pattern: [0-9A-Za-z!\-_.*\'()/]*"; "can't include spaces"
// (API_cur_ReportDefinition).
pub const PREFIX_CHARS: Rule = Rule {
    id: "s3-prefix-characters",
    doc: API_REPORT_DEFINITION,
};
// A prefix ending in `/` matches the documented pattern but PutReportDefinition rejects it with
// a ValidationException (the console strips it); AWS then builds keys as `<prefix>/<report>/...`.
pub const PREFIX_SLASH: Rule = Rule {
    id: "s3-prefix-trailing-slash",
    doc: API_REPORT_DEFINITION,
};
// S3Region: one of the documented "Valid Values" (API_cur_ReportDefinition); the bucket lives in
// home_region, so home_region must be one of them.
pub const S3_REGION: Rule = Rule {
    id: "s3-region",
    doc: API_REPORT_DEFINITION,
};
// Compression / Format: "If you choose Parquet for the Format, you must also specify Parquet for
// the Compression parameter. If you choose textORcsv for the Format, you must specify ZIP or GZIP
// for the Compression parameter." (API_cur_ReportDefinition).
pub const FORMAT_COMPRESSION: Rule = Rule {
    id: "format-compression",
    doc: API_REPORT_DEFINITION,
};
// "Enable report data integration for": Amazon Athena is a choice of its own; with it the report
// is delivered as Parquet and each version overwrites the previous one (cur-create, and the Athena
// guide: the Athena integration reads one Parquet report under `<prefix>/<name>/`).
pub const ATHENA_ALONE: Rule = Rule {
    id: "athena-alone",
    doc: GUIDE_CREATE,
};
pub const ATHENA_PARQUET: Rule = Rule {
    id: "athena-parquet",
    doc: GUIDE_ATHENA,
};
pub const ATHENA_OVERWRITE: Rule = Rule {
    id: "athena-overwrite",
    doc: GUIDE_ATHENA,
};
pub const ATHENA_PREFIX: Rule = Rule {
    id: "athena-prefix",
    doc: GUIDE_ATHENA,
};
// Amazon Redshift and Amazon QuickSight load the CSV report (cur-create: their integration files
// come with the text/CSV format, not Parquet).
pub const REDSHIFT_QUICKSIGHT_CSV: Rule = Rule {
    id: "redshift-quicksight-csv",
    doc: GUIDE_CREATE,
};
// AdditionalArtifacts is a list of distinct manifests (API_cur_ReportDefinition).
pub const ARTIFACTS_DISTINCT: Rule = Rule {
    id: "artifacts-distinct",
    doc: API_REPORT_DEFINITION,
};
// S3's bucket naming rules, plus the bucket module's no-dots rule (see `bucket::check_name`).
pub const BUCKET_NAME: Rule = Rule {
    id: "s3-bucket-name",
    doc: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
};
// Not AWS's rule but this tool's: the report the plan manages cannot also be one it deletes.
pub const DELETE_NOT_SELF: Rule = Rule {
    id: "delete-reports-not-report-name",
    doc: "README.md, cost_report.delete_reports",
};

fn broken(key: &str, value: impl PlanValue, rule: &Rule, problem: &str) -> PlanError {
    PlanError::invalid(
        key,
        value,
        &format!("{problem} (breaks rule {}: {})", rule.id, rule.doc),
    )
}

/// `[0-9A-Za-z!\-_.*\'()]`, the documented character class of names and prefixes.
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!-_.*'()".contains(c)
}

/// ReportName rule, for a value without placeholders.
pub fn check_report_name(key: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 256 || !name.chars().all(name_char) {
        return Err(broken(
            key,
            name,
            &REPORT_NAME,
            &with_bad_char(
                "is not a valid report name: 1-256 characters of letters, digits and !-_.*'()",
                name,
                name_char,
            ),
        ));
    }
    Ok(())
}

/// The problem, and the first character that breaks it, named with its position (a look-alike of a
/// Latin letter cannot be seen).
fn with_bad_char(problem: &str, value: &str, allowed: fn(char) -> bool) -> String {
    match bad_char(value, allowed) {
        Some(bad) => format!("{problem}; {bad}"),
        None => problem.to_string(),
    }
}

fn prefix_char(c: char) -> bool {
    c == '/' || name_char(c)
}

/// S3Prefix rules, for a value without placeholders.
pub fn check_prefix(key: &str, prefix: &str) -> Result<()> {
    if prefix.len() > 256 || !prefix.chars().all(prefix_char) {
        return Err(broken(
            key,
            prefix,
            &PREFIX_CHARS,
            &with_bad_char(
                "is not a valid report prefix: up to 256 characters of letters, digits, / and !-_.*'() (no spaces)",
                prefix,
                prefix_char,
            ),
        ));
    }
    check_prefix_end(key, prefix)
}

/// No placeholder expands to something ending in `/`, so this one runs before expansion too.
fn check_prefix_end(key: &str, prefix: &str) -> Result<()> {
    if prefix.ends_with('/') {
        return Err(broken(
            key,
            prefix,
            &PREFIX_SLASH,
            "must not end in '/': AWS rejects such a prefix (write \"cur\", not \"cur/\")",
        ));
    }
    Ok(())
}

/// The values that may hold placeholders: checked now when they have none, else after expansion.
fn check_names(r: &CostReportPlan, stand_ins: Option<&Placeholders>) -> Result<()> {
    let resolved = stand_ins.is_none();
    let values = [
        ("cost_report.bucket", r.bucket.as_str()),
        ("cost_report.report_name", r.report_name.as_str()),
        ("cost_report.s3_prefix", r.s3_prefix.as_str()),
    ]
    .into_iter()
    .chain(
        r.delete_reports
            .iter()
            .map(|n| ("cost_report.delete_reports", n.as_str())),
    );
    for (key, value) in values {
        if !resolved {
            placeholders::check(key, value)?;
        }
        if key == "cost_report.s3_prefix" {
            check_prefix_end(key, value)?;
        }
        // With placeholders: checked now with stand-ins, the error quoting the name as written.
        let written = value;
        let expanded;
        let value = match stand_ins {
            Some(ph) if value.contains('{') => {
                expanded = placeholders::expand(value, ph);
                expanded.as_str()
            }
            _ => value,
        };
        let as_written = |e: PlanError| {
            if value == written {
                e
            } else {
                e.quoting_as_written(written)
            }
        };
        match key {
            "cost_report.s3_prefix" => check_prefix(key, value).map_err(as_written)?,
            "cost_report.bucket" => {
                check_bucket_name(value).map_err(|problem| {
                    let problem = with_bad_char(&problem, value, bucket_char);
                    as_written(broken(key, value, &BUCKET_NAME, &problem))
                })?;
            }
            _ => check_report_name(key, value).map_err(as_written)?,
        }
    }
    if r.delete_reports.contains(&r.report_name) {
        return Err(broken(
            "cost_report.delete_reports",
            &r.report_name,
            &DELETE_NOT_SELF,
            "names the report this plan manages (cost_report.report_name)",
        ));
    }
    Ok(())
}

/// Regions a report can be delivered to: the API's `AwsRegion` enum (a test keeps this list equal
/// to the SDK's). Written out so the plan module needs no SDK crate (the fuzz target compiles it
/// alone).
pub const REPORT_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ca-central-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Everything about `[cost_report]` that needs no AWS call.
pub fn check_static(r: &CostReportPlan, home_region: &str, stand_ins: &Placeholders) -> Result<()> {
    if !(1..=36_500).contains(&r.noncurrent_version_days) {
        return Err(PlanError::invalid(
            "cost_report.noncurrent_version_days",
            r.noncurrent_version_days,
            "must be 1-36500 days (current reports are always kept)",
        ));
    }
    check_names(r, Some(stand_ins))?;
    if !REPORT_REGIONS.contains(&home_region) {
        return Err(broken(
            "home_region",
            home_region,
            &S3_REGION,
            "is not a region the Cost and Usage Report can deliver to (the report bucket lives in home_region)",
        ));
    }
    let compression = r.compression();
    let pair_ok = matches!(
        (r.format, compression),
        (CurFormat::Parquet, CurCompression::Parquet)
            | (CurFormat::Csv, CurCompression::Gzip | CurCompression::Zip)
    );
    if !pair_ok {
        let problem = match r.format {
            CurFormat::Parquet => "format \"parquet\" needs compression \"parquet\"",
            CurFormat::Csv => "format \"csv\" needs compression \"gzip\" or \"zip\"",
        };
        return Err(broken(
            "cost_report.compression",
            spelled(compression),
            &FORMAT_COMPRESSION,
            problem,
        ));
    }
    let mut seen = Vec::new();
    for a in &r.artifacts {
        if seen.contains(a) {
            return Err(broken(
                "cost_report.artifacts",
                spelled(*a),
                &ARTIFACTS_DISTINCT,
                "is listed twice",
            ));
        }
        seen.push(*a);
    }
    if r.artifacts.contains(&CurArtifact::Athena) {
        if r.artifacts.len() > 1 {
            return Err(broken(
                "cost_report.artifacts",
                artifact_list(&r.artifacts),
                &ATHENA_ALONE,
                "ATHENA cannot be combined with other artifacts",
            ));
        }
        if r.format != CurFormat::Parquet {
            return Err(broken(
                "cost_report.format",
                spelled(r.format),
                &ATHENA_PARQUET,
                "the ATHENA artifact needs format \"parquet\"",
            ));
        }
        if r.versioning != CurVersioning::OverwriteReport {
            return Err(broken(
                "cost_report.versioning",
                spelled(r.versioning),
                &ATHENA_OVERWRITE,
                "the ATHENA artifact needs versioning \"OVERWRITE_REPORT\"",
            ));
        }
        if r.s3_prefix.is_empty() {
            return Err(broken(
                "cost_report.s3_prefix",
                "",
                &ATHENA_PREFIX,
                "the ATHENA artifact needs a non-empty prefix",
            ));
        }
    } else if let Some(a) = r
        .artifacts
        .iter()
        .find(|a| matches!(a, CurArtifact::Redshift | CurArtifact::Quicksight))
        && r.format != CurFormat::Csv
    {
        return Err(broken(
            "cost_report.format",
            spelled(r.format),
            &REDSHIFT_QUICKSIGHT_CSV,
            &format!("the {} artifact needs format \"csv\"", spelled(*a)),
        ));
    }
    Ok(())
}

/// Rules on values that had placeholders, once expanded.
pub fn check_resolved(r: &CostReportPlan) -> Result<()> {
    check_names(r, None)
}

/// The plan-file spelling of an enum value (serde's), for messages.
pub fn spelled<T: serde::Serialize>(v: T) -> String {
    toml::Value::try_from(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn artifact_list(a: &[CurArtifact]) -> String {
    a.iter().map(|x| spelled(*x)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_regions_are_the_sdk_s() {
        let sdk = aws_sdk_costandusagereport::types::AwsRegion::values();
        assert_eq!(REPORT_REGIONS, sdk);
    }
    use crate::plan::{Placeholders, parse, resolve};

    const HEAD: &str = "version = 1\nhome_region = \"us-east-1\"\n[cost_report]\n";

    fn err(body: &str) -> String {
        parse(&format!("{HEAD}{body}")).unwrap_err().to_string()
    }

    fn ok(body: &str) -> CostReportPlan {
        parse(&format!("{HEAD}{body}"))
            .unwrap_or_else(|e| panic!("{body}: {e}"))
            .cost_report
            .unwrap()
    }

    /// The error names the key, the rule and where AWS documents it.
    fn breaks(body: &str, key: &str, rule: &Rule) {
        let e = err(body);
        assert!(e.contains(key), "{body}: {e}");
        assert!(e.contains(&format!("rule {}", rule.id)), "{body}: {e}");
        assert!(e.contains(rule.doc), "{body}: {e}");
    }

    #[test]
    fn defaults_are_valid_parquet_for_athena() {
        let r = ok("");
        assert_eq!(r.format, CurFormat::Parquet);
        assert_eq!(r.compression(), CurCompression::Parquet);
        assert_eq!(r.artifacts, vec![CurArtifact::Athena]);
        assert_eq!(r.time_unit, CurTimeUnit::Hourly);
        assert_eq!(r.versioning, CurVersioning::OverwriteReport);
    }

    #[test]
    fn csv_defaults_to_gzip_and_allows_zip() {
        let r = ok("format = \"csv\"\nartifacts = []\n");
        assert_eq!(r.compression(), CurCompression::Gzip);
        ok(
            "format = \"csv\"\ncompression = \"zip\"\nartifacts = [\"REDSHIFT\", \"QUICKSIGHT\"]\nversioning = \"CREATE_NEW_REPORT\"\n",
        );
    }

    #[test]
    fn unknown_enum_values_name_the_choices() {
        let e = err("time_unit = \"WEEKLY\"\n");
        assert!(e.contains("WEEKLY") && e.contains("HOURLY"), "{e}");
        let e = err("format = \"json\"\n");
        assert!(e.contains("json") && e.contains("parquet"), "{e}");
        let e = err("artifacts = [\"GLUE\"]\n");
        assert!(e.contains("GLUE") && e.contains("ATHENA"), "{e}");
        let e = err("versioning = \"KEEP\"\n");
        assert!(e.contains("OVERWRITE_REPORT"), "{e}");
    }

    #[test]
    fn rule_report_name() {
        breaks(
            "report_name = \"my report\"\n",
            "cost_report.report_name",
            &REPORT_NAME,
        );
        breaks(
            "report_name = \"\"\n",
            "cost_report.report_name",
            &REPORT_NAME,
        );
        breaks(
            &format!("report_name = \"{}\"\n", "r".repeat(257)),
            "cost_report.report_name",
            &REPORT_NAME,
        );
        ok("report_name = \"Costs_(v2)!-.*'\"\n");
        ok(&format!("report_name = \"{}\"\n", "r".repeat(256)));
    }

    #[test]
    fn rule_prefix_characters() {
        breaks(
            "s3_prefix = \"my prefix\"\n",
            "cost_report.s3_prefix",
            &PREFIX_CHARS,
        );
        breaks(
            "s3_prefix = \"a+b\"\n",
            "cost_report.s3_prefix",
            &PREFIX_CHARS,
        );
        breaks(
            &format!("s3_prefix = \"{}\"\n", "p".repeat(257)),
            "cost_report.s3_prefix",
            &PREFIX_CHARS,
        );
        ok("s3_prefix = \"billing/cur\"\n");
    }

    #[test]
    fn rule_prefix_trailing_slash() {
        breaks(
            "s3_prefix = \"cur/\"\n",
            "cost_report.s3_prefix",
            &PREFIX_SLASH,
        );
        breaks(
            "s3_prefix = \"billing/{account_id}/\"\n",
            "cost_report.s3_prefix",
            &PREFIX_SLASH,
        );
    }

    #[test]
    fn rule_s3_region() {
        let e = parse("version = 1\nhome_region = \"ap-southeast-7\"\n[cost_report]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("home_region") && e.contains("rule s3-region"),
            "{e}"
        );
        parse("version = 1\nhome_region = \"eu-west-1\"\n[cost_report]\n").unwrap();
    }

    #[test]
    fn rule_format_compression() {
        breaks(
            "compression = \"gzip\"\n",
            "cost_report.compression",
            &FORMAT_COMPRESSION,
        );
        breaks(
            "format = \"csv\"\ncompression = \"parquet\"\nartifacts = []\n",
            "cost_report.compression",
            &FORMAT_COMPRESSION,
        );
    }

    #[test]
    fn rule_artifacts_distinct() {
        breaks(
            "format = \"csv\"\nartifacts = [\"REDSHIFT\", \"REDSHIFT\"]\n",
            "cost_report.artifacts",
            &ARTIFACTS_DISTINCT,
        );
    }

    #[test]
    fn rule_athena_alone() {
        breaks(
            "artifacts = [\"ATHENA\", \"QUICKSIGHT\"]\n",
            "cost_report.artifacts",
            &ATHENA_ALONE,
        );
    }

    #[test]
    fn rule_athena_parquet() {
        breaks(
            "format = \"csv\"\nartifacts = [\"ATHENA\"]\n",
            "cost_report.format",
            &ATHENA_PARQUET,
        );
    }

    #[test]
    fn rule_athena_overwrite() {
        breaks(
            "versioning = \"CREATE_NEW_REPORT\"\n",
            "cost_report.versioning",
            &ATHENA_OVERWRITE,
        );
        // Without Athena, new versions are allowed.
        ok("versioning = \"CREATE_NEW_REPORT\"\nartifacts = []\n");
    }

    #[test]
    fn rule_athena_prefix() {
        breaks(
            "s3_prefix = \"\"\n",
            "cost_report.s3_prefix",
            &ATHENA_PREFIX,
        );
        // The API allows an empty prefix otherwise.
        ok("s3_prefix = \"\"\nartifacts = []\n");
    }

    #[test]
    fn rule_redshift_quicksight_csv() {
        breaks(
            "artifacts = [\"REDSHIFT\"]\n",
            "cost_report.format",
            &REDSHIFT_QUICKSIGHT_CSV,
        );
        breaks(
            "artifacts = [\"QUICKSIGHT\"]\n",
            "cost_report.format",
            &REDSHIFT_QUICKSIGHT_CSV,
        );
        // Parquet without artifacts is fine.
        ok("artifacts = []\n");
    }

    #[test]
    fn rule_bucket_name() {
        breaks(
            "bucket = \"Billing_Reports\"\n",
            "cost_report.bucket",
            &BUCKET_NAME,
        );
        breaks(
            "bucket = \"cur.reports\"\n",
            "cost_report.bucket",
            &BUCKET_NAME,
        );
        ok("bucket = \"cur-{account_id}\"\n");
        // Too long once expanded: known before any call, quoted as written.
        let e = err(&format!("bucket = \"{}{{account_id}}\"\n", "b".repeat(55)));
        assert!(
            e.contains("cost_report.bucket") && e.contains("rule s3-bucket-name"),
            "{e}"
        );
        assert!(
            e.contains("{account_id}") && !e.contains("000000000000"),
            "{e}"
        );
    }

    #[test]
    fn a_look_alike_character_in_a_report_name_prefix_or_bucket_is_named() {
        // Cyrillic 'а' (U+0430) where a Latin 'a' belongs.
        for (line, key) in [
            (
                "report_name = \"billing-d\u{430}ily\"\n",
                "cost_report.report_name",
            ),
            ("s3_prefix = \"c\u{430}r\"\n", "cost_report.s3_prefix"),
            ("bucket = \"cur-b\u{430}cket\"\n", "cost_report.bucket"),
        ] {
            let e = parse(&format!(
                "version = 1\nhome_region = \"us-east-1\"\n[cost_report]\n{line}"
            ))
            .unwrap_err()
            .to_string();
            assert!(
                e.contains(key) && e.contains("U+0430") && e.contains("position"),
                "{e}"
            );
        }
    }

    #[test]
    fn rule_delete_reports() {
        breaks(
            "delete_reports = [\"aws-harden-cur\"]\n",
            "cost_report.delete_reports",
            &DELETE_NOT_SELF,
        );
        breaks(
            "delete_reports = [\"old report\"]\n",
            "cost_report.delete_reports",
            &REPORT_NAME,
        );
        ok("delete_reports = [\"old-cur\"]\n");
    }

    #[test]
    fn placeholders_are_checked_after_expansion() {
        let plan = parse(&format!(
            "{HEAD}report_name = \"cur-{{account_id}}\"\ns3_prefix = \"r/{{home_region}}\"\n"
        ))
        .unwrap();
        let ph = Placeholders {
            account_id: "123456789012".into(),
            home_region: "us-east-1".into(),
        };
        let r = resolve(&plan, &ph).unwrap().cost_report.unwrap();
        assert_eq!(r.report_name, "cur-123456789012");
        assert_eq!(r.s3_prefix, "r/us-east-1");

        let e = err(&format!(
            "report_name = \"{}{{account_id}}\"\n",
            "r".repeat(250)
        ));
        assert!(
            e.contains("cost_report.report_name") && e.contains("rule report-name"),
            "{e}"
        );

        let e = err("report_name = \"cur-{acount}\"\n");
        assert!(e.contains("unknown placeholder"), "{e}");
    }
}
