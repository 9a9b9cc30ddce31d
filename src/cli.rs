//! The command line: subcommands and flags, as clap definitions.
//!
//! The man page and shell completions are generated from these definitions, so every flag's
//! help text is user documentation.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

use crate::config::DEFAULT_CONFIG;

/// Plants a fresh AWS-key Canarytoken on a cloud host's first boot.
#[derive(Debug, Parser)]
#[command(name = "canary-bootstrap", version, about, long_about = None)]
pub struct Cli {
    /// The settings file.
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,

    /// More detail in the log: -v for debug, -vv for trace.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plant a token unless this instance already has one (the first-boot job).
    Run {
        /// Issue and plant new tokens even if this instance is provisioned; the agent's own
        /// profiles are replaced in place.
        #[arg(long)]
        force: bool,
    },
    /// Say whether this instance is provisioned, and with which token.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove the marker and the agent's own profiles before an image is captured.
    PrepareImage,
    /// Internal: apply one credentials change as the current user (used by `run`).
    #[command(name = "__write-profile", hide = true)]
    WriteProfile,
}
