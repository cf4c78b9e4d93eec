//! `--output sarif`: SARIF 2.1.0, which code scanning reads (GitHub, Azure DevOps, IDEs). One run;
//! one rule per kind of check, tagged with its CIS IDs; one result per failed check, located at the
//! control's table in the plan file so code scanning annotates the plan.
//!
//! The types are a few plain serde structs: a SARIF crate (serde-sarif) generates all of SARIF's
//! types at build time from the schema, a build far heavier than what is needed here. The output is
//! validated against the SARIF 2.1.0 schema in tests (`tests/schemas/sarif-schema-2.1.0.json`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::change::{Action, Check, ControlId, NoticeLevel};
use crate::controls::Change;
use crate::engine::Assessment;
use crate::plan;
use crate::ui::render;

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    /// The category of a run split off at Organization scale (`split`); absent for one run.
    #[serde(skip_serializing_if = "Option::is_none")]
    automation_details: Option<AutomationDetails>,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    short_description: Text,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<String>,
    /// GitHub code scanning's severity of a security rule, 0.0-10.0 as a string ("SARIF support
    /// for code scanning": over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, below low).
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: ResultProperties,
    /// A finding the plan accepts (`[[iam_users.exception]]`): SARIF 2.1.0 §3.35, which code
    /// scanning shows as not open.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
}

#[derive(Serialize)]
struct Suppression {
    /// `external`: recorded outside the scanned file's code (the plan's exceptions).
    kind: &'static str,
    status: &'static str,
    justification: String,
}

#[derive(Serialize)]
struct ResultProperties {
    account: String,
    region: String,
    control: &'static str,
    resource: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
}

/// The rule of what could not be checked (an error notice).
const NOT_CHECKED: &str = "not_checked";

/// GitHub keeps this many results of a run (and rejects a run above 25,000): "SARIF support for
/// code scanning", limits.
const RESULTS_PER_RUN: usize = 5_000;
const REJECTED_ABOVE: usize = 25_000;
/// Runs one SARIF file may hold (same page).
const RUNS_PER_FILE: usize = 20;

/// How much a failed check of `control` matters for security: who can take the account over
/// (root, the admin path and its MFA guard) is critical; the trail, public access and the
/// guardrails that detect or contain an attack are high; the rest (bills, contacts) medium or low.
fn security_severity(control: ControlId) -> &'static str {
    match control.as_str() {
        "root" | "root_credentials" | "admin_group" | "admin_mfa" => "9.0",
        "admin_user" | "password_policy" | "cloudtrail" | "s3_public_access" => "7.5",
        "ebs_encryption" | "imds_defaults" | "access_analyzer" | "guardduty" | "support_role" => {
            "5.5"
        }
        "security_contact" => "4.0",
        _ => "2.0",
    }
}

/// The plan's path as code scanning wants it: relative to the repository root (the nearest
/// directory above it with `.git`), `/`-separated, without `.` or `..` steps. Without a repository
/// above it, the path as given (absolute stays absolute), normalised.
pub fn repository_path(plan_file: &str) -> String {
    let given = std::path::Path::new(plan_file);
    let absolute = match given.is_absolute() {
        true => given.to_path_buf(),
        false => std::env::current_dir().unwrap_or_default().join(given),
    };
    let mut parts: Vec<String> = Vec::new();
    for c in absolute.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    let root = (0..parts.len()).rev().find(|&i| {
        let dir: std::path::PathBuf = std::iter::once("/".to_string())
            .chain(parts[..i].iter().cloned())
            .collect();
        dir.join(".git").exists()
    });
    match root {
        Some(i) => parts[i..].join("/"),
        None if given.is_absolute() => format!("/{}", parts.join("/")),
        None => plan_file
            .replace('\\', "/")
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect::<Vec<_>>()
            .join("/"),
    }
}

/// The rule a check belongs to: `control/kind` (`admin_group/iam_group`).
fn rule_id(check: &Check) -> String {
    format!("{}/{}", check.control.as_str(), check.rule)
}

/// FNV-1a, 64 bits: a stable hash (the same in every version and on every machine), so code
/// scanning matches an alert with the same resource across runs.
fn stable_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The level follows the action: a change aws-harden makes is an error to fix; a manual action or
/// a check that cannot be decided yet is a warning.
fn level(changes: &[&Change]) -> &'static str {
    if changes.iter().any(|c| c.action != Action::Manual) {
        "error"
    } else {
        "warning"
    }
}

/// The SARIF log for one account's assessment. `plan_file` is the path as given (relative to the
/// repository root in CI) and `plan_text` its text.
pub fn report(account: &str, a: &Assessment, plan_file: &str, plan_text: &str) -> String {
    report_many(&[(account, a)], plan_file, plan_text)
}

/// The SARIF log for several accounts (`--org`): one run, with the account in each result and its
/// fingerprint; past GitHub's 5,000 results a run, one run per category (`split`).
pub fn report_many(accounts: &[(&str, &Assessment)], plan_file: &str, plan_text: &str) -> String {
    let runs = runs(accounts, plan_file, plan_text);
    if runs.len() > 1 {
        eprintln!(
            "SARIF: GitHub takes one category per uploaded file; --sarif-dir DIR writes each run \
             to a file of its own"
        );
    }
    let text = log(runs.into_iter().map(|(_, run)| run).collect());
    warn_over_upload_limit("the SARIF output", &text);
    text
}

/// `--sarif-dir`: the SARIF as files, one run each, named after its category:
/// `aws-harden.sarif`, or past 5,000 results `aws-harden-accounts-D.sarif` (upload-sarif takes a
/// directory; GitHub documents one category per uploaded file).
pub fn files(
    accounts: &[(&str, &Assessment)],
    plan_file: &str,
    plan_text: &str,
) -> Vec<(String, String)> {
    runs(accounts, plan_file, plan_text)
        .into_iter()
        .map(|(category, run)| {
            let name = match category {
                None => "aws-harden.sarif".to_string(),
                Some(c) => format!("{}.sarif", c.replace('/', "-")),
            };
            let text = log(vec![run]);
            warn_over_upload_limit(&name, &text);
            (name, text)
        })
        .collect()
}

/// Writes `files` into `dir` (made when missing); the paths written.
pub fn write_files(
    dir: &std::path::Path,
    files: &[(String, String)],
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--sarif-dir {}: cannot create it", dir.display()))?;
    files
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("--sarif-dir: cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

fn log(runs: Vec<Run>) -> String {
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs,
    };
    serde_json::to_string_pretty(&log).expect("a SARIF log of plain data serializes")
}

/// GitHub refuses an upload over 10 MB gzip-compressed ("SARIF support for code scanning",
/// limits).
const GZIP_LIMIT: usize = 10 * 1024 * 1024;

/// The size of `text` gzip-compressed (flate2's default level, as `gzip` and the upload-sarif
/// action compress).
fn gzip_size(text: &str) -> usize {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes())
        .and_then(|()| gz.finish())
        .map(|bytes| bytes.len())
        // Writing into memory does not fail; were it to, the raw size bounds the compressed one.
        .unwrap_or(text.len())
}

/// What would keep GitHub from taking `text` as one upload, if anything.
fn over_upload_limit(text: &str, limit: usize) -> Option<usize> {
    // Compressed, a text is never much larger than itself: under the limit raw, under it gzipped.
    if text.len() + 1024 < limit {
        return None;
    }
    Some(gzip_size(text)).filter(|&size| size > limit)
}

fn warn_over_upload_limit(what: &str, text: &str) {
    if let Some(size) = over_upload_limit(text, GZIP_LIMIT) {
        eprintln!(
            "SARIF: {what} is {size} bytes gzip-compressed, over the 10 MB GitHub takes in one \
             upload: split the Organization with --shard or --ou"
        );
    }
}

/// The runs of a SARIF log, each with its category (none for one run).
fn runs(
    accounts: &[(&str, &Assessment)],
    plan_file: &str,
    plan_text: &str,
) -> Vec<(Option<String>, Run)> {
    // The checks, and what could not be checked at all (an error notice: a region a missing
    // permission refused) as a failed check of its own, so code scanning shows it as the run's exit
    // code does.
    let checks_of = |a: &Assessment| -> Vec<Check> {
        let unchecked = a
            .notices
            .iter()
            .filter(|n| n.level == NoticeLevel::Error)
            .map(|n| Check {
                control: n.control,
                rule: NOT_CHECKED.into(),
                resource: n.message.clone(),
                region: None,
                cis: n.cis.clone(),
                passed: false,
                accepted: Vec::new(),
            });
        a.checks.iter().cloned().chain(unchecked).collect()
    };
    let all: Vec<(&str, &Assessment, Vec<Check>)> = accounts
        .iter()
        .map(|&(account, a)| (account, a, checks_of(a)))
        .collect();
    let mut rules: Vec<Rule> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for check in all.iter().flat_map(|(_, _, checks)| checks) {
        let id = rule_id(check);
        match index.get(&id) {
            Some(&i) => {
                for cis in &check.cis {
                    let tag = format!("CIS {cis}");
                    if !rules[i].properties.tags.contains(&tag) {
                        rules[i].properties.tags.push(tag);
                    }
                }
            }
            None => {
                index.insert(id.clone(), rules.len());
                rules.push(Rule {
                    short_description: Text {
                        text: format!(
                            "{}: {}",
                            check.control.title(),
                            check.rule.replace('_', " ")
                        ),
                    },
                    properties: RuleProperties {
                        tags: check.cis.iter().map(|c| format!("CIS {c}")).collect(),
                        security_severity: security_severity(check.control),
                    },
                    id,
                });
            }
        }
    }
    let uri = repository_path(plan_file);
    let position = |check: &Check| {
        plan::table_position(plan_text, ControlId::plan_table(check.control)).unwrap_or((1, 1))
    };
    let result = |account: &str, check: &Check, level, text, fingerprint: String| {
        let (line, column) = position(check);
        SarifResult {
            rule_id: rule_id(check),
            rule_index: index[&rule_id(check)],
            level,
            message: Text { text },
            locations: vec![Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation { uri: uri.clone() },
                    region: Region {
                        start_line: line,
                        start_column: column,
                    },
                },
            }],
            // Account, region, control and resource: 17 regions are 17 alerts, not one.
            partial_fingerprints: BTreeMap::from([(
                "primaryLocationLineHash",
                stable_hash(&fingerprint),
            )]),
            properties: ResultProperties {
                account: account.to_string(),
                region: check.region.clone().unwrap_or_else(|| "global".into()),
                control: check.control.as_str(),
                resource: check.resource.clone(),
            },
            suppressions: Vec::new(),
        }
    };
    let mut results: Vec<(&str, SarifResult)> = Vec::new();
    for (account, a, checks) in &all {
        let (account, a) = (*account, *a);
        for check in checks {
            if check.rule == NOT_CHECKED {
                let text = check.resource.clone();
                results.push((
                    account,
                    result(account, check, "error", text, check.identity(account)),
                ));
                continue;
            }
            if !check.passed {
                let changes: Vec<&Change> = a.changes_for(check).collect();
                let message = match changes.is_empty() {
                    true => format!(
                        "{}: not yet decided (what it needs does not exist yet)",
                        check.located()
                    ),
                    false => changes
                        .iter()
                        .map(|c| render::one_line(c))
                        .collect::<Vec<_>>()
                        .join(" | "),
                };
                let r = result(
                    account,
                    check,
                    level(&changes),
                    message,
                    check.identity(account),
                );
                results.push((account, r));
            }
            // Each accepted finding: a result of its own, suppressed, so code scanning shows it
            // closed with its reason rather than not at all.
            for accepted in &check.accepted {
                let mut r = result(
                    account,
                    check,
                    "warning",
                    format!("{}: {}", check.located(), accepted.finding),
                    // The credential, not the text (its day counts change from run to run).
                    format!(
                        "{}/{}",
                        check.identity(account),
                        accepted.finding.split(':').next().unwrap_or_default()
                    ),
                );
                r.suppressions.push(Suppression {
                    kind: "external",
                    status: "accepted",
                    justification: format!(
                        "{} (accepted until {})",
                        accepted.reason, accepted.until
                    ),
                });
                results.push((account, r));
            }
        }
    }
    let driver = || Driver {
        name: "aws-harden",
        version: env!("CARGO_PKG_VERSION"),
        information_uri: "https://github.com/aws-harden/aws-harden",
        rules: rules
            .iter()
            .map(|r| Rule {
                id: r.id.clone(),
                short_description: Text {
                    text: r.short_description.text.clone(),
                },
                properties: RuleProperties {
                    tags: r.properties.tags.clone(),
                    security_severity: r.properties.security_severity,
                },
            })
            .collect(),
    };
    split(results)
        .into_iter()
        .map(|(category, results)| {
            let run = Run {
                tool: Tool { driver: driver() },
                automation_details: category.clone().map(|id| AutomationDetails { id }),
                results,
            };
            (category, run)
        })
        .collect()
}

/// The results as runs. Up to `RESULTS_PER_RUN`, one run without a category, as always. Past that
/// (an Organization of hundreds of accounts), one run per first digit of the account ID, each its
/// own category `aws-harden/accounts-D`: a key that stays the same from one run to the next (an
/// account never moves to another run as others come and go), so code scanning closes a category's
/// alerts with the next upload of that category; never "the first 5,000". What GitHub would still
/// drop or refuse (a run over its limits) is said on stderr.
fn split(results: Vec<(&str, SarifResult)>) -> Vec<(Option<String>, Vec<SarifResult>)> {
    if results.len() <= RESULTS_PER_RUN {
        return vec![(None, results.into_iter().map(|(_, r)| r).collect())];
    }
    let total = results.len();
    let mut by_digit: BTreeMap<char, Vec<SarifResult>> = BTreeMap::new();
    for (account, r) in results {
        by_digit
            .entry(account.chars().next().unwrap_or('0'))
            .or_default()
            .push(r);
    }
    eprintln!(
        "SARIF: {total} results, more than the {RESULTS_PER_RUN} GitHub keeps in a run: written as {} \
         runs, one per first digit of the account ID, each its own category (automationDetails.id \
         aws-harden/accounts-D)",
        by_digit.len()
    );
    for (digit, rs) in &by_digit {
        if rs.len() > RESULTS_PER_RUN {
            eprintln!(
                "SARIF: the run of accounts {digit}... has {} results: GitHub keeps {RESULTS_PER_RUN}{}; \
                 split the Organization with --shard or --ou and upload each",
                rs.len(),
                match rs.len() > REJECTED_ABOVE {
                    true => format!(" and rejects a run above {REJECTED_ABOVE}"),
                    false => String::new(),
                }
            );
        }
    }
    debug_assert!(by_digit.len() <= RUNS_PER_FILE, "ten digits at most");
    by_digit
        .into_iter()
        .map(|(digit, rs)| (Some(format!("aws-harden/accounts-{digit}")), rs))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SARIF 2.1.0 schema (OASIS), as shipped in the serde-sarif 0.8.0 crate.
    const SCHEMA: &str = include_str!("../../tests/schemas/sarif-schema-2.1.0.json");

    fn validate(log: &str) {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        compiler
            .add_resource("sarif-schema-2.1.0.json", schema)
            .unwrap();
        let id = compiler
            .compile("sarif-schema-2.1.0.json", &mut schemas)
            .unwrap();
        let instance: serde_json::Value = serde_json::from_str(log).unwrap();
        if let Err(e) = schemas.validate(&instance, id) {
            panic!("not valid SARIF 2.1.0: {e:#}\n{log}");
        }
    }

    #[test]
    fn failed_checks_are_results_at_their_table_valid_against_the_schema() {
        let mut d = Assessment::sample_diff();
        d.push(Change::manual(ControlId::Root, "mfa for the root user").cis(&["1.5"]));
        d.checked_in(
            Some("eu-west-1"),
            ControlId::Cloudtrail,
            "s3 bucket \"a\"",
            &["2.1.4"],
        );
        d.push(Change::with_ops(
            ControlId::Cloudtrail,
            "s3 bucket \"a\"",
            Action::Create,
            vec![],
        ));
        let text = "version = 1\n\n[admin_group]\n[password_policy]\nminimum_length = 14\n";
        let log = report(
            "123456789012",
            &Assessment::of_diff(d),
            "plans/x.toml",
            text,
        );
        validate(&log);
        let v: serde_json::Value = serde_json::from_str(&log).unwrap();
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "{log}");
        let policy = &results[0];
        assert_eq!(policy["ruleId"], "password_policy/account_password_policy");
        assert_eq!(policy["level"], "error");
        assert_eq!(
            policy["message"]["text"],
            "~ account password policy: minimum_length: 8 -> 14"
        );
        let region = &policy["locations"][0]["physicalLocation"]["region"];
        assert_eq!(
            (region["startLine"].as_u64(), region["startColumn"].as_u64()),
            (Some(4), Some(1))
        );
        assert_eq!(results[1]["properties"]["region"], "eu-west-1");
        assert_eq!(results[2]["level"], "warning");
        assert_eq!(results[2]["properties"]["region"], "global");
        // The rules include the passing kind of check too, tagged with CIS.
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        let group = rules
            .iter()
            .find(|r| r["id"] == "admin_group/iam_group")
            .unwrap();
        assert_eq!(group["properties"]["tags"][0], "CIS 1.14");
    }

    #[test]
    #[should_panic(expected = "not valid SARIF 2.1.0")]
    fn the_schema_check_can_fail() {
        validate(r#"{"version": "2.1.0"}"#);
    }

    #[test]
    fn fingerprints_differ_by_region_and_stay_the_same_across_runs() {
        let check = |region: &str| Check {
            control: ControlId::Cloudtrail,
            rule: "s3_bucket".into(),
            resource: "s3 bucket \"a\"".into(),
            region: Some(region.into()),
            cis: vec![],
            passed: false,
            accepted: vec![],
        };
        let a = stable_hash(&check("eu-west-1").identity("1"));
        let b = stable_hash(&check("us-east-1").identity("1"));
        assert_ne!(a, b);
        assert_eq!(a, stable_hash(&check("eu-west-1").identity("1")));
        // Pinned: a hash that changed between versions would reopen every alert.
        assert_eq!(stable_hash(""), "cbf29ce484222325");
        assert_eq!(stable_hash("a"), "af63dc4c8601ec8c");
    }

    /// `n` failed checks, each a change in its own region (regions "r0".."r{n-1}").
    fn failing(n: usize) -> Assessment {
        let mut d = crate::controls::Diff::default();
        for i in 0..n {
            let region = format!("r{i}");
            d.checked_in(Some(&region), ControlId::EbsEncryption, "ebs", &["5.1.1"]);
            d.push(
                Change::with_ops(ControlId::EbsEncryption, "ebs", Action::Update, vec![])
                    .in_region(&region),
            );
        }
        Assessment::of_diff(d)
    }

    /// Past the 5,000 results GitHub keeps in a run, one run per first digit of the account ID, each
    /// its own category; an account added later does not move another account's results to another
    /// run (the key is stable). Every rule has a security-severity.
    #[test]
    fn an_organization_past_five_thousand_results_is_split_by_a_stable_key() {
        let (a, b) = (failing(2_600), failing(2_600));
        let log = report_many(
            &[("111111111111", &a), ("222222222222", &b)],
            "plans/m.toml",
            "",
        );
        validate(&log);
        let v: serde_json::Value = serde_json::from_str(&log).unwrap();
        let runs = v["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0]["automationDetails"]["id"], "aws-harden/accounts-1");
        assert_eq!(runs[1]["automationDetails"]["id"], "aws-harden/accounts-2");
        assert_eq!(runs[0]["results"].as_array().unwrap().len(), 2_600);
        for run in runs {
            for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
                assert_eq!(rule["properties"]["security-severity"], "5.5", "{rule}");
            }
        }
        // A third account: the first two stay in their runs.
        let c = failing(10);
        let log = report_many(
            &[
                ("111111111111", &a),
                ("222222222222", &b),
                ("211111111111", &c),
            ],
            "plans/m.toml",
            "",
        );
        let v: serde_json::Value = serde_json::from_str(&log).unwrap();
        assert_eq!(v["runs"][0]["results"].as_array().unwrap().len(), 2_600);
        assert_eq!(v["runs"][1]["results"].as_array().unwrap().len(), 2_610);
        // Small enough: one run, no category (as before, so no alert moves).
        let log = report_many(&[("111111111111", &c)], "plans/m.toml", "");
        let v: serde_json::Value = serde_json::from_str(&log).unwrap();
        assert_eq!(v["runs"].as_array().unwrap().len(), 1);
        assert!(v["runs"][0].get("automationDetails").is_none());
    }

    /// A region that could not be checked (an error notice) is an error result of its own rule.
    #[test]
    fn what_could_not_be_checked_is_an_error_result() {
        let log = report(
            "1",
            &Assessment::sample_unchecked_region(),
            "plans/x.toml",
            "",
        );
        validate(&log);
        let v: serde_json::Value = serde_json::from_str(&log).unwrap();
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{log}");
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[0]["ruleId"], "ebs_encryption/not_checked");
        assert_eq!(
            results[0]["message"]["text"],
            "region eu-west-1 not checked: AccessDenied"
        );
    }

    /// A finding the plan accepts is a result of its own, suppressed with its reason and date
    /// (valid SARIF), beside the failed checks.
    #[test]
    fn an_accepted_finding_is_a_suppressed_result() {
        let a = Assessment::sample_accepted();
        let log = report(
            "111111111111",
            &a,
            "plans/x.toml",
            "[iam_users]
",
        );
        validate(&log);
        let v: serde_json::Value = serde_json::from_str(&log).unwrap();
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{log}");
        assert_eq!(results[0]["suppressions"][0]["kind"], "external");
        assert_eq!(
            results[0]["suppressions"][0]["justification"],
            "break-glass (accepted until 2027-01-31)"
        );
    }

    /// `--sarif-dir`: each run a file of its own, named after its category, each valid SARIF
    /// with one run; one file without a category when small.
    #[test]
    fn the_files_are_one_per_category() {
        let (a, b) = (failing(2_600), failing(2_600));
        let accounts = [("111111111111", &a), ("222222222222", &b)];
        let files = files(&accounts, "plans/m.toml", "");
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["aws-harden-accounts-1.sarif", "aws-harden-accounts-2.sarif"]
        );
        for (name, text) in &files {
            validate(text);
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(v["runs"].as_array().unwrap().len(), 1, "{name}");
            let id = v["runs"][0]["automationDetails"]["id"].as_str().unwrap();
            assert_eq!(format!("{}.sarif", id.replace('/', "-")), *name);
        }
        let dir = tempfile::tempdir().unwrap();
        let written = write_files(&dir.path().join("sarif"), &files).unwrap();
        assert_eq!(written.len(), 2);
        assert_eq!(std::fs::read_to_string(&written[1]).unwrap(), files[1].1);
        let c = failing(3);
        let one = super::files(&[("111111111111", &c)], "plans/m.toml", "");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].0, "aws-harden.sarif");
    }

    /// GitHub's 10 MB is of the gzipped file: a large but repetitive file is under it, a file
    /// over the limit compressed is named. The limit is a parameter, so a small one shows the
    /// check firing.
    #[test]
    fn the_upload_limit_is_of_the_gzipped_size() {
        let log = report_many(&[("111111111111", &failing(400))], "plans/m.toml", "");
        assert!(
            over_upload_limit(&log, log.len() / 2).is_none(),
            "compresses well"
        );
        let size = gzip_size(&log);
        assert!(size < log.len() / 5, "{size} of {}", log.len());
        assert_eq!(over_upload_limit(&log, size - 1), Some(size));
        assert_eq!(over_upload_limit(&log, size + 1), None);
        assert!(over_upload_limit(&log, GZIP_LIMIT).is_none());
    }

    /// The location is the plan's path from the repository root, normalised.
    #[test]
    fn the_location_is_the_plan_relative_to_the_repository_root() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join(".git")).unwrap();
        std::fs::create_dir_all(repo.path().join("plans/prod")).unwrap();
        let inside = repo.path().join("plans/prod/../prod/./m.toml");
        assert_eq!(
            repository_path(&inside.display().to_string()),
            "plans/prod/m.toml"
        );
        // Outside any repository: the path as given, normalised.
        let outside = tempfile::tempdir().unwrap();
        let plan = outside.path().join("m.toml").display().to_string();
        assert_eq!(repository_path(&plan), plan);
    }
}
