//! The optional `~/.aws/config` companion: `[profile NAME]` with region and output.

mod common;

use common::*;
use serde_json::json;

const EXISTING_CONFIG: &[u8] = b"[default]\r\nregion = us-east-1\r\n# keep me\r\n";

fn scenario(emulator: &Emulator, extra: &str) -> Scenario {
    let mut scenario = Scenario::new(&emulator.url);
    let home = scenario.home();
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(home.join(".aws/config"), EXISTING_CONFIG).unwrap();
    scenario.target(&format!(
        "user = \"{}\"\ncredentials_file = \"{}\"\nconfig_file = \"{}\"\n{extra}",
        me(),
        scenario.credentials().display(),
        home.join(".aws/config").display()
    ));
    scenario
}

#[test]
fn adds_a_profile_with_region_and_output_to_the_config_file() {
    let emulator = Emulator::start(&[]);
    let scenario = scenario(&emulator, "region = \"eu-west-1\"\noutput = \"json\"\n");
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));

    let config = scenario.home().join(".aws/config");
    let bytes = std::fs::read(&config).unwrap();
    assert!(bytes.starts_with(EXISTING_CONFIG), "existing bytes kept");
    let read = botocore_read(&config);
    assert_eq!(
        read["sections"]["profile prod-admin"],
        json!({"region": "eu-west-1", "output": "json"})
    );
    assert_eq!(read["sections"]["default"], json!({"region": "us-east-1"}));
    assert!(!String::from_utf8_lossy(&bytes).contains("aws_secret_access_key"));
}

#[test]
fn without_a_region_the_config_file_is_not_touched() {
    let emulator = Emulator::start(&[]);
    let scenario = scenario(&emulator, "");
    assert_eq!(code(&scenario.agent(&["run"])), 0);
    let config = std::fs::read(scenario.home().join(".aws/config")).unwrap();
    assert_eq!(config, EXISTING_CONFIG);
}

#[test]
fn a_config_profile_the_agent_did_not_write_is_a_clash_and_nothing_changes() {
    let emulator = Emulator::start(&[]);
    let scenario = scenario(&emulator, "region = \"eu-west-1\"\n");
    let config = scenario.home().join(".aws/config");
    let mine = b"[profile prod-admin]\nregion = ap-south-1\nrole_arn = arn:aws:iam::1:role/x\n";
    std::fs::write(&config, mine).unwrap();
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 6, "{}", text(&output));
    assert_eq!(std::fs::read(&config).unwrap(), mine);
    assert!(!scenario.credentials().exists(), "credentials untouched");
}

#[test]
fn output_without_region_is_a_settings_error() {
    let emulator = Emulator::start(&[]);
    let scenario = scenario(&emulator, "output = \"json\"\n");
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 3, "{}", text(&output));
    assert!(
        text(&output).contains("'output' needs 'region'"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_new_instance_keeps_one_config_profile_and_prepare_image_removes_it() {
    let emulator = Emulator::start(&[]);
    let scenario = scenario(&emulator, "region = \"eu-west-1\"\n");
    assert_eq!(code(&scenario.agent(&["run"])), 0);
    let config = scenario.home().join(".aws/config");
    let first = std::fs::read(&config).unwrap();

    scenario.become_new_instance("ec2c7777-1111-2222-3333-444455556666");
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(
        std::fs::read(&config).unwrap(),
        first,
        "same section kept as it was"
    );
    assert_eq!(emulator.issued().len(), 2);

    let output = scenario.agent(&["prepare-image"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("removed config profile"),
        "{}",
        text(&output)
    );
    assert_eq!(std::fs::read(&config).unwrap(), EXISTING_CONFIG);
}
