//! The real credentials files in `tests/fixtures/credentials/` (with what botocore and the
//! Rust SDK made of them, in each `expected.json`), planted into by the built agent and read
//! back with botocore from the test venv.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

const PROFILE: &str = "prod-admin";

fn expected(case: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(case.join("expected.json")).unwrap()).unwrap()
}

/// A scenario whose credentials file starts as the case's input, planting `profile`.
fn scenario_with(emulator: &Emulator, input: &[u8], profile: &str) -> Scenario {
    let mut scenario = Scenario::new(&emulator.url);
    let file = scenario.credentials();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, input).unwrap();
    scenario.target(&format!(
        "user = \"{}\"\nprofile = \"{profile}\"\ncredentials_file = \"{}\"\n",
        me(),
        file.display()
    ));
    scenario
}

/// Checks one readable input: exit 0, bytes kept, every old section reads the same, and our
/// profile holds exactly the issued pair.
fn check_planted(emulator: &Emulator, case: &Path, input: &[u8]) {
    let name = case.file_name().unwrap().to_string_lossy();
    let before = botocore_read(&case.join("credentials"));
    let scenario = scenario_with(emulator, input, PROFILE);
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 0, "{name}: {}", text(&output));

    let after_bytes = std::fs::read(scenario.credentials()).unwrap();
    assert!(
        after_bytes.starts_with(input),
        "{name}: input bytes changed"
    );
    let after = botocore_read(&scenario.credentials());
    assert!(
        after.get("error").is_none(),
        "{name}: botocore cannot read the output"
    );
    for (section, keys) in before["sections"].as_object().unwrap() {
        assert_eq!(
            &after["sections"][section], keys,
            "{name}: section '{section}' changed"
        );
    }
    let token = emulator.issued().last().unwrap().clone();
    let pair = &after["credentials"][PROFILE];
    assert_eq!(pair[0], token["access_key_id"], "{name}");
    assert_eq!(pair[1], token["secret_access_key"], "{name}");
}

/// Checks an input botocore cannot read: nothing changes and the error names the line.
fn check_refused_unreadable(emulator: &Emulator, case: &Path, input: &[u8]) {
    let name = case.file_name().unwrap().to_string_lossy();
    let scenario = scenario_with(emulator, input, PROFILE);
    let issued = emulator.issued().len();
    let output = scenario.agent(&["run"]);
    assert_eq!(code(&output), 6, "{name}: {}", text(&output));
    assert!(text(&output).contains("line "), "{name}: {}", text(&output));
    assert_eq!(emulator.issued().len(), issued, "{name}: a token was spent");
    assert_eq!(
        std::fs::read(scenario.credentials()).unwrap(),
        input,
        "{name}"
    );
}

#[test]
fn every_real_input_is_planted_into_or_left_alone_as_botocore_reads_it() {
    let emulator = Emulator::start(&[]);
    for case in fixture_cases() {
        let input = std::fs::read(case.join("credentials")).unwrap();
        let readable = expected(&case)["botocore"]["raw_config_parse"]
            .get("error")
            .is_none();
        let read_now = botocore_read(&case.join("credentials"))
            .get("error")
            .is_none();
        assert_eq!(
            readable,
            read_now,
            "{}: the venv's botocore disagrees",
            case.display()
        );
        if readable {
            check_planted(&emulator, &case, &input);
        } else {
            check_refused_unreadable(&emulator, &case, &input);
        }
    }
}

#[test]
fn a_section_of_our_name_that_the_agent_did_not_write_is_a_clash() {
    let emulator = Emulator::start(&[]);
    for case in fixture_cases() {
        let sections = &expected(&case)["botocore"]["raw_config_parse"];
        if sections.get("error").is_some() {
            continue;
        }
        let Some(taken) = sections.as_object().unwrap().keys().find(|name| {
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        }) else {
            continue;
        };
        let input = std::fs::read(case.join("credentials")).unwrap();
        let scenario = scenario_with(&emulator, &input, taken);
        let output = scenario.agent(&["run"]);
        let name = case.file_name().unwrap().to_string_lossy();
        assert_eq!(code(&output), 6, "{name}: {}", text(&output));
        assert!(
            text(&output).contains(taken.as_str()),
            "{name}: {}",
            text(&output)
        );
        assert_eq!(
            std::fs::read(scenario.credentials()).unwrap(),
            input,
            "{name}"
        );
    }
}
