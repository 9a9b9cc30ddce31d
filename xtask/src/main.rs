//! Build helpers: generates the man page and shell completions from the clap definitions
//! in `src/cli.rs`, so neither is written by hand and both always match the binary.
//!
//! `cargo xtask assets [DIR]` writes `DIR/man/canary-bootstrap*.8` (one page per
//! subcommand besides the main one) and
//! `DIR/completions/{canary-bootstrap.bash,_canary-bootstrap,canary-bootstrap.fish}`;
//! `DIR` defaults to `target/assets`, where the package metadata in `Cargo.toml` expects
//! them. It touches nothing outside `DIR`.

mod man;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use canary_bootstrap::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;

/// The binary's name, as installed and as completions register it.
const BIN: &str = "canary-bootstrap";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["assets"] => assets(&default_out_dir()),
        ["assets", dir] => assets(Path::new(dir)),
        _ => bail!("usage: cargo xtask assets [DIR]"),
    }
}

/// `target/assets` of the workspace, wherever cargo runs from.
fn default_out_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/assets")
}

/// Writes the man page and the completions under `dir`.
fn assets(dir: &Path) -> anyhow::Result<()> {
    let man_dir = dir.join("man");
    std::fs::create_dir_all(&man_dir)
        .with_context(|| format!("failed to create '{}'", man_dir.display()))?;
    write(&man_dir.join(format!("{BIN}.8")), &man::render()?)?;
    for (stem, page) in man::render_subcommands()? {
        write(&man_dir.join(format!("{stem}.8")), &page)?;
    }

    let completions = dir.join("completions");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("failed to create '{}'", completions.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut command = Cli::command();
        let path = clap_complete::generate_to(shell, &mut command, BIN, &completions)
            .with_context(|| format!("failed to write {shell} completions"))?;
        println!("{}", path.display());
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("failed to write '{}'", path.display()))?;
    println!("{}", path.display());
    Ok(())
}
