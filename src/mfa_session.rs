//! MFA sessions for re-runs. Once the admin group enforces MFA, an admin signing with long-term
//! access keys is denied almost everything. When the caller is an IAM user with an MFA device,
//! the run continues with an STS `GetSessionToken` session made with a code: asked for at a
//! terminal, or from `--mfa-code`. SSO and role sessions are left as they are.

use crate::aws::{Aws, SdkResultExt, absent_on, error_code};
use crate::controls::admin_mfa::check_code;
use crate::interact::Interaction;

/// How long the session lasts: long enough for any run.
const SESSION_SECONDS: i32 = 3600;
const CODE_ATTEMPTS: usize = 3;

/// Return the context to run with: an MFA session when one applies, else `aws` unchanged.
pub async fn establish(
    aws: Aws,
    mfa_code: Option<&str>,
    mfa_serial: Option<&str>,
    io: &dyn Interaction,
) -> anyhow::Result<Aws> {
    let Some(user) = aws.caller.user_name().map(str::to_string) else {
        if mfa_code.is_some() {
            io.message(&format!(
                "--mfa-code ignored: MFA sessions are for IAM users with long-term access keys, and this run is {}.",
                aws.caller.describe()
            ));
        }
        return Ok(aws);
    };
    if aws.caller.temporary {
        // Already a session (GetSessionToken or similar): it carries whatever MFA it was made with,
        // and GetSessionToken only accepts long-term keys.
        if mfa_code.is_some() {
            io.message(&format!(
                "--mfa-code ignored: IAM user {user} already signs with a session (temporary credentials), \
                 which carries whatever MFA it was made with; an MFA session needs the user's long-term access key."
            ));
        }
        return Ok(aws);
    }
    let serial = match mfa_serial {
        Some(s) => s.to_string(),
        None => {
            // Usually asked already, together with GetCallerIdentity. Allowed even without MFA
            // under the admin group's guard (own user only).
            let serials: Vec<String> = match aws.own_mfa_devices.clone() {
                Some(serials) => serials,
                None => absent_on(
                    aws.iam.list_mfa_devices().user_name(&user).send().await,
                    &["NoSuchEntity", "AccessDenied"],
                    format!("listing the MFA devices of IAM user {user}"),
                )?
                .map(|d| d.mfa_devices.into_iter().map(|m| m.serial_number).collect())
                .unwrap_or_default(),
            };
            let Some(first) = serials.iter().find(|s| usable_with_session_token(s)) else {
                if !serials.is_empty() {
                    let why = format!(
                        "IAM user {user} has only security keys or passkeys, which GetSessionToken cannot use: add a \
                         virtual (authenticator app) or hardware TOTP device for command-line use, or pass --mfa-serial"
                    );
                    if mfa_code.is_some() {
                        anyhow::bail!("--mfa-code given, but {why}");
                    }
                    io.message(&why);
                    return Ok(aws);
                }
                if mfa_code.is_some() {
                    anyhow::bail!(
                        "--mfa-code given, but IAM user {user} has no MFA device (or may not list it): pass --mfa-serial"
                    );
                }
                return Ok(aws);
            };
            first.clone()
        }
    };
    if mfa_code.is_none() && !io.is_interactive() {
        io.message(&format!(
            "IAM user {user} has an MFA device but this run signs without MFA: if the admin group requires MFA, \
             calls will be denied. Pass --mfa-code CODE (or run at a terminal)."
        ));
        return Ok(aws);
    }
    for attempt in 1..=CODE_ATTEMPTS {
        let code = match mfa_code {
            Some(c) => {
                check_code(c).map_err(|e| anyhow::anyhow!("--mfa-code {c:?}: {e}"))?;
                c.to_string()
            }
            None => io.input(&format!("MFA code for {user} ({serial})"), &check_code)?,
        };
        let result = aws
            .sts
            .get_session_token()
            .serial_number(&serial)
            .token_code(&code)
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            // A wrong code is AccessDenied ("MultiFactorAuthentication failed ...").
            Err(e) if mfa_code.is_none() && error_code(&e) == Some("AccessDenied") => {
                if attempt < CODE_ATTEMPTS {
                    io.message("AWS did not accept that code; try the one the app shows now.");
                }
                continue;
            }
            Err(e) => {
                return Err(e).describe(format!(
                    "starting an MFA session for IAM user {user} (GetSessionToken with device {serial})"
                ));
            }
        };
        let creds = crate::aws::session_credentials(
            out.credentials,
            "GetSessionToken",
            "aws-harden-mfa-session",
        )?;
        let mut caller = aws.caller.clone();
        caller.access_key_id = Some(creds.access_key_id().to_string());
        caller.temporary = true;
        caller.mfa_session = true;
        tracing::info!(%serial, "continuing with an MFA session");
        return Ok(aws.with_credentials(creds, caller));
    }
    anyhow::bail!("AWS did not accept the MFA code {CODE_ATTEMPTS} times; nothing was changed")
}

/// A device `GetSessionToken` can take a code from: a virtual (`...:mfa/NAME`) or hardware TOTP device
/// (a plain serial number). FIDO security keys and passkeys also show in `ListMFADevices`, with a
/// `...:u2f/...` serial, but give no codes (STS API reference, GetSessionToken: `SerialNumber` is a
/// hardware device's serial number or a virtual device's ARN).
pub fn usable_with_session_token(serial: &str) -> bool {
    !serial.contains(":u2f/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_keys_and_passkeys_are_never_picked_for_a_session() {
        assert!(usable_with_session_token(
            "arn:aws:iam::123456789012:mfa/admin"
        ));
        assert!(usable_with_session_token("GAHT12345678"));
        assert!(!usable_with_session_token(
            "arn:aws:iam::123456789012:u2f/user/admin/key-ABCDEFGHIJKLMNOP"
        ));
    }
}
