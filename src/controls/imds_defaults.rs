//! The region's instance metadata defaults for new instances (CIS 5.7, for new instances): IMDSv2
//! required (`HttpTokens = required`) with a PUT response hop limit of 2, in every region of the
//! plan's `regions`; optionally `HttpTokensEnforced`.
//!
//! Only defaults: launch parameters and an AMI's `ImdsSupport` take precedence, and existing
//! instances keep their settings (Amazon EC2 User Guide, "Configure the Instance Metadata Service
//! options", order of precedence). An EC2 declarative policy of the Organization overrides the
//! account's settings; `GetInstanceMetadataDefaults` says so in `ManagedBy`.

use crate::aws::{Aws, PerRegion, RegionError, SdkResultExt};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::controls::regional::diff_each_region;
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::named("imds_defaults");
const RESOURCE: &str = "instance metadata defaults";
const CIS: &[&str] = &["5.7"];
/// The change text, exactly as the plan reference says it.
pub const NOTE: &str = "defaults for instances launched from now on: launch parameters and an \
                        AMI's ImdsSupport take precedence, and existing instances keep their settings";

/// The instance metadata defaults, per region.
pub struct ImdsDefaults;

impl Control for ImdsDefaults {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "IMDS defaults (IMDSv2)";
    const CIS: &'static [&'static str] = CIS;
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.imds_defaults().is_some()
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

/// One region's account-level defaults (`InstanceMetadataDefaultsResponse`); `None` where nothing
/// is set (AWS leaves the element out: "no preference").
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Settings {
    /// `optional` or `required`.
    pub http_tokens: Option<String>,
    pub hop_limit: Option<i32>,
    /// `enabled` or `disabled`.
    pub http_tokens_enforced: Option<String>,
    /// `account`, or `declarative-policy` when the Organization sets these.
    pub managed_by: Option<String>,
    pub managed_message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    pub regions: PerRegion<Settings>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `ModifyInstanceMetadataDefaults` with `HttpTokens = required`, this hop limit and, when set,
    /// `HttpTokensEnforced`; the other defaults are not sent, so they stay as they are.
    Require {
        region: String,
        hop_limit: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        http_tokens_enforced: Option<bool>,
    },
}

/// `GetInstanceMetadataDefaults` in every region at once (EC2 API reference: it "gets the default
/// instance metadata service (IMDS) settings that are set at the account level in the specified
/// Region"; `accountLevel` is empty when none are set).
pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let regions = aws.plan_regions(plan).await?;
    let regions = aws
        .read_each_region(
            &regions,
            "reading the instance metadata defaults",
            |ec2: aws_sdk_ec2::Client, region| async move {
                let out = ec2
                    .get_instance_metadata_defaults()
                    .send()
                    .await
                    .map_err(|e| {
                        RegionError::of(
                            e,
                            format!(
                                "reading the instance metadata defaults in {region} (EC2 \
                             GetInstanceMetadataDefaults)"
                            ),
                        )
                    })?;
                let a = out.account_level;
                Ok(Settings {
                    http_tokens: a
                        .as_ref()
                        .and_then(|a| a.http_tokens())
                        .map(|v| v.as_str().to_string()),
                    hop_limit: a.as_ref().and_then(|a| a.http_put_response_hop_limit()),
                    http_tokens_enforced: a
                        .as_ref()
                        .and_then(|a| a.http_tokens_enforced())
                        .map(|v| v.as_str().to_string()),
                    managed_by: a
                        .as_ref()
                        .and_then(|a| a.managed_by())
                        .map(|v| v.as_str().to_string()),
                    managed_message: a
                        .as_ref()
                        .and_then(|a| a.managed_exception_message())
                        .map(str::to_string),
                })
            },
        )
        .await?;
    Ok(Observed { regions })
}

fn enforced_word(on: bool) -> &'static str {
    if on { "enabled" } else { "disabled" }
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(plan) = ctx.plan.imds_defaults() else {
        return d;
    };
    let hop_limit = plan.hop_limit as i32;
    diff_each_region(
        &mut d,
        (CONTROL, RESOURCE, CIS),
        &observed.regions,
        |region, live| {
            let mut change = Change::with_ops(CONTROL, RESOURCE, Action::Update, vec![]);
            if live.http_tokens.as_deref() != Some("required") {
                change = change.field("HttpTokens", live.http_tokens.as_deref(), Some("required"));
            }
            if live.hop_limit != Some(hop_limit) {
                change = change.field("HttpPutResponseHopLimit", live.hop_limit, Some(hop_limit));
            }
            if let Some(on) = plan.http_tokens_enforced
                && live.http_tokens_enforced.as_deref() != Some(enforced_word(on))
            {
                change = change.field(
                    "HttpTokensEnforced",
                    live.http_tokens_enforced.as_deref(),
                    Some(enforced_word(on)),
                );
            }
            if change.fields.is_empty() {
                return None;
            }
            if live.managed_by.as_deref() == Some("declarative-policy") {
                // The Organization's declarative policy wins over anything this account sets.
                let mut manual = Change::manual(CONTROL, RESOURCE);
                manual.fields = change.fields;
                return Some(manual.note(format!(
                    "set by an EC2 declarative policy of your Organization, which overrides the \
                 account's defaults ({}): change the policy from the management account",
                    live.managed_message.as_deref().unwrap_or("no message")
                )));
            }
            change.ops.push(Op::Require {
                region: region.to_string(),
                hop_limit: plan.hop_limit,
                http_tokens_enforced: plan.http_tokens_enforced,
            });
            Some(change.note(NOTE))
        },
    );
    d
}

/// `ModifyInstanceMetadataDefaults` in the op's region (EC2 API reference; parameters not sent
/// are left as they are, `no-preference` would clear them).
pub async fn apply(aws: &Aws, op: &Op) -> anyhow::Result<()> {
    use aws_sdk_ec2::types::{DefaultHttpTokensEnforcedState, MetadataDefaultHttpTokensState};
    let Op::Require {
        region,
        hop_limit,
        http_tokens_enforced,
    } = op;
    let mut call = aws
        .ec2_in(region)
        .modify_instance_metadata_defaults()
        .http_tokens(MetadataDefaultHttpTokensState::Required)
        .http_put_response_hop_limit(*hop_limit as i32);
    if let Some(on) = http_tokens_enforced {
        call = call.http_tokens_enforced(match on {
            true => DefaultHttpTokensEnforcedState::Enabled,
            false => DefaultHttpTokensEnforcedState::Disabled,
        });
    }
    let out = call.send().await.describe(format!(
        "requiring IMDSv2 for new instances in {region} (EC2 ModifyInstanceMetadataDefaults)"
    ))?;
    // `Return`: "If the request succeeds, the response returns true. If the request fails, no
    // response is returned, and instead an error message is returned." Anything else is not success.
    if out.r#return != Some(true) {
        anyhow::bail!(
            "requiring IMDSv2 for new instances in {region}: EC2 ModifyInstanceMetadataDefaults \
             did not answer true (answered {:?})",
            out.r#return
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::InRegion;
    use crate::controls::control::diff_for_tests;

    fn diff_of(table: &str, regions: PerRegion<Settings>) -> Diff<Op> {
        diff_for_tests(&format!("[imds_defaults]\n{table}"), |ctx| {
            diff(ctx, &Observed { regions })
        })
    }

    fn set(tokens: &str, hops: i32) -> Settings {
        Settings {
            http_tokens: Some(tokens.into()),
            hop_limit: Some(hops),
            managed_by: Some("account".into()),
            ..Settings::default()
        }
    }

    #[test]
    fn nothing_set_is_not_in_line_and_is_set_with_the_precedence_note() {
        let d = diff_of(
            "",
            vec![("eu-west-1".into(), InRegion::Read(Settings::default()))],
        );
        let c = &d.changes[0];
        assert_eq!(c.fields.len(), 2);
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert!(
            c.note
                .as_deref()
                .unwrap()
                .contains("AMI's ImdsSupport take precedence")
        );
        assert_eq!(
            c.ops,
            [Op::Require {
                region: "eu-west-1".into(),
                hop_limit: 2,
                http_tokens_enforced: None
            }]
        );
    }

    #[test]
    fn only_what_differs_and_enforcement_only_when_asked() {
        let d = diff_of(
            "",
            vec![
                ("eu-west-1".into(), InRegion::Read(set("required", 2))),
                ("us-east-1".into(), InRegion::Read(set("optional", 2))),
            ],
        );
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].fields.len(), 1, "one line per region");
        assert_eq!(d.changes[0].fields[0].field, "HttpTokens");
        let d = diff_of(
            "http_tokens_enforced = true\nhop_limit = 1\n",
            vec![("eu-west-1".into(), InRegion::Read(set("required", 2)))],
        );
        let fields: Vec<&str> = d.changes[0]
            .fields
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["HttpPutResponseHopLimit", "HttpTokensEnforced"]);
    }

    #[test]
    fn a_declarative_policy_makes_it_a_manual_action() {
        let mut s = set("optional", 2);
        s.managed_by = Some("declarative-policy".into());
        s.managed_message = Some("Managed by your organization".into());
        let d = diff_of("", vec![("eu-west-1".into(), InRegion::Read(s))]);
        assert!(d.changes[0].is_manual());
        assert!(d.changes[0].ops.is_empty());
        assert!(
            d.changes[0]
                .note
                .as_deref()
                .unwrap()
                .contains("declarative policy")
        );
    }
}
