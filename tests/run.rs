//! `canary-bootstrap run` end to end: the built binary against the Console emulator on
//! loopback, in scratch directories.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::json;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn only_token(emulator: &Emulator) -> serde_json::Value {
    let issued = emulator.issued();
    assert_eq!(issued.len(), 1, "exactly one token issued");
    issued[0].clone()
}

#[test]
fn plants_a_token_into_a_fresh_file_that_botocore_reads() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));

    let token = only_token(&emulator);
    let file = scenario.credentials();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let read = botocore_read(&file);
    let pair = &read["credentials"]["prod-admin"];
    assert_eq!(pair[0], token["access_key_id"]);
    assert_eq!(pair[1], token["secret_access_key"]);
    let hostname = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(token["memo"], json!(hostname));
    assert!(text(&output).contains("token planted"), "{}", text(&output));
}

#[test]
fn keeps_other_profiles_and_comments_byte_for_byte() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let original = b"# managed by hand\n[default]\naws_access_key_id = AKIAEXISTING0000001\n\
aws_secret_access_key = keepme/keepme\n; trailing comment\n";
    std::fs::create_dir_all(scenario.credentials().parent().unwrap()).unwrap();
    std::fs::write(scenario.credentials(), original).unwrap();
    std::fs::set_permissions(
        scenario.credentials(),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let before = botocore_read(&scenario.credentials());

    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));

    let after = std::fs::read(scenario.credentials()).unwrap();
    assert_eq!(&after[..original.len()], original);
    assert_eq!(mode(&scenario.credentials()), 0o640, "existing mode kept");
    let read = botocore_read(&scenario.credentials());
    assert_eq!(read["sections"]["default"], before["sections"]["default"]);
    assert_eq!(
        read["credentials"]["prod-admin"][0],
        only_token(&emulator)["access_key_id"]
    );
    assert!(
        text(&output).contains("readable or writable by others"),
        "{}",
        text(&output)
    );
}

#[test]
fn second_run_issues_no_token_and_sends_no_request() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    assert_eq!(code(&scenario.agent(&["run"])), 0);
    let planted = std::fs::read(scenario.credentials()).unwrap();
    let requests = emulator.requests().len();

    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("already provisioned"),
        "{}",
        text(&output)
    );
    assert_eq!(emulator.requests().len(), requests);
    assert_eq!(emulator.issued().len(), 1);
    assert_eq!(std::fs::read(scenario.credentials()).unwrap(), planted);
}

#[test]
fn status_reports_the_planted_token_without_secrets() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let output = scenario.agent(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["provisioned"], json!(false));

    assert_eq!(code(&scenario.agent(&["run"])), 0);
    let output = scenario.agent(&["status", "--json"]);
    assert_eq!(code(&output), 0);
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let token = only_token(&emulator);
    assert_eq!(status["provisioned"], json!(true));
    assert_eq!(status["planted"][0]["token_id"], token["canarytoken"]);
    assert_eq!(status["planted"][0]["profile"], json!("prod-admin"));
    let secret = token["secret_access_key"].as_str().unwrap();
    assert!(!text(&output).contains(secret));
    assert!(
        !std::fs::read_to_string(scenario.path("state/provisioned.json"))
            .unwrap()
            .contains(secret)
    );
}

#[test]
fn falls_back_to_the_current_factory_path_on_404() {
    let emulator = Emulator::start(&["--only-path", "current"]);
    let scenario = Scenario::new(&emulator.url);
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(
        only_token(&emulator)["path"],
        json!("/api/v1/canarytoken/factory/create")
    );
}

#[test]
fn sends_a_form_encoded_request_with_the_documented_fields() {
    let emulator = Emulator::start(&[]);
    let mut scenario = Scenario::new(&emulator.url);
    scenario.extra_settings =
        "flock_id = \"flock:abc\"\naws_id_username = \"svc-backup\"\nmemo = \"{hostname} {user} {profile}\"".into();
    assert_eq!(code(&scenario.agent(&["run"])), 0);
    let request = &emulator.requests()[0];
    assert_eq!(request["method"], json!("POST"));
    assert_eq!(
        request["content_type"],
        json!("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request["fields"],
        json!([
            "factory_auth",
            "memo",
            "kind",
            "flock_id",
            "aws_id_username"
        ])
    );
    let token = only_token(&emulator);
    assert_eq!(token["flock_id"], json!("flock:abc"));
    assert!(
        token["memo"]
            .as_str()
            .unwrap()
            .ends_with(&format!(" {} prod-admin", me()))
    );
}

/// Each Console failure exits with its code, names the cause, and changes no file.
fn assert_console_failure(faults: serde_json::Value, exit: i32, says: &str) {
    let emulator = Emulator::start(&[]);
    let mut scenario = Scenario::new(&emulator.url);
    scenario.extra_settings = "deadline_secs = 3".into();
    let original =
        b"[default]\naws_access_key_id = AKIAEXISTING0000001\naws_secret_access_key = x\n";
    std::fs::create_dir_all(scenario.credentials().parent().unwrap()).unwrap();
    std::fs::write(scenario.credentials(), original).unwrap();
    emulator.fault(faults);

    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), exit, "{}", text(&output));
    assert!(text(&output).contains(says), "{}", text(&output));
    assert_eq!(std::fs::read(scenario.credentials()).unwrap(), original);
    assert!(!scenario.path("state/provisioned.json").exists());
    assert!(!text(&output).contains(FACTORY_AUTH));
}

#[test]
fn console_400_with_a_message_is_a_refusal() {
    let fault = json!({"status": 400, "json": {"result": "error", "message": "Empty memo"}});
    assert_console_failure(fault, 4, "Empty memo");
}

#[test]
fn console_200_with_result_error_is_a_refusal() {
    let fault =
        json!({"status": 200, "json": {"result": "error", "message": "Could not save Canarydrop"}});
    assert_console_failure(fault, 4, "Could not save Canarydrop");
}

#[test]
fn console_answer_that_is_not_json_is_a_refusal() {
    let fault =
        json!({"status": 200, "body": "<html>maintenance</html>", "content_type": "text/html"});
    assert_console_failure(fault, 4, "not JSON");
}

#[test]
fn console_500_until_the_deadline_is_transient() {
    let fault = json!({"status": 500, "times": -1});
    assert_console_failure(fault, 5, "HTTP 500");
}

#[test]
fn wrong_factory_auth_is_refused_without_echoing_it() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    write_private(&scenario.path("factory_auth"), "0000wrong0000\n");
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 4, "{}", text(&output));
    assert!(
        text(&output).contains("Invalid factory_auth"),
        "{}",
        text(&output)
    );
    assert!(!text(&output).contains("0000wrong0000"));
    assert!(!scenario.credentials().exists());
}

#[test]
fn transient_failure_heals_and_plants_once() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    emulator.fault(json!([{"status": 503, "times": 1}, {"close": true, "times": 1}]));
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(text(&output).contains("retrying"), "{}", text(&output));
    assert_eq!(emulator.issued().len(), 1);
}

#[test]
fn unreachable_console_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut scenario = Scenario::new(&url);
    scenario.extra_settings = "deadline_secs = 2".into();
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 5, "{}", text(&output));
    assert!(
        text(&output).contains("could not reach the Console"),
        "{}",
        text(&output)
    );
}

#[test]
fn refuses_a_factory_auth_file_others_can_read() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    std::fs::set_permissions(
        scenario.path("factory_auth"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 3, "{}", text(&output));
    assert!(text(&output).contains("chmod 600"), "{}", text(&output));
    assert!(emulator.requests().is_empty());
    assert!(!scenario.credentials().exists());
}

#[test]
fn refuses_a_profile_of_the_same_name_it_did_not_write() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let original =
        b"[prod-admin]\naws_access_key_id = AKIAREALKEY000000001\naws_secret_access_key = r\n";
    std::fs::create_dir_all(scenario.credentials().parent().unwrap()).unwrap();
    std::fs::write(scenario.credentials(), original).unwrap();
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 6, "{}", text(&output));
    assert!(text(&output).contains("prod-admin"), "{}", text(&output));
    assert_eq!(std::fs::read(scenario.credentials()).unwrap(), original);
    assert!(
        emulator.requests().is_empty(),
        "checked before asking: no token spent"
    );
}

#[test]
fn bad_settings_name_the_key_and_exit_3() {
    let scenario = Scenario::new("http://127.0.0.1:9");
    let config = scenario.path("bad.toml");
    std::fs::write(&config, "console = 'abc'\nflock = 'x'\n").unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
    command.arg("--config").arg(&config).arg("run");
    let output = run_bounded(command, std::time::Duration::from_secs(30));
    assert_eq!(code(&output), 3);
    let said = text(&output);
    assert!(
        said.contains("flock") && said.contains("bad.toml"),
        "{said}"
    );
    assert_eq!(said.trim().lines().count(), 1, "one line: {said}");
}

#[test]
fn a_new_instance_replaces_its_own_profile_in_place() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    std::fs::create_dir_all(scenario.credentials().parent().unwrap()).unwrap();
    let head = b"[default]\naws_access_key_id = AKIAEXISTING0000001\naws_secret_access_key = x\n";
    std::fs::write(scenario.credentials(), head).unwrap();
    assert_eq!(code(&scenario.agent(&["run"])), 0);
    let mut after_first = std::fs::read(scenario.credentials()).unwrap();
    after_first.extend_from_slice(
        b"\n[later]\naws_access_key_id = AKIALATER00000000001\naws_secret_access_key = y\n",
    );
    std::fs::write(scenario.credentials(), &after_first).unwrap();

    scenario.become_new_instance("ec2b9999-1111-2222-3333-444455556666");
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("another instance"),
        "{}",
        text(&output)
    );
    let issued = emulator.issued();
    assert_eq!(issued.len(), 2);
    let content = std::fs::read_to_string(scenario.credentials()).unwrap();
    assert_eq!(content.matches("[prod-admin]").count(), 1, "{content}");
    assert!(content.contains(issued[1]["access_key_id"].as_str().unwrap()));
    assert!(!content.contains(issued[0]["access_key_id"].as_str().unwrap()));
    assert!(content.find("[prod-admin]").unwrap() < content.find("[later]").unwrap());
    let read = botocore_read(&scenario.credentials());
    assert_eq!(
        read["credentials"]["later"][0],
        json!("AKIALATER00000000001")
    );
}

#[test]
fn prepare_image_removes_only_what_the_agent_added() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    std::fs::create_dir_all(scenario.credentials().parent().unwrap()).unwrap();
    let original =
        b"[default]\r\naws_access_key_id = AKIAEXISTING0000001\r\naws_secret_access_key = x\r\n";
    std::fs::write(scenario.credentials(), original).unwrap();
    assert_eq!(code(&scenario.agent(&["run"])), 0);

    let output = scenario.agent(&["prepare-image"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("removed profile"),
        "{}",
        text(&output)
    );
    assert_eq!(std::fs::read(scenario.credentials()).unwrap(), original);
    assert!(!scenario.path("state/provisioned.json").exists());

    let again = scenario.agent(&["prepare-image"]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(
        text(&again).contains("no marker to remove"),
        "{}",
        text(&again)
    );
}

#[test]
fn never_prints_a_secret_even_at_trace_level() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    let output = scenario.agent(&["-vv", "run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let said = text(&output);
    let token = only_token(&emulator);
    assert!(!said.contains(FACTORY_AUTH));
    assert!(!said.contains(token["secret_access_key"].as_str().unwrap()));
    assert!(
        !scenario.path("state/pending.json").exists(),
        "pending record removed"
    );
}
