//! Changes: what a run computed by comparing the plan with the live account. Plain data, like a
//! terraform plan: views render it, the engine applies it, nothing here talks to AWS.

use serde::Serialize;

use crate::controls::Op;

/// The controls, in the order their writes are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlId {
    AdminGroup,
    /// Before the admin user: a policy the plan tightens is in place before a console password is
    /// generated against it.
    PasswordPolicy,
    AdminUser,
    AdminMfa,
    Cloudtrail,
    CostReport,
    Root,
}

impl ControlId {
    pub const ALL: [ControlId; 7] = [
        ControlId::AdminGroup,
        ControlId::PasswordPolicy,
        ControlId::AdminUser,
        ControlId::AdminMfa,
        ControlId::Cloudtrail,
        ControlId::CostReport,
        ControlId::Root,
    ];

    /// The name used in plan files, output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlId::AdminGroup => "admin_group",
            ControlId::AdminUser => "admin_user",
            ControlId::AdminMfa => "admin_mfa",
            ControlId::PasswordPolicy => "password_policy",
            ControlId::Cloudtrail => "cloudtrail",
            ControlId::CostReport => "cost_report",
            ControlId::Root => "root",
        }
    }

    /// A short human title for headings.
    pub fn title(self) -> &'static str {
        match self {
            ControlId::AdminGroup => "Admin group",
            ControlId::AdminUser => "Admin user",
            ControlId::AdminMfa => "Admin user MFA",
            ControlId::PasswordPolicy => "Password policy",
            ControlId::Cloudtrail => "CloudTrail",
            ControlId::CostReport => "Cost and Usage Report",
            ControlId::Root => "Root user",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub control: ControlId,
    /// What the change is about, e.g. `iam group "Administrators"`.
    pub resource: String,
    pub action: Action,
    pub fields: Vec<FieldChange>,
    /// CIS AWS Foundations Benchmark v5.0 recommendation IDs this change serves.
    pub cis: Vec<&'static str>,
    /// For manual actions: the steps a person takes. For others: why, when it is not obvious.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub stage: Stage,
    /// What apply does; `Op::Manual` for manual actions.
    #[serde(skip)]
    pub op: Op,
}

impl Change {
    pub fn new(control: ControlId, resource: impl Into<String>, action: Action, op: Op) -> Self {
        Change {
            control,
            resource: resource.into(),
            action,
            fields: Vec::new(),
            cis: Vec::new(),
            note: None,
            stage: Stage::Main,
            op,
        }
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

    pub fn cis(mut self, ids: &[&'static str]) -> Self {
        self.cis.extend_from_slice(ids);
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    Info,
    Warning,
}

/// Something a person should know that is not a change: history, honest caveats, things left alone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notice {
    pub control: ControlId,
    pub level: NoticeLevel,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cis: Vec<&'static str>,
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
    pub fn cis(mut self, ids: &[&'static str]) -> Self {
        self.cis.extend_from_slice(ids);
        self
    }
}

/// What one control's diff produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diff {
    pub changes: Vec<Change>,
    pub notices: Vec<Notice>,
}

impl Diff {
    pub fn push(&mut self, change: Change) {
        self.changes.push(change);
    }
    pub fn notice(&mut self, notice: Notice) {
        self.notices.push(notice);
    }
    pub fn extend(&mut self, other: Diff) {
        self.changes.extend(other.changes);
        self.notices.extend(other.notices);
    }
}

/// Counts for the one-line summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub manual: usize,
}

impl Summary {
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Self {
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
