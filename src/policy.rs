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

/// Two statements, by meaning.
pub fn same_statement(a: &Value, b: &Value) -> bool {
    equivalent(
        &serde_json::json!({"Statement": [a]}),
        &serde_json::json!({"Statement": [b]}),
    )
}

/// Every statement of `required` is in `live`, by meaning (others may be there too).
pub fn contains_statements(live: &Value, required: &Value) -> bool {
    let live_statements = as_list(&live["Statement"]);
    as_list(&required["Statement"])
        .iter()
        .all(|r| live_statements.iter().any(|l| same_statement(l, r)))
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

/// Properties over generated documents: what AWS may do to a document (reorder keys, statements
/// and list items, collapse one-element lists, change action case, URL-encode, write an account
/// as its root ARN) never counts as a difference; a changed action, resource, principal or
/// condition always does.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ACTIONS: [&str; 8] = [
        "s3:GetObject",
        "s3:PutObject",
        "iam:ListUsers",
        "iam:CreateUser",
        "kms:Decrypt",
        "cloudtrail:StartLogging",
        "sts:GetSessionToken",
        "iam:*",
    ];
    const RESOURCES: [&str; 5] = [
        "*",
        "arn:aws:s3:::bucket",
        "arn:aws:s3:::bucket/AWSLogs/123456789012/*",
        "arn:aws:iam::123456789012:user/admin",
        "arn:aws:kms:us-east-1:123456789012:key/1234",
    ];
    const ACCOUNTS: [&str; 3] = ["123456789012", "210987654321", "111122223333"];
    const SERVICES: [&str; 2] = ["cloudtrail.amazonaws.com", "billingreports.amazonaws.com"];

    fn subset(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
        proptest::sample::subsequence(pool.to_vec(), 1..=pool.len().min(3))
            .prop_map(|v| v.into_iter().map(String::from).collect())
    }

    prop_compose! {
        fn statement()(
            sid in proptest::option::of("[A-Z][a-z]{0,6}"),
            allow in any::<bool>(),
            not_action in any::<bool>(),
            actions in subset(&ACTIONS),
            resources in subset(&RESOURCES),
            principal in proptest::option::of(prop_oneof![
                subset(&ACCOUNTS).prop_map(|a| ("AWS", a)),
                subset(&SERVICES).prop_map(|s| ("Service", s)),
            ]),
            condition in proptest::option::of((
                prop_oneof![Just("Bool"), Just("StringEquals"), Just("BoolIfExists")],
                prop_oneof![Just("aws:MultiFactorAuthPresent"), Just("aws:SourceArn"), Just("s3:x-amz-acl")],
                subset(&["true", "false", "bucket-owner-full-control"]),
            )),
        ) -> Value {
            let mut s = json!({"Effect": if allow { "Allow" } else { "Deny" }, "Resource": resources});
            s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
            if let Some(sid) = sid {
                s["Sid"] = json!(sid);
            }
            if let Some((kind, ids)) = principal {
                s["Principal"] = json!({ kind: ids });
            }
            if let Some((op, key, values)) = condition {
                s["Condition"] = json!({ op: { key: values } });
            }
            s
        }
    }

    fn document() -> impl Strategy<Value = Value> {
        proptest::collection::vec(statement(), 1..4)
            .prop_map(|st| json!({"Version": "2012-10-17", "Statement": st}))
    }

    /// A deterministic shuffle from a seed (proptest shrinks the seed like any number).
    fn shuffle<T>(items: &mut [T], seed: &mut u64) {
        for i in (1..items.len()).rev() {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            items.swap(i, (*seed >> 33) as usize % (i + 1));
        }
    }

    fn coin(seed: &mut u64) -> bool {
        let mut pair = [0, 1];
        shuffle(&mut pair, seed);
        pair[0] == 1
    }

    /// The same document as AWS might hand it back: lists reordered, one-element lists as plain
    /// strings (and plain strings as lists), action names in other case, account IDs as root ARNs.
    fn rewrite(v: &Value, key: &str, seed: &mut u64) -> Value {
        rewrite_in(v, key, false, seed)
    }

    fn rewrite_in(v: &Value, key: &str, in_list: bool, seed: &mut u64) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), rewrite_in(v, k, false, seed)))
                    .collect(),
            ),
            Value::Array(items) => {
                let mut items: Vec<Value> = items
                    .iter()
                    .map(|i| rewrite_in(i, key, true, seed))
                    .collect();
                shuffle(&mut items, seed);
                if items.len() == 1 && key != "Statement" && coin(seed) {
                    items.pop().unwrap()
                } else {
                    Value::Array(items)
                }
            }
            Value::String(s) => {
                let s = match key {
                    "Action" | "NotAction" if coin(seed) => s.to_ascii_uppercase(),
                    "AWS" if s.len() == 12 && coin(seed) => format!("arn:aws:iam::{s}:root"),
                    _ => s.clone(),
                };
                if !in_list && !["Version", "Effect", "Sid"].contains(&key) && coin(seed) {
                    Value::Array(vec![Value::String(s)])
                } else {
                    Value::String(s)
                }
            }
            other => other.clone(),
        }
    }

    /// JSON text with every object's keys in a shuffled order.
    fn text(v: &Value, seed: &mut u64) -> String {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                shuffle(&mut entries, seed);
                let inner: Vec<String> = entries
                    .into_iter()
                    .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), text(v, seed)))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
            Value::Array(items) => {
                let inner: Vec<String> = items.iter().map(|i| text(i, seed)).collect();
                format!("[{}]", inner.join(","))
            }
            other => other.to_string(),
        }
    }

    fn url_encoded(s: &str) -> String {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    fn as_strings(v: &Value) -> Vec<String> {
        as_list(v).iter().map(scalar_string).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn what_aws_does_to_a_document_is_no_difference(
            doc in document(),
            mut seed in any::<u64>(),
            encode in any::<bool>(),
        ) {
            let same = rewrite(&doc, "", &mut seed);
            prop_assert!(equivalent(&doc, &same), "{doc}\n{same}");
            let mut raw = text(&same, &mut seed);
            if encode {
                raw = url_encoded(&raw);
            }
            prop_assert!(live_matches(&raw, &doc), "{doc}\n{raw}");
        }

        #[test]
        fn a_changed_action_resource_principal_or_condition_is_a_difference(
            doc in document(),
            which in 0usize..4,
            at in any::<proptest::sample::Index>(),
            mut seed in any::<u64>(),
        ) {
            let statements = doc["Statement"].as_array().unwrap().len();
            let i = at.index(statements);
            let mut changed = doc.clone();
            let s = &mut changed["Statement"][i];
            match which {
                0 => {
                    let key = if s.get("Action").is_some() { "Action" } else { "NotAction" };
                    let mut actions = as_strings(&s[key]);
                    actions[0] = "ec2:TerminateInstances".into();
                    s[key] = json!(actions);
                }
                1 => {
                    let mut resources = as_strings(&s["Resource"]);
                    resources[0] = "arn:aws:s3:::someone-elses-bucket".into();
                    s["Resource"] = json!(resources);
                }
                2 => s["Principal"] = json!({"AWS": ["999999999999"]}),
                _ => s["Condition"] = json!({"StringEquals": {"aws:SourceAccount": ["999999999999"]}}),
            }
            // Unless the statement already had exactly that principal or condition.
            prop_assume!(changed != doc);
            prop_assert!(!equivalent(&doc, &changed), "{doc}\n{changed}");
            // Also after everything AWS may do to the changed one.
            let rewritten = rewrite(&changed, "", &mut seed);
            prop_assert!(!live_matches(&text(&rewritten, &mut seed), &doc), "{doc}\n{rewritten}");
        }
    }
}
