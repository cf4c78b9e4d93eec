//! What every regional control's diff shares: each region is judged alone, and a region a policy
//! denies is skipped with a warning, never counted as in line.

use crate::aws::{InRegion, PerRegion};
use crate::change::{Change, ControlId, Diff, Notice};

/// Judge each region's observed settings with `judge`, which returns the region's change when it
/// needs one. Each region read becomes a check of `resource` in that region; the change is placed
/// in its region and gets the control's CIS IDs.
pub fn diff_each_region<S, O>(
    d: &mut Diff<O>,
    (control, resource, cis): (ControlId, &str, &[&str]),
    regions: &PerRegion<S>,
    mut judge: impl FnMut(&str, &S) -> Option<Change<O>>,
) {
    for (region, answer) in regions {
        match answer {
            InRegion::Denied(why) => d.notice(Notice::warning(
                control,
                format!("region {region} skipped: denied by policy ({why})"),
            )),
            // Nothing read: neither in line nor a change; the run exits 1.
            InRegion::Refused(why) => d.notice(Notice::error(
                control,
                format!("region {region} not checked: {why}"),
            )),
            InRegion::Read(live) => {
                d.checked_in(Some(region), control, resource, cis);
                if let Some(change) = judge(region, live) {
                    d.push(change.in_region(region).cis(cis));
                }
            }
        }
    }
}
