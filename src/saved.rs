//! Saved changes, terraform's `plan -out`: `--plan -f PLAN --out FILE` writes the changes a dry run
//! found, with who found them where and the plan itself, and `aws-harden apply FILE` applies
//! exactly those. This module is the file: writing it, and reading it back with every check that
//! needs no AWS call (format, version, hash, age); the caller is checked once it is known.
//!
//! The file is JSON with a `sha256` of its own content. That catches a hand edit or a damaged
//! copy; it is not a signature (anyone can recompute it), and it is not meant to be one.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::aws::Caller;
use crate::controls::Change;
use crate::files::{Access, write_atomically};
use crate::plan::dates::parse_utc_time;

/// The `format` field: what the file is.
pub const FORMAT: &str = "aws-harden-changes";
/// The `version` field this aws-harden writes and reads. Raise it with any change to the fields or
/// to an op's JSON (`src/controls/golden_ops.jsonl`).
/// 2: the budget's ops repair in place (`update_budget`, `add_subscriber`; issue 29).
pub const VERSION: u64 = 2;
/// Saved changes are a few hundred KiB at most; anything past this is not one.
const MAX_BYTES: u64 = 16 * 1024 * 1024;
/// How far in the future `created_at` may be (clocks of two machines differ a little). Further
/// than that, a file would escape `--max-age`.
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// The file's fields, in the order written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedChanges {
    pub format: String,
    pub version: u64,
    /// When the changes were found, RFC 3339 in UTC to the second (`2025-05-01T12:00:00Z`).
    pub created_at: String,
    pub account_id: String,
    /// Who found them: the caller's ARN and access key ID as signed in (before any MFA session
    /// this run makes, whose key ID is new each time).
    pub caller_arn: String,
    pub access_key_id: Option<String>,
    /// Whether a person was at the terminal to be asked during apply (not `--yes`): the admin's MFA
    /// is enrolled then, else a manual action, so the changes differ.
    pub interactive: bool,
    /// The plan file's path when saved, for messages only: the plan is `plan_text`.
    pub plan_file: String,
    pub plan_text: String,
    /// Every change as assessed, manual actions too, each with its fields ("before" included) and
    /// its ops. Ops hold no secret: passwords and access keys are made at apply time.
    pub changes: Vec<Change>,
    /// See `content_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl SavedChanges {
    pub fn new(
        caller: &Caller,
        plan_file: &str,
        plan_text: &str,
        interactive: bool,
        changes: Vec<Change>,
        now: SystemTime,
    ) -> SavedChanges {
        SavedChanges {
            format: FORMAT.into(),
            version: VERSION,
            created_at: rfc3339(seconds_since_epoch(now)),
            account_id: caller.account_id.clone(),
            caller_arn: caller.arn.clone(),
            access_key_id: caller.access_key_id.clone(),
            interactive,
            plan_file: plan_file.into(),
            plan_text: plan_text.into(),
            changes,
            sha256: None,
        }
    }

    /// The file's text: these fields with their `sha256`, pretty-printed.
    pub fn to_text(&self) -> String {
        let unhashed = SavedChanges {
            sha256: None,
            ..self.clone()
        };
        let value = serde_json::to_value(&unhashed).expect("saved changes always serialize");
        let hashed = SavedChanges {
            sha256: Some(content_hash(&value)),
            ..unhashed
        };
        let mut text =
            serde_json::to_string_pretty(&hashed).expect("saved changes always serialize");
        text.push('\n');
        text
    }

    /// Write the file whole or not at all, readable by its owner only: "before" values can hold
    /// contact details and policies.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        write_atomically(path, &self.to_text(), Access::Private)
    }

    /// Read `path` and check everything that needs no AWS call: JSON, `format`, `version`, the
    /// hash, and that it was saved at most `max_age` before `now`.
    pub fn load(path: &Path, max_age: Duration, now: SystemTime) -> anyhow::Result<SavedChanges> {
        let file = path.display();
        let saved = SavedChanges::read(path)?;
        let created = parse_rfc3339(&saved.created_at).with_context(|| {
            format!(
                "{file}: created_at {} is not a time like 2025-05-01T12:00:00Z",
                crate::plan::show(&saved.created_at)
            )
        })?;
        let now = seconds_since_epoch(now);
        if created > now.saturating_add(CLOCK_SKEW.as_secs()) {
            bail!(
                "{file}: saved at {}, which is in the future by this machine's clock ({}): refusing it, since its age cannot be told",
                saved.created_at,
                rfc3339(now)
            );
        }
        let age = now.saturating_sub(created);
        if age > max_age.as_secs() {
            bail!(
                "{file} was saved {} ago (at {}), more than --max-age {}: the account may have changed since. Save the changes again (aws-harden --plan -f {} --out {file}), or pass a larger --max-age",
                show_seconds(age),
                saved.created_at,
                show_seconds(max_age.as_secs()),
                saved.plan_file,
            );
        }
        Ok(saved)
    }

    /// Read and check the file's form and hash (not its age).
    fn read(path: &Path) -> anyhow::Result<SavedChanges> {
        use std::io::Read as _;
        let file = path.display();
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_BYTES + 1).read_to_end(&mut bytes))
            .with_context(|| format!("cannot read the saved changes {file}"))?;
        if bytes.len() as u64 > MAX_BYTES {
            bail!(
                "{file}: larger than {} MiB, so not saved changes",
                MAX_BYTES >> 20
            );
        }
        let mut value: Value = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{file}: not saved changes (not JSON; write them with --plan -f PLAN --out FILE)"
            )
        })?;
        let Some(object) = value.as_object_mut() else {
            bail!("{file}: not saved changes (not a JSON object)");
        };
        match object.get("format").and_then(Value::as_str) {
            Some(FORMAT) => {}
            Some(other) => bail!(
                "{file}: format is {}, not {FORMAT:?}: not aws-harden saved changes",
                crate::plan::show(other)
            ),
            None => bail!("{file}: no \"format\": not aws-harden saved changes"),
        }
        match object.get("version") {
            Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
            Some(Value::Number(n)) => bail!(
                "{file}: saved-changes version {n} is not one this aws-harden reads (it reads version {VERSION}): save the changes again with this aws-harden (--plan -f PLAN --out FILE)"
            ),
            Some(_) => bail!("{file}: \"version\" is not a number: not aws-harden saved changes"),
            None => bail!("{file}: no \"version\": not aws-harden saved changes"),
        }
        let Some(Value::String(stated)) = object.remove("sha256") else {
            bail!("{file}: no \"sha256\" of its content, so edits cannot be told: refusing it");
        };
        if content_hash(&value) != stated {
            bail!(
                "{file} was changed after it was saved (its content no longer matches its sha256): refusing to apply it. Save the changes again (--plan -f PLAN --out FILE)"
            );
        }
        // The hash proves no intent (anyone can recompute it), and the file's text reaches the
        // terminal in messages: no escape sequences.
        if let Some(at) = control_character(&value, "") {
            bail!("{file}: a control character in {at}: refusing it");
        }
        let mut saved: SavedChanges =
            serde_json::from_value(value).with_context(|| format!("{file}: not saved changes"))?;
        saved.sha256 = Some(stated);
        Ok(saved)
    }

    /// The account and the caller must be those the changes were saved by: the stages that take
    /// access away (root's keys, the MFA guard) depend on which key signs.
    pub fn check_caller(&self, path: &Path, caller: &Caller) -> anyhow::Result<()> {
        let file = path.display();
        if caller.account_id != self.account_id {
            bail!(
                "{file} was saved for account {}, but these credentials are for account {}: refusing to apply it. Nothing was written.",
                self.account_id,
                caller.account_id
            );
        }
        if caller.arn != self.caller_arn {
            bail!(
                "{file} was saved by {}, but this run signs as {}: refusing to apply it (what apply does, and when it takes access away, depends on who signs). Nothing was written.",
                self.caller_arn,
                caller.arn
            );
        }
        if caller.access_key_id != self.access_key_id {
            let key = |k: &Option<String>| k.clone().unwrap_or_else(|| "none".into());
            let renewed = if caller.temporary {
                " Temporary credentials get a new key ID when renewed: save the changes again with these."
            } else {
                ""
            };
            bail!(
                "{file} was saved by {} signing with access key ID {}, but this run signs with access key ID {}: refusing to apply it. Nothing was written.{renewed}",
                self.caller_arn,
                key(&self.access_key_id),
                key(&caller.access_key_id)
            );
        }
        Ok(())
    }
}

/// The `sha256` field: the lowercase hex SHA-256 of the document without its `sha256` member,
/// written as canonical JSON: UTF-8, no whitespace, every object's members sorted by key (byte
/// order, at every level), strings escaped as serde_json writes them (`"`, `\` and control
/// characters only), integers in decimal. So the hash follows the content, not the layout: the
/// same file re-indented still matches.
pub fn content_hash(document: &Value) -> String {
    let mut text = String::new();
    canonical(document, &mut text);
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        // Scalars print the same whatever the map type: compact.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Where the first control character other than tab, line feed and carriage return is, as a
/// path into the document (`changes[2].note`).
fn control_character(v: &Value, at: &str) -> Option<String> {
    let bad = |s: &str| {
        s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    };
    match v {
        Value::String(s) => bad(s).then(|| at.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| control_character(item, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, value)| {
            let here = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            if bad(key) {
                return Some(format!(
                    "a key of {}",
                    if at.is_empty() { "the document" } else { at }
                ));
            }
            control_character(value, &here)
        }),
        _ => None,
    }
}

fn seconds_since_epoch(t: SystemTime) -> u64 {
    // A clock before 1970 is a broken clock; 0 then makes every file look too old, never too young.
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Seconds since 1970 as RFC 3339 in UTC, to the second.
fn rfc3339(secs: u64) -> String {
    use crate::plan::dates::civil_from_days;
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Exactly the form `rfc3339` writes (the file is hashed, so nothing else can be in it unless
/// edited); `None` for anything else.
fn parse_rfc3339(text: &str) -> Option<u64> {
    (text.len() == 20).then(|| parse_utc_time(text)).flatten()
}

/// A number of seconds for people: `45s`, `12m 5s`, `3h 20m`, `2d 4h`.
fn show_seconds(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Action, ControlId};
    use crate::controls::{Op, password_policy};

    const NOW: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn caller() -> Caller {
        Caller::from_arn(
            "123456789012",
            "arn:aws:iam::123456789012:user/ops",
            Some("AKIAOPS".into()),
            false,
        )
    }

    fn sample() -> SavedChanges {
        let change = Change::new(
            ControlId::PasswordPolicy,
            "account password policy",
            Action::Update,
            Op::PasswordPolicy(password_policy::Op::Put(Default::default())),
        )
        .field("minimum_length", Some(8), Some(14))
        .cis(&["1.7"]);
        let manual = Change::manual(ControlId::Root, "mfa for the root user").note("console only");
        SavedChanges::new(
            &caller(),
            "plans/x.toml",
            "version = 1\nhome_region = \"us-east-1\"\n[password_policy]\n",
            false,
            vec![change, manual],
            at(NOW),
        )
    }

    /// Write `text` to a file and load it as `aws-harden apply` would, `age` seconds after NOW.
    fn load_text(text: &str, age: u64) -> anyhow::Result<SavedChanges> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changes.json");
        std::fs::write(&path, text).unwrap();
        SavedChanges::load(&path, Duration::from_secs(3600), at(NOW + age))
    }

    fn err(r: anyhow::Result<SavedChanges>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (NOW, "2023-11-14T22:13:20Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(secs), text);
            assert_eq!(parse_rfc3339(text), Some(secs), "{text}");
        }
        for bad in [
            "2023-11-14T22:13:20",
            "2023-11-14 22:13:20Z",
            "2023-11-14T22:13:20.5Z",
            "2023-11-14T22:13:20+00:00",
            "2023-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "２023-11-14T22:13:20Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        // Every day for 400 years round-trips.
        for days in 0..146_097 {
            let secs = days * 86_400 + 3661;
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
    }

    #[test]
    fn a_saved_file_reads_back_equal() {
        let saved = sample();
        let text = saved.to_text();
        assert!(
            text.starts_with("{\n  \"format\": \"aws-harden-changes\",\n  \"version\": 2,"),
            "{text}"
        );
        let back = load_text(&text, 60).unwrap();
        assert_eq!(back.changes, saved.changes);
        assert_eq!(back.sha256.as_deref().map(str::len), Some(64));
        assert_eq!(
            SavedChanges {
                sha256: None,
                ..back
            },
            saved
        );
        // The hash is of the content, not the layout.
        let value: Value = serde_json::from_str(&text).unwrap();
        load_text(&serde_json::to_string(&value).unwrap(), 60).unwrap();
    }

    #[test]
    fn the_hash_is_of_the_canonical_json_without_it() {
        let text = sample().to_text();
        let mut value: Value = serde_json::from_str(&text).unwrap();
        let stated = value.as_object_mut().unwrap().remove("sha256").unwrap();
        // Independently: serde_json's own map keeps keys sorted (no preserve_order feature), and
        // its compact form has no whitespace.
        let compact = serde_json::to_string(&value).unwrap();
        assert!(
            compact.starts_with("{\"access_key_id\":\"AKIAOPS\",\"account_id\":"),
            "{compact}"
        );
        let digest: String = Sha256::digest(compact.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(stated, Value::String(digest));
        let mut nested = String::new();
        canonical(
            &serde_json::json!({"b": [1, {"z": null, "a": "é\n"}], "a": true}),
            &mut nested,
        );
        assert_eq!(nested, r#"{"a":true,"b":[1,{"a":"é\n","z":null}]}"#);
    }

    #[test]
    fn an_edited_file_is_refused() {
        let text = sample().to_text();
        for (from, to) in [
            ("\"after\": \"14\"", "\"after\": \"15\""),
            ("[password_policy]", "[admin_group]"),
            ("\"interactive\": false", "\"interactive\": true"),
            ("2023-11-14T22:13:20Z", "2023-11-14T22:59:20Z"),
        ] {
            assert!(text.contains(from), "{from}");
            let e = err(load_text(&text.replacen(from, to, 1), 60));
            assert!(
                e.contains("changes.json was changed after it was saved"),
                "{from}: {e}"
            );
        }
        let mut value: Value = serde_json::from_str(&text).unwrap();
        value.as_object_mut().unwrap().remove("sha256");
        let e = err(load_text(&value.to_string(), 60));
        assert!(e.contains("no \"sha256\""), "{e}");
    }

    #[test]
    fn other_files_and_versions_are_refused_by_name() {
        let text = sample().to_text();
        let e = err(load_text(
            &text.replacen("\"version\": 2", "\"version\": 3", 1),
            60,
        ));
        assert!(
            e.contains("changes.json: saved-changes version 3 is not one this aws-harden reads (it reads version 2)"),
            "{e}"
        );
        let e = err(load_text(
            &text.replacen("\"version\": 2", "\"version\": \"2\"", 1),
            60,
        ));
        assert!(
            e.contains("changes.json: \"version\" is not a number"),
            "{e}"
        );
        let e = err(load_text(
            &text.replacen("aws-harden-changes", "tfplan", 1),
            60,
        ));
        assert!(e.contains("format is \"tfplan\""), "{e}");
        for (bad, says) in [
            ("", "not JSON"),
            ("{\"format\":", "not JSON"),
            ("[1]", "not a JSON object"),
            ("{}", "no \"format\""),
            ("{\"format\": \"aws-harden-changes\"}", "no \"version\""),
        ] {
            let e = err(load_text(bad, 60));
            assert!(
                e.contains("changes.json") && e.contains(says),
                "{bad:?}: {e}"
            );
        }
        let e = err(SavedChanges::load(
            Path::new("/nonexistent/changes.json"),
            Duration::from_secs(60),
            at(NOW),
        ));
        assert!(
            e.contains("cannot read the saved changes /nonexistent/changes.json"),
            "{e}"
        );
    }

    #[test]
    fn control_characters_are_refused_naming_where() {
        let mut saved = sample();
        saved.changes[1].note = Some("console only\u{1b}[2J".into());
        let e = err(load_text(&saved.to_text(), 60));
        assert!(
            e.contains("changes.json: a control character in changes[1].note"),
            "{e}"
        );
        // Line ends and tabs are text.
        saved.changes[1].note = Some("one\r\n\ttwo".into());
        load_text(&saved.to_text(), 60).unwrap();
    }

    #[test]
    fn age_is_checked_against_max_age() {
        let text = sample().to_text();
        load_text(&text, 3600).unwrap();
        let e = err(load_text(&text, 3601));
        assert!(
            e.contains("changes.json was saved 1h 0m ago (at 2023-11-14T22:13:20Z), more than --max-age 1h 0m"),
            "{e}"
        );
        assert!(e.contains("aws-harden --plan -f plans/x.toml --out"), "{e}");
        // From the future: a little clock skew is fine, more would escape --max-age.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, &text).unwrap();
        SavedChanges::load(&path, Duration::ZERO, at(NOW - 300)).unwrap();
        let e = format!(
            "{:#}",
            SavedChanges::load(&path, Duration::ZERO, at(NOW - 301)).unwrap_err()
        );
        assert!(e.contains("in the future"), "{e}");
    }

    #[test]
    fn the_caller_must_be_the_one_that_saved() {
        let saved = sample();
        let path = Path::new("c.json");
        saved.check_caller(path, &caller()).unwrap();
        let other_account = Caller::from_arn(
            "999999999999",
            "arn:aws:iam::999999999999:user/ops",
            Some("AKIAOPS".into()),
            false,
        );
        let e = format!(
            "{:#}",
            saved.check_caller(path, &other_account).unwrap_err()
        );
        assert!(
            e.contains(
                "saved for account 123456789012, but these credentials are for account 999999999999"
            ),
            "{e}"
        );
        let other_user = Caller::from_arn(
            "123456789012",
            "arn:aws:iam::123456789012:user/dev",
            Some("AKIAOPS".into()),
            false,
        );
        let e = format!("{:#}", saved.check_caller(path, &other_user).unwrap_err());
        assert!(e.contains("saved by arn:aws:iam::123456789012:user/ops, but this run signs as arn:aws:iam::123456789012:user/dev"), "{e}");
        let other_key = Caller::from_arn(
            "123456789012",
            "arn:aws:iam::123456789012:user/ops",
            Some("AKIAOTHER".into()),
            false,
        );
        let e = format!("{:#}", saved.check_caller(path, &other_key).unwrap_err());
        assert!(
            e.contains("access key ID AKIAOPS, but this run signs with access key ID AKIAOTHER"),
            "{e}"
        );
        assert!(!e.contains("Temporary"), "{e}");
    }
}
