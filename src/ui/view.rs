//! Views: how a run's results reach stdout. One implementation per `--output` format, chosen once
//! (`view_for`), the way ripgrep picks its printer; the commands call the same three methods
//! whatever the format, so adding a format touches no command code.
//!
//! A view renders; it never computes. Everything it shows is in the `Assessment`, the
//! `ApplyReport` and the `RunFacts` it is handed.

use std::path::PathBuf;

use crate::aws::Aws;
use crate::cli::OutputFormat;
use crate::engine::{ApplyReport, Assessment};
use crate::ui::{json, junit, markdown, render, sarif};

/// What a view needs about the run besides the changes: plain facts gathered by the commands.
pub struct RunFacts<'a> {
    pub aws: &'a Aws,
    /// The plan file as given.
    pub plan_file: &'a str,
    /// Its text (reports point at lines in it).
    pub plan_text: &'a str,
    pub seconds: f64,
    /// `--stats`: also report calls, writes and time.
    pub stats: bool,
}

/// How an apply should end for the person: what they need to carry on.
pub struct Closing<'a> {
    /// The console sign-in URL, when this run created a password (else empty).
    pub signin_url: String,
    pub new_password: Option<render::NewPassword<'a>>,
    /// The command that carries on where this run stopped.
    pub rerun: String,
    /// The plan was just written by the wizard: say how to use it from now on.
    pub from_wizard: bool,
}

pub trait View: Send + Sync {
    /// Whether a person sees the changes before being asked to confirm them. A view that shows
    /// nothing first (JSON) cannot be used to apply with a question.
    fn shows_changes_first(&self) -> bool;
    /// Right after observing: what differs from the plan.
    fn assessment(&self, run: &RunFacts, a: &Assessment);
    /// The end of a run that wrote nothing (a dry run, or nothing to apply).
    fn unchanged(&self, run: &RunFacts, a: &Assessment, closing: &Closing);
    /// The end of an apply.
    fn applied(&self, run: &RunFacts, a: &Assessment, report: &ApplyReport, closing: &Closing);
}

/// The view for a format: the only place that branches on `--output`. With `step_summary` (the
/// file `GITHUB_STEP_SUMMARY` names), the Markdown report is also appended there.
pub fn view_for(format: OutputFormat, color: bool, step_summary: Option<PathBuf>) -> Box<dyn View> {
    let view: Box<dyn View> = match format {
        OutputFormat::Human => Box::new(Human {
            palette: render::Palette { color },
        }),
        OutputFormat::Json => Box::new(Json),
        OutputFormat::Markdown => Box::new(Markdown),
        OutputFormat::Junit => Box::new(Junit),
        OutputFormat::Sarif => Box::new(Sarif),
    };
    match step_summary {
        Some(path) => Box::new(StepSummary { inner: view, path }),
        None => view,
    }
}

/// terraform-style text for people.
struct Human {
    palette: render::Palette,
}

impl Human {
    fn stats(&self, run: &RunFacts) {
        if run.stats {
            println!(
                "Stats: {} calls, {} writes, {:.2}s.",
                run.aws.calls.len(),
                run.aws.calls.writes(),
                run.seconds
            );
        }
    }
}

impl View for Human {
    fn shows_changes_first(&self) -> bool {
        true
    }

    fn assessment(&self, run: &RunFacts, a: &Assessment) {
        print!(
            "{}",
            render::header(&run.aws.caller, run.plan_file, &a.plan.home_region)
        );
        print!("{}", render::assessment(self.palette, a));
    }

    fn unchanged(&self, run: &RunFacts, _a: &Assessment, closing: &Closing) {
        self.stats(run);
        if closing.from_wizard {
            println!("{}", render::reuse_hint(&closing.rerun));
        }
    }

    fn applied(&self, run: &RunFacts, _a: &Assessment, report: &ApplyReport, closing: &Closing) {
        print!(
            "{}",
            render::apply_result(self.palette, report, run.seconds)
        );
        print!(
            "{}",
            render::next_steps(&closing.signin_url, closing.new_password, &report.manual)
        );
        if report.interrupted || !report.succeeded() {
            println!("{}", render::rerun_hint(&closing.rerun));
        } else if closing.from_wizard {
            println!("{}", render::reuse_hint(&closing.rerun));
        }
        self.stats(run);
    }
}

/// One JSON document on stdout, at the end (fields in the README).
struct Json;

impl Json {
    fn print(&self, run: &RunFacts, mode: &str, a: &Assessment, report: Option<&ApplyReport>) {
        let stats = json::Stats::of(run.aws, run.seconds);
        println!(
            "{}",
            json::document(run.aws, run.plan_file, mode, a, report, stats)
        );
    }
}

impl View for Json {
    fn shows_changes_first(&self) -> bool {
        false
    }

    fn assessment(&self, _run: &RunFacts, _a: &Assessment) {}

    fn unchanged(&self, run: &RunFacts, a: &Assessment, _closing: &Closing) {
        self.print(run, "plan", a, None);
    }

    fn applied(&self, run: &RunFacts, a: &Assessment, report: &ApplyReport, _closing: &Closing) {
        self.print(run, "apply", a, Some(report));
    }
}

/// A Markdown table of the changes, at the end.
struct Markdown;

impl View for Markdown {
    fn shows_changes_first(&self) -> bool {
        false
    }

    fn assessment(&self, _run: &RunFacts, _a: &Assessment) {}

    fn unchanged(&self, run: &RunFacts, a: &Assessment, _closing: &Closing) {
        print!("{}", markdown::plan(run.aws.account_id(), a));
    }

    fn applied(&self, run: &RunFacts, a: &Assessment, report: &ApplyReport, _closing: &Closing) {
        print!("{}", markdown::apply(run.aws.account_id(), a, report));
    }
}

/// JUnit XML of the checks, at the end.
struct Junit;

impl View for Junit {
    fn shows_changes_first(&self) -> bool {
        false
    }

    fn assessment(&self, _run: &RunFacts, _a: &Assessment) {}

    fn unchanged(&self, run: &RunFacts, a: &Assessment, _closing: &Closing) {
        println!("{}", junit::report(run.aws.account_id(), a, None));
    }

    fn applied(&self, run: &RunFacts, a: &Assessment, report: &ApplyReport, _closing: &Closing) {
        println!("{}", junit::report(run.aws.account_id(), a, Some(report)));
    }
}

/// SARIF 2.1.0 of the failed checks, at the end. After an apply, the checks as they were before it
/// (the apply's own result is in the exit code; run `--plan` again for the account as it is).
struct Sarif;

impl View for Sarif {
    fn shows_changes_first(&self) -> bool {
        false
    }

    fn assessment(&self, _run: &RunFacts, _a: &Assessment) {}

    fn unchanged(&self, run: &RunFacts, a: &Assessment, _closing: &Closing) {
        println!(
            "{}",
            sarif::report(run.aws.account_id(), a, run.plan_file, run.plan_text)
        );
    }

    fn applied(&self, run: &RunFacts, a: &Assessment, _report: &ApplyReport, _closing: &Closing) {
        println!(
            "{}",
            sarif::report(run.aws.account_id(), a, run.plan_file, run.plan_text)
        );
    }
}

/// Any view, plus the Markdown report appended to GitHub Actions' job summary.
struct StepSummary {
    inner: Box<dyn View>,
    path: PathBuf,
}

impl StepSummary {
    fn append(&self, text: &str) {
        // The job summary is a courtesy: failing to write it must not change the run's result.
        if let Err(e) = markdown::append_step_summary(&self.path, text) {
            eprintln!(
                "warning: cannot append to the job summary {}: {e}",
                self.path.display()
            );
        }
    }
}

impl View for StepSummary {
    fn shows_changes_first(&self) -> bool {
        self.inner.shows_changes_first()
    }

    fn assessment(&self, run: &RunFacts, a: &Assessment) {
        self.inner.assessment(run, a);
    }

    fn unchanged(&self, run: &RunFacts, a: &Assessment, closing: &Closing) {
        self.inner.unchanged(run, a, closing);
        self.append(&markdown::plan(run.aws.account_id(), a));
    }

    fn applied(&self, run: &RunFacts, a: &Assessment, report: &ApplyReport, closing: &Closing) {
        self.inner.applied(run, a, report, closing);
        self.append(&markdown::apply(run.aws.account_id(), a, report));
    }
}
