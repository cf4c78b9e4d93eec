//! The plan file: the desired state, plain TOML. Parsing and validation happen before any AWS call;
//! names with placeholders are checked again once the account is known (`resolve`).

mod cost_report;
pub mod dates;
mod error;
mod guardrails;
mod names;
mod placeholders;
mod text_error;
mod types;
mod validate;

pub use error::{MAX_SHOWN, PlanError, PlanValue, bad_char, show};
pub use guardrails::{
    budget_amount, check_budget_amount, check_budget_email, check_security_contact_email,
    check_security_contact_name, check_security_contact_phone, check_security_contact_title,
};
pub use names::check_bucket_name;
pub use placeholders::{Placeholders, expand};
pub use types::*;
pub use validate::{
    EBS_MANAGED_KEY, KNOWN_REGIONS, check_group_name, check_password_policy, check_user_name,
    is_region, is_valid_group_name, is_valid_user_name,
};

use std::path::{Path, PathBuf};

/// A plan read from a file and checked as far as it can be without knowing the account.
#[derive(Clone, Debug)]
pub struct LoadedPlan {
    pub path: PathBuf,
    pub plan: Plan,
    /// The file's text as read: saved changes embed it, and reports point at lines in it.
    pub text: String,
}

/// Plans are a few KiB; anything past this is a mistake (`-f /dev/zero`, a log file).
pub const MAX_PLAN_BYTES: u64 = 1024 * 1024;

/// Read, parse and statically validate a plan file.
pub fn load(path: &Path) -> Result<LoadedPlan, PlanError> {
    use std::io::Read;
    let read_error = |error| PlanError::Read {
        path: path.to_path_buf(),
        error,
    };
    // Read with a limit: metadata says 0 for pipes and /dev/fd/N (`-f <(command)`), and
    // /dev/zero never ends.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PLAN_BYTES + 1).read_to_end(&mut bytes))
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        return Err(PlanError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let (line, column) =
                text_error::line_column(&String::from_utf8_lossy(valid), valid.len());
            return Err(PlanError::Toml(format!(
                "not UTF-8 text: invalid byte at line {line}, column {column}"
            ))
            .in_file(path));
        }
    };
    let plan = parse(&text).map_err(|e| e.in_file(path))?;
    Ok(LoadedPlan {
        path: path.to_path_buf(),
        plan,
        text,
    })
}

/// Where the table `[name]` starts in plan text: its 1-based line and column.
pub fn table_position(text: &str, name: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let trimmed = line.trim_start();
        let header = trimmed.strip_prefix('[')?.split(']').next()?.trim();
        (header == name).then(|| (i + 1, line.len() - trimmed.len() + 1))
    })
}

/// Parse and statically validate plan text.
pub fn parse(text: &str) -> Result<Plan, PlanError> {
    text_error::check_control_characters(text)?;
    let plan: Plan = toml::from_str(text).map_err(|e| text_error::toml(text, &e))?;
    validate::check_static(&plan)?;
    Ok(plan)
}

/// Expand placeholders with the account's values and validate the expanded names.
pub fn resolve(plan: &Plan, ph: &Placeholders) -> Result<Plan, PlanError> {
    let resolved = validate::expand_all(plan, ph)?;
    validate::check_resolved(&resolved)?;
    Ok(resolved)
}

/// Render a plan back to TOML (the wizard writes plans with it).
pub fn to_toml(plan: &Plan) -> String {
    toml::to_string_pretty(plan).expect("a plan always serializes")
}

#[cfg(test)]
mod tests {
    use super::table_position;

    #[test]
    fn a_tables_position_is_its_header_line_and_column() {
        let text = "version = 1\n# [root] in a comment\n  [admin_group]\nname = \"A\"\n[root]\n";
        assert_eq!(table_position(text, "admin_group"), Some((3, 3)));
        assert_eq!(table_position(text, "root"), Some((5, 1)));
        assert_eq!(table_position(text, "cloudtrail"), None);
    }
}
