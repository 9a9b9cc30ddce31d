//! Logging: to the journal when stderr is the journal, else compact lines on stderr.
//!
//! systemd sets `JOURNAL_STREAM` to the device and inode of the stream it connected; when
//! stderr is that stream, events go to journald directly with their fields (so the "token
//! planted" event keeps its `MESSAGE_ID`). Otherwise one plain line per event, coloured only
//! on a terminal. Verbosity: `-v` for debug, `-vv` for trace, or `CANARY_BOOTSTRAP_LOG`
//! (a tracing filter such as `debug`) from a unit drop-in.

use std::io::IsTerminal;
use std::os::fd::AsFd;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The environment variable holding a log filter.
pub const ENV: &str = "CANARY_BOOTSTRAP_LOG";

/// Installs the global subscriber. `verbosity` counts `-v` flags.
pub fn init(verbosity: u8) {
    let filter = filter(verbosity);
    if stderr_is_journal()
        && let Ok(journald) = tracing_journald::layer()
    {
        let journald = journald.with_field_prefix(None);
        tracing_subscriber::registry()
            .with(filter)
            .with(journald)
            .init();
        return;
    }
    let terminal = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(terminal)
        .with_target(false)
        .without_time()
        .compact()
        .init();
}

fn filter(verbosity: u8) -> EnvFilter {
    let level = match verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let from_env = std::env::var(ENV).ok().filter(|_| verbosity == 0);
    let directive = from_env.unwrap_or_else(|| level.to_owned());
    // Libraries log at their own levels; only the agent's own events are wanted by default.
    EnvFilter::try_new(format!("warn,canary_bootstrap={directive}"))
        .unwrap_or_else(|_| EnvFilter::new("warn,canary_bootstrap=info"))
}

/// Whether stderr is the stream systemd named in `JOURNAL_STREAM`.
fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(stat) = nix::sys::stat::fstat(std::io::stderr().as_fd()) else {
        return false;
    };
    dev.parse() == Ok(stat.st_dev) && ino.parse() == Ok(stat.st_ino)
}
