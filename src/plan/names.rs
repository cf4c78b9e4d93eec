//! S3 bucket names: the rule shared by every bucket a plan names.

/// S3's bucket naming rules (general purpose buckets), plus one of ours: no dots, because a dotted
/// name breaks TLS certificate matching under virtual-hosted addressing. `Err` says what is wrong.
pub fn check_bucket_name(name: &str) -> std::result::Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3-63 characters long".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        return Err("may hold only lowercase letters, digits and hyphens".into());
    }
    if name.contains('.') {
        return Err("must not contain dots (they break TLS with virtual-hosted addressing)".into());
    }
    let first_last_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_last_ok(name.chars().next()) || !first_last_ok(name.chars().last()) {
        return Err("must begin and end with a letter or digit".into());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("must not begin with {prefix:?} (reserved by S3)"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("must not end with {suffix:?} (reserved by S3)"));
        }
    }
    Ok(())
}

pub fn bucket_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}
