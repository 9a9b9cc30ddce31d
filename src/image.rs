//! `canary-bootstrap prepare-image`: what an image build runs last.
//!
//! Removes the agent's own profiles (those whose key ids the marker or the pending record
//! lists) from the files they were planted in, then the marker and the pending record, so
//! the image carries no token and every instance launched from it provisions itself. It
//! also records the builder's host name in the state directory, so an instance that boots
//! with that name waits for its own. Touches nothing else; running it twice is harmless.

use tracing::info;

use crate::account::Account;
use crate::companion;
use crate::config::Settings;
use crate::credentials::{Action, FileKind, Outcome, Request};
use crate::exit::{ExitKind, Failure, OrExit};
use crate::state::StateDir;
use crate::writer;

/// Removes every trace of provisioning from this host.
pub fn prepare_image(settings: &Settings) -> Result<(), Failure> {
    let state = StateDir::open(&settings.state_dir).or_exit(ExitKind::Local)?;
    let wait = std::time::Duration::from_secs(settings.lock_wait_secs);
    let Some(_lock) = state.lock(wait).or_exit(ExitKind::Local)? else {
        let err = anyhow::anyhow!("another run holds the lock; try again when it has finished");
        return Err(Failure::new(ExitKind::Transient, err));
    };
    let marker = state.marker().or_exit(ExitKind::Local)?;
    let pending = state.pending().or_exit(ExitKind::Local)?;
    let mut places = Vec::new();
    let mut own_ids = Vec::new();
    for p in marker.iter().flat_map(|m| &m.planted) {
        places.push((p.user.clone(), p.profile.clone(), p.file.clone()));
        own_ids.push(p.access_key_id.clone());
    }
    for t in pending.iter().flat_map(|p| &p.tokens) {
        places.push((t.user.clone(), t.profile.clone(), t.file.clone()));
        own_ids.push(t.access_key_id.clone());
    }
    places.sort();
    places.dedup();
    for p in marker.iter().flat_map(|m| &m.planted) {
        if let Some(config_file) = &p.config_file {
            let account = Account::lookup(&p.user).or_exit(ExitKind::Config)?;
            companion::remove(&account, &p.profile, config_file)?;
        }
    }
    for (user, profile, file) in places {
        let account = Account::lookup(&user).or_exit(ExitKind::Config)?;
        let request = Request {
            path: file,
            profile,
            action: Action::Remove,
            own_key_ids: own_ids.clone(),
            kind: FileKind::Credentials,
            recorded_own: false,
            dry_run: false,
        };
        let report = writer::apply_as(&account, &request).or_exit(ExitKind::Local)?;
        let file = report.file.display().to_string();
        match report.outcome {
            Outcome::Removed => info!(user, profile = %request.profile, file, "removed profile"),
            _ => info!(user, profile = %request.profile, file, "no profile of ours to remove"),
        }
    }
    record_builder_hostname(&state)?;
    if state.remove_pending().or_exit(ExitKind::Local)? {
        info!("removed the pending-token record");
    }
    if state.remove_marker().or_exit(ExitKind::Local)? {
        info!("removed the marker; the next boot provisions anew");
    } else {
        info!("no marker to remove");
    }
    Ok(())
}

/// Remembers this host's name as the builder's, unless it is a placeholder anyway.
fn record_builder_hostname(state: &StateDir) -> Result<(), Failure> {
    let name = crate::hostname::current();
    if crate::hostname::is_placeholder(&name, None) {
        return Ok(());
    }
    state
        .write_builder_hostname(&name)
        .or_exit(ExitKind::Local)?;
    info!(hostname = name, "recorded the builder's host name");
    Ok(())
}
