//! Waiting for root MFA. It is console-only, so the root control can only report it as a manual
//! action; an interactive apply may wait while the person turns it on, and then no longer show it.
//! That is a conversation with the person, so it lives here with the commands, not in the control.

use std::time::Duration;

use crate::aws::Aws;
use crate::change::ControlId;
use crate::controls::Change;
use crate::controls::root::{self, ROOT_MFA_RESOURCE};
use crate::ctrl_c::CtrlC;
use crate::engine::Assessment;
use crate::interact::Interaction;

/// Interactive runs only: when root MFA is the manual action left, offer to wait while the person
/// turns it on in the console. Polls `GetAccountSummary` with a visible countdown; Ctrl-C skips.
/// Returns the assessment without that action once root MFA shows as enabled.
pub async fn offer_to_wait(
    aws: &Aws,
    mut assessment: Assessment,
    io: &dyn Interaction,
    ctrl_c: &CtrlC,
) -> anyhow::Result<Assessment> {
    let is_mfa = |c: &Change| c.control == ControlId::Root && c.resource == ROOT_MFA_RESOURCE;
    if !io.is_interactive() || !assessment.changes.iter().any(is_mfa) {
        return Ok(assessment);
    }
    if !io.confirm(
        "Root has no MFA. Wait here while you turn it on in the console (steps above)?",
        false,
    )? {
        return Ok(assessment);
    }
    // From now on Ctrl-C skips the wait; it must not also stop the apply that follows.
    let mut skip = ctrl_c.skip();
    const WAIT: Duration = Duration::from_secs(15 * 60);
    const POLL_EVERY: u64 = 5;
    let started = std::time::Instant::now();
    let mut tick: u64 = 0;
    loop {
        let left = WAIT.saturating_sub(started.elapsed());
        if left.is_zero() {
            io.status(None);
            io.message("Stopped waiting for root MFA; it stays a manual action.");
            return Ok(assessment);
        }
        if tick.is_multiple_of(POLL_EVERY) && root::root_mfa_enabled(aws).await? {
            io.status(None);
            io.message("Root MFA is on.");
            assessment.changes.retain(|c| !is_mfa(c));
            return Ok(assessment);
        }
        let secs = left.as_secs();
        io.status(Some(&format!(
            "Waiting for root MFA: checking every {POLL_EVERY} s, {}:{:02} left. Ctrl-C skips.",
            secs / 60,
            secs % 60
        )));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => tick += 1,
            () = skip.pressed() => {
                io.status(None);
                io.message("Skipped: root MFA stays a manual action.");
                return Ok(assessment);
            }
        }
    }
}
