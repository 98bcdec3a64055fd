//! The data directory of a server (SQLite database, master key, server
//! uuid, known hosts): kept private to the account that runs Foredeck.
//! The directory is created mode 0700 and its files 0600; a directory made
//! looser by an earlier version or by hand is tightened by [`tighten`].

use foredeck_core::{Error, Result};
use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files in it.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with mode 0700 when it does not
/// exist; an existing directory is left as it is (see [`tighten`]).
pub fn create(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}

/// Creates `path` empty with mode 0600 when it does not exist, so that a
/// program that then opens it (SQLite) does not create it with the umask's
/// mode. An existing file is left untouched.
pub fn create_private_file(path: &Path) -> Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(format!("creating {}", path.display()), e)),
    }
}

/// Writes `data` to a new file `path` with mode 0600 (it must not exist).
pub fn write_private_file(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Creates `dir` 0700 when missing; otherwise removes the group and other
/// permissions from it and from the regular files directly in it (symbolic
/// links and subdirectories are left alone). Returns one line per change
/// made, such as `/srv/fd: mode 0755 -> 0700`, for the caller to log.
pub fn tighten(dir: &Path) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    if !dir.exists() {
        create(dir)?;
        return Ok(changed);
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    if !meta.is_dir() {
        return Err(crate::StoreError::NotADirectory(dir.display().to_string()).into());
    }
    restrict(dir, meta.permissions().mode(), DIR_MODE, &mut changed)?;
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if meta.is_file() {
            restrict(&path, meta.permissions().mode(), FILE_MODE, &mut changed)?;
        }
    }
    Ok(changed)
}

/// Drops from `path` the permission bits outside `allowed`, noting the change.
fn restrict(path: &Path, mode: u32, allowed: u32, changed: &mut Vec<String>) -> Result<()> {
    let mode = mode & 0o7777;
    let tight = mode & allowed;
    if tight == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, Permissions::from_mode(tight))
        .map_err(|e| Error::io(format!("restricting the mode of {}", path.display()), e))?;
    changed.push(format!(
        "{}: mode {mode:04o} -> {tight:04o}",
        path.display()
    ));
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_directory_is_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/data");
        assert!(tighten(&dir).unwrap().is_empty());
        assert_eq!(mode(&dir), 0o700);
        create_private_file(&dir.join("f")).unwrap();
        assert_eq!(mode(&dir.join("f")), 0o600);
        write_private_file(&dir.join("g"), b"x").unwrap();
        assert_eq!(mode(&dir.join("g")), 0o600);
        assert!(write_private_file(&dir.join("g"), b"y").is_err());
    }

    #[test]
    fn a_loose_directory_is_tightened_and_each_change_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("foredeck.db"), b"db").unwrap();
        std::fs::set_permissions(dir.join("foredeck.db"), Permissions::from_mode(0o644)).unwrap();
        std::fs::write(dir.join("ok"), b"").unwrap();
        std::fs::set_permissions(dir.join("ok"), Permissions::from_mode(0o400)).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::set_permissions(dir.join("sub"), Permissions::from_mode(0o755)).unwrap();
        let changed = tighten(&dir).unwrap();
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert!(changed
            .iter()
            .any(|c| c.ends_with("data: mode 0755 -> 0700")));
        assert!(changed
            .iter()
            .any(|c| c.ends_with("foredeck.db: mode 0644 -> 0600")));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("foredeck.db")), 0o600);
        assert_eq!(mode(&dir.join("ok")), 0o400);
        assert_eq!(mode(&dir.join("sub")), 0o755);
        assert!(tighten(&dir).unwrap().is_empty());
        std::fs::write(tmp.path().join("file"), b"").unwrap();
        assert!(tighten(&tmp.path().join("file")).is_err());
    }
}
