//! Saved changes in a run (terraform's `plan -out` and `apply PLANFILE`): saving what a dry run
//! found (`--plan -f PLAN --out FILE`), and `aws-harden apply FILE` refusing unless the account
//! still gives exactly the saved changes. The file itself is `crate::saved`; it is read and checked
//! before any AWS call (`Settings::new`), and the caller right after `GetCallerIdentity` (the
//! session's `connect`). Past these checks a saved apply is a normal apply: shown by the view,
//! confirmed unless `--yes`, applied by `engine::apply` (which still re-checks each control before
//! its first write and verifies after).

use std::path::Path;

use anyhow::bail;

use crate::aws::Caller;
use crate::controls::Change;
use crate::engine::Assessment;
use crate::plan::LoadedPlan;
use crate::saved::SavedChanges;
use crate::settings::Saved;

/// Save the changes a dry run found, with who found them, to `out` (mode 0600, whole or not at
/// all). `signed_in` is the caller before any MFA session, whose key ID would differ every run.
pub fn save(
    out: &Path,
    signed_in: &Caller,
    loaded: &LoadedPlan,
    assessment: &Assessment,
) -> anyhow::Result<()> {
    let saved = SavedChanges::new(
        signed_in,
        &loaded.path.display().to_string(),
        &loaded.text,
        assessment.interactive,
        assessment.changes.clone(),
        std::time::SystemTime::now(),
    );
    saved.save(out)?;
    let out = out.display();
    eprintln!(
        "Saved the changes to {out} (readable by you only). To apply exactly these, within --max-age (1h by default): aws-harden apply {out}"
    );
    Ok(())
}

/// The account must give exactly the saved changes now (manual actions, fields and their "before"
/// values, and ops alike), else nothing is applied: the file says what was reviewed.
pub fn check_unchanged(saved: &Saved, fresh: &Assessment) -> anyhow::Result<()> {
    let s = &saved.changes;
    if s.changes == fresh.changes {
        return Ok(());
    }
    let file = saved.path.display();
    let difference = if fresh.changes.is_empty() {
        "it matches the plan now and needs no change (were these changes applied already?)".into()
    } else {
        first_difference(&s.changes, &fresh.changes)
    };
    let again = format!(
        "Nothing was written. Save the changes again: aws-harden --plan -f {} --out {file}",
        s.plan_file
    );
    if s.interactive != fresh.interactive {
        // Not drift: the admin's MFA is enrolled at a terminal, else a manual action.
        let how = |interactive: bool| {
            if interactive {
                "for a person at a terminal"
            } else {
                "for an unattended run (--yes, or no terminal)"
            }
        };
        bail!(
            "{file} was saved {}, and this apply is {}, which changes what applying means: {difference}. {again} (with --yes to apply with --yes)",
            how(s.interactive),
            how(fresh.interactive)
        );
    }
    bail!("the account changed since {file} was saved: {difference}. {again}")
}

/// The first change where the saved changes and a fresh diff part, said for a person.
fn first_difference(saved: &[Change], fresh: &[Change]) -> String {
    let same = |a: &Change, b: &Change| a.control == b.control && a.located() == b.located();
    let name = |c: &Change| format!("{} ({})", c.located(), c.control.as_str());
    let i = saved
        .iter()
        .zip(fresh)
        .position(|(a, b)| a != b)
        .unwrap_or(saved.len().min(fresh.len()));
    // A change only one side has says the most; then one both have, made differently.
    if let Some(f) = fresh.get(i)
        && !saved.iter().any(|s| same(s, f))
    {
        return format!(
            "{} now needs a change ({}) that the file does not have",
            name(f),
            action(f)
        );
    }
    if let Some(s) = saved.get(i)
        && !fresh.iter().any(|f| same(s, f))
    {
        return format!(
            "{} needs no change now, but the file has one ({})",
            name(s),
            action(s)
        );
    }
    for c in saved.get(i).into_iter().chain(fresh.get(i)) {
        let (Some(s), Some(f)) = (
            saved.iter().find(|s| same(s, c)),
            fresh.iter().find(|f| same(f, c)),
        ) else {
            continue;
        };
        if s != f {
            return format!("{} {}", name(s), how_it_differs(s, f));
        }
    }
    match saved.get(i).or(fresh.get(i)) {
        Some(c) => format!("{} comes at another place in the order", name(c)),
        None => "the changes differ".into(),
    }
}

fn action(c: &Change) -> String {
    format!("{} {:?}", c.action.marker(), c.action).to_lowercase()
}

/// How one resource's saved change and its fresh one differ: the first thing that does.
fn how_it_differs(saved: &Change, fresh: &Change) -> String {
    if saved.action != fresh.action {
        return format!(
            "was saved as {}, and is now {}",
            action(saved),
            action(fresh)
        );
    }
    let value = |v: &Option<String>| {
        v.as_deref()
            .map_or_else(|| "(none)".into(), crate::plan::show)
    };
    for s in &saved.fields {
        match fresh.fields.iter().find(|f| f.field == s.field) {
            None => return format!("no longer changes {}", s.field),
            Some(f) if f.before != s.before => {
                return format!(
                    "has {} {} now, {} when saved",
                    s.field,
                    value(&f.before),
                    value(&s.before)
                );
            }
            Some(f) if f.after != s.after => {
                return format!(
                    "would set {} to {} now, {} when saved",
                    s.field,
                    value(&f.after),
                    value(&s.after)
                );
            }
            Some(_) => {}
        }
    }
    if let Some(f) = fresh
        .fields
        .iter()
        .find(|f| !saved.fields.iter().any(|s| s.field == f.field))
    {
        return format!("now also changes {}", f.field);
    }
    if saved.ops != fresh.ops {
        return "would be made by other writes now".into();
    }
    if saved.stage != fresh.stage {
        return "comes at another stage now".into();
    }
    "differs in its note or CIS IDs".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Action, ControlId};
    use crate::controls::{Op, admin_group, password_policy};

    fn policy(before: u32) -> Change {
        Change::new(
            ControlId::PasswordPolicy,
            "account password policy",
            Action::Update,
            Op::PasswordPolicy(password_policy::Op::Put(Default::default())),
        )
        .field("minimum_length", Some(before), Some(14))
    }

    fn group(name: &str) -> Change {
        Change::new(
            ControlId::AdminGroup,
            format!("iam group \"{name}\""),
            Action::Create,
            Op::AdminGroup(admin_group::Op::CreateGroup { group: name.into() }),
        )
    }

    #[test]
    fn the_first_difference_names_the_resource_and_what_changed() {
        let cases = [
            (
                vec![group("A"), policy(8)],
                vec![group("A"), policy(10)],
                "account password policy (password_policy) has minimum_length \"10\" now, \"8\" when saved",
            ),
            (
                vec![group("A"), policy(8)],
                vec![policy(8)],
                "iam group \"A\" (admin_group) needs no change now, but the file has one (+ create)",
            ),
            (
                vec![policy(8)],
                vec![group("A"), policy(8)],
                "iam group \"A\" (admin_group) now needs a change (+ create) that the file does not have",
            ),
            (
                vec![policy(8), group("A")],
                vec![group("A"), policy(8)],
                "account password policy (password_policy) comes at another place in the order",
            ),
        ];
        for (saved, fresh, expected) in cases {
            assert_eq!(first_difference(&saved, &fresh), expected);
        }
        let mut created = policy(8);
        created.action = Action::Create;
        assert_eq!(
            how_it_differs(&policy(8), &created),
            "was saved as ~ update, and is now + create"
        );
        let mut longer = policy(8);
        longer.fields[0].after = Some("16".into());
        assert_eq!(
            how_it_differs(&policy(8), &longer),
            "would set minimum_length to \"16\" now, \"14\" when saved"
        );
    }
}
