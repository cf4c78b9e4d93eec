//! EBS encryption by default (CIS 5.1.1), in every region of the plan's `regions`: new volumes,
//! and snapshot copies made from unencrypted ones, are encrypted with the region's default key.
//! Existing volumes and snapshots stay as they are (Amazon EBS User Guide, "Enable Amazon EBS
//! encryption by default"). The setting is per account and region.

use crate::aws::{Aws, PerRegion, RegionError, SdkResultExt};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::controls::regional::diff_each_region;
use crate::interact::Interaction;
use crate::plan::{EBS_MANAGED_KEY, Plan};

const CONTROL: ControlId = ControlId::named("ebs_encryption");
const RESOURCE: &str = "ebs default encryption";
const CIS: &[&str] = &["5.1.1"];
const NOTE: &str = "applies to volumes created from now on; existing volumes and snapshots stay \
                    as they are (encrypt one by copying its snapshot with encryption)";

/// EBS encryption by default, per region.
pub struct EbsEncryption;

impl Control for EbsEncryption {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "EBS default encryption";
    const CIS: &'static [&'static str] = CIS;
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.ebs_encryption().is_some()
    }
    async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
        observe(aws, plan).await
    }
    fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
        diff(ctx, observed)
    }
    async fn apply(aws: &Aws, op: &Op, _io: &dyn Interaction) -> anyhow::Result<()> {
        apply(aws, op).await
    }
}

/// One region's settings, as EC2 answered them; `None` where AWS left a field out.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Settings {
    pub enabled: Option<bool>,
    /// The default key as `GetEbsDefaultKmsKeyId` names it: an alias (`alias/aws/ebs`), an alias
    /// ARN or a key ARN.
    pub kms_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    pub regions: PerRegion<Settings>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `EnableEbsEncryptionByDefault` in the region.
    Enable { region: String },
    /// `ModifyEbsDefaultKmsKeyId` to a customer-managed key's alias.
    SetKey { region: String, alias: String },
    /// `ResetEbsDefaultKmsKeyId`: back to the AWS managed key `aws/ebs`.
    ResetKey { region: String },
}

/// Per region, at once: `GetEbsEncryptionByDefault` and `GetEbsDefaultKmsKeyId` (EC2 API
/// reference). A region a policy denies is skipped (see `aws::read_each_region`).
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let regions = aws.plan_regions(&plan.regions).await?;
    let regions = aws
        .read_each_region(
            &regions,
            "reading EBS encryption by default",
            |ec2: aws_sdk_ec2::Client, region| async move {
                let (on, key) = tokio::join!(
                    ec2.get_ebs_encryption_by_default().send(),
                    ec2.get_ebs_default_kms_key_id().send()
                );
                let what =
                    |call| format!("reading EBS encryption by default in {region} (EC2 {call})");
                let on = on.map_err(|e| RegionError::of(e, what("GetEbsEncryptionByDefault")))?;
                let key = key.map_err(|e| RegionError::of(e, what("GetEbsDefaultKmsKeyId")))?;
                Ok(Settings {
                    enabled: on.ebs_encryption_by_default,
                    kms_key: key.kms_key_id,
                })
            },
        )
        .await?;
    Ok(Observed { regions })
}

/// The alias a key identifier names, if it names one: `alias/x` or
/// `arn:aws:kms:REGION:ACCOUNT:alias/x` (KMS developer guide, "Key identifiers (KeyId)").
fn alias_of(key: &str) -> Option<&str> {
    let alias = match key.starts_with("arn:") {
        true => &key[key.find(":alias/")? + 1..],
        false => key,
    };
    (alias.starts_with("alias/") && alias.len() > "alias/".len()).then_some(alias)
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.ebs_encryption() else {
        return d;
    };
    let wanted_key = plan.kms_key.as_deref().unwrap_or(EBS_MANAGED_KEY);
    diff_each_region(
        &mut d,
        (CONTROL, RESOURCE, CIS),
        &observed.regions,
        |region, live| {
            let mut change = Change::with_ops(CONTROL, RESOURCE, Action::Update, vec![]).note(NOTE);
            if live.enabled != Some(true) {
                change = change.field("EbsEncryptionByDefault", live.enabled, Some(true));
                change.ops.push(Op::Enable {
                    region: region.to_string(),
                });
            }
            // A key set by ID or ARN is compared by alias only: it is set again by its alias name
            // (the same key when the alias names it), so the next run compares like with like.
            if live.kms_key.as_deref().and_then(alias_of) != Some(wanted_key) {
                change = change.field("KmsKeyId", live.kms_key.as_deref(), Some(wanted_key));
                change.ops.push(match plan.kms_key.as_deref() {
                    Some(alias) if alias != EBS_MANAGED_KEY => Op::SetKey {
                        region: region.to_string(),
                        alias: alias.to_string(),
                    },
                    _ => Op::ResetKey {
                        region: region.to_string(),
                    },
                });
            }
            (!change.ops.is_empty()).then_some(change)
        },
    );
    d
}

/// Each op is one EC2 call in its region (EC2 API reference: `EnableEbsEncryptionByDefault`,
/// `ModifyEbsDefaultKmsKeyId`, `ResetEbsDefaultKmsKeyId`). ModifyEbsDefaultKmsKeyId checks the key
/// asynchronously ("if you specify an ID, alias, or ARN that is not valid, the action can appear
/// to complete, but eventually fails"): the verification after apply reads it back.
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::Enable { region } => {
            aws.ec2_in(region)
                .enable_ebs_encryption_by_default()
                .send()
                .await
                .describe(format!(
                    "turning on EBS encryption by default in {region} (EC2 EnableEbsEncryptionByDefault)"
                ))?;
        }
        Op::SetKey { region, alias } => {
            aws.ec2_in(region)
                .modify_ebs_default_kms_key_id()
                .kms_key_id(alias)
                .send()
                .await
                .describe(format!(
                    "setting the default EBS key in {region} to {alias} (EC2 ModifyEbsDefaultKmsKeyId)"
                ))?;
        }
        Op::ResetKey { region } => {
            aws.ec2_in(region)
                .reset_ebs_default_kms_key_id()
                .send()
                .await
                .describe(format!(
                    "setting the default EBS key in {region} back to aws/ebs (EC2 ResetEbsDefaultKmsKeyId)"
                ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::InRegion;
    use crate::controls::control::diff_for_tests;

    fn diff_of(table: &str, regions: PerRegion<Settings>) -> Diff<Op> {
        diff_for_tests(&format!("[ebs_encryption]\n{table}"), |ctx| {
            diff(ctx, &Observed { regions })
        })
    }

    fn read(enabled: Option<bool>, key: Option<&str>) -> InRegion<Settings> {
        InRegion::Read(Settings {
            enabled,
            kms_key: key.map(str::to_string),
        })
    }

    #[test]
    fn aliases_are_read_from_names_and_alias_arns_only() {
        assert_eq!(alias_of("alias/aws/ebs"), Some("alias/aws/ebs"));
        assert_eq!(
            alias_of("arn:aws:kms:eu-west-1:123456789012:alias/ebs-default"),
            Some("alias/ebs-default")
        );
        assert_eq!(
            alias_of("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            None
        );
        assert_eq!(alias_of("1234abcd-12ab-34cd-56ef-1234567890ab"), None);
        assert_eq!(alias_of("arn:aws:kms:eu-west-1:1:alias/"), None);
    }

    #[test]
    fn each_region_is_judged_alone() {
        let d = diff_of(
            "",
            vec![
                ("eu-west-1".into(), read(Some(true), Some("alias/aws/ebs"))),
                ("us-east-1".into(), read(Some(false), Some("alias/aws/ebs"))),
                ("us-west-2".into(), read(None, None)),
            ],
        );
        assert_eq!(d.changes.len(), 2, "{:?}", d.changes);
        let east = &d.changes[0];
        assert_eq!(east.region.as_deref(), Some("us-east-1"));
        assert_eq!(
            east.ops,
            [Op::Enable {
                region: "us-east-1".into()
            }]
        );
        assert_eq!(east.fields.len(), 1, "only the flag differs: one field");
        // Unknown is never in line: both fields are set again.
        let west = &d.changes[1];
        assert_eq!(west.fields.len(), 2);
        assert_eq!(
            west.ops,
            [
                Op::Enable {
                    region: "us-west-2".into()
                },
                Op::ResetKey {
                    region: "us-west-2".into()
                }
            ]
        );
        let checks = d.checks();
        assert_eq!(checks.len(), 3);
        assert_eq!(checks.iter().filter(|c| c.passed).count(), 1, "{checks:?}");
    }

    #[test]
    fn a_chosen_key_is_compared_by_alias() {
        let arn = "arn:aws:kms:eu-west-1:123456789012:alias/ebs-default";
        let d = diff_of(
            "kms_key = \"alias/ebs-default\"\n",
            vec![
                ("eu-west-1".into(), read(Some(true), Some(arn))),
                ("us-east-1".into(), read(Some(true), Some("alias/aws/ebs"))),
            ],
        );
        assert_eq!(d.changes.len(), 1);
        assert_eq!(
            d.changes[0].ops,
            [Op::SetKey {
                region: "us-east-1".into(),
                alias: "alias/ebs-default".into()
            }]
        );
        // The default wanted, a customer key set: back to aws/ebs.
        let d = diff_of("", vec![("eu-west-1".into(), read(Some(true), Some(arn)))]);
        assert_eq!(
            d.changes[0].ops,
            [Op::ResetKey {
                region: "eu-west-1".into()
            }]
        );
    }

    #[test]
    fn a_denied_region_is_a_warning_not_a_check() {
        let d = diff_of(
            "",
            vec![
                (
                    "eu-west-1".into(),
                    InRegion::Denied("explicit deny in an SCP".into()),
                ),
                ("us-east-1".into(), read(Some(true), Some("alias/aws/ebs"))),
            ],
        );
        assert!(d.changes.is_empty());
        assert_eq!(d.checks().len(), 1);
        assert!(
            d.notices[0]
                .message
                .contains("region eu-west-1 skipped: denied by policy"),
            "{:?}",
            d.notices
        );
    }
}
