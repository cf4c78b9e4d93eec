//! The admin group's MFA guard, proven in the live account rather than assumed from its JSON.
//!
//! The guard is the inline policy `aws-harden-require-mfa` (`admin_group::require_mfa_policy`). Whether it
//! holds depends on every policy the admin user has (group and user policies, a permissions boundary), so
//! it is judged by IAM's own evaluator: `iam:SimulatePrincipalPolicy` for the admin user, once per
//! sign-in context, against the table below (the specification, issue 10).
//!
//! AWS pages relied on:
//! - SimulatePrincipalPolicy (IAM API reference): policies of the user *and its groups* are included; the
//!   caller defaults to that user, so `${aws:username}` resolves to it; context keys that are not given are
//!   simulated as absent; per-resource decisions are in `ResourceSpecificResults` (the top-level
//!   `EvalResourceName` is only the ARN template); results are paginated (`IsTruncated`/`Marker`).
//! - AWS global condition context keys, `aws:MultiFactorAuthPresent`: absent for long-term access keys,
//!   `false` for temporary credentials obtained without MFA (a console sign-in), `true` with MFA.

use crate::aws::{Aws, absent_on};

/// How a request is signed, as IAM sees `aws:MultiFactorAuthPresent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// A long-term access key: the context key is absent.
    LongTermKey,
    /// A console session without MFA: the key is `false`.
    ConsoleWithoutMfa,
    /// A session with MFA: the key is `true`.
    WithMfa,
}

impl SignIn {
    pub const ALL: [SignIn; 3] = [
        SignIn::LongTermKey,
        SignIn::ConsoleWithoutMfa,
        SignIn::WithMfa,
    ];

    /// The `aws:MultiFactorAuthPresent` value to simulate; `None` leaves it out (absent).
    pub fn mfa_present(self) -> Option<&'static str> {
        match self {
            SignIn::LongTermKey => None,
            SignIn::ConsoleWithoutMfa => Some("false"),
            SignIn::WithMfa => Some("true"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SignIn::LongTermKey => "long-term access key",
            SignIn::ConsoleWithoutMfa => "console without MFA",
            SignIn::WithMfa => "session with MFA",
        }
    }
}

/// What a case is tried on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A virtual MFA device of any name (`mfa/...`).
    MfaDevice,
    /// The admin user itself.
    OwnUser,
    /// Another IAM user (existing or to be created).
    OtherUser,
    /// No particular resource (`*`).
    Any,
}

impl Target {
    pub fn label(self) -> &'static str {
        match self {
            Target::MfaDevice => "an MFA device",
            Target::OwnUser => "own user",
            Target::OtherUser => "another user",
            Target::Any => "*",
        }
    }
}

/// One row of the specification: the decision IAM must reach for each sign-in, in `SignIn::ALL` order
/// (`true` = allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    pub action: &'static str,
    pub target: Target,
    pub allowed: [bool; 3],
}

/// For a member of the admin group who has no MFA device yet (the specification; IAM's evaluation
/// logic: an explicit deny wins, then an allow is needed). Long-term keys may do nothing, not even enroll
/// their own first device (the hole AWS-2023-001 left open); a console session without MFA may enroll
/// its own device and change its own password, nothing else.
pub const CASES: [Case; 6] = [
    Case {
        action: "iam:CreateVirtualMFADevice",
        target: Target::MfaDevice,
        allowed: [false, true, true],
    },
    Case {
        action: "iam:EnableMFADevice",
        target: Target::OwnUser,
        allowed: [false, true, true],
    },
    Case {
        action: "iam:EnableMFADevice",
        target: Target::OtherUser,
        allowed: [false, false, true],
    },
    Case {
        action: "iam:ChangePassword",
        target: Target::OwnUser,
        allowed: [false, true, true],
    },
    Case {
        action: "iam:CreateUser",
        target: Target::OtherUser,
        allowed: [false, false, true],
    },
    Case {
        action: "s3:ListAllMyBuckets",
        target: Target::Any,
        allowed: [false, false, true],
    },
];

/// The name used for the probe resources: they need not exist (the simulator takes any ARN).
const PROBE: &str = "aws-harden-guard-probe";

/// The ARN a target stands for in this account.
pub fn target_arn(target: Target, partition: &str, account: &str, user: &str) -> String {
    match target {
        Target::MfaDevice => format!("arn:{partition}:iam::{account}:mfa/{PROBE}"),
        Target::OwnUser => format!("arn:{partition}:iam::{account}:user/{user}"),
        Target::OtherUser => format!("arn:{partition}:iam::{account}:user/{PROBE}"),
        Target::Any => "*".into(),
    }
}

/// IAM's decision for one case and sign-in, as the simulator reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub case: Case,
    pub sign_in: SignIn,
    /// `allowed`, `explicitDeny` or `implicitDeny`; `None` when the answer did not contain this case.
    pub decision: Option<String>,
}

/// A case whose decision is not the specified one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub case: Case,
    pub sign_in: SignIn,
    pub got: String,
    pub expected: &'static str,
}

impl Failure {
    /// E.g. `long-term access key: iam:EnableMFADevice on own user`.
    pub fn name(&self) -> String {
        format!(
            "{}: {} on {}",
            self.sign_in.label(),
            self.case.action,
            self.case.target.label()
        )
    }
}

/// The cases IAM decided otherwise than specified. Pure. A case missing from the answer is a failure:
/// unknown is never compliant.
pub fn failures(outcomes: &[Outcome]) -> Vec<Failure> {
    let mut out = Vec::new();
    for case in CASES {
        for (i, sign_in) in SignIn::ALL.into_iter().enumerate() {
            let expected = if case.allowed[i] { "allowed" } else { "denied" };
            let decision = outcomes
                .iter()
                .find(|o| o.case == case && o.sign_in == sign_in)
                .and_then(|o| o.decision.clone());
            let ok = match decision.as_deref() {
                Some("allowed") => case.allowed[i],
                Some("explicitDeny") | Some("implicitDeny") => !case.allowed[i],
                _ => false,
            };
            if !ok {
                out.push(Failure {
                    case,
                    sign_in,
                    got: decision.unwrap_or_else(|| "not reported by the simulator".into()),
                    expected,
                });
            }
        }
    }
    out
}

/// Ask IAM's policy simulator how every case is decided for `user_arn`, under each sign-in. Reads only:
/// two calls per sign-in (IAM actions on their resources; the S3 action on `*`), all at once. `None`
/// when IAM answers that the user does not exist (`NoSuchEntity`).
pub async fn simulate(
    aws: &Aws,
    user_arn: &str,
    user: &str,
) -> anyhow::Result<Option<Vec<Outcome>>> {
    let partition = &aws.caller.partition;
    let account = aws.account_id();
    let calls = SignIn::ALL.into_iter().flat_map(|sign_in| {
        [true, false].map(move |iam| async move {
            let cases: Vec<Case> = CASES
                .into_iter()
                .filter(|c| (c.target != Target::Any) == iam)
                .collect();
            let mut actions: Vec<&str> = cases.iter().map(|c| c.action).collect();
            actions.dedup();
            let mut resources: Vec<String> = cases
                .iter()
                .map(|c| target_arn(c.target, partition, account, user))
                .filter(|r| r != "*")
                .collect();
            resources.sort();
            resources.dedup();
            // Every key the guard's policies use is given (IAM API reference,
            // SimulatePrincipalPolicy: a key left out is listed in MissingContextValues), so the
            // simulator decides as AWS would for this user: `${aws:username}` in the guard's
            // resources, and the MFA key but where "absent" is the sign-in simulated.
            let mut req = aws
                .iam
                .simulate_principal_policy()
                .policy_source_arn(user_arn)
                .set_action_names(Some(actions.iter().map(|a| a.to_string()).collect()))
                .set_resource_arns((!resources.is_empty()).then_some(resources))
                .context_entries(
                    aws_sdk_iam::types::ContextEntry::builder()
                        .context_key_name("aws:username")
                        .context_key_values(user)
                        .context_key_type(aws_sdk_iam::types::ContextKeyTypeEnum::String)
                        .build(),
                );
            if let Some(value) = sign_in.mfa_present() {
                req = req.context_entries(
                    aws_sdk_iam::types::ContextEntry::builder()
                        .context_key_name("aws:MultiFactorAuthPresent")
                        .context_key_values(value)
                        .context_key_type(aws_sdk_iam::types::ContextKeyTypeEnum::Boolean)
                        .build(),
                );
            }
            let pages = absent_on(
                req.into_paginator()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await,
                &["NoSuchEntity"],
                format!(
                    "simulating the MFA guard for {user_arn} ({}; iam:SimulatePrincipalPolicy)",
                    sign_in.label()
                ),
            )?;
            let Some(pages) = pages else {
                return Ok(None);
            };
            let results: Vec<_> = pages
                .into_iter()
                .flat_map(|p| p.evaluation_results.unwrap_or_default())
                .collect();
            let outcomes = cases
                .iter()
                .map(|case| {
                    let arn = target_arn(case.target, partition, account, user);
                    // A decision made without a key the policies need is no decision: "could not
                    // check", never a pass. The MFA key is missing on purpose for a long-term key.
                    let judged = |decision: &str, missing: Option<&[String]>| {
                        let missing: Vec<&String> = missing
                            .unwrap_or_default()
                            .iter()
                            .filter(|k| {
                                !(sign_in.mfa_present().is_none()
                                    && k.eq_ignore_ascii_case("aws:MultiFactorAuthPresent"))
                            })
                            .collect();
                        match missing.is_empty() {
                            true => decision.to_string(),
                            false => format!(
                                "could not check: the simulator lacked context values {}",
                                missing
                                    .iter()
                                    .map(|k| k.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        }
                    };
                    let decision = results
                        .iter()
                        .filter(|r| r.eval_action_name.eq_ignore_ascii_case(case.action))
                        .find_map(|r| {
                            if arn == "*" {
                                return Some(judged(
                                    r.eval_decision.as_str(),
                                    r.missing_context_values.as_deref(),
                                ));
                            }
                            r.resource_specific_results
                                .as_deref()
                                .unwrap_or_default()
                                .iter()
                                .find(|s| s.eval_resource_name == arn)
                                .map(|s| {
                                    judged(
                                        s.eval_resource_decision.as_str(),
                                        s.missing_context_values.as_deref(),
                                    )
                                })
                        });
                    Outcome {
                        case: *case,
                        sign_in,
                        decision,
                    }
                })
                .collect::<Vec<_>>();
            Ok::<_, anyhow::Error>(Some(outcomes))
        })
    });
    let all = futures_util::future::try_join_all(calls).await?;
    Ok(all
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(decide: impl Fn(Case, SignIn) -> Option<&'static str>) -> Vec<Outcome> {
        CASES
            .into_iter()
            .flat_map(|case| {
                let decide = &decide;
                SignIn::ALL.into_iter().map(move |sign_in| Outcome {
                    case,
                    sign_in,
                    decision: decide(case, sign_in).map(str::to_string),
                })
            })
            .collect()
    }

    fn as_specified(case: Case, sign_in: SignIn) -> Option<&'static str> {
        let i = SignIn::ALL.iter().position(|s| *s == sign_in).unwrap();
        Some(if case.allowed[i] {
            "allowed"
        } else {
            "explicitDeny"
        })
    }

    #[test]
    fn the_specified_decisions_pass() {
        assert!(failures(&outcomes(as_specified)).is_empty());
        // An implicit deny is a deny too.
        let implicit = outcomes(|c, s| {
            as_specified(c, s).map(|d| {
                if d == "explicitDeny" {
                    "implicitDeny"
                } else {
                    d
                }
            })
        });
        assert!(failures(&implicit).is_empty());
    }

    #[test]
    fn a_key_enrolling_its_own_device_is_named() {
        // The old guard: its exemptions let a long-term key enable its own first device.
        let hole = outcomes(|c, s| {
            if s == SignIn::LongTermKey
                && c.action == "iam:EnableMFADevice"
                && c.target == Target::OwnUser
            {
                Some("allowed")
            } else {
                as_specified(c, s)
            }
        });
        let f = failures(&hole);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].name(),
            "long-term access key: iam:EnableMFADevice on own user"
        );
        assert_eq!((f[0].got.as_str(), f[0].expected), ("allowed", "denied"));
    }

    #[test]
    fn a_case_the_simulator_did_not_report_is_a_failure() {
        let missing = outcomes(|c, s| {
            if c.action == "s3:ListAllMyBuckets" {
                None
            } else {
                as_specified(c, s)
            }
        });
        let f = failures(&missing);
        assert_eq!(f.len(), 3);
        assert!(f.iter().all(|f| f.got.contains("not reported")));
        // And an answer that is none of IAM's three decisions.
        let odd = outcomes(|c, s| {
            if c.action == "iam:CreateUser" {
                Some("maybe")
            } else {
                as_specified(c, s)
            }
        });
        assert_eq!(failures(&odd).len(), 3);
    }

    #[test]
    fn probe_arns_follow_partition_and_account() {
        assert_eq!(
            target_arn(Target::OwnUser, "aws-cn", "123456789012", "alice"),
            "arn:aws-cn:iam::123456789012:user/alice"
        );
        assert_eq!(target_arn(Target::Any, "aws", "1", "a"), "*");
    }
}
