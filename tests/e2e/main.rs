//! The end-to-end tests, as one test binary: each module was its own `tests/*.rs` binary, each
//! linking the whole AWS SDK; one binary links it once (figures in the commit that merged them).
//! Run one module with `scripts/test spine::`. The harness stays in tests/common/,
//! which benches/plan.rs and examples/sandbox_stubs.rs also include by path.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod central_root;
mod cli;
mod cloudtrail;
mod convergence;
mod cost_report;
mod credentials;
mod faults;
mod guardrails;
mod iam_users;
mod mfa;
mod org;
mod partitions;
mod perf;
mod plan_yes;
mod proxy;
mod regional;
mod release;
mod reports;
mod root;
mod s3_public_access;
mod saved_plan;
mod spine;
mod wizard;
