//! MFA for the admin user (CIS 1.9). At a terminal: enrollment right there (a virtual MFA device,
//! its QR code and secret on the screen, two consecutive codes). Under `--yes` or without a
//! terminal nobody can scan a code: a manual action, pending until done.

use crate::aws::{Aws, SdkResultExt, absent_on, error_code, sdk_error};
use crate::change::{Action, Change, ControlId, Diff};
use crate::controls::control::{Control, DiffContext};
use crate::interact::Interaction;
use crate::plan::Plan;

const CONTROL: ControlId = ControlId::named("admin_mfa");

/// A virtual MFA device for the admin user, enrolled at the terminal.
pub struct AdminMfa;

impl Control for AdminMfa {
    const ID: ControlId = CONTROL;
    const TITLE: &'static str = "Admin user MFA";
    const CIS: &'static [&'static str] = &["1.9"];
    /// Configured by `mfa` in the admin user's table.
    const PLAN_TABLE: &'static str = "admin_user";
    type Observed = Observed;
    type Op = Op;

    fn managed(plan: &Plan) -> bool {
        plan.admin_user().is_some_and(|u| u.mfa)
    }
    async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
        observe(aws, plan).await
    }
    fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
        diff(ctx, observed)
    }
    async fn apply(aws: &Aws, op: &Op, io: &dyn Interaction) -> anyhow::Result<()> {
        apply(aws, op, io).await
    }
}
/// Wrong codes accepted before giving up (the device is then cleaned up on the next run).
const CODE_ATTEMPTS: usize = 5;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Observed {
    /// Serial numbers of the user's MFA devices; empty when the user does not exist yet.
    pub devices: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Create a virtual MFA device for the user and enable it with codes typed at the terminal.
    EnrollVirtual { user: String },
}

pub async fn observe(aws: &Aws, plan: &Plan) -> anyhow::Result<Observed> {
    let Some(u) = &plan.admin_user else {
        return Ok(Observed::default());
    };
    let devices = absent_on(
        aws.iam.list_mfa_devices().user_name(&u.name).send().await,
        &["NoSuchEntity"],
        format!("listing the MFA devices of IAM user {}", u.name),
    )?;
    Ok(Observed {
        devices: devices
            .map(|d| d.mfa_devices.into_iter().map(|m| m.serial_number).collect())
            .unwrap_or_default(),
    })
}

pub fn diff(ctx: &DiffContext, observed: &Observed) -> Diff<Op> {
    let mut d = Diff::default();
    let Some(user) = ctx.plan.admin_user().filter(|u| u.mfa) else {
        return d;
    };
    d.checked(
        CONTROL,
        format!("mfa device for iam user \"{}\"", user.name),
        &["1.9"],
    );
    if !observed.devices.is_empty() {
        return d;
    }
    let name = &user.name;
    let resource = format!("mfa device for iam user \"{name}\"");
    if ctx.interactive {
        d.push(
            Change::new(
                CONTROL,
                resource,
                Action::Create,
                Op::EnrollVirtual { user: name.clone() },
            )
            .field(
                "virtual mfa device",
                None::<String>,
                Some("(enrolled here: scan a QR code, type two codes)"),
            )
            .cis(&["1.9"]),
        );
    } else {
        d.push(
            Change::manual(CONTROL, resource)
                .cis(&["1.9"])
                .note(format!(
                    "Run aws-harden at a terminal (without --yes) to enroll it there, or enroll in the console: sign in \
                     as {name}, open Security credentials, and under \"Multi-factor authentication (MFA)\" choose \
                     \"Assign MFA device\" (authenticator app or security key)."
                )),
        );
    }
    d
}

/// The URI authenticator apps read from the QR code (the format AWS's console uses).
pub fn otpauth_uri(user: &str, account: &str, secret: &str) -> String {
    format!("otpauth://totp/AWS:{user}@{account}?secret={secret}&issuer=AWS")
}

/// A six-digit code.
pub fn check_code(code: &str) -> Result<(), String> {
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err("type the 6 digits your app shows".into())
    }
}

pub async fn apply(aws: &Aws, op: &Op, io: &dyn Interaction) -> anyhow::Result<()> {
    match op {
        Op::EnrollVirtual { user } => enroll(aws, user, io).await,
    }
}

async fn enroll(aws: &Aws, user: &str, io: &dyn Interaction) -> anyhow::Result<()> {
    anyhow::ensure!(
        io.is_interactive(),
        "enrolling an MFA device needs a person at a terminal"
    );
    // AWS hands out a device's secret only when it is created: a device an aborted run left
    // unassigned is useless, so it is deleted and a new one created.
    let device_name = user;
    let unassigned = aws
        .iam
        .list_virtual_mfa_devices()
        .assignment_status(aws_sdk_iam::types::AssignmentStatusType::Unassigned)
        // Paginated (IsTruncated/Marker, IAM API reference): an account can have many devices.
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .describe("listing unassigned virtual MFA devices")?;
    let suffix = format!(":mfa/{device_name}");
    for d in unassigned
        .iter()
        .filter(|d| d.serial_number.ends_with(&suffix))
    {
        aws.iam
            .delete_virtual_mfa_device()
            .serial_number(&d.serial_number)
            .send()
            .await
            .describe(format!(
                "deleting the unassigned MFA device {} left by an earlier run",
                d.serial_number
            ))?;
    }
    let created = aws
        .iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(device_name)
        .send()
        .await
        .describe(format!("creating a virtual MFA device for IAM user {user}"))?;
    let device = created
        .virtual_mfa_device
        .ok_or_else(|| anyhow::anyhow!("CreateVirtualMFADevice returned no device"))?;
    let serial = device.serial_number.clone();
    let secret = device
        .base32_string_seed
        .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
        .ok_or_else(|| anyhow::anyhow!("CreateVirtualMFADevice returned no secret"))?;
    io.show_mfa_secret(
        &format!("MFA for IAM user {user} (device {serial})"),
        &otpauth_uri(user, aws.account_id(), &secret),
        &secret,
    )?;
    drop(secret);
    for attempt in 1..=CODE_ATTEMPTS {
        let first = io.input("First code from the app", &check_code)?;
        let second = io.input(
            "Next code (wait until the app shows a new one)",
            &|c: &str| {
                check_code(c)?;
                if c == first {
                    Err("that is the same code: wait for the next one".into())
                } else {
                    Ok(())
                }
            },
        )?;
        let result = aws
            .iam
            .enable_mfa_device()
            .user_name(user)
            .serial_number(&serial)
            .authentication_code1(&first)
            .authentication_code2(&second)
            .send()
            .await;
        match result {
            Ok(_) => {
                io.message(&format!("MFA is on for IAM user {user}."));
                return Ok(());
            }
            Err(e) if error_code(&e) == Some("InvalidAuthenticationCode") => {
                if attempt < CODE_ATTEMPTS {
                    io.message(
                        "AWS did not accept those codes. Type two codes in a row as the app shows them (and check \
                         the phone's clock is right).",
                    );
                }
            }
            Err(e) => return Err(sdk_error(format!("enabling MFA for IAM user {user}"), e)),
        }
    }
    anyhow::bail!(
        "AWS did not accept the codes {CODE_ATTEMPTS} times; MFA for IAM user {user} is not on. Run again to start over."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Caller;
    use crate::plan::parse;

    #[test]
    fn interactive_runs_enroll_others_get_a_manual_action() {
        let plan = parse("version = 1\nhome_region = \"us-east-1\"\n[admin_group]\n[admin_user]\n")
            .unwrap();
        let caller = Caller::from_arn("1", "arn:aws:iam::123456789012:root", None, false);
        let mut ctx = DiffContext {
            plan: &plan,
            caller: &caller,
            interactive: true,
            written: &[],
        };
        let d = diff(&ctx, &Observed::default());
        assert_eq!(d.changes[0].action, Action::Create);
        assert_eq!(
            d.changes[0].ops,
            [Op::EnrollVirtual {
                user: "admin".into()
            }]
        );
        ctx.interactive = false;
        let d = diff(&ctx, &Observed::default());
        assert_eq!(d.changes[0].action, Action::Manual);
        assert!(
            d.changes[0]
                .note
                .as_ref()
                .unwrap()
                .contains("at a terminal")
        );
        let enrolled = Observed {
            devices: vec!["arn:aws:iam::123456789012:mfa/admin".into()],
        };
        assert!(diff(&ctx, &enrolled).changes.is_empty());
    }

    #[test]
    fn codes_are_six_digits() {
        assert!(check_code("123456").is_ok());
        for bad in ["12345", "1234567", "12a456", ""] {
            assert!(check_code(bad).is_err(), "{bad}");
        }
        assert_eq!(
            otpauth_uri("admin", "123456789012", "ABC"),
            "otpauth://totp/AWS:admin@123456789012?secret=ABC&issuer=AWS"
        );
    }

    /// The test suite computes codes with totp-rs; prove it is RFC 6238 (SHA-1 vectors, Appendix B).
    #[test]
    fn totp_matches_rfc_6238_vectors() {
        use totp_rs::{Algorithm, TOTP};
        let totp = TOTP::new(Algorithm::SHA1, 8, 1, 30, b"12345678901234567890".to_vec()).unwrap();
        for (t, code) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(totp.generate(t), code, "t={t}");
        }
    }
}
