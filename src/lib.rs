//! canary-bootstrap: a first-boot agent that plants an AWS-key Canarytoken on a host.
//!
//! `main.rs` parses the command line and calls [`execute`]; each subcommand lives in its own
//! module. The modules below it own one thing each: settings, secrets, the Console client,
//! instance identity, the credentials file format, writing as a user, and the state
//! directory.

pub mod account;
pub mod admin;
pub mod admin_client;
pub mod atomic;
pub mod cli;
pub mod companion;
pub mod config;
pub mod console;
pub mod credentials;
pub mod exit;
pub mod fault;
pub mod hostname;
pub mod identity;
pub mod image;
pub mod imds;
pub mod logging;
pub mod memo;
pub mod profile_file;
pub mod prompt;
pub mod random;
pub mod retry;
pub mod run;
pub mod secret;
pub mod state;
pub mod status;
pub mod tls;
pub mod writer;

use cli::{Cli, Command};
use config::Settings;
use exit::{ExitKind, Failure, OrExit};

/// Runs one subcommand (all but the internal writer, which `main` dispatches first).
pub fn execute(cli: &Cli) -> Result<(), Failure> {
    // The admin commands may run without a settings file; they read it themselves.
    if let Command::Factory(args) = &cli.command {
        return admin::factory(&cli.config, args);
    }
    let settings = Settings::load(&cli.config).or_exit(ExitKind::Config)?;
    match &cli.command {
        Command::Run { force } => run::run(&settings, *force),
        Command::Status { json } => {
            let status = status::status(&settings)?;
            if *json {
                let text = serde_json::to_string_pretty(&status).or_exit(ExitKind::Internal)?;
                println!("{text}");
            } else {
                status::print_text(&status);
            }
            Ok(())
        }
        Command::PrepareImage => image::prepare_image(&settings),
        Command::Factory(_) => unreachable!("factory commands return before settings load"),
        Command::WriteProfile => unreachable!("main dispatches the writer before settings load"),
    }
}
