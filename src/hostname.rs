//! The host name the memo names, once early boot has settled it.
//!
//! At first boot the name can still be `localhost`, `localhost.localdomain`, empty, or the
//! name of the machine the image was built on (which `prepare-image` records), until
//! cloud-init or DHCP sets the real one. This module waits for a real name, bounded by
//! `hostname_wait_secs`, and otherwise settles for a fallback (the instance id) and says so.
//! It does not set the host name.

use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

/// Names a host has before it is given its own.
const PLACEHOLDERS: &[&str] = &[
    "",
    "localhost",
    "localhost.localdomain",
    "localhost6.localdomain6",
    "(none)",
];

/// How often the name is read again while waiting.
const POLL: Duration = Duration::from_millis(250);

/// The host name as `gethostname` reports it; empty when it cannot be read.
pub fn current() -> String {
    nix::unistd::gethostname()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether `name` is a placeholder or the image builder's name rather than this host's.
pub fn is_placeholder(name: &str, builder: Option<&str>) -> bool {
    let name = name.trim().to_ascii_lowercase();
    let is_builder = builder.is_some_and(|b| b.trim().eq_ignore_ascii_case(&name));
    PLACEHOLDERS.contains(&name.as_str()) || is_builder
}

/// Reads the name from `source` until it is real or `wait` has passed; then `fallback`.
pub fn settle(
    source: impl Fn() -> String,
    builder: Option<&str>,
    wait: Duration,
    fallback: &str,
) -> String {
    let give_up = Instant::now() + wait;
    let mut name = source();
    let mut waited = false;
    while is_placeholder(&name, builder) && Instant::now() < give_up {
        if !waited {
            info!(
                hostname = name,
                wait_secs = wait.as_secs(),
                "waiting for a real host name"
            );
            waited = true;
        }
        std::thread::sleep(POLL.min(give_up.saturating_duration_since(Instant::now())));
        name = source();
    }
    if is_placeholder(&name, builder) {
        warn!(
            hostname = name,
            fallback, "no real host name in time; the memo names the fallback"
        );
        return fallback.to_owned();
    }
    debug!(hostname = name, "host name settled");
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn knows_placeholders_and_the_builder_name() {
        assert!(is_placeholder("localhost", None));
        assert!(is_placeholder("LOCALHOST.localdomain\n", None));
        assert!(is_placeholder("", None));
        assert!(is_placeholder("ami-builder-7", Some("ami-builder-7")));
        assert!(!is_placeholder("web-1", Some("ami-builder-7")));
    }

    #[test]
    fn waits_for_the_real_name() {
        let calls = Cell::new(0);
        let source = || {
            calls.set(calls.get() + 1);
            if calls.get() < 3 {
                "localhost"
            } else {
                "web-1"
            }
            .to_owned()
        };
        let name = settle(source, None, Duration::from_secs(10), "i-0abc");
        assert_eq!(name, "web-1");
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn falls_back_when_the_wait_ends() {
        let source = || "builder".to_owned();
        let name = settle(
            source,
            Some("builder"),
            Duration::from_millis(300),
            "i-0abc",
        );
        assert_eq!(name, "i-0abc");
        assert_eq!(
            settle(|| "web-2".into(), Some("builder"), Duration::ZERO, "x"),
            "web-2"
        );
    }
}
