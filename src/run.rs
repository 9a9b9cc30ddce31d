//! The first-boot job: `canary-bootstrap run`.
//!
//! In order: lock the state directory, stop early if this instance is provisioned, resolve
//! the targets, ask the Console for one token per target (recording each one durably before
//! anything is planted), plant them as their users, and commit the marker. A run that finds
//! a pending record from a crashed run plants those tokens instead of asking again.
//! The EC2 metadata service and the wait for a real host name happen only when a token is
//! about to be asked for, never on the already-provisioned path.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use tracing::{info, warn};

use crate::account::Account;
use crate::companion::{self, Companion};
use crate::config::{Settings, Target};
use crate::console::{Client, Credential, IssuedToken, TokenRequest};
use crate::credentials::{Action, FileKind, Outcome, Request};
use crate::exit::{ExitKind, Failure, OrExit};
use crate::identity::{self, InstanceId};
use crate::imds::{self, Metadata};
use crate::memo::{Facts, UNKNOWN};
use crate::secret::{self, Secret};
use crate::state::{Lock, Marker, Pending, PendingToken, Planted, StateDir};
use crate::{fault, writer};

/// The journald `MESSAGE_ID` of the "token planted" event; never changes.
pub const PLANTED_MESSAGE_ID: &str = "5b1e0c6a9f3d4c1e8a27d6b4f0c93e71";

/// A target with its user resolved and its file decided.
struct Plan {
    account: Account,
    profile: String,
    file: PathBuf,
    companion: Option<Companion>,
}

impl Plan {
    fn matches(&self, user: &str, profile: &str, file: &std::path::Path) -> bool {
        self.account.name == user && self.profile == profile && self.file == file
    }
}

/// What the memo may name about the host, beyond the target.
struct HostFacts {
    hostname: String,
    ec2: Option<Metadata>,
}

/// Runs the job. `force` issues new tokens even on a provisioned instance.
pub fn run(settings: &Settings, force: bool) -> Result<(), Failure> {
    let started = Instant::now();
    let state = StateDir::open(&settings.state_dir).or_exit(ExitKind::Local)?;
    let _lock = lock(&state, settings)?;
    let mut metadata = imds::Lazy::new(&settings.identity);
    let identity =
        identity::instance_id(&settings.identity, &mut metadata).or_exit(ExitKind::Local)?;
    let marker = state.marker().or_exit(ExitKind::Local)?;
    if let Some(marker) = &marker {
        let same = marker.identity.same_instance(&identity);
        if same && !force && !unfinished(&state, &identity)? {
            info!(identity = %identity, "this instance is already provisioned, nothing to do");
            return Ok(());
        }
        if !same {
            info!(previous = %marker.identity, current = %identity,
                "found state from another instance; provisioning this one anew");
        }
    }
    let plans = plan_targets(&settings.targets)?;
    let (pending, stale_ids) = load_pending(&state, &identity, force)?;
    let needs_tokens = !missing(&plans, &pending).is_empty();
    let ec2 = ec2_facts(settings, &mut metadata, needs_tokens)?;
    let identity = identity.with_instance_id(ec2.as_ref());
    let mut known_ids = own_key_ids(marker.as_ref(), &pending);
    known_ids.extend(stale_ids.iter().cloned());
    preflight(&missing(&plans, &pending), &known_ids, marker.as_ref())?;
    let pending = issue_missing(settings, &state, &plans, pending, ec2, &identity, started)?;
    let mut own_ids = own_key_ids(marker.as_ref(), &pending);
    own_ids.extend(stale_ids);
    let planted = plant_all(&plans, &pending, &own_ids, marker.as_ref())?;
    state
        .write_marker(&Marker::new(identity, planted))
        .or_exit(ExitKind::Local)?;
    fault::point("after-marker");
    state.remove_pending().or_exit(ExitKind::Local)?;
    info!(targets = plans.len(), "provisioning complete");
    Ok(())
}

/// Whether a run for this instance died before removing its pending record (maybe after
/// planting some of its tokens, which the marker may not list yet): if so, finish it.
fn unfinished(state: &StateDir, identity: &InstanceId) -> Result<bool, Failure> {
    let pending = state.pending().or_exit(ExitKind::Local)?;
    Ok(pending.is_some_and(|p| p.identity.same_instance(identity)))
}

fn lock(state: &StateDir, settings: &Settings) -> Result<Lock, Failure> {
    let wait = Duration::from_secs(settings.lock_wait_secs);
    match state.lock(wait).or_exit(ExitKind::Local)? {
        Some(lock) => Ok(lock),
        None => Err(Failure::new(
            ExitKind::Transient,
            anyhow::anyhow!(
                "another run held the lock for {}s; giving up",
                wait.as_secs()
            ),
        )),
    }
}

fn plan_targets(targets: &[Target]) -> Result<Vec<Plan>, Failure> {
    targets
        .iter()
        .map(|target| {
            let account = Account::lookup(&target.user).or_exit(ExitKind::Config)?;
            let file = target
                .credentials_file
                .clone()
                .unwrap_or_else(|| account.default_credentials_file());
            let settings = target.companion_settings();
            let companion = (!settings.is_empty()).then(|| Companion {
                file: target
                    .config_file
                    .clone()
                    .unwrap_or_else(|| account.home.join(".aws").join("config")),
                settings,
            });
            Ok(Plan {
                account,
                profile: target.profile.clone(),
                file,
                companion,
            })
        })
        .collect()
}

/// Tokens a crashed run issued for this instance. Stale ones (another instance, or
/// `force`) are dropped, since their keys belong to a different provisioning; their key
/// ids come back too, because a crashed run may have planted them, and a profile holding
/// one is the agent's own, to be replaced in place.
fn load_pending(
    state: &StateDir,
    identity: &InstanceId,
    force: bool,
) -> Result<(Pending, Vec<String>), Failure> {
    match state.pending().or_exit(ExitKind::Local)? {
        Some(pending) if pending.identity.same_instance(identity) && !force => {
            info!(
                tokens = pending.tokens.len(),
                "resuming with tokens a previous run issued"
            );
            Ok((pending, Vec::new()))
        }
        Some(stale) => {
            warn!(previous = %stale.identity, tokens = stale.tokens.len(),
                "discarding tokens recorded for another instance or replaced by --force");
            let ids = stale.tokens.into_iter().map(|t| t.access_key_id).collect();
            Ok((Pending::new(identity.clone()), ids))
        }
        None => Ok((Pending::new(identity.clone()), Vec::new())),
    }
}

/// The targets that have no token yet.
fn missing<'a>(plans: &'a [Plan], pending: &Pending) -> Vec<&'a Plan> {
    plans
        .iter()
        .filter(|plan| {
            !pending
                .tokens
                .iter()
                .any(|t| plan.matches(&t.user, &t.profile, &t.file))
        })
        .collect()
}

/// EC2 facts, asked for only when tokens are to be issued and the service applies. A
/// failure ends the run (transiently) only when the memo names those facts.
fn ec2_facts(
    settings: &Settings,
    metadata: &mut imds::Lazy,
    needs_tokens: bool,
) -> Result<Option<Metadata>, Failure> {
    if !needs_tokens || !metadata.applies() {
        return Ok(None);
    }
    match metadata.get() {
        Ok(facts) => Ok(Some(facts.clone())),
        Err(e) if settings.memo.uses_ec2_facts() => Err(Failure::new(
            ExitKind::Transient,
            e.context("the memo names EC2 facts"),
        )),
        Err(e) => {
            warn!("continuing without EC2 facts: {e:#}");
            Ok(None)
        }
    }
}

/// The host name for the memo, waited for when the memo names it.
fn host_facts(
    settings: &Settings,
    state: &StateDir,
    ec2: Option<Metadata>,
    identity: &InstanceId,
) -> HostFacts {
    let fallback = ec2
        .as_ref()
        .map_or(identity.value.as_str(), |m| m.instance_id.as_str());
    let hostname = if settings.memo.uses("hostname") {
        let builder = state.builder_hostname();
        let wait = Duration::from_secs(settings.hostname_wait_secs);
        crate::hostname::settle(crate::hostname::current, builder.as_deref(), wait, fallback)
    } else {
        crate::hostname::current()
    };
    HostFacts { hostname, ec2 }
}

/// Asks the Console for a token for each target that has none yet, recording each one.
fn issue_missing(
    settings: &Settings,
    state: &StateDir,
    plans: &[Plan],
    mut pending: Pending,
    ec2: Option<Metadata>,
    identity: &InstanceId,
    started: Instant,
) -> Result<Pending, Failure> {
    let missing = missing(plans, &pending);
    if missing.is_empty() {
        return Ok(pending);
    }
    let auth = read_credential(settings)?;
    let host = host_facts(settings, state, ec2, identity);
    let client = client(settings)?;
    let runtime = runtime()?;
    let deadline = started + settings.deadline();
    for plan in missing {
        let token = runtime.block_on(request_token(
            settings, &client, &auth, plan, &host, deadline,
        ))?;
        info!(token_id = %token.token_id, user = %plan.account.name, profile = %plan.profile,
            "token issued");
        fault::point("after-issue");
        pending.tokens.push(pending_token(plan, token));
        state.write_pending(&pending).or_exit(ExitKind::Local)?;
        fault::point("after-pending");
    }
    Ok(pending)
}

async fn request_token(
    settings: &Settings,
    client: &Client,
    auth: &Credential,
    plan: &Plan,
    host: &HostFacts,
    deadline: Instant,
) -> Result<IssuedToken, Failure> {
    let path = plan.file.to_string_lossy();
    let ec2 = host.ec2.as_ref();
    let facts = Facts {
        hostname: &host.hostname,
        user: &plan.account.name,
        profile: &plan.profile,
        path: &path,
        instance_id: ec2.map_or(UNKNOWN, |m| &m.instance_id),
        ami_id: ec2.map_or(UNKNOWN, |m| &m.ami_id),
        region: ec2.map_or(UNKNOWN, |m| &m.region),
        az: ec2.map_or(UNKNOWN, |m| &m.az),
    };
    let memo = settings
        .memo
        .render(&facts)
        .context("setting 'memo'")
        .or_exit(ExitKind::Config)?;
    let request = TokenRequest {
        memo: &memo,
        flock_id: settings.flock_id.as_deref(),
        aws_id_username: settings.aws_id_username.as_deref(),
        expiry: settings.expiry.as_deref(),
    };
    client
        .issue_token(auth, &request, deadline)
        .await
        .map_err(|e| {
            let kind = if e.is_transient() {
                ExitKind::Transient
            } else {
                ExitKind::Refused
            };
            Failure::new(kind, e)
        })
}

/// The Deploy key when `deploy_key_file` is set, else the factory auth string.
fn read_credential(settings: &Settings) -> Result<Credential, Failure> {
    match &settings.deploy_key_file {
        Some(file) => read_secret("deploy_key", file).map(Credential::Deploy),
        None => read_secret("factory_auth", &settings.factory_auth_file).map(Credential::Factory),
    }
}

/// A secret: systemd's credential of that name first, then the configured file.
fn read_secret(name: &str, file: &std::path::Path) -> Result<Secret, Failure> {
    let from_systemd = std::env::var_os("CREDENTIALS_DIRECTORY")
        .map(|dir| PathBuf::from(dir).join(name))
        .filter(|path| path.exists());
    let path = from_systemd.unwrap_or_else(|| file.to_owned());
    tracing::debug!(path = %path.display(), "reading the {name} secret");
    secret::read_secret_file(&path).or_exit(ExitKind::Config)
}

fn client(settings: &Settings) -> Result<Client, Failure> {
    let tls = crate::tls::client_config(settings.ca_file.as_deref()).or_exit(ExitKind::Config)?;
    Client::new(settings.console.clone(), tls, settings.request_timeout())
        .or_exit(ExitKind::Internal)
}

/// A single-threaded runtime: the job is one request at a time, and a process without
/// threads is simpler to reason about when it starts children as other users.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .or_exit(ExitKind::Internal)
}

fn pending_token(plan: &Plan, token: IssuedToken) -> PendingToken {
    PendingToken {
        user: plan.account.name.clone(),
        profile: plan.profile.clone(),
        file: plan.file.clone(),
        token_id: token.token_id,
        access_key_id: token.access_key_id,
        secret_access_key: token.secret_access_key,
    }
}

/// Checks, as each user and changing nothing, that every target still waiting for a token
/// would take it: a file that would be refused then costs no token.
fn preflight(plans: &[&Plan], own_ids: &[String], marker: Option<&Marker>) -> Result<(), Failure> {
    for plan in plans {
        if let Some(companion) = &plan.companion {
            let user = &plan.account.name;
            let recorded = companion::recorded(marker, user, &plan.profile, &companion.file);
            companion::configure(&plan.account, &plan.profile, companion, recorded, true)?;
        }
        let request = Request {
            path: plan.file.clone(),
            profile: plan.profile.clone(),
            action: Action::Plant {
                access_key_id: PREFLIGHT_KEY_ID.to_owned(),
                secret_access_key: Secret::new(PREFLIGHT_SECRET.to_owned()),
            },
            own_key_ids: own_ids.to_vec(),
            kind: FileKind::Credentials,
            recorded_own: false,
            dry_run: true,
        };
        writer::apply_as(&plan.account, &request).or_exit(ExitKind::Local)?;
    }
    Ok(())
}

/// A well-formed stand-in key pair for [`preflight`]; it is never written anywhere.
const PREFLIGHT_KEY_ID: &str = "AKIAPREFLIGHTCHECK00";
const PREFLIGHT_SECRET: &str = "preflight/check/stand-in/secret/0000000";

/// Key ids that mark a section as the agent's own: earlier instances' and this run's.
fn own_key_ids(marker: Option<&Marker>, pending: &Pending) -> Vec<String> {
    let previous = marker
        .into_iter()
        .flat_map(|m| m.planted.iter().map(|p| &p.access_key_id));
    let current = pending.tokens.iter().map(|t| &t.access_key_id);
    previous.chain(current).cloned().collect()
}

fn plant_all(
    plans: &[Plan],
    pending: &Pending,
    own_ids: &[String],
    marker: Option<&Marker>,
) -> Result<Vec<Planted>, Failure> {
    let mut planted = Vec::new();
    for plan in plans {
        let token = pending
            .tokens
            .iter()
            .find(|t| plan.matches(&t.user, &t.profile, &t.file))
            .ok_or_else(|| {
                Failure::new(ExitKind::Internal, anyhow::anyhow!("no token for target"))
            })?;
        // The config companion holds no secret and goes first: if it clashes, the
        // credentials file is never touched.
        if let Some(companion) = &plan.companion {
            let user = &plan.account.name;
            let recorded = companion::recorded(marker, user, &plan.profile, &companion.file);
            companion::configure(&plan.account, &plan.profile, companion, recorded, false)?;
        }
        let mut entry = plant(plan, token, own_ids)?;
        entry.config_file = plan.companion.as_ref().map(|c| c.file.clone());
        planted.push(entry);
        fault::point("after-plant");
    }
    Ok(planted)
}

fn plant(plan: &Plan, token: &PendingToken, own_ids: &[String]) -> Result<Planted, Failure> {
    let request = Request {
        path: plan.file.clone(),
        profile: plan.profile.clone(),
        action: Action::Plant {
            access_key_id: token.access_key_id.clone(),
            secret_access_key: token.secret_access_key.clone(),
        },
        own_key_ids: own_ids.to_vec(),
        kind: FileKind::Credentials,
        recorded_own: false,
        dry_run: false,
    };
    let report = writer::apply_as(&plan.account, &request).or_exit(ExitKind::Local)?;
    for warning in &report.warnings {
        warn!("{warning}");
    }
    let file = report.file.display().to_string();
    match report.outcome {
        Outcome::Unchanged => info!(file, profile = %plan.profile, "profile already in place"),
        outcome => info!(
            message_id = PLANTED_MESSAGE_ID,
            token_id = %token.token_id,
            user = %plan.account.name,
            profile = %plan.profile,
            file,
            replaced = outcome == Outcome::Replaced,
            "token planted"
        ),
    }
    Ok(Planted {
        user: plan.account.name.clone(),
        profile: plan.profile.clone(),
        file: plan.file.clone(),
        token_id: token.token_id.clone(),
        access_key_id: token.access_key_id.clone(),
        config_file: None,
    })
}
