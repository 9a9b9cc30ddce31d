//! Defects a fresh review found by attacking the built agent: settings a user can get wrong
//! and a hostile Console, each against the emulator on loopback in scratch directories.

mod common;

use common::*;
use serde_json::json;

/// Every file under the scenario's directory with its content, to show nothing changed.
fn snapshot(scenario: &Scenario) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut dirs = vec![scenario.dir.path().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path.clone());
                files.push((path, Vec::new()));
            } else if path.file_name().unwrap() != "config.toml" {
                let content = std::fs::read(&path).unwrap();
                files.push((path, content));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn a_wait_setting_too_large_to_add_to_the_clock_is_a_settings_error_not_a_panic() {
    let emulator = Emulator::start(&[]);
    for key in [
        "deadline_secs",
        "lock_wait_secs",
        "hostname_wait_secs",
        "request_timeout_secs",
    ] {
        let mut scenario = Scenario::new(&emulator.url);
        scenario.extra_settings = format!("{key} = {}\n", u64::MAX);
        scenario.write_config();
        let before = snapshot(&scenario);

        let output = scenario.agent(&["run"]);

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(code(&output), 3, "{key}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{key}: one line: {stderr}");
        assert!(stderr.contains(&format!("'{key}'")), "{key}: {stderr}");
        assert!(stderr.contains("config.toml"), "{key}: {stderr}");
        assert_eq!(snapshot(&scenario), before, "{key}: no file changed");
    }
    assert!(emulator.issued().is_empty());
}

#[test]
fn a_missing_console_names_console_and_no_other_key() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let config = scenario.write_config();
    let text_without_console: String = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("console"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&config, text_without_console).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
    command.arg("--config").arg(&config).arg("run");
    let output = run_bounded(command, std::time::Duration::from_secs(60));

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 3, "{stderr}");
    assert!(stderr.contains("`console`"), "{stderr}");
    assert!(!stderr.contains("factory_auth_file"), "{stderr}");
}

#[test]
fn a_redirect_whose_location_carries_the_factory_auth_does_not_log_it() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    emulator.fault(json!({"redirect": format!("/elsewhere?fa={FACTORY_AUTH}")}));

    let output = scenario.agent(&["-vv", "run"]);

    let all = text(&output);
    assert_eq!(code(&output), 4, "{all}");
    assert!(all.contains("redirected to '/elsewhere?fa="), "{all}");
    assert!(
        !all.contains(&FACTORY_AUTH[..8]),
        "factory auth leaked: {all}"
    );
    assert!(!scenario.credentials().exists());
}

#[test]
fn a_long_console_message_ending_in_the_factory_auth_leaks_no_prefix_of_it() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let message = format!("{}{FACTORY_AUTH}", "m".repeat(190));
    emulator.fault(json!({"status": 400, "json": {"result": "error", "message": message}}));

    let output = scenario.agent(&["-vv", "run"]);

    let all = text(&output);
    assert_eq!(code(&output), 4, "{all}");
    assert!(all.contains("mmmm"), "the message is shown: {all}");
    assert!(
        !all.contains(&FACTORY_AUTH[..8]),
        "factory auth leaked: {all}"
    );
    assert!(!scenario.credentials().exists());
}

#[test]
fn a_settings_file_another_user_can_change_is_refused_before_the_factory_auth_is_read() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let config = scenario.write_config();
    let mode = |m| std::os::unix::fs::PermissionsExt::from_mode(m);
    std::fs::set_permissions(&config, mode(0o666)).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
    command.arg("--config").arg(&config).arg("run");
    let output = run_bounded(command, std::time::Duration::from_secs(60));

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), 3, "{stderr}");
    assert!(stderr.contains("writable by other users"), "{stderr}");
    assert!(stderr.contains("config.toml"), "{stderr}");
    assert!(emulator.issued().is_empty());
    assert!(!scenario.path("state").exists());
}
