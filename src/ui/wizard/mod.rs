//! The setup wizard: what `aws-harden` does at a terminal without `-f`. It observes the account the
//! way every run does (`engine::assess`, on the recommended plan), says in a few lines what it found,
//! asks only what it must with defaults fitting what it found, and saves the plan in `plans/`. The
//! caller then shows the changes exactly as `--plan` would and asks whether to apply.
//!
//! Split in two: `defaults` and `build_plan` are pure (unit-tested); `run` asks the questions.
//!
//! The parts: `answers` (the answers and the plan they make), `findings` (what the survey found,
//! in words), `questions` (the questions, at the terminal or scripted), `saved` (the plan file).

mod answers;
mod findings;
mod questions;
mod saved;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::aws::Aws;
use crate::ctrl_c::CtrlC;
use crate::engine;
use crate::files::{Access, write_atomically};
use crate::plan::{self, Placeholders};
use crate::ui::progress::Progress;

pub use answers::{
    ACCESS_LOG_BUCKET, Answers, BudgetAnswers, Choice, ContactAnswers, TrailAnswers, build_plan,
    defaults, recommended,
};
pub use findings::{Finding, findings};
use questions::ask_path;
pub use questions::{Ask, AtTerminal, ask};
pub use saved::{PLAN_DIR, find_saved_plan, plan_text};

/// How the wizard ended.
#[derive(Debug)]
pub enum Ending {
    /// A plan was saved (or a saved one chosen): check the account against it and offer to apply.
    Plan(PathBuf),
    /// The person chose not to save a plan. Nothing was written.
    NotSaved,
}

/// Ask the questions and save the plan. Nothing is written to AWS here, and nothing to disk until
/// the last step; Ctrl-C at any point ends with `ctrl_c::Interrupted`.
pub async fn run(aws: &Aws, progress: &Progress, ctrl_c: &CtrlC) -> anyhow::Result<Ending> {
    let q: &mut dyn Ask = &mut AtTerminal;
    let account_id = aws.account_id().to_string();
    eprintln!(
        "Setting up account {account_id}, signed in as {} ({}).",
        aws.caller.describe(),
        aws.caller.arn
    );
    let dir = Path::new(PLAN_DIR);
    if let Some(saved) = find_saved_plan(dir, &account_id) {
        let again = q.yes_no(
            &format!(
                "A plan for this account is saved in {}. Check the account against it?",
                saved.display()
            ),
            true,
        )?;
        if again {
            return Ok(Ending::Plan(saved));
        }
    }

    // Look at the account the way every run does: the recommended plan, assessed (reads only).
    let recommended = recommended(&aws.home_region);
    let ph = Placeholders {
        account_id: account_id.clone(),
        home_region: aws.home_region.clone(),
    };
    let probe = plan::resolve(&build_plan(&recommended), &ph)?;
    let survey = ctrl_c
        .or_interrupted(engine::assess(aws, &probe, true, progress))
        .await?;
    eprintln!("\nFound (compared with the recommended settings):");
    let found = findings(&survey);
    // One column of titles: as wide as the longest.
    let width = found
        .iter()
        .map(|f| f.control.title().len())
        .max()
        .unwrap_or(0);
    for f in found {
        eprintln!("  {:<width$} {}", f.control.title(), f.status);
    }
    eprintln!(
        "Regional resources go in {} (from your AWS configuration; --region to change).\n",
        aws.home_region
    );

    let answers = ask(q, &defaults(&recommended, &survey), &survey)?;
    let plan = build_plan(&answers);
    // The same validation as `-f`: a plan the wizard writes always loads.
    let check = plan_text(&account_id, Path::new("x.toml"), &plan);
    plan::parse(&check).context("the wizard built an invalid plan (a bug in aws-harden)")?;

    let Some(path) = ask_path(q, dir, &account_id)? else {
        return Ok(Ending::NotSaved);
    };
    write_atomically(&path, &plan_text(&account_id, &path, &plan), Access::Shared)?;
    eprintln!("Saved the plan to {}.\n", path.display());
    Ok(Ending::Plan(path))
}
