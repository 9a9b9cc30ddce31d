//! `canary-bootstrap factory create|delete|list`: managing factory auth strings with the
//! Console's admin API key, for image pipelines.
//!
//! This module decides where the Console, the admin key and the files come from, and what
//! is printed: one JSON object per command on stdout, a secret only when the user asked for
//! it. The HTTP calls are in `admin_client`; the no-echo prompt is in `prompt`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::admin_client::{AdminClient, FactoryInfo, fingerprint};
use crate::cli::{FactoryArgs, FactoryCommand};
use crate::config::{Console, Settings};
use crate::console::ConsoleError;
use crate::exit::{ExitKind, Failure, OrExit};
use crate::secret::{self, Secret};
use crate::{atomic, prompt};

/// The environment variable that may hold the admin API key.
pub const AUTH_TOKEN_ENV: &str = "CANARY_AUTH_TOKEN";

/// The factory auth file when no settings file names one (the same default as `run`).
const DEFAULT_FACTORY_AUTH_FILE: &str = "/etc/canary-bootstrap/factory_auth";

/// What the commands take from the command line and the settings file together.
struct Place {
    console: Console,
    ca_file: Option<PathBuf>,
    factory_auth_file: PathBuf,
}

/// `create` output. Field order and names are part of the interface.
#[derive(Serialize)]
struct Created<'a> {
    console: &'a str,
    memo: &'a str,
    flock_id: Option<&'a str>,
    fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    factory_auth: Option<&'a Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    factory_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a Path>,
}

/// `delete` output.
#[derive(Serialize)]
struct Deleted<'a> {
    console: &'a str,
    fingerprint: String,
    deleted: bool,
    message: &'a str,
}

/// `list` output.
#[derive(Serialize)]
struct Listed<'a> {
    console: &'a str,
    factories: Vec<Listing<'a>>,
}

#[derive(Serialize)]
struct Listing<'a> {
    memo: Option<&'a str>,
    flock_id: Option<&'a str>,
    fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    factory_auth: Option<&'a Secret>,
}

/// Runs one `factory` command; `config` is the settings file, needed only for what the
/// command line leaves out.
pub fn factory(config: &Path, args: &FactoryArgs) -> Result<(), Failure> {
    let place = resolve(config, args)?;
    let key = admin_key(args.auth_token_file.as_deref())?;
    let tls = crate::tls::client_config(place.ca_file.as_deref()).or_exit(ExitKind::Config)?;
    let client = AdminClient::new(place.console.clone(), tls, key).or_exit(ExitKind::Internal)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .or_exit(ExitKind::Internal)?;
    match &args.action {
        FactoryCommand::Create {
            memo,
            flock_id,
            output,
        } => runtime.block_on(create(
            &client,
            &place,
            memo,
            flock_id.as_deref(),
            output.as_deref(),
        )),
        FactoryCommand::Delete { factory_auth_file } => {
            let file = factory_auth_file
                .as_ref()
                .unwrap_or(&place.factory_auth_file);
            runtime.block_on(delete(&client, &place, file))
        }
        FactoryCommand::List { show_secrets } => {
            runtime.block_on(list(&client, &place, *show_secrets))
        }
    }
}

/// The Console from `--console` or the settings file. With `--console`, a settings file
/// that does not exist is fine; one that exists must be valid.
fn resolve(config: &Path, args: &FactoryArgs) -> Result<Place, Failure> {
    let exists = config.try_exists().unwrap_or(true);
    let settings = match (&args.console, exists) {
        (Some(_), false) => None,
        (None, false) => {
            return Err(Failure::new(
                ExitKind::Config,
                anyhow!(
                    "no Console given: pass --console, or set 'console' in the settings file \
                     '{}' (it does not exist)",
                    config.display()
                ),
            ));
        }
        (_, true) => Some(Settings::load(config).or_exit(ExitKind::Config)?),
    };
    let console = match (&args.console, &settings) {
        (Some(console), _) => console.clone(),
        (None, Some(settings)) => settings.console.clone(),
        (None, None) => unreachable!("no settings without --console returned above"),
    };
    let from_settings = settings.as_ref();
    Ok(Place {
        console,
        ca_file: args
            .ca_file
            .clone()
            .or_else(|| from_settings.and_then(|s| s.ca_file.clone())),
        factory_auth_file: from_settings
            .map(|s| s.factory_auth_file.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_FACTORY_AUTH_FILE)),
    })
}

/// The admin API key: the file, else the environment, else a prompt on a terminal.
fn admin_key(file: Option<&Path>) -> Result<Secret, Failure> {
    if let Some(path) = file {
        debug!(path = %path.display(), "reading the admin API key");
        return secret::read_secret_file(path).or_exit(ExitKind::Config);
    }
    if let Some(value) = std::env::var_os(AUTH_TOKEN_ENV) {
        debug!("reading the admin API key from {AUTH_TOKEN_ENV}");
        let value = zeroize::Zeroizing::new(value.into_encoded_bytes());
        return secret::parse_secret(&value)
            .map_err(|e| e.context(format!("invalid {AUTH_TOKEN_ENV}")))
            .or_exit(ExitKind::Config);
    }
    if std::io::stdin().is_terminal() {
        return prompt::read_hidden("Canary Console admin API key: ").or_exit(ExitKind::Config);
    }
    Err(Failure::new(
        ExitKind::Config,
        anyhow!(
            "no admin API key: pass --auth-token-file, set {AUTH_TOKEN_ENV}, \
             or run on a terminal to be asked for it"
        ),
    ))
}

async fn create(
    client: &AdminClient,
    place: &Place,
    memo: &str,
    flock_id: Option<&str>,
    output: Option<&Path>,
) -> Result<(), Failure> {
    // Refuse before the Console creates anything that could not then be saved.
    if let Some(path) = output {
        check_output(path)?;
    }
    let new = client
        .create_factory(memo, flock_id)
        .await
        .map_err(console_failure)?;
    let print = fingerprint(&new.factory_auth);
    info!(fingerprint = %print, memo, "factory auth string created");
    let mut created = Created {
        console: place.console.as_str(),
        memo,
        flock_id,
        fingerprint: print,
        factory_auth: None,
        factory_url: None,
        output,
    };
    match output {
        Some(path) => save(client, path, &new.factory_auth).await?,
        None => {
            created.factory_auth = Some(&new.factory_auth);
            created.factory_url = new.factory_url.as_deref();
        }
    }
    print_json(&created)
}

/// `--output` must name a new file in an existing directory.
fn check_output(path: &Path) -> Result<(), Failure> {
    let shown = path.display();
    if path.symlink_metadata().is_ok() {
        return Err(Failure::new(
            ExitKind::Local,
            anyhow!("output file '{shown}' already exists; it is never replaced"),
        ));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Failure::new(
            ExitKind::Local,
            anyhow!("the directory of output file '{shown}' does not exist"),
        ));
    }
    Ok(())
}

/// Writes the new string to `path`; if that fails, deletes the factory again so no string
/// lives on the Console that nobody holds.
async fn save(client: &AdminClient, path: &Path, factory_auth: &Secret) -> Result<(), Failure> {
    let mut contents = zeroize::Zeroizing::new(factory_auth.expose().as_bytes().to_vec());
    contents.push(b'\n');
    let Err(error) = atomic::create_new(path, &contents, 0o600) else {
        info!(file = %path.display(), "factory auth string written");
        return Ok(());
    };
    let error = anyhow::Error::new(error).context(format!("failed to write '{}'", path.display()));
    match client.delete_factory(factory_auth).await {
        Ok(_) => {
            warn!("deleted the new factory auth string again, as it could not be saved");
            Err(Failure::new(ExitKind::Local, error))
        }
        Err(e) => Err(Failure::new(
            ExitKind::Local,
            error.context(format!(
                "and the new factory auth string ({}) could not be deleted again ({e}); \
                 delete it by hand",
                fingerprint(factory_auth)
            )),
        )),
    }
}

async fn delete(client: &AdminClient, place: &Place, file: &Path) -> Result<(), Failure> {
    let factory_auth = secret::read_secret_file(file).or_exit(ExitKind::Config)?;
    let print = fingerprint(&factory_auth);
    let message = client
        .delete_factory(&factory_auth)
        .await
        .map_err(console_failure)?;
    info!(fingerprint = %print, file = %file.display(), "factory auth string deleted");
    print_json(&Deleted {
        console: place.console.as_str(),
        fingerprint: print,
        deleted: true,
        message: &message,
    })
}

async fn list(client: &AdminClient, place: &Place, show_secrets: bool) -> Result<(), Failure> {
    let factories = client.list_factories().await.map_err(console_failure)?;
    let listing = factories.iter().map(|f| listing(f, show_secrets)).collect();
    print_json(&Listed {
        console: place.console.as_str(),
        factories: listing,
    })
}

fn listing(factory: &FactoryInfo, show_secrets: bool) -> Listing<'_> {
    Listing {
        memo: factory.memo.as_deref(),
        flock_id: factory.flock_id.as_deref(),
        fingerprint: fingerprint(&factory.factory_auth),
        factory_auth: show_secrets.then_some(&factory.factory_auth),
    }
}

/// A Console error as a failure: retrying helps only with transient ones.
fn console_failure(error: ConsoleError) -> Failure {
    let kind = if error.is_transient() {
        ExitKind::Transient
    } else {
        ExitKind::Refused
    };
    Failure::new(kind, error)
}

fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).or_exit(ExitKind::Internal)?;
    println!("{text}");
    Ok(())
}
