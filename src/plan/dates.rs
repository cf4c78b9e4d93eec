//! Calendar dates without a date crate: days since 1970-01-01 in the proleptic Gregorian calendar
//! (Howard Hinnant's `days_from_civil` / `civil_from_days`,
//! http://howardhinnant.github.io/date_algorithms.html), and the two text forms aws-harden reads:
//! a plan's `YYYY-MM-DD` and an ISO 8601 time in UTC (`...Z` or `...+00:00`, as the IAM credential
//! report and saved changes write it). In the plan module so the fuzz target compiles it with it.

/// Days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Whether `text` is digits but for `sep` at the positions `at`, and `len` long.
fn shaped(text: &str, len: usize, at: [usize; 2], sep: u8) -> bool {
    let b = text.as_bytes();
    b.len() == len
        && b.iter().enumerate().all(|(i, &c)| match at.contains(&i) {
            true => c == sep,
            false => c.is_ascii_digit(),
        })
}

/// `YYYY-MM-DD`, a real date from 1970 on: its days since 1970-01-01; `None` for anything else.
pub fn parse_date(text: &str) -> Option<i64> {
    if !shaped(text, 10, [4, 7], b'-') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day == 0 || day > days_in_month {
        return None;
    }
    Some(days_from_civil(i64::from(year), month, day))
}

/// `YYYY-MM-DDTHH:MM:SS` then `Z` or `+00:00` (UTC only): seconds since 1970; `None` otherwise.
pub fn parse_utc_time(text: &str) -> Option<u64> {
    let (date, rest) = text.split_at_checked(10)?;
    let time = rest
        .strip_prefix('T')?
        .strip_suffix('Z')
        .or_else(|| rest[1..].strip_suffix("+00:00"))?;
    let days = parse_date(date)?;
    if !shaped(time, 8, [2, 5], b':') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| time[r].parse::<u64>().ok();
    let (hour, minute, second) = (num(0..2)?, num(3..5)?, num(6..8)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days as u64 * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_parse_only_in_their_forms() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "1969-12-31",
            "2024-01-01 ",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(parse_utc_time("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(parse_utc_time("1970-01-02T00:00:01+00:00"), Some(86_401));
        for bad in [
            "1970-01-02T00:00:01+01:00",
            "1970-01-02 00:00:01Z",
            "1970-01-02T24:00:00Z",
            "N/A",
            "",
        ] {
            assert_eq!(parse_utc_time(bad), None, "{bad}");
        }
        for days in [-1, 0, 19_782, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
