//! `canary-bootstrap status`: whether this instance is provisioned, and with what.
//!
//! Reads the marker and the pending record without taking the lock (both are replaced
//! atomically, so a reader never sees half of one). Prints no secret.

use serde::Serialize;

use crate::config::Settings;
use crate::exit::{ExitKind, Failure, OrExit};
use crate::identity;
use crate::state::{Planted, StateDir};

/// The stable JSON shape of `status --json`.
#[derive(Serialize)]
pub struct Status {
    /// True when a marker exists for this instance's identity.
    pub provisioned: bool,
    /// This instance's identity, `source:value`; null when none can be read.
    pub identity: Option<String>,
    /// The identity the marker was written for; null without a marker.
    pub marker_identity: Option<String>,
    /// Seconds since the Unix epoch when the marker was written; null without one.
    pub provisioned_at: Option<u64>,
    /// Profiles planted, per the marker.
    pub planted: Vec<Planted>,
    /// Tokens issued by an unfinished run, waiting to be planted.
    pub pending_tokens: usize,
}

/// Gathers the status.
pub fn status(settings: &Settings) -> Result<Status, Failure> {
    let state = StateDir::open(&settings.state_dir).or_exit(ExitKind::Local)?;
    let mut metadata = crate::imds::Lazy::new(&settings.identity);
    let identity = identity::instance_id(&settings.identity, &mut metadata).ok();
    let marker = state.marker().or_exit(ExitKind::Local)?;
    let pending = state.pending().or_exit(ExitKind::Local)?;
    let provisioned = match (&marker, &identity) {
        (Some(marker), Some(id)) => marker.identity.same_instance(id),
        _ => false,
    };
    Ok(Status {
        provisioned,
        identity: identity.map(|id| id.to_string()),
        marker_identity: marker.as_ref().map(|m| m.identity.to_string()),
        provisioned_at: marker.as_ref().map(|m| m.provisioned_at),
        planted: marker.map(|m| m.planted).unwrap_or_default(),
        pending_tokens: pending.map_or(0, |p| p.tokens.len()),
    })
}

/// Prints the status for a person.
pub fn print_text(status: &Status) {
    let state = match (status.provisioned, &status.marker_identity) {
        (true, _) => "provisioned",
        (false, Some(_)) => "not provisioned (the marker is from another instance)",
        (false, None) => "not provisioned",
    };
    println!("{state}");
    if let Some(id) = &status.identity {
        println!("identity: {id}");
    }
    for p in &status.planted {
        println!(
            "token {} (key {}) in profile '{}' of user '{}' at {}",
            p.token_id,
            p.access_key_id,
            p.profile,
            p.user,
            p.file.display()
        );
    }
    if status.pending_tokens > 0 {
        println!(
            "{} issued token(s) waiting to be planted",
            status.pending_tokens
        );
    }
}
