//! `--output markdown` and GitHub's job summary: a compact table of the changes (account, control,
//! resource, action, CIS) and the summary line. Pure: data in, text out.

use std::fmt::Write;

use crate::controls::Change;
use crate::engine::{ApplyReport, Assessment};
use crate::ui::render;

/// GitHub drops a step summary over 1 MiB entirely ("Adding a job summary", GitHub Actions
/// documentation: "the maximum size of a job summary is 1 MiB"); stay under it with room to spare.
pub const STEP_SUMMARY_LIMIT: usize = 1000 * 1000;

/// A table cell: one line, `|` escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn table(out: &mut String, account: &str, changes: &[Change]) {
    out.push_str("| account | control | resource | action | CIS |\n|---|---|---|---|---|\n");
    for c in changes {
        let _ = writeln!(
            out,
            "| {account} | {} | {} | {} {} | {} |",
            c.control.as_str(),
            cell(&c.located()),
            c.action.marker(),
            format!("{:?}", c.action).to_lowercase(),
            c.cis.join(", ")
        );
    }
}

/// The account's heading, then the table of its changes (none when there are none), then the
/// findings the plan accepts, with their reasons.
fn heading_and_table(account: &str, a: &Assessment) -> String {
    let mut out = format!("### aws-harden: account {account}\n\n");
    if !a.changes.is_empty() {
        table(&mut out, account, &a.changes);
        out.push('\n');
    }
    for check in &a.checks {
        for accepted in &check.accepted {
            let _ = writeln!(
                out,
                "- Accepted until {}: {}: {} ({})",
                accepted.until,
                cell(&check.located()),
                cell(&accepted.finding),
                cell(&accepted.reason)
            );
        }
    }
    if a.checks.iter().any(|c| !c.accepted.is_empty()) {
        out.push('\n');
    }
    out
}

/// The report for a dry run (or a run that had nothing to apply).
pub fn plan(account: &str, a: &Assessment) -> String {
    let mut out = heading_and_table(account, a);
    let _ = writeln!(out, "{}", render::plan_summary(&a.summary()));
    out
}

/// The report for an apply: what was applied, what was not, and the result.
pub fn apply(account: &str, a: &Assessment, r: &ApplyReport) -> String {
    let mut out = heading_and_table(account, a);
    let s = r.summary();
    let outcome = if r.succeeded() {
        "succeeded"
    } else {
        "did not finish"
    };
    let _ = writeln!(
        out,
        "Apply {outcome}: {} created, {} changed, {} deleted; {} not attempted, {} not verified, {} manual {}.",
        s.create,
        s.update,
        s.delete,
        r.not_attempted.len(),
        r.not_verified.len(),
        r.manual.len(),
        if r.manual.len() == 1 {
            "action"
        } else {
            "actions"
        }
    );
    for f in &r.failures {
        let _ = writeln!(
            out,
            "\nFailed: {}: {}",
            cell(&f.change.located()),
            cell(&f.error)
        );
    }
    out
}

/// `text` cut to fit GitHub's limit, at a line boundary, with a note saying so.
pub fn fit_step_summary(text: &str) -> String {
    if text.len() <= STEP_SUMMARY_LIMIT {
        return text.to_string();
    }
    const NOTE: &str = "\n\n_Truncated: GitHub shows at most 1 MiB of a job summary. Run with `--output json` for everything._\n";
    let budget = STEP_SUMMARY_LIMIT - NOTE.len();
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(end, |i| i + 1);
    format!("{}{NOTE}", &text[..end])
}

/// Append to the job summary file GitHub names in `GITHUB_STEP_SUMMARY` (it may already hold
/// other steps' summaries, so never truncate the file itself).
pub fn append_step_summary(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(fit_step_summary(text).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Action, ControlId};

    fn assessment(changes: Vec<Change>) -> Assessment {
        Assessment::of_diff(crate::change::Diff {
            changes,
            ..Default::default()
        })
    }

    #[test]
    fn an_accepted_finding_is_listed_with_its_reason() {
        let text = plan("1", &Assessment::sample_accepted());
        assert!(
            text.contains(
                "- Accepted until 2027-01-31: iam user \"bob\": mfa: console password without MFA (break-glass)"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_table_row_per_change_and_the_summary_line() {
        let a = assessment(vec![
            Change::with_ops(
                ControlId::AdminGroup,
                "iam group \"A|B\"",
                Action::Create,
                vec![],
            )
            .cis(&["1.14"]),
            Change::manual(ControlId::Root, "mfa for the root user").cis(&["1.4", "1.5"]),
        ]);
        let md = plan("123456789012", &a);
        assert!(
            md.contains("| account | control | resource | action | CIS |"),
            "{md}"
        );
        assert!(
            md.contains("| 123456789012 | admin_group | iam group \"A\\|B\" | + create | 1.14 |"),
            "{md}"
        );
        assert!(
            md.contains("| 123456789012 | root | mfa for the root user | ! manual | 1.4, 1.5 |"),
            "{md}"
        );
        assert!(
            md.contains("Plan: 1 to create, 0 to change, 0 to delete, 1 manual action."),
            "{md}"
        );
        let clean = plan("123456789012", &assessment(vec![]));
        assert!(!clean.contains("| account |"), "{clean}");
        assert!(
            clean.contains("No changes. The account matches the plan."),
            "{clean}"
        );
    }

    #[test]
    fn a_summary_over_githubs_limit_is_cut_at_a_line_with_a_note() {
        let line = "| 1 | c | r | + create | 1.1 |\n";
        let big = line.repeat(STEP_SUMMARY_LIMIT / line.len() + 10);
        let fitted = fit_step_summary(&big);
        assert!(fitted.len() <= STEP_SUMMARY_LIMIT, "{}", fitted.len());
        assert!(fitted.contains("Truncated: GitHub shows at most 1 MiB"));
        let body = fitted.split("\n\n_Truncated").next().unwrap();
        assert!(
            body.trim_end().ends_with(line.trim_end()),
            "cut inside a line"
        );
        assert_eq!(fit_step_summary(line), line);
    }
}
