//! Exit codes and the error type that carries one.
//!
//! Every failure the agent reports ends up as a [`Failure`]: an error chain for the one-line
//! message and an [`ExitKind`] that decides the process exit code. The codes are part of the
//! interface: the systemd unit's `RestartPreventExitStatus=` and the README both list them,
//! so they never change meaning.

use std::fmt;
use std::process::ExitCode;

/// What kind of failure ended a run; each kind has its own exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// A bug or an unexpected condition (exit 1).
    Internal,
    /// The settings file or the secret file is wrong (exit 3); retrying cannot help.
    Config,
    /// The Console answered and refused the request (exit 4); retrying cannot help.
    Refused,
    /// The Console could not be reached, failed transiently, or the deadline or lock wait
    /// ran out (exit 5); a later retry may succeed.
    Transient,
    /// A local file could not be read or written, or would have been damaged (exit 6).
    Local,
}

impl ExitKind {
    /// The process exit code for this kind of failure.
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Internal => 1,
            ExitKind::Config => 3,
            ExitKind::Refused => 4,
            ExitKind::Transient => 5,
            ExitKind::Local => 6,
        }
    }
}

impl From<ExitKind> for ExitCode {
    fn from(kind: ExitKind) -> Self {
        ExitCode::from(kind.code())
    }
}

/// An error with the exit code it should end the process with.
pub struct Failure {
    pub kind: ExitKind,
    pub error: anyhow::Error,
}

impl Failure {
    /// Wraps `error` as a failure of the given kind.
    pub fn new(kind: ExitKind, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            kind,
            error: error.into(),
        }
    }
}

/// Shown as the whole error chain on one line: `outer: inner: cause`.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:#}", self.kind, self.error)
    }
}

/// Lets `?` turn any error into a [`Failure`] of a chosen kind.
pub trait OrExit<T> {
    /// Marks the error as a failure of `kind`.
    fn or_exit(self, kind: ExitKind) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> OrExit<T> for Result<T, E> {
    fn or_exit(self, kind: ExitKind) -> Result<T, Failure> {
        self.map_err(|e| Failure::new(kind, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_stable() {
        let kinds = [
            ExitKind::Internal,
            ExitKind::Config,
            ExitKind::Refused,
            ExitKind::Transient,
            ExitKind::Local,
        ];
        let codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
        assert_eq!(codes, [1, 3, 4, 5, 6]);
    }

    #[test]
    fn failure_prints_the_chain_on_one_line() {
        let err = anyhow::anyhow!("inner").context("outer");
        let failure = Failure::new(ExitKind::Local, err);
        assert_eq!(failure.to_string(), "outer: inner");
    }
}
