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
    /// The default key as `GetEbsDefaultKmsKeyId` names it: the literal `alias/aws/ebs` in a
    /// region whose default was never changed, else a key ARN (AWS CLI examples
    /// `get-ebs-default-kms-key-id`, `modify-ebs-default-kms-key-id`, `reset-ebs-default-kms-key-id`;
    /// Terraform AWS provider `ebs_default_kms_key_test.go`), whatever identifier set it.
    pub kms_key: Option<String>,
    /// The plan's key (its alias, or `alias/aws/ebs`) as KMS `DescribeKey` resolves it in this
    /// region: keys are compared by identity (key ARN), never by spelling.
    pub wanted: Option<WantedKey>,
}

/// The plan's key in one region (KMS API reference, DescribeKey).
#[derive(Clone, Debug, PartialEq)]
pub enum WantedKey {
    /// The alias names this key, in this `KeyState` (`Enabled`, `Disabled`, `PendingDeletion`...).
    Found { arn: String, state: Option<String> },
    /// `NotFoundException`: no such alias in this region.
    Missing,
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

/// Per region, at once: `GetEbsEncryptionByDefault`, `GetEbsDefaultKmsKeyId` (EC2 API reference)
/// and KMS `DescribeKey` of the plan's alias in that region (KMS API reference: given a predefined
/// AWS alias such as `alias/aws/ebs`, "KMS associates the alias with an AWS managed key and returns
/// its KeyId and Arn", so the managed key always resolves). A region a policy denies is skipped
/// (see `aws::read_each_region`).
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let regions = aws.plan_regions(plan).await?;
    let wanted_alias = plan
        .ebs_encryption()
        .and_then(|e| e.kms_key.clone())
        .unwrap_or_else(|| EBS_MANAGED_KEY.to_string());
    let wanted_alias = &wanted_alias;
    let regions = aws
        .read_each_region(
            &regions,
            "reading EBS encryption by default",
            |ec2: aws_sdk_ec2::Client, region| async move {
                let kms: aws_sdk_kms::Client = aws.client_in(&region);
                let (on, key, wanted) = tokio::join!(
                    ec2.get_ebs_encryption_by_default().send(),
                    ec2.get_ebs_default_kms_key_id().send(),
                    kms.describe_key().key_id(wanted_alias).send()
                );
                let what = |call| format!("reading EBS encryption by default in {region} ({call})");
                let on =
                    on.map_err(|e| RegionError::of(e, what("EC2 GetEbsEncryptionByDefault")))?;
                let key = key.map_err(|e| RegionError::of(e, what("EC2 GetEbsDefaultKmsKeyId")))?;
                let wanted = match wanted {
                    // An answer without the key's ARN: unknown (`None`), never "the same key".
                    Ok(out) => out.key_metadata.and_then(|m| {
                        let state = m.key_state.map(|s| s.as_str().to_string());
                        m.arn.map(|arn| WantedKey::Found { arn, state })
                    }),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_not_found_exception()) =>
                    {
                        Some(WantedKey::Missing)
                    }
                    Err(e) => {
                        return Err(RegionError::of(
                            e,
                            what(&format!("KMS DescribeKey {wanted_alias}")),
                        ));
                    }
                };
                Ok(Settings {
                    enabled: on.ebs_encryption_by_default,
                    kms_key: key.kms_key_id,
                    wanted,
                })
            },
        )
        .await?;
    Ok(Observed { regions })
}

/// Is the region's default key the plan's key? By identity: the same alias (an alias names one key
/// at a time), or the key ARN (or bare key ID) the plan's alias resolves to. An unresolved alias
/// or a missing answer is never the same key.
fn same_key(live: Option<&str>, wanted_alias: &str, wanted: Option<&WantedKey>) -> bool {
    let Some(live) = live else {
        return false;
    };
    if alias_of(live) == Some(wanted_alias) {
        return true;
    }
    match wanted {
        Some(WantedKey::Found { arn, .. }) => live == arn || arn.ends_with(&format!(":key/{live}")),
        _ => false,
    }
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
            let key_in_line = same_key(live.kms_key.as_deref(), wanted_key, live.wanted.as_ref());
            match &live.wanted {
                // ModifyEbsDefaultKmsKeyId accepts an alias that does not exist and fails later
                // (EC2 API reference): never sent; the person makes the key or names another.
                Some(WantedKey::Missing) if !key_in_line => {
                    let why = format!(
                        "the key alias {wanted_key} does not exist in {region} (KMS DescribeKey: \
                         NotFoundException): create a key with that alias in {region}, or name \
                         another in [ebs_encryption] kms_key"
                    );
                    if change.ops.is_empty() {
                        let mut manual = Change::manual(CONTROL, RESOURCE).field(
                            "KmsKeyId",
                            live.kms_key.as_deref(),
                            Some(wanted_key),
                        );
                        manual = manual.note(why);
                        return Some(manual);
                    }
                    return Some(change.note(why));
                }
                // A default key that is disabled or being deleted: new encrypted volumes fail.
                Some(WantedKey::Found { state, .. }) if state.as_deref() != Some("Enabled") => {
                    let state = state.as_deref().unwrap_or("unknown");
                    let why = format!(
                        "the key {wanted_key} in {region} is {state}: volumes encrypted by default \
                         cannot be created until it is enabled (KMS EnableKey, or \
                         CancelKeyDeletion first)"
                    );
                    if change.ops.is_empty() {
                        let manual = Change::manual(CONTROL, RESOURCE)
                            .field("KeyState", Some(state), Some("Enabled"))
                            .note(why);
                        return Some(manual);
                    }
                    return Some(change.note(why));
                }
                _ => {}
            }
            if !key_in_line {
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
            wanted: None,
        })
    }

    /// A region's settings with the plan's alias resolved as KMS answered.
    fn resolved(enabled: bool, key: &str, wanted: WantedKey) -> InRegion<Settings> {
        InRegion::Read(Settings {
            enabled: Some(enabled),
            kms_key: Some(key.into()),
            wanted: Some(wanted),
        })
    }

    const MANAGED_ARN: &str =
        "arn:aws:kms:eu-west-1:123456789012:key/8c5b2c63-b9bc-45a3-a87a-5513eEXAMPLE";

    /// After ResetEbsDefaultKmsKeyId (or a ModifyEbsDefaultKmsKeyId given an alias), EC2 answers the
    /// key ARN (AWS CLI examples): the same key as the plan's alias resolves to is in line; another
    /// key ARN is not.
    #[test]
    fn a_key_arn_is_compared_with_what_the_plans_alias_resolves_to() {
        let enabled = || WantedKey::Found {
            arn: MANAGED_ARN.into(),
            state: Some("Enabled".into()),
        };
        let d = diff_of(
            "",
            vec![("eu-west-1".into(), resolved(true, MANAGED_ARN, enabled()))],
        );
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        // The bare key ID of the same key too.
        let d = diff_of(
            "",
            vec![(
                "eu-west-1".into(),
                resolved(true, "8c5b2c63-b9bc-45a3-a87a-5513eEXAMPLE", enabled()),
            )],
        );
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        let other = "arn:aws:kms:eu-west-1:123456789012:key/0ea3fef3-80a7-4778-9d8c-1c0c6EXAMPLE";
        let d = diff_of(
            "kms_key = \"alias/ebs-default\"\n",
            vec![("eu-west-1".into(), resolved(true, other, enabled()))],
        );
        assert_eq!(
            d.changes[0].ops,
            [Op::SetKey {
                region: "eu-west-1".into(),
                alias: "alias/ebs-default".into()
            }]
        );
    }

    /// A plan's alias that does not exist in a region is never sent to EC2 (which would accept it
    /// and fail later): a manual action naming the region; a disabled key likewise.
    #[test]
    fn a_missing_alias_or_a_disabled_key_is_a_manual_action_naming_the_region() {
        let d = diff_of(
            "kms_key = \"alias/ebs-default\"\n",
            vec![(
                "eu-west-1".into(),
                resolved(true, "alias/aws/ebs", WantedKey::Missing),
            )],
        );
        assert_eq!(d.changes.len(), 1);
        assert!(d.changes[0].is_manual(), "{:?}", d.changes);
        assert!(d.changes[0].ops.is_empty());
        let note = format!("{:?}", d.changes[0]);
        assert!(
            note.contains("alias/ebs-default does not exist in eu-west-1"),
            "{note}"
        );
        // Encryption off as well: enabled (that needs no key), the key left to the person.
        let d = diff_of(
            "kms_key = \"alias/ebs-default\"\n",
            vec![(
                "eu-west-1".into(),
                resolved(false, "alias/aws/ebs", WantedKey::Missing),
            )],
        );
        assert_eq!(
            d.changes[0].ops,
            [Op::Enable {
                region: "eu-west-1".into()
            }]
        );
        let d = diff_of(
            "",
            vec![(
                "eu-west-1".into(),
                resolved(
                    true,
                    MANAGED_ARN,
                    WantedKey::Found {
                        arn: MANAGED_ARN.into(),
                        state: Some("Disabled".into()),
                    },
                ),
            )],
        );
        assert!(d.changes[0].is_manual(), "{:?}", d.changes);
        assert!(format!("{:?}", d.changes[0]).contains("is Disabled"));
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
