//! The plan file: the desired state, plain TOML. Parsing and validation happen before any AWS call;
//! names with placeholders are checked again once the account is known (`resolve`).

mod cost_report;
mod placeholders;
mod types;
mod validate;

pub use placeholders::{Placeholders, expand};
pub use types::*;
pub use validate::{
    PlanError, check_bucket_name, check_group_name, check_password_policy, check_user_name,
    is_valid_group_name, is_valid_user_name,
};

use std::path::{Path, PathBuf};

/// A plan read from a file and checked as far as it can be without knowing the account.
#[derive(Clone, Debug)]
pub struct LoadedPlan {
    pub path: PathBuf,
    pub plan: Plan,
}

/// Read, parse and statically validate a plan file.
pub fn load(path: &Path) -> Result<LoadedPlan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|e| PlanError::Read {
        path: path.to_path_buf(),
        source: e,
    })?;
    let plan = parse(&text).map_err(|e| e.in_file(path))?;
    Ok(LoadedPlan {
        path: path.to_path_buf(),
        plan,
    })
}

/// Parse and statically validate plan text.
pub fn parse(text: &str) -> Result<Plan, PlanError> {
    let plan: Plan = toml::from_str(text).map_err(|e| PlanError::Toml(e.to_string()))?;
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
