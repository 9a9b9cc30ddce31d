//! Who this instance is: the identity that ties the marker to one instance.
//!
//! The identity must change when an image is cloned and survive reboots. The DMI product
//! UUID does both on EC2 (where it is per instance) and most hypervisors, and reading it
//! needs no network, so a reboot is recognised offline. Without a product UUID, the EC2
//! instance id from the metadata service is next (only where that service applies), and
//! `/etc/machine-id` is the last resort, since images often carry one. When a run asks the
//! metadata service anyway, the instance id is recorded beside the identity in the marker.
//! Every source is a path or URL in the settings so tests can fake a new instance.

use std::path::Path;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::config::Identity;
use crate::imds;

/// This instance's identity and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceId {
    /// `product_uuid`, `instance_id` or `machine_id`.
    pub source: String,
    pub value: String,
    /// The EC2 instance id, when the run that wrote this asked the metadata service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

impl InstanceId {
    /// Whether `other` names the same instance: same source and value, and the same EC2
    /// instance id when both know one.
    pub fn same_instance(&self, other: &InstanceId) -> bool {
        let ec2_agrees = match (&self.instance_id, &other.instance_id) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.source == other.source && self.value == other.value && ec2_agrees
    }

    /// This identity with the EC2 instance id recorded beside it.
    pub fn with_instance_id(mut self, metadata: Option<&imds::Metadata>) -> InstanceId {
        self.instance_id = metadata.map(|m| m.instance_id.clone());
        self
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.source, self.value)
    }
}

/// Reads the identity from the first source that has one; asks the metadata service only
/// when there is no product UUID.
pub fn instance_id(settings: &Identity, metadata: &mut imds::Lazy) -> anyhow::Result<InstanceId> {
    if let Some(value) = read_id(&settings.product_uuid_file) {
        return Ok(found("product_uuid", value));
    }
    if metadata.applies() {
        match metadata.get() {
            Ok(facts) => return Ok(found("instance_id", facts.instance_id.clone())),
            Err(e) => tracing::warn!("no instance id from the metadata service: {e:#}"),
        }
    }
    if let Some(value) = read_id(&settings.machine_id_file) {
        return Ok(found("machine_id", value));
    }
    bail!(
        "no instance identity: neither '{}' nor '{}' holds one",
        settings.product_uuid_file.display(),
        settings.machine_id_file.display()
    )
}

fn found(source: &str, value: String) -> InstanceId {
    tracing::debug!(source, value, "read the instance identity");
    InstanceId {
        source: source.to_owned(),
        value,
        instance_id: None,
    }
}

/// A usable id from a file: trimmed, lower-cased, not empty and not all zeros.
fn read_id(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = text.trim().to_ascii_lowercase();
    let meaningful = value.chars().any(|c| c.is_ascii_alphanumeric() && c != '0');
    let plain = value.len() <= 128 && value.chars().all(|c| c.is_ascii_graphic());
    (meaningful && plain).then_some(value)
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
            imds: crate::config::ImdsMode::Never,
            ..Identity::default()
        };
        let mut metadata = imds::Lazy::new(&settings);
        assert_eq!(
            instance_id(&settings, &mut metadata).unwrap().source,
            "machine_id"
        );
        std::fs::write(&uuid, "EC2AB1E2-0000\n").unwrap();
        let id = instance_id(&settings, &mut metadata).unwrap();
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
            imds: crate::config::ImdsMode::Never,
            ..Identity::default()
        };
        assert!(instance_id(&settings, &mut imds::Lazy::new(&settings)).is_err());
    }

    #[test]
    fn the_same_instance_ignores_a_missing_instance_id() {
        let a = found("product_uuid", "ec2abc".into());
        let with = |id: &str| InstanceId {
            instance_id: Some(id.into()),
            ..a.clone()
        };
        assert!(a.same_instance(&with("i-1")));
        assert!(with("i-1").same_instance(&with("i-1")));
        assert!(!with("i-1").same_instance(&with("i-2")));
        assert!(!a.same_instance(&found("machine_id", "ec2abc".into())));
    }
}
