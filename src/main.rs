//! The `canary-bootstrap` binary: logging, the command line, and the exit code.

use std::process::ExitCode;

use canary_bootstrap::cli::{Cli, Command};
use canary_bootstrap::{execute, logging, writer};
use clap::Parser;

fn main() -> ExitCode {
    // A file-size limit must fail the write with EFBIG, not kill the agent mid-way.
    // SAFETY: setting a signal to SIG_IGN installs no handler code.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::SIGXFSZ,
            nix::sys::signal::SigHandler::SigIgn,
        )
    };
    let cli = Cli::parse();
    if let Command::WriteProfile = cli.command {
        return writer::serve();
    }
    logging::init(cli.verbose);
    match execute(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            tracing::error!("{failure}");
            failure.kind.into()
        }
    }
}
