//! What the survey of the account found, in a few words per control: pure.

use crate::change::{Action, ControlId};
use crate::controls::Change;
use crate::controls::{Observation, cloudtrail, cost_report, root, security_contact};
use crate::engine::Assessment;

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
                Observation::S3PublicAccess(s) if s.block.is_none() => {
                    "none set: only each bucket's own settings block public access".to_string()
                }
                Observation::EbsEncryption(e) if !changes.is_empty() => {
                    regions_differ(changes.len(), e.regions.len())
                }
                Observation::ImdsDefaults(i) if !changes.is_empty() => {
                    regions_differ(changes.len(), i.regions.len())
                }
                Observation::Cloudtrail(t) => {
                    let name = plan.cloudtrail().map(|c| c.trail_name.as_str());
                    format!("{}{differ}", trail_status(t, name, changes.is_empty()))
                }
                Observation::CostReport(r) => {
                    let name = plan.cost_report().map(|c| c.report_name.as_str());
                    format!("{}{differ}", report_status(r, name, changes.is_empty()))
                }
                Observation::AccessAnalyzer(a) if !changes.is_empty() => {
                    regions_differ(changes.len(), a.regions.len())
                }
                Observation::Guardduty(g) if !changes.is_empty() => {
                    regions_differ(changes.len(), g.regions.len())
                }
                Observation::SupportRole(r) if r.role.is_none() => {
                    let name = plan.support_role().map(|r| r.name.as_str()).unwrap_or("");
                    format!("no role named \"{name}\"")
                }
                Observation::SecurityContact(c) => contact_status(c),
                Observation::Budget(b) if b.budget.is_none() => {
                    let name = plan.budget().map(|b| b.name.as_str()).unwrap_or("");
                    format!("no budget named \"{name}\": nothing warns of a surprise bill")
                }
                Observation::Budget(_) => format!("exists{differ}"),
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

/// The security contact as found: its e-mail, or that none is set.
fn contact_status(c: &security_contact::Observed) -> String {
    match c.contacts.iter().find(|(k, _)| k == "SECURITY") {
        Some((_, Some(live))) => format!(
            "set, to {}",
            live.email
                .as_deref()
                .unwrap_or("an address AWS did not return")
        ),
        _ => "none set: AWS has only the root e-mail to tell about a security issue".to_string(),
    }
}

/// A regional control's finding: how many of the regions read are not as recommended.
fn regions_differ(differ: usize, read: usize) -> String {
    format!("not as recommended in {differ} of {read} regions")
}
