//! A STUB of the AWS Cost and Usage Report API (`AWSOrigamiServiceGatewayService`, JSON 1.1), not
//! an emulator: neither moto nor LocalStack serves this API, so the recording proxy answers it
//! with this hook. Everything else still goes to moto, and CUR calls are counted by the proxy like
//! any other call.
//!
//! What it does: stores report definitions per proxy (one account) and returns them; refuses a
//! duplicate name with `DuplicateReportNameException`, a sixth report with
//! `ReportLimitReachedException`, and an unknown name on modify/delete with `ValidationException`
//! (the code AWS documents for those operations); can pretend the caller has no access to billing
//! data (`AccessDeniedException`). What it does NOT do: check the bucket or its policy, validate
//! format/compression/artifact combinations (unit tests cover those rules against the AWS
//! documentation), deliver reports, or support tags.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::proxy::{Proxy, Request, Response};

const TARGET_PREFIX: &str = "AWSOrigamiServiceGatewayService.";
/// AWS allows five report definitions per account.
const REPORT_LIMIT: usize = 5;

#[derive(Default)]
struct State {
    reports: BTreeMap<String, Value>,
    /// The SigV4 signing region of every request answered, in order.
    regions: Vec<String>,
    /// Answer every call with AccessDeniedException, as AWS does for IAM identities while root has
    /// not turned on "IAM user and role access to Billing information".
    deny_access: bool,
}

/// A handle on the stub's state, for setting up drift and checking results.
#[derive(Clone, Default)]
pub struct CurStub {
    state: Arc<Mutex<State>>,
}

impl CurStub {
    /// Answer Cost and Usage Report requests that reach `proxy`.
    pub fn install(proxy: &Proxy) -> CurStub {
        let stub = CurStub::default();
        let s = stub.clone();
        proxy.hook(Box::new(move |req| s.answer(req)));
        stub
    }

    /// The stored definitions, by name.
    pub fn reports(&self) -> BTreeMap<String, Value> {
        self.state.lock().unwrap().reports.clone()
    }

    pub fn report(&self, name: &str) -> Option<Value> {
        self.state.lock().unwrap().reports.get(name).cloned()
    }

    /// Store a definition as if made elsewhere (console, another tool).
    pub fn insert(&self, definition: Value) {
        let name = definition["ReportName"].as_str().unwrap().to_string();
        self.state.lock().unwrap().reports.insert(name, definition);
    }

    /// Change one field of a stored definition (drift made in the console).
    pub fn set_field(&self, name: &str, field: &str, value: Value) {
        let mut st = self.state.lock().unwrap();
        let def = st
            .reports
            .get_mut(name)
            .unwrap_or_else(|| panic!("no report {name} in the stub"));
        def[field] = value;
    }

    /// Forget every definition (as if deleted elsewhere): for tests that run many plans in one
    /// account and would otherwise meet AWS's limit of five.
    pub fn clear(&self) {
        self.state.lock().unwrap().reports.clear();
    }

    pub fn remove(&self, name: &str) -> Option<Value> {
        self.state.lock().unwrap().reports.remove(name)
    }

    /// The region each request answered so far was signed for.
    pub fn regions(&self) -> Vec<String> {
        self.state.lock().unwrap().regions.clone()
    }

    pub fn deny_access(&self, on: bool) {
        self.state.lock().unwrap().deny_access = on;
    }

    fn answer(&self, req: &Request) -> Option<Response> {
        let op = req.header("x-amz-target")?.strip_prefix(TARGET_PREFIX)?;
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
        let mut st = self.state.lock().unwrap();
        st.regions.push(req.region.clone());
        if st.deny_access {
            // Not in the service's model (botocore cur/2017-01-06 lists no AccessDeniedException):
            // it is one of the common errors of every operation, AWS Billing and Cost Management API
            // Reference, "Common Errors": AccessDeniedException, "You do not have sufficient access
            // to perform this action.", HTTP status code 400. JSON 1.1 error shape (`__type`).
            return Some(error(
                "AccessDeniedException",
                "You do not have sufficient access to perform this action.",
            ));
        }
        Some(match op {
            "DescribeReportDefinitions" => {
                // Pages of MaxResults (AWS's default and maximum: 5); NextToken is an index here.
                let max = body["MaxResults"].as_u64().unwrap_or(5).clamp(1, 5) as usize;
                let start: usize = body["NextToken"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let all: Vec<&Value> = st.reports.values().collect();
                let page: Vec<&Value> = all.iter().skip(start).take(max).copied().collect();
                let mut out = json!({ "ReportDefinitions": page });
                if start + max < all.len() {
                    out["NextToken"] = json!((start + max).to_string());
                }
                ok(out)
            }
            "PutReportDefinition" => {
                let def = body["ReportDefinition"].clone();
                let Some(name) = required(&def) else {
                    return Some(error(
                        "ValidationException",
                        "ReportDefinition lacks a required member",
                    ));
                };
                if st.reports.contains_key(&name) {
                    return Some(error(
                        "DuplicateReportNameException",
                        &format!("A report named {name} already exists"),
                    ));
                }
                if st.reports.len() >= REPORT_LIMIT {
                    return Some(error(
                        "ReportLimitReachedException",
                        "This account already has five reports defined",
                    ));
                }
                st.reports.insert(name, def);
                ok(json!({}))
            }
            "ModifyReportDefinition" => {
                let name = body["ReportName"].as_str().unwrap_or_default().to_string();
                let def = body["ReportDefinition"].clone();
                if !st.reports.contains_key(&name) {
                    return Some(error(
                        "ValidationException",
                        &format!("Report {name} does not exist"),
                    ));
                }
                if required(&def).as_deref() != Some(name.as_str()) {
                    return Some(error(
                        "ValidationException",
                        "ReportDefinition.ReportName must be the report being modified",
                    ));
                }
                st.reports.insert(name, def);
                ok(json!({}))
            }
            "DeleteReportDefinition" => {
                let name = body["ReportName"].as_str().unwrap_or_default().to_string();
                if st.reports.remove(&name).is_none() {
                    return Some(error(
                        "ValidationException",
                        &format!("Report {name} does not exist"),
                    ));
                }
                ok(json!({ "ResponseMessage": format!("Report {name} deleted") }))
            }
            other => error(
                "UnknownOperationException",
                &format!("the CUR stub does not implement {other}"),
            ),
        })
    }
}

/// The report name, if every member the API marks required is present.
fn required(def: &Value) -> Option<String> {
    let present = [
        "ReportName",
        "TimeUnit",
        "Format",
        "Compression",
        "AdditionalSchemaElements",
        "S3Bucket",
        "S3Prefix",
        "S3Region",
    ]
    .iter()
    .all(|k| !def[*k].is_null());
    present
        .then(|| def["ReportName"].as_str().map(str::to_string))
        .flatten()
}

fn ok(body: Value) -> Response {
    Response {
        status: 200,
        content_type: "application/x-amz-json-1.1".into(),
        body: body.to_string(),
    }
}

fn error(code: &str, message: &str) -> Response {
    Response {
        status: 400,
        content_type: "application/x-amz-json-1.1".into(),
        body: json!({ "__type": code, "Message": message }).to_string(),
    }
}
