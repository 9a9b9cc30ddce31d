//! Keeping secrets secret: the factory auth file's strict checks, systemd's credential
//! directory, the writer child's command line and environment, and a search of everything
//! the agent wrote, over its success and error paths, for the secrets it handled.
//!
//! Tests that start the writer as another user (uid 65534, `nobody`) or chown files to it
//! must run as root (CI does) and fail loudly otherwise; the rest run as anyone.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const NOBODY: u32 = 65534;

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test must run as root: it starts the writer as uid {NOBODY}"
    );
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A scenario whose target is `nobody`, with a home it owns (the scratch root opened so
/// that user can reach it).
fn nobody_scenario(emulator: &Emulator) -> Scenario {
    require_root();
    let mut scenario = Scenario::new(&emulator.url);
    chmod(scenario.dir.path(), 0o711);
    std::os::unix::fs::chown(scenario.home(), Some(NOBODY), Some(NOBODY)).unwrap();
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(NOBODY))
        .unwrap()
        .expect("a user with uid 65534")
        .name;
    let file = scenario.credentials();
    scenario.target(&format!(
        "user = \"{name}\"\ncredentials_file = \"{}\"\n",
        file.display()
    ));
    scenario
}

/// Starts the agent in the background with `env`, handing it (as a careless parent might)
/// an open descriptor 9 on the root-only factory auth file, not close-on-exec.
fn spawn_agent(scenario: &Scenario, args: &[&str], env: &[(&str, &str)]) -> Child {
    let config = scenario.write_config();
    let leaked = std::fs::File::open(scenario.path("factory_auth")).unwrap();
    let leaked_fd = std::os::fd::AsRawFd::as_raw_fd(&leaked);
    let mut command = Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
    command
        .arg("--config")
        .arg(&config)
        .args(args)
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("JOURNAL_STREAM")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: dup2 is a plain system call, safe between fork and exec.
    unsafe {
        command.pre_exec(move || match nix::libc::dup2(leaked_fd, 9) {
            9 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
    command.spawn().unwrap()
}

/// Waits (bounded) for a stopped child of `parent` and returns its pid.
fn stopped_child_of(parent: u32) -> u32 {
    let give_up = Instant::now() + Duration::from_secs(60);
    while Instant::now() < give_up {
        for entry in std::fs::read_dir("/proc").unwrap() {
            let Ok(pid) = entry.unwrap().file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            let ppid = field(&status, "PPid:");
            if ppid == parent.to_string() && field(&status, "State:").starts_with('T') {
                return pid;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no stopped writer under pid {parent} within 60s");
}

fn field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// Waits (bounded) for `child` to exit and returns its output.
fn finish(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()).unwrap());
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("the agent ran longer than 120s");
        }
    }
}

#[test]
fn the_writer_runs_as_the_user_with_no_secret_in_argv_environment_or_open_files() {
    let emulator = Emulator::start(&[]);
    let scenario = nobody_scenario(&emulator);
    let agent = spawn_agent(
        &scenario,
        &["-vv", "run"],
        &[("CANARY_BOOTSTRAP_FAULT", "writer-stop")],
    );
    let writer = stopped_child_of(agent.id());

    // The writer has read its request (the secret included) from stdin and stopped.
    let cmdline = std::fs::read(format!("/proc/{writer}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{writer}/environ")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{writer}/status")).unwrap();
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{writer}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(writer as i32),
        nix::sys::signal::Signal::SIGCONT,
    );
    let output = finish(agent);
    assert_eq!(code(&output), 0, "{}", text(&output));

    let args: Vec<&[u8]> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    assert_eq!(args.len(), 2, "{:?}", String::from_utf8_lossy(&cmdline));
    assert_eq!(args[1], b"__write-profile");
    assert_eq!(
        environ, b"CANARY_BOOTSTRAP_FAULT=writer-stop\0",
        "only the fault setting"
    );
    let ids = format!("{NOBODY}\t{NOBODY}\t{NOBODY}\t{NOBODY}");
    assert_eq!(field(&status, "Uid:"), ids);
    assert_eq!(field(&status, "Gid:"), ids);
    assert!(
        !field(&status, "Groups:").split(' ').any(|g| g == "0"),
        "{status}"
    );
    assert_eq!(field(&status, "Umask:"), "0077");
    let mut fds = fds;
    fds.sort();
    // Whatever the test harness left open is not passed on either.
    assert_eq!(
        fds,
        ["0", "1", "2"],
        "no state file, socket or stray descriptor inherited"
    );

    let secret = emulator.issued()[0]["secret_access_key"]
        .as_str()
        .unwrap()
        .to_owned();
    for seen in [&cmdline, &environ] {
        let seen = String::from_utf8_lossy(seen);
        assert!(
            !seen.contains(&secret) && !seen.contains(FACTORY_AUTH),
            "{seen}"
        );
    }
}

#[test]
fn a_writer_that_never_finishes_is_stopped_and_the_run_fails_cleanly() {
    let emulator = Emulator::start(&[]);
    let scenario = nobody_scenario(&emulator);
    let env = [
        ("CANARY_BOOTSTRAP_FAULT", "writer-stop"),
        ("CANARY_BOOTSTRAP_WRITER_TIMEOUT_MS", "1500"),
    ];
    let agent = spawn_agent(&scenario, &["run"], &env);
    let writer = stopped_child_of(agent.id());
    let output = finish(agent);
    assert_eq!(code(&output), 6, "{}", text(&output));
    assert!(
        text(&output).contains("did not finish within 1.5s"),
        "{}",
        text(&output)
    );
    assert!(
        !Path::new(&format!("/proc/{writer}")).exists(),
        "writer reaped"
    );
    assert!(!scenario.credentials().exists());
    assert!(!scenario.path("state/provisioned.json").exists());

    // The token is kept for the next run, which plants it.
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(emulator.issued().len(), 1);
}

#[test]
fn reads_the_systemd_credential_before_the_configured_file() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    write_private(&scenario.path("factory_auth"), "0000configured0000\n");
    let credentials_dir = scenario.path("credentials.d");
    std::fs::create_dir(&credentials_dir).unwrap();
    write_private(&credentials_dir.join("factory_auth"), FACTORY_AUTH);
    chmod(&credentials_dir.join("factory_auth"), 0o400);

    let dir = credentials_dir.to_str().unwrap();
    let output = scenario.agent_with(&["run"], &[("CREDENTIALS_DIRECTORY", dir)]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(emulator.issued().len(), 1);
    assert!(!text(&output).contains("0000configured0000"));
}

#[test]
fn the_systemd_credential_gets_the_same_strict_checks() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let credentials_dir = scenario.path("credentials.d");
    std::fs::create_dir(&credentials_dir).unwrap();
    let file = credentials_dir.join("factory_auth");
    write_private(&file, FACTORY_AUTH);
    chmod(&file, 0o640);

    let dir = credentials_dir.to_str().unwrap();
    let output = scenario.agent_with(&["run"], &[("CREDENTIALS_DIRECTORY", dir)]);
    assert_eq!(code(&output), 3, "{}", text(&output));
    assert!(text(&output).contains(&format!("chmod 600 '{}'", file.display())));
    assert!(emulator.requests().is_empty());
}

/// A factory auth file set up wrong: exit 3, a one-line fix-it message naming the file, no
/// request sent, nothing planted, and the secret not echoed.
fn assert_factory_auth_refused(prepare: impl FnOnce(&Path), says: &str) {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    prepare(&scenario.path("factory_auth"));
    let output = scenario.agent(&["run"]);
    let said = text(&output);
    assert_eq!(code(&output), 3, "{said}");
    assert!(said.contains(says), "wanted '{says}': {said}");
    assert!(said.contains(&scenario.path("factory_auth").display().to_string()));
    assert_eq!(said.trim().lines().count(), 1, "one line: {said}");
    assert!(!said.contains(FACTORY_AUTH));
    assert!(emulator.requests().is_empty());
    assert!(!scenario.credentials().exists());
}

#[test]
fn refuses_a_symlinked_factory_auth_file() {
    assert_factory_auth_refused(
        |path| {
            let real = path.with_file_name("real_auth");
            std::fs::rename(path, &real).unwrap();
            std::os::unix::fs::symlink(&real, path).unwrap();
        },
        "is a symlink; put the file itself there",
    );
}

#[test]
fn refuses_a_factory_auth_file_owned_by_another_user() {
    require_root();
    assert_factory_auth_refused(
        |path| std::os::unix::fs::chown(path, Some(NOBODY), None).unwrap(),
        "fix with: chown root",
    );
}

#[test]
fn refuses_a_factory_auth_file_that_is_not_a_regular_file() {
    assert_factory_auth_refused(
        |path| {
            std::fs::remove_file(path).unwrap();
            std::fs::create_dir(path).unwrap();
            chmod(path, 0o700);
        },
        "is not a regular file",
    );
}

#[test]
fn refuses_a_factory_auth_file_with_group_bits() {
    assert_factory_auth_refused(|path| chmod(path, 0o620), "fix with: chmod 600");
}

#[test]
fn the_state_directory_is_root_only_and_the_marker_holds_no_secret() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let state = scenario.path("state");
    let meta = std::fs::metadata(&state).unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o7777),
        (nix::unistd::geteuid().as_raw(), 0o700)
    );
    let marker = std::fs::read_to_string(state.join("provisioned.json")).unwrap();
    let secret = emulator.issued()[0]["secret_access_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !marker.contains(&secret) && !marker.contains(FACTORY_AUTH),
        "{marker}"
    );
    let marker: serde_json::Value = serde_json::from_str(&marker).unwrap();
    let keys: Vec<&String> = marker["planted"][0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["access_key_id", "file", "profile", "token_id", "user"]
    );
    let names: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n == "pending.json"), "{names:?}");
}

/// Everything the agent printed and every file it left, gathered over many runs.
struct Evidence {
    outputs: Vec<(String, String)>,
    scenarios: Vec<Scenario>,
}

impl Evidence {
    fn run(&mut self, name: &str, scenario: &Scenario, args: &[&str], env: &[(&str, &str)]) {
        let output = scenario.agent_with(args, env);
        self.outputs.push((name.to_owned(), text(&output)));
    }
}

/// Files where a secret belongs: the factory auth files themselves, the credentials files
/// (and the pending record, which holds issued keys, root-only, while a run is unfinished).
fn may_hold(path: &Path, secret_kind: &str) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    match secret_kind {
        "factory auth" => name == "factory_auth",
        _ => name == "credentials" || name == "pending.json",
    }
}

fn every_file(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            every_file(&path, found);
        } else if meta.is_file() {
            found.push(path);
        }
    }
}

#[test]
fn no_secret_appears_in_anything_the_agent_wrote() {
    let emulator = Emulator::start(&[]);
    let mut evidence = Evidence {
        outputs: Vec::new(),
        scenarios: Vec::new(),
    };
    let trace = ["-vv", "run"];

    // Success, a forced re-issue, status and prepare-image, all at trace level.
    let ok = nobody_scenario(&emulator);
    evidence.run("success", &ok, &trace, &[]);
    evidence.run("force", &ok, &["-vv", "run", "--force"], &[]);
    evidence.run("already", &ok, &trace, &[]);
    evidence.run("status", &ok, &["-vv", "status", "--json"], &[]);
    evidence.run("prepare-image", &ok, &["-vv", "prepare-image"], &[]);
    evidence.scenarios.push(ok);

    // The systemd credential path.
    let systemd = nobody_scenario(&emulator);
    let creds = systemd.path("credentials.d");
    std::fs::create_dir(&creds).unwrap();
    write_private(&creds.join("factory_auth"), FACTORY_AUTH);
    evidence.run(
        "systemd",
        &systemd,
        &trace,
        &[("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())],
    );
    evidence.scenarios.push(systemd);

    // Error paths: Console refusals and failures, bad secret file, hostile homes, a clash,
    // a writer that hangs.
    let refused = nobody_scenario(&emulator);
    emulator.fault(
        serde_json::json!({"status": 400, "json": {"result": "error", "message": "Empty memo"}}),
    );
    evidence.run("console-400", &refused, &trace, &[]);
    evidence.scenarios.push(refused);

    let loose = nobody_scenario(&emulator);
    chmod(&loose.path("factory_auth"), 0o644);
    evidence.run("loose-auth", &loose, &trace, &[]);
    evidence.scenarios.push(loose);

    let foreign = nobody_scenario(&emulator);
    std::fs::create_dir(foreign.home().join(".aws")).unwrap();
    evidence.run("foreign-aws", &foreign, &trace, &[]);
    evidence.scenarios.push(foreign);

    let clash = nobody_scenario(&emulator);
    let aws = clash.home().join(".aws");
    std::fs::create_dir(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        "[prod-admin]\naws_access_key_id = AKIAREAL00000000001\naws_secret_access_key = theirs\n",
    )
    .unwrap();
    for path in [&aws, &aws.join("credentials")] {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    evidence.run("clash", &clash, &trace, &[]);
    evidence.scenarios.push(clash);

    let hung = nobody_scenario(&emulator);
    let env = [
        ("CANARY_BOOTSTRAP_FAULT", "writer-stop"),
        ("CANARY_BOOTSTRAP_WRITER_TIMEOUT_MS", "1000"),
    ];
    evidence.run("writer-timeout", &hung, &trace, &env);
    evidence.scenarios.push(hung);

    // Last, as it leaves the Console failing for good.
    let mut failing = nobody_scenario(&emulator);
    failing.extra_settings = "deadline_secs = 2".into();
    emulator.fault(serde_json::json!({"status": 500, "times": -1}));
    evidence.run("console-500", &failing, &trace, &[]);
    evidence.scenarios.push(failing);

    let issued = emulator.issued();
    // Success, --force, the systemd credential and the writer timeout each spend a token;
    // refusals are found before the Console is asked and spend none.
    assert!(
        issued.len() >= 4,
        "the scenarios issued tokens: {}",
        issued.len()
    );
    let mut secrets = vec![("factory auth", FACTORY_AUTH.to_owned())];
    for token in &issued {
        let secret = token["secret_access_key"].as_str().unwrap().to_owned();
        secrets.push(("secret key", secret));
    }
    for (name, said) in &evidence.outputs {
        for (kind, secret) in &secrets {
            assert!(
                !said.contains(secret.as_str()),
                "{kind} in the output of '{name}': {said}"
            );
        }
    }
    let mut files = Vec::new();
    for scenario in &evidence.scenarios {
        every_file(scenario.dir.path(), &mut files);
    }
    assert!(
        files.iter().any(|f| f.ends_with("pending.json")),
        "an error path left its record"
    );
    for file in &files {
        let content = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        for (kind, secret) in &secrets {
            if !may_hold(file, kind) {
                assert!(
                    !content.contains(secret.as_str()),
                    "{kind} in {}",
                    file.display()
                );
            }
        }
        if file.ends_with("pending.json") {
            let meta = std::fs::metadata(file).unwrap();
            assert_eq!(
                (meta.uid(), meta.mode() & 0o777),
                (0, 0o600),
                "{}",
                file.display()
            );
        }
    }
}
