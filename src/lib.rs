//! aws-harden as a library: the binary in `main.rs` is a thin shell around `commands::run`.

pub mod aws;
pub mod bucket;
pub mod change;
pub mod cli;
pub mod commands;
pub mod controls;
pub mod ctrl_c;
pub mod engine;
pub mod files;
pub mod interact;
pub mod kms;
pub mod mfa_session;
pub mod org;
pub mod plan;
pub mod policy;
pub mod saved;
pub mod settings;
pub mod ui;

#[cfg(test)]
mod module_graph;
