//! Who this instance is: the identity that ties the marker to one instance, and the host name.
//!
//! The identity must change when an image is cloned and survive reboots. The DMI product
//! UUID does both on EC2 and most hypervisors; `/etc/machine-id` is only a fallback, since
//! images often carry one. Both sources are paths in the settings so tests can fake a new
//! instance.

use std::path::Path;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::config::Identity;

/// This instance's identity and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceId {
    /// `product_uuid` or `machine_id`.
    pub source: String,
    pub value: String,
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.source, self.value)
    }
}

/// Reads the identity from the first source that has one.
pub fn instance_id(settings: &Identity) -> anyhow::Result<InstanceId> {
    let sources = [
        ("product_uuid", &settings.product_uuid_file),
        ("machine_id", &settings.machine_id_file),
    ];
    for (source, path) in sources {
        if let Some(value) = read_id(path) {
            tracing::debug!(source, path = %path.display(), "read the instance identity");
            return Ok(InstanceId {
                source: source.to_owned(),
                value,
            });
        }
    }
    bail!(
        "no instance identity: neither '{}' nor '{}' holds one",
        settings.product_uuid_file.display(),
        settings.machine_id_file.display()
    )
}

/// A usable id from a file: trimmed, lower-cased, not empty and not all zeros.
fn read_id(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = text.trim().to_ascii_lowercase();
    let meaningful = value.chars().any(|c| c.is_ascii_alphanumeric() && c != '0');
    let plain = value.len() <= 128 && value.chars().all(|c| c.is_ascii_graphic());
    (meaningful && plain).then_some(value)
}

/// The host name as `gethostname` reports it.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_product_uuid_and_falls_back_to_machine_id() {
        let dir = tempfile::tempdir().unwrap();
        let uuid = dir.path().join("product_uuid");
        let machine = dir.path().join("machine-id");
        std::fs::write(&machine, "0123abcd\n").unwrap();
        let settings = Identity {
            product_uuid_file: uuid.clone(),
            machine_id_file: machine,
        };
        assert_eq!(instance_id(&settings).unwrap().source, "machine_id");
        std::fs::write(&uuid, "EC2AB1E2-0000\n").unwrap();
        let id = instance_id(&settings).unwrap();
        assert_eq!(
            (id.source.as_str(), id.value.as_str()),
            ("product_uuid", "ec2ab1e2-0000")
        );
    }

    #[test]
    fn an_all_zero_uuid_is_no_identity() {
        let dir = tempfile::tempdir().unwrap();
        let uuid = dir.path().join("product_uuid");
        std::fs::write(&uuid, "00000000-0000-0000-0000-000000000000\n").unwrap();
        let settings = Identity {
            product_uuid_file: uuid,
            machine_id_file: dir.path().join("none"),
        };
        assert!(instance_id(&settings).is_err());
    }
}
