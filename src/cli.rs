//! The command line: subcommands and flags, as clap definitions.
//!
//! The man page and shell completions are generated from these definitions, so every flag's
//! help text is user documentation.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::{Console, DEFAULT_CONFIG};

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
    ///
    /// With --json, one object whose shape is stable: "provisioned" (true when a marker exists
    /// for this instance's identity), "identity" ("source:value", or null when none can be
    /// read), "marker_identity" (the identity the marker was written for, or null),
    /// "provisioned_at" (seconds since the Unix epoch, or null), "planted" (a list of
    /// {"user", "profile", "file", "token_id", "access_key_id"}) and "pending_tokens" (how
    /// many issued tokens an unfinished run has yet to plant). It never holds a secret.
    /// Fields may be added; none is removed or changes meaning.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove the marker and the agent's own profiles before an image is captured.
    PrepareImage,
    /// Create, list or delete factory auth strings with the Console's admin API key.
    ///
    /// For image pipelines: create a factory auth string before baking an image, delete it
    /// when the image is retired. The Console is --console, else 'console' from the
    /// settings file (which may be absent when --console is given). The admin API key is
    /// read from --auth-token-file, else the CANARY_AUTH_TOKEN environment variable, else
    /// asked for without echo when stdin is a terminal; it is never taken from the command
    /// line, and never printed or logged. Each command prints one JSON object on stdout;
    /// fields may be added, none is removed or changes meaning.
    Factory(FactoryArgs),
    /// Internal: apply one credentials change as the current user (used by `run`).
    #[command(name = "__write-profile", hide = true)]
    WriteProfile,
}

/// Options shared by the `factory` commands.
#[derive(Debug, Args)]
pub struct FactoryArgs {
    /// The Console: https://<hash>.canary.tools or the bare hash. Default: 'console' from the
    /// settings file.
    #[arg(long, global = true, value_name = "URL", value_parser = parse_console)]
    pub console: Option<Console>,

    /// A file holding the admin API key, checked like the factory auth file (a regular file
    /// owned by root or you, no group or other permission bits). Default: the
    /// CANARY_AUTH_TOKEN environment variable, else a prompt on a terminal.
    #[arg(long, global = true, value_name = "PATH")]
    pub auth_token_file: Option<PathBuf>,

    /// A PEM file of extra CA certificates for the Console. Default: 'ca_file' from the
    /// settings file.
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    #[command(subcommand)]
    pub action: FactoryCommand,
}

/// The `factory` commands.
#[derive(Debug, Subcommand)]
pub enum FactoryCommand {
    /// Create a factory auth string (create_factory).
    ///
    /// Prints {"console", "memo", "flock_id", "fingerprint", "factory_auth",
    /// "factory_url"}: "flock_id" is the one asked for (null: the Console's default flock),
    /// "fingerprint" is "fa-" and the first 8 hex digits of the string's SHA-256 (the name
    /// `factory list` and the logs use), "factory_url" is the token path the Console named.
    /// With --output the string is written to PATH instead (mode 0600, atomically, never
    /// over an existing file) and only {"console", "memo", "flock_id", "fingerprint",
    /// "output"} is printed. If the file cannot be written, the new factory is deleted again.
    Create {
        /// The memo the Console shows for this factory, e.g. the image's name.
        #[arg(long, value_name = "TEXT")]
        memo: String,

        /// The flock its tokens go to (flock:...). Default: the Console's default flock.
        #[arg(long, value_name = "ID")]
        flock_id: Option<String>,

        /// Write the factory auth string to this new file (mode 0600) instead of stdout. An
        /// existing file is never replaced.
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Delete a factory auth string (delete_factory); tokens it created stay.
    ///
    /// Prints {"console", "fingerprint", "deleted": true, "message"}, "message" being the
    /// Console's own words. The file is left in place.
    Delete {
        /// The file holding the string to delete. Default: 'factory_auth_file' from the
        /// settings file (/etc/canary-bootstrap/factory_auth).
        #[arg(long, value_name = "PATH")]
        factory_auth_file: Option<PathBuf>,
    },
    /// List the Console's factory auth strings (list_factories).
    ///
    /// Prints {"console", "factories": [{"memo", "flock_id", "fingerprint"}]}; with
    /// --show-secrets each entry also has "factory_auth".
    List {
        /// Include each full factory auth string.
        #[arg(long)]
        show_secrets: bool,
    },
}

fn parse_console(value: &str) -> Result<Console, String> {
    Console::parse(value).map_err(|e| format!("{e:#}"))
}
