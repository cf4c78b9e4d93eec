//! `--org` output: one block per account, then a table (human), or one JSON document with
//! `accounts[]`, each holding the single-account document, and a summary. And the fan-out's
//! progress: an indicatif bar at a terminal, one line per finished account otherwise. Renders;
//! never computes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};

use crate::aws::Aws;
use crate::change::Summary;
use crate::cli::OutputFormat;
use crate::org::{FanOutReporter, Finished, MemberAccount, MemberRun};
use crate::ui::{json as json_doc, junit, markdown, render, sarif};

/// What the views need about the run besides the accounts.
pub struct OrgFacts<'a> {
    /// The management account's context (the caller, its calls).
    pub management: &'a Aws,
    pub plan_file: &'a str,
    /// The plan's text (SARIF points at lines in it).
    pub plan_text: &'a str,
    pub seconds: f64,
    pub stats: bool,
}

/// The `--org` printer, chosen once from `--output`, and GitHub's job summary when it is set.
pub struct OrgView {
    format: OrgFormat,
    step_summary: Option<PathBuf>,
}

enum OrgFormat {
    Human(render::Palette),
    Json,
    Markdown,
    Junit,
    /// To stdout, or to files in `--sarif-dir`.
    Sarif(Option<PathBuf>),
}

impl OrgView {
    pub fn for_format(
        format: OutputFormat,
        color: bool,
        step_summary: Option<PathBuf>,
        sarif_dir: Option<PathBuf>,
    ) -> OrgView {
        let format = match format {
            OutputFormat::Human => OrgFormat::Human(render::Palette { color }),
            OutputFormat::Json => OrgFormat::Json,
            OutputFormat::Markdown => OrgFormat::Markdown,
            OutputFormat::Junit => OrgFormat::Junit,
            OutputFormat::Sarif => OrgFormat::Sarif(sarif_dir),
        };
        OrgView {
            format,
            step_summary,
        }
    }

    pub fn shows_changes_first(&self) -> bool {
        matches!(self.format, OrgFormat::Human(_))
    }

    /// After every account was observed: each account's changes, then the table.
    pub fn assessed(&self, run: &OrgFacts, members: &[MemberRun]) {
        let OrgFormat::Human(p) = &self.format else {
            return;
        };
        let caller = &run.management.caller;
        println!(
            "Organization of account {} as {} ({}): {} accounts, plan {}",
            caller.account_id,
            caller.describe(),
            caller.arn,
            members.len(),
            run.plan_file
        );
        for m in members {
            println!("\n{}", heading(*p, m));
            match &m.result {
                Err(e) => println!("  error: {e}"),
                Ok(a) => print!("{}", render::assessment(*p, &a.assessment)),
            }
        }
        print!("\n{}", table(members, false));
    }

    /// The end of the run: a dry run's stats, or each account's apply and the table again; the
    /// JSON document. An error only when `--sarif-dir`'s files cannot be written.
    pub fn finished(
        &self,
        run: &OrgFacts,
        members: &[MemberRun],
        mode: &str,
    ) -> anyhow::Result<()> {
        if let Some(path) = &self.step_summary {
            // The job summary is a courtesy: failing to write it must not change the result.
            if let Err(e) = markdown::append_step_summary(path, &markdown_report(members)) {
                eprintln!(
                    "warning: cannot append to the job summary {}: {e}",
                    path.display()
                );
            }
        }
        match &self.format {
            OrgFormat::Human(p) => {
                if mode == "apply" {
                    for m in members {
                        if let Ok(a) = &m.result
                            && let Some(r) = &a.report
                        {
                            println!("\n{}", heading(*p, m));
                            print!("{}", render::apply_result(*p, r, run.seconds));
                        }
                    }
                    print!("\n{}", table(members, true));
                }
                if run.stats {
                    let (calls, writes) =
                        members.iter().filter_map(|m| m.result.as_ref().ok()).fold(
                            (run.management.calls.len(), run.management.calls.writes()),
                            |(c, w), a| (c + a.aws.calls.len(), w + a.aws.calls.writes()),
                        );
                    println!(
                        "Stats: {calls} calls, {writes} writes, {:.2}s.",
                        run.seconds
                    );
                }
            }
            OrgFormat::Json => println!("{}", document(run, members, mode)),
            OrgFormat::Markdown => print!("{}", markdown_report(members)),
            OrgFormat::Junit => {
                let accounts: Vec<junit::AccountChecks> = members
                    .iter()
                    .map(|m| {
                        let checked = match &m.result {
                            Ok(a) => Ok((&a.assessment, a.report.as_ref())),
                            Err(e) => Err(e.as_str()),
                        };
                        (m.account.id.as_str(), checked)
                    })
                    .collect();
                println!("{}", junit::report_many(&accounts));
            }
            OrgFormat::Sarif(dir) => {
                let accounts: Vec<(&str, &crate::engine::Assessment)> = members
                    .iter()
                    .filter_map(|m| {
                        m.result
                            .as_ref()
                            .ok()
                            .map(|a| (m.account.id.as_str(), &a.assessment))
                    })
                    .collect();
                match dir {
                    None => println!(
                        "{}",
                        sarif::report_many(&accounts, run.plan_file, run.plan_text)
                    ),
                    Some(dir) => {
                        let files = sarif::files(&accounts, run.plan_file, run.plan_text);
                        for path in sarif::write_files(dir, &files)? {
                            eprintln!("SARIF written to {}", path.display());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Each account's Markdown report (or its error), then the totals.
fn markdown_report(members: &[MemberRun]) -> String {
    let mut out = String::new();
    for m in members {
        match &m.result {
            Err(e) => {
                let _ = writeln!(
                    out,
                    "### aws-harden: account {}\n\nerror: {}\n",
                    m.account.id,
                    e.replace(['\n', '\r'], " ")
                );
            }
            Ok(a) => match &a.report {
                None => out.push_str(&markdown::plan(&m.account.id, &a.assessment)),
                Some(r) => out.push_str(&markdown::apply(&m.account.id, &a.assessment, r)),
            },
        }
        out.push('\n');
    }
    let applied = members
        .iter()
        .any(|m| m.result.as_ref().is_ok_and(|a| a.report.is_some()));
    let _ = writeln!(out, "{}", Totals::of(members).line(applied));
    out
}

/// The line that opens an account's block.
fn heading(p: render::Palette, m: &MemberRun) -> String {
    p.bold(&format!(
        "== Account {} ({}) ==",
        m.account.id, m.account.name
    ))
}

/// The word for an account's result in the table and JSON.
fn result_word(m: &MemberRun) -> String {
    if let Ok(a) = &m.result
        && a.report.as_ref().is_some_and(|r| r.interrupted)
    {
        return "interrupted".into();
    }
    match (m.finished(), &m.result) {
        (Finished::Failed, _) => "error".into(),
        (Finished::InLine, _) => "in line".into(),
        (Finished::Changes(n), Ok(a)) if a.report.is_some() => format!("{n} applied"),
        (Finished::Changes(n), _) => format!("{n} changes"),
    }
}

fn manual_count(m: &MemberRun) -> Option<usize> {
    m.result.as_ref().ok().map(|a| match &a.report {
        Some(r) => r.manual.len(),
        None => a.assessment.summary().manual,
    })
}

/// Account, name, result, manual actions; then the totals (`applied`: after an apply).
pub fn table(members: &[MemberRun], applied: bool) -> String {
    let name_width = members
        .iter()
        .map(|m| m.account.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(4, 40);
    let mut out = format!(
        "{:<12}  {:<name_width$}  {:<12}  manual actions\n",
        "account", "name", "result"
    );
    for m in members {
        let name: String = m.account.name.chars().take(40).collect();
        let manual = manual_count(m).map_or("-".to_string(), |n| n.to_string());
        let _ = writeln!(
            out,
            "{:<12}  {:<name_width$}  {:<12}  {manual}",
            m.account.id,
            name,
            result_word(m)
        );
    }
    let _ = writeln!(out, "{}", Totals::of(members).line(applied));
    out
}

/// How the accounts stand, counted: the table's last line and the JSON `summary`.
#[derive(Serialize)]
struct Totals {
    accounts: usize,
    in_line: usize,
    with_changes: usize,
    failed: usize,
    changes: Summary,
}

impl Totals {
    fn of(members: &[MemberRun]) -> Totals {
        let count =
            |f: &dyn Fn(&Finished) -> bool| members.iter().filter(|m| f(&m.finished())).count();
        Totals {
            accounts: members.len(),
            in_line: count(&|f| *f == Finished::InLine),
            with_changes: count(&|f| matches!(f, Finished::Changes(_))),
            failed: count(&|f| *f == Finished::Failed),
            changes: Summary::of(
                members
                    .iter()
                    .filter_map(|m| m.result.as_ref().ok())
                    .flat_map(|a| a.assessment.changes.iter()),
            ),
        }
    }

    /// The totals in one line (`applied`: after an apply, accounts with changes were changed).
    fn line(&self, applied: bool) -> String {
        format!(
            "{} accounts: {} in line, {} {}, {} failed.",
            self.accounts,
            self.in_line,
            self.with_changes,
            if applied { "changed" } else { "with changes" },
            self.failed
        )
    }
}

/// `accounts[]` (each with today's single-account document, or its error) and a summary. Shards
/// merge by concatenating their `accounts[]`.
fn document(run: &OrgFacts, members: &[MemberRun], mode: &str) -> String {
    let accounts: Vec<Value> = members
        .iter()
        .map(|m| {
            let mut v = json!({
                "account_id": m.account.id,
                "name": m.account.name,
                "result": match m.finished() {
                    Finished::Failed => "error",
                    Finished::InLine => "in_line",
                    Finished::Changes(_) => "changes",
                },
            });
            match &m.result {
                Err(e) => v["error"] = json!(e),
                Ok(a) => {
                    let stats = json_doc::Stats::of(&a.aws, run.seconds);
                    v["document"] = json_doc::document_value(
                        &a.aws,
                        run.plan_file,
                        mode,
                        &a.assessment,
                        a.report.as_ref(),
                        stats,
                    );
                }
            }
            v
        })
        .collect();
    let doc = json!({
        "mode": mode,
        "management_account_id": run.management.account_id(),
        "caller": run.management.caller,
        "plan_file": run.plan_file,
        "accounts": accounts,
        "summary": Totals::of(members),
        // The management account's own calls (listing the Organization, the role sessions).
        "stats": json_doc::Stats::of(run.management, run.seconds),
    });
    serde_json::to_string_pretty(&doc).expect("serializable")
}

/// The fan-out's progress on stderr.
pub struct OrgProgress {
    bar: Option<ProgressBar>,
    in_flight: AtomicUsize,
    with_changes: AtomicUsize,
    failed: AtomicUsize,
    what: Mutex<String>,
}

impl OrgProgress {
    /// A bar when stderr is a terminal and NO_COLOR is unset; plain lines otherwise.
    pub fn new(stderr_tty: bool) -> OrgProgress {
        let draw = stderr_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        OrgProgress {
            bar: draw.then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())),
            in_flight: AtomicUsize::new(0),
            with_changes: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            what: Mutex::new(String::new()),
        }
    }

    fn message(&self) -> String {
        format!(
            "{}: {} in flight, {} with changes, {} failed",
            self.what.lock().unwrap(),
            self.in_flight.load(Ordering::SeqCst),
            self.with_changes.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst)
        )
    }
}

impl FanOutReporter for OrgProgress {
    fn begin(&self, what: &str, total: usize) {
        *self.what.lock().unwrap() = what.to_string();
        self.in_flight.store(0, Ordering::SeqCst);
        self.with_changes.store(0, Ordering::SeqCst);
        self.failed.store(0, Ordering::SeqCst);
        match &self.bar {
            Some(bar) => {
                bar.set_length(total as u64);
                bar.set_position(0);
                bar.set_style(
                    ProgressStyle::with_template("[{bar:30}] {pos}/{len} accounts  {msg}")
                        .expect("template"),
                );
                bar.set_message(self.message());
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
            }
            None => eprintln!("{what} {total} accounts..."),
        }
    }

    fn account_started(&self, _account: &MemberAccount) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if let Some(bar) = &self.bar {
            bar.set_message(self.message());
        }
    }

    fn account_finished(&self, account: &MemberAccount, how: &Finished, line: &str) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        match how {
            Finished::Changes(_) => self.with_changes.fetch_add(1, Ordering::SeqCst),
            Finished::Failed => self.failed.fetch_add(1, Ordering::SeqCst),
            Finished::InLine => 0,
        };
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(self.message());
            }
            None => eprintln!("  account {} ({}): {line}", account.id, account.name),
        }
    }

    fn end(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
