//! Planting a profile into one credentials file, run as the file's owner.
//!
//! This is the part that touches a user's home. It runs in a child process that has already
//! become the user (see `writer`), so it can reach nothing the user could not. It still
//! refuses what would surprise the user: a file it does not own, a hard-linked file, anything
//! that is not a regular file, and a directory owned by someone else. What goes into the
//! file is decided by `profile_file`; here are the checks and the atomic write.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::atomic;
use crate::profile_file::{self, Flavor, Section};
use crate::secret::Secret;

/// Credentials files larger than this are refused rather than rewritten.
const MAX_FILE: u64 = 1024 * 1024;

/// What to do to the file.
#[derive(Debug, Serialize, Deserialize)]
pub enum Action {
    /// Add (or replace in place) our profile with this key pair.
    Plant {
        access_key_id: String,
        secret_access_key: Secret,
    },
    /// Add (or replace in place) our `[profile NAME]` in the AWS config file with these
    /// settings (`region`, `output`), so the decoy looks like a working profile.
    Configure { settings: Vec<(String, String)> },
    /// Remove our profile, if it is there.
    Remove,
}

/// Which AWS file the request is about; they name sections differently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// `~/.aws/credentials`: sections are profile names.
    #[default]
    Credentials,
    /// `~/.aws/config`: `[profile NAME]` sections.
    Config,
}

/// One change to one credentials or config file.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub path: PathBuf,
    pub profile: String,
    pub action: Action,
    /// Key ids the agent planted before: a section of our name holding one of them is ours.
    pub own_key_ids: Vec<String>,
    #[serde(default)]
    pub kind: FileKind,
    /// The state directory records that the agent wrote this section (config files, whose
    /// sections hold no key id to recognise them by).
    #[serde(default)]
    pub recorded_own: bool,
    /// Check that the change could be made, and make none: no directory is created and
    /// nothing is written. Run before asking the Console, so a file that would be refused
    /// costs no token.
    #[serde(default)]
    pub dry_run: bool,
}

impl FileKind {
    fn flavor(self) -> Flavor {
        match self {
            FileKind::Credentials => Flavor::Credentials,
            FileKind::Config => Flavor::Config,
        }
    }
}

/// What happened to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Our profile was added.
    Planted,
    /// Our earlier profile was replaced in place.
    Replaced,
    /// The file already held exactly this; nothing was written.
    Unchanged,
    /// Our profile was removed.
    Removed,
    /// There was nothing of ours to remove.
    Absent,
}

/// The result of a [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub outcome: Outcome,
    /// The file actually written: differs from the request's path when that is a symlink.
    pub file: PathBuf,
    pub warnings: Vec<String>,
}

/// An existing file's content and what must carry over to its replacement.
struct Existing {
    bytes: Zeroizing<Vec<u8>>,
    mode: u32,
    gid: u32,
}

/// Carries out `request` as the current user.
pub fn apply(request: &Request) -> anyhow::Result<Report> {
    let creating = !request.dry_run
        && matches!(
            request.action,
            Action::Plant { .. } | Action::Configure { .. }
        );
    let Some(file) = locate(&request.path, creating)? else {
        return Ok(report(Outcome::Absent, &request.path, Vec::new()));
    };
    let existing = read_existing(&file)?;
    let mut warnings = Vec::new();
    if let Some(old) = &existing
        && old.mode & 0o077 != 0
    {
        warnings.push(format!(
            "'{}' is readable or writable by others (mode {:04o}); consider chmod 600",
            file.display(),
            old.mode & 0o7777
        ));
    }
    let old_bytes: &[u8] = existing.as_ref().map_or(&[], |e| &e.bytes);
    let (outcome, new_bytes) = transform(request, old_bytes, &file)?;
    if request.dry_run {
        return Ok(report(outcome, &file, warnings));
    }
    if let Some(bytes) = new_bytes {
        write(&file, &bytes, existing.as_ref(), &mut warnings)?;
    }
    Ok(report(outcome, &file, warnings))
}

fn report(outcome: Outcome, file: &Path, warnings: Vec<String>) -> Report {
    Report {
        outcome,
        file: file.to_owned(),
        warnings,
    }
}

/// Decides the new content; `None` when nothing needs writing.
fn transform(
    request: &Request,
    old: &[u8],
    file: &Path,
) -> anyhow::Result<(Outcome, Option<Zeroizing<Vec<u8>>>)> {
    let refusing = || {
        let (profile, file) = (&request.profile, file.display());
        format!("refusing to change profile '{profile}' in '{file}'")
    };
    let flavor = request.kind.flavor();
    let ours = |section: &Section| is_own(request, section);
    let entries = match &request.action {
        Action::Remove => return removal(request, old, &ours).with_context(refusing),
        Action::Plant {
            access_key_id,
            secret_access_key,
        } => vec![
            ("aws_access_key_id", access_key_id.as_str()),
            ("aws_secret_access_key", secret_access_key.expose()),
        ],
        Action::Configure { settings } => settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    };
    let had_ours = has_own_section(old, flavor, &request.profile, &ours);
    let new = profile_file::plant(old, flavor, &request.profile, &entries, Some(&ours))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(refusing)?;
    let new = Zeroizing::new(new);
    if new.as_slice() == old {
        return Ok((Outcome::Unchanged, None));
    }
    let outcome = if had_ours {
        Outcome::Replaced
    } else {
        Outcome::Planted
    };
    Ok((outcome, Some(new)))
}

/// Whether a section of our name is the agent's own: it holds a key id the agent planted,
/// or (config files) the state directory says the agent wrote it, or it already holds
/// exactly what the agent would write.
fn is_own(request: &Request, section: &Section) -> bool {
    match &request.action {
        Action::Configure { settings } => {
            let same = section.entries().count() == settings.len()
                && settings
                    .iter()
                    .all(|(k, v)| section.get(k) == Some(v.as_str()));
            request.recorded_own || same
        }
        _ if request.kind == FileKind::Config => request.recorded_own,
        _ => {
            let id = section.get("aws_access_key_id");
            id.is_some_and(|id| request.own_key_ids.iter().any(|own| own == id))
        }
    }
}

fn removal(
    request: &Request,
    old: &[u8],
    ours: &dyn Fn(&Section) -> bool,
) -> anyhow::Result<(Outcome, Option<Zeroizing<Vec<u8>>>)> {
    let new = profile_file::remove(old, request.kind.flavor(), &request.profile, ours)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match new {
        Some(bytes) => Ok((Outcome::Removed, Some(Zeroizing::new(bytes)))),
        None => Ok((Outcome::Absent, None)),
    }
}

fn has_own_section(
    old: &[u8],
    flavor: Flavor,
    profile: &str,
    ours: &dyn Fn(&Section) -> bool,
) -> bool {
    profile_file::parse(old)
        .map(|doc| {
            let lines = doc.clashes(flavor, profile);
            doc.sections()
                .iter()
                .any(|s| lines.contains(&s.header_line) && ours(s))
        })
        .unwrap_or(false)
}

/// Finds the file to work on: checks (and, when `create`, makes) its directory, and follows
/// a symlink only to a file this user owns. `None` when there is no file and no need for one.
fn locate(path: &Path, create: bool) -> anyhow::Result<Option<PathBuf>> {
    let dir = path
        .parent()
        .context("the credentials path has no directory")?;
    if !dir.exists() {
        if !create {
            return Ok(None);
        }
        make_dir(dir)?;
    }
    check_dir(dir)?;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(create.then(|| path.to_owned()));
        }
        Err(e) => return Err(e).context(format!("failed to inspect '{}'", path.display())),
    };
    if !meta.file_type().is_symlink() {
        return Ok(Some(path.to_owned()));
    }
    follow_link(path).map(Some)
}

/// A symlinked credentials file (dotfile managers make them) is written through: the file it
/// points to is replaced and the link stays a link.
fn follow_link(path: &Path) -> anyhow::Result<PathBuf> {
    let shown = path.display();
    let real = std::fs::canonicalize(path)
        .with_context(|| format!("'{shown}' is a symlink to a file that cannot be reached"))?;
    let dir = real
        .parent()
        .context("the symlink's target has no directory")?;
    check_dir(dir).with_context(|| format!("'{shown}' is a symlink into another user's files"))?;
    tracing::debug!(link = %shown, target = %real.display(), "following symlink");
    Ok(real)
}

/// Creates the missing `~/.aws`: 0700 whatever the umask. Its parent must exist already.
/// The mode is set through the directory opened without following a symlink, so a swap
/// after the `mkdir` cannot turn the chmod onto another directory (the home, say).
fn make_dir(dir: &Path) -> anyhow::Result<()> {
    let shown = dir.display();
    let parent = dir.parent().unwrap_or(Path::new("/"));
    if !parent.is_dir() {
        bail!(
            "cannot create '{shown}': '{}' does not exist",
            parent.display()
        );
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("failed to create directory '{shown}'"))?;
    let opened = File::options()
        .read(true)
        .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(dir)
        .with_context(|| format!("failed to open the new directory '{shown}'"))?;
    opened
        .set_permissions(std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("failed to set the mode of '{shown}'"))
}

/// The directory must be a real directory owned by this user.
fn check_dir(dir: &Path) -> anyhow::Result<()> {
    let shown = dir.display();
    let meta = std::fs::metadata(dir).with_context(|| format!("failed to inspect '{shown}'"))?;
    if !meta.is_dir() {
        bail!("'{shown}' is not a directory");
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "directory '{shown}' is owned by uid {}, not by uid {me}",
            meta.uid()
        );
    }
    Ok(())
}

/// Reads the current file, if any, refusing anything but a plain file this user owns.
/// The type is checked before opening (a socket cannot be opened at all) and again on the
/// opened file; the open never blocks (a FIFO) and never follows a symlink.
fn read_existing(path: &Path) -> anyhow::Result<Option<Existing>> {
    let shown = path.display();
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.is_file()
        && !meta.is_symlink()
    {
        bail!("'{shown}' is {}, not a regular file", kind_of(&meta));
    }
    let opened = File::options()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            bail!("'{shown}' was replaced by a symlink while the agent worked");
        }
        Err(e) => return Err(e).context(format!("failed to open '{shown}'")),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("failed to inspect '{shown}'"))?;
    check_file(path, &meta)?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.by_ref()
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("failed to read '{shown}'"))?;
    if bytes.len() as u64 > MAX_FILE {
        bail!("'{shown}' is larger than 1 MiB; not a credentials file the agent will rewrite");
    }
    Ok(Some(Existing {
        bytes,
        mode: meta.mode(),
        gid: meta.gid(),
    }))
}

fn check_file(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    let shown = path.display();
    if !meta.file_type().is_file() {
        bail!("'{shown}' is {}, not a regular file", kind_of(meta));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        bail!("'{shown}' is owned by uid {}, not by uid {me}", meta.uid());
    }
    if meta.nlink() > 1 {
        bail!(
            "'{shown}' has {} hard links; replacing it would split them, so it is left alone",
            meta.nlink()
        );
    }
    Ok(())
}

/// What a file that is not a regular file is, for error messages.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

fn write(
    file: &Path,
    bytes: &[u8],
    existing: Option<&Existing>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mode = existing.map_or(0o600, |e| e.mode & 0o7777);
    let group = existing.map(|e| e.gid);
    let group_kept = atomic::replace(file, bytes, mode, group)
        .with_context(|| format!("failed to write '{}'", file.display()))?;
    if !group_kept {
        warnings.push(format!("could not keep the group of '{}'", file.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_never_prints_its_secret() {
        let request = Request {
            path: PathBuf::from("/home/u/.aws/credentials"),
            profile: "prod-admin".into(),
            action: Action::Plant {
                access_key_id: "AKIAEXAMPLE000000001".into(),
                secret_access_key: Secret::new("s3cr3t/value".into()),
            },
            own_key_ids: Vec::new(),
            kind: FileKind::Credentials,
            recorded_own: false,
            dry_run: false,
        };
        let shown = format!("{request:?} {request:#?}");
        assert!(shown.contains("Secret(..)"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn names_what_a_special_file_is() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_existing(dir.path()).err().unwrap();
        assert!(format!("{err:#}").contains("is a directory, not a regular file"));
    }
}
