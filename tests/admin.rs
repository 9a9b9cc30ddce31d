//! `canary-bootstrap factory create|delete|list` end to end: the built binary against the
//! Console emulator (with an admin key) on loopback, in scratch directories.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::termios::{self, LocalFlags};
use serde_json::{Value, json};

/// The emulator's admin API key; every test searches outputs for it.
const ADMIN_KEY: &str = "adm1n5ecre7key0f7he5ec0nd5ector0";

/// An emulator that knows [`ADMIN_KEY`], and a scratch directory holding the key file.
struct Console {
    emulator: Emulator,
    dir: tempfile::TempDir,
}

impl Console {
    fn start() -> Console {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("admin_key");
        write_private(&key_file, &format!("{ADMIN_KEY}\n"));
        let emulator = Emulator::start(&["--admin-token-file", key_file.to_str().unwrap()]);
        Console { emulator, dir }
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("admin_key")
    }

    /// `factory ARGS` with `--console` and no settings file, the key from `--auth-token-file`.
    fn factory(&self, args: &[&str]) -> Output {
        let key = self.key_file();
        let mut all = vec!["--auth-token-file", key.to_str().unwrap()];
        all.extend_from_slice(args);
        self.factory_with(&all, &[])
    }

    /// `factory ARGS` with `--console`, no settings file, and extra environment.
    fn factory_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let none = self.dir.path().join("no-such-config.toml");
        let mut all = vec!["factory", "--console", &self.emulator.url];
        all.extend_from_slice(args);
        agent(&none, &all, env)
    }

    /// The factories the emulator holds, as `factory list --show-secrets` reports them.
    fn factories(&self) -> Vec<Value> {
        let output = self.factory(&["list", "--show-secrets"]);
        assert_eq!(code(&output), 0, "{}", text(&output));
        json_of(&output)["factories"].as_array().unwrap().clone()
    }

    /// Create and delete requests the emulator saw, as (method, path, status).
    fn admin_requests(&self) -> Vec<(String, String, i64)> {
        self.emulator
            .requests()
            .iter()
            .filter(|r| {
                let path = r["path"].as_str().unwrap();
                path.ends_with("/create_factory") || path.ends_with("/delete_factory")
            })
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                (s("method"), s("path"), r["status"].as_i64().unwrap_or(-1))
            })
            .collect()
    }
}

/// Runs the agent with stdin not a terminal and no inherited admin key.
fn agent(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("CANARY_AUTH_TOKEN")
        .env_remove("JOURNAL_STREAM");
    for (k, v) in env {
        command.env(k, v);
    }
    run_bounded(command, Duration::from_secs(60))
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(output)))
}

fn assert_no_key(output: &Output) {
    let all = text(output);
    assert!(!all.contains(ADMIN_KEY), "admin key leaked: {all}");
    assert!(!all.contains("auth_token="), "query leaked: {all}");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn created_string_plants_a_token_until_deleted_then_run_is_refused() {
    let console = Console::start();
    let scenario = Scenario::new(&console.emulator.url);
    let auth_file = scenario.path("factory_auth");
    std::fs::remove_file(&auth_file).unwrap();
    let config = scenario.write_config();
    let key_file = console.key_file();
    let key = key_file.to_str().unwrap();

    // Created into the file the settings name, with the Console from the settings.
    let args = ["-vv", "factory", "--auth-token-file", key, "create"];
    let memo = [
        "--memo",
        "image ami-0123",
        "--output",
        auth_file.to_str().unwrap(),
    ];
    let output = agent(&config, &[&args[..], &memo[..]].concat(), &[]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_no_key(&output);
    let created = json_of(&output);
    assert_eq!(created["output"], json!(auth_file));
    assert_eq!(created["memo"], json!("image ami-0123"));
    assert!(created.get("factory_auth").is_none(), "{created}");
    assert_eq!(mode(&auth_file), 0o600);
    let new_auth = std::fs::read_to_string(&auth_file).unwrap();
    assert_eq!(new_auth.trim().len(), 32);
    assert!(!text(&output).contains(new_auth.trim()));

    let run = scenario.agent(&["run"]);
    assert_eq!(code(&run), 0, "{}", text(&run));
    let issued = console.emulator.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["factory_auth_id"], created["fingerprint"]);

    // Deleted by the file the settings name; the Console then refuses it.
    let output = agent(
        &config,
        &["-vv", "factory", "delete"],
        &[("CANARY_AUTH_TOKEN", ADMIN_KEY)],
    );
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_no_key(&output);
    let deleted = json_of(&output);
    assert_eq!(deleted["deleted"], json!(true));
    assert_eq!(deleted["fingerprint"], created["fingerprint"]);
    assert!(!text(&output).contains(new_auth.trim()));

    let run = scenario.agent(&["run", "--force"]);
    assert_eq!(code(&run), 4, "{}", text(&run));
    assert!(
        text(&run).contains("Invalid factory_auth"),
        "{}",
        text(&run)
    );
    assert_eq!(console.emulator.issued().len(), 1);
}

#[test]
fn create_prints_json_and_list_hides_strings_unless_asked() {
    let console = Console::start();
    let output = console.factory_with(
        &[
            "create",
            "--memo",
            "pipeline x",
            "--flock-id",
            "flock:images",
        ],
        &[("CANARY_AUTH_TOKEN", ADMIN_KEY)],
    );
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_no_key(&output);
    let created = json_of(&output);
    let new_auth = created["factory_auth"].as_str().unwrap().to_owned();
    assert_eq!(created["flock_id"], json!("flock:images"));
    assert_eq!(created["factory_url"], json!("/api/v1/canarytoken/factory"));
    assert_eq!(created["console"], json!(console.emulator.url));

    let output = console.factory(&["list"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_no_key(&output);
    assert!(!text(&output).contains(&new_auth), "{}", text(&output));
    assert!(!text(&output).contains(FACTORY_AUTH), "{}", text(&output));
    let listed = json_of(&output)["factories"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    let mine: Vec<&Value> = listed
        .iter()
        .filter(|f| f["memo"] == json!("pipeline x"))
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["flock_id"], json!("flock:images"));
    assert_eq!(mine[0]["fingerprint"], created["fingerprint"]);
    assert!(mine[0].get("factory_auth").is_none());

    let shown = console.factories();
    assert!(shown.iter().any(|f| f["factory_auth"] == json!(new_auth)));
}

#[test]
fn admin_key_travels_in_the_form_body_or_the_list_query_only() {
    let console = Console::start();
    let auth = console.dir.path().join("fa");
    assert_eq!(
        code(&console.factory(&["create", "--memo", "m", "--output", auth.to_str().unwrap()])),
        0
    );
    assert_eq!(code(&console.factory(&["list"])), 0);
    let delete = ["delete", "--factory-auth-file", auth.to_str().unwrap()];
    assert_eq!(code(&console.factory(&delete)), 0);

    let requests = console.emulator.requests();
    let by_path = |p: &str| {
        requests
            .iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(p))
            .unwrap()
    };
    let create = by_path("create_factory");
    assert_eq!(create["method"], json!("POST"));
    assert_eq!(create["fields"], json!(["auth_token", "memo"]));
    assert_eq!(create["query_fields"], json!([]));
    let list = by_path("list_factories");
    assert_eq!(list["method"], json!("GET"));
    assert_eq!(list["query_fields"], json!(["auth_token"]));
    let delete = by_path("delete_factory");
    assert_eq!(delete["method"], json!("DELETE"));
    assert_eq!(
        delete["content_type"],
        json!("application/x-www-form-urlencoded")
    );
    assert_eq!(delete["fields"], json!(["auth_token", "factory_auth"]));
    assert_eq!(delete["query_fields"], json!([]));
}

#[test]
fn wrong_admin_key_is_refused_with_the_consoles_message() {
    let console = Console::start();
    let wrong = "wr0ngwr0ngwr0ngwr0ngwr0ngwr0ng00";
    let auth = console.dir.path().join("fa");
    write_private(&auth, FACTORY_AUTH);
    let commands: [&[&str]; 3] = [
        &["create", "--memo", "m"],
        &["list", "--show-secrets"],
        &["delete", "--factory-auth-file", auth.to_str().unwrap()],
    ];
    for args in commands {
        let output = console.factory_with(args, &[("CANARY_AUTH_TOKEN", wrong)]);
        assert_eq!(code(&output), 4, "{args:?}: {}", text(&output));
        assert!(
            text(&output).contains("Invalid auth_token"),
            "{}",
            text(&output)
        );
        assert!(!text(&output).contains(wrong), "{}", text(&output));
        assert!(!text(&output).contains(FACTORY_AUTH), "{}", text(&output));
        assert!(output.stdout.is_empty());
    }
    assert_eq!(console.factories().len(), 1, "nothing created or deleted");
}

#[test]
fn deleting_an_unknown_factory_is_refused() {
    let console = Console::start();
    let auth = console.dir.path().join("fa");
    write_private(&auth, "0123456789abcdef0123456789abcdef\n");
    let output = console.factory(&["delete", "--factory-auth-file", auth.to_str().unwrap()]);
    assert_eq!(code(&output), 4, "{}", text(&output));
    assert!(
        text(&output).contains("Invalid factory_auth"),
        "{}",
        text(&output)
    );
    assert!(
        !text(&output).contains("0123456789abcdef0123"),
        "{}",
        text(&output)
    );
    assert_no_key(&output);
    assert_eq!(console.factories().len(), 1);
}

#[test]
fn empty_memo_is_refused_with_the_consoles_message() {
    let console = Console::start();
    let output = console.factory(&["create", "--memo", " "]);
    assert_eq!(code(&output), 4, "{}", text(&output));
    assert!(text(&output).contains("Empty memo"), "{}", text(&output));
}

#[test]
fn output_never_replaces_an_existing_file_and_creates_nothing() {
    let console = Console::start();
    let existing = console.dir.path().join("baked_auth");
    write_private(&existing, "keep me\n");
    let output = console.factory(&[
        "create",
        "--memo",
        "m",
        "--output",
        existing.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 6, "{}", text(&output));
    assert!(
        text(&output).contains("already exists"),
        "{}",
        text(&output)
    );
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me\n");
    assert!(
        console.admin_requests().is_empty(),
        "{:?}",
        console.admin_requests()
    );
}

#[test]
fn output_that_cannot_be_written_leaves_no_file_and_no_factory() {
    let console = Console::start();
    let dir = console.dir.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let target = dir.join("factory_auth");
    // A file-size limit of zero makes the write itself fail, after the Console answered.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -f 0 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_canary-bootstrap"))
        .args([
            "--config",
            "/nonexistent/config.toml",
            "factory",
            "--console",
        ])
        .arg(&console.emulator.url)
        .arg("--auth-token-file")
        .arg(console.key_file())
        .args(["create", "--memo", "m", "--output"])
        .arg(&target)
        .stdin(Stdio::null())
        .env_remove("CANARY_AUTH_TOKEN");
    let output = run_bounded(command, Duration::from_secs(60));
    assert_eq!(code(&output), 6, "{}", text(&output));
    assert!(
        text(&output).contains("failed to write"),
        "{}",
        text(&output)
    );
    assert_no_key(&output);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no file, no temporary"
    );
    let calls: Vec<(String, i64)> = console
        .admin_requests()
        .into_iter()
        .map(|(method, _, status)| (method, status))
        .collect();
    assert_eq!(calls, [("POST".into(), 200), ("DELETE".into(), 200)]);
    assert_eq!(
        console.factories().len(),
        1,
        "the new factory is gone again"
    );
}

#[test]
fn admin_key_file_is_checked_like_the_factory_auth_file() {
    let console = Console::start();
    std::fs::set_permissions(console.key_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = console.factory(&["list"]);
    assert_eq!(code(&output), 3, "{}", text(&output));
    assert!(text(&output).contains("chmod 600"), "{}", text(&output));
    assert_no_key(&output);
    assert!(console.emulator.requests().is_empty());
}

#[test]
fn without_a_key_source_or_a_terminal_nothing_is_sent() {
    let console = Console::start();
    let output = console.factory_with(&["list"], &[]);
    assert_eq!(code(&output), 3, "{}", text(&output));
    assert!(
        text(&output).contains("CANARY_AUTH_TOKEN"),
        "{}",
        text(&output)
    );
    let output = console.factory_with(&["list"], &[("CANARY_AUTH_TOKEN", "two words")]);
    assert_eq!(code(&output), 3, "{}", text(&output));
    assert!(!text(&output).contains("two words"), "{}", text(&output));
    assert!(console.emulator.requests().is_empty());
}

#[test]
fn without_console_or_settings_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let output = agent(
        &config,
        &["factory", "list"],
        &[("CANARY_AUTH_TOKEN", ADMIN_KEY)],
    );
    assert_eq!(code(&output), 3, "{}", text(&output));
    assert!(
        text(&output).contains("no Console given"),
        "{}",
        text(&output)
    );
    assert!(text(&output).contains("config.toml"), "{}", text(&output));
}

#[test]
fn unreachable_console_is_transient_and_keeps_the_key_out_of_the_message() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let args = ["-vv", "factory", "--console", &url, "list"];
    let output = agent(
        &dir.path().join("none"),
        &args,
        &[("CANARY_AUTH_TOKEN", ADMIN_KEY)],
    );
    assert_eq!(code(&output), 5, "{}", text(&output));
    assert!(
        text(&output).contains("could not reach"),
        "{}",
        text(&output)
    );
    assert_no_key(&output);
}

/// A child on a pseudo-terminal as its controlling terminal (stdin and stderr), and
/// everything written to the terminal so far.
struct OnPty {
    child: std::process::Child,
    master: OwnedFd,
    screen: Arc<Mutex<Vec<u8>>>,
}

impl OnPty {
    fn spawn(console: &Console, args: &[&str]) -> OnPty {
        let pty = nix::pty::openpty(None, None).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
        command
            .args([
                "--config",
                "/nonexistent/config.toml",
                "factory",
                "--console",
            ])
            .arg(&console.emulator.url)
            .args(args)
            .env_remove("CANARY_AUTH_TOKEN")
            .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        drop(pty.slave);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = std::fs::File::from(pty.master.try_clone().unwrap());
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        OnPty {
            child,
            master: pty.master,
            screen,
        }
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    fn wait_for_prompt(&self) {
        let start = Instant::now();
        while !self.screen().contains("admin API key:") {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no prompt: {}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn echo_on(&self) -> bool {
        let attrs = termios::tcgetattr(self.master.as_fd()).unwrap();
        attrs.local_flags.contains(LocalFlags::ECHO)
    }

    fn type_text(&self, text: &str) {
        let mut master = std::fs::File::from(self.master.try_clone().unwrap());
        master.write_all(text.as_bytes()).unwrap();
    }

    fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("the agent did not finish: {}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        (status, stdout, self.screen())
    }
}

#[test]
fn prompts_for_the_key_without_echo_and_restores_the_terminal() {
    let console = Console::start();
    let session = OnPty::spawn(&console, &["list"]);
    session.wait_for_prompt();
    assert!(!session.echo_on(), "echo is off while the key is typed");
    session.type_text(&format!("{ADMIN_KEY}\n"));
    let master = session.master.try_clone().unwrap();
    let (status, stdout, screen) = session.finish();
    assert!(status.success(), "{screen}");
    assert!(!screen.contains(ADMIN_KEY), "the key was echoed: {screen}");
    assert!(!stdout.contains(ADMIN_KEY));
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed["factories"].as_array().unwrap().len(), 1);
    let attrs = termios::tcgetattr(master.as_fd()).unwrap();
    assert!(
        attrs.local_flags.contains(LocalFlags::ECHO),
        "echo restored"
    );
}

#[test]
fn interrupt_at_the_prompt_restores_echo() {
    let console = Console::start();
    let session = OnPty::spawn(&console, &["list"]);
    session.wait_for_prompt();
    assert!(!session.echo_on());
    session.type_text("half-typed\x03");
    let master = session.master.try_clone().unwrap();
    let (status, stdout, screen) = session.finish();
    assert_eq!(status.signal(), Some(nix::libc::SIGINT), "{screen}");
    assert!(stdout.is_empty());
    let attrs = termios::tcgetattr(master.as_fd()).unwrap();
    assert!(
        attrs.local_flags.contains(LocalFlags::ECHO),
        "echo restored"
    );
    assert!(console.emulator.requests().is_empty());
}
