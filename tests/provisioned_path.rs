//! Every boot but the first, under `strace -f`: the already-provisioned run must start no
//! async runtime, build no HTTP client and load no certificate, so it costs next to nothing.
//!
//! The same trace of the first boot serves as the control: it must show the very things the
//! provisioned run must not (a CA file opened, an epoll instance, a TCP socket, a child
//! process), so a check that cannot see them fails instead of passing. Without strace
//! installed the test says so and passes; `.ci/run` installs it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// The system calls the checks look at; everything else stays out of the trace.
const TRACED: &str = "trace=open,openat,clone,clone3,fork,vfork,socket,epoll_create,epoll_create1";

/// One traced system call: its name and its arguments as strace printed them.
struct Call {
    name: String,
    args: String,
}

/// Runs the agent's `run` under strace; `None` when strace is not installed.
fn traced_run(scenario: &Scenario, trace: &Path) -> Option<String> {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("strace is not installed: skipping the provisioned-path trace");
        return None;
    }
    let config = scenario.write_config();
    let mut command = Command::new("strace");
    command
        .args(["-f", "-qq", "-e", TRACED, "-o"])
        .arg(trace)
        .arg(env!("CARGO_BIN_EXE_canary-bootstrap"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("JOURNAL_STREAM");
    let output = run_bounded(command, Duration::from_secs(120));
    assert_eq!(code(&output), 0, "traced run failed: {}", text(&output));
    Some(text(&output))
}

/// The calls in a trace file, with `-f`'s pid prefix removed.
fn calls(trace: &Path) -> Vec<Call> {
    let text = std::fs::read_to_string(trace).expect("strace wrote its trace");
    text.lines()
        .filter_map(|line| {
            let (_pid, rest) = line.split_once(' ')?;
            let (name, args) = rest.trim_start().split_once('(')?;
            Some(Call {
                name: name.to_owned(),
                args: args.to_owned(),
            })
        })
        .collect()
}

fn any(calls: &[Call], names: &[&str], args: impl Fn(&str) -> bool) -> Vec<String> {
    calls
        .iter()
        .filter(|c| names.contains(&c.name.as_str()) && args(&c.args))
        .map(|c| format!("{}({}", c.name, c.args))
        .collect()
}

fn opens(calls: &[Call], path: impl Fn(&str) -> bool) -> Vec<String> {
    any(calls, &["open", "openat"], |args| {
        args.split('"').nth(1).is_some_and(&path)
    })
}

fn is_certificate(path: &str, ca_file: &str) -> bool {
    let stores = [
        "/etc/ssl",
        "/etc/pki",
        "/usr/lib/ssl",
        "/usr/share/ca-certificates",
    ];
    path == ca_file
        || stores.iter().any(|store| path.starts_with(store))
        || path.ends_with(".pem")
        || path.ends_with(".crt")
}

fn threads_or_children(calls: &[Call]) -> Vec<String> {
    any(calls, &["clone", "clone3", "fork", "vfork"], |_| true)
}

fn epolls(calls: &[Call]) -> Vec<String> {
    any(calls, &["epoll_create", "epoll_create1"], |_| true)
}

fn inet_sockets(calls: &[Call]) -> Vec<String> {
    any(calls, &["socket"], |args| {
        args.starts_with("AF_INET") || args.starts_with("AF_INET6")
    })
}

#[test]
fn provisioned_run_loads_no_certificate_and_starts_no_thread() {
    let emulator = Emulator::start(&["--tls"]);
    let ca_file = emulator.state.join("ca.pem");
    let ca = ca_file.to_str().unwrap();
    let mut scenario = Scenario::new(&emulator.url);
    scenario.extra_settings = format!("ca_file = \"{ca}\"");
    let dir = tempfile::tempdir().unwrap();

    // The control: the first boot does everything the checks below look for.
    let first_trace = dir.path().join("first.trace");
    let Some(_) = traced_run(&scenario, &first_trace) else {
        return;
    };
    let first = calls(&first_trace);
    assert_eq!(emulator.issued().len(), 1, "the first boot issued a token");
    assert!(
        !opens(&first, |p| is_certificate(p, ca)).is_empty(),
        "no CA file open seen"
    );
    assert!(
        !epolls(&first).is_empty(),
        "no async runtime seen on the first boot"
    );
    assert!(
        !inet_sockets(&first).is_empty(),
        "no TCP socket seen on the first boot"
    );
    assert!(
        !threads_or_children(&first).is_empty(),
        "no writer child seen"
    );

    // Every later boot: state read, nothing else started.
    let trace = dir.path().join("provisioned.trace");
    let output = traced_run(&scenario, &trace).unwrap();
    assert!(output.contains("already provisioned"), "{output}");
    assert_eq!(emulator.issued().len(), 1, "no second token");
    let calls = calls(&trace);
    let marker = scenario.path("state/provisioned.json");
    let marker = marker.to_str().unwrap();
    assert!(
        !opens(&calls, |p| p == marker).is_empty(),
        "trace lacks the marker read"
    );
    assert_none(
        "certificate file opened",
        opens(&calls, |p| is_certificate(p, ca)),
    );
    assert_none("thread or child started", threads_or_children(&calls));
    assert_none("async runtime (epoll) started", epolls(&calls));
    assert_none("network socket created", inet_sockets(&calls));
}

/// Fails naming how many calls broke the rule, with the first few of them.
fn assert_none(rule: &str, found: Vec<String>) {
    let first: Vec<&String> = found.iter().take(3).collect();
    assert!(
        found.is_empty(),
        "provisioned run: {rule}: {} calls, first {first:?}",
        found.len()
    );
}
