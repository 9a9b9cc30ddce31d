//! The optional `~/.aws/config` companion: `[profile NAME]` with `region` and `output`.
//!
//! A profile that exists only in the credentials file looks unused; one with a region in the
//! config file looks like something a person set up. Off unless a target sets `region`. The
//! section is written, replaced and removed as the user, under the same rules as the
//! credentials file (see `credentials`); it holds no secret. A section of that name the
//! agent did not write is a clash and changes nothing.

use std::path::{Path, PathBuf};

use tracing::info;

use crate::account::Account;
use crate::credentials::{Action, FileKind, Outcome, Request};
use crate::exit::{ExitKind, Failure, OrExit};
use crate::state::{Marker, Planted};
use crate::writer;

/// The config-file section one target asks for.
#[derive(Debug, Clone)]
pub struct Companion {
    pub file: PathBuf,
    pub settings: Vec<(String, String)>,
}

/// Writes (or keeps) the companion section for `profile`; `recorded` says the marker lists
/// it as the agent's own. With `dry_run`, only checks that it could.
pub fn configure(
    account: &Account,
    profile: &str,
    companion: &Companion,
    recorded: bool,
    dry_run: bool,
) -> Result<(), Failure> {
    let request = Request {
        path: companion.file.clone(),
        profile: profile.to_owned(),
        action: Action::Configure {
            settings: companion.settings.clone(),
        },
        own_key_ids: Vec::new(),
        kind: FileKind::Config,
        recorded_own: recorded,
        dry_run,
    };
    let report = writer::apply_as(account, &request).or_exit(ExitKind::Local)?;
    for warning in report.warnings.iter().filter(|_| !dry_run) {
        tracing::warn!("{warning}");
    }
    let file = report.file.display().to_string();
    if !dry_run && report.outcome != Outcome::Unchanged {
        info!(user = %account.name, profile, file, "config profile written");
    }
    Ok(())
}

/// Removes a companion section the marker says the agent wrote.
pub fn remove(account: &Account, profile: &str, file: &Path) -> Result<(), Failure> {
    let request = Request {
        path: file.to_owned(),
        profile: profile.to_owned(),
        action: Action::Remove,
        own_key_ids: Vec::new(),
        kind: FileKind::Config,
        recorded_own: true,
        dry_run: false,
    };
    let report = writer::apply_as(account, &request).or_exit(ExitKind::Local)?;
    let file = report.file.display().to_string();
    match report.outcome {
        Outcome::Removed => info!(user = %account.name, profile, file, "removed config profile"),
        _ => info!(user = %account.name, profile, file, "no config profile of ours to remove"),
    }
    Ok(())
}

/// Whether the marker lists a companion the agent wrote for this user, profile and file.
pub fn recorded(marker: Option<&Marker>, user: &str, profile: &str, file: &Path) -> bool {
    let listed = |p: &Planted| {
        p.user == user && p.profile == profile && p.config_file.as_deref() == Some(file)
    };
    marker.is_some_and(|m| m.planted.iter().any(listed))
}
