//! IAM's policy evaluation, for identity policies, as AWS documents it. moto evaluates no policy
//! conditions and has no `SimulatePrincipalPolicy`; this answers for it in the proxy hook, and judges the
//! MFA guard in tests by what it decides, not by how its JSON looks.
//!
//! Pages followed:
//! - "Policy evaluation logic" (IAM user guide): an explicit Deny in any policy wins; otherwise an Allow
//!   is needed; otherwise the request is implicitly denied.
//! - "IAM JSON policy elements: NotAction / NotResource": the statement applies to everything except
//!   the listed actions / resources.
//! - "IAM JSON policy elements: Condition operators": several keys in one operator, and several
//!   operators, must all match (AND); several values for one key match if any does (OR). `...IfExists`
//!   is true when the key is absent. `Null: "true"` matches when the key is absent, `"false"` when
//!   present. Any other operator on an absent key does not match, except the negated ones
//!   (`StringNotEquals`, ...), which do. Condition keys are case-insensitive; Bool compares
//!   case-insensitively.
//! - "IAM policy elements: Variables and tags": `${aws:username}` in a resource takes the caller's
//!   user name.
//! - Action names are case-insensitive, resources (ARNs) case-sensitive; `*` matches any run of
//!   characters (including `/` and `:`), `?` exactly one.
//!
//! Anything outside this (another operator, another variable, a principal element in an identity
//! policy) panics: a test must fail loudly rather than evaluate a policy wrongly.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    /// As `SimulatePrincipalPolicy` spells it (`PolicyEvaluationDecisionType`).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }
}

/// The request context: condition keys (lower-cased) and their values. A key not in the map is absent.
#[derive(Clone, Debug, Default)]
pub struct Context(BTreeMap<String, Vec<String>>);

impl Context {
    pub fn with(mut self, key: &str, value: &str) -> Context {
        self.0
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.to_string());
        self
    }

    fn get(&self, key: &str) -> Option<&Vec<String>> {
        self.0.get(&key.to_ascii_lowercase())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// The context keys `policies` use, as written: every condition's keys and every policy variable
/// (`${aws:username}`) in any string. SimulatePrincipalPolicy lists those the request did not give
/// in `MissingContextValues` (IAM API reference: "context keys that are required by the included
/// input policies but that were not provided").
pub fn referenced_keys(policies: &[Value]) -> Vec<String> {
    fn walk(v: &Value, under_condition: bool, out: &mut BTreeMap<String, String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    if under_condition && let Value::Object(keys) = child {
                        for key in keys.keys() {
                            out.entry(key.to_ascii_lowercase()).or_insert(key.clone());
                        }
                        continue;
                    }
                    walk(child, k == "Condition", out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, false, out)),
            Value::String(s) => {
                for part in s.split("${").skip(1) {
                    if let Some((key, _)) = part.split_once('}')
                        && key.contains(':')
                    {
                        out.entry(key.to_ascii_lowercase())
                            .or_insert(key.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    policies.iter().for_each(|p| walk(p, false, &mut out));
    out.into_values().collect()
}

/// IAM's decision for `action` on `resource` under `policies` (identity policies, parsed JSON).
pub fn evaluate(policies: &[Value], action: &str, resource: &str, context: &Context) -> Decision {
    let statements: Vec<&Value> = policies
        .iter()
        .flat_map(|p| match &p["Statement"] {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            single @ Value::Object(_) => vec![single],
            other => panic!("a policy without statements: {other}"),
        })
        .collect();
    let applies: Vec<&Value> = statements
        .into_iter()
        .filter(|s| statement_applies(s, action, resource, context))
        .collect();
    let effect = |e: &str| applies.iter().any(|s| s["Effect"] == e);
    if effect("Deny") {
        Decision::ExplicitDeny
    } else if effect("Allow") {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Value::Bool(b) => vec![b.to_string()],
        other => panic!("not a string or a list of strings: {other}"),
    }
}

fn statement_applies(s: &Value, action: &str, resource: &str, context: &Context) -> bool {
    assert!(
        s.get("Principal").is_none() && s.get("NotPrincipal").is_none(),
        "identity policies have no principal: {s}"
    );
    let action_matches = |patterns: &Value| {
        strings(patterns)
            .iter()
            .any(|p| glob(&p.to_ascii_lowercase(), &action.to_ascii_lowercase()))
    };
    let in_actions = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), None) => action_matches(a),
        (None, Some(n)) => !action_matches(n),
        _ => panic!("a statement needs exactly one of Action and NotAction: {s}"),
    };
    let resource_matches = |patterns: &Value| {
        strings(patterns)
            .iter()
            .any(|p| glob(&substitute(p, context), resource))
    };
    let in_resources = match (s.get("Resource"), s.get("NotResource")) {
        (Some(r), None) => resource_matches(r),
        (None, Some(n)) => !resource_matches(n),
        _ => panic!("a statement needs exactly one of Resource and NotResource: {s}"),
    };
    in_actions && in_resources && conditions_hold(s.get("Condition"), context)
}

/// `${aws:username}` and the like, from the context.
fn substitute(pattern: &str, context: &Context) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .unwrap_or_else(|| panic!("unclosed variable in {pattern}"))
            + start;
        let key = &rest[start + 2..end];
        let value = context
            .get(key)
            .and_then(|v| v.first())
            .unwrap_or_else(|| panic!("variable ${{{key}}} has no value in this context"));
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn conditions_hold(condition: Option<&Value>, context: &Context) -> bool {
    let Some(condition) = condition else {
        return true;
    };
    let Value::Object(operators) = condition else {
        panic!("Condition must be an object: {condition}");
    };
    operators.iter().all(|(operator, keys)| {
        let Value::Object(keys) = keys else {
            panic!("{operator} must map keys to values");
        };
        keys.iter()
            .all(|(key, wanted)| operator_holds(operator, context.get(key), &strings(wanted)))
    })
}

fn operator_holds(operator: &str, present: Option<&Vec<String>>, wanted: &[String]) -> bool {
    if operator == "Null" {
        return wanted.iter().any(|w| match w.as_str() {
            "true" => present.is_none(),
            "false" => present.is_some(),
            other => panic!("Null takes true or false, not {other}"),
        });
    }
    let (base, if_exists) = match operator.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (operator, false),
    };
    let negated = matches!(
        base,
        "StringNotEquals" | "StringNotLike" | "ArnNotEquals" | "ArnNotLike"
    );
    let Some(values) = present else {
        return if_exists || negated;
    };
    let one = |value: &str, w: &str| -> bool {
        match base {
            "Bool" => value.eq_ignore_ascii_case(w),
            "StringEquals" | "ArnEquals" => value == w,
            "StringLike" | "ArnLike" => glob(w, value),
            "StringNotEquals" | "ArnNotEquals" => value != w,
            "StringNotLike" | "ArnNotLike" => !glob(w, value),
            other => panic!("condition operator {other} is not emulated"),
        }
    };
    if negated {
        values.iter().all(|v| wanted.iter().all(|w| one(v, w)))
    } else {
        values.iter().any(|v| wanted.iter().any(|w| one(v, w)))
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

/// The AWS managed policy `AdministratorAccess` (its document as AWS publishes it).
pub fn administrator_access() -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    })
}
