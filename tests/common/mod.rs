//! Shared helpers for the integration tests: a scratch scenario, the Console emulator on
//! loopback, the built agent binary, and botocore (from the test venv) to read results.
//!
//! Every test works under its own temporary directory and talks only to an emulator it
//! started on 127.0.0.1; nothing here reaches another host.

#![allow(dead_code)]

pub mod imds;
pub mod sdk;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The factory auth string every scenario uses; tests search outputs for it.
pub const FACTORY_AUTH: &str = "fa5ecre7d00dfeedc0ffee0123456789";

/// Proxy settings the agent would honour; removed from every agent run unless a test sets one.
pub const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A Console emulator process, stopped (by pid) when dropped.
pub struct Emulator {
    child: Child,
    pub url: String,
    pub state: PathBuf,
    _dir: tempfile::TempDir,
}

impl Emulator {
    /// Starts the emulator with `extra` options, its factory auth being [`FACTORY_AUTH`].
    pub fn start(extra: &[&str]) -> Emulator {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let auth = dir.path().join("factory_auth");
        write_private(&auth, FACTORY_AUTH);
        let mut child = Command::new(repo().join("emulator/canary-console-emulator"))
            .arg("--state-dir")
            .arg(&state)
            .arg("--factory-auth-file")
            .arg(&auth)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator (python3 needed)");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("emulator's first line")
            .to_owned();
        Emulator {
            child,
            url,
            state,
            _dir: dir,
        }
    }

    /// Every token the emulator issued, as JSON records.
    pub fn issued(&self) -> Vec<serde_json::Value> {
        read_jsonl(&self.state.join("issued.jsonl"))
    }

    /// Every API request the emulator saw.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        read_jsonl(&self.state.join("requests.jsonl"))
    }

    /// Queues faults (see emulator/README.md) through the control endpoint.
    pub fn fault(&self, faults: serde_json::Value) {
        let status = Command::new("python3")
            .arg("-c")
            .arg(
                "import sys,urllib.request as u;\
                 r=u.Request(sys.argv[1]+'/_emulator/faults',data=sys.argv[2].encode(),\
                 headers={'Content-Type':'application/json'});u.urlopen(r,timeout=5).read()",
            )
            .arg(&self.url)
            .arg(faults.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "queue fault");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes a file with mode 0600.
pub fn write_private(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The user running the tests, as the agent's target user.
pub fn me() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid).unwrap().unwrap().name
}

/// A scratch machine: settings, factory auth, identity files and a home directory.
pub struct Scenario {
    pub dir: tempfile::TempDir,
    pub console: String,
    pub targets: Vec<String>,
    pub extra_settings: String,
    /// Lines for `[identity]`. The default turns the metadata service off, so no test ever
    /// aims at the real metadata address; tests of it point `imds_endpoint` at a mock.
    pub identity_settings: String,
}

impl Scenario {
    pub fn new(console: &str) -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let scenario = Scenario {
            dir,
            console: console.to_owned(),
            targets: Vec::new(),
            extra_settings: String::new(),
            identity_settings: "imds = \"never\"\n".to_owned(),
        };
        write_private(&scenario.path("factory_auth"), &format!("{FACTORY_AUTH}\n"));
        std::fs::write(
            scenario.path("product_uuid"),
            "ec2a0000-1111-2222-3333-444455556666\n",
        )
        .unwrap();
        std::fs::create_dir_all(scenario.home()).unwrap();
        scenario
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// The default target's credentials file.
    pub fn credentials(&self) -> PathBuf {
        self.home().join(".aws/credentials")
    }

    /// Adds a `[[target]]` table (TOML lines).
    pub fn target(&mut self, toml: &str) -> &mut Self {
        self.targets.push(toml.to_owned());
        self
    }

    /// Writes the settings file and returns its path.
    pub fn write_config(&self) -> PathBuf {
        let mut text = format!(
            "console = \"{}\"\nfactory_auth_file = \"{}\"\nstate_dir = \"{}\"\n{}\n\
             [identity]\nproduct_uuid_file = \"{}\"\nmachine_id_file = \"{}\"\n\
             dmi_dir = \"{}\"\n{}",
            self.console,
            self.path("factory_auth").display(),
            self.path("state").display(),
            self.extra_settings,
            self.path("product_uuid").display(),
            self.path("machine-id").display(),
            self.path("dmi").display(),
            self.identity_settings,
        );
        let default_target = format!(
            "user = \"{}\"\ncredentials_file = \"{}\"\n",
            me(),
            self.credentials().display()
        );
        let targets = if self.targets.is_empty() {
            vec![default_target]
        } else {
            self.targets.clone()
        };
        for target in targets {
            text.push_str(&format!("\n[[target]]\n{target}"));
        }
        let path = self.path("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the agent with `args` after `--config`.
    pub fn agent(&self, args: &[&str]) -> Output {
        self.agent_with(args, &[])
    }

    /// Runs the agent with extra environment variables.
    pub fn agent_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let config = self.write_config();
        let mut command = Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
        command.arg("--config").arg(&config).args(args);
        command
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("JOURNAL_STREAM");
        // A proxy from the host running the tests must not see (or carry) test requests.
        for name in PROXY_VARS {
            command.env_remove(name);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        run_bounded(command, Duration::from_secs(120))
    }

    /// Simulates a clone of this machine booting as a new instance.
    pub fn become_new_instance(&self, uuid: &str) {
        std::fs::write(self.path("product_uuid"), format!("{uuid}\n")).unwrap();
    }
}

/// Runs a command, killing it (by pid) if it outlives `limit`.
pub fn run_bounded(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()).unwrap());
    loop {
        if let Ok(output) = rx.recv_timeout(Duration::from_millis(100)) {
            return output.unwrap();
        }
        if start.elapsed() > limit {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("command ran longer than {limit:?}");
        }
    }
}

/// Everything the agent printed, for assertions and secret searches.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The exit code, asserting the process was not killed by a signal.
pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

/// The Python of the test venv, which has botocore installed (made by tests/run).
pub fn venv_python() -> PathBuf {
    let path = std::env::var_os("CANARY_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/test-venv/bin/python"));
    assert!(
        path.exists(),
        "no test venv at {} (tests/run creates it; or set CANARY_TEST_PYTHON)",
        path.display()
    );
    path
}

/// What botocore reads from a credentials file: `{"sections": {...}}` or `{"error": ...}`.
pub fn botocore_read(file: &Path) -> serde_json::Value {
    let output = Command::new(venv_python())
        .arg(repo().join("tests/botocore_read.py"))
        .arg(file)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "botocore_read: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The real-world credentials files in `tests/fixtures/credentials/`, one folder each.
pub fn fixture_cases() -> Vec<PathBuf> {
    let dir = repo().join("tests/fixtures/credentials");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("credentials").exists())
        .collect();
    cases.sort();
    assert!(cases.len() >= 28, "fixtures missing");
    cases
}
