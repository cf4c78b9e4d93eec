//! `{account_id}` and `{home_region}` in names, so one plan serves any account.

use super::error::PlanError;

pub const KNOWN: [&str; 2] = ["account_id", "home_region"];

#[derive(Clone, Debug)]
pub struct Placeholders {
    pub account_id: String,
    pub home_region: String,
}

/// Check that every `{...}` in `value` is a known placeholder and braces are balanced.
pub fn check(key: &str, value: &str) -> Result<(), PlanError> {
    let mut rest = value;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(PlanError::invalid(
                key,
                value,
                "has a '}' without a matching '{'",
            ));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(PlanError::invalid(
                key,
                value,
                "has a '{' without a matching '}'",
            ));
        };
        let name = &after[..close];
        if !KNOWN.contains(&name) {
            return Err(PlanError::invalid(
                key,
                value,
                &format!(
                    "uses unknown placeholder {{{name}}}; known: {{account_id}}, {{home_region}}"
                ),
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Values to check names with before the account is known: an account ID is always 12 digits.
pub fn stand_ins(home_region: &str) -> Placeholders {
    Placeholders {
        account_id: "000000000000".into(),
        home_region: home_region.into(),
    }
}

/// Replace the placeholders. `check` must have passed.
pub fn expand(value: &str, ph: &Placeholders) -> String {
    value
        .replace("{account_id}", &ph.account_id)
        .replace("{home_region}", &ph.home_region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_known_placeholders() {
        let ph = Placeholders {
            account_id: "123456789012".into(),
            home_region: "eu-west-1".into(),
        };
        assert_eq!(
            expand("trail-{account_id}-{home_region}", &ph),
            "trail-123456789012-eu-west-1"
        );
    }

    #[test]
    fn rejects_unknown_and_unbalanced() {
        assert!(check("k", "a-{account_id}").is_ok());
        let e = check("k", "a-{acount_id}").unwrap_err().to_string();
        assert!(e.contains("{acount_id}"), "{e}");
        assert!(check("k", "a-{account_id").is_err());
        assert!(check("k", "a-}").is_err());
    }
}
