//! Running a credentials change as the file's owner, in a child process.
//!
//! The agent runs as root but never touches a user's home as root: it starts itself again
//! (hidden subcommand `__write-profile`), and the child drops every group, gid and uid to the
//! user's before it runs anything, so a symlink planted by the user can lead it nowhere the
//! user could not go already. The request, secret included, travels on the child's stdin and
//! the report comes back on its stdout: never on a command line or in the environment. The
//! child's umask is 077, whatever the agent's, and it gets a bounded time: a child the user
//! stops or blocks (it runs as that user, who may signal it) fails the write instead of
//! hanging the boot.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::account::Account;
use crate::credentials::{self, Report, Request};

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "__write-profile";

/// Largest report the parent reads back.
const MAX_REPORT: u64 = 64 * 1024;

/// How long a writer child may take; reading and rewriting one small file takes milliseconds.
const WRITER_TIMEOUT: Duration = Duration::from_secs(60);

/// In fault-injection builds, a shorter writer timeout in milliseconds, for tests.
const TIMEOUT_ENV: &str = "CANARY_BOOTSTRAP_WRITER_TIMEOUT_MS";

/// The fault point at which the writer stops itself (SIGSTOP) so a test can inspect it.
pub const STOP_FAULT: &str = "writer-stop";

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
    let stdout = child
        .stdout
        .take()
        .context("the writer process has no stdout")?;
    let (output, status) = collect(child, stdout, timeout(), &account.name)?;
    match serde_json::from_slice::<Reply>(&output) {
        Ok(Reply::Done(report)) => Ok(report),
        Ok(Reply::Failed(message)) => Err(anyhow::anyhow!(message)),
        Err(_) => bail!(
            "the writer process for user '{}' failed ({status})",
            account.name
        ),
    }
}

/// Reads the child's report and waits for it, killing it (by its pid) when it outlives
/// `limit`. The reading happens on a short-lived thread that has ended before this returns,
/// so the next writer is forked from a process without it.
fn collect(
    mut child: Child,
    stdout: ChildStdout,
    limit: Duration,
    user: &str,
) -> anyhow::Result<(Zeroizing<Vec<u8>>, std::process::ExitStatus)> {
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut output = Zeroizing::new(Vec::new());
        let read = stdout.take(MAX_REPORT).read_to_end(&mut output);
        let _ = tx.send(read.map(|_| output));
    });
    let received = rx.recv_timeout(limit);
    if received.is_err() {
        let _ = child.kill();
    }
    let status = child.wait();
    let _ = reader.join();
    let Ok(read) = received else {
        bail!(
            "the writer process for user '{user}' did not finish within {}s; it was stopped",
            limit.as_secs_f32()
        );
    };
    let output = read.context("failed to read the writer process's report")?;
    let status = status.context("failed to wait for the writer process")?;
    Ok((output, status))
}

fn timeout() -> Duration {
    let from_env = cfg!(feature = "fault-injection")
        .then(|| std::env::var(TIMEOUT_ENV).ok()?.parse().ok())
        .flatten();
    from_env.map_or(WRITER_TIMEOUT, Duration::from_millis)
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

/// Sets umask 077, keeps every descriptor but stdin, stdout and stderr from reaching the
/// new program, and drops groups, gid and uid (real, effective and saved) to the user's; no
/// way back. A target that is the agent's own user (root writing root's file) needs no
/// change, and in a user namespace could not make one: setgroups is refused there.
fn become_user(uid: Uid, gid: Gid, groups: &[Gid]) -> std::io::Result<()> {
    nix::sys::stat::umask(Mode::from_bits_truncate(0o077));
    close_inherited_fds();
    let (euid, egid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    if !euid.is_root() || (uid == euid && gid == egid) {
        return Ok(());
    }
    nix::unistd::setgroups(groups)?;
    nix::unistd::setresgid(gid, gid, gid)?;
    nix::unistd::setresuid(uid, uid, uid)?;
    Ok(())
}

/// Marks every descriptor above stderr close-on-exec: whatever started the agent may have
/// left it descriptors, and the writer runs as a user who can look into its process.
/// Close-on-exec rather than close, so std's exec-error pipe still works until the exec.
fn close_inherited_fds() {
    use nix::libc;
    // SAFETY: plain system calls on descriptor numbers; no memory is touched.
    unsafe {
        let flags = libc::CLOSE_RANGE_CLOEXEC as libc::c_int;
        if libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            flags,
        ) == 0
        {
            return;
        }
        // Kernels before 5.11: one descriptor at a time, up to the descriptor limit.
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        let top = limit.rlim_cur.clamp(1024, 65536) as libc::c_int;
        for fd in 3..top {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

/// The child's side: reads a request on stdin, applies it, writes the reply on stdout.
pub fn serve() -> std::process::ExitCode {
    crate::fault::in_writer();
    let reply = match read_request() {
        Ok(request) => match stop_point(&request).and_then(|()| credentials::apply(&request)) {
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

/// Under fault injection, stops here (SIGSTOP) when the fault names [`STOP_FAULT`], so a test
/// can look at the running writer from outside: its ids, arguments, environment and files.
/// Only a writer that holds a real secret stops; the dry run before asking the Console
/// does not.
fn stop_point(request: &Request) -> anyhow::Result<()> {
    let wanted =
        !request.dry_run && crate::fault::inherited_setting().is_some_and(|f| f == STOP_FAULT);
    if wanted {
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP)?;
    }
    Ok(())
}
