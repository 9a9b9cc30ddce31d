//! Fuzzes the credentials-file parser and editor with arbitrary bytes: nothing may panic,
//! and every plant into a file botocore can read keeps every input byte, changes no other
//! section's reading, reads back as exactly our pair, and can be undone and replaced.

#![no_main]

use libfuzzer_sys::fuzz_target;

// The module itself, not the agent crate: see Cargo.toml.
#[allow(dead_code, unused_imports)]
#[path = "../../src/profile_file/mod.rs"]
mod profile_file;

use profile_file::{Document, Flavor, PlantError};

const PROFILE: &str = "prod-admin";
const PAIR: [(&str, &str); 2] = [
    ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
    (
        "aws_secret_access_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
];
const NEW_PAIR: [(&str, &str); 2] = [
    ("aws_access_key_id", "AKIAI44QH8DHBEXAMPLE"),
    (
        "aws_secret_access_key",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    ),
];

fuzz_target!(|data: &[u8]| check(data));

fn check(data: &[u8]) {
    let plain = profile_file::plant(data, Flavor::Credentials, PROFILE, &PAIR, None);
    let before = match profile_file::parse(data) {
        Ok(doc) => doc,
        Err(err) => {
            assert_eq!(plain, Err(PlantError::Unreadable(err)));
            return;
        }
    };
    let _ = profile_file::plant(data, Flavor::Config, PROFILE, &PAIR, None);
    match plain {
        Ok(out) => check_planted(data, &before, &out),
        Err(PlantError::Clash { line }) => {
            assert!(before.clashes(Flavor::Credentials, PROFILE).contains(&line));
        }
        Err(PlantError::InheritsDefaults { .. }) => {
            assert!(before.sections().iter().any(|s| s.name == "DEFAULT"));
        }
        Err(err) => panic!("plant refused a readable file: {err}"),
    }
}

fn check_planted(data: &[u8], before: &Document<'_>, out: &[u8]) {
    assert!(out.starts_with(data), "input bytes changed");
    let after = profile_file::parse(out).expect("the output reads");
    for section in before.sections() {
        if section.name != profile_file::DEFAULT_SECTION {
            assert_eq!(before.items(&section.name), after.items(&section.name));
        }
    }
    assert_eq!(after.items(PROFILE).unwrap(), PAIR.to_vec());

    // Undoing the plant gives the input back, with the line ending it may have lacked.
    let own = |_: &profile_file::Section| true;
    let removed = profile_file::remove(out, Flavor::Credentials, PROFILE, &own)
        .expect("removal works")
        .expect("our section is there");
    assert!(removed.starts_with(data) && removed.len() - data.len() <= 2);
    assert!(removed.len() == data.len() || !data.is_empty());

    // Replacing our section keeps everything around it and reads as the new pair.
    let replaced = profile_file::plant(out, Flavor::Credentials, PROFILE, &NEW_PAIR, Some(&own))
        .expect("replacing our own section works");
    assert!(replaced.starts_with(data));
    let reread = profile_file::parse(&replaced).expect("the replaced output reads");
    assert_eq!(reread.items(PROFILE).unwrap(), NEW_PAIR.to_vec());
}
