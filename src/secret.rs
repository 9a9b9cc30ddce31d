//! Secrets: the factory auth string, admin API keys and issued secret access keys.
//!
//! A [`Secret`] never prints its value (its `Debug` shows only `Secret(..)`, and it has no
//! `Display`) and is zeroed when dropped. This module also reads secret files with the same
//! strictness as sshd's `StrictModes`: a secret file must be a regular file, not a symlink,
//! owned by root (or by the user running the agent), with no permission bit for group or
//! others. It does not decide which file to read; see `config`.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use zeroize::Zeroizing;

/// The most a secret file may hold; a real auth string is a few dozen bytes.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// A secret string that never prints and is zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value; the caller's copy should be a temporary.
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The value, for the few places that must send or write it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

/// Reads a secret from `path` after checking the file is safe to trust.
///
/// Surrounding whitespace is trimmed. The error names the file and says how to fix it; it
/// never contains the file's content.
pub fn read_secret_file(path: &Path) -> anyhow::Result<Secret> {
    let mut file = open_strict(path)?;
    let mut raw = Zeroizing::new(Vec::new());
    file.by_ref()
        .take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut raw)
        .with_context(|| format!("failed to read secret file '{}'", path.display()))?;
    if raw.len() as u64 > MAX_SECRET_FILE {
        bail!("secret file '{}' is larger than 64 KiB", path.display());
    }
    parse_secret(&raw).with_context(|| format!("invalid secret file '{}'", path.display()))
}

/// Opens `path` without following a symlink and checks type, owner and mode.
fn open_strict(path: &Path) -> anyhow::Result<File> {
    let file = File::options()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    let meta = file
        .metadata()
        .with_context(|| format!("failed to inspect secret file '{}'", path.display()))?;
    let shown = path.display();
    if !meta.file_type().is_file() {
        bail!("secret file '{shown}' is not a regular file");
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        bail!(
            "secret file '{shown}' is owned by uid {}; fix with: chown root '{shown}'",
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        bail!(
            "secret file '{shown}' has mode {:04o}, readable or writable by others; \
             fix with: chmod 600 '{shown}'",
            meta.mode() & 0o7777
        );
    }
    Ok(file)
}

fn open_error(path: &Path, err: std::io::Error) -> anyhow::Error {
    let shown = path.display();
    match err.raw_os_error() {
        Some(nix::libc::ELOOP) => {
            anyhow::anyhow!("secret file '{shown}' is a symlink; put the file itself there")
        }
        Some(nix::libc::ENOENT) => anyhow::anyhow!("secret file '{shown}' does not exist"),
        _ => anyhow::Error::new(err).context(format!("failed to open secret file '{shown}'")),
    }
}

/// Trims and validates a secret's bytes (from a file, the environment or a prompt).
pub(crate) fn parse_secret(raw: &[u8]) -> anyhow::Result<Secret> {
    let Ok(text) = std::str::from_utf8(raw) else {
        bail!("the content is not UTF-8 text");
    };
    let value = text.trim();
    if value.is_empty() {
        bail!("the value is empty");
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!("the value contains whitespace or control characters inside it");
    }
    Ok(Secret::new(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write_file(dir: &Path, name: &str, content: &str, mode: u32) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn scratch() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn trims_surrounding_whitespace() {
        let dir = scratch();
        let path = write_file(dir.path(), "auth", "  abc123\n", 0o600);
        assert_eq!(read_secret_file(&path).unwrap().expose(), "abc123");
    }

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2".into());
        assert_eq!(format!("{secret:?}"), "Secret(..)");
    }

    #[test]
    fn refuses_group_readable_file_and_says_how_to_fix() {
        let dir = scratch();
        let path = write_file(dir.path(), "auth", "abc", 0o640);
        let err = format!("{:#}", read_secret_file(&path).unwrap_err());
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains("abc"), "{err}");
    }

    #[test]
    fn refuses_empty_file() {
        let dir = scratch();
        let path = write_file(dir.path(), "auth", " \n", 0o600);
        let err = format!("{:#}", read_secret_file(&path).unwrap_err());
        assert!(err.contains("is empty"), "{err}");
    }

    #[test]
    fn refuses_symlink() {
        let dir = scratch();
        let real = write_file(dir.path(), "real", "abc", 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = format!("{:#}", read_secret_file(&link).unwrap_err());
        assert!(err.contains("is a symlink"), "{err}");
    }

    #[test]
    fn refuses_directory_and_missing_file() {
        let dir = scratch();
        let err = format!("{:#}", read_secret_file(dir.path()).unwrap_err());
        assert!(err.contains("not a regular file"), "{err}");
        let err = format!(
            "{:#}",
            read_secret_file(&dir.path().join("nope")).unwrap_err()
        );
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn refuses_inner_newline() {
        let dir = scratch();
        let path = write_file(dir.path(), "auth", "abc\ndef\n", 0o600);
        assert!(read_secret_file(&path).is_err());
    }
}
