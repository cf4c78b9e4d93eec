//! The account-level S3 Block Public Access (CIS 2.1.4): all four settings on for the whole
//! account, so no bucket in it can be made public by an ACL or a bucket policy, whatever the
//! bucket's own settings say (S3 applies the most restrictive combination of the bucket's and the
//! account's settings).

use crate::aws::{Aws, SdkResultExt, absent_on, error_code};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::named("s3_public_access");
const RESOURCE: &str = "s3 account public access block";
const CIS: &[&str] = &["2.1.4"];

/// The account's S3 Block Public Access.
pub struct S3PublicAccess;

impl Control for S3PublicAccess {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "S3 Block Public Access";
    const CIS: &'static [&'static str] = CIS;
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.s3_public_access().is_some()
    }
    async fn observe(aws: &Aws, _plan: &Plan) -> anyhow::Result<Observed> {
        observe(aws).await
    }
    fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
        diff(ctx, observed)
    }
    async fn apply(aws: &Aws, op: &Op, _io: &dyn Interaction) -> anyhow::Result<()> {
        apply(aws, op).await
    }
}

/// The four settings, as S3 Control names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl Settings {
    /// Every setting on: what CIS 2.1.4 asks for.
    pub const ALL_ON: Settings = Settings {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// Each setting with its API name, for a field-level diff.
    fn fields(self) -> [(&'static str, bool); 4] {
        [
            ("BlockPublicAcls", self.block_public_acls),
            ("IgnorePublicAcls", self.ignore_public_acls),
            ("BlockPublicPolicy", self.block_public_policy),
            ("RestrictPublicBuckets", self.restrict_public_buckets),
        ]
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// `None`: the account has no configuration at all (`NoSuchPublicAccessBlockConfiguration`),
    /// a state, not an error: S3 then blocks nothing at the account level.
    pub block: Option<Settings>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Set the account's configuration to exactly these four settings.
    Put(Settings),
}

/// S3 Control GetPublicAccessBlock for the caller's account (S3 API reference,
/// GetPublicAccessBlock under "Amazon S3 Control": "NoSuchPublicAccessBlockConfiguration ... against
/// an account that doesn't have a PublicAccessBlockConfiguration set", HTTP 404). It returns the
/// effective account-level configuration, inherited from an organization-level policy when one
/// manages the account. Any other failure is an error: unknown is never compliant.
pub async fn observe(aws: &Aws) -> anyhow::Result<Observed> {
    let out = absent_on(
        aws.s3control
            .get_public_access_block()
            .account_id(aws.account_id())
            .send()
            .await,
        &["NoSuchPublicAccessBlockConfiguration"],
        "reading the account's S3 Block Public Access (s3control GetPublicAccessBlock)",
    )?;
    Ok(Observed {
        // A setting AWS leaves out is off (PublicAccessBlockConfiguration: each one "Setting this
        // element to TRUE causes ...").
        block: out
            .and_then(|o| o.public_access_block_configuration)
            .map(|c| Settings {
                block_public_acls: c.block_public_acls.unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
                block_public_policy: c.block_public_policy.unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
            }),
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    if ctx.plan.s3_public_access().is_none() {
        return d;
    }
    d.checked(CONTROL, RESOURCE, CIS);
    let wanted = Settings::ALL_ON;
    let op = Op::Put(wanted);
    let change = match observed.block {
        Some(live) if live == wanted => return d,
        None => {
            let mut c = Change::new(CONTROL, RESOURCE, Action::Create, op);
            for (name, after) in wanted.fields() {
                c = c.field(name, None::<bool>, Some(after));
            }
            c.note("none set for the account: only each bucket's own settings block public access")
        }
        Some(live) => {
            let mut c = Change::new(CONTROL, RESOURCE, Action::Update, op);
            for ((name, before), (_, after)) in live.fields().into_iter().zip(wanted.fields()) {
                if before != after {
                    c = c.field(name, Some(before), Some(after));
                }
            }
            c
        }
    };
    d.push(change.cis(CIS));
    d
}

/// S3 Control PutPublicAccessBlock for the caller's account, all four settings (S3 API reference,
/// PutPublicAccessBlock under "Amazon S3 Control"; it needs `s3:PutAccountPublicAccessBlock`). An
/// account managed by an organization-level Block Public Access policy refuses it ("You might get
/// an Access Denied (403) error"): said in the error.
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    let Op::Put(s) = op;
    let result = aws
        .s3control
        .put_public_access_block()
        .account_id(aws.account_id())
        .public_access_block_configuration(
            aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(s.block_public_acls)
                .ignore_public_acls(s.ignore_public_acls)
                .block_public_policy(s.block_public_policy)
                .restrict_public_buckets(s.restrict_public_buckets)
                .build(),
        )
        .send()
        .await;
    let denied = result
        .as_ref()
        .err()
        .is_some_and(|e| error_code(e) == Some("AccessDenied"));
    let what = if denied {
        "setting the account's S3 Block Public Access (s3control PutPublicAccessBlock; it needs \
         s3:PutAccountPublicAccessBlock, and an account managed by an organization-level S3 Block \
         Public Access policy cannot change its own settings)"
    } else {
        "setting the account's S3 Block Public Access (s3control PutPublicAccessBlock)"
    };
    result.describe(what)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Caller;
    use crate::plan::parse;

    fn diff_of(plan: &str, observed: Option<Settings>) -> Diff<Op> {
        let plan = parse(&format!("version = 1\nhome_region = \"us-east-1\"\n{plan}")).unwrap();
        let caller = Caller::from_arn("1", "arn:aws:iam::123456789012:user/x", None, false);
        let ctx = DiffContext {
            plan: &plan,
            caller: &caller,
            interactive: false,
            written: &[],
        };
        diff(&ctx, &Observed { block: observed })
    }

    #[test]
    fn none_set_is_created_with_all_four_settings() {
        let d = diff_of("[s3_public_access]\n", None);
        assert_eq!(d.changes.len(), 1);
        let c = &d.changes[0];
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.resource, RESOURCE);
        assert_eq!(c.cis, vec!["2.1.4"]);
        assert_eq!(c.ops, vec![Op::Put(Settings::ALL_ON)]);
        let fields: Vec<_> = c
            .fields
            .iter()
            .map(|f| (f.field.as_str(), f.before.as_deref(), f.after.as_deref()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("BlockPublicAcls", None, Some("true")),
                ("IgnorePublicAcls", None, Some("true")),
                ("BlockPublicPolicy", None, Some("true")),
                ("RestrictPublicBuckets", None, Some("true")),
            ]
        );
        assert_eq!(d.looked_at.len(), 1);
        assert_eq!(d.looked_at[0].resource, RESOURCE);
    }

    #[test]
    fn all_on_is_no_change_and_a_passed_check() {
        let d = diff_of("[s3_public_access]\n", Some(Settings::ALL_ON));
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        assert_eq!(d.looked_at.len(), 1);
        assert!(!d.looked_at[0].undecided);
        assert_eq!(d.looked_at[0].region, None);
    }

    #[test]
    fn one_setting_off_is_an_update_naming_only_that_field() {
        let live = Settings {
            block_public_policy: false,
            ..Settings::ALL_ON
        };
        let d = diff_of("[s3_public_access]\n", Some(live));
        assert_eq!(d.changes.len(), 1);
        let c = &d.changes[0];
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1);
        assert_eq!(c.fields[0].field, "BlockPublicPolicy");
        assert_eq!(c.fields[0].before.as_deref(), Some("false"));
        assert_eq!(c.fields[0].after.as_deref(), Some("true"));
        // The op sets all four, not only the one that differs.
        assert_eq!(c.ops, vec![Op::Put(Settings::ALL_ON)]);

        // A configuration with everything off (as the console leaves it) lists all four.
        let d = diff_of("[s3_public_access]\n", Some(Settings::default()));
        assert_eq!(d.changes[0].fields.len(), 4);
    }

    #[test]
    fn not_managed_checks_nothing() {
        for plan in ["", "[s3_public_access]\nenabled = false\n"] {
            let d = diff_of(plan, None);
            assert!(d.changes.is_empty() && d.looked_at.is_empty(), "{plan:?}");
        }
    }
}
