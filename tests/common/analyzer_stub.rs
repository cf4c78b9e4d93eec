//! A STUB of IAM Access Analyzer, not an emulator: moto does not serve it. It answers the four
//! operations aws-harden calls, through a proxy hook like the EC2 stub beside it, and the proxy
//! counts them like any other call: `ListAnalyzers` (GET /analyzer, `type` filter), `CreateAnalyzer`
//! (PUT /analyzer), `GetAnalyzer` (GET /analyzer/{name}) and `DeleteAnalyzer` (DELETE
//! /analyzer/{name}).
//!
//! Shapes and errors follow the IAM Access Analyzer API reference (restJson1): an `AnalyzerSummary`
//! carries arn, name, type, createdAt (ISO 8601), status; `ConflictException` (HTTP 409) for a name
//! that exists, `ResourceNotFoundException` (404) for one that does not, `ValidationException`
//! (400) for a type outside the enum or a name outside `[A-Za-z][A-Za-z0-9_.-]*`. A new analyzer
//! reads `CREATING` once, then `ACTIVE` (the `AnalyzerStatus` enum; `AnalyzerSummary.status`:
//! "Creating when the analyzer creation is in progress"; how long is not documented, so one read).
//! A second analyzer of a type the region has is refused: one account-level analyzer per type and
//! region (IAM user guide, "IAM Access Analyzer quotas"); which error AWS answers is not
//! documented, so the stub answers CreateAnalyzer's only quota error in the model,
//! `ServiceQuotaExceededException` (HTTP 402, with `resourceId` and `resourceType`): a guess.
//! State is per account and signing region, the account found as the EC2 stub finds it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::proxy::{Proxy, Request, Response};

/// One analyzer.
#[derive(Clone, Debug, PartialEq)]
pub struct Analyzer {
    pub kind: String,
    pub status: String,
}

/// (account, region) → name → analyzer.
type State = BTreeMap<(String, String), BTreeMap<String, Analyzer>>;

/// A handle on the stub's state, for setting up drift and checking results.
#[derive(Clone, Default)]
pub struct AnalyzerStub {
    state: Arc<Mutex<State>>,
    /// Analyzers this stub created that have not been read yet: answered `CREATING` once.
    settling: Arc<Mutex<std::collections::BTreeSet<(String, String, String)>>>,
    account: String,
}

const TYPES: &[&str] = &[
    "ACCOUNT",
    "ORGANIZATION",
    "ACCOUNT_UNUSED_ACCESS",
    "ORGANIZATION_UNUSED_ACCESS",
    "ACCOUNT_INTERNAL_ACCESS",
    "ORGANIZATION_INTERNAL_ACCESS",
];

fn error(status: u16, code: &str, message: &str) -> Response {
    Response {
        status,
        content_type: "application/json".into(),
        body: json!({"__type": code, "message": message}).to_string(),
    }
}

fn ok(body: Value) -> Response {
    Response {
        status: 200,
        content_type: "application/json".into(),
        body: body.to_string(),
    }
}

impl AnalyzerStub {
    pub fn install(proxy: &Proxy, account: &str) -> AnalyzerStub {
        let stub = AnalyzerStub {
            state: Arc::default(),
            settling: Arc::default(),
            account: account.to_string(),
        };
        stub.serve(proxy);
        stub
    }

    /// Answer on another proxy too, with the same state.
    pub fn serve(&self, proxy: &Proxy) {
        let s = self.clone();
        proxy.hook(Box::new(move |req| s.answer(req)));
    }

    /// The analyzers in a region of the stub's own account.
    pub fn analyzers(&self, region: &str) -> BTreeMap<String, Analyzer> {
        self.analyzers_in(&self.account, region)
    }

    pub fn analyzers_in(&self, account: &str, region: &str) -> BTreeMap<String, Analyzer> {
        let st = self.state.lock().unwrap();
        st.get(&(account.to_string(), region.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// Change a region's analyzers as the console would (drift made by hand).
    pub fn edit(&self, region: &str, f: impl FnOnce(&mut BTreeMap<String, Analyzer>)) {
        let mut st = self.state.lock().unwrap();
        f(st.entry((self.account.clone(), region.to_string()))
            .or_default());
    }

    fn answer(&self, req: &Request) -> Option<Response> {
        if req.service != "access-analyzer" {
            return None;
        }
        let account = req.account.clone().unwrap_or_else(|| self.account.clone());
        let arn = |name: &str| {
            format!(
                "arn:aws:access-analyzer:{}:{account}:analyzer/{name}",
                req.region
            )
        };
        let summary = |name: &str, a: &Analyzer| {
            json!({
                "arn": arn(name),
                "name": name,
                "type": a.kind,
                "createdAt": "2026-12-01T00:00:00Z",
                "status": a.status,
            })
        };
        let path = req.path.split('?').next().unwrap_or_default();
        let name_in_path = path.strip_prefix("/analyzer/").map(|n| n.to_string());
        let mut st = self.state.lock().unwrap();
        let here = st.entry((account.clone(), req.region.clone())).or_default();
        // A new analyzer is read as CREATING once, then it is ACTIVE.
        let mut settling = self.settling.lock().unwrap();
        let reading = matches!(req.operation.as_str(), "ListAnalyzers" | "GetAnalyzer");
        let settled: Vec<String> = match reading {
            true => here
                .iter()
                .filter(|(n, a)| {
                    a.status == "CREATING"
                        && settling.contains(&(account.clone(), req.region.clone(), n.to_string()))
                })
                .map(|(n, _)| n.clone())
                .collect(),
            false => Vec::new(),
        };
        let answer = self.answer_in(req, here, &summary, name_in_path, &arn);
        for name in settled {
            settling.remove(&(account.clone(), req.region.clone(), name.clone()));
            if let Some(a) = here.get_mut(&name) {
                a.status = "ACTIVE".into();
            }
        }
        if req.operation == "CreateAnalyzer" && answer.status == 200 {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let name = body["analyzerName"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            settling.insert((account.clone(), req.region.clone(), name));
        }
        Some(answer)
    }

    fn answer_in(
        &self,
        req: &Request,
        here: &mut BTreeMap<String, Analyzer>,
        summary: &dyn Fn(&str, &Analyzer) -> Value,
        name_in_path: Option<String>,
        arn: &dyn Fn(&str) -> String,
    ) -> Response {
        match req.operation.as_str() {
            "ListAnalyzers" => {
                let wanted = req.path.split_once('?').and_then(|(_, q)| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix("type=").map(str::to_string))
                });
                let list: Vec<Value> = here
                    .iter()
                    .filter(|(_, a)| wanted.as_ref().is_none_or(|t| *t == a.kind))
                    .map(|(n, a)| summary(n, a))
                    .collect();
                ok(json!({ "analyzers": list }))
            }
            "CreateAnalyzer" => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                let name = body["analyzerName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let kind = body["type"].as_str().unwrap_or_default().to_string();
                let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
                if !name_ok || !TYPES.contains(&kind.as_str()) {
                    return error(400, "ValidationException", "Invalid analyzer name or type");
                }
                if here.contains_key(&name) {
                    return error(
                        409,
                        "ConflictException",
                        &format!("An analyzer named {name} already exists"),
                    );
                }
                if let Some((other, _)) = here.iter().find(|(_, a)| a.kind == kind) {
                    return Response {
                        status: 402,
                        content_type: "application/json".into(),
                        body: json!({
                            "__type": "ServiceQuotaExceededException",
                            "message": format!("Only one analyzer of type {kind} per region: {other} exists"),
                            "resourceId": other,
                            "resourceType": "AWS::AccessAnalyzer::Analyzer",
                        })
                        .to_string(),
                    };
                }
                here.insert(
                    name.clone(),
                    Analyzer {
                        kind,
                        status: "CREATING".into(),
                    },
                );
                ok(json!({ "arn": arn(&name) }))
            }
            "GetAnalyzer" | "DeleteAnalyzer" => {
                let name = name_in_path.unwrap_or_default();
                let Some(a) = here.get(&name).cloned() else {
                    return error(
                        404,
                        "ResourceNotFoundException",
                        &format!("Analyzer {name} does not exist"),
                    );
                };
                if req.operation == "DeleteAnalyzer" {
                    here.remove(&name);
                    ok(json!({}))
                } else {
                    ok(json!({ "analyzer": summary(&name, &a) }))
                }
            }
            other => error(
                400,
                "ValidationException",
                &format!("the stub does not serve {other}"),
            ),
        }
    }
}
