//! The Rust AWS SDK's own profile parser (`aws-runtime` `env_config`, a dev-dependency) on
//! the real credentials files in `tests/fixtures/credentials/`: where it read the input, it
//! reads the planted output too, every profile it read before reads the same, and our
//! profile holds exactly our key pair. A section the SDK would take for our name is a clash.

mod common;

use std::path::Path;

use aws_runtime::env_config::property::Property;
use aws_runtime::env_config::section::{EnvConfigSections, Profile};
use canary_bootstrap::profile_file::{self, Flavor, PlantError};
use common::fixture_cases;
use common::sdk::sdk_read;
use serde_json::Value;

const PROFILE: &str = "prod-admin";
const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn pair() -> [(&'static str, &'static str); 2] {
    [
        ("aws_access_key_id", KEY_ID),
        ("aws_secret_access_key", SECRET),
    ]
}

fn plant(input: &[u8]) -> Result<Vec<u8>, PlantError> {
    profile_file::plant(input, Flavor::Credentials, PROFILE, &pair(), None)
}

fn expected_sdk(case: &Path) -> Value {
    let text = std::fs::read(case.join("expected.json")).unwrap();
    let expected: Value = serde_json::from_slice(&text).unwrap();
    expected["rust_sdk_aws_runtime_env_config"].clone()
}

/// The dev-dependency reads each input as the recorded SDK run did: same error or same
/// profiles with the same known keys.
fn check_agrees_with_record(name: &str, read: &Result<EnvConfigSections, String>, want: &Value) {
    let Some(profiles) = want.get("profiles").and_then(Value::as_object) else {
        let message = want["parse_error"].as_str().unwrap();
        let line = message.split(":\n").next().unwrap().rsplit(' ').next();
        let got = read
            .as_ref()
            .err()
            .unwrap_or_else(|| panic!("{name}: SDK read it"));
        assert!(
            got.ends_with(message.split(":\n").nth(1).unwrap()),
            "{name}: {got}"
        );
        assert!(
            got.contains(&format!("line {}:", line.unwrap())),
            "{name}: {got}"
        );
        return;
    };
    let read = read.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut names: Vec<&str> = read.profiles().collect();
    names.sort_unstable();
    let mut want_names: Vec<&str> = profiles.keys().map(String::as_str).collect();
    want_names.sort_unstable();
    assert_eq!(names, want_names, "{name}: profiles");
    for (profile, record) in profiles {
        let got = read.get_profile(profile).unwrap();
        for (key, value) in record["known_keys"].as_object().unwrap() {
            assert_eq!(got.get(key), value.as_str(), "{name}: {profile}.{key}");
        }
    }
}

/// Our profile exactly as the SDK should hold it: the two keys and nothing else.
fn our_profile() -> Profile {
    let properties = pair()
        .iter()
        .map(|(k, v)| (k.to_string(), Property::new(k.to_string(), v.to_string())))
        .collect();
    Profile::new(PROFILE, properties)
}

fn check_sdk_reads_output(name: &str, before: &EnvConfigSections, output: &[u8]) {
    let after = sdk_read(output).unwrap_or_else(|e| panic!("{name}: SDK cannot read output: {e}"));
    for profile in before.profiles() {
        assert_eq!(
            after.get_profile(profile),
            before.get_profile(profile),
            "{name}: profile '{profile}' changed"
        );
    }
    assert_eq!(after.get_profile(PROFILE), Some(&our_profile()), "{name}");
    let mut added: Vec<&str> = after
        .profiles()
        .filter(|p| before.get_profile(p).is_none())
        .collect();
    added.sort_unstable();
    assert_eq!(added, [PROFILE], "{name}: profiles added");
}

#[test]
fn the_sdk_reads_every_planted_real_input_as_before_plus_our_profile() {
    let mut checked = 0;
    for case in fixture_cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read(case.join("credentials")).unwrap();
        let before = sdk_read(&input);
        check_agrees_with_record(&name, &before, &expected_sdk(&case));
        let Ok(before) = before else { continue };

        // plant refuses exactly the inputs botocore cannot read; those stay as they were.
        let botocore_reads = profile_file::parse(&input).is_ok();
        match plant(&input) {
            Ok(output) => {
                assert!(botocore_reads, "{name}: planted into an unreadable file");
                check_sdk_reads_output(&name, &before, &output);
                checked += 1;
            }
            Err(PlantError::Unreadable(_)) => assert!(!botocore_reads, "{name}"),
            Err(err) => panic!("{name}: {err}"),
        }
    }
    assert!(checked >= 14, "only {checked} cases planted");
}

/// Headers the SDK takes for `prod-admin` though they are not `[prod-admin]` byte for byte.
const SDK_SPELLINGS: &[&str] = &[
    "[ prod-admin ]",
    "[prod-admin ]",
    "[\tprod-admin]",
    "[ \t prod-admin\t ]",
    "[prod-admin]# a comment",
    "[ prod-admin ] ; a comment",
    "[prod-admin]   ",
];

#[test]
fn a_section_the_sdk_takes_for_our_name_is_a_clash() {
    for header in SDK_SPELLINGS {
        for nl in ["\n", "\r\n"] {
            let input = format!(
                "[default]{nl}aws_access_key_id = AKIADEFAULT{nl}{nl}\
                 {header}{nl}aws_access_key_id = AKIATHEIRS{nl}aws_secret_access_key = theirs{nl}"
            );
            let read = sdk_read(input.as_bytes()).unwrap();
            let theirs = read.get_profile(PROFILE);
            assert_eq!(
                theirs.and_then(|p| p.get("aws_access_key_id")),
                Some("AKIATHEIRS")
            );
            assert_eq!(
                plant(input.as_bytes()),
                Err(PlantError::Clash { line: 4 }),
                "{header:?}"
            );
        }
    }
}

#[test]
fn sections_the_sdk_keeps_apart_from_our_name_are_no_clash() {
    let others = [
        "[PROD-ADMIN]",
        "[prod-admin2]",
        "[profile prod-admin]",
        "[prod admin]",
    ];
    for header in others {
        let input = format!("{header}\naws_access_key_id = AKIATHEIRS\n");
        let before = sdk_read(input.as_bytes()).unwrap();
        assert!(before.get_profile(PROFILE).is_none(), "{header}");
        let output = plant(input.as_bytes()).unwrap_or_else(|e| panic!("{header}: {e}"));
        check_sdk_reads_output(header, &before, &output);
    }
}
