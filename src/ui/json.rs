//! The JSON output (`--output json`): one document on stdout. Field names are documented in the
//! README; secrets never appear here.

use serde::Serialize;
use serde_json::{Value, json};

use crate::aws::{Aws, CallRecord};
use crate::change::{Notice, Summary};
use crate::controls::Change;
use crate::engine::{ApplyReport, Assessment};

#[derive(Serialize)]
pub struct Stats {
    /// Operations started (each once, however often it was retried).
    pub calls: usize,
    /// HTTP requests sent, retries included.
    pub attempts: usize,
    pub writes: usize,
    pub seconds: f64,
    pub operations: Vec<CallRecord>,
}

impl Stats {
    pub fn of(aws: &Aws, seconds: f64) -> Stats {
        Stats {
            calls: aws.calls.len(),
            attempts: aws.calls.attempts(),
            writes: aws.calls.writes(),
            seconds,
            operations: aws.calls.records(),
        }
    }
}

#[derive(Serialize)]
struct Document<'a> {
    account_id: &'a str,
    caller: &'a crate::aws::Caller,
    plan_file: &'a str,
    home_region: &'a str,
    mode: &'a str,
    changes: &'a [Change],
    notices: &'a [Notice],
    summary: Summary,
    pending: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    stats: Stats,
}

pub fn document(
    aws: &Aws,
    plan_file: &str,
    mode: &str,
    a: &Assessment,
    result: Option<&ApplyReport>,
    stats: Stats,
) -> String {
    let doc = document_value(aws, plan_file, mode, a, result, stats);
    serde_json::to_string_pretty(&doc).expect("serializable")
}

/// The document as a value (each account's part of the `--org` document).
pub fn document_value(
    aws: &Aws,
    plan_file: &str,
    mode: &str,
    a: &Assessment,
    result: Option<&ApplyReport>,
    stats: Stats,
) -> Value {
    let doc = Document {
        account_id: aws.account_id(),
        caller: &aws.caller,
        plan_file,
        home_region: &a.plan.home_region,
        mode,
        changes: &a.changes,
        notices: &a.notices,
        summary: a.summary(),
        pending: a.pending(),
        result: result.map(|r| {
            json!({
                "succeeded": r.succeeded(),
                "summary": r.summary(),
                "applied": r.applied,
                // The first failure (null without one), as always; every one in `failures`.
                "failed": r.failed(),
                "failures": r.failures,
                "not_attempted": r.not_attempted,
                "not_verified": r.not_verified,
                "verification_error": r.verification_error,
                "manual": r.manual,
                "stale": r.stale,
                "interrupted": r.interrupted,
                "messages": r.messages,
            })
        }),
        stats,
    };
    let mut doc = serde_json::to_value(&doc).expect("serializable");
    drop_ops(&mut doc);
    doc
}

/// The document shows changes as people read them: a change's `ops` (the exact writes, for
/// saved changes) are left out, as they always were here.
fn drop_ops(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.contains_key("control") && o.contains_key("resource") {
                o.remove("ops");
            }
            o.values_mut().for_each(drop_ops);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_ops),
        _ => {}
    }
}
