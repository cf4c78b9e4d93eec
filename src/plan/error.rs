//! The plan's one error type. This module imports nothing else from the crate: the fuzz target
//! compiles `src/plan/` on its own, and every plan module reports through this.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    // The OS error is part of the message, not a `source`: `{:#}` would print it twice.
    #[error("cannot read plan file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("plan file {} is larger than 1 MiB (plans are a few KiB): refusing to read more", path.display())]
    TooLarge { path: PathBuf },
    #[error("{0}")]
    Toml(String),
    /// `value` is already shown: quoted, escaped and cut (`show`), or a bare number.
    #[error("{key} = {value}: {problem}")]
    Invalid {
        key: String,
        value: String,
        problem: String,
    },
    #[error("{}: {inner}", path.display())]
    InFile {
        path: PathBuf,
        inner: Box<PlanError>,
    },
}

/// A value as an error message shows it: text quoted with control characters escaped and cut to
/// `MAX_SHOWN` characters (the length named); numbers bare.
pub trait PlanValue {
    fn shown(&self) -> String;
}

impl PlanValue for str {
    fn shown(&self) -> String {
        show(self)
    }
}
impl PlanValue for String {
    fn shown(&self) -> String {
        show(self)
    }
}
impl<T: PlanValue + ?Sized> PlanValue for &T {
    fn shown(&self) -> String {
        (**self).shown()
    }
}
macro_rules! bare_numbers {
    ($($t:ty),*) => {$(impl PlanValue for $t {
        fn shown(&self) -> String {
            self.to_string()
        }
    })*};
}
bare_numbers!(u32, u64, i64, usize);

/// Longest excerpt of a value or line an error message quotes.
pub const MAX_SHOWN: usize = 200;

/// Quote `s` for a terminal: escaped (no control bytes reach it), cut to `MAX_SHOWN` characters.
pub fn show(s: &str) -> String {
    let n = s.chars().count();
    if n <= MAX_SHOWN {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_SHOWN).collect();
        format!("{head:?}... ({n} characters)")
    }
}

impl PlanError {
    pub fn invalid(key: &str, value: impl PlanValue, problem: &str) -> Self {
        PlanError::Invalid {
            key: key.to_string(),
            value: value.shown(),
            problem: problem.to_string(),
        }
    }
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            PlanError::Read { .. } | PlanError::TooLarge { .. } | PlanError::InFile { .. } => self,
            other => PlanError::InFile {
                path: path.to_path_buf(),
                inner: Box::new(other),
            },
        }
    }
    /// An error found on a name with placeholders replaced by stand-ins quotes the name as
    /// written, never the stand-in.
    pub(super) fn quoting_as_written(self, written: &str) -> Self {
        match self {
            PlanError::Invalid { key, problem, .. } => PlanError::Invalid {
                key,
                value: show(written),
                problem: format!(
                    "{problem} (checked with {{account_id}} as 12 digits and {{home_region}} as the plan's)"
                ),
            },
            other => other,
        }
    }
}

/// The first character `allowed` refuses, said so a person can find it (a Cyrillic 'а' looks
/// just like a Latin 'a').
pub fn bad_char(value: &str, allowed: fn(char) -> bool) -> Option<String> {
    let (i, c) = value.chars().enumerate().find(|&(_, c)| !allowed(c))?;
    let ascii = if c.is_ascii() {
        ""
    } else {
        ", not ASCII: perhaps a look-alike of a Latin letter"
    };
    Some(format!(
        "character {:?} (U+{:04X}{ascii}) at position {} is not allowed",
        c,
        c as u32,
        i + 1
    ))
}
