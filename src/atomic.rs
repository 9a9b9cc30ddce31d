//! Atomic file replacement: a reader sees the old file or the new one, never a mix.
//!
//! The new content goes to a temporary file created exclusively (never through a
//! pre-existing name or symlink) in the same directory with mode 0600, is fsynced, given its
//! final mode, renamed over the target, and the directory is fsynced. On any failure (a full
//! disk, a file-size limit) the temporary file is removed and the target is untouched. The
//! temporary name ends in random hex, so nobody can plant something at it in advance; the
//! exclusive, no-follow open is what makes a planted name harmless all the same. Temporary
//! files a killed run left behind are removed before the next replacement of the same file
//! (runs hold the state lock, so none of them is still in use). This module does not decide
//! who may write where; callers check that.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many names to try before giving up; a clash with a random name is already unlikely.
const TEMP_ATTEMPTS: usize = 16;

/// Replaces `path` with `contents`, leaving it with permission bits `mode`.
///
/// `group`, when given, is applied to the new file before it becomes visible; failing to
/// apply it is reported through the returned flag rather than as an error.
pub fn replace(path: &Path, contents: &[u8], mode: u32, group: Option<u32>) -> io::Result<bool> {
    let dir = parent_of(path)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    remove_stale_temps(dir, &name);
    let (temp_path, mut temp) = create_temp(dir, path)?;
    let result = fill(&mut temp, contents, mode, group);
    let result = result.and_then(|group_kept| {
        crate::fault::point(&format!("{name}-temp-written"));
        std::fs::rename(&temp_path, path)?;
        crate::fault::point(&format!("{name}-renamed"));
        sync_dir(dir)?;
        Ok(group_kept)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp_path);
    }
    result
}

/// Creates `path` with `contents` and permission bits `mode`, failing with `AlreadyExists`
/// if anything is at `path`: the file appears complete or not at all, and never replaces
/// another. The complete temporary file is hard-linked to its name, which cannot clobber.
pub fn create_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent_of(path)?;
    let (temp_path, mut temp) = create_temp(dir, path)?;
    let result =
        fill(&mut temp, contents, mode, None).and_then(|_| std::fs::hard_link(&temp_path, path));
    let removed = std::fs::remove_file(&temp_path);
    result?;
    removed?;
    sync_dir(dir)
}

fn parent_of(path: &Path) -> io::Result<&Path> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => Ok(dir),
        _ => Ok(Path::new(".")),
    }
}

/// Removes regular files named like our temporary files for `name`; best effort.
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.canary-bootstrap.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_ours = entry.file_name().to_string_lossy().starts_with(&prefix);
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_ours && is_file && std::fs::remove_file(entry.path()).is_ok() {
            tracing::debug!(file = %entry.path().display(), "removed a stale temporary file");
        }
    }
}

/// Creates `.<name>.canary-bootstrap.<random hex>` in `dir`, exclusively and without
/// following a symlink.
fn create_temp(dir: &Path, path: &Path) -> io::Result<(PathBuf, File)> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let names = (0..TEMP_ATTEMPTS).map(|_| {
        dir.join(format!(
            ".{name}.canary-bootstrap.{:016x}",
            crate::random::u64()
        ))
    });
    open_first_free(names)
}

/// Opens the first of `names` that does not exist yet; a name that exists, as a file or a
/// symlink, is skipped and never opened.
fn open_first_free(names: impl Iterator<Item = PathBuf>) -> io::Result<(PathBuf, File)> {
    let mut last_error = None;
    for temp_path in names {
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(&temp_path);
        match opened {
            Ok(file) => return Ok((temp_path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

/// Writes, sets mode and group, and fsyncs. Returns whether the group could be applied.
fn fill(file: &mut File, contents: &[u8], mode: u32, group: Option<u32>) -> io::Result<bool> {
    file.write_all(contents)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
    let group_kept = match group {
        Some(gid) => std::os::unix::fs::fchown(&*file, None, Some(gid)).is_ok(),
        None => true,
    };
    file.sync_all()?;
    Ok(group_kept)
}

/// Makes a rename in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn replaces_content_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "old").unwrap();
        replace(&path, b"new", 0o640, None).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn create_new_never_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        create_new(&path, b"first", 0o600).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let err = create_new(&path, b"second", 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn removes_temporary_files_a_killed_run_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(dir.path().join(".f.canary-bootstrap.1.0"), "stale").unwrap();
        std::fs::write(dir.path().join(".g.canary-bootstrap.1.0"), "other").unwrap();
        replace(&path, b"new", 0o600, None).unwrap();
        assert!(!dir.path().join(".f.canary-bootstrap.1.0").exists());
        assert!(dir.path().join(".g.canary-bootstrap.1.0").exists());
    }

    #[test]
    fn skips_a_pre_created_symlink_at_the_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let names: Vec<PathBuf> = (0..4).map(|n| dir.path().join(format!(".t{n}"))).collect();
        for trap in &names[..3] {
            std::os::unix::fs::symlink(&victim, trap).unwrap();
        }
        let (chosen, mut file) = open_first_free(names.clone().into_iter()).unwrap();
        assert_eq!(chosen, names[3]);
        file.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        for trap in &names[..3] {
            assert!(std::fs::symlink_metadata(trap).unwrap().is_symlink());
        }
    }

    #[test]
    fn gives_up_when_every_name_is_taken_without_touching_them() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let trap = dir.path().join(".t");
        std::os::unix::fs::symlink(&victim, &trap).unwrap();
        let err = open_first_free(std::iter::repeat_n(trap, 3)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn temporary_names_are_unpredictable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let (a, _) = create_temp(dir.path(), &path).unwrap();
        let (b, _) = create_temp(dir.path(), &path).unwrap();
        assert_ne!(a, b);
        let a = a.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(a.starts_with(".f.canary-bootstrap."), "{a}");
        let suffix = a.rsplit('.').next().unwrap();
        assert_eq!(suffix.len(), 16, "{a}");
    }
}
