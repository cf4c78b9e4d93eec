//! The plan file: its text, and finding one saved earlier (written with `files::write_atomically`).

use std::path::{Path, PathBuf};

use crate::plan::{self, Plan};

/// Where plans live, relative to the working directory.
pub const PLAN_DIR: &str = "plans";

/// The first line of a plan the wizard writes: how a later run recognises it.
fn marker_line(account_id: &str) -> String {
    format!("# aws-harden plan for account {account_id}, written by the setup wizard.")
}

/// The plan file text: a header saying what it is and how to use it, then the plan.
pub fn plan_text(account_id: &str, path: &Path, plan: &Plan) -> String {
    format!(
        "{}\n# Check the account against it: aws-harden --plan -f {p}\n# Apply it again (repairs drift): aws-harden -f {p}\n# Every key is explained in plans/baseline.toml and in the README.\n\n{}",
        marker_line(account_id),
        plan::to_toml(plan),
        p = path.display()
    )
}

/// A plan the wizard saved earlier for this account: `plans/<account>.toml`, or any plan in
/// `plans/` that starts with the wizard's line for this account.
pub fn find_saved_plan(dir: &Path, account_id: &str) -> Option<PathBuf> {
    let by_name = dir.join(format!("{account_id}.toml"));
    if by_name.is_file() {
        return Some(by_name);
    }
    let marker = marker_line(account_id);
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| t.lines().next() == Some(marker.as_str()))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}
