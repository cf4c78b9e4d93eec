//! Human rendering of changes and results: terraform-style markers, before -> after per field.
//! Pure functions from data to text, so the exact output is testable with and without colour.

use std::fmt::Write;

use console::Style;

use crate::aws::Caller;
use crate::change::{Action, ControlId, Notice, NoticeLevel, Stage, Summary};
use crate::controls::Change;
use crate::engine::{ApplyReport, Assessment};

#[derive(Clone, Copy, Debug)]
pub struct Palette {
    pub color: bool,
}

impl Palette {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            style.force_styling(true).apply_to(text).to_string()
        } else {
            text.to_string()
        }
    }
    fn action(&self, a: Action, text: &str) -> String {
        let style = match a {
            Action::Create => Style::new().green(),
            Action::Update => Style::new().yellow(),
            Action::Delete => Style::new().red(),
            Action::Manual => Style::new().cyan(),
        };
        self.paint(style, text)
    }
    pub fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }
    fn dim(&self, text: &str) -> String {
        self.paint(Style::new().dim(), text)
    }
    fn warn(&self, text: &str) -> String {
        self.paint(Style::new().yellow().bold(), text)
    }
    fn error(&self, text: &str) -> String {
        self.paint(Style::new().red().bold(), text)
    }
}

pub fn header(caller: &Caller, plan_path: &str, home_region: &str) -> String {
    let mut out = format!(
        "Account {} as {} ({})\n",
        caller.account_id,
        caller.describe(),
        caller.arn
    );
    // Which credentials signed: the environment's keys and a profile can both be present.
    if !caller.credential_source.is_empty() {
        let _ = writeln!(out, "Credentials from {}", caller.credential_source);
    }
    let _ = writeln!(out, "Plan {plan_path} (home region {home_region})");
    out
}

fn value(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "(none)".to_string(),
    }
}

pub fn change(p: Palette, c: &Change) -> String {
    let mut out = String::new();
    let marker = p.action(c.action, &c.action.marker().to_string());
    let _ = write!(out, "  {marker} {}", c.located());
    if c.stage > Stage::Main {
        let _ = write!(out, " {}", p.dim("(last)"));
    }
    // A regional setting is one line per region (the same few flags in every region); its note is
    // shown once for the control (`assessment`).
    if c.region.is_some() && !c.fields.is_empty() {
        let fields: Vec<String> = c
            .fields
            .iter()
            .map(|f| format!("{}: {} -> {}", f.field, value(&f.before), value(&f.after)))
            .collect();
        let _ = writeln!(out, ": {}", fields.join("; "));
        return out;
    }
    out.push('\n');
    for f in &c.fields {
        let _ = writeln!(
            out,
            "      {}: {} -> {}",
            f.field,
            value(&f.before),
            value(&f.after)
        );
    }
    if let (Some(note), None) = (&c.note, &c.region) {
        for line in note.lines() {
            let _ = writeln!(out, "      {}", p.dim(line));
        }
    }
    out
}

fn cis_label<S: AsRef<str>>(ids: &[S]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
        format!(" (CIS {})", ids.join(", "))
    }
}

pub fn notice(p: Palette, n: &Notice) -> String {
    let mark = match n.level {
        NoticeLevel::Info => p.dim("i"),
        NoticeLevel::Warning => p.warn("warning:"),
        NoticeLevel::Error => p.error("error:"),
    };
    format!("  {mark} {}{}\n", n.message, cis_label(&n.cis))
}

/// Changes grouped by control, then notices, then the one-line summary.
pub fn assessment(p: Palette, a: &Assessment) -> String {
    let mut out = String::new();
    for id in ControlId::ALL {
        let changes: Vec<&Change> = a.changes.iter().filter(|c| c.control == id).collect();
        let notices: Vec<&Notice> = a.notices.iter().filter(|n| n.control == id).collect();
        if changes.is_empty() && notices.is_empty() {
            continue;
        }
        let mut cis: Vec<&str> = changes
            .iter()
            .flat_map(|c| c.cis.iter().map(String::as_str))
            .collect();
        cis.sort();
        cis.dedup();
        let _ = writeln!(out, "\n{}{}", p.bold(id.title()), cis_label(&cis));
        for c in &changes {
            out.push_str(&change(p, c));
        }
        // Regional changes share their notes: each once, after the regions' lines.
        let mut notes: Vec<&str> = Vec::new();
        for c in changes.iter().filter(|c| c.region.is_some()) {
            if let Some(n) = c.note.as_deref().filter(|n| !notes.contains(n)) {
                notes.push(n);
            }
        }
        for line in notes.iter().flat_map(|n| n.lines()) {
            let _ = writeln!(out, "    {}", p.dim(line));
        }
        for n in notices {
            out.push_str(&notice(p, n));
        }
    }
    if !a.unmanaged.is_empty() {
        let names: Vec<&str> = a.unmanaged.iter().map(|c| c.as_str()).collect();
        let _ = writeln!(
            out,
            "\n{}",
            p.dim(&format!("Not managed by this plan: {}", names.join(", ")))
        );
    }
    let _ = writeln!(out, "\n{}", plan_summary(&a.summary()));
    out
}

pub fn plan_summary(s: &Summary) -> String {
    if s.is_empty() {
        return "No changes. The account matches the plan.".into();
    }
    format!(
        "Plan: {} to create, {} to change, {} to delete, {} manual {}.",
        s.create,
        s.update,
        s.delete,
        s.manual,
        if s.manual == 1 { "action" } else { "actions" }
    )
}

/// The end of an apply: what was done, what failed, what was not attempted, what a person must do.
pub fn apply_result(p: Palette, r: &ApplyReport, elapsed_secs: f64) -> String {
    let mut out = String::new();
    let s = r.summary();
    let counts = format!(
        "{} created, {} changed, {} deleted",
        s.create, s.update, s.delete
    );
    let n = r.manual.len();
    let manual = if n == 0 {
        String::new()
    } else {
        format!(
            " {n} manual {} remain{}:",
            if n == 1 { "action" } else { "actions" },
            if n == 1 { "s" } else { "" }
        )
    };
    if r.succeeded() {
        let _ = writeln!(
            out,
            "\n{} {counts} in {elapsed_secs:.1}s.{manual}",
            p.bold("Apply complete:")
        );
        for c in &r.manual {
            out.push_str(&change(p, c));
        }
    } else {
        let what = if r.interrupted {
            "Apply interrupted"
        } else if r.stale {
            "Apply stopped"
        } else {
            "Apply failed"
        };
        let _ = writeln!(
            out,
            "\n{} {counts} before stopping.",
            p.warn(&format!("{what}:"))
        );
    }
    for f in &r.failures {
        let _ = writeln!(out, "Failed:\n{}      {}", change(p, &f.change), f.error);
    }
    for c in &r.not_verified {
        let _ = write!(
            out,
            "Did not take effect when observed again:\n{}",
            change(p, c)
        );
    }
    if let Some(e) = &r.verification_error {
        let _ = writeln!(
            out,
            "Could not verify the changes made: observing the account again failed: {e}\nRun with --plan to see where the account stands."
        );
    }
    if !r.not_attempted.is_empty() {
        let _ = writeln!(out, "Not attempted:");
        for c in &r.not_attempted {
            out.push_str(&change(p, c));
        }
    }
    for m in &r.messages {
        let _ = writeln!(out, "{m}");
    }
    if !r.succeeded() && n > 0 {
        let _ = writeln!(out, "{}", manual.trim_start());
        for c in &r.manual {
            out.push_str(&change(p, c));
        }
    }
    out
}

/// A console password this run created: for whom, and where it went ("shown above").
#[derive(Clone, Copy, Debug)]
pub struct NewPassword<'a> {
    pub user: &'a str,
    pub delivered: &'a str,
}

/// After an apply: what the person does next, numbered, each on one line (the steps of manual
/// actions are listed above). Empty when there is nothing to do.
pub fn next_steps(signin_url: &str, password: Option<NewPassword>, manual: &[Change]) -> String {
    let mut steps: Vec<String> = Vec::new();
    if let Some(p) = password {
        steps.push(format!(
            "Sign in at {signin_url} as IAM user {} with the password {}.",
            p.user, p.delivered
        ));
        steps.push("Change the password when asked (required at first sign-in).".into());
    }
    for c in manual {
        steps.push(format!("Manual action: {} (steps above).", c.located()));
    }
    if steps.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nNext steps:\n");
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {s}", i + 1);
    }
    out
}

/// What differs, on one line (for reports whose messages are one line: JUnit, SARIF): `~ resource: field: before
/// -> after; ...`.
pub fn one_line(c: &Change) -> String {
    let fields: Vec<String> = c
        .fields
        .iter()
        .map(|f| {
            format!(
                "{}: {} -> {}",
                f.field,
                f.before.as_deref().unwrap_or("(none)"),
                f.after.as_deref().unwrap_or("(none)")
            )
        })
        .collect();
    match fields.is_empty() {
        true => format!("{} {}", c.action.marker(), c.located()),
        false => format!(
            "{} {}: {}",
            c.action.marker(),
            c.located(),
            fields.join("; ")
        ),
    }
}

/// After an apply that stopped early: how to carry on. A re-run observes again and applies only
/// what is still missing.
pub fn rerun_hint(command: &str) -> String {
    format!("Run `{command}` again to finish: it applies only what is still missing.")
}

/// After the wizard: how to use the saved plan from now on.
pub fn reuse_hint(command: &str) -> String {
    format!(
        "\nThe plan is saved. Run `{command}` any time to confirm the account still matches and repair drift (--plan for a dry run)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Change> {
        vec![
            Change::with_ops(
                ControlId::AdminGroup,
                "iam group \"Administrators\"",
                Action::Create,
                Vec::new(),
            )
            .field("name", None::<String>, Some("Administrators"))
            .cis(&["1.14"]),
            Change::with_ops(
                ControlId::PasswordPolicy,
                "account password policy",
                Action::Update,
                Vec::new(),
            )
            .field("minimum_length", Some("8"), Some("14")),
            Change::manual(ControlId::Root, "root user MFA")
                .note("Sign in as root.\nOpen Security credentials."),
        ]
    }

    /// Every failure of an apply gets its block, in order.
    #[test]
    fn each_failure_is_shown() {
        let changes = sample();
        let r = ApplyReport {
            failures: vec![
                crate::engine::Failure {
                    change: changes[0].clone(),
                    error: "first".into(),
                },
                crate::engine::Failure {
                    change: changes[1].clone(),
                    error: "second".into(),
                },
            ],
            ..ApplyReport::default()
        };
        let text = apply_result(Palette { color: false }, &r, 1.0);
        assert_eq!(text.matches("Failed:").count(), 2, "{text}");
        assert!(
            text.find("first").unwrap() < text.find("second").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn plain_change_rendering_is_exact() {
        let p = Palette { color: false };
        let text: String = sample().iter().map(|c| change(p, c)).collect();
        assert_eq!(
            text,
            "  + iam group \"Administrators\"\n      name: (none) -> \"Administrators\"\n\
             \x20 ~ account password policy\n      minimum_length: \"8\" -> \"14\"\n\
             \x20 ! root user MFA\n      Sign in as root.\n      Open Security credentials.\n"
        );
    }

    #[test]
    fn regional_changes_are_one_line_per_region_and_their_note_is_said_once() {
        let regional = |region: &str, fields: usize| {
            let mut c = Change::with_ops(
                ControlId::ImdsDefaults,
                "instance metadata defaults",
                Action::Update,
                Vec::new(),
            )
            .field("HttpTokens", None::<String>, Some("required"))
            .note("only a default")
            .in_region(region);
            if fields > 1 {
                c = c.field("HttpPutResponseHopLimit", Some("1"), Some("2"));
            }
            c
        };
        let a = Assessment {
            changes: vec![regional("eu-west-1", 2), regional("us-east-1", 1)],
            notices: vec![],
            unmanaged: vec![],
            ..sample_assessment()
        };
        let text = assessment(Palette { color: false }, &a);
        assert!(
            text.contains(
                "\n  ~ instance metadata defaults in eu-west-1: HttpTokens: (none) -> \"required\"; \
                 HttpPutResponseHopLimit: \"1\" -> \"2\"\n  ~ instance metadata defaults in us-east-1: \
                 HttpTokens: (none) -> \"required\"\n    only a default\n"
            ),
            "{text}"
        );
        assert_eq!(text.matches("only a default").count(), 1, "{text}");
    }

    #[test]
    fn colour_only_when_asked() {
        let c = &sample()[0];
        assert!(!change(Palette { color: false }, c).contains('\u{1b}'));
        let coloured = change(Palette { color: true }, c);
        assert!(coloured.contains("\u{1b}[32m+"), "{coloured:?}");
    }

    #[test]
    fn summaries() {
        assert_eq!(
            plan_summary(&Summary::default()),
            "No changes. The account matches the plan."
        );
        assert_eq!(
            plan_summary(&Summary::of(&sample())),
            "Plan: 1 to create, 1 to change, 0 to delete, 1 manual action."
        );
    }

    fn sample_assessment() -> Assessment {
        Assessment {
            plan: crate::plan::parse("version = 1\nhome_region = \"us-east-1\"\n").unwrap(),
            observed: vec![],
            changes: sample(),
            checks: vec![],
            notices: vec![
                Notice::info(ControlId::AdminGroup, "Scanners report this group.").cis(&["1.15"]),
            ],
            unmanaged: vec![ControlId::Cloudtrail],
            interactive: true,
        }
    }

    fn sample_report() -> ApplyReport {
        let changes = sample();
        ApplyReport {
            applied: changes[..2].to_vec(),
            manual: changes[2..].to_vec(),
            ..ApplyReport::default()
        }
    }

    fn interrupted_report() -> ApplyReport {
        let changes = sample();
        ApplyReport {
            applied: changes[..1].to_vec(),
            not_attempted: changes[1..2].to_vec(),
            manual: changes[2..].to_vec(),
            interrupted: true,
            ..ApplyReport::default()
        }
    }

    // Snapshots: the exact text a person sees, plain (piped or NO_COLOR) and coloured.
    const ASSESSMENT_PLAIN: &str = "
Admin group (CIS 1.14)
  + iam group \"Administrators\"
      name: (none) -> \"Administrators\"
  i Scanners report this group. (CIS 1.15)

Password policy
  ~ account password policy
      minimum_length: \"8\" -> \"14\"

Root user
  ! root user MFA
      Sign in as root.
      Open Security credentials.

Not managed by this plan: cloudtrail

Plan: 1 to create, 1 to change, 0 to delete, 1 manual action.
";

    const APPLY_PLAIN: &str = "
Apply complete: 1 created, 1 changed, 0 deleted in 2.5s. 1 manual action remains:
  ! root user MFA
      Sign in as root.
      Open Security credentials.
";

    const INTERRUPTED_PLAIN: &str = "
Apply interrupted: 1 created, 0 changed, 0 deleted before stopping.
Not attempted:
  ~ account password policy
      minimum_length: \"8\" -> \"14\"
1 manual action remains:
  ! root user MFA
      Sign in as root.
      Open Security credentials.
";

    #[test]
    fn next_steps_number_sign_in_password_then_each_manual_action() {
        let manual = &sample()[2..];
        assert_eq!(
            next_steps(
                "https://123456789012.signin.aws.amazon.com/console",
                Some(NewPassword {
                    user: "admin",
                    delivered: "shown above"
                }),
                manual
            ),
            "
Next steps:
  1. Sign in at https://123456789012.signin.aws.amazon.com/console as IAM user admin with the password shown above.
  2. Change the password when asked (required at first sign-in).
  3. Manual action: root user MFA (steps above).
"
        );
        assert_eq!(next_steps("u", None, &[]), "");
    }

    #[test]
    fn snapshot_plain() {
        let p = Palette { color: false };
        assert_eq!(assessment(p, &sample_assessment()), ASSESSMENT_PLAIN);
        assert_eq!(apply_result(p, &sample_report(), 2.5), APPLY_PLAIN);
        assert_eq!(
            apply_result(p, &interrupted_report(), 2.5),
            INTERRUPTED_PLAIN
        );
    }

    #[test]
    fn snapshot_coloured() {
        let p = Palette { color: true };
        let text = format!(
            "{}{}{}",
            assessment(p, &sample_assessment()),
            apply_result(p, &sample_report(), 2.5),
            apply_result(p, &interrupted_report(), 2.5)
        );
        assert_eq!(text, COLOURED);
    }

    const COLOURED: &str = concat!(
        "\n",
        "\u{1b}[1mAdmin group\u{1b}[0m (CIS 1.14)\n",
        "  \u{1b}[32m+\u{1b}[0m iam group \"Administrators\"\n",
        "      name: (none) -> \"Administrators\"\n",
        "  \u{1b}[2mi\u{1b}[0m Scanners report this group. (CIS 1.15)\n",
        "\n",
        "\u{1b}[1mPassword policy\u{1b}[0m\n",
        "  \u{1b}[33m~\u{1b}[0m account password policy\n",
        "      minimum_length: \"8\" -> \"14\"\n",
        "\n",
        "\u{1b}[1mRoot user\u{1b}[0m\n",
        "  \u{1b}[36m!\u{1b}[0m root user MFA\n",
        "      \u{1b}[2mSign in as root.\u{1b}[0m\n",
        "      \u{1b}[2mOpen Security credentials.\u{1b}[0m\n",
        "\n",
        "\u{1b}[2mNot managed by this plan: cloudtrail\u{1b}[0m\n",
        "\n",
        "Plan: 1 to create, 1 to change, 0 to delete, 1 manual action.\n",
        "\n",
        "\u{1b}[1mApply complete:\u{1b}[0m 1 created, 1 changed, 0 deleted in 2.5s. 1 manual action remains:\n",
        "  \u{1b}[36m!\u{1b}[0m root user MFA\n",
        "      \u{1b}[2mSign in as root.\u{1b}[0m\n",
        "      \u{1b}[2mOpen Security credentials.\u{1b}[0m\n",
        "\n",
        "\u{1b}[33m\u{1b}[1mApply interrupted:\u{1b}[0m 1 created, 0 changed, 0 deleted before stopping.\n",
        "Not attempted:\n",
        "  \u{1b}[33m~\u{1b}[0m account password policy\n",
        "      minimum_length: \"8\" -> \"14\"\n",
        "1 manual action remains:\n",
        "  \u{1b}[36m!\u{1b}[0m root user MFA\n",
        "      \u{1b}[2mSign in as root.\u{1b}[0m\n",
        "      \u{1b}[2mOpen Security credentials.\u{1b}[0m\n",
    );
}
