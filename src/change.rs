//! Changes: what a run computed by comparing the plan with the live account. Plain data, like a
//! terraform plan: views render it, the engine applies it, nothing here talks to AWS.
//!
//! A change is generic over its op type: a control's diff makes `Change<its Op>`, and the registry
//! wraps them into `controls::Change` (any control's op). This module imports nothing from the
//! crate, so everything can build on it.

use serde::{Deserialize, Serialize};

/// A control's name, as used in plan files, output and JSON (`"admin_group"`). Each control names
/// itself; the registry (`controls/mod.rs`) lists them, and its order is the apply order (`Ord`,
/// `title` and reading a name back are implemented there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ControlId(&'static str);

impl ControlId {
    /// For a control's own `ID`; anything else finds ids in the registry.
    pub const fn named(name: &'static str) -> ControlId {
        ControlId(name)
    }

    /// The name used in plan files, output and JSON.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// Something only a person can do (console-only settings); never applied, stays pending.
    Manual,
}

impl Action {
    pub fn marker(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
            Action::Manual => '!',
        }
    }
}

/// When a change is applied. Everything that takes access away comes after everything that grants
/// it, and only when every earlier write succeeded and was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Ordinary writes, in control order.
    Main,
    /// A write that would cut off the caller's own access (the MFA-enforcing policy on a group the
    /// caller belongs to): after every other write has been verified.
    LockIn,
    /// Removing root access keys other than the one this run signs with.
    RootKeys,
    /// Removing the root access key this run signs with: the very last write of all.
    RootSelfKey,
}

/// One field's value before and after. `None` means absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl FieldChange {
    pub fn new(field: &str, before: Option<impl ToString>, after: Option<impl ToString>) -> Self {
        FieldChange {
            field: field.to_string(),
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
        }
    }
}

/// A change placed in no region is about its resource wherever the check found it (a bucket's
/// name already says which bucket); a regional change only about the check in its region.
fn in_same_region(change: Option<&String>, check: Option<&String>) -> bool {
    change.is_none() || change == check
}

fn located(resource: &str, region: Option<&str>) -> String {
    match region {
        Some(r) => format!("{resource} in {r}"),
        None => resource.to_string(),
    }
}

/// One change to one resource, with the ops that make it (in order). Self-contained: apply needs
/// nothing but the ops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change<O> {
    pub control: ControlId,
    /// What the change is about, e.g. `iam group "Administrators"`.
    pub resource: String,
    /// The region the resource lives in, for a regional control's per-region settings; `None` for
    /// account-wide resources and for those in home_region that name their region otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub action: Action,
    pub fields: Vec<FieldChange>,
    /// CIS AWS Foundations Benchmark v5.0 recommendation IDs this change serves.
    pub cis: Vec<String>,
    /// For manual actions: the steps a person takes. For others: why, when it is not obvious.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub stage: Stage,
    /// What apply does, in order; empty for a manual action.
    pub ops: Vec<O>,
}

impl<O> Change<O> {
    /// A change made by one op.
    pub fn new(control: ControlId, resource: impl Into<String>, action: Action, op: O) -> Self {
        Self::with_ops(control, resource, action, vec![op])
    }

    /// A change made by several ops, applied in order (e.g. every setting of one bucket).
    pub fn with_ops(
        control: ControlId,
        resource: impl Into<String>,
        action: Action,
        ops: Vec<O>,
    ) -> Self {
        Change {
            control,
            resource: resource.into(),
            region: None,
            action,
            fields: Vec::new(),
            cis: Vec::new(),
            note: None,
            stage: Stage::Main,
            ops,
        }
    }

    /// Something only a person can do: no ops, never applied, stays pending.
    pub fn manual(control: ControlId, resource: impl Into<String>) -> Self {
        Self::with_ops(control, resource, Action::Manual, Vec::new())
    }

    pub fn field(
        mut self,
        field: &str,
        before: Option<impl ToString>,
        after: Option<impl ToString>,
    ) -> Self {
        self.fields.push(FieldChange::new(field, before, after));
        self
    }

    pub fn cis(mut self, ids: &[&str]) -> Self {
        self.cis.extend(ids.iter().map(|id| id.to_string()));
        self
    }

    /// The change is to `region`'s setting of the resource.
    pub fn in_region(mut self, region: &str) -> Self {
        self.region = Some(region.to_string());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn stage(mut self, stage: Stage) -> Self {
        self.stage = stage;
        self
    }

    pub fn is_manual(&self) -> bool {
        self.action == Action::Manual
    }

    /// The resource with its region when it has one: `ebs default encryption in eu-west-1`.
    pub fn located(&self) -> String {
        located(&self.resource, self.region.as_deref())
    }

    /// The same change with each op wrapped (a control's op into the registry's).
    pub fn map_ops<P>(self, f: impl Fn(O) -> P) -> Change<P> {
        Change {
            control: self.control,
            resource: self.resource,
            region: self.region,
            action: self.action,
            fields: self.fields,
            cis: self.cis,
            note: self.note,
            stage: self.stage,
            ops: self.ops.into_iter().map(f).collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    Info,
    Warning,
    /// Something could not be checked (a region a missing permission refused): the run exits 1,
    /// and what could be checked is still shown and applied.
    Error,
}

/// Something a person should know that is not a change: history, honest caveats, things left alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub control: ControlId,
    pub level: NoticeLevel,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cis: Vec<String>,
}

impl Notice {
    pub fn info(control: ControlId, message: impl Into<String>) -> Self {
        Notice {
            control,
            level: NoticeLevel::Info,
            message: message.into(),
            cis: Vec::new(),
        }
    }
    pub fn warning(control: ControlId, message: impl Into<String>) -> Self {
        Notice {
            control,
            level: NoticeLevel::Warning,
            message: message.into(),
            cis: Vec::new(),
        }
    }
    pub fn error(control: ControlId, message: impl Into<String>) -> Self {
        Notice {
            control,
            level: NoticeLevel::Error,
            message: message.into(),
            cis: Vec::new(),
        }
    }
    pub fn cis(mut self, ids: &[&str]) -> Self {
        self.cis.extend(ids.iter().map(|id| id.to_string()));
        self
    }
}

/// One check a diff made on one resource: passed when the resource needs no change. Reports that
/// list passes as well as failures (JUnit, SARIF) are built from these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub control: ControlId,
    /// The kind of check, the same for every resource of its kind (`iam_group`).
    pub rule: String,
    pub resource: String,
    /// Where the resource lives; `None` for account-wide ones (IAM, the account's settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub cis: Vec<String>,
    pub passed: bool,
    /// Findings on this resource a person accepted (the plan's exceptions), each said with its
    /// reason and date: shown as suppressed by the reports, never as failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<Accepted>,
}

/// A finding a person accepted in the plan, until a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// What the finding is (`mfa: console password without MFA`).
    pub finding: String,
    pub reason: String,
    /// The last day it is accepted (`YYYY-MM-DD`).
    pub until: String,
}

impl Check {
    /// The kind of check a resource name stands for: its words before the first quoted name
    /// (`iam group "Administrators"` is an `iam_group`).
    pub fn rule_of(resource: &str) -> String {
        let kind = resource.split('"').next().unwrap_or(resource).trim();
        kind.replace([' ', '-'], "_")
    }

    /// The resource with its region when it has one.
    pub fn located(&self) -> String {
        located(&self.resource, self.region.as_deref())
    }

    /// Whether `change` is about the resource this check looked at (a failed check's reason).
    pub fn is_about<O>(&self, change: &Change<O>) -> bool {
        change.control == self.control
            && change.resource == self.resource
            && in_same_region(change.region.as_ref(), self.region.as_ref())
    }

    /// A stable identity for the resource checked, the same from run to run: account, region
    /// (`global` for account-wide resources), control and resource.
    pub fn identity(&self, account: &str) -> String {
        format!(
            "{account}/{}/{}/{}",
            self.region.as_deref().unwrap_or("global"),
            self.control.as_str(),
            self.resource
        )
    }
}

/// A resource a diff checked.
#[derive(Clone, Debug, PartialEq)]
pub struct LookedAt {
    pub control: ControlId,
    pub resource: String,
    pub region: Option<String>,
    pub cis: Vec<String>,
    /// Could not be decided from what was observed: fails whatever the changes say (unknown is
    /// never compliant).
    pub undecided: bool,
    pub accepted: Vec<Accepted>,
}

/// What one control's diff produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Diff<O> {
    pub changes: Vec<Change<O>>,
    pub notices: Vec<Notice>,
    /// Resources looked at: each becomes a check, failed when a change names it (see `checks`).
    /// A change's resource counts as looked at without being listed.
    pub looked_at: Vec<LookedAt>,
}

impl<O> Default for Diff<O> {
    fn default() -> Self {
        Diff {
            changes: Vec::new(),
            notices: Vec::new(),
            looked_at: Vec::new(),
        }
    }
}

impl<O> Diff<O> {
    pub fn push(&mut self, change: Change<O>) {
        self.changes.push(change);
    }
    pub fn notice(&mut self, notice: Notice) {
        self.notices.push(notice);
    }
    /// Record that an account-wide `resource` was checked: it passes unless a change names it.
    pub fn checked(&mut self, control: ControlId, resource: impl Into<String>, cis: &[&str]) {
        self.checked_in(None, control, resource, cis);
    }

    /// Record that `resource`, in `region` when it lives in one, was checked.
    pub fn checked_in(
        &mut self,
        region: Option<&str>,
        control: ControlId,
        resource: impl Into<String>,
        cis: &[&str],
    ) {
        self.looked_at.push(LookedAt {
            control,
            resource: resource.into(),
            region: region.map(str::to_string),
            cis: cis.iter().map(|c| c.to_string()).collect(),
            undecided: false,
            accepted: Vec::new(),
        });
    }

    /// Record a finding on `resource` that the plan accepts: its check passes unless something
    /// else is wrong with it, and carries the acceptance.
    pub fn accepted(
        &mut self,
        control: ControlId,
        resource: impl Into<String>,
        cis: &[&str],
        accepted: Accepted,
    ) {
        self.checked_in(None, control, resource, cis);
        if let Some(last) = self.looked_at.last_mut() {
            last.accepted.push(accepted);
        }
    }

    /// Record a check on `resource` that could not be decided yet (what it needs does not exist
    /// yet, say): it fails.
    pub fn undecided(&mut self, control: ControlId, resource: impl Into<String>, cis: &[&str]) {
        self.undecided_in(None, control, resource, cis);
    }

    /// Record a check on `resource`, in `region` when it lives in one, that could not be decided.
    pub fn undecided_in(
        &mut self,
        region: Option<&str>,
        control: ControlId,
        resource: impl Into<String>,
        cis: &[&str],
    ) {
        self.checked_in(region, control, resource, cis);
        if let Some(last) = self.looked_at.last_mut() {
            last.undecided = true;
        }
    }
    pub fn extend(&mut self, other: Diff<O>) {
        self.changes.extend(other.changes);
        self.notices.extend(other.notices);
        self.looked_at.extend(other.looked_at);
    }
    /// The same diff with each op wrapped (a control's op into the registry's).
    pub fn map_ops<P>(self, f: impl Fn(O) -> P) -> Diff<P> {
        Diff {
            changes: self.changes.into_iter().map(|c| c.map_ops(&f)).collect(),
            notices: self.notices,
            looked_at: self.looked_at,
        }
    }
    /// Every check this diff made, in the order made: one per resource looked at or changed.
    pub fn checks(&self) -> Vec<Check> {
        let mut checks: Vec<Check> = Vec::new();
        let none: &[Accepted] = &[];
        let listed = self.looked_at.iter().map(|l| {
            (
                l.control,
                &l.resource,
                &l.cis,
                l.region.as_ref(),
                l.undecided,
                l.accepted.as_slice(),
            )
        });
        let changed = self.changes.iter().map(|c| {
            (
                c.control,
                &c.resource,
                &c.cis,
                c.region.as_ref(),
                false,
                none,
            )
        });
        for (control, resource, cis, region, undecided, accepted) in listed.chain(changed) {
            let passed = !undecided
                && !self.changes.iter().any(|c| {
                    c.control == control
                        && &c.resource == resource
                        && in_same_region(c.region.as_ref(), region)
                });
            match checks.iter_mut().find(|k| {
                k.control == control
                    && &k.resource == resource
                    && in_same_region(region, k.region.as_ref())
            }) {
                Some(k) => {
                    for id in cis {
                        if !k.cis.contains(id) {
                            k.cis.push(id.clone());
                        }
                    }
                    k.accepted.extend(accepted.iter().cloned());
                    // An undecided look at a resource already listed fails it: unknown is never
                    // compliant, whichever look came first.
                    k.passed &= !undecided;
                }
                None => checks.push(Check {
                    control,
                    rule: Check::rule_of(resource),
                    resource: resource.clone(),
                    region: region.cloned(),
                    cis: cis.clone(),
                    passed,
                    accepted: accepted.to_vec(),
                }),
            }
        }
        checks
    }
}

/// Counts for the one-line summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub manual: usize,
}

impl Summary {
    pub fn of<'a, O: 'a>(changes: impl IntoIterator<Item = &'a Change<O>>) -> Self {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Manual => s.manual += 1,
            }
        }
        s
    }
    pub fn is_empty(&self) -> bool {
        *self == Summary::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: ControlId = ControlId::named("example");

    #[test]
    fn a_resource_checked_passes_unless_a_change_names_it() {
        let mut d: Diff<()> = Diff::default();
        d.checked(ID, "iam group \"Admins\"", &["1.14"]);
        d.checked(ID, "account password policy", &["1.7"]);
        d.push(Change::new(ID, "account password policy", Action::Update, ()).cis(&["1.8"]));
        d.push(Change::manual(ID, "mfa for the root user").cis(&["1.5"]));
        d.undecided(ID, "mfa guard for iam user \"admin\"", &["1.9"]);
        let checks = d.checks();
        let summary: Vec<(&str, &str, bool, Vec<String>)> = checks
            .iter()
            .map(|c| {
                (
                    c.rule.as_str(),
                    c.resource.as_str(),
                    c.passed,
                    c.cis.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "iam_group",
                    "iam group \"Admins\"",
                    true,
                    vec!["1.14".to_string()]
                ),
                (
                    "account_password_policy",
                    "account password policy",
                    false,
                    vec!["1.7".to_string(), "1.8".to_string()]
                ),
                (
                    "mfa_guard_for_iam_user",
                    "mfa guard for iam user \"admin\"",
                    false,
                    vec!["1.9".to_string()]
                ),
                (
                    "mfa_for_the_root_user",
                    "mfa for the root user",
                    false,
                    vec!["1.5".to_string()]
                ),
            ]
        );
    }

    /// Unknown is never compliant: a resource looked at twice, once undecided, fails, whichever
    /// look came first.
    #[test]
    fn an_undecided_look_fails_a_resource_already_checked() {
        for undecided_first in [false, true] {
            let mut d: Diff<()> = Diff::default();
            if undecided_first {
                d.undecided(ID, "thing", &[]);
            }
            d.checked(ID, "thing", &[]);
            if !undecided_first {
                d.undecided(ID, "thing", &[]);
            }
            let checks = d.checks();
            assert_eq!(checks.len(), 1);
            assert!(!checks[0].passed, "undecided first: {undecided_first}");
        }
    }

    #[test]
    fn a_checks_identity_names_account_region_control_and_resource() {
        let check = Check {
            control: ID,
            rule: "s3_bucket".into(),
            resource: "s3 bucket \"logs\"".into(),
            region: Some("eu-west-1".into()),
            cis: vec![],
            passed: true,
            accepted: vec![],
        };
        assert_eq!(
            check.identity("123456789012"),
            "123456789012/eu-west-1/example/s3 bucket \"logs\""
        );
        let global = Check {
            region: None,
            ..check
        };
        assert_eq!(
            global.identity("123456789012"),
            "123456789012/global/example/s3 bucket \"logs\""
        );
    }
}
