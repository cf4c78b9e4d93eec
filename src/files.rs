//! Writing files whole or not at all: the one implementation every file aws-harden writes in
//! place goes through (plans, saved changes, the shared credentials file). Imports nothing from
//! the crate.

use std::path::Path;

use anyhow::Context as _;

/// Who may read a file written here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The usual mode (0666 less the umask), folders made with 0777 less the umask: plans.
    Shared,
    /// Mode 0600, folders it makes 0700: anything that may hold a secret or personal details.
    Private,
}

/// Write `text` to `path` whole or not at all: into a new temporary file beside it (created with
/// its final mode, so it is never readable by others, not even for a moment), flushed to disk,
/// then renamed over the target (atomic on one file system; a file already there, whatever its
/// mode, is replaced by the new one with the new mode). Missing folders are made.
pub fn write_atomically(path: &Path, text: &str, access: Access) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let (file_mode, dir_mode) = match access {
        Access::Shared => (0o666, 0o777),
        Access::Private => (0o600, 0o700),
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(dir_mode)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(file_mode)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn atomic_write_leaves_only_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("p.toml");
        write_atomically(&path, "one", Access::Shared).unwrap();
        write_atomically(&path, "two", Access::Shared).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("p.toml")]);
    }

    #[test]
    fn a_private_file_is_0600_even_over_a_readable_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join("changes.json");
        write_atomically(&path, "{}", Access::Private).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomically(&path, "{ }", Access::Private).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ }");
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A folder in the way: the rename fails.
        let path = dir.path().join("taken");
        std::fs::create_dir_all(path.join("x")).unwrap();
        let e = write_atomically(&path, "text", Access::Private).unwrap_err();
        assert!(format!("{e:#}").contains("writing"), "{e:#}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("taken")]);
    }
}
