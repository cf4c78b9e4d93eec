//! The controls and their registry. Each control is one type implementing `Control`
//! (`control.rs`), in its own file or folder; the `registry!` list below is the only place that
//! names them all. The ids, the dispatch and the apply order all come from that list.

pub mod access_analyzer;
pub mod admin_group;
pub mod admin_mfa;
pub mod admin_user;
pub mod budget;
pub mod cloudtrail;
pub mod control;
pub mod cost_report;
pub mod ebs_encryption;
#[cfg(test)]
mod golden;
pub mod guardduty;
pub mod iam_users;
pub mod imds_defaults;
pub mod mfa_guard;
pub mod password_policy;
mod regional;
pub mod root;
pub mod root_credentials;
pub mod s3_public_access;
pub mod security_contact;
pub mod support_role;

pub use control::{Control, DiffContext};

use crate::aws::Aws;
use crate::change::ControlId;
use crate::interact::Interaction;
use crate::plan::Plan;

/// A change of any control.
pub type Change = crate::change::Change<Op>;
/// What the diffs of any controls produced.
pub type Diff = crate::change::Diff<Op>;

/// Defines, from one ordered list of `Variant = path::Type`: the `ControlId` constants and `ALL`
/// (in list order), the `Op` and `Observation` enums with one variant per control, and the
/// dispatch functions below. `[boxed]` after a type boxes its observation (a large one: clippy's
/// `large_enum_variant`).
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident = $control:ty $([$boxed:ident])?,)+) => {
        #[allow(non_upper_case_globals)]
        impl ControlId {
            $(
                $(#[$doc])*
                pub const $variant: ControlId = <$control as Control>::ID;
            )+
            /// Every control, in apply order.
            pub const ALL: [ControlId; registry!(@count $($variant)+)] = [$(ControlId::$variant),+];
        }

        /// One write of any control: plain, serializable data. `{"admin_group": {...}}`.
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Op {
            $($variant(<$control as Control>::Op),)+
        }

        /// What one control observed.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Observation {
            $($variant(registry!(@observed $($boxed)? $control)),)+
        }

        /// The controls the plan manages, in apply order.
        pub fn managed(plan: &Plan) -> Vec<ControlId> {
            let mut ids = Vec::new();
            $(if <$control as Control>::managed(plan) {
                ids.push(ControlId::$variant);
            })+
            ids
        }

        /// Observe one control (reads only).
        pub async fn observe(id: ControlId, aws: &Aws, plan: &Plan) -> anyhow::Result<Observation> {
            $(if id == ControlId::$variant {
                return Ok(Observation::$variant(
                    <$control as Control>::observe(aws, plan).await?.into(),
                ));
            })+
            anyhow::bail!("no control named {:?} (a bug in aws-harden)", id.as_str())
        }

        /// Diff one control: pure.
        pub fn diff(ctx: &DiffContext, observation: &Observation) -> Diff {
            match observation {
                $(Observation::$variant(o) => <$control as Control>::diff(ctx, o).map_ops(Op::$variant),)+
            }
        }

        impl Observation {
            pub fn control(&self) -> ControlId {
                match self {
                    $(Observation::$variant(_) => ControlId::$variant,)+
                }
            }
        }

        /// Perform one write.
        pub async fn apply(aws: &Aws, op: &Op, io: &dyn Interaction) -> anyhow::Result<()> {
            match op {
                $(Op::$variant(op) => <$control as Control>::apply(aws, op, io).await,)+
            }
        }

        impl ControlId {
            /// A short human title for headings.
            pub fn title(self) -> &'static str {
                $(if self == ControlId::$variant {
                    return <$control as Control>::TITLE;
                })+
                self.as_str()
            }

            /// The plan file's table that configures the control.
            pub fn plan_table(self) -> &'static str {
                $(if self == ControlId::$variant {
                    return <$control as Control>::PLAN_TABLE;
                })+
                self.as_str()
            }

            /// The CIS recommendations the control serves.
            pub fn cis(self) -> &'static [&'static str] {
                $(if self == ControlId::$variant {
                    return <$control as Control>::CIS;
                })+
                &[]
            }
        }
    };
    (@observed boxed $control:ty) => { Box<<$control as Control>::Observed> };
    (@observed $control:ty) => { <$control as Control>::Observed };
    (@count $($x:ident)+) => { 0 $(+ registry!(@one $x))+ };
    (@one $x:ident) => { 1 };
}

// The order is the apply order, on purpose: what grants access comes before what depends on it,
// and root (which takes access away) comes last. Within a control, `Stage` orders further.
registry! {
    AdminGroup = admin_group::AdminGroup,
    /// Before the admin user: a policy the plan tightens is in place before a console password is
    /// generated against it.
    PasswordPolicy = password_policy::PasswordPolicy,
    AdminUser = admin_user::AdminUser,
    AdminMfa = admin_mfa::AdminMfa,
    /// Before the controls that make buckets: the account blocks public access before any exists.
    S3PublicAccess = s3_public_access::S3PublicAccess,
    Cloudtrail = cloudtrail::Cloudtrail [boxed],
    CostReport = cost_report::CostReport,
    /// Account-wide guardrails set per region; nothing else depends on them.
    EbsEncryption = ebs_encryption::EbsEncryption,
    ImdsDefaults = imds_defaults::ImdsDefaults,
    /// The guardrails that tell a person when something is wrong (issue 17).
    AccessAnalyzer = access_analyzer::AccessAnalyzer,
    Guardduty = guardduty::GuardDuty,
    SupportRole = support_role::SupportRole,
    /// The people's credentials (issue 34): after the admin user, whom it never changes.
    IamUsers = iam_users::IamUsers [boxed],
    SecurityContact = security_contact::SecurityContact,
    Budget = budget::Budget,
    /// Members' root credentials under `--org` (issue 19): after every other control, since it
    /// takes access away (a member's root can no longer sign in).
    RootCredentials = root_credentials::RootCredentials,
    Root = root::Root,
}

impl ControlId {
    /// Position in the registry: the apply order.
    fn position(self) -> usize {
        ControlId::ALL
            .iter()
            .position(|&id| id == self)
            .unwrap_or(usize::MAX)
    }

    /// The control with this name, if there is one.
    pub fn from_name(name: &str) -> Option<ControlId> {
        ControlId::ALL.into_iter().find(|id| id.as_str() == name)
    }
}

impl PartialOrd for ControlId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Apply order: the registry's.
impl Ord for ControlId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.position().cmp(&other.position())
    }
}

impl<'de> serde::Deserialize<'de> for ControlId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ControlId::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!("no control named {name:?} in this aws-harden"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_op_is_tagged_with_its_controls_name() {
        // The registry's enum variants and the controls' own names must agree: saved changes
        // name the control twice (`control` and the op's tag).
        for id in ControlId::ALL {
            let variant = serde_json::to_value(id).unwrap();
            assert_eq!(variant, id.as_str());
            assert_eq!(ControlId::from_name(id.as_str()), Some(id));
        }
        let op = Op::PasswordPolicy(password_policy::Op::Put(Default::default()));
        let json = serde_json::to_value(&op).unwrap();
        assert!(
            json.get(ControlId::PasswordPolicy.as_str()).is_some(),
            "{json}"
        );
    }

    #[test]
    fn apply_order_is_the_registry_order() {
        let mut ids = ControlId::ALL.to_vec();
        ids.reverse();
        ids.sort();
        assert_eq!(ids, ControlId::ALL.to_vec());
        assert!(ControlId::PasswordPolicy < ControlId::AdminUser);
        assert_eq!(ControlId::ALL.last(), Some(&ControlId::Root));
    }

    #[test]
    fn an_unknown_name_is_refused_by_name() {
        let e = serde_json::from_str::<ControlId>("\"admin_grup\"").unwrap_err();
        assert!(e.to_string().contains("admin_grup"), "{e}");
    }
}
