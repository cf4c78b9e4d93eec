//! `--output sarif`: SARIF 2.1.0, which code scanning reads (GitHub, Azure DevOps, IDEs). One run;
//! one rule per kind of check, tagged with its CIS IDs; one result per failed check, located at the
//! control's table in the plan file so code scanning annotates the plan.
//!
//! The types are a few plain serde structs: a SARIF crate (serde-sarif) generates all of SARIF's
//! types at build time from the schema, a build far heavier than what is needed here. The output is
//! validated against the SARIF 2.1.0 schema in tests (`tests/schemas/sarif-schema-2.1.0.json`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::change::{Action, Check, ControlId};
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
struct Run {
    tool: Tool,
    results: Vec<SarifResult>,
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

/// The SARIF log for several accounts (`--org`): still one run (GitHub rejects several runs of one
/// tool in one upload), with the account in each result and its fingerprint.
pub fn report_many(accounts: &[(&str, &Assessment)], plan_file: &str, plan_text: &str) -> String {
    let mut rules: Vec<Rule> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for check in accounts.iter().flat_map(|(_, a)| &a.checks) {
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
                    },
                    id,
                });
            }
        }
    }
    let uri = plan_file.replace('\\', "/");
    let results = accounts
        .iter()
        .flat_map(|&(account, a)| {
            a.checks
                .iter()
                .filter(|c| !c.passed)
                .map(move |c| (account, a, c))
        })
        .map(|(account, a, check)| {
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
            let (line, column) =
                plan::table_position(plan_text, ControlId::plan_table(check.control))
                    .unwrap_or((1, 1));
            SarifResult {
                rule_id: rule_id(check),
                rule_index: index[&rule_id(check)],
                level: level(&changes),
                message: Text { text: message },
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
                    stable_hash(&check.identity(account)),
                )]),
                properties: ResultProperties {
                    account: account.to_string(),
                    region: check.region.clone().unwrap_or_else(|| "global".into()),
                    control: check.control.as_str(),
                    resource: check.resource.clone(),
                },
            }
        })
        .collect();
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "aws-harden",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: "https://github.com/aws-harden/aws-harden",
                    rules,
                },
            },
            results,
        }],
    };
    serde_json::to_string_pretty(&log).expect("a SARIF log of plain data serializes")
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
        };
        let a = stable_hash(&check("eu-west-1").identity("1"));
        let b = stable_hash(&check("us-east-1").identity("1"));
        assert_ne!(a, b);
        assert_eq!(a, stable_hash(&check("eu-west-1").identity("1")));
        // Pinned: a hash that changed between versions would reopen every alert.
        assert_eq!(stable_hash(""), "cbf29ce484222325");
        assert_eq!(stable_hash("a"), "af63dc4c8601ec8c");
    }
}
