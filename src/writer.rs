//! Running a credentials change as the file's owner, in a child process.
//!
//! The agent runs as root but never touches a user's home as root: it starts itself again
//! (hidden subcommand `__write-profile`), and the child drops every group, gid and uid to the
//! user's before it runs anything, so a symlink planted by the user can lead it nowhere the
//! user could not go already. The request, secret included, travels on the child's stdin and
//! the report comes back on its stdout: never on a command line or in the environment.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use nix::unistd::{Gid, Uid};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::account::Account;
use crate::credentials::{self, Report, Request};

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "__write-profile";

/// Largest report the parent reads back.
const MAX_REPORT: u64 = 64 * 1024;

/// What the child sends back.
#[derive(Serialize, Deserialize)]
enum Reply {
    Done(Report),
    Failed(String),
}

/// Carries out `request` as `account`, in a child process.
pub fn apply_as(account: &Account, request: &Request) -> anyhow::Result<Report> {
    let me = nix::unistd::geteuid().as_raw();
    if me != 0 && me != account.uid {
        bail!(
            "writing for user '{}' needs root (running as uid {me})",
            account.name
        );
    }
    let mut child = command(account)
        .spawn()
        .context("failed to start the writer process")?;
    let input = Zeroizing::new(serde_json::to_vec(request)?);
    let mut stdin = child
        .stdin
        .take()
        .context("the writer process has no stdin")?;
    stdin
        .write_all(&input)
        .context("failed to send the request to the writer process")?;
    drop(stdin);
    let mut output = Zeroizing::new(Vec::new());
    let stdout = child
        .stdout
        .take()
        .context("the writer process has no stdout")?;
    stdout.take(MAX_REPORT).read_to_end(&mut output)?;
    let status = child
        .wait()
        .context("failed to wait for the writer process")?;
    match serde_json::from_slice::<Reply>(&output) {
        Ok(Reply::Done(report)) => Ok(report),
        Ok(Reply::Failed(message)) => Err(anyhow::anyhow!(message)),
        Err(_) => bail!(
            "the writer process for user '{}' failed ({status})",
            account.name
        ),
    }
}

/// The child command: this same binary, as the user, with an empty environment.
fn command(account: &Account) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let mut command = Command::new(exe);
    command
        .arg(SUBCOMMAND)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(fault) = crate::fault::inherited_setting() {
        command.env(crate::fault::ENV, fault);
    }
    let (uid, gid) = (Uid::from_raw(account.uid), Gid::from_raw(account.gid));
    let groups: Vec<Gid> = account.groups.iter().map(|&g| Gid::from_raw(g)).collect();
    // SAFETY: runs in the forked child before exec; it only makes raw set*id system calls,
    // which allocate nothing and are safe after fork.
    unsafe {
        command.pre_exec(move || become_user(uid, gid, &groups));
    }
    command
}

/// Drops groups, gid and uid (real, effective and saved) to the user's; no way back.
fn become_user(uid: Uid, gid: Gid, groups: &[Gid]) -> std::io::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    nix::unistd::setgroups(groups)?;
    nix::unistd::setresgid(gid, gid, gid)?;
    nix::unistd::setresuid(uid, uid, uid)?;
    Ok(())
}

/// The child's side: reads a request on stdin, applies it, writes the reply on stdout.
pub fn serve() -> std::process::ExitCode {
    crate::fault::in_writer();
    let reply = match read_request() {
        Ok(request) => match credentials::apply(&request) {
            Ok(report) => Reply::Done(report),
            Err(e) => Reply::Failed(format!("{e:#}")),
        },
        Err(e) => Reply::Failed(format!("{e:#}")),
    };
    let ok = matches!(reply, Reply::Done(_));
    let written = serde_json::to_writer(std::io::stdout().lock(), &reply).is_ok();
    if ok && written {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

fn read_request() -> anyhow::Result<Request> {
    let mut input = Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .take(MAX_REPORT)
        .read_to_end(&mut input)
        .context("failed to read the request")?;
    serde_json::from_slice(&input).map_err(|_| anyhow::anyhow!("the request is not valid"))
}
