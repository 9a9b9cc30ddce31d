//! Fault injection for crash tests: the agent kills itself at a named point.
//!
//! Compiled in only with the `fault-injection` feature, which the test suite enables; in a
//! normal build [`point`] is an empty inline function. The point to die at is named in the
//! `CANARY_BOOTSTRAP_FAULT` environment variable (a step name, never a secret). [`POINTS`]
//! lists every point, so the crash tests can kill a run at each one in turn.

#[cfg(feature = "fault-injection")]
use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable naming the point to die at.
pub const ENV: &str = "CANARY_BOOTSTRAP_FAULT";

/// A step after which a run can be killed.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub name: &'static str,
    /// Whether dying here costs the Console an extra token (the answer was not recorded).
    pub loses_token: bool,
}

/// Every fault point, in the order a run reaches them. Points named after a file come from
/// [`crate::atomic::replace`] and fire for the first file of that name a run writes.
pub const POINTS: &[Point] = &[
    step("after-issue", true),
    step("pending.json-temp-written", true),
    step("after-pending", false),
    step("credentials-temp-written", false),
    step("credentials-renamed", false),
    step("after-plant", false),
    step("provisioned.json-temp-written", false),
    step("after-marker", false),
];

const fn step(name: &'static str, loses_token: bool) -> Point {
    Point { name, loses_token }
}

/// Set in the writer child, whose death must take its parent along, as a power cut would.
#[cfg(feature = "fault-injection")]
static IN_WRITER: AtomicBool = AtomicBool::new(false);

/// Notes that this process is the writer child.
pub fn in_writer() {
    #[cfg(feature = "fault-injection")]
    IN_WRITER.store(true, Ordering::Relaxed);
}

/// Dies by SIGKILL, like a power cut, if `name` is the configured fault point.
#[cfg(feature = "fault-injection")]
pub fn point(name: &str) {
    use nix::sys::signal::{Signal, kill, raise};
    if std::env::var(ENV).is_ok_and(|wanted| wanted == name) {
        if IN_WRITER.load(Ordering::Relaxed) {
            let parent = nix::unistd::Pid::from_raw(std::os::unix::process::parent_id() as i32);
            let _ = kill(parent, Signal::SIGKILL);
        }
        let _ = raise(Signal::SIGKILL);
    }
}

/// Fault injection is compiled out of this build.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_name: &str) {}

/// The fault setting to pass on to the writer process, in builds that have faults.
pub fn inherited_setting() -> Option<String> {
    if cfg!(feature = "fault-injection") {
        std::env::var(ENV).ok()
    } else {
        None
    }
}
