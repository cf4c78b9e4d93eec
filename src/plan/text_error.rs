//! Errors about the plan text itself, made safe for a terminal: the real problem first, a line
//! and column, excerpts cut to a few hundred characters, and no control bytes echoed.

use super::error::{MAX_SHOWN, PlanError, show};

/// 1-based line and column (in characters) of byte offset `at`.
pub fn line_column(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..text.floor_char_boundary(at)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// TOML allows no control characters but tab (and CR before LF); C1 controls are refused too:
/// a terminal would act on any of them when an error echoes the line (escape-sequence injection).
pub fn check_control_characters(text: &str) -> Result<(), PlanError> {
    let mut prev_cr = None;
    for (i, c) in text.char_indices() {
        if let Some(at) = prev_cr.take()
            && c != '\n'
        {
            return Err(control(text, at, '\r'));
        }
        match c {
            '\t' | '\n' => {}
            '\r' => prev_cr = Some(i),
            c if c.is_control() => return Err(control(text, i, c)),
            _ => {}
        }
    }
    match prev_cr {
        Some(at) => Err(control(text, at, '\r')),
        None => Ok(()),
    }
}

fn control(text: &str, at: usize, c: char) -> PlanError {
    let (line, column) = line_column(text, at);
    PlanError::Toml(format!(
        "control character U+{:04X} at line {line}, column {column}: plan files are plain text",
        c as u32
    ))
}

/// A TOML error rebuilt from its message and position: the toml crate's own rendering quotes the
/// whole line (52 MB for a one-line 50 MB file).
pub fn toml(text: &str, e: &toml::de::Error) -> PlanError {
    let message = cut(e.message().trim());
    let Some(span) = e.span() else {
        return PlanError::Toml(message);
    };
    let (line, column) = line_column(text, span.start);
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    // No key of a plan is an array of tables: say what to write instead of serde's "invalid type".
    if let Some(name) = array_of_tables(line_text) {
        return PlanError::Toml(format!(
            "[[{name}]] at line {line} makes an array of tables, but {name} must be a table: write [{name}]"
        ));
    }
    let mut out = format!("{message} at line {line}, column {column}");
    let excerpt = excerpt(line_text, column);
    if !excerpt.is_empty() {
        out.push_str(&format!("\n  line {line}: {excerpt}"));
    }
    PlanError::Toml(out)
}

/// `admin_group` for a `[[admin_group]]` header line.
fn array_of_tables(line: &str) -> Option<String> {
    let inner = line.trim().strip_prefix("[[")?.split("]]").next()?.trim();
    (!inner.is_empty()
        && inner.len() <= 64
        && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then(|| inner.to_string())
}

/// At most `MAX_SHOWN` characters of `line` around `column`, escaped.
fn excerpt(line: &str, column: usize) -> String {
    let n = line.chars().count();
    if n <= MAX_SHOWN {
        return show(line);
    }
    let start = column.saturating_sub(MAX_SHOWN / 2).min(n - MAX_SHOWN);
    let part: String = line.chars().skip(start).take(MAX_SHOWN).collect();
    format!(
        "{} (characters {}-{} of {n})",
        show(&part),
        start + 1,
        start + MAX_SHOWN
    )
}

/// A message cut to a few hundred characters, control characters escaped.
fn cut(message: &str) -> String {
    let escaped: String = message
        .chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    let n = escaped.chars().count();
    if n <= 2 * MAX_SHOWN {
        escaped
    } else {
        let head: String = escaped.chars().take(2 * MAX_SHOWN).collect();
        format!("{head}... (message cut: {n} characters)")
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::parse;

    #[test]
    fn control_characters_are_named_not_echoed() {
        for (c, code) in [
            ('\u{1b}', "U+001B"),
            ('\u{7}', "U+0007"),
            ('\0', "U+0000"),
            ('\u{9b}', "U+009B"),
        ] {
            let text = format!("version = 1\nhome_region = \"us-{c}east-1\"\n");
            let e = parse(&text).unwrap_err().to_string();
            assert!(
                e.contains(&format!("control character {code} at line 2, column 19")),
                "{e}"
            );
            assert!(!e.contains(c), "raw control character in {e:?}");
        }
        // Tabs and CRLF line ends are plain text.
        assert!(parse("version = 1\r\nhome_region =\t\"us-east-1\"\r\n").is_ok());
        assert!(parse("version = 1\rhome_region = \"us-east-1\"\n").is_err());
    }

    #[test]
    fn huge_lines_give_bounded_errors_with_the_problem_first() {
        let text = format!(
            "version = 1\nhome_region = \"us-east-1\"\nx = {}\n",
            "1".repeat(5_000_000)
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.len() < 2000, "{} bytes", e.len());
        assert!(e.contains("line 3"), "{e}");
        let text = "[".repeat(200_000);
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.len() < 2000, "{} bytes", e.len());
        assert!(!e.starts_with("[[["), "the problem comes first: {e}");
    }
}
