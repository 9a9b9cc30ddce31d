//! Fault injection for crash tests: the agent kills itself at a named point.
//!
//! Compiled in only with the `fault-injection` feature, which the test suite enables; in a
//! normal build [`point`] is an empty inline function. The point to die at is named in the
//! `CANARY_BOOTSTRAP_FAULT` environment variable (a step name, never a secret).

/// The environment variable naming the point to die at.
pub const ENV: &str = "CANARY_BOOTSTRAP_FAULT";

/// Dies by SIGKILL, like a power cut, if `name` is the configured fault point.
#[cfg(feature = "fault-injection")]
pub fn point(name: &str) {
    if std::env::var(ENV).is_ok_and(|wanted| wanted == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
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
