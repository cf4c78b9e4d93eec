//! The plan file: its text, finding one saved earlier, writing it whole or not at all.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

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

/// Write `text` to `path` whole or not at all: into a new temporary file beside it, flushed to
/// disk, then renamed over the target (atomic on one file system).
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}
