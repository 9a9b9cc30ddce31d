//! Asking for a secret on the terminal without echoing it.
//!
//! Echo is turned off on stdin's terminal for the one line read, and turned back on when
//! the read ends, fails, or the process is interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT
//! restore the terminal before they take effect). This module does not decide when to
//! prompt; the caller checks that stdin is a terminal.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::OnceLock;

use anyhow::{Context, bail};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::termios::{self, LocalFlags, SetArg, Termios};
use zeroize::Zeroizing;

use crate::secret::{self, Secret};

/// The longest line accepted; an API key is a few dozen characters.
const MAX_LINE: usize = 4096;

/// Signals that would otherwise end the process with echo still off.
const SIGNALS: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// The terminal settings to restore from a signal handler: stdin's, before echo went off.
static SAVED: OnceLock<nix::libc::termios> = OnceLock::new();

/// Prints `prompt` on stderr and reads one line from stdin with echo off.
pub fn read_hidden(prompt: &str) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let saved = termios::tcgetattr(fd).context("failed to read the terminal settings")?;
    let _echo_off = EchoOff::new(fd, saved)?;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let line = read_line(fd)?;
    secret::parse_secret(&line).context("invalid admin API key")
}

/// Echo off for as long as it lives; the terminal and the signal dispositions are put
/// back when dropped.
struct EchoOff<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
    old_actions: Vec<(Signal, SigAction)>,
}

impl<'a> EchoOff<'a> {
    fn new(fd: BorrowedFd<'a>, saved: Termios) -> anyhow::Result<EchoOff<'a>> {
        let _ = SAVED.set(nix::libc::termios::from(saved.clone()));
        let mut guard = EchoOff {
            fd,
            saved: saved.clone(),
            old_actions: Vec::new(),
        };
        let restore = SigAction::new(
            SigHandler::Handler(restore_and_die),
            SaFlags::SA_RESETHAND,
            SigSet::empty(),
        );
        for signal in SIGNALS {
            // SAFETY: the handler only calls async-signal-safe functions (tcsetattr, raise).
            let old =
                unsafe { sigaction(signal, &restore) }.context("failed to set up a prompt")?;
            guard.old_actions.push((signal, old));
        }
        let mut quiet = saved;
        quiet.local_flags.remove(LocalFlags::ECHO);
        // The Enter key still moves the cursor to the next line.
        quiet.local_flags.insert(LocalFlags::ECHONL);
        termios::tcsetattr(fd, SetArg::TCSAFLUSH, &quiet)
            .context("failed to turn off echo on the terminal")?;
        Ok(guard)
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
        for (signal, old) in self.old_actions.drain(..).rev() {
            // SAFETY: puts back the disposition that was in place before.
            let _ = unsafe { sigaction(signal, &old) };
        }
    }
}

/// Restores the terminal, then lets the signal take its default course.
extern "C" fn restore_and_die(signal: nix::libc::c_int) {
    if let Some(saved) = SAVED.get() {
        // SAFETY: tcsetattr and raise are async-signal-safe; `saved` is never written again.
        unsafe {
            nix::libc::tcsetattr(nix::libc::STDIN_FILENO, nix::libc::TCSANOW, saved);
        }
    }
    // SA_RESETHAND put the default disposition back, so this ends the process as usual.
    unsafe {
        nix::libc::raise(signal);
    }
}

/// Reads up to a newline or end of input, straight from the descriptor (no buffer that
/// would keep a copy).
fn read_line(fd: BorrowedFd<'_>) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut line = Zeroizing::new(Vec::new());
    let mut byte = Zeroizing::new([0u8; 1]);
    loop {
        match nix::unistd::read(fd, &mut byte[..]) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("failed to read from the terminal"),
        }
        if line.len() > MAX_LINE {
            bail!("the line typed is longer than {MAX_LINE} bytes");
        }
    }
    Ok(line)
}
