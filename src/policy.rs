//! Policy documents compared by meaning, not by text. IAM returns documents URL-encoded; AWS may
//! reorder keys, statements and list items, turn a one-element list into a string (or back), and S3
//! rewrites account principals as ARNs. None of that is drift.

use serde_json::{Map, Value};

/// Parse a document as AWS returns it: plain JSON, or URL-encoded JSON (IAM).
pub fn parse_document(raw: &str) -> anyhow::Result<Value> {
    let trimmed = raw.trim();
    let text = if trimmed.starts_with('%') || !trimmed.starts_with('{') {
        percent_encoding::percent_decode_str(trimmed)
            .decode_utf8()?
            .into_owned()
    } else {
        trimmed.to_string()
    };
    Ok(serde_json::from_str(&text)?)
}

/// The same documents, by meaning.
pub fn equivalent(a: &Value, b: &Value) -> bool {
    canonical(a) == canonical(b)
}

/// A live document (as AWS returned it) against the desired one. Unparseable counts as different.
pub fn live_matches(live_raw: &str, desired: &Value) -> bool {
    parse_document(live_raw)
        .map(|live| equivalent(&live, desired))
        .unwrap_or(false)
}

/// A normal form: statements as a sorted list, every list sorted and de-duplicated, action names
/// and condition keys lower-cased (IAM treats them case-insensitively), scalars as strings.
pub fn canonical(doc: &Value) -> Value {
    let Value::Object(top) = doc else {
        return doc.clone();
    };
    let mut out = Map::new();
    for (k, v) in top {
        if k == "Statement" {
            let mut statements: Vec<Value> = as_list(v).iter().map(canonical_statement).collect();
            statements.sort_by_key(|s| s.to_string());
            statements.dedup();
            out.insert(k.clone(), Value::Array(statements));
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn sorted_strings(v: &Value, map: impl Fn(String) -> String) -> Value {
    let mut items: Vec<String> = as_list(v).iter().map(scalar_string).map(map).collect();
    items.sort();
    items.dedup();
    Value::Array(items.into_iter().map(Value::String).collect())
}

fn canonical_statement(s: &Value) -> Value {
    let Value::Object(fields) = s else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in fields {
        let value = match k.as_str() {
            "Action" | "NotAction" => sorted_strings(v, |a| a.to_ascii_lowercase()),
            "Resource" | "NotResource" => sorted_strings(v, |r| r),
            "Principal" | "NotPrincipal" => canonical_principal(v),
            "Condition" => canonical_condition(v),
            _ => v.clone(),
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

fn canonical_principal(v: &Value) -> Value {
    match v {
        Value::Object(kinds) => {
            // {"AWS": "*"} means the same as "*".
            if kinds.len() == 1
                && kinds
                    .get("AWS")
                    .is_some_and(|a| as_list(a).iter().all(|x| x == "*"))
            {
                return Value::String("*".into());
            }
            let mut out = Map::new();
            for (kind, ids) in kinds {
                let ids = if kind == "AWS" {
                    sorted_strings(ids, account_as_arn)
                } else {
                    sorted_strings(ids, |x| x)
                };
                out.insert(kind.clone(), ids);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// S3 and IAM rewrite a bare account ID principal as the account's root ARN.
fn account_as_arn(id: String) -> String {
    if id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()) {
        format!("arn:aws:iam::{id}:root")
    } else {
        id
    }
}

fn canonical_condition(v: &Value) -> Value {
    let Value::Object(ops) = v else {
        return v.clone();
    };
    let mut out = Map::new();
    for (op, keys) in ops {
        let Value::Object(keys) = keys else {
            out.insert(op.clone(), keys.clone());
            continue;
        };
        let mut k_out = Map::new();
        for (key, values) in keys {
            k_out.insert(key.to_ascii_lowercase(), sorted_strings(values, |x| x));
        }
        out.insert(op.clone(), Value::Object(k_out));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desired() -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "A", "Effect": "Deny", "NotAction": ["iam:ListMFADevices", "iam:EnableMFADevice"], "Resource": "*",
                 "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
                {"Sid": "B", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
                 "Resource": "arn:aws:s3:::b"}
            ]
        })
    }

    #[test]
    fn url_encoded_and_reordered_as_iam_returns_it() {
        // Exactly the shape GetGroupPolicy returns: URL-encoded, keys and statements reordered,
        // one-element lists as strings, a boolean condition value unquoted.
        let live = "%7B%22Statement%22%3A%5B%7B%22Resource%22%3A%5B%22arn%3Aaws%3As3%3A%3A%3Ab%22%5D%2C%22Action%22%3A%5B%22s3%3AGetBucketAcl%22%5D%2C%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%5B%22cloudtrail.amazonaws.com%22%5D%7D%2C%22Sid%22%3A%22B%22%7D%2C%7B%22Condition%22%3A%7B%22BoolIfExists%22%3A%7B%22aws%3AMultiFactorAuthPresent%22%3Afalse%7D%7D%2C%22Resource%22%3A%5B%22%2A%22%5D%2C%22NotAction%22%3A%5B%22iam%3AEnableMFADevice%22%2C%22iam%3AListMFADevices%22%5D%2C%22Effect%22%3A%22Deny%22%2C%22Sid%22%3A%22A%22%7D%5D%2C%22Version%22%3A%222012-10-17%22%7D";
        assert!(live_matches(live, &desired()));
    }

    #[test]
    fn single_statement_object_equals_list() {
        let a = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}});
        let b = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["S3:*"], "Resource": ["*"]}]});
        assert!(equivalent(&a, &b));
    }

    #[test]
    fn account_principal_rewritten_as_arn_is_equal() {
        let a = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "s3:*", "Resource": "*"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]}, "Action": "s3:*", "Resource": "*"}]});
        assert!(equivalent(&a, &b));
    }

    #[test]
    fn real_differences_are_not_equal() {
        let base = desired();
        let mut changed_action = base.clone();
        changed_action["Statement"][1]["Action"] = json!("s3:PutObject");
        let mut changed_effect = base.clone();
        changed_effect["Statement"][0]["Effect"] = json!("Allow");
        let mut changed_condition = base.clone();
        changed_condition["Statement"][0]["Condition"]["BoolIfExists"]["aws:MultiFactorAuthPresent"] =
            json!("true");
        let mut changed_principal = base.clone();
        changed_principal["Statement"][1]["Principal"]["Service"] = json!("evil.example.com");
        let mut dropped = base.clone();
        dropped["Statement"].as_array_mut().unwrap().pop();
        for other in [
            changed_action,
            changed_effect,
            changed_condition,
            changed_principal,
            dropped,
        ] {
            assert!(!equivalent(&base, &other), "{other}");
        }
    }

    #[test]
    fn garbage_never_matches() {
        assert!(!live_matches("%7Bnot json", &desired()));
    }
}
