//! The state directory: the run lock, the marker and the pending-token record.
//!
//! The marker says "this instance is provisioned" and which tokens it holds; it is tied to
//! the instance identity and never holds a secret. The pending record holds tokens the
//! Console issued whose planting has not been committed yet, secrets included, so that a
//! crashed run finishes with them instead of asking for new ones; it is root-only and
//! removed as soon as the marker is written. `prepare-image` also leaves the image
//! builder's host name here, so a clone can tell that name is not its own.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::identity::InstanceId;
use crate::secret::Secret;

const LOCK_FILE: &str = "lock";
const MARKER_FILE: &str = "provisioned.json";
const PENDING_FILE: &str = "pending.json";
const BUILDER_FILE: &str = "builder-hostname";
const FORMAT_VERSION: u32 = 1;

/// An opened, checked state directory.
pub struct StateDir {
    path: PathBuf,
}

/// Held while a run works; dropping it releases the lock.
pub struct Lock {
    _file: File,
}

/// One profile the agent planted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planted {
    pub user: String,
    pub profile: String,
    pub file: PathBuf,
    pub token_id: String,
    pub access_key_id: String,
    /// The AWS config file holding the agent's `[profile NAME]` companion, if it wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<PathBuf>,
}

/// What a provisioned instance records. Holds no secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    pub version: u32,
    pub identity: InstanceId,
    /// Seconds since the Unix epoch.
    pub provisioned_at: u64,
    pub planted: Vec<Planted>,
}

/// A token issued but not yet committed to the marker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingToken {
    pub user: String,
    pub profile: String,
    pub file: PathBuf,
    pub token_id: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

/// Tokens issued by a run that has not finished.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    pub version: u32,
    pub identity: InstanceId,
    pub tokens: Vec<PendingToken>,
}

impl StateDir {
    /// Opens the directory, creating it 0700 if missing; refuses one others can reach.
    pub fn open(path: &Path) -> anyhow::Result<StateDir> {
        let shown = path.display();
        if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(path)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(e).context(format!("failed to create state directory '{shown}'"));
        }
        let meta = std::fs::symlink_metadata(path)
            .with_context(|| format!("failed to inspect state directory '{shown}'"))?;
        if !meta.is_dir() {
            bail!("state directory '{shown}' is not a directory");
        }
        if meta.uid() != nix::unistd::geteuid().as_raw() {
            bail!(
                "state directory '{shown}' is owned by uid {}, not by this user",
                meta.uid()
            );
        }
        if meta.mode() & 0o077 != 0 {
            bail!("state directory '{shown}' is open to others; fix with: chmod 700 '{shown}'");
        }
        Ok(StateDir {
            path: path.to_owned(),
        })
    }

    /// Takes the run lock, waiting up to `wait` for another run to finish.
    pub fn lock(&self, wait: Duration) -> anyhow::Result<Option<Lock>> {
        let path = self.path.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(&path)
            .with_context(|| format!("failed to open lock file '{}'", path.display()))?;
        let give_up = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(Lock { _file: file })),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).context(format!("failed to lock '{}'", path.display()));
                }
            }
        }
    }

    /// The marker, if this directory has one.
    pub fn marker(&self) -> anyhow::Result<Option<Marker>> {
        self.read_json(MARKER_FILE)
    }

    /// Writes the marker atomically.
    pub fn write_marker(&self, marker: &Marker) -> anyhow::Result<()> {
        self.write_json(MARKER_FILE, marker)
    }

    /// Removes the marker; returns whether there was one.
    pub fn remove_marker(&self) -> anyhow::Result<bool> {
        self.remove(MARKER_FILE)
    }

    /// The pending record, if a run left one.
    pub fn pending(&self) -> anyhow::Result<Option<Pending>> {
        self.read_json(PENDING_FILE)
    }

    /// Records issued tokens durably before any of them is planted.
    pub fn write_pending(&self, pending: &Pending) -> anyhow::Result<()> {
        self.write_json(PENDING_FILE, pending)
    }

    /// Removes the pending record once the marker holds its tokens.
    pub fn remove_pending(&self) -> anyhow::Result<bool> {
        self.remove(PENDING_FILE)
    }

    /// The host name `prepare-image` recorded for the image builder, if any.
    pub fn builder_hostname(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.path.join(BUILDER_FILE)).ok()?;
        let name = text.trim();
        (!name.is_empty()).then(|| name.to_owned())
    }

    /// Records the image builder's host name.
    pub fn write_builder_hostname(&self, name: &str) -> anyhow::Result<()> {
        let path = self.path.join(BUILDER_FILE);
        atomic::replace(&path, format!("{name}\n").as_bytes(), 0o600, None)
            .with_context(|| format!("failed to write '{}'", path.display()))?;
        Ok(())
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> anyhow::Result<Option<T>> {
        let path = self.path.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => zeroize::Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context(format!("failed to read '{}'", path.display())),
        };
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("line {}: {}", e.line(), e.classify_name()))
            .with_context(|| format!("state file '{}' is damaged; remove it", path.display()))?;
        Ok(Some(value))
    }

    fn write_json<T: Serialize>(&self, name: &str, value: &T) -> anyhow::Result<()> {
        let path = self.path.join(name);
        let mut bytes = zeroize::Zeroizing::new(serde_json::to_vec_pretty(value)?);
        bytes.push(b'\n');
        atomic::replace(&path, &bytes, 0o600, None)
            .with_context(|| format!("failed to write '{}'", path.display()))?;
        Ok(())
    }

    fn remove(&self, name: &str) -> anyhow::Result<bool> {
        let path = self.path.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                atomic::sync_dir(&self.path)?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).context(format!("failed to remove '{}'", path.display())),
        }
    }
}

/// The classification serde_json gives an error, without the offending text.
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "unexpected fields or values",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

impl Marker {
    /// A marker for `planted`, stamped now.
    pub fn new(identity: InstanceId, planted: Vec<Planted>) -> Marker {
        Marker {
            version: FORMAT_VERSION,
            identity,
            provisioned_at: now_secs(),
            planted,
        }
    }
}

impl Pending {
    /// An empty record for this instance.
    pub fn new(identity: InstanceId) -> Pending {
        Pending {
            version: FORMAT_VERSION,
            identity,
            tokens: Vec::new(),
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn identity() -> InstanceId {
        InstanceId {
            source: "product_uuid".into(),
            value: "ec2abc".into(),
            instance_id: None,
        }
    }

    #[test]
    fn creates_a_private_directory() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("state");
        StateDir::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn refuses_a_directory_others_can_read() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = StateDir::open(root.path()).err().unwrap();
        assert!(format!("{err:#}").contains("chmod 700"));
    }

    #[test]
    fn marker_round_trips() {
        let root = tempfile::tempdir().unwrap();
        let state = StateDir::open(&root.path().join("s")).unwrap();
        assert!(state.marker().unwrap().is_none());
        let marker = Marker::new(identity(), vec![]);
        state.write_marker(&marker).unwrap();
        assert_eq!(state.marker().unwrap().unwrap().identity, identity());
        assert!(state.remove_marker().unwrap());
        assert!(!state.remove_marker().unwrap());
    }

    #[test]
    fn second_lock_waits_then_gives_up() {
        let root = tempfile::tempdir().unwrap();
        let state = StateDir::open(&root.path().join("s")).unwrap();
        let held = state.lock(Duration::ZERO).unwrap();
        assert!(held.is_some());
        assert!(state.lock(Duration::from_millis(120)).unwrap().is_none());
        drop(held);
        assert!(state.lock(Duration::ZERO).unwrap().is_some());
    }

    #[test]
    fn damaged_marker_error_names_the_file_without_content() {
        let root = tempfile::tempdir().unwrap();
        let state = StateDir::open(&root.path().join("s")).unwrap();
        std::fs::write(
            root.path().join("s").join(MARKER_FILE),
            "{\"secret\": \"hunter2",
        )
        .unwrap();
        let err = format!("{:#}", state.marker().unwrap_err());
        assert!(err.contains(MARKER_FILE), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
