//! One token per instance: identity, the EC2 metadata service, the host-name wait, the lock
//! and crashes. The built binary against the Console emulator and a mock metadata service,
//! both on loopback, in scratch directories.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use canary_bootstrap::fault::POINTS;
use common::imds::MockImds;
use common::*;
use serde_json::json;

const ORIGINAL: &[u8] =
    b"# kept\n[default]\naws_access_key_id = AKIAEXISTING0000001\naws_secret_access_key = k/k\n";
const ORIGINAL_2: &[u8] =
    b"[ci]\naws_access_key_id = AKIAEXISTING0000002\naws_secret_access_key = c\n";

/// Makes the scenario an EC2 instance whose metadata service is `mock`.
fn on_ec2(scenario: &mut Scenario, endpoint: &str) {
    std::fs::create_dir_all(scenario.path("dmi")).unwrap();
    std::fs::write(scenario.path("dmi/sys_vendor"), "Amazon EC2\n").unwrap();
    scenario.identity_settings = format!("imds = \"auto\"\nimds_endpoint = \"{endpoint}\"\n");
}

fn marker(scenario: &Scenario) -> serde_json::Value {
    let text = std::fs::read_to_string(scenario.path("state/provisioned.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn memo_of_only_token(emulator: &Emulator) -> String {
    let issued = emulator.issued();
    assert_eq!(issued.len(), 1, "exactly one token issued");
    issued[0]["memo"].as_str().unwrap().to_owned()
}

#[test]
fn ec2_facts_fill_the_memo_without_any_proxy() {
    let emulator = Emulator::start(&[]);
    let mock = MockImds::start("i-0123456789abcdef0");
    let mut scenario = Scenario::new(&emulator.url);
    // By name, so NO_PROXY=127.0.0.1 (needed by the Console client) does not cover it.
    on_ec2(
        &mut scenario,
        &format!("http://localhost:{}", mock.addr.port()),
    );
    scenario.extra_settings = "memo = \"{instance_id} {ami_id} {region} {az}\"".into();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let env = [
        ("http_proxy", proxy.as_str()),
        ("HTTP_PROXY", proxy.as_str()),
        ("ALL_PROXY", proxy.as_str()),
        ("NO_PROXY", "127.0.0.1"),
    ];

    let output = scenario.agent_with(&["run"], &env);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(
        memo_of_only_token(&emulator),
        "i-0123456789abcdef0 ami-0mock0123456789 eu-west-1 eu-west-1b"
    );
    let seen = mock.seen();
    assert_eq!(seen[0].method, "PUT");
    assert!(seen[0].ttl.is_some(), "token request carries a TTL");
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen[1..].iter().all(|s| s.method == "GET" && s.token_ok));
    assert_eq!(
        marker(&scenario)["identity"]["instance_id"],
        json!("i-0123456789abcdef0")
    );
    assert!(!text(&output).contains(common::imds::TOKEN));

    let again = scenario.agent_with(&["run"], &env);
    assert!(
        text(&again).contains("already provisioned"),
        "{}",
        text(&again)
    );
    assert_eq!(mock.seen().len(), 5, "the provisioned path asks nothing");
}

#[test]
fn off_ec2_the_metadata_service_is_not_asked() {
    let emulator = Emulator::start(&[]);
    let mock = MockImds::start("i-0aaaaaaaaaaaaaaaa");
    let mut scenario = Scenario::new(&emulator.url);
    std::fs::write(
        scenario.path("product_uuid"),
        "4c4c4544-0042-3510-8052-b4c04f4d4e32\n",
    )
    .unwrap();
    std::fs::create_dir_all(scenario.path("dmi")).unwrap();
    std::fs::write(scenario.path("dmi/sys_vendor"), "QEMU\n").unwrap();
    scenario.identity_settings = format!("imds = \"auto\"\nimds_endpoint = \"{}\"\n", mock.url());
    scenario.extra_settings = "memo = \"host {instance_id}\"".into();

    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(memo_of_only_token(&emulator), "host unknown");
    assert!(mock.seen().is_empty());
}

#[test]
fn ec2_placeholders_with_imds_never_are_a_settings_error() {
    let mut scenario = Scenario::new("http://127.0.0.1:9");
    scenario.extra_settings = "memo = \"{hostname} {az}\"".into();
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 3, "{}", text(&output));
    assert!(text(&output).contains("imds"), "{}", text(&output));
}

#[test]
fn a_failing_metadata_service_is_transient_only_when_the_memo_needs_it() {
    let emulator = Emulator::start(&[]);
    let mock = MockImds::start("i-0bbbbbbbbbbbbbbbb");
    mock.fail_next(1000);
    let mut scenario = Scenario::new(&emulator.url);
    on_ec2(&mut scenario, &mock.url());
    scenario.extra_settings = "memo = \"{hostname} {instance_id}\"".into();

    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 5, "{}", text(&output));
    assert!(text(&output).contains("metadata"), "{}", text(&output));
    assert_eq!(mock.seen().len(), 3, "bounded retries");
    assert!(emulator.issued().is_empty());

    scenario.extra_settings = "memo = \"plain\"".into();
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("without EC2 facts"),
        "{}",
        text(&output)
    );
    assert_eq!(memo_of_only_token(&emulator), "plain");
}

#[test]
fn without_a_product_uuid_the_instance_id_is_the_identity() {
    let emulator = Emulator::start(&[]);
    let mut scenario = Scenario::new(&emulator.url);
    std::fs::remove_file(scenario.path("product_uuid")).unwrap();
    std::fs::write(
        scenario.path("machine-id"),
        "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f\n",
    )
    .unwrap();
    let first = MockImds::start("i-0ccccccccccccccc1");
    on_ec2(&mut scenario, &first.url());
    assert_eq!(code(&scenario.agent(&["run"])), 0);
    assert_eq!(
        marker(&scenario)["identity"]["source"],
        json!("instance_id")
    );

    let reboot = scenario.agent(&["run"]);
    assert!(
        text(&reboot).contains("already provisioned"),
        "{}",
        text(&reboot)
    );
    drop(first);

    // A clone: same image (same machine-id), another instance id.
    let second = MockImds::start("i-0ccccccccccccccc2");
    on_ec2(&mut scenario, &second.url());
    let clone = scenario.agent(&["run"]);
    assert_eq!(code(&clone), 0, "{}", text(&clone));
    assert!(
        text(&clone).contains("another instance"),
        "{}",
        text(&clone)
    );
    assert_eq!(emulator.issued().len(), 2);
    assert_eq!(
        marker(&scenario)["identity"]["value"],
        json!("i-0ccccccccccccccc2")
    );
}

/// Runs the agent in its own UTS namespace whose host name `script` sets (`$AGENT` runs it).
fn agent_in_uts(scenario: &Scenario, script: &str, args: &[&str]) -> Output {
    let probe = Command::new("unshare").args(["--uts", "true"]).status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "the host-name tests need 'unshare --uts' (util-linux) and root"
    );
    let config = scenario.write_config();
    let mut command = Command::new("unshare");
    command
        .args(["--uts", "sh", "-c", script, "sh"])
        .env("AGENT", env!("CARGO_BIN_EXE_canary-bootstrap"))
        .env("CONFIG", &config)
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("JOURNAL_STREAM")
        .args(args);
    run_bounded(command, Duration::from_secs(120))
}

#[test]
fn waits_for_a_real_host_name() {
    let emulator = Emulator::start(&[]);
    let mut scenario = Scenario::new(&emulator.url);
    scenario.extra_settings = "hostname_wait_secs = 30".into();
    let script = "hostname localhost && (sleep 1; hostname web-7) & \
                  sleep 0.2; exec \"$AGENT\" --config \"$CONFIG\" run";
    let output = agent_in_uts(&scenario, script, &[]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("waiting for a real host name"),
        "{}",
        text(&output)
    );
    assert_eq!(memo_of_only_token(&emulator), "web-7");
}

#[test]
fn falls_back_to_the_identity_when_the_host_name_stays_localhost() {
    let emulator = Emulator::start(&[]);
    let mut scenario = Scenario::new(&emulator.url);
    scenario.extra_settings = "hostname_wait_secs = 1".into();
    let script = "hostname localhost.localdomain && exec \"$AGENT\" --config \"$CONFIG\" run";
    let output = agent_in_uts(&scenario, script, &[]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("no real host name"),
        "{}",
        text(&output)
    );
    assert_eq!(
        memo_of_only_token(&emulator),
        "ec2a0000-1111-2222-3333-444455556666"
    );
}

#[test]
fn the_image_builder_name_falls_back_to_the_instance_id() {
    let emulator = Emulator::start(&[]);
    let mock = MockImds::start("i-0ddddddddddddddd1");
    let mut scenario = Scenario::new(&emulator.url);
    scenario.extra_settings = "hostname_wait_secs = 1".into();
    let prepare = "hostname ami-builder-3 && exec \"$AGENT\" --config \"$CONFIG\" prepare-image";
    let output = agent_in_uts(&scenario, prepare, &[]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("builder's host name"),
        "{}",
        text(&output)
    );

    on_ec2(&mut scenario, &mock.url());
    let run = "hostname ami-builder-3 && exec \"$AGENT\" --config \"$CONFIG\" run";
    let output = agent_in_uts(&scenario, run, &[]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(memo_of_only_token(&emulator), "i-0ddddddddddddddd1");
}

/// Starts the agent without waiting; the caller owns the child (and its pid).
fn spawn_agent(config: &Path, env: &[(&str, &str)]) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
    command
        .arg("--config")
        .arg(config)
        .arg("run")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().unwrap()
}

/// Waits for a child, killing it (by pid) if it outlives `limit`.
fn wait_bounded(child: std::process::Child, limit: Duration) -> Output {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()).unwrap());
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("agent ran longer than {limit:?}");
        }
    }
}

#[test]
fn twenty_runs_at_once_issue_one_token() {
    let emulator = Emulator::start(&[]);
    emulator.fault(json!({"delay": 1}));
    let scenario = Scenario::new(&emulator.url);
    let config = scenario.write_config();
    let children: Vec<_> = (0..20).map(|_| spawn_agent(&config, &[])).collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| wait_bounded(c, Duration::from_secs(120)))
        .collect();

    for output in &outputs {
        assert_eq!(code(output), 0, "{}", text(output));
    }
    let provisioned = outputs
        .iter()
        .filter(|o| text(o).contains("already provisioned"))
        .count();
    assert_eq!(provisioned, 19);
    assert_eq!(emulator.issued().len(), 1);
}

#[test]
fn a_run_that_cannot_get_the_lock_exits_5() {
    let emulator = Emulator::start(&[]);
    let mut scenario = Scenario::new(&emulator.url);
    scenario.extra_settings = "lock_wait_secs = 1".into();
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(scenario.path("state"))
        .unwrap();
    let held = std::fs::File::create(scenario.path("state/lock")).unwrap();
    held.lock().unwrap();

    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 5, "{}", text(&output));
    assert!(text(&output).contains("lock"), "{}", text(&output));
    assert!(emulator.requests().is_empty());
    drop(held);
}

use std::os::unix::fs::DirBuilderExt;

/// Two targets with existing files, so a crash can fall between them.
fn two_targets(emulator: &Emulator) -> Scenario {
    let mut scenario = Scenario::new(&emulator.url);
    let second = scenario.path("home2/.aws/credentials");
    for (file, content) in [
        (scenario.credentials(), ORIGINAL),
        (second.clone(), ORIGINAL_2),
    ] {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, content).unwrap();
    }
    let first = scenario.credentials();
    scenario.target(&format!(
        "user = \"{}\"\ncredentials_file = \"{}\"\n",
        me(),
        first.display()
    ));
    scenario.target(&format!(
        "user = \"{}\"\nprofile = \"backup-admin\"\ncredentials_file = \"{}\"\n",
        me(),
        second.display()
    ));
    scenario
}

fn files(scenario: &Scenario) -> [(PathBuf, &'static [u8], &'static str, &'static str); 2] {
    [
        (scenario.credentials(), ORIGINAL, "prod-admin", "default"),
        (
            scenario.path("home2/.aws/credentials"),
            ORIGINAL_2,
            "backup-admin",
            "ci",
        ),
    ]
}

/// The file is the original, or a complete new one: botocore reads it, the old profile is
/// intact and the planted one has a key pair.
fn assert_old_or_new(file: &Path, original: &[u8], profile: &str, kept: &str) {
    if std::fs::read(file).unwrap() == original {
        return;
    }
    let read = botocore_read(file);
    assert!(read.get("error").is_none(), "{}: {read}", file.display());
    assert!(
        read["credentials"][kept].is_array(),
        "{}: {read}",
        file.display()
    );
    assert!(
        read["credentials"][profile][1].is_string(),
        "{}: {read}",
        file.display()
    );
}

/// Converged: marker, no pending record, no temporary files, each file holding the key
/// the marker names, once.
fn assert_converged(scenario: &Scenario) {
    let marker = marker(scenario);
    let pending = std::fs::read_to_string(scenario.path("state/pending.json"));
    assert!(pending.is_err(), "pending record left: {pending:?}");
    for (file, _, profile, kept) in files(scenario) {
        let planted = marker["planted"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["profile"] == json!(profile))
            .unwrap();
        let read = botocore_read(&file);
        assert_eq!(read["credentials"][profile][0], planted["access_key_id"]);
        assert!(read["credentials"][kept].is_array());
        let content = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            content.matches(&format!("[{profile}]")).count(),
            1,
            "{content}"
        );
        let names: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary files left: {names:?}");
    }
    let state: Vec<_> = std::fs::read_dir(scenario.path("state")).unwrap().collect();
    assert_eq!(state.len(), 2, "lock and marker only: {state:?}");
}

#[test]
fn a_run_killed_at_any_point_converges_with_one_token_per_target() {
    for point in POINTS {
        let emulator = Emulator::start(&[]);
        let scenario = two_targets(&emulator);
        let killed = scenario.agent_with(&["run"], &[("CANARY_BOOTSTRAP_FAULT", point.name)]);
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{}: {}",
            point.name,
            text(&killed)
        );
        for (file, original, profile, kept) in files(&scenario) {
            assert_old_or_new(&file, original, profile, kept);
        }

        let output = scenario.agent(&["run"]);
        assert_eq!(code(&output), 0, "{}: {}", point.name, text(&output));
        assert_converged(&scenario);
        let expected = 2 + usize::from(point.loses_token);
        assert_eq!(
            emulator.issued().len(),
            expected,
            "tokens after {}",
            point.name
        );
    }
}

#[test]
fn a_run_killed_mid_request_costs_one_extra_token_at_most() {
    let emulator = Emulator::start(&[]);
    emulator.fault(json!({"delay": 3}));
    let scenario = two_targets(&emulator);
    let mut command = Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
    command
        .arg("-v")
        .arg("--config")
        .arg(scenario.write_config())
        .arg("run")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("JOURNAL_STREAM")
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(stderr).map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Kill it once the request is on its way and the Console is sitting on it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .expect("the agent logs its request")
        .contains("requesting a token")
    {}
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    for (file, original, _, _) in files(&scenario) {
        assert_eq!(std::fs::read(&file).unwrap(), original);
    }
    let give_up = Instant::now() + Duration::from_secs(10);
    while emulator.issued().is_empty() && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(100));
    }

    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_converged(&scenario);
    assert_eq!(
        emulator.issued().len(),
        3,
        "the killed request's token is the only extra"
    );
}

#[test]
fn a_new_instance_replaces_a_crashed_runs_profile_in_place() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    std::fs::create_dir_all(scenario.credentials().parent().unwrap()).unwrap();
    std::fs::write(scenario.credentials(), ORIGINAL).unwrap();
    let killed = scenario.agent_with(&["run"], &[("CANARY_BOOTSTRAP_FAULT", "after-plant")]);
    assert_eq!(killed.status.signal(), Some(9), "{}", text(&killed));
    assert!(scenario.path("state/pending.json").exists());

    scenario.become_new_instance("ec2b7777-1111-2222-3333-444455556666");
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("discarding tokens"),
        "{}",
        text(&output)
    );
    let issued = emulator.issued();
    assert_eq!(issued.len(), 2);
    let content = std::fs::read_to_string(scenario.credentials()).unwrap();
    assert_eq!(content.matches("[prod-admin]").count(), 1, "{content}");
    assert!(content.starts_with(std::str::from_utf8(ORIGINAL).unwrap()));
    let read = botocore_read(&scenario.credentials());
    assert_eq!(
        read["credentials"]["prod-admin"][0],
        issued[1]["access_key_id"]
    );
    assert!(!scenario.path("state/pending.json").exists());
}
